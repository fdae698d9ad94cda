"""A server in one process: bind, start the app, serve connections, stop gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import random
import signal
import socket
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from qiao.server._config import ServerConfig
from qiao.server._exchange import Exchange
from qiao.server._http import Handler, HTTPProtocol
from qiao.server._threads import ThreadPool

__all__ = ["BootError", "Server", "ServerState", "bind_sockets", "detect_interface"]

logger = logging.getLogger("qiao.server")
access_logger = logging.getLogger("qiao.access")


class BootError(Exception):
    """The app could not start (its start-up failed, or the address cannot be listened on)."""


def detect_interface(app: Any, wanted: str = "auto") -> str:
    """``native`` for a qiao ``App``; else ``asgi`` or ``wsgi`` by the callable's shape.

    Raises:
        TypeError: ``native`` asked for an app that is not a qiao ``App``.
    """
    from qiao.app import App

    if wanted == "native" and not isinstance(app, App):
        raise TypeError(f"interface 'native' serves qiao apps only, not {app!r}.")
    if wanted != "auto":
        return wanted
    if isinstance(app, App):
        return "native"
    call = app if asyncio.iscoroutinefunction(app) else getattr(app, "__call__", None)  # noqa: B004
    if asyncio.iscoroutinefunction(call):
        return "asgi"
    return "wsgi"


def bind_sockets(config: ServerConfig) -> list[socket.socket]:
    """The listening sockets ``config`` names (a Unix socket, an inherited fd, or host:port).

    Raises:
        OSError: the address is in use or not allowed, with the address in the message.
    """
    if config.fd is not None:
        sock = socket.socket(fileno=config.fd)
        sock.listen(config.backlog)
        return [sock]
    if config.uds:
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(os.stat(config.uds).st_mode):
                os.unlink(config.uds)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(config.uds)
        os.chmod(config.uds, 0o660)
        sock.listen(config.backlog)
        return [sock]
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    try:
        sock = socket.create_server(
            (config.host, config.port),
            family=family,
            backlog=config.backlog,
            reuse_port=config.reuse_port,
        )
    except OSError as exc:
        where = f"{config.host}:{config.port}"
        raise OSError(exc.errno, f"cannot listen on {where}: {exc.strerror}") from None
    return [sock]


class ServerState:
    """What every connection of one server shares."""

    def __init__(self, app: Any, config: ServerConfig, loop: asyncio.AbstractEventLoop) -> None:
        self.app = app
        self.config = config
        self.loop = loop
        self.interface = detect_interface(app, config.interface)
        self.connections: set[HTTPProtocol] = set()
        self.served = 0
        self.stopping = False
        self.root_path = config.root_path.rstrip("/")
        self.server_header = config.server_header
        self.access_log = config.access_log and access_logger.isEnabledFor(logging.INFO)
        self.lifespan_state: dict[str, Any] = {}
        # file reads and other short blocking calls; the WSGI app has its own threads
        self.executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="qiao-server-io")
        self.max_body_size = config.max_body_size
        self.wsgi_threads = ThreadPool(config.wsgi_threads, loop, "qiao-wsgi")
        self.upgrade: Any = None
        self.handler: Handler
        self.max_requests = 0
        if config.max_requests:
            self.max_requests = config.max_requests + random.randint(  # noqa: S311 - not secret
                0, config.max_requests_jitter
            )
        self.on_max_requests: Any = None
        if self.interface == "native":
            from qiao.server._native import native_handler

            self.handler = native_handler
        elif self.interface == "asgi":
            from qiao.server._asgi import asgi_handler

            self.handler = asgi_handler
        else:
            from qiao.server._wsgi import wsgi_handler

            self.handler = wsgi_handler
        if self.interface in ("native", "asgi"):
            from qiao.server._websocket import upgrade

            self.upgrade = upgrade
        # NOTE: a qiao app decides which proxies it believes (TRUSTED_PROXIES); the server's
        # proxy settings apply to the ASGI and WSGI apps it serves.
        self.proxy_headers = config.proxy_headers and self.interface != "native"
        self._any_proxy = "*" in config.forwarded_allow_ips
        self._proxies = [
            ipaddress.ip_network(a, strict=False) for a in config.forwarded_allow_ips if a != "*"
        ]

    def proxy_trusted(self, client: tuple[str, int] | None) -> bool:
        if not self.proxy_headers:
            return False
        if self._any_proxy:
            return True
        if client is None:
            return False
        try:
            address = ipaddress.ip_address(client[0])
        except ValueError:
            return False
        return any(address in network for network in self._proxies)

    def apply_proxy_headers(self, exchange: Exchange) -> None:
        """Believe ``X-Forwarded-Proto`` and ``X-Forwarded-For`` from a trusted proxy."""
        proto = exchange.header(b"x-forwarded-proto")
        if proto is not None:
            value = proto.split(b",")[0].strip().lower()
            if value in (b"http", b"https"):
                exchange.scheme = value.decode("ascii")
        forwarded = exchange.header(b"x-forwarded-for")
        if forwarded is not None:
            hops = [h.strip().decode("latin-1") for h in forwarded.split(b",") if h.strip()]
            for hop in reversed(hops):  # the nearest hop no trusted proxy vouches for
                if not self.proxy_trusted((hop, 0)) or hop == hops[0]:
                    exchange.client = (hop, 0)
                    break

    def log_access(self, exchange: Exchange) -> None:
        client = exchange.client
        access_logger.info(
            '%s - "%s %s HTTP/%s" %d',
            f"{client[0]}:{client[1]}" if client else "-",
            exchange.method,
            exchange.raw_path.decode("latin-1")
            + ("?" + exchange.query.decode("latin-1") if exchange.query else ""),
            exchange.version,
            exchange.status,
        )

    def served_one(self) -> None:
        if self.max_requests and self.served >= self.max_requests and not self.stopping:
            logger.info("Served %d requests (max_requests): restarting.", self.served)
            if self.on_max_requests is not None:
                self.on_max_requests()


class Server:
    """qiao's HTTP/1.1 server for one app in this process.

    ``await server.start()`` binds and starts the app; ``await server.stop()`` stops
    gracefully; ``await server.serve()`` does both, stopping on SIGINT/SIGTERM (main thread).
    """

    def __init__(
        self, app: Any, config: ServerConfig, sockets: list[socket.socket] | None = None
    ) -> None:
        self.app = app
        self.config = config
        self.sockets = sockets
        self.state: ServerState | None = None
        self.servers: list[asyncio.AbstractServer] = []
        self.stopped = asyncio.Event()
        self._lifespan: Any = None
        self._ticker: asyncio.TimerHandle | None = None
        self._tick_interval = 1.0
        self._owns_sockets = False
        #: The graceful timeout ended requests still in flight (their threads may live on).
        self.forced = False

    @property
    def addresses(self) -> list[Any]:
        """Where the server listens (``(host, port)`` pairs or Unix paths)."""
        return [s.getsockname() for server in self.servers for s in server.sockets]  # type: ignore[attr-defined]

    async def start(self) -> None:
        """Start the app (lifespan) and listen.

        Raises:
            RuntimeError: the app's start-up failed.
            OSError: the address cannot be listened on.
        """
        loop = asyncio.get_running_loop()
        state = self.state = ServerState(self.app, self.config, loop)
        state.on_max_requests = self.request_stop
        if state.interface == "native":
            state.max_body_size = self._native_limits()
            await self.app.astartup()
        elif state.interface == "asgi":
            from qiao.server._asgi import Lifespan

            self._lifespan = Lifespan(self.app, self.config.lifespan, state.lifespan_state)
            await self._lifespan.startup()
        self._owns_sockets = self.sockets is None
        sockets = self.sockets if self.sockets is not None else bind_sockets(self.config)
        self.sockets = sockets
        self._tick_interval = min(
            1.0, max(0.05, min(self.config.timeout_keep_alive, self.config.timeout_header) / 4)
        )
        self._ticker = loop.call_later(self._tick_interval, self._tick)
        for sock in sockets:
            server = await loop.create_server(
                lambda: HTTPProtocol(state), sock=sock, backlog=self.config.backlog
            )
            self.servers.append(server)

    def _tick(self) -> None:
        """Fire the connections' deadlines that have passed (keep-alive, head timeouts)."""
        state = self.state
        assert state is not None
        now = state.loop.time()
        for connection in list(state.connections):
            deadline = connection.deadline
            if deadline and deadline <= now:
                connection.deadline = 0.0
                callback = connection.on_deadline
                if callback is not None:
                    callback()
        self._ticker = state.loop.call_later(self._tick_interval, self._tick)

    def _native_limits(self) -> int:
        # NOTE: the app's MAX_BODY_SIZE is its word on bodies; the server refuses a declared
        # Content-Length past it up front.
        self.app.compile()
        limits = self.app.limits
        config = self.config
        config.max_header_size = min(config.max_header_size, limits.max_header_size)
        config.max_header_count = min(config.max_header_count, limits.max_header_count)
        return int(limits.max_body_size)

    def request_stop(self) -> None:
        """Ask the server to stop (``serve()`` returns once it has)."""
        self.stopped.set()

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish (``timeout_graceful``), stop the app."""
        state = self.state
        if state is None:
            return
        for server in self.servers:
            server.close()
        state.stopping = True
        for connection in list(state.connections):
            connection.shutdown()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.timeout_graceful
        while state.connections and loop.time() < deadline:
            await asyncio.sleep(0.05)
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        self.forced = bool(state.connections)
        for connection in list(state.connections):
            if connection.task is not None:
                connection.task.cancel()
            transport = connection.transport
            if transport is not None:
                transport.abort()
        for server in self.servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1)
        try:
            if state.interface == "native":
                await self.app.ashutdown()
            elif self._lifespan is not None:
                await self._lifespan.shutdown()
        finally:
            state.executor.shutdown(wait=False, cancel_futures=True)
            state.wsgi_threads.shutdown()
            if self.config.uds and self._owns_sockets:  # a supervisor's socket is its own
                with contextlib.suppress(OSError):
                    os.unlink(self.config.uds)

    async def serve(self) -> None:
        """Start, serve until asked to stop (SIGINT/SIGTERM on the main thread), stop.

        Raises:
            BootError: the app's start-up failed or the address cannot be listened on.
        """
        try:
            await self.start()
        except Exception as exc:
            with contextlib.suppress(Exception):
                await self.stop()
            raise BootError(f"{type(exc).__name__}: {exc}") from exc
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self.request_stop)
                installed.append(sig)
        try:
            logger.info("qiao serving %s (%s)", _describe(self.addresses), self.state.interface)  # type: ignore[union-attr]
            await self.stopped.wait()
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            await self.stop()


def _describe(addresses: list[Any]) -> str:
    out = []
    for address in addresses:
        if isinstance(address, tuple):
            host = f"[{address[0]}]" if ":" in address[0] else address[0]
            out.append(f"http://{host}:{address[1]}")
        else:
            out.append(f"unix:{address}")
    return ", ".join(out)
