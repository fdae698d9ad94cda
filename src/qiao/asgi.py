"""The ASGI 3 adapter: http, lifespan (and a polite refusal for websockets until that battery).

``await App.__call__(scope, receive, send)`` lands here; nothing in the core knows about ASGI.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncGenerator, Iterator
from typing import TYPE_CHECKING, Any

from qiao._concurrency import SYNC_READ_IN_ASYNC, run_in_thread, worker_loop
from qiao._status import NO_BODY_STATUSES
from qiao.http.exceptions import BadRequest
from qiao.http.request import Request, headers_too_large, too_many_headers
from qiao.http.response import FILE, STREAM, FileResponse, Response, StreamingResponse

if TYPE_CHECKING:
    from qiao.app import App

__all__ = ["ClientDisconnected", "asgi_app"]

logger = logging.getLogger("qiao")
Message = dict[str, Any]


class ClientDisconnected(BadRequest):
    """The client went away while the app was reading the body."""


class ASGISource:
    """Reads headers and the body from an ASGI scope and ``receive``."""

    __slots__ = (
        "buffered",
        "disconnected",
        "done",
        "mount",
        "receive",
        "scope",
    )
    environ = None

    def __init__(self, scope: dict[str, Any], receive: Any, root_path: str) -> None:
        self.scope = scope
        self.receive = receive
        self.mount = root_path
        self.done = False
        self.disconnected = False
        self.buffered: list[bytes] | None = None

    def header_pairs(self) -> list[tuple[str, str]]:
        return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in self.scope["headers"]]

    def query_string(self) -> str:
        query: bytes = self.scope.get("query_string", b"")
        return query.decode("latin-1")

    def root_path(self) -> str:
        return self.mount

    def scheme(self) -> str:
        return self.scope.get("scheme", "http")  # type: ignore[no-any-return]

    def client(self) -> tuple[str, int] | None:
        client = self.scope.get("client")
        return (client[0], client[1]) if client else None

    def server_host(self) -> str:
        server = self.scope.get("server")
        if not server:
            return "localhost"
        host, port = server[0], server[1]
        default = 443 if self.scope.get("scheme") == "https" else 80
        return host if port in (None, default) else f"{host}:{port}"

    async def read_async(self) -> AsyncGenerator[bytes, None]:
        buffered = self.buffered
        if buffered is not None:  # chunks is_disconnected() received while peeking
            self.buffered = None
            for chunk in buffered:
                yield chunk
        while not self.done:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                self.disconnected = self.done = True
                raise ClientDisconnected("The client disconnected before sending the whole body.")
            self.done = not message.get("more_body", False)
            body = message.get("body", b"")
            if body:
                yield body

    def read_sync(self) -> Iterator[bytes]:
        loop = worker_loop()
        if loop is None:
            raise RuntimeError(SYNC_READ_IN_ASYNC)
        chunks = self.read_async()

        async def next_chunk() -> bytes:
            return await chunks.__anext__()

        while True:
            future = asyncio.run_coroutine_threadsafe(next_chunk(), loop)
            try:
                yield future.result()
            except StopAsyncIteration:
                return

    async def is_disconnected(self) -> bool:
        # Peek at one message without waiting; body chunks it brings are kept for read_async.
        if self.disconnected:
            return True
        task = asyncio.ensure_future(self.receive())
        await asyncio.sleep(0)
        if not task.done():
            task.cancel()
            return False
        message = task.result()
        if message["type"] == "http.disconnect":
            self.disconnected = self.done = True
        elif message["type"] == "http.request" and not self.done:
            self.done = not message.get("more_body", False)
            if message.get("body"):
                self.buffered = [*(self.buffered or ()), message["body"]]
        return self.disconnected

    async def wait_disconnect(self) -> None:
        """Return once the client has gone (drains any unread body first)."""
        while not self.disconnected:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                self.disconnected = True


# PERF: nearly every response has a Content-Type, and an app uses a handful of them: keep their
# encoded form. Only that field, and boundedly, so per-response values never pile up here.
_ENCODED: dict[tuple[str, str], tuple[bytes, bytes]] = {}
_ENCODED_MAX = 64


def _encode(pair: tuple[str, str]) -> tuple[bytes, bytes]:
    encoded = (pair[0].encode("latin-1"), pair[1].encode("latin-1"))
    if pair[0] == "content-type" and len(_ENCODED) < _ENCODED_MAX:
        _ENCODED[pair] = encoded
    return encoded


async def _other_scope(app: App, scope: dict[str, Any], receive: Any, send: Any) -> None:
    kind = scope["type"]
    if kind == "lifespan":
        await _lifespan(app, receive, send)
    elif kind == "websocket":
        # NOTE: no websocket routes exist yet; closing before accept makes the server send 403.
        await send({"type": "websocket.close", "code": 1008})
    else:
        raise ValueError(f"qiao cannot serve ASGI scope type {kind!r}.")


async def _ensure_started(app: App) -> None:
    """For servers that send no lifespan events: start up on the first request."""
    lock: asyncio.Lock | None = app.extensions.get("qiao.asgi.startup_lock")
    if lock is None:
        lock = app.extensions["qiao.asgi.startup_lock"] = asyncio.Lock()
    async with lock:
        if not app._started:
            await app.astartup()


async def asgi_app(app: App, scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer one ASGI connection scope with ``app``."""
    if scope["type"] != "http":
        await _other_scope(app, scope, receive, send)
        return
    if not app._started:
        await _ensure_started(app)
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :] or "/"
    source = ASGISource(scope, receive, root_path)
    request = Request(app, scope["method"], path, source)
    raw_headers = scope["headers"]
    limits = app.limits
    rejection = None
    if len(raw_headers) > limits.max_header_count:
        rejection = too_many_headers(len(raw_headers), limits.max_header_count)
    else:
        size = 0
        for name, value in raw_headers:  # PERF: a plain loop beats sum() over a generator
            size += len(name) + len(value)
        if size > limits.max_header_size:
            rejection = headers_too_large(limits.max_header_size)
    response = await app.dispatch_async(request, rejection)
    try:
        status = response.status_code
        no_body = request.method == "HEAD" or status in NO_BODY_STATUSES
        headers = [_ENCODED.get(pair) or _encode(pair) for pair in response.headers._list]
        kind = response.body_kind
        if kind == FILE:
            await _send_file(app, response, scope, send, headers, no_body)  # type: ignore[arg-type]
        elif kind == STREAM:
            await send({"type": "http.response.start", "status": status, "headers": headers})
            if no_body:
                await _close_content(app, response.content)  # type: ignore[attr-defined]
                await send({"type": "http.response.body", "body": b""})
            else:
                await _send_stream(app, response, source, send)  # type: ignore[arg-type]
        else:
            body = response.body
            if status not in NO_BODY_STATUSES:
                headers.append((b"content-length", str(len(body)).encode()))
            elif not body:  # RFC 9110: a 204/304 describes no content of its own
                headers = [h for h in headers if h[0] != b"content-type"]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": b"" if no_body else body})
    finally:
        if response._on_close is not None or request._form is not None:
            await _finish(app, request, response)


