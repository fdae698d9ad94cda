"""Limits and timeouts, backpressure, disconnects and app failures, over real sockets.

Each limit maps to one status (414, 431, 413, 503, 408), each timeout ends only the connection it
concerns, and the server keeps answering everybody else.
"""

from __future__ import annotations

import asyncio
import select
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import qiao
from qiao.server._http import HTTPProtocol

from ._wire import (
    BOOM,
    FAST,
    INTERFACES,
    PROMPT,
    abort,
    converse,
    echo_app,
    parse_responses,
    read_until,
    read_until_close,
    request,
    wait_for,
)

CLOSE = [("Host", "x"), ("Connection", "close")]
GET = request()


@pytest.fixture(params=INTERFACES)
def interface(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# -- head limits ----------------------------------------------------------------------------------
def test_request_line_too_long_is_414(serve: Any, interface: str) -> None:
    calls: list[str] = []
    with serve(echo_app(interface, calls), max_request_line=512, **FAST) as running:
        wire = converse(running, request(target="/" + "a" * 600))
        under = converse(running, request(target="/" + "a" * 400, headers=CLOSE))
    [reply] = wire.replies()
    assert (reply.status, reply.closes, wire.closed) == (414, True, True)
    assert under.statuses() == [404 if interface == "native" else 200]


BIG_HEAD = b"GET / HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 1100 + b"\r\n\r\n"


def deliveries(data: bytes) -> dict[str, list[bytes]]:
    return {
        "whole": [data],
        "byte-per-segment": [data[i : i + 1] for i in range(len(data))],
        "100-byte-segments": [data[i : i + 100] for i in range(0, len(data), 100)],
    }


@pytest.mark.parametrize("event_loop", ["asyncio", "uvloop"])
@pytest.mark.parametrize("delivery", ["whole", "byte-per-segment", "100-byte-segments"])
def test_head_too_large_is_431(serve: Any, interface: str, delivery: str, event_loop: str) -> None:
    calls: list[str] = []
    app = echo_app(interface, calls)
    with serve(app, max_header_size=1024, event_loop=event_loop, **FAST) as running:
        wire = converse(running, deliveries(BIG_HEAD)[delivery], nodelay=True)
    [reply] = wire.replies()
    assert (reply.status, reply.closes, wire.closed) == (431, True, True)
    assert calls == []


def test_head_just_under_the_limit_is_answered_byte_by_byte(serve: Any, interface: str) -> None:
    head = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-A: " + b"a" * 900 + b"\r\n\r\n"
    assert len(head) < 1024
    with serve(echo_app(interface), max_header_size=1024, **FAST) as running:
        wire = converse(running, deliveries(head)["byte-per-segment"], nodelay=True)
    assert wire.statuses() == [200]


def test_too_many_headers_is_431(serve: Any, interface: str) -> None:
    headers = [("Host", "x")] + [(f"X-{i}", "a") for i in range(12)]
    with serve(echo_app(interface), max_header_count=10, **FAST) as running:
        wire = converse(running, request(headers=headers))
        ten = converse(running, request(headers=[*CLOSE, *headers[2:10]]))
    [reply] = wire.replies()
    assert (reply.status, reply.closes, wire.closed) == (431, True, True)
    assert ten.statuses() == [200]


def test_pipelined_head_over_the_limit_is_refused(serve: Any, interface: str) -> None:
    second = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-A: " + b"a" * 1700 + b"\r\n\r\n"
    with serve(echo_app(interface), max_header_size=1024, **FAST) as running:
        wire = converse(running, GET + second)
    statuses = wire.statuses()
    assert statuses[0] == 200
    assert 200 not in statuses[1:], "a 1.7 KiB head passed a 1 KiB max_header_size"
    assert wire.closed


# -- body limits ----------------------------------------------------------------------------------
def test_declared_body_over_the_limit_is_413_before_the_app_runs(
    serve: Any, interface: str
) -> None:
    calls: list[str] = []
    app = echo_app(interface, calls, MAX_BODY_SIZE=100)
    with serve(app, max_body_size=100, timeout_body=30) as running:
        # Only the head is sent: the answer cannot wait for the body.
        wire = converse(running, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n")
        exact = converse(running, request("POST", headers=CLOSE, body=b"a" * 100))
    [reply] = wire.replies()
    assert (reply.status, reply.closes, wire.closed) == (413, True, True)
    assert wire.seconds < PROMPT
    assert [(r.status, len(r.body)) for r in exact.replies()] == [(200, 100)]
    assert calls == ["/"]


CHUNKED_101 = (
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    + b"32\r\n"
    + b"a" * 50
    + b"\r\n32\r\n"
    + b"a" * 50
    + b"\r\n1\r\na\r\n0\r\n\r\n"
)


def test_chunked_body_over_the_limit_is_413(serve: Any, interface: str) -> None:
    app = echo_app(interface, MAX_BODY_SIZE=100)
    with serve(app, max_body_size=100, **FAST) as running:
        wire = converse(running, CHUNKED_101 + GET)
        exact = converse(running, CHUNKED_101.replace(b"1\r\na\r\n", b"") + request(headers=CLOSE))
    assert wire.statuses() == [413]
    assert wire.closed
    assert [(r.status, len(r.body)) for r in exact.replies()] == [(200, 100), (200, 2)]


@pytest.mark.parametrize("kind", ["native", "asgi", "wsgi"])
def test_body_error_response_says_connection_close(serve: Any, kind: str) -> None:
    app = echo_app(kind, MAX_BODY_SIZE=100)
    with serve(app, max_body_size=100, **FAST) as running:
        wire = converse(running, CHUNKED_101)
    [reply] = wire.replies()
    assert reply.status == 413
    assert reply.closes, reply.headers
    assert wire.closed


# -- connections --------------------------------------------------------------------------------
def test_connections_over_limit_concurrency_get_503(serve: Any, interface: str) -> None:
    with serve(echo_app(interface), limit_concurrency=2, timeout_keep_alive=30) as running:
        held = [running.connect(), running.connect()]
        try:
            for sock in held:  # both are accepted and counted before the third connects
                sock.sendall(GET)
                read_until(sock, b"ok")
            wire = converse(running, GET)
        finally:
            for sock in held:
                sock.close()
        wait_for(lambda: not running.server.state.connections, what="the held connections to go")
        after = converse(running, request(headers=CLOSE))
    [reply] = wire.replies()
    assert (reply.status, reply.closes, wire.closed) == (503, True, True)
    assert after.statuses() == [200]


def test_max_keep_alive_requests_closes_after_n(serve: Any, interface: str) -> None:
    with serve(echo_app(interface), max_keep_alive_requests=3, timeout_keep_alive=30) as running:
        wire = converse(running, GET * 5)
    replies = wire.replies()
    assert [(r.status, r.closes) for r in replies] == [(200, False), (200, False), (200, True)]
    assert wire.closed


# -- timeouts -----------------------------------------------------------------------------------
@pytest.mark.parametrize("event_loop", ["asyncio", "uvloop"])
def test_slowloris_head_gets_408(serve: Any, interface: str, event_loop: str) -> None:
    calls: list[str] = []
    app = echo_app(interface, calls)
    with (
        serve(app, timeout_header=0.3, event_loop=event_loop) as running,
        running.connect() as sock,
    ):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-A: ")
        start = time.monotonic()
        # A byte every 20 ms keeps the connection busy but never finishes the head.
        while not select.select([sock], [], [], 0.02)[0]:
            assert time.monotonic() - start < PROMPT, "the trickling head was never cut off"
            sock.sendall(b"a")
        data, closed = read_until_close(sock)
        took = time.monotonic() - start
    [reply] = parse_responses(data)
    assert (reply.status, reply.closes, closed) == (408, True, True)
    assert 0.25 < took < PROMPT
    assert calls == []


def test_incomplete_head_gets_408(serve: Any, interface: str) -> None:
    with serve(echo_app(interface), timeout_header=0.3) as running, running.connect() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n")
        start = time.monotonic()
        data, closed = read_until_close(sock)
    [reply] = parse_responses(data)
    assert (reply.status, reply.closes, closed) == (408, True, True)
    assert 0.25 < time.monotonic() - start < PROMPT


def test_idle_keep_alive_connection_is_closed(serve: Any, interface: str) -> None:
    with serve(echo_app(interface), timeout_keep_alive=0.3) as running, running.connect() as sock:
        sock.sendall(GET)
        answered = read_until(sock, b"ok")
        start = time.monotonic()
        rest, closed = read_until_close(sock)
        idle = time.monotonic() - start
    assert parse_responses(answered + rest)[0].status == 200
    assert rest == b""
    assert closed
    assert 0.25 < idle < PROMPT


def test_partial_pipelined_head_gets_the_head_timeout(serve: Any) -> None:
    # NOTE: the protocol's own bookkeeping; one interface shows it.
    options = {"timeout_header": 0.3, "timeout_keep_alive": 10}
    with serve(echo_app("asgi"), **options) as running, running.connect() as sock:
        sock.sendall(GET + b"GET / HTTP/1.1\r\n")
        data, closed = read_until_close(sock, 2.0)
    assert [r.status for r in parse_responses(data)] == [200, 408]
    assert closed


def test_half_closed_client_is_closed_after_its_answer(
    serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The app answers only once the server has seen the client's EOF (a deterministic order).
    eof = threading.Event()
    original = HTTPProtocol.eof_received

    def noted(self: HTTPProtocol) -> bool | None:
        result = original(self)
        eof.set()
        return result

    monkeypatch.setattr(HTTPProtocol, "eof_received", noted)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        await receive()
        while not eof.is_set():
            await asyncio.sleep(0.005)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    with serve(app, timeout_keep_alive=10) as running:
        wire = converse(running, GET, shut_write=True, timeout=2.0)
    assert wire.statuses() == [200]
    assert wire.closed, "the server waited timeout_keep_alive on a half-closed connection"


def recorder(interface: str, seen: list[str]) -> Any:
    """An app that reads the whole body and records what reading raised (or 'disconnect')."""
    if interface == "native":
        app = qiao.App(__name__, config={"SECRET_KEY": "x"})

        @app.post("/")
        async def index(request: qiao.Request) -> bytes:
            seen.append("reading")
            try:
                return await request.abody()
            except Exception as exc:
                seen.append(type(exc).__name__)
                raise

        @app.get("/")
        def ok(request: qiao.Request) -> str:
            return "ok"

        return app
    if interface == "asgi":

        async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                raise RuntimeError("no lifespan")
            seen.append("reading")
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    seen.append("disconnect")
                    return
                if not message.get("more_body"):
                    break
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

        return asgi

    def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append("reading")
        try:
            environ["wsgi.input"].read()
        except Exception as exc:
            seen.append(type(exc).__name__)
            raise
        start_response("200 OK", [])
        return [b"ok"]

    return wsgi


PARTIAL_BODY = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc"


@pytest.mark.parametrize(
    "kind",
    [
        "native",
        "asgi",
        "wsgi",
    ],
)
def test_body_stall_gets_408_and_close(serve: Any, kind: str) -> None:
    seen: list[str] = []
    with serve(recorder(kind, seen), timeout_body=0.3) as running:
        wire = converse(running, PARTIAL_BODY)
        learnt = list(seen)
        still = converse(running, request(headers=CLOSE))
    assert wire.statuses() == [408]
    assert wire.closed
    assert 0.25 < wire.seconds < PROMPT
    assert learnt[0] == "reading"
    assert len(learnt) == 2, "the app never learnt that the body stalled"
    assert still.statuses() == [200]


def test_client_closing_mid_body_is_noticed_at_once(serve: Any, interface: str) -> None:
    seen: list[str] = []
    with serve(recorder(interface, seen), timeout_body=30) as running:
        sock = running.connect()
        sock.sendall(PARTIAL_BODY)
        wait_for(lambda: seen == ["reading"], what="the app to start reading")
        sock.close()  # a FIN: the rest of the body can never come
        wait_for(lambda: len(seen) == 2, PROMPT, "the app to see the disconnect")
        wait_for(lambda: not running.server.state.connections, what="the connection to go")
        assert converse(running, request(headers=CLOSE)).statuses() == [200]
    assert seen[1] in ("disconnect", "ClientGone")


@pytest.mark.parametrize("event_loop", ["asyncio", "uvloop"])
def test_client_resetting_mid_body_costs_only_that_connection(
    serve: Any, interface: str, event_loop: str
) -> None:
    seen: list[str] = []
    app = recorder(interface, seen)
    with serve(app, timeout_body=30, event_loop=event_loop) as running:
        sock = running.connect()
        sock.sendall(PARTIAL_BODY)
        wait_for(lambda: seen == ["reading"], what="the app to start reading")
        abort(sock)
        wait_for(lambda: len(seen) == 2, what="the app to see the disconnect")
        wait_for(lambda: not running.server.state.connections, what="the connection to go")
        after = converse(running, request(headers=CLOSE))
    assert seen[1] in ("disconnect", "ClientGone")
    assert after.statuses() == [200]


# -- a client that never reads --------------------------------------------------------------------
CHUNK = 64 * 1024
TOTAL = 64 * 1024 * 1024


class Producer:
    """A response body of TOTAL bytes that counts what was produced and notes its closing."""

    def __init__(self) -> None:
        self.produced = 0
        self.closed = threading.Event()

    def chunks(self) -> Iterator[bytes]:
        try:
            for _ in range(TOTAL // CHUNK):
                self.produced += CHUNK
                yield b"x" * CHUNK
        finally:
            self.closed.set()


def streaming_app(interface: str, producer: Producer) -> Any:
    if interface == "native":
        app = qiao.App(__name__, config={"SECRET_KEY": "x"})

        @app.get("/big")
        def big(request: qiao.Request) -> qiao.StreamingResponse:
            return qiao.StreamingResponse(producer.chunks())

        @app.get("/")
        def index(request: qiao.Request) -> str:
            return "ok"

        return app
    if interface == "asgi":

        async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                raise RuntimeError("no lifespan")
            await send({"type": "http.response.start", "status": 200, "headers": []})
            if scope["path"] != "/big":
                await send({"type": "http.response.body", "body": b"ok"})
                return
            for chunk in producer.chunks():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})

        return asgi

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [])
        return producer.chunks() if environ["PATH_INFO"] == "/big" else [b"ok"]

    return wsgi


def lazy_client(running: Any, target: str) -> socket.socket:
    """A client with a tiny receive buffer that asks for ``target`` and never reads."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((running.host, running.port))
    sock.sendall(request(target=target))
    return sock


@pytest.mark.parametrize("event_loop", ["asyncio", "uvloop"])
def test_client_that_never_reads_a_stream_is_dropped_after_timeout_write(
    serve: Any, interface: str, event_loop: str
) -> None:
    producer = Producer()
    app = streaming_app(interface, producer)
    with serve(app, timeout_write=0.5, event_loop=event_loop) as running:
        state = running.server.state
        with lazy_client(running, "/big"):
            wait_for(lambda: producer.produced > 0, what="the stream to start")
            start = time.monotonic()
            # The server stays responsive while the stream is stuck.
            assert converse(running, request(headers=CLOSE)).statuses() == [200]
            wait_for(lambda: not state.connections, 3 * PROMPT, "the stuck connection to go")
            took = time.monotonic() - start
            if interface != "native":  # see test_client_gone_mid_stream_closes_the_qiao_iterator
                wait_for(producer.closed.is_set, what="the body's iterator to be closed")
    # Memory stays bounded: the producer waited for the socket instead of running ahead.
    assert producer.produced <= 16 * 1024 * 1024, producer.produced
    assert 0.4 < took < 2 * PROMPT


def whole_body_app(interface: str, size: int) -> Any:
    body = b"x" * size
    if interface == "native":
        app = qiao.App(__name__, config={"SECRET_KEY": "x"})

        @app.get("/big")
        def big(request: qiao.Request) -> bytes:
            return body

        return app
    if interface == "asgi":

        async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                raise RuntimeError("no lifespan")
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})

        return asgi

    def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [body]

    return wsgi


def test_client_that_never_reads_a_whole_body_is_dropped_after_timeout_write(
    serve: Any, interface: str
) -> None:
    app = whole_body_app(interface, 16 * 1024 * 1024)
    with serve(app, timeout_write=0.3, timeout_keep_alive=0.3) as running:
        state = running.server.state
        with lazy_client(running, "/big"):
            wait_for(lambda: len(state.connections) == 1, what="the connection to be accepted")
            wait_for(lambda: not state.connections, 1.5, "the stuck connection to go")


# -- disconnects mid-response -----------------------------------------------------------------
def test_client_gone_mid_stream_closes_the_wsgi_iterable(serve: Any) -> None:
    producer = Producer()
    with serve(streaming_app("wsgi", producer)) as running:
        sock = running.connect()
        sock.sendall(request(target="/big"))
        read_until(sock, b"xxxx")
        abort(sock)
        wait_for(producer.closed.is_set, what="the iterable to be closed")
        wait_for(lambda: not running.server.state.connections, what="the connection to go")
        assert converse(running, request(headers=CLOSE)).statuses() == [200]
    assert producer.produced < TOTAL


def test_client_gone_mid_stream_closes_the_qiao_iterator(serve: Any) -> None:
    producer = Producer()
    release = threading.Event()
    app = qiao.App(__name__, config={"SECRET_KEY": "x", "THREADPOOL_WORKERS": 1})
    blocking: list[str] = []

    @app.get("/big")
    def big(request: qiao.Request) -> qiao.StreamingResponse:
        return qiao.StreamingResponse(producer.chunks())

    @app.get("/block")
    def block(request: qiao.Request) -> str:
        blocking.append("in")
        release.wait(2 * PROMPT)
        return "ok"

    with serve(app) as running:
        state = running.server.state
        stream = lazy_client(running, "/big")
        # The stream waits for the client to read (no next() in flight) ...
        wait_for(lambda: any(c.drain_waiters for c in list(state.connections)), what="drain")
        with running.connect() as other:
            # ... while the app's only worker thread is busy elsewhere ...
            other.sendall(request(target="/block", headers=CLOSE))
            wait_for(lambda: blocking == ["in"], what="the pool to be busy")
            abort(stream)  # ... when the client goes.
            wait_for(lambda: state.served == 1, what="the stream's exchange to end")
            release.set()
            assert parse_responses(read_until_close(other)[0])[0].status == 200
        wait_for(producer.closed.is_set, 1.0, "the stream's iterator to be closed")


def test_asgi_app_receives_http_disconnect_mid_stream(serve: Any) -> None:
    events: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        await receive()  # the (empty) body

        async def listen() -> None:
            events.append((await receive())["type"])

        listener = asyncio.ensure_future(listen())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while not listener.done():
            await send({"type": "http.response.body", "body": b"x" * 4096, "more_body": True})
            await asyncio.sleep(0.001)
        await send({"type": "http.response.body", "body": b""})

    with serve(app) as running:
        sock = running.connect()
        sock.sendall(GET)
        read_until(sock, b"xxxx")
        abort(sock)
        wait_for(lambda: events == ["http.disconnect"], what="http.disconnect")


def test_qiao_view_sees_is_disconnected(serve: Any) -> None:
    app = qiao.App(__name__, config={"SECRET_KEY": "x"})
    seen: list[str] = []

    @app.get("/wait")
    async def wait(request: qiao.Request) -> str:
        seen.append("waiting")
        deadline = time.monotonic() + 2 * PROMPT
        while time.monotonic() < deadline:
            if await request.is_disconnected():
                seen.append("gone")
                return "gone"
            await asyncio.sleep(0.005)
        seen.append("still there")
        return "timeout"

    @app.get("/")
    def index(request: qiao.Request) -> str:
        return "ok"

    with serve(app) as running:
        sock = running.connect()
        sock.sendall(request(target="/wait"))
        wait_for(lambda: seen == ["waiting"], what="the view to start")
        abort(sock)
        wait_for(lambda: len(seen) == 2, 3 * PROMPT, "the view to finish")
        assert converse(running, request(headers=CLOSE)).statuses() == [200]
    assert seen == ["waiting", "gone"]


# -- app failures -------------------------------------------------------------------------------
def test_app_exception_is_a_500_and_the_connection_goes_on(serve: Any, interface: str) -> None:
    with serve(echo_app(interface), **FAST) as running, running.connect() as sock:
        sock.sendall(request(target="/boom"))
        first = read_until(sock, b"\r\n\r\n")
        sock.sendall(request("POST", target="/boom", body=b"abc"))
        sock.sendall(request("POST", body=b"next", headers=CLOSE))
        rest, closed = read_until_close(sock)
    replies = parse_responses(first + rest)
    assert [r.status for r in replies] == [500, 500, 200]
    assert replies[2].body == b"next"
    for reply in replies[:2]:
        assert not reply.closes
        assert BOOM.encode() not in reply.body
        assert b"Traceback" not in reply.body
        assert b"RuntimeError" not in reply.body
    assert closed


def broken_app(interface: str) -> Any:
    """Each path breaks its response's framing in another way (declared length 5)."""
    bodies = {
        "/short": [b"abc"],
        "/long": [b"abcdefgh"],
        "/short-stream": [b"ab", b"c"],
        "/long-stream": [b"abcd", b"efgh"],
        "/raise-after-start": [b"ab", None],
    }

    def chunks(path: str) -> Iterator[bytes]:
        for chunk in bodies[path]:
            if chunk is None:
                raise RuntimeError(BOOM)
            yield chunk

    if interface == "native":
        app = qiao.App(__name__, config={"SECRET_KEY": "x"})

        @app.get("/<path:name>")
        def stream(request: qiao.Request, name: str) -> qiao.StreamingResponse:
            path = "/" + name
            headers = {} if path == "/raise-after-start" else {"content-length": "5"}
            return qiao.StreamingResponse(chunks(path), headers=headers)

        return app
    if interface == "asgi":

        async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                raise RuntimeError("no lifespan")
            headers = [(b"content-length", b"5")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            parts = list(bodies[scope["path"]])
            for i, part in enumerate(parts):
                if part is None:
                    raise RuntimeError(BOOM)
                more = i < len(parts) - 1
                await send({"type": "http.response.body", "body": part, "more_body": more})

        return asgi

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [("Content-Length", "5")])
        path = environ["PATH_INFO"]
        return [bodies[path][0]] if path in ("/short", "/long") else chunks(path)

    return wsgi


@pytest.mark.parametrize(
    "path", ["/short", "/long", "/short-stream", "/long-stream", "/raise-after-start"]
)
def test_broken_response_framing_closes_and_never_corrupts_the_next(
    serve: Any, interface: str, path: str
) -> None:
    with serve(broken_app(interface), **FAST) as running:
        wire = converse(running, request(target=path) + request(target="/short"))
    head, _, body = wire.data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert wire.closed
    assert wire.data.count(b"HTTP/1.1 ") == 1, "a second response followed a broken one"
    assert b"500 Internal" not in body
    if b"content-length: 5" in head.lower():
        assert body in (b"abc", b"abcde", b"ab")  # never more than declared
    else:  # chunked, cut short: no terminating zero-length chunk
        assert not body.endswith(b"0\r\n\r\n")
