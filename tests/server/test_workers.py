"""The processes of ``qiao serve``: pre-forked workers under a supervisor (restarts,
``--max-requests``, SIGHUP rolling reload, boot errors), and the graceful stop on SIGTERM and
SIGINT, with workers and without.

Worker processes are found as the supervisor's children in ``/proc``; the app answers with its
``os.getpid()``, so a test sees which process served each request.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._servers import ServerProcess, free_port, server_env, venv_bin, wait_for

if not Path("/proc/self/stat").exists():  # pragma: no cover - Linux has it
    pytest.skip("needs /proc to find worker processes", allow_module_level=True)

QUICK = 5.0  # what the server is given for something it should do at once
BOOT = 20.0  # starting workers (fresh interpreters) on a busy machine

APP = textwrap.dedent(
    """
    import asyncio
    import os
    import time

    import qiao

    app = qiao.App(__name__, config={"SECRET_KEY": "workers-test"})
    app.config.from_env()
    VERSION = 1


    def entered():
        # the test waits for this line to know the request is in flight
        with open("in-flight.txt", "a") as log:
            log.write(f"{os.getpid()}\\n")


    @app.get("/")
    def index(request):
        return {"pid": os.getpid(), "version": VERSION, "debug": app.config["DEBUG"]}


    def create_app():
        return app


    @app.get("/sleep/<int:ms>")
    async def sleep(request, ms):
        entered()
        await asyncio.sleep(ms / 1000)
        return {"pid": os.getpid(), "slept": ms}


    @app.get("/sync-sleep/<int:ms>")
    def sync_sleep(request, ms):
        entered()
        time.sleep(ms / 1000)
        return {"pid": os.getpid(), "slept": ms}
    """
)

FAILING_START_UP = textwrap.dedent(
    """
    import qiao

    app = qiao.App(__name__, config={"SECRET_KEY": "workers-test"})
    app.get("/")(lambda request: "never")


    @app.on_startup
    def connect():
        raise RuntimeError("the cache at cache.internal is unreachable")
    """
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "failing.py").write_text(FAILING_START_UP)
    return tmp_path


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in server_env().items() if not k.startswith("QIAO_")}
    env.update(extra)
    return env


@contextlib.contextmanager
def serving(
    project: Path,
    *flags: str,
    target: str = "app:app",
    env: dict[str, str] | None = None,
    argv: list[str] | None = None,
) -> Iterator[ServerProcess]:
    """``qiao serve TARGET FLAGS`` (or ``argv``) on a free port, answering; stopped (with every
    process of its group) when the block ends."""
    port = free_port()
    if argv is None:
        argv = [venv_bin("qiao"), "serve", target, "--port", str(port), "--no-access-log", *flags]
    else:
        argv = [arg.replace("{port}", str(port)) for arg in argv]
    server = ServerProcess("qiao serve", argv, port, cwd=project, env=env or clean_env())
    try:
        server.wait_until_answers(timeout=BOOT)
        yield server
    finally:
        server.stop()
        assert_group_gone(server)


def assert_group_gone(server: ServerProcess) -> None:
    """No process of the server's group (its workers) outlives it."""

    def gone() -> bool:
        try:
            os.killpg(server.process.pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_for(gone, QUICK, "every process of the server to end")


def children(pid: int) -> set[int]:
    """The live (not zombie) child processes of ``pid``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[1]) == pid:
            found.add(int(entry.name))
    return found


def wait_for_workers(server: ServerProcess, count: int, timeout: float = BOOT) -> set[int]:
    """Wait until the supervisor has ``count`` workers, each answering requests."""
    wait_for(lambda: len(children(server.process.pid)) == count, timeout, f"{count} workers")
    workers = children(server.process.pid)
    seen: set[int] = set()

    def all_answered() -> bool:
        seen.add(pid_of(server))
        return seen >= workers

    wait_for(all_answered, timeout, f"each of the workers {workers} to answer")
    return workers


def fresh_client(server: ServerProcess) -> httpx.Client:
    """A client that opens a new connection for every request (none outlives a worker)."""
    return httpx.Client(
        base_url=server.url, timeout=QUICK, limits=httpx.Limits(max_keepalive_connections=0)
    )


def pid_of(server: ServerProcess) -> int:
    with fresh_client(server) as client:
        response = client.get("/")
    assert response.status_code == 200, response.text
    return int(response.json()["pid"])


class Background:
    """One request in a thread: ``result`` is the response, or the transport error."""

    def __init__(self, server: ServerProcess, path: str) -> None:
        self.result: httpx.Response | Exception | None = None
        self.finished_at = 0.0
        self.thread = threading.Thread(target=self._run, args=(server.url + path,), daemon=True)
        self.thread.start()

    def _run(self, url: str) -> None:
        try:
            self.result = httpx.get(url, timeout=30)
        except httpx.TransportError as exc:
            self.result = exc
        self.finished_at = time.monotonic()

    def join(self, timeout: float) -> httpx.Response | Exception | None:
        self.thread.join(timeout)
        return self.result


def start_in_flight(server: ServerProcess, project: Path, path: str) -> Background:
    """Start a slow request and wait until the app is running it."""
    marker = project / "in-flight.txt"
    marker.unlink(missing_ok=True)
    request = Background(server, path)
    wait_for(marker.exists, QUICK, f"{path} to reach the app")
    return request


def refuses_connections(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) != 0


# -- workers ---------------------------------------------------------------------------------------
def test_workers_are_separate_processes_that_all_answer(project: Path) -> None:
    with serving(project, "--workers", "2") as server:
        workers = wait_for_workers(server, 2)
        assert server.process.pid not in workers  # the supervisor serves no request itself
        assert f"qiao supervisor {server.process.pid} starting 2 workers" in server.output()
        assert server.terminate() == 0


def test_workers_from_the_app_settings(project: Path) -> None:
    with serving(project, env=clean_env(QIAO_SERVER_WORKERS="2")) as server:
        wait_for_workers(server, 2)


def test_workers_get_the_factory_and_debug_flags(project: Path) -> None:
    flags = ("--workers", "2", "--factory", "--debug")
    with serving(project, *flags, target="app:create_app") as server:
        wait_for_workers(server, 2)
        with fresh_client(server) as client:
            assert {client.get("/").json()["debug"] for _ in range(6)} == {True}


def test_serve_from_python_forks_workers(project: Path) -> None:
    # ``qiao.server.serve(app, workers=2)`` has no target to import: its workers are forks.
    script = "import qiao.server, app; qiao.server.serve(app.app, port={port}, workers=2)"
    with serving(project, argv=[sys.executable, "-c", script]) as server:
        workers = wait_for_workers(server, 2)
        assert server.process.pid not in workers
        assert server.terminate() == 0


def test_a_killed_worker_is_replaced_and_requests_keep_succeeding(project: Path) -> None:
    with serving(project, "--workers", "2") as server:
        workers = wait_for_workers(server, 2)
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        wait_for(
            lambda: (
                victim not in children(server.process.pid)
                and len(children(server.process.pid)) == 2
            ),
            BOOT,
            "a new worker in place of the killed one",
        )
        with fresh_client(server) as client:
            responses = [client.get("/") for _ in range(20)]
        assert [r.status_code for r in responses] == [200] * 20
        assert victim not in {r.json()["pid"] for r in responses}
        assert f"Worker {victim} exited with status -9; starting another." in server.output()


def test_max_requests_recycles_workers_without_failing_a_request(project: Path) -> None:
    flags = ("--workers", "2", "--max-requests", "5", "--max-requests-jitter", "0")
    with serving(project, *flags) as server:
        loops = [ClientLoop(server) for _ in range(CLIENTS)]
        try:
            # NOTE: a dropped request is a race: recycle many workers, or stop at the first.
            wait_for(
                lambda: (
                    len({p for c in loops for p in c.pids}) >= RECYCLED
                    or any(c.failures for c in loops)
                ),
                BOOT,
                f"{RECYCLED} workers to have served",
            )
        finally:
            for loop in loops:
                loop.stop()
        assert [failure for loop in loops for failure in loop.failures] == []
        assert "Served 5 requests (max_requests): restarting." in server.output()
        wait_for(lambda: len(children(server.process.pid)) == 2, BOOT, "two workers again")


def test_max_requests_without_workers_keeps_serving(project: Path) -> None:
    with serving(project, "--max-requests", "3") as server, fresh_client(server) as client:
        statuses = []
        for _ in range(8):
            try:
                statuses.append(client.get("/").status_code)
            except httpx.TransportError as exc:
                statuses.append(repr(exc))
                time.sleep(0.2)
        assert statuses == [200] * 8
        assert server.process.poll() is None


def test_a_start_up_that_fails_in_the_workers_stops_the_supervisor(project: Path) -> None:
    port = free_port()
    argv = [venv_bin("qiao"), "serve", "failing:app", "--port", str(port), "--workers", "2"]
    server = ServerProcess("qiao serve (failing)", argv, port, cwd=project, env=clean_env())
    try:
        code = server.process.wait(BOOT)
    finally:
        server.stop()
    assert code == 1
    output = server.output()
    assert "RuntimeError: the cache at cache.internal is unreachable" in output
    assert "could not start the app; stopping the server." in output
    assert "starting another" not in output  # not restarted in a loop
    assert "Traceback" not in output
    assert_group_gone(server)


# -- SIGHUP ----------------------------------------------------------------------------------------
CLIENTS = 6  # concurrent client loops: a request is always on its way to some worker
RELOADS = 3
RECYCLED = 12  # distinct workers a --max-requests test waits to have served


class ClientLoop:
    """Requests one after another, each on a new connection, until stopped."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.pids: list[int] = []
        self.failures: list[str] = []
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        with fresh_client(self.server) as client:
            while self.running:
                try:
                    response = client.get("/")
                except httpx.TransportError as exc:
                    self.failures.append(repr(exc))
                    continue
                if response.status_code == 200:
                    self.pids.append(response.json()["pid"])
                else:
                    self.failures.append(f"{response.status_code} {response.text[:80]}")

    def stop(self) -> None:
        self.running = False
        self.thread.join(QUICK * 2)


def test_sighup_replaces_every_worker_without_failing_a_request(project: Path) -> None:
    with serving(project, "--workers", "2", "--timeout-graceful", "5") as server:
        workers = wait_for_workers(server, 2)
        loops = [ClientLoop(server) for _ in range(CLIENTS)]
        fewest = 2
        try:
            wait_for(lambda: all(len(c.pids) >= 5 for c in loops), QUICK, "the clients to start")
            # NOTE: a dropped request is a race, so the reload is done a few times over.
            for _ in range(RELOADS):
                old = workers
                os.kill(server.process.pid, signal.SIGHUP)

                def replaced(old: set[int] = old) -> bool:
                    nonlocal fewest
                    now = children(server.process.pid)
                    fewest = min(fewest, len(now))
                    return not (now & old) and len(now) >= 2

                wait_for(replaced, BOOT, "every worker to be replaced")
                workers = children(server.process.pid)
                counts = [len(c.pids) for c in loops]
                wait_for(
                    lambda counts=counts: all(
                        len(c.pids) >= n + 3 for c, n in zip(loops, counts, strict=True)
                    ),
                    QUICK,
                    "the new workers to answer",
                )
                assert set(loops[0].pids[-3:]).isdisjoint(old)
                if any(loop.failures for loop in loops):
                    break
        finally:
            for loop in loops:
                loop.stop()
        assert [failure for loop in loops for failure in loop.failures] == []
        assert fewest >= 2  # a new worker started before each old one stopped


def test_sighup_keeps_the_number_of_workers(project: Path) -> None:
    with serving(project, "--workers", "2", "--timeout-graceful", "5") as server:
        old = wait_for_workers(server, 2)
        os.kill(server.process.pid, signal.SIGHUP)
        wait_for(lambda: not (children(server.process.pid) & old), BOOT, "the old workers to go")
        time.sleep(1.0)  # replacements of replacements, if any, would have started by now
        assert len(children(server.process.pid)) == 2


def test_sighup_serves_the_new_code(project: Path) -> None:
    with serving(project, "--workers", "2") as server:
        old = wait_for_workers(server, 2)
        (project / "app.py").write_text(APP.replace("VERSION = 1", "VERSION = 2"))
        os.kill(server.process.pid, signal.SIGHUP)
        wait_for(lambda: not (children(server.process.pid) & old), BOOT, "the old workers to go")
        with fresh_client(server) as client:
            versions = {client.get("/").json()["version"] for _ in range(10)}
        assert versions == {2}


MAX_BOOT_ATTEMPTS = 4  # a new worker for each of the two, and a retry each at most


def test_sighup_with_broken_new_code_does_not_restart_workers_forever(project: Path) -> None:
    # The docs: a worker whose app cannot start (an import error) stops the whole server
    # with exit status 1, instead of restarting forever.
    with serving(project, "--workers", "2") as server:
        wait_for_workers(server, 2)
        (project / "app.py").write_text(APP + "\nbroken = (\n")
        os.kill(server.process.pid, signal.SIGHUP)

        def attempts() -> int:
            return server.output().count("SyntaxError")

        wait_for(
            lambda: server.process.poll() is not None or attempts() > MAX_BOOT_ATTEMPTS,
            BOOT,
            "the supervisor to give up",
        )
        assert attempts() <= MAX_BOOT_ATTEMPTS, "the workers are restarted in a loop"
        assert server.process.wait(QUICK) == 1


# -- graceful stop ---------------------------------------------------------------------------------
WORKERS = ["1", "2"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("workers", WORKERS, ids=["one-process", "two-workers"])
def test_stop_signal_lets_the_request_in_flight_finish(
    project: Path, workers: str, signum: signal.Signals
) -> None:
    with serving(project, "--workers", workers, "--timeout-graceful", "5") as server:
        if workers != "1":
            wait_for_workers(server, int(workers))
        request = start_in_flight(server, project, "/sleep/1000")
        os.kill(server.process.pid, signum)  # the supervisor (or the one process) only
        stop_began = time.monotonic()
        response = request.join(QUICK)
        assert isinstance(response, httpx.Response), response
        assert response.status_code == 200
        assert response.json()["slept"] == 1000
        code = server.process.wait(QUICK)
        assert code == 0
        assert time.monotonic() - stop_began < 5  # well within timeout_graceful


@pytest.mark.parametrize(
    "workers",
    [
        "1",
        ("2"),
    ],
    ids=["one-process", "two-workers"],
)
def test_stop_signal_refuses_new_connections_at_once(project: Path, workers: str) -> None:
    with serving(project, "--workers", workers, "--timeout-graceful", "5") as server:
        if workers != "1":
            wait_for_workers(server, int(workers))
        request = start_in_flight(server, project, "/sleep/1500")
        os.kill(server.process.pid, signal.SIGTERM)
        wait_for(lambda: refuses_connections(server.port), 1.0, "new connections to be refused")
        assert request.join(QUICK) is not None
        assert request.thread.is_alive() is False
        assert isinstance(request.result, httpx.Response), request.result
        assert request.result.status_code == 200


@pytest.mark.parametrize(
    ("view", "workers"),
    [
        ("sleep", "1"),
        ("sleep", "2"),
        ("sync-sleep", "1"),
        ("sync-sleep", "2"),
    ],
)
def test_timeout_graceful_ends_a_request_that_takes_too_long(
    project: Path, view: str, workers: str
) -> None:
    with serving(project, "--workers", workers, "--timeout-graceful", "1") as server:
        if workers != "1":
            wait_for_workers(server, int(workers))
        request = start_in_flight(server, project, f"/{view}/10000")
        os.kill(server.process.pid, signal.SIGTERM)
        stop_began = time.monotonic()
        try:
            server.process.wait(1 + 2)
        except Exception:
            pytest.fail(f"still running {time.monotonic() - stop_began:.1f}s after SIGTERM")
        assert server.process.returncode == 0
        result = request.join(QUICK)
        assert not isinstance(result, httpx.Response), "the 10 s request cannot have finished"


def test_sigterm_to_the_whole_group_stops_supervisor_and_workers(project: Path) -> None:
    # What a terminal's Ctrl-C or `kill -- -PGID` does: every process gets the signal.
    with serving(project, "--workers", "2", "--timeout-graceful", "5") as server:
        wait_for_workers(server, 2)
        assert server.terminate() == 0
        assert_group_gone(server)
