"""``qiao serve`` and ``python -m qiao serve`` as real processes: every flag, the app's
``SERVER_*`` settings, the start-up failures, and what ``qiao run`` adds on top."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._servers import (
    ServerProcess,
    free_port,
    running_server,
    server_env,
    venv_bin,
    wait_for,
)

from .conftest import ResponseReader

RUN_TIMEOUT = 30  # a command that should end at once (a start-up failure)
QUICK = 5.0  # what a server is given to do something it should do at once

QIAO_APP = textwrap.dedent(
    """
    import asyncio
    import os

    import qiao

    app = qiao.App(__name__, config={"SECRET_KEY": "cli-test"})
    app.config.from_env()


    @app.get("/")
    def index(request):
        return {"pid": os.getpid(), "debug": app.config["DEBUG"], "app": "qiao"}


    @app.get("/where")
    def where(request):
        return {
            "root_path": request.root_path,
            "url": request.url_for("item", id=3),
            "client": request.client[0],
            "scheme": request.scheme,
        }


    @app.get("/items/<int:id>", name="item")
    def item(request, id):
        return {"id": id}


    @app.get("/sleep/<int:ms>")
    async def sleep(request, ms):
        await asyncio.sleep(ms / 1000)
        return {"slept": ms}
    """
)

ASGI_APP = textwrap.dedent(
    """
    import json
    import os


    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = json.dumps(
            {
                "app": "asgi",
                "pid": os.getpid(),
                "client": scope["client"][0] if scope["client"] else None,
                "scheme": scope["scheme"],
                "root_path": scope["root_path"],
                "path": scope["path"],
            }
        ).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


    def make_app():
        return app
    """
)

WSGI_APP = textwrap.dedent(
    """
    import json
    import os


    def app(environ, start_response):
        body = json.dumps(
            {
                "app": "wsgi",
                "pid": os.getpid(),
                "client": environ.get("REMOTE_ADDR"),
                "scheme": environ["wsgi.url_scheme"],
                "root_path": environ["SCRIPT_NAME"],
                "path": environ["PATH_INFO"],
            }
        ).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    """
)

FACTORY = textwrap.dedent(
    """
    import qiao


    def create_app():
        app = qiao.App(__name__, config={"SECRET_KEY": "cli-test"})
        app.get("/")(lambda request: {"app": "made by a factory"})
        return app
    """
)

FAILING_START_UP = textwrap.dedent(
    """
    import qiao

    app = qiao.App(__name__, config={"SECRET_KEY": "cli-test"})
    app.get("/")(lambda request: "never")


    @app.on_startup
    def connect():
        raise RuntimeError("the database at db.internal is unreachable")
    """
)

FAILING_LIFESPAN = textwrap.dedent(
    """
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            await receive()
            await send({"type": "lifespan.startup.failed", "message": "no database"})
            return
    """
)

APP_SOURCES = {
    "qiao_app.py": QIAO_APP,
    "asgi_app.py": ASGI_APP,
    "wsgi_app.py": WSGI_APP,
    "factory.py": FACTORY,
    "failing_start_up.py": FAILING_START_UP,
    "failing_lifespan.py": FAILING_LIFESPAN,
}
TARGETS = {"qiao": "qiao_app:app", "asgi": "asgi_app:app", "wsgi": "wsgi_app:app"}
INTERFACES = {"qiao": "native", "asgi": "asgi", "wsgi": "wsgi"}


@pytest.fixture
def apps(tmp_path: Path) -> Path:
    """A folder holding the small apps the tests serve (run with it as the current folder)."""
    for name, source in APP_SOURCES.items():
        (tmp_path / name).write_text(source)
    return tmp_path


def clean_env(**extra: str) -> dict[str, str]:
    """The server's environment without any ``QIAO_*`` setting of ours leaking in."""
    env = {k: v for k, v in server_env().items() if not k.startswith("QIAO_")}
    env.update(extra)
    return env


def serve_argv(*args: str, via: str = "script") -> list[str]:
    """``qiao serve ARGS``, through the console script or ``python -m qiao``."""
    command = [venv_bin("qiao")] if via == "script" else [sys.executable, "-m", "qiao"]
    return [*command, "serve", *args]


