"""Fixtures for qiao's own server: a real server on a real socket, in a thread of this process
(``running``), and raw-socket helpers for byte-level tests."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import qiao
from qiao.server import Server, ServerConfig

START_TIMEOUT = 10.0


class Running:
    """A server running in a background thread: ``host``, ``port``, ``url``, ``server``."""

    def __init__(self, server: Server, loop: asyncio.AbstractEventLoop) -> None:
        self.server = server
        self.loop = loop
        host, port = server.addresses[0][:2]
        self.host: str = host
        self.port: int = port
        self.url = f"http://{host}:{port}"

    def connect(self, timeout: float = 5.0) -> socket.socket:
        """A fresh client socket connected to the server."""
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        return sock

    def exchange(self, data: bytes, timeout: float = 5.0) -> bytes:
        """Send ``data`` on a new connection, half-close, and read until the server closes."""
        with self.connect(timeout) as sock:
            sock.sendall(data)
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)
            return read_all(sock)


def read_all(sock: socket.socket) -> bytes:
    """Everything until the peer closes (or the socket's timeout passes)."""
    chunks = []
    with contextlib.suppress(TimeoutError, ConnectionResetError):
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


class ResponseReader:
    """Reads responses one after another from a socket, strictly, with h11 as the client.

    h11 refuses any response that is not valid HTTP/1.1, so every test that reads through it
    also checks the server's framing. ``method`` tells h11 when a response has no body (HEAD).
    """

    def __init__(self, sock: socket.socket) -> None:
        import h11

        self.h11 = h11
        self.sock = sock
        self.conn = h11.Connection(h11.CLIENT)

    def next(self, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
        h11 = self.h11
        conn = self.conn
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
        conn.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
        conn.send(h11.EndOfMessage())
        status = 0
        headers: dict[str, str] = {}
        body = b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(self.sock.recv(65536))
                continue
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                status = event.status_code
                headers = {k.decode().lower(): v.decode("latin-1") for k, v in event.headers}
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                return status, headers, body


def read_response(sock: socket.socket, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """One response from a fresh ``sock`` (use ``ResponseReader`` for several)."""
    return ResponseReader(sock).next(method)


@contextlib.contextmanager
def running_server(app: Any, **options: Any) -> Iterator[Running]:
    """Serve ``app`` on 127.0.0.1 (a free port) in a thread until the block ends."""
    options.setdefault("port", 0)
    options.setdefault("access_log", False)
    options.setdefault("timeout_graceful", 2.0)
    loop_kind = options.pop("event_loop", "asyncio")
    config_source = app.config if isinstance(app, qiao.App) else None
    config = ServerConfig.build(config_source, **options)
    loop = (
        __import__("uvloop").new_event_loop() if loop_kind == "uvloop" else asyncio.new_event_loop()
    )
    server = Server(app, config)
    started = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.start())
        except BaseException as exc:  # reported to the test below
            failure.append(exc)
            started.set()
            return
        started.set()
        loop.run_until_complete(server.stopped.wait())
        loop.run_until_complete(server.stop())
        loop.run_until_complete(loop.shutdown_asyncgens())

    thread = threading.Thread(target=run, name="qiao-test-server", daemon=True)
    thread.start()
    if not started.wait(START_TIMEOUT):
        pytest.fail("qiao's server did not start in time")
    if failure:
        thread.join(5)
        loop.close()
        raise failure[0]
    try:
        yield Running(server, loop)
    finally:
        loop.call_soon_threadsafe(server.request_stop)
        thread.join(15)
        if not thread.is_alive():
            loop.close()


@pytest.fixture
def serve() -> Callable[..., contextlib.AbstractContextManager[Running]]:
    """``with serve(app, **options) as running:`` — qiao's server for ``app`` in a thread."""
    return running_server


@pytest.fixture
def qiao_app(new_app: Callable[..., qiao.App]) -> qiao.App:
    """A small qiao app: ``/`` (text), ``/echo`` (POST echoes the body), ``/json``."""
    app = new_app()

    @app.get("/")
    def index(request: qiao.Request) -> str:
        return "hello"

    @app.post("/echo")
    async def echo(request: qiao.Request) -> bytes:
        return await request.abody()

    @app.post("/sync-echo")
    def sync_echo(request: qiao.Request) -> bytes:
        return request.body()

    @app.get("/json")
    def json_view(request: qiao.Request) -> dict[str, int]:
        return {"a": 1}

    return app
