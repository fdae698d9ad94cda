"""Responses: the classes, what views may return, cookies, streams, files, HEAD and close hooks."""

from __future__ import annotations

import dataclasses
import enum
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from wsgiref.util import FileWrapper

import httpx
import msgspec
import pytest

import qiao
from qiao import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from tests.http._support import NewApp, Serve, qiao_errors


def app_with(new_app: NewApp, view: Callable[..., Any], methods: list[str] | None = None) -> Any:
    app = new_app()
    app.add_route("/", view, methods or ["GET", "POST"])
    return app


# -- the classes ---------------------------------------------------------------------------------


def test_response_defaults() -> None:
    response = Response("héllo")
    assert response.body == "héllo".encode()
    assert response.status_code == 200
    assert response.headers.items() == [("content-type", "text/html; charset=utf-8")]
    assert response.content_type == "text/html; charset=utf-8"
    assert repr(response) == "<Response 200 text/html; charset=utf-8>"


def test_response_takes_status_headers_and_content_type() -> None:
    response = Response(b"\x00", 201, {"X-A": "1"}, content_type="application/x-thing")
    assert response.body == b"\x00"
    assert response.status_code == 201
    assert response.headers.items() == [("content-type", "application/x-thing"), ("x-a", "1")]
    replaced = Response(b"", headers=[("Content-Type", "text/csv")])
    assert replaced.headers.getlist("content-type") == ["text/csv"]


@pytest.mark.parametrize(
    ("cls", "content_type"),
    [
        (Response, "text/html; charset=utf-8"),
        (HTMLResponse, "text/html; charset=utf-8"),
        (PlainTextResponse, "text/plain; charset=utf-8"),
    ],
)
def test_text_responses_through_the_app(
    new_app: NewApp, serve: Serve, cls: type[Response], content_type: str
) -> None:
    response = serve(app_with(new_app, lambda request: cls("ünï", 203))).get("/")
    assert response.status_code == 203
    assert response.headers["content-type"] == content_type
    assert response.headers["content-length"] == str(len("ünï".encode()))
    assert response.text == "ünï"


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    label: str
    at: datetime


class Struct(msgspec.Struct):
    name: str


def test_json_response_encodes_msgspec_types(new_app: NewApp, serve: Serve) -> None:
    moment = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    data = {
        "when": moment,
        "day": date(2024, 1, 2),
        "id": uuid.UUID(int=1),
        "point": Point(1, "ü", moment),
        "struct": Struct("s"),
        "price": Decimal("1.50"),
        "color": Color.RED,
        "tuple": (1, 2),
        "none": None,
    }
    response = serve(app_with(new_app, lambda request: JSONResponse(data, 201))).get("/")
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "when": "2024-01-02T03:04:05Z",
        "day": "2024-01-02",
        "id": "00000000-0000-0000-0000-000000000001",
        "point": {"x": 1, "label": "ü", "at": "2024-01-02T03:04:05Z"},
        "struct": {"name": "s"},
        "price": "1.50",
        "color": "red",
        "tuple": [1, 2],
        "none": None,
    }


def test_json_response_is_compact_utf8() -> None:
    assert JSONResponse({"a": [1, "ü"]}).body == '{"a":[1,"ü"]}'.encode()


def test_json_response_refuses_what_it_cannot_encode() -> None:
    with pytest.raises(TypeError, match="unsupported"):
        JSONResponse({"a": object()})


def test_json_response_custom_content_type_and_headers() -> None:
    response = JSONResponse([], headers={"x-a": "1"}, content_type="application/ld+json")
    assert response.headers.items() == [("content-type", "application/ld+json"), ("x-a", "1")]


# -- redirects -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirect(new_app: NewApp, serve: Serve, status: int) -> None:
    client = serve(app_with(new_app, lambda request: qiao.redirect("/target?a=1&b=2", status)))
    response = client.get("/")
    assert response.status_code == status
    assert response.headers["location"] == "/target?a=1&b=2"
    assert response.content == b""
    assert response.headers["content-length"] == "0"


