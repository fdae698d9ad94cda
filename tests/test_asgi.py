"""ASGI 3: the app driven with hand-written scope/receive/send messages, and through
``httpx.ASGITransport``; lifespan, websockets, pathsend, disconnects, threads and middleware."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypercorn.utils import is_asgi
from uvicorn.config import Config
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

import qiao

pytestmark = pytest.mark.anyio
Message = dict[str, Any]
TIMEOUT = 5.0
HERE = Path(__file__).resolve()
FILE_BYTES = HERE.read_bytes()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# -- a hand-driven ASGI connection -----------------------------------------------------------------
def http_scope(
    method: str = "GET",
    path: str = "/",
    *,
    headers: list[tuple[bytes, bytes]] | None = None,
    query_string: bytes = b"",
    root_path: str = "",
    extensions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query_string,
        "root_path": root_path,
        "headers": [(b"host", b"testserver"), *(headers or [])],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    if extensions is not None:
        scope["extensions"] = extensions
    return scope


class Connection:
    """One ASGI connection: what the app receives (``inbox``) and what it sent (``sent``)."""

    def __init__(self, scope: dict[str, Any]) -> None:
        self.scope = scope
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.sent: list[Message] = []
        self._sent_changed = asyncio.Event()

    async def receive(self) -> Message:
        return await self.inbox.get()

    async def send(self, message: Message) -> None:
        self.sent.append(message)
        self._sent_changed.set()

    def send_body(self, *chunks: bytes) -> None:
        """Queue the request body as ``http.request`` messages (one empty one for no body)."""
        parts = chunks or (b"",)
        for index, chunk in enumerate(parts):
            more = index < len(parts) - 1
            self.inbox.put_nowait({"type": "http.request", "body": chunk, "more_body": more})

    def disconnect(self) -> None:
        self.inbox.put_nowait({"type": "http.disconnect"})

    async def wait_sent(self, count: int) -> None:
        """Wait until the app has sent at least ``count`` messages."""
        async with asyncio.timeout(TIMEOUT):
            while len(self.sent) < count:
                self._sent_changed.clear()
                await self._sent_changed.wait()

    @property
    def start(self) -> Message:
        assert self.sent[0]["type"] == "http.response.start"
        return self.sent[0]

    @property
    def headers(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.start["headers"]}

    @property
    def body(self) -> bytes:
        bodies = [m for m in self.sent[1:] if m["type"] == "http.response.body"]
        assert bodies, f"no body messages in {self.sent}"
        assert not bodies[-1].get("more_body", False), "the last body message says more_body"
        assert all(m.get("more_body", False) for m in bodies[:-1])
        return b"".join(m.get("body", b"") for m in bodies)


async def call(app: Any, scope: dict[str, Any], *chunks: bytes) -> Connection:
    """Run one request through ``app`` with ``chunks`` as its body; return the connection."""
    connection = Connection(scope)
    connection.send_body(*chunks)
    async with asyncio.timeout(TIMEOUT):
        await app(scope, connection.receive, connection.send)
    return connection


class Lifespan:
    """Drive the ASGI lifespan protocol by hand."""

    def __init__(self, app: Any) -> None:
        self.connection = Connection({"type": "lifespan", "asgi": {"version": "3.0"}})
        self.task = asyncio.ensure_future(
            app(self.connection.scope, self.connection.receive, self.connection.send)
        )

    async def say(self, message_type: str) -> Message:
        """Send ``message_type``, return the app's answer."""
        count = len(self.connection.sent) + 1
        self.connection.inbox.put_nowait({"type": message_type})
        await self.connection.wait_sent(count)
        return self.connection.sent[-1]

    async def finished(self) -> None:
        async with asyncio.timeout(TIMEOUT):
            await self.task


# -- the app under test ----------------------------------------------------------------------------
class Events:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.threads: dict[str, int] = {}
        self.blocked = threading.Event()  # a sync generator is blocked inside next()
        self.release = threading.Event()  # lets it go on


async def until(predicate: Callable[[], object], what: str) -> None:
    """Poll ``predicate()`` (which may read state set by other threads) with a deadline."""
    deadline = time.monotonic() + TIMEOUT
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {TIMEOUT}s waiting for {what}.")
        await asyncio.sleep(0.002)


