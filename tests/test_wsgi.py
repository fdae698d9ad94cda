"""PEP 3333 conformance: qiao apps behind ``wsgiref.validate.validator``, served by
``wsgiref.simple_server`` on a real socket in a background thread.

The validator raises ``AssertionError`` on every protocol violation; the server catches it and
writes it to its error stream, which the harness captures. Every test checks the responses *and*
that the server logged nothing.
"""

from __future__ import annotations

import asyncio
import gc
import io
import json
import os
import socket
import threading
import time
import traceback
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer
from wsgiref.validate import validator

import httpx
import pytest
from werkzeug.middleware.proxy_fix import ProxyFix

import qiao

IDLE_TIMEOUT = 10.0


class _Handler(WSGIRequestHandler):
    """Sends the server's error output to the harness and counts finished requests."""

    server: _Server

    def handle(self) -> None:
        self.server.request_started()
        try:
            super().handle()
        finally:
            self.server.request_finished()

    def get_stderr(self) -> io.StringIO:
        return self.server.errors

    def log_message(self, format: str, *args: Any) -> None:
        pass  # no access log on the test output


class _Server(WSGIServer):
    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.errors = io.StringIO()
        self._lock = threading.Condition()
        self._started = 0
        self._finished = 0

    def request_started(self) -> None:
        with self._lock:
            self._started += 1

    def request_finished(self) -> None:
        with self._lock:
            self._finished += 1
            self._lock.notify_all()

    def wait_idle(self, timeout: float = IDLE_TIMEOUT) -> None:
        with self._lock:
            if not self._lock.wait_for(lambda: self._started == self._finished, timeout):
                raise AssertionError(f"The server was still busy after {timeout}s.")

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.errors.write(traceback.format_exc())


class _ThreadingServer(ThreadingMixIn, _Server):
    """A thread per request, like many development servers."""

    daemon_threads = False
    block_on_close = True  # server_close() joins the request threads


class Served:
    """A WSGI app served on a real socket; ``error_log()`` is what the server complained of."""

    def __init__(self, app: Callable[..., Any], *, threading_server: bool = False) -> None:
        server_class = _ThreadingServer if threading_server else _Server
        self.server = server_class(("127.0.0.1", 0))
        self.server.set_app(validator(app))
        port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{port}"
        self.address = ("127.0.0.1", port)
        self.client = httpx.Client(base_url=self.url, timeout=10.0)
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        self.leftover_warnings: list[str] = []

    def error_log(self) -> str:
        """Wait until the server has finished every request it took, then return its errors."""
        self.server.wait_idle()
        return self.server.errors.getvalue()

    def close(self) -> None:
        self.client.close()
        # NOTE: collect garbage the app left in the server thread (event loops, for one) here,
        # so its ResourceWarnings are recorded for the test that caused them.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.server.shutdown()
            self.server.server_close()
            self._thread.join(IDLE_TIMEOUT)
            gc.collect()
        self.leftover_warnings = [str(w.message) for w in caught]


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    """``serve(app)`` serves ``validator(app)`` until the end of the test."""
    served: list[Served] = []

    def start(app: Callable[..., Any], **kwargs: Any) -> Served:
        served.append(Served(app, **kwargs))
        return served[-1]

    yield start
    for item in served:
        item.close()


def raw_request(address: tuple[str, int], data: bytes) -> bytes:
    """Send raw bytes, read the whole answer (the server closes after one response)."""
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


# -- an app with every response path ---------------------------------------------------------------
HERE = Path(__file__).resolve()
FILE_BYTES = HERE.read_bytes()