def test_redirect_response_defaults_to_302() -> None:
    response = RedirectResponse("https://example.com/")
    assert response.status_code == 302
    assert response.headers["location"] == "https://example.com/"
    assert isinstance(qiao.redirect("/"), RedirectResponse)


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("/a b", "/a%20b"),
        ("/ü", "/%C3%BC"),
        ("/already%20quoted", "/already%20quoted"),
        ("/p?q=a b&r=ü#frag", "/p?q=a%20b&r=%C3%BC#frag"),
        ("https://user@example.com:8443/x;y?z=1", "https://user@example.com:8443/x;y?z=1"),
        ("/x\r\nSet-Cookie: admin=1", "/x%0D%0ASet-Cookie:%20admin=1"),
        ('/"<>', "/%22%3C%3E"),
    ],
)
def test_redirect_location_is_percent_encoded(url: str, location: str) -> None:
    assert RedirectResponse(url).headers["location"] == location


def test_client_follows_a_redirect(new_app: NewApp, serve: Serve) -> None:
    app = new_app()

    @app.get("/old")
    def old(request: qiao.Request) -> Response:
        return qiao.redirect("/new")

    @app.get("/new")
    def new(request: qiao.Request) -> str:
        return "arrived"

    response = serve(app).get("/old", follow_redirects=True)
    assert response.text == "arrived"


# -- streams -------------------------------------------------------------------------------------


def sync_chunks() -> Iterator[bytes | str]:
    yield b"one,"
    yield "twö,"
    yield b""
    yield "three"


async def async_chunks() -> AsyncIterator[bytes | str]:
    for chunk in sync_chunks():
        yield chunk


@pytest.mark.parametrize("source", [sync_chunks, async_chunks, lambda: [b"one,", "twö,", "three"]])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_streaming_response(new_app: NewApp, serve: Serve, source: Any, mode: str) -> None:
    app = new_app()
    if mode == "sync":

        @app.get("/")
        def view(request: qiao.Request) -> Response:
            return StreamingResponse(source(), headers={"x-a": "1"})
    else:

        @app.get("/")
        async def view(request: qiao.Request) -> Response:
            return StreamingResponse(source(), headers={"x-a": "1"})

    response = serve(app).get("/")
    assert response.status_code == 200
    assert response.text == "one,twö,three"
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["x-a"] == "1"
    assert "content-length" not in response.headers


def test_streaming_response_content_type(new_app: NewApp, serve: Serve) -> None:
    view = lambda request: StreamingResponse(iter(["a"]), content_type="text/csv")  # noqa: E731
    assert serve(app_with(new_app, view)).get("/").headers["content-type"] == "text/csv"


def test_streaming_response_knows_whether_it_is_async() -> None:
    assert not StreamingResponse(sync_chunks()).is_async
    assert StreamingResponse(async_chunks()).is_async


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_streams_are_closed_after_sending(new_app: NewApp, serve: Serve, kind: str) -> None:
    events: list[str] = []

    def sync_gen() -> Iterator[bytes]:
        try:
            yield b"a"
            yield b"b"
        finally:
            events.append("closed")

    async def async_gen() -> AsyncIterator[bytes]:
        try:
            yield b"a"
            yield b"b"
        finally:
            events.append("closed")

    gen = sync_gen if kind == "sync" else async_gen
    response = serve(app_with(new_app, lambda request: StreamingResponse(gen()))).get("/")
    assert response.content == b"ab"
    assert events == ["closed"]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_head_closes_a_stream_without_running_it(new_app: NewApp, serve: Serve, kind: str) -> None:
    events: list[str] = []

    def sync_gen() -> Iterator[bytes]:
        events.append("started")
        yield b"a"

    async def async_gen() -> AsyncIterator[bytes]:
        events.append("started")
        yield b"a"

    gen = sync_gen if kind == "sync" else async_gen
    response = serve(app_with(new_app, lambda request: StreamingResponse(gen()))).head("/")
    assert response.status_code == 200
    assert response.content == b""
    assert events == []


