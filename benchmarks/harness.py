"""Calling the benchmark apps in-process, the way a server would (shared by ``inprocess.py``
and ``startup.py``): a fresh environ or scope per request, the body iterated and closed."""

from __future__ import annotations

import importlib
import io
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

# NOTE: kept light (no asyncio, pathlib, typing at run time beyond Any) so startup.py measures
# the framework, not the harness.
BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
if BENCH_DIR not in sys.path:
    sys.path.insert(0, BENCH_DIR)

_ERRORS = io.StringIO()


def load_app(module: str) -> Any:
    """Import ``apps.<module>`` and return its ``app``."""
    return importlib.import_module(f"apps.{module}").app


def wsgi_environ(path: str) -> dict[str, Any]:
    """An environ with the keys and headers a server and wrk send."""
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "50000",
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": _ERRORS,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def wsgi_caller(app: Any, path: str) -> Callable[[], tuple[str, bytes]]:
    """A zero-argument function answering one request: ``(status line, body)``."""
    base = wsgi_environ(path)
    result: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        result.append(status)
        return None

    def call() -> tuple[str, bytes]:
        result.clear()
        iterable = app(dict(base), start_response)
        try:
            body = b"".join(iterable)
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()
        return result[0], body

    return call


def asgi_scope(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8000")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def asgi_lifespan_startup(app: Any) -> Any:
    """Send ``lifespan.startup`` and wait for the answer; returns the lifespan task."""
    import asyncio

    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    started = asyncio.Event()

    async def receive() -> dict[str, Any]:
        return await inbox.get()

    async def send(message: dict[str, Any]) -> None:
        if message["type"].startswith("lifespan.startup"):
            started.set()

    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.ensure_future(app(scope, receive, send))
    await inbox.put({"type": "lifespan.startup"})
    await asyncio.wait(
        {task, asyncio.ensure_future(started.wait())}, timeout=10, return_when="FIRST_COMPLETED"
    )
    return task


def asgi_caller(app: Any, path: str) -> Callable[[], Any]:
    """A zero-argument coroutine function answering one request: ``(status, body)``."""
    base = asgi_scope(path)
    request = {"type": "http.request", "body": b"", "more_body": False}
    state: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        return request

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            state["status"] = message["status"]
            state["body"] = b""
        elif message["type"] == "http.response.body":
            state["body"] += message.get("body", b"")

    async def call() -> tuple[int, bytes]:
        await app(dict(base), receive, send)
        return state["status"], state["body"]

    return call
