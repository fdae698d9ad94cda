"""``qiao serve`` (production) and ``qiao run`` (development, with auto-reload)."""

from __future__ import annotations

import argparse
import importlib
import inspect
import logging
import os
import signal
import subprocess
import sys
from typing import Any

__all__ = ["add_commands", "cmd_run", "cmd_serve"]

#: (flag, ServerConfig field, type, help) for the options ``qiao serve`` passes through.
_OPTIONS: tuple[tuple[str, str, Any, str], ...] = (
    ("--host", "host", str, "address to listen on (127.0.0.1)"),
    ("--port", "port", int, "port to listen on (8000)"),
    ("--uds", "uds", str, "listen on this Unix domain socket instead"),
    ("--fd", "fd", int, "serve an already-bound listening socket (systemd)"),
    ("--backlog", "backlog", int, "listen backlog (2048)"),
    ("--workers", "workers", int, "worker processes (1)"),
    ("--threads", "wsgi_threads", int, "threads per worker that run a WSGI app (32)"),
    ("--timeout-keep-alive", "timeout_keep_alive", float, "idle seconds between requests (5)"),
    ("--timeout-graceful", "timeout_graceful", float, "seconds in-flight requests get (30)"),
    ("--limit-concurrency", "limit_concurrency", int, "connections per worker before 503s"),
    ("--max-requests", "max_requests", int, "restart a worker after this many requests"),
    ("--max-requests-jitter", "max_requests_jitter", int, "random extra for --max-requests"),
    ("--root-path", "root_path", str, "the prefix the app is mounted under by a proxy"),
    ("--interface", "interface", str, "auto, native, asgi or wsgi (auto)"),
    ("--loop", "loop", str, "auto, asyncio or uvloop (auto)"),
    ("--lifespan", "lifespan", str, "ASGI lifespan: auto, on or off (auto)"),
    ("--ws-max-size", "ws_max_size", int, "largest websocket message in bytes (16 MiB)"),
)


def add_commands(sub: Any) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """Add ``serve`` and ``run`` to the ``qiao`` command's subparsers."""
    serve = sub.add_parser("serve", help="serve an app with qiao's own server (production)")
    serve.add_argument("target", nargs="?", help="the app as module:attribute")
    serve.add_argument("--factory", action="store_true", help="call the target to get the app")
    serve.add_argument("--debug", action="store_true", help="turn a qiao app's DEBUG on")
    for flag, field, kind, text in _OPTIONS:
        serve.add_argument(flag, dest=field, type=kind, default=None, help=text)
    serve.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=None)
    serve.add_argument("--proxy-headers", action=argparse.BooleanOptionalAction, default=None)
    serve.add_argument(
        "--forwarded-allow-ips", default=None, help="comma-separated proxies to believe"
    )
    serve.add_argument("--log-level", default="info", help="debug, info, warning, error")
    serve.set_defaults(func=cmd_serve)
    run = sub.add_parser("run", help="start a development server with auto-reload")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.add_argument("--reload", action=argparse.BooleanOptionalAction, default=True)
    run.set_defaults(func=cmd_run)
    return serve, run


def load_target(target: str, factory: bool) -> Any:
    """Import ``module:attribute``; call it when ``factory``, or when it is a function that
    takes no arguments (an app factory: ASGI and WSGI apps take three and two).

    Raises:
        SystemExit: the module or attribute cannot be loaded, with the reason.
    """
    from qiao.app import App

    sys.path.insert(0, os.getcwd())
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        app = getattr(module, attr or "app")
    except (ImportError, AttributeError) as exc:
        raise SystemExit(f"qiao: cannot load app {target!r}: {exc}") from None
    except Exception as exc:  # NOTE: an error in the user's module (SyntaxError is one too)
        raise SystemExit(f"qiao: cannot load app {target!r}: {type(exc).__name__}: {exc}") from None
    if factory or (inspect.isfunction(app) and _no_required_parameters(app)):
        app = app()
    if not callable(app) and not isinstance(app, App):
        raise SystemExit(f"qiao: {target!r} is not an app (not callable).")
    return app


def _no_required_parameters(func: Any) -> bool:
    return all(
        p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        for p in inspect.signature(func).parameters.values()
    )


def cmd_serve(args: argparse.Namespace) -> int:
    from qiao.app import App
    from qiao.cli import find_app
    from qiao.http.exceptions import ImproperlyConfigured
    from qiao.server import ServerConfig, serve
    from qiao.server._serve import BootError, bind_sockets

    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    target = args.target or args.app or os.environ.get("QIAO_APP")
    app = load_target(target, args.factory) if target else find_app(None)[0]
    if args.debug and isinstance(app, App):
        app.config["DEBUG"] = True
    options = {field: getattr(args, field) for _, field, _, _ in _OPTIONS}
    options["access_log"] = args.access_log
    options["proxy_headers"] = args.proxy_headers
    if args.forwarded_allow_ips is not None:
        options["forwarded_allow_ips"] = [
            ip.strip() for ip in args.forwarded_allow_ips.split(",") if ip.strip()
        ]
    try:
        config = ServerConfig.build(app.config if isinstance(app, App) else None, **options)
        if (config.workers > 1 or config.max_requests) and target:
            from qiao.server._workers import Supervisor

            spec = {
                "target": target,
                "factory": args.factory,
                "debug": args.debug,
                "log_level": args.log_level,
            }
            return Supervisor(app, config, bind_sockets(config), spec).run()
        serve(app, **options)
    except ImproperlyConfigured as exc:
        raise SystemExit(f"qiao: {exc}") from None
    except BootError as exc:
        raise SystemExit(f"qiao: the server could not start: {exc}") from None
    except OSError as exc:
        raise SystemExit(f"qiao: {exc}") from None
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Development: the app with DEBUG on, restarted when a ``.py`` file here changes."""
    from qiao.cli import find_app

    _, target = find_app(getattr(args, "app", None))  # fail now if it won't load
    command = [
        sys.executable,
        "-m",
        "qiao",
        "serve",
        target,
        "--host",
        args.host,
        "--port",
        str(args.port),
        "--timeout-graceful",
        "3",
    ]
    if os.environ.get("QIAO_DEBUG", "true").lower() not in ("0", "false", "no"):
        command.append("--debug")
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)  # SIGTERM stops the child too
    try:
        return _run_child(command, args.reload, target, args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _run_child(command: list[str], reload: bool, target: str, args: argparse.Namespace) -> int:
    if not reload:
        child = subprocess.Popen(command)  # noqa: S603 - our own interpreter and arguments
        try:
            return child.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            _stop(child)
    try:
        import watchfiles
    except ImportError:
        raise SystemExit("qiao run --reload needs watchfiles: pip install 'qiao[dev]'") from None
    print(f"qiao run: serving {target} on http://{args.host}:{args.port} (reloads on change)")
    child = subprocess.Popen(command)  # noqa: S603 - our own interpreter and arguments
    try:
        for changes in watchfiles.watch(os.getcwd(), watch_filter=watchfiles.PythonFilter()):
            names = ", ".join(sorted({os.path.relpath(path) for _, path in changes}))
            print(f"qiao run: {names} changed; restarting")
            _stop(child)
            child = subprocess.Popen(command)  # noqa: S603
    except KeyboardInterrupt:
        pass
    finally:
        _stop(child)
    return 0


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