# -- call_on_close -------------------------------------------------------------------------------


def test_call_on_close_runs_after_the_stream_is_sent(new_app: NewApp, serve: Serve) -> None:
    events: list[str] = []

    def body() -> Iterator[bytes]:
        events.append("first chunk")
        yield b"a"
        events.append("last chunk")
        yield b"b"

    async def async_cleanup() -> None:
        events.append("async closed")

    def view(request: qiao.Request) -> Response:
        response = StreamingResponse(body())
        response.call_on_close(lambda: events.append("closed"))
        response.call_on_close(async_cleanup)
        events.append("view returned")
        return response

    response = serve(app_with(new_app, view)).get("/")
    assert response.content == b"ab"
    assert events == ["view returned", "first chunk", "last chunk", "closed", "async closed"]


def test_call_on_close_runs_for_plain_responses(new_app: NewApp, serve: Serve) -> None:
    events: list[str] = []

    def view(request: qiao.Request) -> Response:
        response = Response("ok")
        response.call_on_close(lambda: events.append("closed"))
        return response

    client = serve(app_with(new_app, view))
    assert client.get("/").text == "ok"
    assert client.head("/").content == b""
    assert events == ["closed", "closed"]


def test_call_on_close_runs_for_files(new_app: NewApp, serve: Serve, tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"file")
    events: list[str] = []

    def view(request: qiao.Request) -> Response:
        response = FileResponse(path)
        response.call_on_close(lambda: events.append("closed"))
        return response

    assert serve(app_with(new_app, view)).get("/").content == b"file"
    assert events == ["closed"]


def test_a_failing_close_callback_is_logged_and_the_others_still_run(
    new_app: NewApp, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[str] = []

    def broken() -> None:
        raise RuntimeError("cleanup failed")

    def view(request: qiao.Request) -> Response:
        response = Response("ok")
        response.call_on_close(broken)
        response.call_on_close(lambda: events.append("second"))
        return response

    response = serve(app_with(new_app, view)).get("/")
    assert response.text == "ok"
    assert events == ["second"]
    [record] = qiao_errors(caplog.records)
    assert "close callback" in record.getMessage()


# -- HEAD ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "result",
    [
        "héllo",
        {"a": [1, 2, 3]},
        b"\x00\x01",
        ("created", 201),
    ],
)
def test_head_drops_the_body_but_keeps_content_length(
    new_app: NewApp, serve: Serve, result: Any
) -> None:
    app = new_app()

    @app.get("/")
    def view(request: qiao.Request) -> Any:
        return result

    client = serve(app)
    got, head = client.get("/"), client.head("/")
    assert head.status_code == got.status_code
    assert head.content == b""
    assert head.headers["content-length"] == str(len(got.content))
    assert head.headers["content-type"] == got.headers["content-type"]


# -- what a view may return ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "status", "content_type", "body"),
    [
        ("<p>hi</p>", 200, "text/html; charset=utf-8", b"<p>hi</p>"),
        (b"\x00raw", 200, "application/octet-stream", b"\x00raw"),
        ({"a": 1}, 200, "application/json", b'{"a":1}'),
        ([1, "x"], 200, "application/json", b'[1,"x"]'),
        ([], 200, "application/json", b"[]"),
        ("", 200, "text/html; charset=utf-8", b""),
        (("gone", 410), 410, "text/html; charset=utf-8", b"gone"),
        (({"id": 1}, 201), 201, "application/json", b'{"id":1}'),
        ((PlainTextResponse("t"), 202), 202, "text/plain; charset=utf-8", b"t"),
    ],
    ids=["str", "bytes", "dict", "list", "empty-list", "empty-str", "tuple2", "dict-201", "resp"],
)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_view_return_values(
    new_app: NewApp,
    serve: Serve,
    mode: str,
    result: Any,
    status: int,
    content_type: str,
    body: bytes,
) -> None:
    app = new_app()
    if mode == "sync":

        @app.get("/")
        def view(request: qiao.Request) -> Any:
            return result
    else:

        @app.get("/")
        async def view(request: qiao.Request) -> Any:
            return result

    response = serve(app).get("/")
    assert response.status_code == status
    assert response.headers["content-type"] == content_type
    assert response.content == body


