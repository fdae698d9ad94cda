"""WebSockets (RFC 6455) as the ASGI ``websocket`` scope, on the ``websockets`` library's
sans-I/O protocol (framing, fragmentation, close codes, permessage-deflate, max size).

The HTTP protocol parses the handshake request; ``upgrade()`` swaps the connection over to a
``WebSocketProtocol`` and feeds it that request again, so ``websockets`` validates it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING, Any

from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol

from qiao.server._exchange import Exchange
from qiao.server._scope import http_scope

if TYPE_CHECKING:
    from qiao.server._http import HTTPProtocol
    from qiao.server._serve import ServerState

__all__ = ["upgrade"]

logger = logging.getLogger("qiao.server")
Message = dict[str, Any]
#: Close codes an app may not send (RFC 6455 section 7.4.1: reserved, or not for the wire).
_BAD_CLOSE_CODES = frozenset({1004, 1005, 1006, 1015})


def upgrade(http: HTTPProtocol, exchange: Exchange, rest: bytes) -> bool:
    """Take the connection over for a websocket handshake; ``rest`` is what followed it."""
    ws = WebSocketProtocol(http.state, http, exchange)
    http.state.connections.discard(http)
    http._cancel_timer()
    http.transport.set_protocol(ws)
    ws.start(http.transport, _handshake_bytes(exchange) + rest)
    return True


def _handshake_bytes(exchange: Exchange) -> bytes:
    target = exchange.raw_path + (b"?" + exchange.query if exchange.query else b"")
    lines = [b"GET " + target + b" HTTP/1.1"]
    lines += [name + b": " + value for name, value in exchange.headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


class WebSocketProtocol(asyncio.Protocol):
    """One websocket connection, served to an ASGI app."""

    deadline = 0.0  # the server's ticker skips it: pings time websockets out

    def __init__(self, state: ServerState, http: HTTPProtocol, exchange: Exchange) -> None:
        config = state.config
        self.state = state
        self.loop = state.loop
        self.scope = http_scope(http, exchange, "websocket")
        subprotocols: list[str] = []
        for name, value in exchange.headers:
            if name.lower() == b"sec-websocket-protocol":
                subprotocols += [p.strip() for p in value.decode("latin-1").split(",") if p.strip()]
        self.scope["subprotocols"] = subprotocols
        self.scope["extensions"] = {"websocket.http.response": {}}
        extensions = [ServerPerMessageDeflateFactory()] if config.ws_per_message_deflate else []
        self.conn = ServerProtocol(
            extensions=extensions, max_size=config.ws_max_size or None, logger=logger
        )
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.queue: asyncio.Queue[Message] = asyncio.Queue()
        self.request: Any = None
        self.response: Any = None  # the 101 websockets prepared, sent on accept
        self.accepted = False
        self.closed = False  # the transport is gone
        self.close_sent = False
        self.disconnect_sent = False
        self.frames: list[bytes] = []
        self.text = False
        self.read_paused = False
        self.writable = asyncio.Event()
        self.writable.set()
        self.ping_timer: asyncio.TimerHandle | None = None
        self.pong_timer: asyncio.TimerHandle | None = None
        self.ping_payload: bytes | None = None
        self.http_response_started = False
        self.http_status = 0
        self.http_headers: Any = []
        self.http_body: list[bytes] = []
        self.task: asyncio.Task[None] | None = None

    def start(self, transport: asyncio.Transport, data: bytes) -> None:
        self.transport = transport
        self.state.connections.add(self)  # type: ignore[arg-type]
        self.data_received(data)

    # -- transport events -----------------------------------------------------------------------
    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.state.connections.discard(self)
        self._stop_pings()
        self._disconnect(1006 if not self.close_sent else 1005)
        self.writable.set()

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    def data_received(self, data: bytes) -> None:
        self.conn.receive_data(data)
        self._handle_events()
        self._flush()
        if self.conn.parser_exc is not None and not self.closed:
            close = self.conn.close_sent
            self.close_sent = True
            self._disconnect(close.code if close is not None else 1002)
            self.transport.close()

    def eof_received(self) -> bool | None:
        self.conn.receive_eof()
        self._flush()
        return None

    def shutdown(self) -> None:
        """The server stops: close with 1012 (service restart)."""
        if self.accepted and not self.close_sent and not self.closed:
            self.close_sent = True
            self.conn.send_close(1012)
            self._flush()
            self._disconnect(1012)
        elif not self.accepted and not self.closed:
            self.transport.close()

    # -- events from the client -----------------------------------------------------------------
    def _handle_events(self) -> None:
        for event in self.conn.events_received():
            if isinstance(event, Request):
                self.request = event
                self.response = self.conn.accept(event)
                if self.response.status_code != 101:
                    # websockets found the handshake invalid: answer it, never call the app
                    self.conn.send_response(self.response)
                    self.close_sent = True
                    self._flush()
                    self.transport.close()
                    return
                self.queue.put_nowait({"type": "websocket.connect"})
                self.task = self.loop.create_task(self._run())
                continue
            assert isinstance(event, Frame)
            opcode = event.opcode
            if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
                self.text = opcode is Opcode.TEXT
                self.frames = [bytes(event.data)]
                if event.fin:
                    self._deliver()
            elif opcode is Opcode.CONT:
                self.frames.append(bytes(event.data))
                if event.fin:
                    self._deliver()
            elif opcode is Opcode.PONG:
                if self.ping_payload is not None and bytes(event.data) == self.ping_payload:
                    self.ping_payload = None
                    if self.pong_timer is not None:
                        self.pong_timer.cancel()
                        self.pong_timer = None
                    self._schedule_ping()
            elif opcode is Opcode.CLOSE:
                received = self.conn.close_rcvd
                code = received.code if received is not None else 1005
                reason = received.reason if received is not None else ""
                self._disconnect(code, reason)
                self.close_sent = True  # websockets answered the close already
                self._flush()
                self.transport.close()

    def _deliver(self) -> None:
        frames = self.frames
        data = frames[0] if len(frames) == 1 else b"".join(frames)  # PERF: most are one frame
        self.frames = []
        if self.close_sent:
            return
        if self.text:
            try:
                message: Message = {"type": "websocket.receive", "text": data.decode()}
            except UnicodeDecodeError:  # websockets validates UTF-8; belt and braces
                self._fail(1007, "invalid UTF-8")
                return
        else:
            message = {"type": "websocket.receive", "bytes": data}
        self.queue.put_nowait(message)
        if self.queue.qsize() > 16 and not self.read_paused:
            self.read_paused = True  # NOTE: the app is slower than the client: stop reading
            self.transport.pause_reading()

    def _disconnect(self, code: int, reason: str = "") -> None:
        if not self.disconnect_sent:
            self.disconnect_sent = True
            self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})

    def _fail(self, code: int, reason: str) -> None:
        self.conn.fail(code, reason)
        self.close_sent = True
        self._flush()
        self._disconnect(code, reason)
        self.transport.close()

    def _flush(self) -> None:
        data = self.conn.data_to_send()
        if data and not self.closed:
            self.transport.write(b"".join(data))

    # -- pings ----------------------------------------------------------------------------------
    def _schedule_ping(self) -> None:
        interval = self.state.config.ws_ping_interval
        if interval > 0 and not self.closed:
            self.ping_timer = self.loop.call_later(interval, self._ping)

    def _ping(self) -> None:
        self.ping_timer = None
        if self.closed or self.close_sent:
            return
        self.ping_payload = os.urandom(4)
        self.conn.send_ping(self.ping_payload)
        self._flush()
        timeout = self.state.config.ws_ping_timeout
        if timeout > 0:
            self.pong_timer = self.loop.call_later(timeout, self._pong_timeout)

    def _pong_timeout(self) -> None:
        self.pong_timer = None
        if not self.closed and not self.close_sent:
            self._fail(1011, "keepalive ping timeout")

    def _stop_pings(self) -> None:
        for timer in (self.ping_timer, self.pong_timer):
            if timer is not None:
                timer.cancel()
        self.ping_timer = self.pong_timer = None

    # -- the app --------------------------------------------------------------------------------
    async def _run(self) -> None:
        try:
            await self.state.app(self.scope, self.receive, self.send)
        except Exception as exc:
            if isinstance(exc, OSError) and (self.closed or self.close_sent):
                # NOTE: a send after the client's close (allowed by ASGI to raise): routine
                logger.debug("Websocket app stopped by the close: %r", exc)
                return
            logger.exception("Exception in ASGI websocket app for %s", self.scope["path"])
            if self.close_sent or self.closed:
                return
            if not self.accepted and not self.http_response_started:
                self._reject(500, b"")
            else:
                self._fail(1011, "")
            return
        if self.close_sent or self.closed:
            return
        if not self.accepted and not self.http_response_started:
            self._reject(500, b"")
        else:
            self.close_sent = True
            self.conn.send_close(1000)
            self._flush()
            self.transport.close()

    async def receive(self) -> Message:
        message = await self.queue.get()
        if self.read_paused and self.queue.qsize() <= 4 and not self.closed:
            self.read_paused = False
            self.transport.resume_reading()
        return message

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if self.closed:
            if kind in ("websocket.send", "websocket.close"):
                raise ConnectionResetError("The websocket client disconnected.")
            return
        if not self.accepted:
            self._before_accept(kind, message)
            return
        if kind == "websocket.send":
            if self.close_sent:
                raise ConnectionResetError("The websocket is closing.")
            if message.get("text") is not None:
                self.conn.send_text(message["text"].encode())
            else:
                self.conn.send_binary(message.get("bytes") or b"")
            self._flush()
            await self.writable.wait()
        elif kind == "websocket.close":
            if not self.close_sent:
                code = int(message.get("code") or 1000)
                if code in _BAD_CLOSE_CODES or not (1000 <= code < 5000):
                    raise ValueError(f"ASGI websocket app sent close code {code}, not allowed.")
                self.close_sent = True
                self.conn.send_close(code, message.get("reason") or "")
                self._flush()
                self._disconnect(code, message.get("reason") or "")
                self.transport.close()
        else:
            raise RuntimeError(f"ASGI websocket app sent an unknown message {kind!r}.")

    def _before_accept(self, kind: str, message: Message) -> None:
        if self.http_response_started:  # the websocket.http.response extension
            if kind != "websocket.http.response.body":
                raise RuntimeError(f"ASGI websocket app sent {kind!r} during an HTTP response.")
            self.http_body.append(message.get("body", b""))
            if not message.get("more_body", False):
                self._reject(self.http_status, b"".join(self.http_body), self.http_headers)
        elif kind == "websocket.accept":
            self._accept(message)
        elif kind == "websocket.close":
            self._reject(403, b"")  # ASGI: a close before accept is a 403
        elif kind == "websocket.http.response.start":
            self.http_response_started = True
            self.http_status = int(message["status"])
            self.http_headers = message.get("headers") or []
        else:
            raise RuntimeError(f"ASGI websocket app sent {kind!r} before accepting.")

    def _accept(self, message: Message) -> None:
        response = self.response
        subprotocol = message.get("subprotocol")
        if subprotocol:
            response.headers["Sec-WebSocket-Protocol"] = subprotocol
        for name, value in message.get("headers") or []:
            response.headers[name.decode("latin-1")] = value.decode("latin-1")
        self.conn.send_response(response)
        self._flush()
        self.accepted = True
        self._schedule_ping()

    def _reject(self, status: int, body: bytes, headers: Any = ()) -> None:
        if self.closed or self.close_sent:
            return
        response = self.conn.reject(status, body.decode("utf-8", "replace"))
        pairs = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in headers]
        for name in {name.lower() for name, _ in pairs}:
            if name in response.headers:  # the app's headers replace websockets' defaults
                del response.headers[name]
        for name, value in pairs:
            response.headers[name] = value
        self.conn.send_response(response)
        self._flush()
        self.close_sent = True
        self._disconnect(1006)
        self.transport.close()