def run_serve(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``qiao serve ARGS`` to its end (for commands that must fail at start)."""
    return subprocess.run(
        serve_argv(*args),
        cwd=cwd,
        env=env if env is not None else clean_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
        start_new_session=True,
    )


@contextlib.contextmanager
def served(
    apps: Path, *args: str, via: str = "script", env: dict[str, str] | None = None
) -> Iterator[ServerProcess]:
    """``qiao serve ARGS --port <free>`` running until the block ends."""
    port = free_port()
    argv = serve_argv(*args, "--port", str(port), via=via)
    env = env if env is not None else clean_env()
    with running_server("qiao serve", argv, port, cwd=apps, env=env) as server:
        yield server


def wait_until_served(
    server: ServerProcess, get: Callable[[], httpx.Response], timeout: float = 20
) -> httpx.Response:
    """Call ``get`` until it answers (for servers not on 127.0.0.1:port); fail if the server
    exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            pytest.fail(f"the server exited with {server.process.returncode}:\n{server.output()}")
        try:
            return get()
        except httpx.TransportError:
            if time.monotonic() > deadline:
                server.stop()
                pytest.fail(f"the server never answered:\n{server.output()}")
            time.sleep(0.05)


def get_json(server: ServerProcess, path: str, **kwargs: Any) -> Any:
    response = httpx.get(server.url + path, timeout=QUICK, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The failure's stderr, checked to be one line without a traceback."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


# -- the three kinds of app ------------------------------------------------------------------------
@pytest.mark.parametrize("via", ["script", "module"])
@pytest.mark.parametrize("kind", ["qiao", "asgi", "wsgi"])
def test_serve_answers_each_kind_of_app(apps: Path, kind: str, via: str) -> None:
    with served(apps, TARGETS[kind], via=via) as server:
        body = get_json(server, "/")
        assert body["app"] == kind
        assert body["pid"] == server.process.pid  # one process: no supervisor, no fork
        assert f"qiao serving {server.url} ({INTERFACES[kind]})" in server.output()
        assert server.terminate() == 0


def test_serve_defaults_to_app_in_the_module_and_reads_qiao_app(apps: Path) -> None:
    (apps / "main.py").write_text(QIAO_APP)
    with served(apps, "main") as server:  # no ':attribute' means ':app'
        assert get_json(server, "/")["app"] == "qiao"
    with served(apps, env=clean_env(QIAO_APP="asgi_app:app")) as server:
        assert get_json(server, "/")["app"] == "asgi"
    with served(apps, "--app", "wsgi_app:app") as server:
        assert get_json(server, "/")["app"] == "wsgi"


# -- where it listens ------------------------------------------------------------------------------
def test_serve_listens_on_the_host_given(apps: Path) -> None:
    port = free_port()
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", port))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    server = ServerProcess(
        "qiao serve --host ::1",
        serve_argv(TARGETS["qiao"], "--host", "::1", "--port", str(port)),
        port,
        cwd=apps,
        env=clean_env(),
    )
    try:
        response = wait_until_served(
            server, lambda: httpx.get(f"http://[::1]:{port}/", timeout=QUICK)
        )
        assert response.json()["app"] == "qiao"
        with socket.socket() as probe:  # only the host asked for
            assert probe.connect_ex(("127.0.0.1", port)) != 0
        assert f"qiao serving http://[::1]:{port}" in server.output()
    finally:
        server.stop()


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A folder with a short path: a Unix socket path must fit in about 100 bytes."""
    with tempfile.TemporaryDirectory(prefix="qiao-", dir="/tmp") as path:
        yield Path(path)


def wait_until_unix_socket_accepts(server: ServerProcess, path: Path) -> None:
    # NOTE: raw probes: httpx's Unix transport leaks its socket when the connect fails.
    def accepts() -> bool:
        assert server.process.poll() is None, server.output()
        with socket.socket(socket.AF_UNIX) as probe:
            return probe.connect_ex(str(path)) == 0

    wait_for(accepts, 20, f"the server to listen on {path}")


@pytest.mark.parametrize("kind", ["qiao", "asgi"])
def test_serve_on_a_unix_socket(apps: Path, short_dir: Path, kind: str) -> None:
    path = short_dir / "app.sock"
    server = ServerProcess(
        "qiao serve --uds",
        serve_argv(TARGETS[kind], "--uds", str(path)),
        0,
        cwd=apps,
        env=clean_env(),
    )
    try:
        wait_until_unix_socket_accepts(server, path)
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(path)), timeout=QUICK) as client:
            response = client.get("http://qiao/")
        assert response.json()["app"] == kind
        assert path.stat().st_mode & 0o777 == 0o660
        assert f"qiao serving unix:{path}" in server.output()
        assert server.terminate() == 0
        assert not path.exists()  # removed on the way out
    finally:
        server.stop()


CURL_RETRYING = ["curl", "-sS", "--retry", "20", "--retry-connrefused", "--retry-delay", "0"]


CURL_RETRYING = ["curl", "-sS", "--retry", "20", "--retry-connrefused", "--retry-delay", "0"]


def test_serve_on_a_unix_socket_with_curl(apps: Path, short_dir: Path) -> None:
    path = short_dir / "app.sock"
    server = ServerProcess(
        "qiao serve --uds",
        serve_argv(TARGETS["wsgi"], "--uds", str(path)),
        0,
        cwd=apps,
        env=clean_env(),
    )
    try:
        wait_for(path.exists, 20, "the Unix socket")
        result = subprocess.run(
            [*CURL_RETRYING, "--unix-socket", str(path), "http://qiao/curl"],
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert '"path": "/curl"' in result.stdout
    finally:
        server.stop()


def test_serve_a_listening_socket_passed_by_fd(apps: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, not listening: the server calls listen()
        port = sock.getsockname()[1]
        process = subprocess.Popen(
            serve_argv(TARGETS["asgi"], "--fd", str(sock.fileno())),
            cwd=apps,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=[sock.fileno()],
            start_new_session=True,
        )
    try:  # the server holds the only copy of the socket now
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, "the server exited"
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/fd", timeout=QUICK)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server never answered"
                time.sleep(0.05)
        assert response.json()["path"] == "/fd"
        process.send_signal(signal.SIGTERM)
        assert process.wait(QUICK) == 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(QUICK)


def test_serve_listens_with_the_backlog_given(apps: Path) -> None:
    if not os.path.exists("/usr/bin/ss") and not os.path.exists("/bin/ss"):
        pytest.skip("needs ss to read a listening socket's backlog")
    with served(apps, TARGETS["qiao"], "--backlog", "37") as server:
        result = subprocess.run(
            ["ss", "-Hltn", f"sport = :{server.port}"],
            capture_output=True,
            text=True,
            timeout=QUICK,
            check=True,
        )
        [line] = result.stdout.splitlines()
        assert line.split()[2] == "37"  # Send-Q of a listening socket is its backlog


# -- limits and timeouts ---------------------------------------------------------------------------
def ask(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Send ``GET /`` on ``sock`` and read the answer strictly (h11)."""
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    return ResponseReader(sock).next()


def closed_by_server_within(port: int, seconds: float) -> bool:
    """Answer one request on a keep-alive connection, then: does the server close it within
    ``seconds``?"""
    with socket.create_connection(("127.0.0.1", port), timeout=QUICK) as sock:
        status, headers, _ = ask(sock)
        assert status == 200
        assert "close" not in headers.get("connection", "")
        sock.settimeout(seconds)
        try:
            return sock.recv(1) == b""
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True


def test_timeout_keep_alive_flag_closes_idle_connections(apps: Path) -> None:
    with served(apps, TARGETS["qiao"], "--timeout-keep-alive", "0.2") as server:
        assert closed_by_server_within(server.port, 2)


def test_timeout_keep_alive_from_the_app_settings_and_the_flag_overriding_it(apps: Path) -> None:
    env = clean_env(QIAO_SERVER_TIMEOUT_KEEP_ALIVE="0.2")
    with served(apps, TARGETS["qiao"], env=env) as server:
        assert closed_by_server_within(server.port, 2)
    with served(apps, TARGETS["qiao"], "--timeout-keep-alive", "30", env=env) as server:
        assert not closed_by_server_within(server.port, 1)


@contextlib.contextmanager
def hold_the_only_slot(port: int) -> Iterator[socket.socket]:
    """A kept-alive connection that got its 200 (retrying while the readiness probe's
    connection is still counted)."""
    deadline = time.monotonic() + QUICK
    while True:
        sock = socket.create_connection(("127.0.0.1", port), timeout=QUICK)
        if ask(sock)[0] == 200:
            break
        sock.close()
        assert time.monotonic() < deadline, "never got the connection slot"
        time.sleep(0.05)
    with sock:
        yield sock


def test_limit_concurrency_answers_503_past_the_limit(apps: Path) -> None:
    with served(apps, TARGETS["asgi"], "--limit-concurrency", "1") as server:
        with hold_the_only_slot(server.port):
            with socket.create_connection(("127.0.0.1", server.port), timeout=QUICK) as extra:
                status, headers, _ = ask(extra)
            assert status == 503
            assert headers["connection"] == "close"
        # the slot is free again once the held connection is gone
        wait_for(
            lambda: httpx.get(server.url, timeout=QUICK).status_code == 200,
            QUICK,
            "the slot to be released",
        )


# -- access log ------------------------------------------------------------------------------------
ACCESS_LINE = '127.0.0.1:{port} - "GET /logged?q=1 HTTP/1.1" 404'


@pytest.mark.parametrize(
    ("flags", "settings", "logged"),
    [
        ((), {}, True),
        (("--access-log",), {}, True),
        (("--no-access-log",), {}, False),
        ((), {"QIAO_SERVER_ACCESS_LOG": "false"}, False),
        (("--access-log",), {"QIAO_SERVER_ACCESS_LOG": "false"}, True),
        (("--no-access-log",), {"QIAO_SERVER_ACCESS_LOG": "true"}, False),
    ],
)
def test_access_log_flag_and_setting(
    apps: Path, flags: tuple[str, ...], settings: dict[str, str], logged: bool
) -> None:
    with served(apps, TARGETS["qiao"], *flags, env=clean_env(**settings)) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=QUICK) as sock:
            client_port = sock.getsockname()[1]
            sock.sendall(b"GET /logged?q=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert sock.recv(100).startswith(b"HTTP/1.1 404")
        assert server.terminate() == 0
    line = ACCESS_LINE.format(port=client_port)
    assert (line in server.output()) is logged, server.output()
    assert ("qiao.access" in server.output()) is logged


# -- proxy headers ---------------------------------------------------------------------------------
FORWARDED = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}