class Events:
    """Records what happened inside the app, for assertions after the response."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.uploads: list[qiao.UploadFile] = []

    def add(self, item: str) -> None:
        self.items.append(item)


def build_app(new_app: Callable[..., qiao.App], events: Events, **config: Any) -> qiao.App:
    app = new_app(**config)

    @app.get("/plain")
    def plain(request: qiao.Request) -> qiao.Response:
        return qiao.PlainTextResponse("plain text")

    @app.get("/html")
    def html(request: qiao.Request) -> str:
        return "<p>html</p>"

    @app.get("/bytes")
    def raw(request: qiao.Request) -> bytes:
        return b"\x00\x01"

    @app.get("/json")
    async def as_json(request: qiao.Request) -> dict[str, Any]:
        return {"answer": 42, "bridge": "桥"}

    @app.get("/created")
    def created(request: qiao.Request) -> tuple[Any, ...]:
        return {"id": 7}, 201, {"location": "/things/7"}

    @app.get("/cookie")
    def cookie(request: qiao.Request) -> qiao.Response:
        response = qiao.PlainTextResponse("cookie")
        response.set_cookie("flavour", "osmanthus")
        response.set_cookie("other", "1", secure=True)
        return response

    @app.get("/empty")
    def empty(request: qiao.Request) -> tuple[str, int]:
        return "", 204

    @app.get("/stream/sync")
    def stream_sync(request: qiao.Request) -> qiao.StreamingResponse:
        def chunks() -> Iterator[str | bytes]:
            try:
                yield "one,"
                yield b"two,"
                yield "three"
            finally:
                events.add("sync stream closed")

        response = qiao.StreamingResponse(chunks(), content_type="text/plain")
        response.call_on_close(lambda: events.add("on_close"))
        return response

    @app.get("/stream/async")
    async def stream_async(request: qiao.Request) -> qiao.StreamingResponse:
        async def chunks() -> AsyncIterator[str]:
            try:
                for word in ("uno,", "dos,", "tres"):
                    await asyncio.sleep(0)
                    yield word
            finally:
                events.add("async stream closed")

        return qiao.StreamingResponse(chunks(), content_type="text/plain")

    @app.get("/stream/never-started")
    def stream_head(request: qiao.Request) -> qiao.StreamingResponse:
        def chunks() -> Iterator[bytes]:
            events.add("stream iterated")
            yield b"body"

        gen = chunks()
        response = qiao.StreamingResponse(gen)
        response.call_on_close(lambda: events.add(f"closed before start: {gen.gi_frame is None}"))
        return response

    @app.get("/file")
    def file(request: qiao.Request) -> qiao.FileResponse:
        return qiao.FileResponse(HERE)

    @app.get("/download")
    def download(request: qiao.Request) -> qiao.FileResponse:
        return qiao.FileResponse(HERE, filename="bridge 桥.py", as_attachment=True)

    @app.get("/missing-file")
    def missing_file(request: qiao.Request) -> qiao.FileResponse:
        return qiao.FileResponse(HERE.with_name("no-such-file.txt"))

    @app.get("/redirect")
    def go(request: qiao.Request) -> qiao.Response:
        return qiao.redirect("/plain?from=redirect")

    @app.get("/folder/")
    def folder(request: qiao.Request) -> str:
        return "folder"

    @app.route("/only-get", methods=["GET"])
    def only_get(request: qiao.Request) -> str:
        return "get"

    @app.get("/boom")
    def boom(request: qiao.Request) -> str:
        raise ZeroDivisionError("the bridge fell down")

    @app.get("/greet/<name>")
    def greet(request: qiao.Request, name: str) -> dict[str, str]:
        return {"name": name, "path": request.path}

    @app.post("/form")
    def form(request: qiao.Request) -> dict[str, Any]:
        data = request.form()
        return {"fields": {k: data.getlist(k) for k in data.fields}}

    @app.post("/json")
    def post_json(request: qiao.Request) -> dict[str, Any]:
        return {"got": request.json()}

    @app.post("/async-json")
    async def post_async_json(request: qiao.Request) -> dict[str, Any]:
        return {"got": await request.ajson()}

    @app.post("/echo")
    def echo(request: qiao.Request) -> qiao.Response:
        return qiao.Response(request.body(), content_type="application/octet-stream")

    @app.post("/count")
    def count(request: qiao.Request) -> dict[str, int]:
        sizes = [len(chunk) for chunk in request.stream()]
        return {"bytes": sum(sizes), "chunks": len(sizes)}

    @app.post("/upload")
    def upload(request: qiao.Request) -> dict[str, Any]:
        form = request.form()
        for _, upload in form.files.multi_items():
            events.uploads.append(upload)
            upload.file.fileno()  # NOTE: forces a spooled file onto disk
        return {name: upload.size for name, upload in form.files.multi_items()}

    @app.get("/whoami")
    def whoami(request: qiao.Request) -> dict[str, Any]:
        return {
            "remote_addr": request.remote_addr,
            "scheme": request.scheme,
            "host": request.host,
            "url": request.url,
            "url_for": request.url_for("whoami"),
        }

    return app


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def wsgi(new_app: Callable[..., qiao.App], events: Events, serve: Callable[..., Served]) -> Served:
    """The full test app, served through the validator."""
    return serve(build_app(new_app, events))


# -- plain responses -------------------------------------------------------------------------------
def test_plain_text_response(wsgi: Served) -> None:
    response = wsgi.client.get("/plain")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-length"] == "10"
    assert response.text == "plain text"
    assert wsgi.error_log() == ""


def test_str_return_is_html_and_bytes_return_is_octet_stream(wsgi: Served) -> None:
    html = wsgi.client.get("/html")
    raw = wsgi.client.get("/bytes")
    assert (html.headers["content-type"], html.text) == ("text/html; charset=utf-8", "<p>html</p>")
    assert (raw.headers["content-type"], raw.content) == ("application/octet-stream", b"\0\1")
    assert wsgi.error_log() == ""


def test_json_response_from_an_async_view(wsgi: Served) -> None:
    response = wsgi.client.get("/json")
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"answer": 42, "bridge": "桥"}
    assert wsgi.error_log() == ""


def test_tuple_return_sets_status_and_headers(wsgi: Served) -> None:
    response = wsgi.client.get("/created")
    assert response.status_code == 201
    assert response.headers["location"] == "/things/7"
    assert response.json() == {"id": 7}
    assert wsgi.error_log() == ""


def test_each_set_cookie_is_its_own_header(wsgi: Served) -> None:
    response = wsgi.client.get("/cookie")
    cookies = response.headers.get_list("set-cookie")
    assert len(cookies) == 2
    assert cookies[0].startswith("flavour=osmanthus; ")
    assert "Secure" in cookies[1]
    assert wsgi.error_log() == ""


def test_empty_204_from_a_view_has_no_content_type(wsgi: Served) -> None:
    # PEP 3333's validator (and RFC 9110 section 15.3.5) reject a Content-Type on a 204.
    response = wsgi.client.get("/empty")
    assert wsgi.error_log() == ""
    assert response.status_code == 204
    assert "content-type" not in response.headers


# -- streaming -------------------------------------------------------------------------------------
def test_sync_iterator_streams_and_is_closed(wsgi: Served, events: Events) -> None:
    response = wsgi.client.get("/stream/sync")
    assert response.status_code == 200
    assert response.text == "one,two,three"
    assert "content-length" not in response.headers
    assert wsgi.error_log() == ""
    assert events.items == ["sync stream closed", "on_close"]


def test_async_iterator_streams_on_the_worker_threads_loop(wsgi: Served, events: Events) -> None:
    response = wsgi.client.get("/stream/async")
    assert response.text == "uno,dos,tres"
    assert wsgi.error_log() == ""
    assert events.items == ["async stream closed"]


def test_head_of_a_stream_closes_it_without_iterating(wsgi: Served, events: Events) -> None:
    response = wsgi.client.head("/stream/never-started")
    assert response.status_code == 200
    assert response.content == b""
    assert wsgi.error_log() == ""
    assert events.items == ["closed before start: True"]


# -- files -----------------------------------------------------------------------------------------
def test_file_is_sent_whole(wsgi: Served) -> None:
    response = wsgi.client.get("/file")
    assert response.status_code == 200
    assert response.content == FILE_BYTES
    assert response.headers["content-length"] == str(len(FILE_BYTES))
    assert response.headers["content-type"] == "text/x-python; charset=utf-8"
    assert wsgi.error_log() == ""


def test_file_range_gets_206(wsgi: Served) -> None:
    response = wsgi.client.get("/file", headers={"range": "bytes=10-19"})
    assert response.status_code == 206
    assert response.content == FILE_BYTES[10:20]
    assert response.headers["content-range"] == f"bytes 10-19/{len(FILE_BYTES)}"
    assert wsgi.error_log() == ""


def test_file_if_range_with_a_stale_etag_gets_the_whole_file(wsgi: Served) -> None:
    response = wsgi.client.get("/file", headers={"range": "bytes=0-9", "if-range": '"stale"'})
    assert response.status_code == 200
    assert response.content == FILE_BYTES
    assert wsgi.error_log() == ""


def test_file_conditional_requests_get_304(wsgi: Served) -> None:
    first = wsgi.client.get("/file")
    by_etag = wsgi.client.get("/file", headers={"if-none-match": first.headers["etag"]})
    by_date = wsgi.client.get(
        "/file", headers={"if-modified-since": first.headers["last-modified"]}
    )
    for response in (by_etag, by_date):
        assert response.status_code == 304
        assert response.content == b""
        assert "content-type" not in response.headers
    assert wsgi.error_log() == ""


def test_unsatisfiable_range_gets_416(wsgi: Served) -> None:
    size = len(FILE_BYTES)
    response = wsgi.client.get("/file", headers={"range": f"bytes={size}-{size + 5}"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{size}"
    assert wsgi.error_log() == ""


def test_head_of_a_file_has_its_length_and_no_body(wsgi: Served) -> None:
    response = wsgi.client.head("/file")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len(FILE_BYTES))
    assert wsgi.error_log() == ""


def test_attachment_has_an_ascii_and_a_utf8_filename(wsgi: Served) -> None:
    response = wsgi.client.get("/download")
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"bridge .py\"; filename*=UTF-8''bridge%20%E6%A1%A5.py"
    )
    assert response.content == FILE_BYTES
    assert wsgi.error_log() == ""


def test_missing_file_gets_404(wsgi: Served) -> None:
    response = wsgi.client.get("/missing-file")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert wsgi.error_log() == ""


# -- redirects and errors --------------------------------------------------------------------------
def test_redirect_has_location(wsgi: Served) -> None:
    response = wsgi.client.get("/redirect")
    assert response.status_code == 302
    assert response.headers["location"] == "/plain?from=redirect"
    followed = wsgi.client.get("/redirect", follow_redirects=True)
    assert followed.text == "plain text"
    assert wsgi.error_log() == ""


def test_missing_slash_redirects_get_301_and_post_308(wsgi: Served) -> None:
    get = wsgi.client.get("/folder?a=1")
    post = wsgi.client.post("/folder")
    assert (get.status_code, get.headers["location"]) == (301, "/folder/?a=1")
    assert (post.status_code, post.headers["location"]) == (308, "/folder/")
    assert wsgi.error_log() == ""


def test_not_found_is_problem_json_or_html(wsgi: Served) -> None:
    as_json = wsgi.client.get("/nope")
    as_html = wsgi.client.get("/nope", headers={"accept": "text/html"})
    assert as_json.status_code == as_html.status_code == 404
    assert as_json.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "Not Found",
    }
    assert as_html.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>404 Not Found</h1>" in as_html.text
    assert wsgi.error_log() == ""


def test_method_not_allowed_has_allow(wsgi: Served) -> None:
    response = wsgi.client.delete("/only-get")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"
    assert wsgi.error_log() == ""


def test_options_is_204_without_content_type(wsgi: Served) -> None:
    response = wsgi.client.options("/only-get")
    assert response.status_code == 204
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"
    assert "content-type" not in response.headers
    assert wsgi.error_log() == ""


def test_server_error_without_debug_hides_the_traceback(
    wsgi: Served, caplog: pytest.LogCaptureFixture
) -> None:
    as_json = wsgi.client.get("/boom", headers={"x-request-id": "req-1"})
    as_html = wsgi.client.get("/boom", headers={"accept": "text/html"})
    assert as_json.status_code == as_html.status_code == 500
    assert as_json.json() == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "The server failed to answer this request.",
        "request_id": "req-1",
    }
    assert as_json.headers["x-request-id"] == "req-1"
    for body in (as_json.text, as_html.text):
        assert "Traceback" not in body
        assert "the bridge fell down" not in body
        assert "ZeroDivisionError" not in body
    assert wsgi.error_log() == ""
    logged = [r for r in caplog.records if r.name == "qiao"]
    assert len(logged) == 2
    assert logged[0].getMessage() == "Unhandled exception in GET /boom (request id req-1)"
    assert logged[0].exc_info is not None
    assert logged[0].exc_info[0] is ZeroDivisionError


def test_server_error_with_debug_shows_the_traceback(
    new_app: Callable[..., qiao.App],
    events: Events,
    serve: Callable[..., Served],
    caplog: pytest.LogCaptureFixture,
) -> None:
    served = serve(build_app(new_app, events, DEBUG=True))
    as_html = served.client.get("/boom", headers={"accept": "text/html"})
    as_json = served.client.get("/boom")
    assert as_html.status_code == as_json.status_code == 500
    assert "<h2>ZeroDivisionError: the bridge fell down</h2>" in as_html.text
    assert "Traceback (most recent call last)" in as_html.text
    assert "shown because DEBUG is on" in as_html.text
    assert as_json.json()["exception"] == "ZeroDivisionError: the bridge fell down"
    assert as_json.json()["traceback"][0] == "Traceback (most recent call last):"
    assert served.error_log() == ""
    assert len([r for r in caplog.records if r.name == "qiao"]) == 2


def test_head_sends_headers_without_a_body(wsgi: Served) -> None:
    get = wsgi.client.get("/plain")
    head = wsgi.client.head("/plain")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"] == "10"
    assert wsgi.error_log() == ""


# -- paths -----------------------------------------------------------------------------------------
def test_non_ascii_path_is_decoded_as_utf8(wsgi: Served) -> None:
    response = wsgi.client.get("/greet/石桥")
    assert response.status_code == 200
    assert response.json() == {"name": "石桥", "path": "/greet/石桥"}
    assert wsgi.error_log() == ""


def test_percent_encoded_non_ascii_path_is_decoded_once(wsgi: Served) -> None:
    answer = raw_request(wsgi.address, b"GET /greet/%E6%A1%A5%2520 HTTP/1.0\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200 ")
    assert json.loads(body) == {"name": "桥%20", "path": "/greet/桥%20"}
    assert wsgi.error_log() == ""


def test_path_that_is_not_utf8_gets_400(wsgi: Served) -> None:
    answer = raw_request(wsgi.address, b"GET /greet/%FF%FE HTTP/1.0\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 400 ")
    assert b"The request path is not valid UTF-8." in body
    assert wsgi.error_log() == ""


def test_script_name_is_the_root_path(
    new_app: Callable[..., qiao.App], events: Events, serve: Callable[..., Served]
) -> None:
    app = build_app(new_app, events)

    def mounted(environ: dict[str, Any], start_response: Any) -> Any:
        # What a server mounting the app at /mount does (mod_wsgi, or werkzeug's dispatcher).
        path = environ["PATH_INFO"]
        assert path.startswith("/mount/")
        environ["SCRIPT_NAME"], environ["PATH_INFO"] = "/mount", path[len("/mount") :]
        return app(environ, start_response)

    served = serve(mounted)
    response = served.client.get("/mount/whoami")
    assert response.json()["url_for"] == "/mount/whoami"
    assert response.json()["url"] == f"{served.url}/mount/whoami"
    redirect = served.client.get("/mount/folder")
    assert redirect.headers["location"] == "/mount/folder/"
    assert served.error_log() == ""


# -- request bodies --------------------------------------------------------------------------------
def test_urlencoded_form_is_parsed(wsgi: Served) -> None:
    response = wsgi.client.post("/form", data={"a": ["1", "2"], "b": "桥"})
    assert response.json() == {"fields": {"a": ["1", "2"], "b": ["桥"]}}
    assert wsgi.error_log() == ""


def test_json_body_is_parsed_by_sync_and_async_views(wsgi: Served) -> None:
    payload = {"list": [1, 2, {"x": None}], "text": "桥"}
    assert wsgi.client.post("/json", json=payload).json() == {"got": payload}
    assert wsgi.client.post("/async-json", json=payload).json() == {"got": payload}
    assert wsgi.error_log() == ""


def test_malformed_json_gets_400_and_wrong_type_415(wsgi: Served) -> None:
    malformed = wsgi.client.post(
        "/json", content=b"{", headers={"content-type": "application/json"}
    )
    wrong_type = wsgi.client.post("/json", content=b"{}", headers={"content-type": "text/plain"})
    assert malformed.status_code == 400
    assert malformed.json()["detail"].startswith("Malformed JSON")
    assert wrong_type.status_code == 415
    assert wsgi.error_log() == ""


def test_large_body_is_read_through_wsgi_input(wsgi: Served) -> None:
    body = os.urandom(300_000)
    response = wsgi.client.post("/echo", content=body)
    assert response.content == body
    counted = wsgi.client.post("/count", content=body).json()
    assert counted["bytes"] == len(body)
    assert counted["chunks"] >= 5  # read in bounded chunks, never all at once
    assert wsgi.error_log() == ""


def test_body_read_stops_at_content_length(wsgi: Served) -> None:
    # Bytes past Content-Length are not the body; reading them would block on the socket.
    answer = raw_request(
        wsgi.address,
        b"POST /echo HTTP/1.0\r\nContent-Length: 5\r\n\r\nhelloTRAILING GARBAGE",
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200 ")
    assert body == b"hello"
    assert wsgi.error_log() == ""


def test_body_without_content_length_is_empty(wsgi: Served) -> None:
    # PEP 3333: without CONTENT_LENGTH (and without wsgi.input_terminated) the app must not read.
    answer = raw_request(wsgi.address, b"POST /echo HTTP/1.0\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200 ")
    assert body == b""
    assert wsgi.error_log() == ""


def test_body_over_max_body_size_gets_413(
    new_app: Callable[..., qiao.App], events: Events, serve: Callable[..., Served]
) -> None:
    served = serve(build_app(new_app, events, MAX_BODY_SIZE=1000))
    response = served.client.post("/echo", content=b"x" * 1001)
    assert response.status_code == 413
    assert "MAX_BODY_SIZE" in response.json()["detail"]
    assert served.error_log() == ""


def test_multipart_temp_files_are_closed_once_the_response_is_closed(
    new_app: Callable[..., qiao.App], events: Events, serve: Callable[..., Served]
) -> None:
    served = serve(build_app(new_app, events, FORM_SPOOL_SIZE=1024))
    response = served.client.post(
        "/upload",
        files=[("a", ("a.bin", b"a" * 10_000)), ("b", ("b.bin", b"b" * 100))],
        data={"note": "x"},
    )
    assert response.json() == {"a": 10_000, "b": 100}
    assert served.error_log() == ""  # the server has closed the response by now
    assert len(events.uploads) == 2
    assert all(upload.file.closed for upload in events.uploads)


# -- off-the-shelf WSGI middleware -----------------------------------------------------------------
FORWARDED = {
    "x-forwarded-for": "203.0.113.7",
    "x-forwarded-proto": "https",
    "x-forwarded-host": "bridge.example",
}
BEHIND_PROXY = {
    "remote_addr": "203.0.113.7",
    "scheme": "https",
    "host": "bridge.example",
    "url": "https://bridge.example/whoami",
    "url_for": "/whoami",
}


def test_proxy_fix_wrapping_app_wsgi_app(
    new_app: Callable[..., qiao.App], events: Events, serve: Callable[..., Served]
) -> None:
    app = build_app(new_app, events)
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    served = serve(app)
    assert served.client.get("/whoami", headers=FORWARDED).json() == BEHIND_PROXY
    assert served.error_log() == ""


def test_proxy_fix_wrapping_the_app_itself(
    new_app: Callable[..., qiao.App], events: Events, serve: Callable[..., Served]
) -> None:
    served = serve(ProxyFix(build_app(new_app, events), x_for=1, x_proto=1, x_host=1))
    assert served.client.get("/whoami", headers=FORWARDED).json() == BEHIND_PROXY
    assert served.error_log() == ""


def test_forwarded_headers_are_ignored_without_a_trusted_proxy(wsgi: Served) -> None:
    answer = wsgi.client.get("/whoami", headers=FORWARDED).json()
    assert answer["remote_addr"] == "127.0.0.1"
    assert answer["scheme"] == "http"
    assert answer["host"] == wsgi.url.removeprefix("http://")


def test_forwarded_headers_are_believed_from_a_trusted_proxy(
    new_app: Callable[..., qiao.App], events: Events, serve: Callable[..., Served]
) -> None:
    served = serve(build_app(new_app, events, TRUSTED_PROXIES=["127.0.0.1"]))
    assert served.client.get("/whoami", headers=FORWARDED).json() == BEHIND_PROXY
    assert served.error_log() == ""


# -- threads ---------------------------------------------------------------------------------------
def test_async_views_on_a_thread_per_request_server_leave_no_unclosed_event_loop(
    new_app: Callable[..., qiao.App], events: Events, serve: Callable[..., Served]
) -> None:
    # Development servers (werkzeug's, socketserver.ThreadingMixIn) run each request on a new
    # thread; an async view there needs an event loop, which must not outlive the thread.
    served = serve(build_app(new_app, events), threading_server=True)
    for _ in range(3):
        assert served.client.get("/json").status_code == 200
    assert served.error_log() == ""
    served.close()
    unclosed = [w for w in served.leftover_warnings if "unclosed" in w]
    assert unclosed == []


def test_startup_hooks_run_once_under_concurrent_first_requests(
    new_app: Callable[..., qiao.App], serve: Callable[..., Served]
) -> None:
    app = new_app()
    started: list[int] = []

    @app.on_startup
    def slow_startup() -> None:
        started.append(threading.get_ident())
        time.sleep(0.05)  # NOTE: widens the window in which a second request could slip in

    @app.get("/")
    def index(request: qiao.Request) -> dict[str, int]:
        return {"startups": len(started)}

    served = serve(app, threading_server=True)
    results: list[int] = []

    def fetch() -> None:
        with httpx.Client(base_url=served.url, timeout=10) as client:
            results.append(client.get("/").json()["startups"])

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == [1, 1, 1, 1]
    assert len(started) == 1
    assert served.error_log() == ""