@pytest.mark.parametrize(
    "headers",
    [{"X-A": "1", "Content-Type": "text/csv"}, [("x-a", "1"), ("content-type", "text/csv")]],
)
def test_view_may_return_body_status_and_headers(
    new_app: NewApp, serve: Serve, headers: Any
) -> None:
    response = serve(app_with(new_app, lambda request: ("a,b", 201, headers))).get("/")
    assert response.status_code == 201
    assert response.headers["x-a"] == "1"
    assert response.headers["content-type"] == "text/csv"
    assert response.text == "a,b"


def test_view_may_return_headers_as_a_headers_object(new_app: NewApp, serve: Serve) -> None:
    headers = qiao.Headers([("x-a", "1"), ("ab", "2")])
    response = serve(app_with(new_app, lambda request: ("x", 201, headers))).get("/")
    assert response.status_code == 201
    assert (response.headers.get("x-a"), response.headers.get("ab")) == ("1", "2")
    assert "a" not in response.headers


def test_response_takes_a_headers_object() -> None:
    response = Response("x", headers=qiao.Headers({"ab": "1"}))
    assert response.headers.items() == [("content-type", "text/html; charset=utf-8"), ("ab", "1")]


def test_view_may_return_a_response_unchanged(new_app: NewApp, serve: Serve) -> None:
    def view(request: qiao.Request) -> Response:
        return Response("x", 299, {"x-a": "1"})

    response = serve(app_with(new_app, view)).get("/")
    assert response.status_code == 299
    assert response.headers["x-a"] == "1"


def returns_none(request: qiao.Request) -> None:
    return None


async def returns_none_async(request: qiao.Request) -> None:
    return None


@pytest.mark.parametrize("view", [returns_none, returns_none_async])
def test_view_returning_none_is_a_logged_500_naming_the_view(
    new_app: NewApp, serve: Serve, caplog: pytest.LogCaptureFixture, view: Any
) -> None:
    response = serve(app_with(new_app, view)).get("/")
    assert response.status_code == 500
    assert "returned None" not in response.text, "the reason is for the log, not the client"
    [record] = qiao_errors(caplog.records)
    assert record.exc_info is not None
    error = record.exc_info[1]
    assert isinstance(error, TypeError)
    assert str(error).startswith(f"View {view.__qualname__!r} returned None. Return a Response")


@pytest.mark.parametrize(
    ("result", "kind"),
    [(42, "int"), ({1, 2}, "set"), (("a", 200, {}, "extra"), "tuple"), (("a",), "tuple")],
)
def test_view_returning_something_else_is_a_logged_500(
    new_app: NewApp,
    serve: Serve,
    caplog: pytest.LogCaptureFixture,
    result: Any,
    kind: str,
) -> None:
    def odd_view(request: qiao.Request) -> Any:
        return result

    response = serve(app_with(new_app, odd_view)).get("/")
    assert response.status_code == 500
    [record] = qiao_errors(caplog.records)
    assert record.exc_info is not None
    assert f"returned {kind}, which qiao cannot send" in str(record.exc_info[1])
    assert "odd_view" in str(record.exc_info[1])


def test_no_content_response_has_no_body_and_no_content_length(
    new_app: NewApp, serve: Serve
) -> None:
    # RFC 9110 section 8.6: no Content-Length in a 204, whatever the view returned.
    app = new_app()

    @app.get("/empty")
    def empty(request: qiao.Request) -> Any:
        return "", 204

    @app.get("/careless")
    def careless(request: qiao.Request) -> Any:
        return "ignored", 204

    client = serve(app)
    for path in ("/empty", "/careless"):
        response = client.get(path)
        assert response.status_code == 204
        assert response.content == b""
        assert "content-length" not in response.headers, path


