"""A worker process spawned by the supervisor: ``python -m qiao.server._worker``.

It reads its target, settings and listening sockets from ``$QIAO_SERVER_WORKER``, imports the
app itself (new code after a SIGHUP) and serves until told to stop.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys

from qiao.server._config import ServerConfig
from qiao.server._workers import WORKER_BOOT_ERROR, WORKER_SPEC_ENV


def main() -> int:
    """Serve as one worker; the exit status (``WORKER_BOOT_ERROR`` when the app cannot start)."""
    from qiao.app import App
    from qiao.server import run_worker
    from qiao.server._cli import load_target
    from qiao.server._serve import BootError

    spec = json.loads(os.environ.pop(WORKER_SPEC_ENV))
    logging.basicConfig(
        level=str(spec.get("log_level", "info")).upper(),
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        app = load_target(spec["target"], spec["factory"])
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return WORKER_BOOT_ERROR
    if spec.get("debug") and isinstance(app, App):
        app.config["DEBUG"] = True
    config = ServerConfig(**spec["config"])
    config.workers = int(spec.get("parent_workers", 1))  # wsgi.multiprocess tells the truth
    sockets = [socket.socket(fileno=fd) for fd in spec["fds"]]
    try:
        run_worker(app, config, sockets)
    except BootError as exc:
        logging.getLogger("qiao.server").error("Worker %d: %s", os.getpid(), exc)
        return WORKER_BOOT_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
