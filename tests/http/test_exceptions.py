"""HTTP exceptions, ``abort``, and the default error responses (problem+json, HTML, debug)."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

import pytest

import qiao
from qiao.http import exceptions
from tests.http._support import NewApp, Serve, qiao_errors

HTML = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


# -- the classes ---------------------------------------------------------------------------------

# The phrases come from the standard library (they changed in 3.13: 413 "Content Too Large").
STATUS_CLASSES = [
    (cls, status, HTTPStatus(status).phrase)
    for cls, status in [
        (qiao.BadRequest, 400),
        (qiao.Unauthorized, 401),
        (qiao.Forbidden, 403),
        (qiao.NotFound, 404),
        (qiao.NotAcceptable, 406),
        (qiao.Conflict, 409),
        (qiao.Gone, 410),
        (qiao.PayloadTooLarge, 413),
        (qiao.URITooLong, 414),
        (qiao.UnsupportedMediaType, 415),
        (qiao.RangeNotSatisfiable, 416),
        (qiao.UnprocessableEntity, 422),
        (qiao.TooManyRequests, 429),
        (qiao.RequestHeaderFieldsTooLarge, 431),
        (qiao.InternalServerError, 500),
        (qiao.ServiceUnavailable, 503),
    ]
]


@pytest.mark.parametrize(("cls", "status", "phrase"), STATUS_CLASSES)
def test_status_classes(cls: type[qiao.HTTPException], status: int, phrase: str) -> None:
    exc = cls()
    assert isinstance(exc, qiao.HTTPException)
    assert exc.status_code == status
    assert exc.detail == phrase
    assert exc.title == phrase
    assert exc.headers == []
    assert str(exc) == phrase
    assert repr(exc) == f"{cls.__name__}({status}, {phrase!r})"


@pytest.mark.parametrize(("cls", "status", "phrase"), STATUS_CLASSES)
def test_abort_raises_the_class_for_the_status(
    cls: type[qiao.HTTPException], status: int, phrase: str
) -> None:
    with pytest.raises(cls) as info:
        qiao.abort(status, "why", {"x-a": "1"})
    assert type(info.value) is cls
    assert info.value.status_code == status
    assert info.value.detail == "why"
    assert info.value.headers == [("x-a", "1")]


@pytest.mark.parametrize(("status", "phrase"), [(418, "I'm a Teapot"), (599, "Unknown")])
def test_abort_with_a_status_without_a_class(status: int, phrase: str) -> None:
    with pytest.raises(qiao.HTTPException) as info:
        qiao.abort(status)
    assert type(info.value) is qiao.HTTPException
    assert info.value.status_code == status
    assert info.value.detail == phrase


def test_http_exception_arguments() -> None:
    exc = qiao.HTTPException(402, "pay up", [("x-a", "1"), ("x-a", "2")])
    assert (exc.status_code, exc.detail, exc.title) == (402, "pay up", "Payment Required")
    assert exc.headers == [("x-a", "1"), ("x-a", "2")]
    assert qiao.HTTPException().status_code == 500
    assert qiao.NotFound("no such user", {"x-b": "1"}).headers == [("x-b", "1")]


def test_method_not_allowed_fills_allow() -> None:
    exc = qiao.MethodNotAllowed(["POST", "GET", "GET"])
    assert exc.status_code == 405
    assert exc.allowed == ["GET", "POST"]
    assert exc.headers == [("allow", "GET, POST")]


def test_improperly_configured_is_not_an_http_error() -> None:
    assert not issubclass(qiao.ImproperlyConfigured, qiao.HTTPException)


def test_every_exported_http_exception_is_in_the_package() -> None:
    exported = {name for name in exceptions.__all__ if name not in ("abort", "status_phrase")}
    assert exported <= set(qiao.__all__)


# -- the default responses -----------------------------------------------------------------------


def raising_app(new_app: NewApp, exc: Exception, **config: Any) -> qiao.App:
    app = new_app(**config)

    @app.get("/raise")
    def raise_it(request: qiao.Request) -> str:
        raise exc

    @app.get("/abort/<int:status>")
    async def abort_it(request: qiao.Request, status: int) -> str:
        qiao.abort(status, "<b>bold</b> & detail")

    return app


def test_http_errors_are_problem_json_for_api_clients(
    new_app: NewApp, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    client = serve(raising_app(new_app, qiao.NotFound("No user 42.")))
    response = client.get("/raise", headers={"accept": "application/json"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "No user 42.",
    }
    assert qiao_errors(caplog.records) == [], "HTTP errors are answers, not server failures"


def test_http_errors_without_accept_are_json(new_app: NewApp, serve: Serve) -> None:
    response = serve(raising_app(new_app, qiao.Forbidden())).get("/raise")
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "Forbidden"


def test_http_errors_are_html_for_browsers(new_app: NewApp, serve: Serve) -> None:
    response = serve(raising_app(new_app, qiao.Gone())).get("/abort/410", headers=HTML)
    assert response.status_code == 410
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>410 Gone</title>" in response.text
    assert "<h1>410 Gone</h1>" in response.text
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; detail" in response.text
    assert "<b>bold</b>" not in response.text


def test_abort_with_an_unnamed_status(new_app: NewApp, serve: Serve) -> None:
    response = serve(raising_app(new_app, ValueError())).get("/abort/418")
    assert response.status_code == 418
    assert response.json()["title"] == "I'm a Teapot"
    assert response.json()["detail"] == "<b>bold</b> & detail"


@pytest.mark.parametrize(
    ("exc", "header", "value"),
    [
        (
            qiao.Unauthorized(headers={"WWW-Authenticate": 'Bearer realm="api"'}),
            "www-authenticate",
            'Bearer realm="api"',
        ),
        (qiao.TooManyRequests(headers=[("Retry-After", "30")]), "retry-after", "30"),
        (qiao.ServiceUnavailable(headers={"retry-after": "120"}), "retry-after", "120"),
    ],
)
@pytest.mark.parametrize("accept", ["application/json", "text/html"])
def test_exception_headers_reach_the_response(
    new_app: NewApp, serve: Serve, exc: qiao.HTTPException, header: str, value: str, accept: str
) -> None:
    response = serve(raising_app(new_app, exc)).get("/raise", headers={"accept": accept})
    assert response.status_code == exc.status_code
    assert response.headers[header] == value


def test_unknown_path_and_wrong_method(new_app: NewApp, serve: Serve) -> None:
    client = serve(raising_app(new_app, ValueError()))
    missing = client.get("/nowhere")
    assert missing.status_code == 404
    assert missing.json()["title"] == "Not Found"
    wrong = client.delete("/raise")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET, HEAD, OPTIONS"


def test_error_handlers_replace_the_default_response(new_app: NewApp, serve: Serve) -> None:
    app = raising_app(new_app, KeyError("k"))

    @app.errorhandler(404)
    def not_found(request: qiao.Request, exc: qiao.HTTPException) -> Any:
        return {"missing": request.path, "detail": exc.detail}, 404

    @app.errorhandler(KeyError)
    async def key_error(request: qiao.Request, exc: KeyError) -> Any:
        return "no such key", 400

    client = serve(app)
    assert client.get("/nowhere").json() == {"missing": "/nowhere", "detail": "Not Found"}
    response = client.get("/raise")
    assert (response.status_code, response.text) == (400, "no such key")


# -- server errors -------------------------------------------------------------------------------

SECRET = "db password is hunter2"


def test_server_error_in_production_hides_the_exception(
    new_app: NewApp, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    response = serve(raising_app(new_app, RuntimeError(SECRET))).get("/raise")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    request_id = response.headers["x-request-id"]
    assert body == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "The server failed to answer this request.",
        "request_id": request_id,
    }
    assert SECRET not in response.text
    assert "Traceback" not in response.text
    assert len(qiao_errors(caplog.records)) == 1


def test_server_error_page_in_production_hides_the_exception(
    new_app: NewApp, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    response = serve(raising_app(new_app, RuntimeError(SECRET))).get("/raise", headers=HTML)
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>500 Internal Server Error</h1>" in response.text
    assert f"Request id {response.headers['x-request-id']}" in response.text
    assert SECRET not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text
    assert len(qiao_errors(caplog.records)) == 1


def test_http_internal_server_error_is_not_logged_as_a_crash(
    new_app: NewApp, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    response = serve(raising_app(new_app, qiao.InternalServerError("maintenance"))).get("/raise")
    assert response.status_code == 500
    assert response.json()["detail"] == "maintenance"
    assert qiao_errors(caplog.records) == []


def test_debug_server_error_shows_the_traceback_as_json(
    new_app: NewApp, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    app = raising_app(new_app, RuntimeError(SECRET), DEBUG=True)
    response = serve(app).get("/raise")
    assert response.status_code == 500
    body = response.json()
    assert body["exception"] == f"RuntimeError: {SECRET}"
    assert body["traceback"][0] == "Traceback (most recent call last):"
    assert any("raise_it" in line for line in body["traceback"])
    assert body["traceback"][-1] == f"RuntimeError: {SECRET}"
    assert body["request_id"] == response.headers["x-request-id"]
    assert len(qiao_errors(caplog.records)) == 1


def test_debug_server_error_shows_the_traceback_as_html(
    new_app: NewApp, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    app = raising_app(new_app, RuntimeError("<script>alert(1)</script>"), DEBUG=True)
    response = serve(app).get("/raise", headers=HTML)
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    text = response.text
    assert "<pre>Traceback (most recent call last):" in text
    assert "raise_it" in text
    assert "RuntimeError: &lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<script>" not in text
    assert "Request GET /raise" in text
    assert "shown because DEBUG is on" in text
    assert len(qiao_errors(caplog.records)) == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_unhandled_exception_is_logged_once_with_the_request_id(
    new_app: NewApp, serve: Serve, caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    app = new_app()
    if mode == "sync":

        @app.get("/boom")
        def boom(request: qiao.Request) -> str:
            raise ZeroDivisionError("boom")
    else:

        @app.get("/boom")
        async def boom(request: qiao.Request) -> str:
            raise ZeroDivisionError("boom")

    client = serve(app)
    response = client.get("/boom")
    request_id = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    [record] = qiao_errors(caplog.records)
    assert record.getMessage() == f"Unhandled exception in GET /boom (request id {request_id})"
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ZeroDivisionError)

    caplog.clear()
    given = client.get("/boom", headers={"x-request-id": "trace-abc.123"})
    assert given.headers["x-request-id"] == "trace-abc.123"
    [record] = qiao_errors(caplog.records)
    assert "(request id trace-abc.123)" in record.getMessage()


def test_failing_error_handler_gives_a_logged_500(
    new_app: NewApp, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    app = raising_app(new_app, KeyError("k"))

    @app.errorhandler(KeyError)
    def broken(request: qiao.Request, exc: KeyError) -> str:
        raise ValueError("the handler failed too")

    response = serve(app).get("/raise")
    assert response.status_code == 500
    [record] = qiao_errors(caplog.records)
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ValueError)


def test_failing_after_request_hook_gives_a_logged_500(
    new_app: NewApp, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    app = raising_app(new_app, KeyError("k"))

    @app.after_request
    def after(request: qiao.Request, response: qiao.Response) -> None:
        raise RuntimeError("after hook")

    @app.get("/fine")
    def fine(request: qiao.Request) -> str:
        return "fine"

    response = serve(app).get("/fine")
    assert response.status_code == 500
    assert "x-request-id" in response.headers
    assert len(qiao_errors(caplog.records)) == 1