@pytest.mark.parametrize(
    ("flags", "believed"),
    [
        ((), True),  # 127.0.0.1 is trusted by default
        (("--proxy-headers",), True),
        (("--no-proxy-headers",), False),
        (("--forwarded-allow-ips", "10.0.0.1"), False),
        (("--forwarded-allow-ips", "10.0.0.1, 127.0.0.0/8"), True),
        (("--forwarded-allow-ips", "*"), True),
        (("--forwarded-allow-ips", "::1"), False),
    ],
)
def test_proxy_headers_are_believed_only_from_allowed_peers(
    apps: Path, flags: tuple[str, ...], believed: bool
) -> None:
    with served(apps, TARGETS["asgi"], *flags) as server:
        body = get_json(server, "/", headers=FORWARDED)
    if believed:
        assert (body["client"], body["scheme"]) == ("203.0.113.7", "https")
    else:
        assert (body["client"], body["scheme"]) == ("127.0.0.1", "http")


@pytest.mark.parametrize(
    ("flags", "believed"),
    [((), True), (("--forwarded-allow-ips", "10.0.0.1"), False)],
)
def test_proxy_headers_reach_a_wsgi_app_as_remote_addr_and_url_scheme(
    apps: Path, flags: tuple[str, ...], believed: bool
) -> None:
    with served(apps, TARGETS["wsgi"], *flags) as server:
        body = get_json(server, "/", headers=FORWARDED)
    if believed:
        assert (body["client"], body["scheme"]) == ("203.0.113.7", "https")
    else:
        assert (body["client"], body["scheme"]) == ("127.0.0.1", "http")


