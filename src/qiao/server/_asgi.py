"""The ASGI 3 interface: ``http`` scopes over an ``Exchange``, and the ``lifespan`` protocol.

(``websocket`` scopes are in ``_websocket.py``.)
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from qiao.http.exceptions import HTTPException
from qiao.server._exchange import ClientGone, Exchange
from qiao.server._native import send_path
from qiao.server._refusals import error_response
from qiao.server._scope import ASGI_VERSION, http_scope

if TYPE_CHECKING:
    from qiao.server._http import HTTPProtocol

__all__ = ["Lifespan", "asgi_handler"]

logger = logging.getLogger("qiao.server")
Message = dict[str, Any]
_DISCONNECT: Message = {"type": "http.disconnect"}


class _Cycle:
    """``receive`` and ``send`` for one request."""

    __slots__ = ("body_done", "exchange", "pending", "protocol")

    def __init__(self, protocol: HTTPProtocol, exchange: Exchange) -> None:
        self.protocol = protocol
        self.exchange = exchange
        self.body_done = False
        # NOTE: the start message waits for the first body message, so a whole body sent in
        # one message gets a Content-Length instead of chunked framing.
        self.pending: tuple[int, Any] | None = None

    async def receive(self) -> Message:
        exchange = self.exchange
        if self.body_done or exchange.finished:
            # NOTE: after the body, receive() waits for the client to go (ASGI spec), so an
            # app listening for http.disconnect during a stream is woken when it happens.
            await exchange.wait_disconnect()
            return _DISCONNECT
        try:
            chunk = await exchange.read()
        except ClientGone:
            return _DISCONNECT
        except HTTPException as exc:  # the body passed max_body_size: refuse it ourselves
            if not exchange.response_started:
                exchange.keep_alive = False
                exchange.response_started = True
                self.protocol.write(error_response(exc.status_code, str(exc.detail)))
                exchange.finish()
            return _DISCONNECT
        if not chunk:
            self.body_done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        more = bool(exchange.chunks) or not exchange.complete
        if not more:
            self.body_done = True
        return {"type": "http.request", "body": chunk, "more_body": more}

    async def send(self, message: Message) -> None:
        exchange = self.exchange
        kind = message["type"]
        if exchange.disconnected:
            return  # NOTE: as uvicorn: the app learns of it from receive()
        if kind == "http.response.start":
            if exchange.response_started:
                raise RuntimeError("ASGI app sent http.response.start twice.")
            if self.pending is not None:
                raise RuntimeError("ASGI app sent http.response.start twice.")
            self.pending = (message["status"], message.get("headers") or [])
            return
        pending = self.pending
        if kind == "http.response.body":
            body = message.get("body", b"")
            more = message.get("more_body", False)
            if pending is not None:
                self.pending = None
                exchange.start(pending[0], pending[1], body, more)
            elif not exchange.response_started:
                raise RuntimeError("ASGI app sent a body before http.response.start.")
            else:
                exchange.send(body, more)
            if more:
                await self.protocol.drain()
        elif kind == "http.response.pathsend":
            if pending is None:
                raise RuntimeError("ASGI app sent http.response.pathsend without a start.")
            self.pending = None
            exchange.start(pending[0], pending[1], None, True)
            await send_path(self.protocol, exchange, message["path"])
        else:
            raise RuntimeError(f"ASGI app sent an unknown message type {kind!r}.")


async def asgi_handler(protocol: HTTPProtocol, exchange: Exchange) -> None:
    """Answer ``exchange`` with the ASGI app."""
    cycle = _Cycle(protocol, exchange)
    scope = http_scope(protocol, exchange)
    try:
        await protocol.state.app(scope, cycle.receive, cycle.send)
    except Exception:
        logger.exception("Exception in ASGI app for %s %s", exchange.method, exchange.path)
        if exchange.response_started or exchange.disconnected:
            exchange.keep_alive = False
            exchange.finish()
            return
        exchange.response_started = True
        exchange.keep_alive = exchange.keep_alive and exchange.complete
        protocol.write(error_response(500, "The app failed", exchange.keep_alive))
        exchange.finish()
        return
    gone = exchange.disconnected or isinstance(exchange.body_error, ClientGone)
    if cycle.pending is not None and not gone:  # a start, then no body
        exchange.start(cycle.pending[0], cycle.pending[1], b"", False)
    if not exchange.response_started and not gone:
        logger.error(
            "ASGI app returned without a response for %s %s", exchange.method, exchange.path
        )
        exchange.response_started = True
        protocol.write(error_response(500, "The app sent no response", exchange.keep_alive))
    elif not exchange.finished:
        exchange.keep_alive = False  # the body was left unfinished
    exchange.finish()


class Lifespan:
    """Runs the app's ``lifespan`` scope: start-up before serving, shut-down after."""

    def __init__(self, app: Any, mode: str, state: dict[str, Any]) -> None:
        self.app = app
        self.mode = mode
        self.state = state
        self.receive_queue: asyncio.Queue[Message] = asyncio.Queue()
        self.started = asyncio.Event()
        self.stopped = asyncio.Event()
        self.failed: str | None = None
        self.unsupported = False
        self.task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        """Raises:
        RuntimeError: the app reported a start-up failure (or raised, with ``lifespan=on``).
        """
        if self.mode == "off":
            return
        self.task = asyncio.get_running_loop().create_task(self._run())
        await self.receive_queue.put({"type": "lifespan.startup"})
        await self.started.wait()
        if self.failed is not None:
            raise RuntimeError(f"The app's start-up failed: {self.failed}")

    async def shutdown(self) -> None:
        if self.task is None or self.unsupported or self.task.done():
            return  # never started, or the app's lifespan already ended (a failed start-up)
        await self.receive_queue.put({"type": "lifespan.shutdown"})
        await self.stopped.wait()
        if self.failed is not None:
            logger.error("The app's shut-down failed: %s", self.failed)

    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": ASGI_VERSION, "state": self.state}
        try:
            await self.app(scope, self.receive_queue.get, self._send)
        except BaseException as exc:
            if not self.started.is_set() and self.mode == "auto":
                self.unsupported = True
                logger.debug("The app does not speak ASGI lifespan (%r); going on without.", exc)
            else:
                self.failed = self.failed or repr(exc)
                logger.exception("Exception in the app's lifespan")
        finally:
            self.started.set()
            self.stopped.set()

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        if kind in ("lifespan.startup.complete", "lifespan.startup.failed"):
            if kind.endswith("failed"):
                self.failed = message.get("message", "") or "lifespan.startup.failed"
            self.started.set()
        elif kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
            if kind.endswith("failed"):
                self.failed = message.get("message", "") or "lifespan.shutdown.failed"
            self.stopped.set()