# -- cookies on responses ------------------------------------------------------------------------


def test_set_cookie_defaults_are_httponly_and_lax(new_app: NewApp, serve: Serve) -> None:
    def view(request: qiao.Request) -> Response:
        response = Response("ok")
        response.set_cookie("sid", "abc")
        return response

    response = serve(app_with(new_app, view)).get("/")
    assert response.headers.get_list("set-cookie") == ["sid=abc; Path=/; HttpOnly; SameSite=Lax"]


def test_set_cookie_attributes_and_several_cookies(new_app: NewApp, serve: Serve) -> None:
    def view(request: qiao.Request) -> Response:
        response = Response("ok")
        response.set_cookie(
            "sid",
            "abc",
            max_age=60,
            expires=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
            domain="example.com",
            path="/app",
            secure=True,
            samesite="none",
        )
        response.set_cookie("theme", "dark", httponly=False, samesite="strict")
        response.set_cookie("plain", "1", httponly=False, samesite=None, path=None)
        return response

    response = serve(app_with(new_app, view)).get("/")
    assert response.headers.get_list("set-cookie") == [
        "sid=abc; Max-Age=60; Expires=Wed, 02 Jan 2030 03:04:05 GMT; Domain=example.com; "
        "Path=/app; Secure; HttpOnly; SameSite=None",
        "theme=dark; Path=/; SameSite=Strict",
        "plain=1",
    ]


def test_delete_cookie_expires_it_now(new_app: NewApp, serve: Serve) -> None:
    def view(request: qiao.Request) -> Response:
        response = Response("ok")
        response.delete_cookie("sid", path="/app", domain="example.com", secure=True)
        return response

    response = serve(app_with(new_app, view)).get("/")
    assert response.headers["set-cookie"] == (
        "sid=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Domain=example.com; "
        "Path=/app; Secure; HttpOnly; SameSite=Lax"
    )


def test_set_cookie_samesite_none_without_secure_raises() -> None:
    with pytest.raises(ValueError, match="samesite='none' requires secure=True"):
        Response().set_cookie("a", "b", samesite="none")
    with pytest.raises(ValueError, match="requires secure=True"):
        Response().delete_cookie("a", samesite="none")


def test_set_cookie_refuses_a_value_that_would_split_the_header() -> None:
    response = Response()
    with pytest.raises(ValueError, match="encode it"):
        response.set_cookie("a", "x; Domain=evil.test")
    assert "set-cookie" not in response.headers


# -- files: the basics (conditional requests and ranges are in test_conditional.py) -------------


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "notes.txt").write_text("hello text")
    (tmp_path / "data.json").write_text("[1]")
    (tmp_path / "archive.tar.gz").write_bytes(b"\x1f\x8b")
    (tmp_path / "blob.unknownext").write_bytes(b"?")
    (tmp_path / "big.bin").write_bytes(bytes(range(256)) * 40)
    (tmp_path / "sub").mkdir()
    return tmp_path


