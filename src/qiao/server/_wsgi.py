"""The WSGI interface (PEP 3333): the app runs in the server's bounded thread pool; the event
loop keeps the sockets.

The environ is built as PEP 3333 says; ``wsgi.input`` streams a body that is still arriving
(a body already received is a ``BytesIO``); ``write()`` and iterables wait for the client to
read (backpressure); ``wsgi.file_wrapper`` files go out with ``sendfile(2)``.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

from qiao.server._exchange import Exchange
from qiao.server._native import send_file_range
from qiao.server._refusals import error_response
from qiao.server._scope import under_root

if TYPE_CHECKING:
    from qiao.server._http import HTTPProtocol

__all__ = ["FileWrapper", "wsgi_handler"]

logger = logging.getLogger("qiao.server")
_STATUS = re.compile(r"([1-9][0-9][0-9]) [^\r\n]*")


class FileWrapper:
    """``wsgi.file_wrapper``: a file the server sends with ``sendfile(2)`` when it can."""

    def __init__(self, filelike: Any, block_size: int = 65536) -> None:
        self.filelike = filelike
        self.block_size = block_size

    def __iter__(self) -> FileWrapper:
        return self

    def __next__(self) -> bytes:
        data: bytes = self.filelike.read(self.block_size)
        if not data:
            raise StopIteration
        return data

    def close(self) -> None:
        close = getattr(self.filelike, "close", None)
        if close is not None:
            close()


class _Input(io.RawIOBase):
    """``wsgi.input`` for a body still arriving: reads block the app's thread, not the loop."""

    def __init__(self, exchange: Exchange, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.exchange = exchange
        self.loop = loop
        self.buffer = b""
        self.eof = False

    def readable(self) -> bool:
        return True

    def _more(self) -> bool:
        if self.eof:
            return False
        chunk = asyncio.run_coroutine_threadsafe(self.exchange.read(), self.loop).result()
        if not chunk:
            self.eof = True
            return False
        self.buffer += chunk
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            while self._more():
                pass
            data, self.buffer = self.buffer, b""
            return data
        while len(self.buffer) < size and self._more():
            pass
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def readinto(self, target: Any) -> int:
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        while b"\n" not in self.buffer and (size is None or size < 0 or len(self.buffer) < size):
            if not self._more():
                break
        end = self.buffer.find(b"\n") + 1 or len(self.buffer)
        if size is not None and size >= 0:
            end = min(end, size)
        data, self.buffer = self.buffer[:end], self.buffer[end:]
        return data


def build_environ(protocol: HTTPProtocol, exchange: Exchange) -> dict[str, Any]:
    """The PEP 3333 environ for ``exchange``.

    SECURITY: header names holding ``_`` are dropped: ``X-Auth_User`` and ``X-Auth-User``
    would both become ``HTTP_X_AUTH_USER``, a known way to smuggle a header past a proxy.
    """
    state = protocol.state
    root_path = state.root_path
    path = unquote_to_bytes(exchange.raw_path).decode("latin-1")
    if root_path:
        inside = under_root(root_path, path)
        path = path if inside is None else inside
    server = protocol.server or ("localhost", 80)
    client = exchange.client
    environ: dict[str, Any] = {
        "REQUEST_METHOD": exchange.method,
        "SCRIPT_NAME": root_path,
        "PATH_INFO": path,
        "QUERY_STRING": exchange.query.decode("latin-1"),
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{exchange.version}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": exchange.scheme,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": state.config.workers > 1,
        "wsgi.run_once": False,
        "wsgi.file_wrapper": FileWrapper,
        "wsgi.input_terminated": True,
    }
    if client is not None:
        environ["REMOTE_ADDR"] = client[0]
        environ["REMOTE_PORT"] = str(client[1])
    for raw_name, raw_value in exchange.headers:
        name = raw_name.decode("latin-1").upper()
        value = raw_value.decode("latin-1")
        if name == "CONTENT-TYPE":
            environ["CONTENT_TYPE"] = value
            continue
        if name == "CONTENT-LENGTH":
            environ["CONTENT_LENGTH"] = value
            continue
        if "_" in name:
            continue
        key = "HTTP_" + name.replace("-", "_")
        if key in environ:
            value = environ[key] + ("; " if key == "HTTP_COOKIE" else ", ") + value
        environ[key] = value
    if exchange.complete and exchange.body_error is None:
        # PERF: the whole body is here already (the common case): no cross-thread reads.
        body = b"".join(exchange.chunks)
        exchange.chunks.clear()
        exchange.buffered = 0
        environ["wsgi.input"] = io.BytesIO(body)
    else:
        environ["wsgi.input"] = _Input(exchange, protocol.loop)
    return environ


class _Response:
    """The app thread's side of the response: ``start_response``, ``write()``, the iterable."""

    def __init__(self, protocol: HTTPProtocol, exchange: Exchange) -> None:
        self.protocol = protocol
        self.exchange = exchange
        self.loop = protocol.loop
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] | None = None
        self.started = False  # the head has gone out

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None:
            if self.started:
                raise exc_info[1].with_traceback(exc_info[2])
        elif self.headers is not None:
            raise RuntimeError("start_response was called twice without exc_info.")
        match = _STATUS.fullmatch(status) if isinstance(status, str) else None
        if match is None:
            raise ValueError(f"WSGI status {status!r} is not '<3 digits> <reason>'.")
        self.status = int(match.group(1))
        self.headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in headers]
        return self.write

    def write(self, data: bytes) -> None:
        """PEP 3333's ``write()``, and how the iterable's chunks go out (blocks: backpressure)."""
        if self.headers is None:
            raise RuntimeError("write() before start_response().")
        if not data and self.started:
            return
        asyncio.run_coroutine_threadsafe(self._send(data, True), self.loop).result()

    async def _send(self, data: bytes, more: bool) -> None:
        exchange = self.exchange
        if exchange.disconnected:
            raise ConnectionResetError("The client disconnected.")
        if not self.started:
            self.started = True
            assert self.headers is not None
            exchange.start(self.status, self.headers, data, more)
        else:
            exchange.send(data, more)
        if more:
            await self.protocol.drain()

    def run(self, app: Any, environ: dict[str, Any]) -> tuple[str, Any]:
        """Call the app on this (worker) thread. Returns ``("done", None)`` when the response
        was written from here, ``("whole", body)`` for a one-piece body the loop writes, or
        ``("file", wrapper)`` for a file the loop sends."""
        iterable: Iterable[bytes] = app(environ, self.start_response)
        hand_over = False
        try:
            if isinstance(iterable, FileWrapper) and hasattr(iterable.filelike, "fileno"):
                hand_over = True
                return "file", iterable
            if isinstance(iterable, list | tuple) and len(iterable) <= 1 and not self.started:
                body = bytes(iterable[0]) if iterable else b""
                return "whole", body
            for chunk in iterable:
                if chunk:
                    self.write(chunk)
            if self.headers is None:
                raise RuntimeError("The WSGI app returned without calling start_response.")
            asyncio.run_coroutine_threadsafe(self._send(b"", False), self.loop).result()
            return "done", None
        finally:
            close = getattr(iterable, "close", None)
            if close is not None and not hand_over:
                close()