async def _finish(app: App, request: Request, response: Response) -> None:
    try:
        for callback in response._on_close or ():
            try:
                result = callback()
                if hasattr(result, "__await__"):
                    await result
            except Exception:
                logger.exception("Response close callback %r failed", callback)
    finally:
        request.close()


async def _close_content(app: App, content: Any) -> None:
    aclose = getattr(content, "aclose", None)
    if aclose is not None:
        await aclose()
        return
    close = getattr(content, "close", None)
    if close is not None:
        await run_in_thread(app.executor, close)


async def _send_stream(
    app: App, response: StreamingResponse, source: ASGISource, send: Any
) -> None:
    """Send a streamed body; stop (and close the iterator) as soon as the client goes."""

    async def produce() -> None:
        if response.is_async:
            async for chunk in response.content:  # type: ignore[union-attr]
                data = chunk.encode() if isinstance(chunk, str) else chunk
                await send({"type": "http.response.body", "body": data, "more_body": True})
        else:
            iterator = iter(response.content)  # type: ignore[arg-type]
            sentinel = object()
            pending: asyncio.Future[Any] | None = None
            try:
                while True:
                    pending = asyncio.ensure_future(
                        run_in_thread(app.executor, next, iterator, sentinel)
                    )
                    chunk = await asyncio.shield(pending)  # a cancel must not orphan next()
                    pending = None
                    if chunk is sentinel:
                        break
                    data = chunk.encode() if isinstance(chunk, str) else chunk
                    await send({"type": "http.response.body", "body": data, "more_body": True})
            finally:
                # NOTE: a generator cannot be closed while next() runs in a worker thread; wait
                # for the chunk in flight, then close it (its finally blocks run now, not at GC).
                # Shielded: the cancel that stops the stream must not cancel the close job too.
                await asyncio.shield(_close_iterator(app, iterator, pending))
        await send({"type": "http.response.body", "body": b""})

    producer = asyncio.ensure_future(produce())
    watcher = asyncio.ensure_future(source.wait_disconnect())
    try:
        await asyncio.wait({producer, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not producer.done():
            producer.cancel()
            await asyncio.gather(producer, return_exceptions=True)
            aclose = getattr(response.content, "aclose", None)
            if aclose is not None:
                await aclose()
    if producer.done() and not producer.cancelled():
        producer.result()  # re-raise a failure of the iterator for the server to log


async def _close_iterator(app: App, iterator: Any, pending: asyncio.Future[Any] | None) -> None:
    if pending is not None:
        await asyncio.wait({pending})
    close = getattr(iterator, "close", None)
    if close is not None:
        await run_in_thread(app.executor, close)


async def _send_file(
    app: App,
    response: FileResponse,
    scope: dict[str, Any],
    send: Any,
    headers: list[tuple[bytes, bytes]],
    no_body: bool,
) -> None:
    status = response.status_code
    if status != 304:
        headers.append((b"content-length", str(max(response.length, 0)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    if no_body or response.length <= 0:
        await send({"type": "http.response.body", "body": b""})
        return
    whole = response.offset == 0 and response.length == response.file_size
    if whole and "http.response.pathsend" in (scope.get("extensions") or {}):
        # PERF: the server sends the file itself (zero-copy where it can).
        await send({"type": "http.response.pathsend", "path": os.path.abspath(response.path)})
        return
    file = await run_in_thread(app.executor, open, response.path, "rb")
    try:
        await run_in_thread(app.executor, file.seek, response.offset)
        remaining = response.length
        while remaining > 0:
            chunk = await run_in_thread(
                app.executor, file.read, min(response.chunk_size, remaining)
            )
            if not chunk:
                break
            remaining -= len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": remaining > 0})
        if remaining > 0:
            await send({"type": "http.response.body", "body": b""})
    finally:
        await run_in_thread(app.executor, file.close)


async def _lifespan(app: App, receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                await app.astartup()
            except Exception as exc:
                logger.exception("Start-up failed")
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            try:
                await app.ashutdown()
            except Exception as exc:
                logger.exception("Shut-down failed")
                await send({"type": "lifespan.shutdown.failed", "message": str(exc)})
                return
            await send({"type": "lifespan.shutdown.complete"})
            return
