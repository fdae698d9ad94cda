"""Raw-socket helpers and tiny apps for the server's hardening, limits and fuzz tests.

Every helper speaks bytes: a test sends exactly what it means, and reads exactly what came
back, including whether the server closed the connection.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import h11

import qiao

#: How long a test waits for an answer the server should give at once.
PROMPT = 3.0

#: Server options that keep the hardening tests fast: a refusal or a timeout shows quickly.
FAST = {
    "timeout_header": 1.0,
    "timeout_keep_alive": 1.0,
    "timeout_body": 1.0,
    "timeout_write": 1.0,
}


@dataclass
class Reply:
    """One parsed response."""

    status: int
    headers: dict[str, str]
    body: bytes
    informational: list[int] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def closes(self) -> bool:
        return "close" in (self.headers.get("connection") or "").lower()


@dataclass
class Wire:
    """What came back on one connection: the raw bytes, and whether the server closed it."""

    data: bytes
    closed: bool
    seconds: float

    def replies(self, methods: Sequence[str] = ()) -> list[Reply]:
        return parse_responses(self.data, methods)

    def statuses(self, methods: Sequence[str] = ()) -> list[int]:
        return [reply.status for reply in self.replies(methods)]


def parse_responses(data: bytes, methods: Sequence[str] = ()) -> list[Reply]:
    """Every response in ``data`` (a whole connection's worth), parsed strictly by h11.

    ``methods`` names the request each response answers (``HEAD`` has no body); missing ones
    are ``GET``. Raises ``h11.RemoteProtocolError`` for anything that is not valid HTTP/1.1,
    including bytes after a response that said ``Connection: close``.
    """
    conn = h11.Connection(h11.CLIENT)
    conn.receive_data(data)
    conn.receive_data(b"")
    replies: list[Reply] = []
    while True:
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
        if conn.our_state is not h11.IDLE or not conn.trailing_data[0]:
            break
        method = methods[len(replies)] if len(replies) < len(methods) else "GET"
        conn.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
        conn.send(h11.EndOfMessage())
        reply: Reply | None = None
        informational: list[int] = []
        while True:
            event = conn.next_event()
            if isinstance(event, h11.ConnectionClosed):
                if reply is not None:  # pragma: no cover - h11 raises first
                    replies.append(reply)
                return replies
            if isinstance(event, h11.InformationalResponse):
                informational.append(event.status_code)
            elif isinstance(event, h11.Response):
                headers = {k.decode().lower(): v.decode("latin-1") for k, v in event.headers}
                reply = Reply(event.status_code, headers, b"", informational)
            elif isinstance(event, h11.Data):
                assert reply is not None
                reply.body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert reply is not None
                replies.append(reply)
                break
            else:  # pragma: no cover - NEED_DATA cannot happen after EOF
                raise AssertionError(f"unexpected h11 event {event!r}")
    return replies


def read_until_close(sock: socket.socket, timeout: float = PROMPT) -> tuple[bytes, bool]:
    """Read until the server closes (returns ``closed=True``) or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return b"".join(chunks), False
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return b"".join(chunks), False
        except ConnectionResetError:
            return b"".join(chunks), True
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)


def read_until(sock: socket.socket, marker: bytes, timeout: float = PROMPT) -> bytes:
    """Read until ``marker`` has arrived (or fail the test at ``timeout``)."""
    deadline = time.monotonic() + timeout
    data = b""
    while marker not in data:
        left = deadline - time.monotonic()
        assert left > 0, f"{marker!r} did not arrive in {timeout}s; got {data!r}"
        sock.settimeout(left)
        chunk = sock.recv(65536)
        assert chunk, f"the server closed before {marker!r}; got {data!r}"
        data += chunk
    return data