def build_app(new_app: Callable[..., qiao.App], events: Events, **config: Any) -> qiao.App:
    app = new_app(**config)

    @app.get("/hello/<name>")
    async def hello(request: qiao.Request, name: str) -> dict[str, str]:
        return {"hello": name}

    @app.get("/text")
    def text(request: qiao.Request) -> qiao.Response:
        return qiao.PlainTextResponse("some text")

    @app.get("/empty")
    def empty(request: qiao.Request) -> tuple[str, int]:
        return "", 204

    @app.get("/threads/sync")
    def sync_thread(request: qiao.Request) -> dict[str, Any]:
        return {"thread": threading.get_ident(), "name": threading.current_thread().name}

    @app.get("/threads/async")
    async def async_thread(request: qiao.Request) -> dict[str, Any]:
        return {"thread": threading.get_ident()}

    @app.post("/echo/async")
    async def echo_async(request: qiao.Request) -> qiao.Response:
        return qiao.Response(await request.abody(), content_type="application/octet-stream")

    @app.post("/echo/sync")
    def echo_sync(request: qiao.Request) -> qiao.Response:
        events.threads["echo"] = threading.get_ident()
        return qiao.Response(request.body(), content_type="application/octet-stream")

    @app.post("/wrong-body-api")
    async def wrong_body_api(request: qiao.Request) -> qiao.Response:
        return qiao.Response(request.body())

    @app.post("/form/sync")
    def form_sync(request: qiao.Request) -> dict[str, Any]:
        form = request.form()
        return {"fields": dict(form.fields), "files": {k: f.size for k, f in form.files.items()}}

    @app.post("/json/async")
    async def json_async(request: qiao.Request) -> dict[str, Any]:
        return {"got": await request.ajson()}

    @app.get("/file")
    def file(request: qiao.Request) -> qiao.FileResponse:
        return qiao.FileResponse(HERE)

    @app.get("/stream/endless-async")
    async def endless_async(request: qiao.Request) -> qiao.StreamingResponse:
        async def ticks() -> AsyncIterator[bytes]:
            try:
                while True:
                    yield b"tick\n"
                    await asyncio.sleep(0.001)
            finally:
                events.items.append("async generator closed")

        return qiao.StreamingResponse(ticks())

    @app.get("/stream/blocking-sync")
    def blocking_sync(request: qiao.Request) -> qiao.StreamingResponse:
        def ticks() -> Iterator[bytes]:
            try:
                for _ in range(3):
                    yield b"tock\n"
                # A blocking producer (a socket, a slow query) that has nothing to send yet.
                events.blocked.set()
                events.release.wait(TIMEOUT)
                yield b"late\n"
            finally:
                events.items.append("sync generator closed")

        return qiao.StreamingResponse(ticks())

    @app.get("/stream/finite-sync")
    def finite_sync(request: qiao.Request) -> qiao.StreamingResponse:
        def parts() -> Iterator[str]:
            try:
                for part in ("x", "y", "z"):
                    events.threads["finite sync"] = threading.get_ident()
                    yield part
            finally:
                events.items.append("finite sync closed")

        return qiao.StreamingResponse(parts(), content_type="text/plain")

    @app.get("/stream/finite")
    async def finite(request: qiao.Request) -> qiao.StreamingResponse:
        async def parts() -> AsyncIterator[str]:
            try:
                for part in ("a", "b", "c"):
                    yield part
            finally:
                events.items.append("finite closed")

        return qiao.StreamingResponse(parts(), content_type="text/plain")

    @app.get("/watch")
    async def watch(request: qiao.Request) -> dict[str, bool]:
        return {"disconnected": await _poll_disconnect(request)}

    @app.post("/watch-after-body")
    async def watch_after_body(request: qiao.Request) -> dict[str, Any]:
        body = await request.abody()
        return {"body": body.decode(), "disconnected": await _poll_disconnect(request)}

    @app.get("/boom")
    async def boom(request: qiao.Request) -> str:
        raise ZeroDivisionError("the bridge fell down")

    @app.get("/whoami")
    def whoami(request: qiao.Request) -> dict[str, Any]:
        return {
            "remote_addr": request.remote_addr,
            "scheme": request.scheme,
            "path": request.path,
            "url": request.url,
            "url_for": request.url_for("whoami"),
        }

    return app


