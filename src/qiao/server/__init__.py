"""qiao's own HTTP/1.1 server: a native fast path for qiao apps, and any ASGI 3 or WSGI app.

``qiao serve module:app`` on the command line; ``serve(app)`` from Python; ``await
serve_async(app)`` (or ``Server``) inside a running event loop. See docs/server.md.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
from typing import Any

from qiao.server._config import ServerConfig
from qiao.server._serve import Server, bind_sockets

__all__ = ["Server", "ServerConfig", "serve", "serve_async"]


def _config_for(app: Any, options: dict[str, Any]) -> ServerConfig:
    from qiao.app import App

    app_config = app.config if isinstance(app, App) else None
    return ServerConfig.build(app_config, **options)


def serve(app: Any, **options: Any) -> None:
    """Serve ``app`` until SIGINT/SIGTERM; blocks.

    Args:
        app: a qiao ``App`` (served natively), an ASGI 3 app or a WSGI app.
        options: any ``ServerConfig`` field (``host``, ``port``, ``workers``, ...); these
            override the app's ``SERVER_*`` settings.

    Raises:
        ImproperlyConfigured: a bad option (``qiao.E601``).
        OSError: the address cannot be listened on.
    """
    config = _config_for(app, options)
    if config.workers > 1 or config.max_requests:
        from qiao.server._workers import Supervisor

        sockets = bind_sockets(config)
        raise SystemExit(Supervisor(app, config, sockets).run())
    run_worker(app, config, None)


def run_worker(app: Any, config: ServerConfig, sockets: Any) -> None:
    """Run one server process to completion on the best event loop available."""
    factory = _loop_factory(config.loop)
    server = Server(app, config, sockets)
    # PERF: the app and its modules live as long as this process: move them out of the
    # collector's generations, so full collections (a latency spike each) walk only what
    # requests make. (Not in Server.start: an embedding process's objects are its own.)
    gc.freeze()
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(server.serve())
    if server.forced:
        # NOTE: a sync view still running in a thread would keep the process alive past
        # timeout_graceful (Python joins its worker threads at exit): leave now.
        logging.getLogger("qiao.server").warning(
            "Requests still running after timeout_graceful were abandoned."
        )
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _loop_factory(choice: str) -> Any:
    if choice == "asyncio" or (choice == "auto" and sys.platform == "win32"):
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise SystemExit(
                "qiao serve --loop uvloop needs uvloop: pip install 'qiao[speed]'"
            ) from None
        return None
    return uvloop.new_event_loop


async def serve_async(app: Any, **options: Any) -> None:
    """Serve ``app`` on the running event loop until the task is cancelled (embedding).

    Signal handlers are installed only on the main thread. Options as for ``serve``.
    """
    await Server(app, _config_for(app, options)).serve()