async def wsgi_handler(protocol: HTTPProtocol, exchange: Exchange) -> None:
    """Answer ``exchange`` with the WSGI app, run in the thread pool."""
    state = protocol.state
    environ = build_environ(protocol, exchange)
    response = _Response(protocol, exchange)
    try:
        kind, value = await state.wsgi_threads.run(response.run, state.app, environ)
    except ConnectionResetError:
        exchange.keep_alive = False
        exchange.finish()
        return
    except Exception as exc:
        error = exchange.body_error
        if not response.started and not exchange.response_started and not exchange.disconnected:
            exchange.response_started = True
            if error is not None and (error is exc or error is exc.__context__):
                protocol.write(error_response(error.status_code, str(error.detail)))
                exchange.keep_alive = False
            else:
                logger.exception("Exception in WSGI app for %s %s", exchange.method, exchange.path)
                exchange.keep_alive = exchange.keep_alive and exchange.complete
                protocol.write(error_response(500, "The app failed", exchange.keep_alive))
        else:
            logger.exception("Exception in WSGI app for %s %s", exchange.method, exchange.path)
            exchange.keep_alive = False
        exchange.finish()
        return
    if kind == "whole":
        assert response.headers is not None
        if not exchange.disconnected:
            exchange.start(response.status, response.headers, value, False)
    elif kind == "file":
        await _send_wrapper(protocol, exchange, response, value)
    exchange.finish()


async def _send_wrapper(
    protocol: HTTPProtocol, exchange: Exchange, response: _Response, wrapper: FileWrapper
) -> None:
    loop = protocol.loop
    executor = protocol.state.executor
    file = wrapper.filelike
    try:
        assert response.headers is not None
        exchange.start(response.status, response.headers, None, True)
        if exchange.no_body:
            exchange.send(b"", False)
            return
        if exchange.content_length is not None and not exchange.chunked:
            offset = await loop.run_in_executor(executor, file.tell)
            exchange.sent += await send_file_range(protocol, file, offset, exchange.content_length)
        else:
            while chunk := await loop.run_in_executor(executor, file.read, wrapper.block_size):
                exchange.send(chunk, True)
                await protocol.drain()
        exchange.send(b"", False)
    finally:
        await loop.run_in_executor(executor, wrapper.close)