def file_app(new_app: NewApp, root: Path, **options: Any) -> qiao.App:
    app = new_app()

    @app.get("/files/<name>")
    def send(request: qiao.Request, name: str) -> Response:
        return FileResponse(root / name, **options)

    return app


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("notes.txt", "text/plain; charset=utf-8"),
        ("data.json", "application/json"),
        ("archive.tar.gz", "application/octet-stream"),
        ("blob.unknownext", "application/octet-stream"),
    ],
)
def test_file_response_guesses_the_content_type(
    new_app: NewApp, serve: Serve, files: Path, name: str, content_type: str
) -> None:
    response = serve(file_app(new_app, files)).get(f"/files/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.content == (files / name).read_bytes()
    assert response.headers["content-length"] == str((files / name).stat().st_size)
    assert response.headers["accept-ranges"] == "bytes"
    assert "content-disposition" not in response.headers


def test_file_response_sends_a_file_larger_than_its_chunks(
    new_app: NewApp, serve: Serve, files: Path
) -> None:
    response = serve(file_app(new_app, files, chunk_size=1000)).get("/files/big.bin")
    assert response.content == (files / "big.bin").read_bytes()


def test_file_response_content_type_can_be_given(
    new_app: NewApp, serve: Serve, files: Path
) -> None:
    app = file_app(new_app, files, content_type="text/markdown")
    assert serve(app).get("/files/notes.txt").headers["content-type"] == "text/markdown"


@pytest.mark.parametrize("name", ["missing.txt", "sub"])
def test_file_response_for_a_missing_file_or_a_directory_is_404(
    new_app: NewApp, serve: Serve, files: Path, name: str
) -> None:
    response = serve(file_app(new_app, files)).get(f"/files/{name}")
    assert response.status_code == 404
    assert response.json()["title"] == "Not Found"


@pytest.mark.parametrize(
    ("options", "disposition"),
    [
        ({"as_attachment": True}, 'attachment; filename="notes.txt"'),
        ({"filename": "report.txt"}, 'inline; filename="report.txt"'),
        (
            {"filename": "résumé 2024.txt", "as_attachment": True},
            "attachment; filename=\"rsum 2024.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9%202024.txt",
        ),
        (
            {"filename": "中文.txt"},
            "inline; filename=\".txt\"; filename*=UTF-8''%E4%B8%AD%E6%96%87.txt",
        ),
        (
            {"filename": 'a"b\\c.txt'},
            "inline; filename=\"abc.txt\"; filename*=UTF-8''a%22b%5Cc.txt",
        ),
    ],
)
def test_file_response_content_disposition(
    new_app: NewApp, serve: Serve, files: Path, options: dict[str, Any], disposition: str
) -> None:
    response = serve(file_app(new_app, files, **options)).get("/files/notes.txt")
    assert response.headers["content-disposition"] == disposition
    assert response.text == "hello text"


def test_file_response_head_keeps_length_and_drops_body(
    new_app: NewApp, serve: Serve, files: Path
) -> None:
    response = serve(file_app(new_app, files)).head("/files/big.bin")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(256 * 40)


def test_file_response_through_wsgi_file_wrapper(new_app: NewApp, files: Path) -> None:
    # Servers offer wsgi.file_wrapper (sendfile); httpx's transport does not, so add one.
    app = file_app(new_app, files)
    inner = app.wsgi_app

    def with_file_wrapper(environ: dict[str, Any], start_response: Any) -> Any:
        environ["wsgi.file_wrapper"] = FileWrapper
        return inner(environ, start_response)

    app.wsgi_app = with_file_wrapper
    with app.test_client() as client:
        whole = client.get("/files/big.bin")
        part = client.get("/files/big.bin", headers={"range": "bytes=10-19"})
    assert whole.content == (files / "big.bin").read_bytes()
    assert part.status_code == 206
    assert part.content == (files / "big.bin").read_bytes()[10:20]


def test_file_response_guesses_from_the_download_name(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_text("a,b")
    assert FileResponse(path, filename="table.csv").content_type == "text/csv; charset=utf-8"


def test_response_status_without_a_reason_phrase(new_app: NewApp, serve: Serve) -> None:
    response = serve(app_with(new_app, lambda request: ("odd", 599))).get("/")
    assert response.status_code == 599
    assert response.text == "odd"


def test_client_sees_headers_exactly_once(new_app: NewApp, serve: Serve) -> None:
    def view(request: qiao.Request) -> Response:
        response = Response("ok")
        response.headers.add("vary", "accept")
        response.headers.add_vary("Cookie")
        return response

    response: httpx.Response = serve(app_with(new_app, view)).get("/")
    assert response.headers.get_list("vary") == ["accept, cookie"]
    assert response.headers.get_list("content-length") == ["2"]