async def _poll_disconnect(request: qiao.Request, timeout: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await request.is_disconnected():
            return True
        await asyncio.sleep(0.005)
    return False


@pytest.fixture
def events() -> Iterator[Events]:
    recorded = Events()
    yield recorded
    recorded.release.set()  # never leave a worker thread blocked


@pytest.fixture
async def app(new_app: Callable[..., qiao.App], events: Events) -> AsyncIterator[qiao.App]:
    """The test app; its thread pool is shut down after the test."""
    application = build_app(new_app, events, DEBUG=True)
    yield application
    await application.ashutdown()


@pytest.fixture
async def client(app: qiao.App) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client calling ``app`` through ``httpx.ASGITransport`` (no lifespan)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


# -- http, by hand ---------------------------------------------------------------------------------
async def test_http_scope_gets_a_start_and_one_body_message(app: qiao.App) -> None:
    connection = await call(app, http_scope("GET", "/hello/x"))
    assert [m["type"] for m in connection.sent] == ["http.response.start", "http.response.body"]
    assert connection.start["status"] == 200
    assert connection.start["headers"] == [
        (b"content-type", b"application/json"),
        (b"content-length", b"13"),
    ]
    assert connection.body == b'{"hello":"x"}'


async def test_head_sends_content_length_and_an_empty_body(app: qiao.App) -> None:
    connection = await call(app, http_scope("HEAD", "/text"))
    assert connection.start["status"] == 200
    assert connection.headers["content-length"] == "9"
    assert connection.body == b""


async def test_empty_204_from_a_view_has_no_content_type_or_length(app: qiao.App) -> None:
    connection = await call(app, http_scope("GET", "/empty"))
    assert connection.start["status"] == 204
    assert connection.start["headers"] == []
    assert connection.body == b""


async def test_request_body_arrives_over_several_messages(app: qiao.App) -> None:
    connection = await call(app, http_scope("POST", "/echo/async"), b"ab", b"", b"cd", b"ef")
    assert connection.start["status"] == 200
    assert connection.body == b"abcdef"


async def test_root_path_is_stripped_from_the_path_and_kept_in_urls(app: qiao.App) -> None:
    scope = http_scope("GET", "/mount/whoami", root_path="/mount")
    connection = await call(app, scope)
    answer = httpx.Response(200, content=connection.body).json()
    assert answer["path"] == "/whoami"
    assert answer["url_for"] == "/mount/whoami"
    assert answer["url"] == "http://testserver/mount/whoami"


async def test_unknown_scope_type_is_an_error(app: qiao.App) -> None:
    connection = Connection({"type": "webtransport"})
    with pytest.raises(ValueError, match="cannot serve ASGI scope type 'webtransport'"):
        await app(connection.scope, connection.receive, connection.send)


# -- threads ---------------------------------------------------------------------------------------
async def test_sync_views_run_in_the_thread_pool_and_async_views_on_the_loop(
    app: qiao.App,
) -> None:
    loop_thread = threading.get_ident()
    sync = httpx.Response(200, content=(await call(app, http_scope("GET", "/threads/sync"))).body)
    asyn = httpx.Response(200, content=(await call(app, http_scope("GET", "/threads/async"))).body)
    assert sync.json()["thread"] != loop_thread
    assert sync.json()["name"].startswith("qiao-sync")
    assert asyn.json()["thread"] == loop_thread


async def test_sync_view_reads_the_body_with_the_sync_api(app: qiao.App, events: Events) -> None:
    connection = await call(app, http_scope("POST", "/echo/sync"), b"one ", b"two ", b"three")
    assert connection.start["status"] == 200
    assert connection.body == b"one two three"
    assert events.threads["echo"] != threading.get_ident()


async def test_async_view_using_the_sync_body_api_gets_a_clear_500(
    app: qiao.App, caplog: pytest.LogCaptureFixture
) -> None:
    connection = await call(app, http_scope("POST", "/wrong-body-api"), b"data")
    assert connection.start["status"] == 500
    answer = httpx.Response(500, content=connection.body).json()
    assert answer["exception"].startswith(
        "RuntimeError: A sync body read (request.body(), json(), form(), stream()) ran inside a "
        "coroutine; in async views and async hooks use await request.abody()"
    )
    [record] = [r for r in caplog.records if r.name == "qiao"]
    assert record.exc_info is not None
    assert record.exc_info[0] is RuntimeError


async def test_sync_streaming_iterator_runs_in_the_thread_pool(
    app: qiao.App, events: Events
) -> None:
    connection = await call(app, http_scope("GET", "/stream/finite-sync"))
    assert connection.body == b"xyz"
    assert events.items == ["finite sync closed"]
    assert events.threads["finite sync"] != threading.get_ident()


# -- lifespan --------------------------------------------------------------------------------------
async def test_lifespan_runs_sync_and_async_hooks_in_order(
    new_app: Callable[..., qiao.App],
) -> None:
    app = new_app()
    ran: list[str] = []

    @app.on_startup
    def startup_sync() -> None:
        ran.append("startup-sync")

    @app.on_startup
    async def startup_async() -> None:
        ran.append("startup-async")

    @app.on_shutdown
    async def shutdown_async() -> None:
        ran.append("shutdown-async")

    @app.on_shutdown
    def shutdown_sync() -> None:
        ran.append("shutdown-sync")

    lifespan = Lifespan(app)
    assert await lifespan.say("lifespan.startup") == {"type": "lifespan.startup.complete"}
    assert ran == ["startup-sync", "startup-async"]
    assert await lifespan.say("lifespan.shutdown") == {"type": "lifespan.shutdown.complete"}
    await lifespan.finished()
    assert ran == ["startup-sync", "startup-async", "shutdown-async", "shutdown-sync"]


async def test_lifespan_startup_failure_is_reported(
    new_app: Callable[..., qiao.App], caplog: pytest.LogCaptureFixture
) -> None:
    app = new_app()

    @app.on_startup
    async def connect() -> None:
        raise ConnectionError("no database at db:5432")

    lifespan = Lifespan(app)
    answer = await lifespan.say("lifespan.startup")
    assert answer == {"type": "lifespan.startup.failed", "message": "no database at db:5432"}
    await lifespan.finished()
    assert [r.getMessage() for r in caplog.records if r.name == "qiao"] == ["Start-up failed"]


async def test_lifespan_shutdown_failure_is_reported(
    new_app: Callable[..., qiao.App], caplog: pytest.LogCaptureFixture
) -> None:
    app = new_app()

    @app.on_shutdown
    def close_pool() -> None:
        raise RuntimeError("pool already closed")

    lifespan = Lifespan(app)
    assert await lifespan.say("lifespan.startup") == {"type": "lifespan.startup.complete"}
    answer = await lifespan.say("lifespan.shutdown")
    assert answer == {"type": "lifespan.shutdown.failed", "message": "pool already closed"}
    await lifespan.finished()
    assert [r.getMessage() for r in caplog.records if r.name == "qiao"] == ["Shut-down failed"]


async def test_a_bad_config_fails_lifespan_startup_with_the_check_id(
    new_app: Callable[..., qiao.App], caplog: pytest.LogCaptureFixture
) -> None:
    app = new_app(SECRET_KEY=None)
    lifespan = Lifespan(app)
    answer = await lifespan.say("lifespan.startup")
    assert answer["type"] == "lifespan.startup.failed"
    assert answer["message"].startswith("qiao.E001: SECRET_KEY is not set")
    await lifespan.finished()


async def test_without_lifespan_the_first_request_starts_the_app_once(
    new_app: Callable[..., qiao.App],
) -> None:
    app = new_app()
    started: list[str] = []

    @app.on_startup
    async def startup() -> None:
        await asyncio.sleep(0.01)
        started.append("started")

    @app.get("/")
    async def index(request: qiao.Request) -> dict[str, int]:
        return {"startups": len(started)}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        answers = await asyncio.gather(*(client.get("/") for _ in range(5)))
    assert [a.json() for a in answers] == [{"startups": 1}] * 5
    assert started == ["started"]
    await app.ashutdown()


# -- websockets ------------------------------------------------------------------------------------
async def test_websocket_scope_is_closed_not_accepted(app: qiao.App) -> None:
    connection = Connection(
        {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "path": "/hello/x",
            "headers": [],
            "subprotocols": [],
        }
    )
    connection.inbox.put_nowait({"type": "websocket.connect"})
    async with asyncio.timeout(TIMEOUT):
        await app(connection.scope, connection.receive, connection.send)
    assert connection.sent == [{"type": "websocket.close", "code": 1008}]


# -- files and pathsend ----------------------------------------------------------------------------
PATHSEND = {"http.response.pathsend": {}}


async def test_whole_file_uses_pathsend_when_the_server_offers_it(app: qiao.App) -> None:
    connection = await call(app, http_scope("GET", "/file", extensions=PATHSEND))
    assert connection.start["status"] == 200
    assert connection.headers["content-length"] == str(len(FILE_BYTES))
    assert connection.sent[1:] == [{"type": "http.response.pathsend", "path": str(HERE)}]
    assert os.path.isabs(connection.sent[1]["path"])


async def test_file_is_sent_in_body_messages_without_pathsend(app: qiao.App) -> None:
    connection = await call(app, http_scope("GET", "/file", extensions={}))
    assert all(m["type"] == "http.response.body" for m in connection.sent[1:])
    assert connection.body == FILE_BYTES


async def test_file_range_is_sent_as_body_even_with_pathsend(app: qiao.App) -> None:
    scope = http_scope("GET", "/file", headers=[(b"range", b"bytes=5-14")], extensions=PATHSEND)
    connection = await call(app, scope)
    assert connection.start["status"] == 206
    assert connection.headers["content-range"] == f"bytes 5-14/{len(FILE_BYTES)}"
    assert connection.body == FILE_BYTES[5:15]


async def test_file_304_and_head_send_no_body(app: qiao.App) -> None:
    first = await call(app, http_scope("GET", "/file", extensions=PATHSEND))
    etag = first.headers["etag"].encode()
    not_modified = await call(
        app, http_scope("GET", "/file", headers=[(b"if-none-match", etag)], extensions=PATHSEND)
    )
    head = await call(app, http_scope("HEAD", "/file", extensions=PATHSEND))
    assert not_modified.start["status"] == 304
    assert "content-length" not in not_modified.headers
    assert not_modified.body == b""
    assert head.start["status"] == 200
    assert head.headers["content-length"] == str(len(FILE_BYTES))
    assert head.body == b""


# -- streaming and disconnects ---------------------------------------------------------------------
async def test_finite_stream_ends_with_more_body_false(app: qiao.App, events: Events) -> None:
    connection = await call(app, http_scope("GET", "/stream/finite"))
    assert connection.body == b"abc"
    assert "content-length" not in connection.headers
    assert events.items == ["finite closed"]


async def test_endless_async_stream_stops_and_closes_when_the_client_disconnects(
    app: qiao.App, events: Events
) -> None:
    connection = Connection(http_scope("GET", "/stream/endless-async"))
    connection.send_body()
    task = asyncio.ensure_future(app(connection.scope, connection.receive, connection.send))
    await connection.wait_sent(4)
    connection.disconnect()
    async with asyncio.timeout(TIMEOUT):
        await task
    assert events.items == ["async generator closed"]
    sent_after = len(connection.sent)
    await asyncio.sleep(0.01)
    assert len(connection.sent) == sent_after  # nothing is sent after the disconnect
    assert all(m["body"] == b"tick\n" for m in connection.sent[1:])


async def test_blocking_sync_stream_is_closed_without_error_when_the_client_disconnects(
    app: qiao.App, events: Events
) -> None:
    connection = Connection(http_scope("GET", "/stream/blocking-sync"))
    connection.send_body()
    task = asyncio.ensure_future(app(connection.scope, connection.receive, connection.send))
    await until(events.blocked.is_set, "the generator to block inside next()")
    connection.disconnect()
    # The app may finish at once or wait for the in-flight next(); give it a moment, then let
    # the generator go on either way.
    await asyncio.wait({task}, timeout=0.2)
    events.release.set()
    async with asyncio.timeout(TIMEOUT):
        await task  # no exception for the server to log: a client leaving is not an app error
    await until(lambda: events.items, "the generator's finally block")
    assert events.items == ["sync generator closed"]
    assert [m.get("body") for m in connection.sent[1:]] == [b"tock\n"] * 3


async def test_is_disconnected_after_reading_the_body(app: qiao.App) -> None:
    connection = Connection(http_scope("POST", "/watch-after-body"))
    connection.send_body(b"hi")
    connection.disconnect()
    async with asyncio.timeout(TIMEOUT):
        await app(connection.scope, connection.receive, connection.send)
    answer = httpx.Response(200, content=connection.body).json()
    assert answer == {"body": "hi", "disconnected": True}


async def test_is_disconnected_is_false_while_the_client_is_connected(app: qiao.App) -> None:
    connection = await call(app, http_scope("POST", "/watch-after-body"), b"still here")
    answer = httpx.Response(200, content=connection.body).json()
    assert answer == {"body": "still here", "disconnected": False}


async def test_is_disconnected_without_reading_an_empty_body(app: qiao.App) -> None:
    # A GET view that never reads its (empty) body, e.g. long polling, must still see the
    # client leave.
    connection = Connection(http_scope("GET", "/watch"))
    connection.send_body()
    connection.disconnect()
    async with asyncio.timeout(TIMEOUT):
        await app(connection.scope, connection.receive, connection.send)
    answer = httpx.Response(200, content=connection.body).json()
    assert answer == {"disconnected": True}


# -- through httpx.ASGITransport -------------------------------------------------------------------
async def test_transport_json_and_text(client: httpx.AsyncClient) -> None:
    response = await client.get("/hello/桥")
    assert response.status_code == 200
    assert response.json() == {"hello": "桥"}
    text = await client.get("/text")
    assert (text.headers["content-type"], text.text) == ("text/plain; charset=utf-8", "some text")


async def test_transport_form_with_a_file_in_a_sync_view(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/form/sync", data={"note": "n"}, files={"upload": ("u.txt", b"z" * 3000)}
    )
    assert response.json() == {"fields": {"note": "n"}, "files": {"upload": 3000}}


async def test_transport_json_in_an_async_view(client: httpx.AsyncClient) -> None:
    response = await client.post("/json/async", json={"a": [1, 2]})
    assert response.json() == {"got": {"a": [1, 2]}}


async def test_transport_file_range_and_304(client: httpx.AsyncClient) -> None:
    whole = await client.get("/file")
    assert whole.content == FILE_BYTES
    part = await client.get("/file", headers={"range": "bytes=0-4"})
    assert (part.status_code, part.content) == (206, FILE_BYTES[:5])
    cached = await client.get("/file", headers={"if-none-match": whole.headers["etag"]})
    assert (cached.status_code, cached.content) == (304, b"")


async def test_transport_stream(client: httpx.AsyncClient, events: Events) -> None:
    async with client.stream("GET", "/stream/finite") as response:
        chunks = [chunk async for chunk in response.aiter_bytes()]
    assert b"".join(chunks) == b"abc"
    assert events.items == ["finite closed"]


async def test_transport_errors(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    missing = await client.get("/nope")
    wrong_method = await client.delete("/text")
    boom = await client.get("/boom", headers={"accept": "text/html"})
    assert missing.status_code == 404
    assert (wrong_method.status_code, wrong_method.headers["allow"]) == (405, "GET, HEAD, OPTIONS")
    assert boom.status_code == 500
    assert "ZeroDivisionError: the bridge fell down" in boom.text  # DEBUG is on


async def test_transport_500_without_debug_hides_the_traceback(
    new_app: Callable[..., qiao.App], events: Events, caplog: pytest.LogCaptureFixture
) -> None:
    app = build_app(new_app, events)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    assert "traceback" not in response.json()
    assert "bridge fell down" not in response.text
    await app.ashutdown()


# -- off-the-shelf ASGI middleware -----------------------------------------------------------------
FORWARDED = {"x-forwarded-for": "203.0.113.7", "x-forwarded-proto": "https"}


async def _whoami_through(asgi: Any) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=asgi, client=("10.0.0.2", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/whoami", headers=FORWARDED)
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


async def test_proxy_headers_middleware_wrapping_app_asgi_app(app: qiao.App) -> None:
    app.asgi_app = ProxyHeadersMiddleware(app.asgi_app, trusted_hosts="10.0.0.2")
    answer = await _whoami_through(app)
    assert answer["remote_addr"] == "203.0.113.7"
    assert answer["scheme"] == "https"
    assert answer["url"] == "https://testserver/whoami"


async def test_proxy_headers_middleware_wrapping_the_app(app: qiao.App) -> None:
    answer = await _whoami_through(ProxyHeadersMiddleware(app, trusted_hosts="10.0.0.2"))
    assert answer["remote_addr"] == "203.0.113.7"
    assert answer["scheme"] == "https"


async def test_forwarded_headers_are_ignored_from_an_untrusted_peer(app: qiao.App) -> None:
    answer = await _whoami_through(app)
    assert answer["remote_addr"] == "10.0.0.2"
    assert answer["scheme"] == "http"


# -- ASGI 3 detection ------------------------------------------------------------------------------
async def test_uvicorn_detects_asgi3(app: qiao.App) -> None:
    config = Config(app, log_config=None, lifespan="off")
    config.load()
    assert config.interface == "asgi3"
    inner = config.loaded_app
    while hasattr(inner, "app"):  # uvicorn's own wrappers (proxy headers) come first
        inner = inner.app
    assert inner is app


async def test_hypercorn_detects_asgi(app: qiao.App) -> None:
    assert is_asgi(app)
