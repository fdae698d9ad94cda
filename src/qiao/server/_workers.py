"""Pre-forked workers: N processes share the listening sockets; a supervisor keeps them alive.

- a worker that dies is replaced; one that fails to boot stops the whole server;
- ``max_requests`` (with jitter) makes a worker exit gracefully, and it is replaced;
- SIGTERM/SIGINT: workers stop accepting, finish in-flight requests up to
  ``timeout_graceful``, and exit; stragglers are killed after that;
- SIGHUP: workers are replaced one at a time (a new one starts before the old one stops).

Started from ``qiao serve module:app``, each worker is a fresh interpreter that imports the app
itself (so SIGHUP loads new code); given an app object (``serve(app, workers=N)``), workers are
forked from this process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from qiao.server._config import ServerConfig

__all__ = ["WORKER_BOOT_ERROR", "Supervisor"]

logger = logging.getLogger("qiao.server")

#: A worker's exit status when the app could not start: restarting it would only loop.
WORKER_BOOT_ERROR = 3
#: The environment variable that hands a spawned worker its target, settings and sockets.
WORKER_SPEC_ENV = "QIAO_SERVER_WORKER"
_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD)


class Supervisor:
    """Starts and watches the worker processes (the master process)."""

    def __init__(
        self,
        app: Any,
        config: ServerConfig,
        sockets: list[socket.socket],
        target: dict[str, Any] | None = None,
    ) -> None:
        """``target``: ``{"target": "module:app", "factory": bool, "debug": bool, "log_level":
        str}`` to spawn workers that import the app, instead of forking with ``app``."""
        self.app = app
        self.config = config
        self.sockets = sockets
        self.target = target
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        self.workers: dict[int, float] = {}  # pid -> start time
        self.stopping = False
        self.failed = False
        self.pending_signals: list[int] = []
        self.deadline = float("inf")
        self.retiring: set[int] = set()  # replaced by SIGHUP: not to be replaced again

    def run(self) -> int:
        """Supervise until stopped; the exit status (1 when a worker could not boot)."""
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_read, False)
        os.set_blocking(wake_write, False)
        previous = signal.set_wakeup_fd(wake_write)
        handlers = {sig: signal.signal(sig, self._on_signal) for sig in _SIGNALS}
        try:
            logger.info("qiao supervisor %d starting %d workers", os.getpid(), self.config.workers)
            for _ in range(self.config.workers):
                self.spawn()
            while self.workers or not self.stopping:
                with contextlib.suppress(InterruptedError):
                    select.select([wake_read], [], [], 1.0)
                with contextlib.suppress(BlockingIOError):
                    while os.read(wake_read, 512):
                        pass
                self._handle_signals()
                self._reap()
                if self.stopping and self.workers and time.monotonic() > self.deadline:
                    for pid in list(self.workers):
                        logger.warning("Worker %d did not stop in time; killing it.", pid)
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
                    self.deadline = float("inf")
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
            signal.set_wakeup_fd(previous)
            os.close(wake_read)
            os.close(wake_write)
            for sock in self.sockets:
                sock.close()
            if self.config.uds:
                with contextlib.suppress(OSError):
                    os.unlink(self.config.uds)
        return 1 if self.failed else 0

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.pending_signals.append(signum)

    def _handle_signals(self) -> None:
        while self.pending_signals:
            signum = self.pending_signals.pop(0)
            if signum in (signal.SIGTERM, signal.SIGINT):
                self.stop()
            elif signum == signal.SIGHUP and not self.stopping:
                self.reload()

    def stop(self) -> None:
        """Ask every worker to stop gracefully."""
        if self.stopping:
            return
        self.stopping = True
        self.deadline = time.monotonic() + self.config.timeout_graceful + 5
        for pid in list(self.workers):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        # NOTE: close our copy of the listening sockets too, so that once the workers have
        # closed theirs, new connections are refused at once instead of waiting in the backlog.
        for sock in self.sockets:
            sock.close()

    def reload(self) -> None:
        """Replace the workers one at a time: start a new one, then stop an old one."""
        logger.info("SIGHUP: replacing %d workers", len(self.workers))
        for pid in [p for p in self.workers if p not in self.retiring]:
            self.spawn()
            time.sleep(0.1)  # NOTE: let the new worker reach accept() before the old one goes
            self.retiring.add(pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def _reap(self) -> None:
        while self.workers:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.workers.clear()
                return
            if pid == 0:
                return
            if self.workers.pop(pid, None) is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            process = self.processes.pop(pid, None)
            if process is not None:
                process.returncode = code  # reaped here; Popen must not wait for it again
            if pid in self.retiring:
                self.retiring.discard(pid)
                continue
            if code == WORKER_BOOT_ERROR:
                logger.error("Worker %d could not start the app; stopping the server.", pid)
                self.failed = True
                self.stop()
            elif not self.stopping:
                if code != 0:
                    logger.warning("Worker %d exited with status %d; starting another.", pid, code)
                self.spawn()

    def spawn(self) -> int:
        """Start one worker: a fresh interpreter for a target, else a fork."""
        if self.target is not None:
            return self._spawn_interpreter()
        pid = os.fork()
        if pid:
            self.workers[pid] = time.monotonic()
            return pid
        code = 0
        try:  # the child: serve, then leave without running the master's cleanup
            for sig in _SIGNALS:
                signal.signal(sig, signal.SIG_DFL)
            signal.set_wakeup_fd(-1)
            code = run_child(self.app, self.config, self.sockets)
        except BaseException:  # NOTE: the child must never return into the master's loop
            logger.exception("Worker %d failed", os.getpid())
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def _spawn_interpreter(self) -> int:
        assert self.target is not None
        fds = [sock.fileno() for sock in self.sockets]
        settings = dataclasses.asdict(self.config)
        settings.update(workers=1, fd=None, uds=None)
        spec = {
            **self.target,
            "config": settings,
            "fds": fds,
            "parent_workers": self.config.workers,
        }
        env = {**os.environ, WORKER_SPEC_ENV: json.dumps(spec)}
        process = subprocess.Popen(
            [sys.executable, "-m", "qiao.server._worker"], env=env, pass_fds=fds
        )
        self.processes[process.pid] = process
        self.workers[process.pid] = time.monotonic()
        return process.pid


def run_child(app: Any, config: ServerConfig, sockets: list[socket.socket]) -> int:
    """A worker process's life; its exit status."""
    from qiao.server import run_worker
    from qiao.server._serve import BootError

    try:
        run_worker(app, config, sockets)
    except BootError as exc:
        logger.error("Worker %d: %s", os.getpid(), exc)
        return WORKER_BOOT_ERROR
    return 0