def test_proxy_headers_take_the_nearest_untrusted_hop(apps: Path) -> None:
    with served(apps, TARGETS["asgi"], "--forwarded-allow-ips", "127.0.0.1,10.0.0.0/8") as server:
        # a client may write anything leftmost; the hop our proxies saw is the one to believe
        chain = "6.6.6.6, 203.0.113.7, 10.1.1.1"
        body = get_json(server, "/", headers={"X-Forwarded-For": chain})
        assert body["client"] == "203.0.113.7"
        body = get_json(server, "/", headers={"X-Forwarded-Proto": "gopher"})
        assert body["scheme"] == "http"  # only http and https are believed


def test_proxy_headers_are_left_to_a_qiao_app(apps: Path) -> None:
    # A qiao app decides which proxies it trusts (TRUSTED_PROXIES); the server does not.
    with served(apps, TARGETS["qiao"], "--forwarded-allow-ips", "*") as server:
        body = get_json(server, "/where", headers=FORWARDED)
    assert (body["client"], body["scheme"]) == ("127.0.0.1", "http")


# -- root path -------------------------------------------------------------------------------------
def test_root_path_for_an_asgi_app(apps: Path) -> None:
    with served(apps, TARGETS["asgi"], "--root-path", "/api") as server:
        body = get_json(server, "/items")
    assert (body["root_path"], body["path"]) == ("/api", "/api/items")