def converse(
    running: Any,
    data: bytes | Iterable[bytes],
    *,
    timeout: float = PROMPT,
    shut_write: bool = False,
    nodelay: bool = False,
) -> Wire:
    """Send ``data`` (bytes, or pieces sent one ``sendall`` each) on a new connection and read
    until the server closes or ``timeout`` passes. The client does not half-close unless
    ``shut_write``: a server that must close has to do it on its own."""
    start = time.monotonic()
    with running.connect(timeout) as sock:
        if nodelay:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pieces = [data] if isinstance(data, bytes) else data
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for piece in pieces:
                sock.sendall(piece)
        if shut_write:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)
        received, closed = read_until_close(sock, timeout)
    return Wire(received, closed, time.monotonic() - start)


def abort(sock: socket.socket) -> None:
    """Close ``sock`` with a RST (SO_LINGER 0): the server learns at once that it is gone."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()


def wait_for(condition: Callable[[], bool], timeout: float = PROMPT, what: str = "") -> None:
    """Poll ``condition`` until it holds, or fail the test at ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what or condition}"
        time.sleep(0.01)


def request(
    method: str = "GET",
    target: str = "/",
    headers: Sequence[tuple[str, str]] = (("Host", "x"),),
    body: bytes = b"",
    version: str = "1.1",
) -> bytes:
    """The bytes of one well-formed request (a Content-Length is added for a body)."""
    lines = [f"{method} {target} HTTP/{version}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# -- tiny apps: each echoes the body ("ok" for none), fails on /boom, and records its calls ------

BOOM = "secret-traceback-marker"
INTERFACES = ("native", "asgi", "wsgi")


def asgi_echo(calls: list[str]) -> Any:
    """A bare ASGI 3 app (it refuses the lifespan scope, as many do)."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan here")
        calls.append(scope["path"])
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"] == "/boom":
            raise RuntimeError(BOOM)
        start = {"type": "http.response.start", "status": 200}
        await send({**start, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body or b"ok"})

    return app


def wsgi_echo(calls: list[str]) -> Any:
    """A bare WSGI app."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        calls.append(environ["PATH_INFO"])
        body = environ["wsgi.input"].read()
        if environ["PATH_INFO"] == "/boom":
            raise RuntimeError(BOOM)
        out = body or b"ok"
        start_response(
            "200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(out)))]
        )
        return [out]

    return app


def qiao_echo(calls: list[str], **config: Any) -> qiao.App:
    """A qiao app, served natively."""
    app = qiao.App(__name__, config={"SECRET_KEY": "test-secret", **config})

    @app.route("/", methods=["GET", "POST", "HEAD", "PUT"])
    async def index(request: qiao.Request) -> bytes:
        calls.append(request.path)
        return await request.abody() or b"ok"

    @app.route("/boom", methods=["GET", "POST"])
    def boom(request: qiao.Request) -> str:
        calls.append(request.path)
        raise RuntimeError(BOOM)

    return app


def echo_app(interface: str, calls: list[str] | None = None, **config: Any) -> Any:
    """The echo app for ``interface`` (``config`` goes to the qiao app)."""
    calls = [] if calls is None else calls
    if interface == "native":
        return qiao_echo(calls, **config)
    return asgi_echo(calls) if interface == "asgi" else wsgi_echo(calls)


class Hammer:
    """Background threads sending normal keep-alive requests with httpx until stopped."""

    def __init__(self, url: str, threads: int = 8) -> None:
        self.url = url
        self.statuses: list[int] = []
        self.errors: list[BaseException] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        import httpx

        try:
            with httpx.Client(base_url=self.url, timeout=10) as client:
                while not self.stop.is_set():
                    response = client.post("/", content=b"steady")
                    ok = response.status_code == 200 and response.content == b"steady"
                    with self.lock:
                        self.statuses.append(response.status_code if ok else -1)
        except BaseException as exc:  # reported by the test
            with self.lock:
                self.errors.append(exc)

    def __enter__(self) -> Hammer:
        for thread in self.threads:
            thread.start()
        wait_for(lambda: len(self.statuses) >= 8, 10, "the hammer to get going")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(10)
