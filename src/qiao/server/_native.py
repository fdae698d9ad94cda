"""The native path: a qiao app answered straight from the parsed request.

No ASGI scope or messages per request: the request reads its headers and body from the
``Exchange``, the app dispatches on the event loop, and a plain response goes out in one write.
Streams and files take the ASGI adapter's tested senders, through an ASGI-shaped ``send``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator
from typing import TYPE_CHECKING, Any

from qiao._concurrency import SYNC_READ_IN_ASYNC, worker_loop
from qiao._status import NO_BODY_STATUSES
from qiao.asgi import _close_content, _finish, _send_file, _send_stream
from qiao.http.request import Request
from qiao.http.response import FILE, STREAM
from qiao.server._exchange import Exchange, status_bytes
from qiao.server._scope import http_scope, under_root

if TYPE_CHECKING:
    from qiao.app import App
    from qiao.server._http import HTTPProtocol

__all__ = ["native_handler"]


class ServerSource:
    """A ``RequestSource`` over an ``Exchange``: qiao's request reads the server's buffers."""

    __slots__ = ("_scope", "exchange", "protocol")
    environ = None

    def __init__(self, protocol: HTTPProtocol, exchange: Exchange) -> None:
        self.protocol = protocol
        self.exchange = exchange
        self._scope: dict[str, Any] | None = None

    @property
    def scope(self) -> dict[str, Any]:
        """The ASGI scope this request would have had (built on first use): qiao's server is
        an ASGI server, and batteries read the scope to know they are on an event loop."""
        if self._scope is None:
            self._scope = http_scope(self.protocol, self.exchange)
        return self._scope

    def header_pairs(self) -> list[tuple[str, str]]:
        return [
            (k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in self.exchange.headers
        ]

    def query_string(self) -> str:
        return self.exchange.query.decode("latin-1")

    def root_path(self) -> str:
        return self.protocol.state.root_path

    def scheme(self) -> str:
        return self.exchange.scheme

    def client(self) -> tuple[str, int] | None:
        return self.exchange.client

    def server_host(self) -> str:
        server = self.protocol.server
        if server is None:
            return "localhost"
        default = 443 if self.exchange.scheme == "https" else 80
        return server[0] if server[1] == default else f"{server[0]}:{server[1]}"

    async def read_async(self) -> AsyncGenerator[bytes, None]:
        exchange = self.exchange
        while chunk := await exchange.read():
            yield chunk

    def read_sync(self) -> Iterator[bytes]:
        loop = worker_loop()
        if loop is None:
            raise RuntimeError(SYNC_READ_IN_ASYNC)
        read = self.exchange.read
        while True:
            chunk = asyncio.run_coroutine_threadsafe(read(), loop).result()
            if not chunk:
                return
            yield chunk

    async def is_disconnected(self) -> bool:
        return self.exchange.disconnected

    async def wait_disconnect(self) -> None:
        await self.exchange.wait_disconnect()


async def native_handler(protocol: HTTPProtocol, exchange: Exchange) -> None:
    """Answer ``exchange`` with the qiao app."""
    app: App = protocol.state.app
    path = exchange.path
    root_path = protocol.state.root_path
    if root_path:
        path = under_root(root_path, path) or path
    source = ServerSource(protocol, exchange)
    request = Request(app, exchange.method, path, source)
    response = await app.dispatch_async(request, None)
    try:
        kind = response.body_kind
        if kind in (STREAM, FILE):
            send = _Send(protocol, exchange)
            headers = [
                (k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers._list
            ]
            if kind == FILE:
                await _send_file(app, response, send.scope, send, headers, exchange.head_only)  # type: ignore[arg-type]
            else:
                start = {"type": "http.response.start", "status": response.status_code}
                await send({**start, "headers": headers})
                if exchange.head_only or response.status_code in NO_BODY_STATUSES:
                    await _close_content(app, response.content)  # type: ignore[attr-defined]
                    await send({"type": "http.response.body", "body": b""})
                else:
                    await _send_stream(app, response, source, send)  # type: ignore[arg-type]
            return
        # PERF: the common case: the head and the body in one string, one write.
        status = response.status_code
        body = response.body
        head = "".join([f"{name}: {value}\r\n" for name, value in response.headers._list])
        if status in NO_BODY_STATUSES:
            exchange.content_length = None
            if not body:  # RFC 9110: a 204/304 describes no content of its own
                head = "".join(
                    [f"{n}: {v}\r\n" for n, v in response.headers._list if n != "content-type"]
                )
            body = b""
        else:
            head += f"content-length: {len(body)}\r\n"
            if exchange.head_only:
                body = b""
        exchange.response_started = True
        exchange.status = status
        protocol.write(
            status_bytes(status)
            + head.encode("latin-1")
            + protocol.tail_headers(exchange, False, False)
            + body
        )
        exchange.finish()
    finally:
        if response._on_close is not None or request._form is not None:
            await _finish(app, request, response)


class _Send:
    """An ASGI ``send`` over an ``Exchange``, for streamed and file responses."""

    __slots__ = ("exchange", "protocol", "scope")

    def __init__(self, protocol: HTTPProtocol, exchange: Exchange) -> None:
        self.protocol = protocol
        self.exchange = exchange
        self.scope: dict[str, Any] = {"extensions": {"http.response.pathsend": {}}}

    async def __call__(self, message: dict[str, Any]) -> None:
        exchange = self.exchange
        if exchange.disconnected:
            raise ConnectionResetError("The client disconnected.")
        kind = message["type"]
        if kind == "http.response.start":
            exchange.start(message["status"], message.get("headers", ()), None, True)
            return
        if kind == "http.response.body":
            exchange.send(message.get("body", b""), message.get("more_body", False))
        elif kind == "http.response.pathsend":
            await send_path(self.protocol, exchange, message["path"])
        await self.protocol.drain()


async def send_path(protocol: HTTPProtocol, exchange: Exchange, path: str) -> None:
    """Send a whole file as the body, with ``sendfile(2)`` where the loop can."""
    if exchange.no_body:
        exchange.send(b"", False)
        return
    loop = protocol.loop
    file = await loop.run_in_executor(protocol.state.executor, open, path, "rb")
    try:
        if exchange.chunked or protocol.transport.get_extra_info("sslcontext") is not None:
            while chunk := await loop.run_in_executor(protocol.state.executor, file.read, 65536):
                exchange.send(chunk, True)
                await protocol.drain()
        else:
            exchange.sent += await send_file_range(protocol, file, 0, exchange.content_length)
    finally:
        await loop.run_in_executor(protocol.state.executor, file.close)
    exchange.send(b"", False)


async def send_file_range(protocol: HTTPProtocol, file: Any, offset: int, count: int | None) -> int:
    """Write ``count`` bytes of ``file`` from ``offset`` (to its end when None) to the client,
    with ``sendfile(2)`` where the event loop has it; return how many were sent."""
    loop = protocol.loop
    await protocol.drain()
    try:
        return await loop.sendfile(protocol.transport, file, offset, count, fallback=True)
    except NotImplementedError:  # uvloop has no loop.sendfile: copy through Python
        pass
    executor = protocol.state.executor
    await loop.run_in_executor(executor, file.seek, offset)
    sent = 0
    while count is None or sent < count:
        size = 65536 if count is None else min(65536, count - sent)
        chunk = await loop.run_in_executor(executor, file.read, size)
        if not chunk:
            break
        protocol.write(chunk)
        sent += len(chunk)
        await protocol.drain()
    return sent