def test_root_path_for_a_wsgi_app(apps: Path) -> None:
    with served(apps, TARGETS["wsgi"], "--root-path", "/api/") as server:
        stripped = get_json(server, "/items")
        prefixed = get_json(server, "/api/items")
    assert (stripped["root_path"], stripped["path"]) == ("/api", "/items")
    assert (prefixed["root_path"], prefixed["path"]) == ("/api", "/items")


def test_root_path_for_a_qiao_app_prefixes_its_urls(apps: Path) -> None:
    with served(apps, TARGETS["qiao"], "--root-path", "/api") as server:
        assert get_json(server, "/api/items/5") == {"id": 5}
        body = get_json(server, "/api/where")
    assert (body["root_path"], body["url"]) == ("/api", "/api/items/3")


# -- interface, factory, debug ---------------------------------------------------------------------
@pytest.mark.parametrize("interface", ["asgi", "wsgi", "native"])
def test_interface_flag_serves_a_qiao_app_through_that_adapter(apps: Path, interface: str) -> None:
    with served(apps, TARGETS["qiao"], "--interface", interface) as server:
        assert get_json(server, "/")["app"] == "qiao"
        assert get_json(server, "/items/7") == {"id": 7}
        assert httpx.get(server.url + "/nowhere", timeout=QUICK).status_code == 404
        assert f"qiao serving {server.url} ({interface})" in server.output()


def test_interface_native_for_an_asgi_app_fails_at_start(apps: Path) -> None:
    result = run_serve(TARGETS["asgi"], "--interface", "native", "--port", "0", cwd=apps)
    line = one_line_error(result)
    assert line.startswith("qiao: the server could not start: ")
    assert "interface 'native' serves qiao apps only" in line


@pytest.mark.parametrize(
    ("target", "expected"),
    [("factory:create_app", "made by a factory"), ("asgi_app:make_app", "asgi")],
)
def test_factory_calls_the_target_to_get_the_app(apps: Path, target: str, expected: str) -> None:
    with served(apps, target, "--factory") as server:
        assert get_json(server, "/")["app"] == expected


def test_debug_flag_turns_debug_on(apps: Path) -> None:
    with served(apps, TARGETS["qiao"]) as server:
        assert get_json(server, "/")["debug"] is False
    with served(apps, TARGETS["qiao"], "--debug") as server:
        assert get_json(server, "/")["debug"] is True


