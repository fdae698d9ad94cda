"""One request and its response on a connection: the body as it arrives, and the response's
framing (Content-Length checked, chunked when the length is unknown, nothing for HEAD).

The protocol (``_http.py``) fills the request side; the interfaces (native, ASGI, WSGI) read
the body and send the response through it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import deque
from collections.abc import Iterable
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

from qiao._status import NO_BODY_STATUSES, status_line
from qiao.http.exceptions import BadRequest, HTTPException, PayloadTooLarge, _StatusError

if TYPE_CHECKING:
    from qiao.server._http import HTTPProtocol

__all__ = ["BodyTimeout", "ClientGone", "Exchange", "date_header"]

logger = logging.getLogger("qiao.server")

_CONTENT_LENGTH = re.compile(rb"[0-9]{1,18}")
#: A response header name: an RFC 9110 token.
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: What a response header value must not hold: CR, LF or NUL would split the response.
_UNSAFE_VALUE = re.compile(rb"[\r\n\x00]")
#: Body bytes held for an app that has not read them yet, before the socket stops being read.
BODY_HIGH_WATER = 256 * 1024
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
#: Response header lines already checked, by (name, value): apps repeat theirs. Bounded, and
#: never the framing headers or Date/Server, whose presence must be seen on every response.
_CHECKED: dict[tuple[bytes, bytes], bytes] = {}
_CHECKED_MAX = 512
_STATUS_LINES: dict[int, bytes] = {}


class ClientGone(BadRequest):
    """The client disconnected before sending the whole body."""


class BodyTimeout(_StatusError):
    """The client stopped sending the body (``timeout_body``)."""

    status_code = 408


def status_bytes(status: int) -> bytes:
    """``b"HTTP/1.1 200 OK\\r\\n"``, cached."""
    line = _STATUS_LINES.get(status)
    if line is None:
        line = _STATUS_LINES[status] = f"HTTP/1.1 {status_line(status)}\r\n".encode("latin-1")
    return line


_date_second = 0
_date_value = b""


def date_header() -> bytes:
    """``b"date: ...\\r\\n"`` for this second (formatted once per second)."""
    global _date_second, _date_value
    now = int(time.time())
    if now != _date_second:
        _date_second = now
        _date_value = b"date: " + formatdate(now, usegmt=True).encode("ascii") + b"\r\n"
    return _date_value


class Exchange:
    """A request's parsed head and body, and its response's state."""

    __slots__ = (
        "body_error",
        "body_waiter",
        "buffered",
        "chunk_size_limit",
        "chunked",
        "chunks",
        "client",
        "complete",
        "content_length",
        "continue_sent",
        "disconnect_waiter",
        "disconnected",
        "expect_continue",
        "finished",
        "head_only",
        "headers",
        "keep_alive",
        "method",
        "no_body",
        "path",
        "protocol",
        "query",
        "raw_path",
        "received",
        "response_started",
        "scheme",
        "sent",
        "status",
        "version",
    )

    def __init__(
        self,
        protocol: HTTPProtocol,
        method: str,
        raw_path: bytes,
        path: str,
        query: bytes,
        version: str,
        headers: list[tuple[bytes, bytes]],
        keep_alive: bool,
    ) -> None:
        self.protocol = protocol
        self.method = method
        self.raw_path = raw_path
        self.path = path
        self.query = query
        self.version = version
        self.headers = headers
        self.keep_alive = keep_alive
        self.client = protocol.client
        self.scheme = protocol.scheme
        self.head_only = method == "HEAD"
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.received = 0
        self.complete = False
        self.disconnected = False
        self.body_waiter: asyncio.Future[None] | None = None
        self.body_error: HTTPException | None = None
        self.disconnect_waiter: asyncio.Future[None] | None = None
        self.expect_continue = False
        self.continue_sent = False
        self.response_started = False
        self.finished = False
        self.status = 0
        self.content_length: int | None = None
        self.chunked = False
        self.no_body = False
        self.sent = 0
        self.chunk_size_limit = 0

    # -- the request body -----------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        """Called by the protocol with body bytes as they arrive."""
        self.received += len(data)
        if self.body_error is not None:
            return  # already refused: drop the rest
        self.chunks.append(data)
        self.buffered += len(data)
        self._wake()

    def end(self) -> None:
        self.complete = True
        self._wake()

    def fail(self, error: HTTPException) -> None:
        self.body_error = error
        self.keep_alive = False  # the rest of the body cannot be told from a next request
        self.chunks.clear()
        self.buffered = 0
        self._wake()

    def lost(self) -> None:
        """The connection is gone."""
        self.disconnected = True
        self._wake()
        waiter = self.disconnect_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake(self) -> None:
        waiter = self.body_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def read(self) -> bytes:
        """The next piece of the body; ``b""`` at its end.

        Raises:
            ClientGone: the client disconnected first.
            BodyTimeout: nothing arrived for ``timeout_body`` seconds.
            PayloadTooLarge: the body passed the server's ``max_body_size``.
        """
        while not self.chunks:
            if self.body_error is not None:
                raise self.body_error
            if self.complete:
                return b""
            if self.disconnected:
                raise ClientGone("The client disconnected before sending the whole body.")
            protocol = self.protocol
            if self.expect_continue and not self.continue_sent and not self.response_started:
                self.continue_sent = True
                protocol.write(CONTINUE)
            protocol.want_body(self)
            loop = protocol.loop
            waiter = self.body_waiter = loop.create_future()
            timer = loop.call_later(protocol.config.timeout_body, _time_out, waiter)
            try:
                await waiter
            except TimeoutError:
                self.fail(BodyTimeout("The client stopped sending the request body."))
            finally:
                timer.cancel()
                self.body_waiter = None
        chunk = self.chunks.popleft()
        self.buffered -= len(chunk)
        if self.buffered < BODY_HIGH_WATER:
            self.protocol.want_body(self)
        return chunk

    async def wait_disconnect(self) -> None:
        """Return once the client has gone."""
        if self.disconnected:
            return
        if self.disconnect_waiter is None:
            self.disconnect_waiter = self.protocol.loop.create_future()
        await asyncio.shield(self.disconnect_waiter)

    # -- the response ---------------------------------------------------------------------------
    def start(
        self,
        status: int,
        headers: Iterable[tuple[bytes, bytes]],
        body: bytes | None = None,
        more: bool = False,
    ) -> None:
        """Write the head (and ``body`` when given); framing is decided here.

        ``body`` with ``more=False`` is the whole body: its length becomes the Content-Length
        when the app gave none.

        Raises:
            ValueError: a header the app gave would corrupt the response (CR/LF, a bad name
                or Content-Length); nothing has been written.
        """
        if self.response_started:
            raise RuntimeError("The response has already started.")
        parts = [status_bytes(status)]
        append = parts.append
        content_length, has_date, has_server = self._copy_headers(headers, parts)
        no_body = self.head_only or status in NO_BODY_STATUSES
        if content_length is None and status not in NO_BODY_STATUSES:
            if body is not None and not more:
                content_length = len(body)
                append(b"content-length: %d\r\n" % content_length)
            elif self.version == "1.1":
                self.chunked = not no_body
                append(b"transfer-encoding: chunked\r\n")
            else:
                self.keep_alive = False  # HTTP/1.0: the body ends when the connection does
        elif content_length is not None:
            append(b"content-length: %d\r\n" % content_length)
        self.content_length = None if no_body else content_length
        self.no_body = no_body
        self.status = status
        self.response_started = True
        parts.append(self.protocol.tail_headers(self, has_date, has_server))
        if body and not no_body:
            parts.append(self._frame(body, more))
        elif not more and self.chunked:
            parts.append(b"0\r\n\r\n")
        self.protocol.write(b"".join(parts))
        if not more:
            self.finish()

    def _copy_headers(
        self, headers: Iterable[tuple[bytes, bytes]], parts: list[bytes]
    ) -> tuple[int | None, bool, bool]:
        """Check the app's headers and copy them to ``parts``, except the framing ones.
        Returns the Content-Length and whether Date and Server were given."""
        content_length: int | None = None
        has_date = has_server = False
        checked = _CHECKED
        for name, value in headers:
            line = checked.get((name, value))
            if line is not None:  # PERF: a header this app sent before, already checked
                parts.append(line)
                continue
            lower = name.lower()
            if not _TOKEN.fullmatch(name) or _UNSAFE_VALUE.search(value):
                raise ValueError(f"Response header {name!r}: {value!r} is not valid HTTP.")
            if lower == b"content-length":
                if not _CONTENT_LENGTH.fullmatch(value) or content_length is not None:
                    raise ValueError(f"Response Content-Length {value!r} is not one number.")
                content_length = int(value)
                continue
            if lower in (b"transfer-encoding", b"connection"):
                # NOTE: framing is the server's: a chunked body is re-chunked by us, and our own
                # Connection header says whether the connection stays open.
                if lower == b"connection" and b"close" in value.lower():
                    self.keep_alive = False
                continue
            line = name + b": " + value + b"\r\n"
            if lower == b"date":
                has_date = True
            elif lower == b"server":
                has_server = True
            elif len(checked) < _CHECKED_MAX and len(value) <= 256:
                checked[(name, value)] = line
            parts.append(line)
        return content_length, has_date, has_server

    def send(self, data: bytes, more: bool) -> None:
        """Write a piece of the body (after ``start``); ``more=False`` ends the response."""
        if self.finished:
            return
        if data and not self.no_body:
            self.protocol.write(self._frame(data, more))
        elif not more and self.chunked:
            self.protocol.write(b"0\r\n\r\n")
        if not more:
            self.finish()

    def _frame(self, data: bytes, more: bool) -> bytes:
        length = self.content_length
        if length is not None:
            room = length - self.sent
            if len(data) > room:
                logger.error(
                    "The app sent more than its Content-Length of %d for %s %s; the extra "
                    "bytes were dropped and the connection closes.",
                    length,
                    self.method,
                    self.path,
                )
                data = data[:room]
                self.keep_alive = False
            self.sent += len(data)
            return data
        if self.chunked:
            frame = b"%x\r\n%b\r\n" % (len(data), data)
            return frame + b"0\r\n\r\n" if not more else frame
        return data

    def finish(self) -> None:
        """The response is complete (or abandoned): hand the connection back."""
        if self.finished:
            return
        self.finished = True
        if self.content_length is not None and self.sent < self.content_length:
            logger.error(
                "The app sent %d of its Content-Length of %d bytes for %s %s; the "
                "connection closes.",
                self.sent,
                self.content_length,
                self.method,
                self.path,
            )
            self.keep_alive = False
        self.protocol.exchange_done(self)

    def header(self, name: bytes) -> bytes | None:
        """The first value of request header ``name`` (lower-case)."""
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


def _time_out(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"Body exceeds the server's limit of {limit} bytes (max_body_size).")
