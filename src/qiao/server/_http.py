"""The HTTP/1.1 connection: httptools (llhttp) parses, this module enforces what llhttp does
not (head size counted as bytes arrive, Host rules, transfer codings, absolute-form targets),
keeps the connection alive, answers pipelined requests in order, and applies the timeouts.

Each request becomes an ``Exchange`` handed to the interface's handler (native, ASGI or WSGI).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import httptools

from qiao.http.exceptions import HTTPException
from qiao.server._exchange import BODY_HIGH_WATER, ClientGone, Exchange, date_header, too_large
from qiao.server._refusals import (
    CHUNKED,
    HOST,
    REASON_HEAD,
    REASON_HEAD_TIMEOUT,
    REASON_HEADER_COUNT,
    REASON_HOST_INVALID,
    REASON_HOST_MISMATCH,
    REASON_HOST_MISSING,
    REASON_HOST_TWICE,
    REASON_LINE,
    REASON_MALFORMED,
    REASON_TARGET,
    REASON_TLS,
    REASON_TRANSFER_CODING,
    REASON_UPGRADE_BODY,
    REASON_VERSION,
    Refused,
    decode_path,
    error_response,
    is_websocket,
)

if TYPE_CHECKING:
    from qiao.server._serve import ServerState

__all__ = ["HTTPProtocol"]

logger = logging.getLogger("qiao.server")
Handler = Callable[["HTTPProtocol", Exchange], Coroutine[Any, Any, None]]

_IDLE, _HEAD, _BUSY = 0, 1, 2
_OWS = b" \t"


class HTTPProtocol(asyncio.Protocol):
    """One client connection speaking HTTP/1.x."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.config = state.config
        self.loop = state.loop
        self.handler: Handler = state.handler
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.parser = httptools.HttpRequestParser(self)
        self.client: tuple[str, int] | None = None
        self.server: tuple[str, int] | None = None
        self.scheme = "http"
        self.phase = _IDLE
        self.head_bytes = 0
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.parsing: Exchange | None = None  # the request whose bytes are arriving
        self.current: Exchange | None = None  # the request being answered
        self.pipeline: deque[Exchange] = deque()
        self.requests = 0
        # PERF: one deadline per connection, checked by the server's ticker, instead of a
        # loop timer made and cancelled twice per request.
        self.deadline = 0.0
        self.on_deadline: Callable[[], None] | None = None
        self.proxy_trusted = False
        self.read_paused = False
        self.write_paused = False
        self.drain_waiters: list[asyncio.Future[None]] = []
        self.closed = False
        self.task: asyncio.Task[None] | None = None
        self.upgraded = False
        self.upgrading: Exchange | None = None  # a websocket handshake waiting for llhttp
        self.raw_body_left = 0
        self.parsed_head = 0
        self.eof = False  # the client closed its side: close ours after the last answer
        self.refusal: tuple[int, str] | None = None  # answer this after the requests before it

    # -- connection events ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        state = self.state
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.client = (str(peer[0]), int(peer[1]))
        sock = transport.get_extra_info("sockname")
        if isinstance(sock, tuple):
            self.server = (str(sock[0]), int(sock[1]))
        if transport.get_extra_info("sslcontext") is not None:
            self.scheme = "https"
        # NOTE: a connection accepted while the server stops is still answered (once, with
        # Connection: close): with shared sockets, refusing it would fail a request that
        # another worker could have taken.
        if len(state.connections) >= self.config.limit_concurrency:
            self.transport.write(error_response(503, "The server is at its connection limit"))
            self.transport.close()
            self.closed = True
            return
        state.connections.add(self)
        self.proxy_trusted = state.proxy_trusted(self.client)
        self._set_timer(self.config.timeout_keep_alive, self._idle_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.state.connections.discard(self)
        self._cancel_timer()
        for exchange in (self.current, self.parsing, *self.pipeline):
            if exchange is not None:
                exchange.lost()
        self.pipeline.clear()
        for waiter in self.drain_waiters:
            if not waiter.done():
                waiter.set_exception(ConnectionResetError("The client disconnected."))
        self.drain_waiters.clear()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.on_deadline == self._write_stalled and self.deadline:
            self._set_timer(self.config.timeout_keep_alive, self._idle_timeout)
        for waiter in self.drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self.drain_waiters.clear()

    def eof_received(self) -> bool | None:
        # NOTE: a half-closed client may still read the answers it asked for; keep writing.
        # But a body still arriving never will: its reader must not wait for timeout_body.
        self.eof = True
        parsing = self.parsing
        if parsing is not None and not parsing.complete and parsing.body_error is None:
            parsing.fail(ClientGone("The client closed its side before sending the whole body."))
        return True if self.current is not None else None

    def data_received(self, data: bytes) -> None:
        if self.upgraded:
            if self.raw_body_left:
                self._raw_body(data)
            return
        if self.phase == _IDLE and self.current is None:
            self._set_timer(self.config.timeout_header, self._head_timeout)
        limit = self.config.max_header_size
        while data:
            if self.phase != _BUSY:
                self.phase = _HEAD
                room = limit - self.head_bytes
                if room <= 0:
                    self._refuse_head()
                    return
                piece, data = (data[:room], data[room:]) if len(data) > room else (data, b"")
                self.head_bytes += len(piece)
            else:
                piece, data = data, b""
            try:
                self.parser.feed_data(piece)
            except httptools.HttpParserUpgrade as upgrade:
                self._upgrade(piece[upgrade.args[0] :] + data)
                return
            except httptools.HttpParserError as exc:
                self._refuse_parse(exc, piece)
                return
            if self.closed:
                return

    # -- parser callbacks -----------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = []
        self.parsed_head = 0
        if self.phase == _IDLE:  # a pipelined request that began inside an earlier read
            self.phase = _HEAD

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > self.config.max_request_line:
            raise Refused(414, REASON_LINE)

    def on_header(self, name: bytes, value: bytes) -> None:
        if value and value[-1] in _OWS:  # RFC 9110 5.5: trailing whitespace is not the value
            value = value.rstrip(b" \t")
        headers = self.headers
        headers.append((name, value))
        if len(headers) > self.config.max_header_count:
            raise Refused(431, REASON_HEADER_COUNT)
        # NOTE: data_received counts bytes as they arrive; this counts the head parsed so far,
        # which catches a pipelined head that arrived in the same read as the request before.
        self.parsed_head += len(name) + len(value) + 4
        if self.parsed_head + len(self.url) > self.config.max_header_size:
            raise Refused(431, REASON_HEAD)

    def on_headers_complete(self) -> None:
        parser = self.parser
        version = parser.get_http_version()
        if version != "1.1" and version != "1.0":
            raise Refused(505, REASON_VERSION)
        method = parser.get_method().decode("ascii")
        host, expect_continue = self._scan_headers()
        if host is None and version == "1.1":
            raise Refused(400, REASON_HOST_MISSING)
        raw_path, query = self._target(method, host)
        exchange = Exchange(
            self,
            method,
            raw_path,
            decode_path(raw_path),
            query,
            version,
            self.headers,
            parser.should_keep_alive(),
        )
        # RFC 9110 10.1.1: never a 100 to an HTTP/1.0 client. RFC 9112 6.1: a chunked HTTP/1.0
        # message cannot be framed reliably: close after it.
        exchange.expect_continue = expect_continue and version == "1.1"
        if version == "1.0" and exchange.header(b"transfer-encoding") is not None:
            exchange.keep_alive = False
        if self.proxy_trusted:
            self.state.apply_proxy_headers(exchange)
        self.parsing = exchange
        self.phase = _BUSY
        self._cancel_timer()
        if parser.should_upgrade():
            if exchange.header(b"transfer-encoding") is not None:
                raise Refused(400, REASON_UPGRADE_BODY)
            if self.state.upgrade is not None and is_websocket(exchange):
                if self.current is not None:
                    raise Refused(400, REASON_UPGRADE_BODY)
                self.upgrading = exchange
                return
        self.requests += 1
        if self.requests >= self.config.max_keep_alive_requests:
            exchange.keep_alive = False
        if self.current is None:
            self._start(exchange)
        else:
            self.pipeline.append(exchange)
            if len(self.pipeline) >= self.config.max_pipeline:
                self._pause_reading()

    def _scan_headers(self) -> tuple[bytes | None, bool]:
        """One pass over the headers the server itself acts on: the Host (one at most), the
        transfer coding, a declared length over the body limit, ``Expect``."""
        host: bytes | None = None
        expect_continue = False
        for name, value in self.headers:
            size = len(name)  # PERF: most headers are skipped on their length alone
            if size == 4 and name.lower() == b"host":
                if host is not None:
                    raise Refused(400, REASON_HOST_TWICE)
                if not HOST.fullmatch(value):
                    raise Refused(400, REASON_HOST_INVALID)
                host = value
            elif size == 6 and name.lower() == b"expect":
                expect_continue = value.lower() == b"100-continue"
            elif size == 14 and name.lower() == b"content-length":
                if int(value) > self.state.max_body_size:  # llhttp checked: digits only
                    raise Refused(413, str(too_large(self.state.max_body_size).detail))
            elif (
                size == 17 and name.lower() == b"transfer-encoding" and not CHUNKED.fullmatch(value)
            ):
                raise Refused(501, REASON_TRANSFER_CODING)
        return host, expect_continue

    def _target(self, method: str, host: bytes | None) -> tuple[bytes, bytes]:
        """Check the target's form (and an absolute one against Host): the path and query."""
        url = self.url
        if url[:1] == b"/":
            path, _, query = url.partition(b"?")
            path = path.partition(b"#")[0]
            return path, query.partition(b"#")[0]
        if url == b"*" and method == "OPTIONS":
            return b"*", b""
        if url[:7].lower() == b"http://" or url[:8].lower() == b"https://":
            try:
                parsed = httptools.parse_url(url)
            except httptools.HttpParserInvalidURLError:
                raise Refused(400, REASON_MALFORMED) from None
            authority = parsed.host + (b":%d" % parsed.port if parsed.port else b"")
            if host is not None and authority.lower() != host.lower():
                raise Refused(400, REASON_HOST_MISMATCH)
            return parsed.path or b"/", parsed.query or b""
        raise Refused(400, REASON_TARGET)

    def on_body(self, body: bytes) -> None:
        exchange = self.parsing
        if exchange is None:
            return
        exchange.feed(body)
        if exchange.received > self.state.max_body_size and exchange.body_error is None:
            exchange.fail(too_large(self.state.max_body_size))
        if exchange.buffered > BODY_HIGH_WATER:
            self._pause_reading()

    def on_message_complete(self) -> None:
        exchange = self.parsing
        self.phase = _IDLE
        self.head_bytes = 0
        if exchange is not None:
            exchange.end()

    # -- answering ------------------------------------------------------------------------------
    def _start(self, exchange: Exchange) -> None:
        self.current = exchange
        self.task = self.loop.create_task(self._run(exchange))

    async def _run(self, exchange: Exchange) -> None:
        try:
            await self.handler(self, exchange)
        except Exception as exc:
            if isinstance(exc, OSError) and (self.closed or exchange.disconnected):
                # NOTE: a write after the client left (a stream cut short): routine, not an error
                logger.debug("Client left during %s %s: %r", exchange.method, exchange.path, exc)
            else:
                logger.exception("Error answering %s %s", exchange.method, exchange.path)
            if not exchange.response_started and not self.closed:
                exchange.keep_alive = exchange.keep_alive and exchange.complete
                self.write(error_response(500, "The server could not answer", exchange.keep_alive))
                exchange.response_started = True
            else:
                exchange.keep_alive = False
            exchange.finish()
        finally:
            if not exchange.finished:
                exchange.keep_alive = False
                exchange.finish()

    def exchange_done(self, exchange: Exchange) -> None:
        """The response to ``exchange`` is written: next request, idle, or close."""
        if exchange is not self.current:
            return
        self.current = None
        self.task = None
        state = self.state
        state.served += 1
        if state.max_requests:
            state.served_one()
        if state.access_log:
            state.log_access(exchange)
        if self.closed:
            return
        if not exchange.complete or exchange.body_error is not None:
            exchange.keep_alive = False  # an unread body would be taken for the next request
        if not exchange.keep_alive or state.stopping:
            self.close()
            return
        if self.pipeline:
            self._start(self.pipeline.popleft())
            self._resume_reading()
            return
        if self.refusal is not None:  # a broken request after the ones just answered
            self.transport.write(error_response(*self.refusal))
            self.close()
            return
        if self.eof and self.phase == _IDLE:  # the client sends nothing more
            self.close()
            return
        self._resume_reading()
        if self.write_paused:  # PERF note: a big body still queued: the client must read it
            self._set_timer(self.config.timeout_write, self._write_stalled)
        elif self.phase == _IDLE:
            self._set_timer(self.config.timeout_keep_alive, self._idle_timeout)
        elif self.phase == _HEAD:
            self._set_timer(self.config.timeout_header, self._head_timeout)

    def tail_headers(self, exchange: Exchange, has_date: bool, has_server: bool) -> bytes:
        """Date, Server and Connection headers, and the blank line that ends the head."""
        tail = b"" if has_date else date_header()
        if not has_server and self.state.server_header:
            tail += b"server: qiao\r\n"
        if not exchange.keep_alive or self.state.stopping:
            exchange.keep_alive = False
            return tail + b"connection: close\r\n\r\n"
        if exchange.version == "1.0":
            return tail + b"connection: keep-alive\r\n\r\n"
        return tail + b"\r\n"

    def write(self, data: bytes) -> None:
        if not self.closed:
            self.transport.write(data)

    async def drain(self) -> None:
        """Wait until the client has read enough of what was written (``timeout_write``).

        Raises:
            ConnectionResetError: the client went away, or stopped reading for too long.
        """
        if self.closed:
            raise ConnectionResetError("The client disconnected.")
        if not self.write_paused:
            return
        waiter = self.loop.create_future()
        self.drain_waiters.append(waiter)
        timer = self.loop.call_later(self.config.timeout_write, self._write_timeout, waiter)
        try:
            await waiter
        finally:
            timer.cancel()

    def _write_timeout(self, waiter: asyncio.Future[None]) -> None:
        if not waiter.done():
            logger.info("Client %s stopped reading the response; closing.", self.client)
            self.transport.abort()

    def want_body(self, exchange: Exchange) -> None:
        """The app waits for body bytes: read the socket again if it was paused for them."""
        if self.read_paused and len(self.pipeline) < self.config.max_pipeline:
            self._resume_reading()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._cancel_timer()
            self.transport.close()
            if self.transport.get_write_buffer_size():
                # NOTE: close() waits to flush; a client that never reads would hold the
                # connection (and its buffer) for ever.
                self._set_timer(self.config.timeout_write, self.transport.abort)

    def _write_stalled(self) -> None:
        if self.write_paused and not self.closed:
            logger.info("Client %s stopped reading the response; closing.", self.client)
            self.closed = True
            self.transport.abort()

    def shutdown(self) -> None:
        """The server stops: close an idle keep-alive connection now, and others after the
        response in flight. A connection that has sent nothing yet gets a moment to send its
        request (it was accepted to be answered)."""
        if self.current is not None:
            self.current.keep_alive = False
        elif self.requests == 0 and self.phase == _IDLE:
            self._set_timer(min(1.0, self.config.timeout_header), self.close)
        elif self.phase == _IDLE:
            self.close()

    # -- refusals, timeouts, upgrades -----------------------------------------------------------
    def _refuse(self, status: int, reason: str) -> None:
        if self.closed:
            return
        if self.current is not None and not self.current.finished:
            # NOTE: an answer is being written; a refusal now would interleave with it. A body
            # that broke off (a bad chunk) fails its reader, which answers with the refusal.
            parsing = self.parsing
            if parsing is not None and not parsing.complete and parsing.body_error is None:
                parsing.fail(HTTPException(status, reason))  # its reader answers with it
            else:
                self.refusal = (status, reason)  # a new head broke: answered in its turn
            self._pause_reading()
            return
        self.transport.write(error_response(status, reason))
        self.close()

    def _refuse_parse(self, exc: httptools.HttpParserError, piece: bytes) -> None:
        context = exc.__context__
        if isinstance(context, Refused):
            self._refuse(context.status, context.reason)
        elif self.head_bytes == len(piece) and piece[:1] == b"\x16":
            self._refuse(400, REASON_TLS)
        else:
            self._refuse(400, f"{REASON_MALFORMED}: {exc}")

    def _refuse_head(self) -> None:
        # NOTE: a request line past max_request_line was refused with 414 as it arrived.
        self._refuse(431, REASON_HEAD)

    def _upgrade(self, rest: bytes) -> None:
        """llhttp stopped at an ``Upgrade`` request's head: hand the connection to the
        websocket protocol, or answer the request as plain HTTP/1.1 and close."""
        self.upgraded = True
        exchange, self.upgrading = self.upgrading, None
        if exchange is not None:  # a websocket handshake we can take
            self.state.upgrade(self, exchange, rest)
            return
        exchange = self.parsing
        if exchange is None:
            self.close()
            return
        # NOTE: an upgrade we do not speak (h2c...). llhttp skipped the body: deliver it
        # ourselves by its Content-Length, then close (nothing after it can be trusted).
        exchange.keep_alive = False
        length = exchange.header(b"content-length")
        self.raw_body_left = int(length) if length else 0
        exchange.complete = False
        if self.raw_body_left:
            self._raw_body(rest)
        else:
            exchange.end()

    def _raw_body(self, data: bytes) -> None:
        exchange = self.parsing
        assert exchange is not None
        piece = data[: self.raw_body_left]
        self.raw_body_left -= len(piece)
        if piece:
            self.on_body(piece)
        if not self.raw_body_left:
            exchange.end()

    def _set_timer(self, delay: float, callback: Callable[[], None]) -> None:
        self.deadline = self.loop.time() + delay
        self.on_deadline = callback

    def _cancel_timer(self) -> None:
        self.deadline = 0.0

    def _idle_timeout(self) -> None:
        if self.current is None and self.phase == _IDLE:
            self.close()

    def _head_timeout(self) -> None:
        if self.phase == _HEAD:
            self._refuse(408, REASON_HEAD_TIMEOUT)

    def _pause_reading(self) -> None:
        if not self.read_paused and not self.closed:
            self.read_paused = True
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self.read_paused and not self.closed and self.refusal is None:
            parsing = self.parsing
            if parsing is not None and parsing.buffered > BODY_HIGH_WATER:
                return
            self.read_paused = False
            self.transport.resume_reading()