# -- the app's SERVER_* settings -------------------------------------------------------------------
def test_server_port_from_the_app_settings_and_the_flag_overriding_it(apps: Path) -> None:
    port = free_port()
    env = clean_env(QIAO_SERVER_PORT=str(port))
    argv = serve_argv(TARGETS["qiao"])
    with running_server("qiao serve (SERVER_PORT)", argv, port, cwd=apps, env=env) as server:
        assert get_json(server, "/")["app"] == "qiao"
    with served(apps, TARGETS["qiao"], env=env) as server:  # served() adds --port
        assert server.port != port
        assert get_json(server, "/")["app"] == "qiao"
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0


# -- start-up failures -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("flags", "settings", "named"),
    [
        (("--workers", "0"), {}, "workers"),
        (("--forwarded-allow-ips", "proxy.internal"), {}, "'proxy.internal'"),
        ((), {"QIAO_SERVER_TIMEOUT_KEEP_ALIVE": '"5"'}, "SERVER_TIMEOUT_KEEP_ALIVE"),
    ],
)
def test_bad_settings_fail_at_start_with_e601_on_one_line(
    apps: Path, flags: tuple[str, ...], settings: dict[str, str], named: str
) -> None:
    result = run_serve(TARGETS["qiao"], *flags, cwd=apps, env=clean_env(**settings))
    line = one_line_error(result)
    assert "qiao.E601" in line
    assert named in line


@pytest.mark.parametrize("workers", ["1", "2"])
def test_port_out_of_range_fails_at_start_with_e601(apps: Path, workers: str) -> None:
    result = run_serve(TARGETS["qiao"], "--port", "70000", "--workers", workers, cwd=apps)
    line = one_line_error(result)
    assert "qiao.E601" in line
    assert "70000" in line


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no_such_module:app", "qiao: cannot load app 'no_such_module:app': "
         "No module named 'no_such_module'"),
        ("qiao_app:nope", "qiao: cannot load app 'qiao_app:nope': "
         "module 'qiao_app' has no attribute 'nope'"),
    ],
)  # fmt: skip
def test_an_app_that_cannot_be_loaded_is_a_clear_error(
    apps: Path, target: str, message: str
) -> None:
    result = run_serve(target, cwd=apps)
    assert one_line_error(result) == message
    assert result.stdout == ""


