"""Run real servers as subprocesses for tests: free ports, a bounded wait, a clean stop.

Every server runs in its own session (process group), so ``stop()`` ends the server and any
worker it forked, and nothing outlives the test that started it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import httpx
import pytest

#: The repository root: the demo app is importable as ``examples.demo.app`` from here.
REPO = Path(__file__).resolve().parent.parent
#: The folder of the running interpreter's scripts (the venv's ``bin``).
BIN = Path(sys.executable).parent
DEMO = "examples.demo.app:app"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
POLL_INTERVAL = 0.05


def venv_bin(name: str) -> str:
    """The path of the console script ``name`` installed next to ``sys.executable``."""
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{name} is not installed in {BIN}; install qiao's test extras.")
    return str(path)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(**extra: str) -> dict[str, str]:
    """The environment for a server: ours, with the repository importable."""
    env = dict(os.environ)
    paths = [str(REPO), *filter(None, [env.get("PYTHONPATH")])]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class ServerProcess:
    """A server subprocess listening on ``127.0.0.1:port``; its output goes to a log file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        port: int,
        *,
        cwd: Path = REPO,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        fd, log_path = tempfile.mkstemp(prefix=f"qiao-{name}-", suffix=".log")
        self._log_path = Path(log_path)
        self._saved_output: str | None = None
        with os.fdopen(fd, "wb") as log:
            self.process = subprocess.Popen(
                self.argv,
                cwd=cwd,
                env=dict(env) if env is not None else server_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        """Everything the server wrote to stdout and stderr so far."""
        if self._saved_output is not None:
            return self._saved_output
        return self._log_path.read_text(errors="replace")

    def wait_until_answers(self, path: str = "/", timeout: float = START_TIMEOUT) -> None:
        """Poll ``path`` until the server answers with any HTTP response.

        Fails the test, with the server's output, when the process exits or ``timeout`` passes.
        """
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        with httpx.Client(base_url=self.url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                code = self.process.poll()
                if code is not None:
                    pytest.fail(
                        f"{self.name} exited with code {code} before answering; argv "
                        f"{self.argv}; its output:\n{self.output()}"
                    )
                try:
                    client.get(path)
                except httpx.TransportError as exc:
                    last_error = exc
                    time.sleep(POLL_INTERVAL)
                else:
                    return
        self.stop()
        pytest.fail(
            f"{self.name} did not answer GET {self.url}{path} within {timeout}s (last error: "
            f"{last_error!r}); argv {self.argv}; its output:\n{self.output()}"
        )

    def terminate(self, timeout: float = STOP_TIMEOUT) -> int:
        """Send SIGTERM to the server's process group and wait for the server to exit.

        Returns:
            The server's exit code. A server that ignores SIGTERM is killed and fails the test.
        """
        if self.process.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill()
                pytest.fail(
                    f"{self.name} did not exit within {timeout}s of SIGTERM; its output:\n"
                    f"{self.output()}"
                )
        return self.process.returncode

    def stop(self) -> None:
        """End the server and its workers, whatever their state; safe to call twice."""
        if self.process.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._kill()
        # NOTE: workers that outlived their master (they should not) are killed too.
        self._signal_group(signal.SIGKILL)
        if self._saved_output is None:
            self._saved_output = self.output()
            self._log_path.unlink(missing_ok=True)

    def _kill(self) -> None:
        self._signal_group(signal.SIGKILL)
        self.process.wait(STOP_TIMEOUT)

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)


@contextlib.contextmanager
def running_server(
    name: str,
    argv: Sequence[str],
    port: int,
    *,
    cwd: Path = REPO,
    env: Mapping[str, str] | None = None,
    ready_path: str = "/",
) -> Iterator[ServerProcess]:
    """Start a server, wait until it answers on ``ready_path``, and always stop it after."""
    server = ServerProcess(name, argv, port, cwd=cwd, env=env)
    try:
        server.wait_until_answers(ready_path)
        yield server
    finally:
        server.stop()


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    """Poll ``predicate()`` until it returns true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {timeout}s waiting for {what}.")
        time.sleep(POLL_INTERVAL)