def test_no_app_anywhere_says_how_to_name_one(tmp_path: Path) -> None:
    line = one_line_error(run_serve(cwd=tmp_path))
    assert line.startswith("qiao: no app found. Pass --app module:app, set QIAO_APP")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_port_in_use_is_a_one_line_error(apps: Path, workers: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_serve(TARGETS["qiao"], "--port", str(port), "--workers", workers, cwd=apps)
    line = one_line_error(result)
    assert line.startswith("qiao: ")
    assert f"cannot listen on 127.0.0.1:{port}" in line
    assert "Address already in use" in line
    assert "supervisor" not in result.stderr  # it failed before forking any worker


def test_a_failing_start_up_hook_stops_the_server_with_its_reason(apps: Path) -> None:
    result = run_serve("failing_start_up:app", "--port", str(free_port()), cwd=apps)
    assert one_line_error(result) == (
        "qiao: the server could not start: RuntimeError: the database at db.internal is unreachable"
    )


def test_a_failing_asgi_lifespan_start_up_stops_the_server_with_its_reason(apps: Path) -> None:
    result = run_serve("failing_lifespan:app", "--port", str(free_port()), cwd=apps)
    assert one_line_error(result) == (
        "qiao: the server could not start: RuntimeError: The app's start-up failed: no database"
    )


# -- qiao run --------------------------------------------------------------------------------------
RUN_APP = (
    QIAO_APP
    + "\nVERSION = 1\n\n\n@app.get('/version')\ndef version(request):\n"
    + ("    return {'version': VERSION}\n")
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with an ``app.py``, as ``qiao run`` finds it by default."""
    (tmp_path / "app.py").write_text(RUN_APP)
    (tmp_path / "instance").mkdir()
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    return tmp_path


def qiao_run(
    project: Path, port: int, *args: str
) -> contextlib.AbstractContextManager[ServerProcess]:
    """``qiao run --port PORT ARGS`` in ``project``, answering until the block ends."""
    argv = [venv_bin("qiao"), "run", "--port", str(port), *args]
    return running_server("qiao run", argv, port, cwd=project, env=clean_env())


def restarts(server: ServerProcess) -> list[str]:
    """The reloader's "changed; restarting" lines so far."""
    return [line for line in server.output().splitlines() if "changed; restarting" in line]


def touch_until_restarted(server: ServerProcess, path: Path, timeout: float = 20) -> None:
    """Write ``path`` (again each second: the watcher may start late) until a restart names it."""
    before = len(restarts(server))
    last_write = 0.0

    def restarted() -> bool:
        nonlocal last_write
        if len(restarts(server)) > before:
            return True
        if time.monotonic() - last_write > 1.0:
            path.write_text(f"# {time.monotonic()}\n")
            last_write = time.monotonic()
        return False

    wait_for(restarted, timeout, f"a restart after {path.name} changed")


def test_run_does_not_restart_when_a_file_that_is_not_python_changes(project: Path) -> None:
    port = free_port()
    with qiao_run(project, port) as server:
        first_pid = get_json(server, "/")["pid"]
        touch_until_restarted(server, project / "pkg" / "first.py")  # the watcher is on now
        (project / "instance" / "app.db").write_bytes(b"SQLite format 3\x00" + os.urandom(64))
        (project / "notes.txt").write_text("not code")
        # a Python file written after them: once its restart is seen, theirs would have been
        (project / "pkg" / "second.py").write_text("")
        wait_for(lambda: len(restarts(server)) >= 2, 20, "the restart for pkg/second.py")
        assert restarts(server) == [
            "qiao run: pkg/first.py changed; restarting",
            "qiao run: pkg/second.py changed; restarting",
        ]
        wait_for(lambda: _pid_or_none(server) not in (None, first_pid), 20, "the restarted server")


def _pid_or_none(server: ServerProcess) -> int | None:
    try:
        return int(httpx.get(server.url, timeout=QUICK).json()["pid"])
    except httpx.TransportError:
        return None


def test_run_recovers_after_an_edit_with_a_syntax_error(project: Path) -> None:
    port = free_port()
    source = project / "app.py"
    with qiao_run(project, port) as server:
        assert get_json(server, "/version") == {"version": 1}
        broken = RUN_APP.replace("VERSION = 1", "VERSION = (")
        last_write = 0.0

        def broke() -> bool:
            nonlocal last_write
            if "SyntaxError" in server.output():
                return True
            if time.monotonic() - last_write > 1.0:
                source.write_text(broken)
                last_write = time.monotonic()
            return False

        wait_for(broke, 20, "the reloaded server to report the syntax error")
        assert server.process.poll() is None  # the reloader lives on
        source.write_text(RUN_APP.replace("VERSION = 1", "VERSION = 2"))

        def fixed() -> bool:
            try:
                return bool(
                    httpx.get(server.url + "/version", timeout=QUICK).json()["version"] == 2
                )
            except httpx.TransportError:
                return False

        wait_for(fixed, 20, "the fixed app to be served")


@pytest.mark.parametrize("reload", ["--reload", "--no-reload"])
def test_run_stopped_with_sigterm_stops_its_server(project: Path, reload: str) -> None:
    port = free_port()
    with qiao_run(project, port, reload) as server:
        get_json(server, "/")
        server.process.send_signal(signal.SIGTERM)  # the runner only, as systemd or docker do
        server.process.wait(QUICK)

        def refused() -> bool:
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", port)) != 0

        wait_for(refused, 2.5, "the server to stop with `qiao run`")


def test_run_with_reload_serves_with_qiao_s_own_server_in_debug(project: Path) -> None:
    port = free_port()
    with qiao_run(project, port) as server:
        assert get_json(server, "/")["debug"] is True
        assert f"qiao serving http://127.0.0.1:{port} (native)" in server.output()
