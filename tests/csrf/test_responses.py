"""What CSRF puts on responses: the cookie's attributes, ``Vary``, and the failure answer (status,
body, log record, custom handlers), including bodies that cannot be read.

Mirrors Django's ``test_csrf_cookie_age``, ``test_csrf_cookie_samesite``,
``test_ensures_csrf_cookie_*`` (Vary) and the logging assertions of its failure tests.
"""

from __future__ import annotations

import logging

import pytest

import qiao
from qiao.csrf import (
    REASON_BAD_ORIGIN,
    REASON_CSRF_TOKEN_INCORRECT,
    REASON_CSRF_TOKEN_MISSING,
    REASON_NO_CSRF_COOKIE,
    CSRFError,
)
from tests.csrf._support import (
    FORM,
    MASKED_TEST_SECRET2,
    NewApp,
    accepted,
    cookie_attributes,
    csrf_app,
    send,
    vary,
)
from tests.http._support import MULTIPART, Serve, chunks, multipart, part, problem


# -- the cookie -----------------------------------------------------------------------------------
def test_cookie_defaults(new_app: NewApp, serve: Serve) -> None:
    response = serve(csrf_app(new_app)).get("/token")
    assert cookie_attributes(response) == {
        "max-age": "31449600",
        "path": "/",
        "httponly": "",
        "samesite": "Lax",
    }


def test_cookie_is_secure_on_https(new_app: NewApp, serve: Serve) -> None:
    response = serve(csrf_app(new_app), base_url="https://testserver").get("/token")
    assert "secure" in cookie_attributes(response)


@pytest.mark.parametrize(
    ("setting", "base_url", "secure"),
    [(True, "http://testserver", True), (False, "https://testserver", False)],
)
def test_cookie_secure_setting_overrides_the_scheme(
    new_app: NewApp, serve: Serve, setting: bool, base_url: str, *, secure: bool
) -> None:
    app = csrf_app(new_app, CSRF_COOKIE_SECURE=setting)
    response = serve(app, base_url=base_url).get("/token")
    assert ("secure" in cookie_attributes(response)) is secure


def test_cookie_readable_by_javascript_when_httponly_is_off(new_app: NewApp, serve: Serve) -> None:
    response = serve(csrf_app(new_app, CSRF_COOKIE_HTTPONLY=False)).get("/token")
    assert "httponly" not in cookie_attributes(response)


def test_cookie_settings(new_app: NewApp, serve: Serve) -> None:
    """Django's test_csrf_cookie_age (with its companion settings) and test_csrf_cookie_samesite."""
    app = csrf_app(
        new_app,
        CSRF_COOKIE_NAME="csrfcookie",
        CSRF_COOKIE_DOMAIN=".example.com",
        CSRF_COOKIE_AGE=123,
        CSRF_COOKIE_PATH="/test/",
        CSRF_COOKIE_SAMESITE="Strict",
    )
    response = serve(app, base_url="https://www.example.com").get("/token")
    assert cookie_attributes(response, "csrfcookie") == {
        "max-age": "123",
        "domain": ".example.com",
        "path": "/test/",
        "secure": "",
        "httponly": "",
        "samesite": "Strict",
    }


@pytest.mark.parametrize(("setting", "sent"), [("None", "None"), (None, None), ("lax", "Lax")])
def test_cookie_samesite_values(
    new_app: NewApp, serve: Serve, setting: str | None, sent: str | None
) -> None:
    app = csrf_app(new_app, CSRF_COOKIE_SAMESITE=setting)
    response = serve(app, base_url="https://testserver").get("/token")
    assert cookie_attributes(response).get("samesite") == sent


@pytest.mark.parametrize("value", ["Bogus", "None"])
def test_bad_samesite_fails_at_compile(new_app: NewApp, value: str) -> None:
    app = csrf_app(new_app, CSRF_COOKIE_SAMESITE=value, CSRF_COOKIE_SECURE=False)
    with pytest.raises(qiao.ImproperlyConfigured, match="CSRF_COOKIE_SAMESITE"):
        app.compile()


def test_cookie_age_none_makes_a_session_cookie(new_app: NewApp, serve: Serve) -> None:
    response = serve(csrf_app(new_app, CSRF_COOKIE_AGE=None)).get("/token")
    assert "max-age" not in cookie_attributes(response)


# -- Vary -----------------------------------------------------------------------------------------
def test_a_response_that_rendered_a_token_varies_on_cookie(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app))
    assert "cookie" in vary(client.get("/token"))
    assert "cookie" in vary(client.get("/token", headers={"cookie": "csrftoken=" + 32 * "a"}))
    assert "vary" not in client.get("/plain").headers


def test_checked_unsafe_requests_vary_on_cookie_and_origin(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app))
    for response in (
        send(client, token=MASKED_TEST_SECRET2),
        send(client, cookie=None),
        send(client, headers={"origin": "https://evil.example"}),
    ):
        assert {"cookie", "origin"} <= vary(response), response.headers


# -- failures -------------------------------------------------------------------------------------
def test_failure_is_a_problem_json_403_for_api_clients(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app))
    response = send(client, cookie=None, headers={"accept": "application/json"})
    detail = problem(response, 403)
    assert detail == f"CSRF verification failed: {REASON_NO_CSRF_COOKIE}"
    assert response.json()["title"] == "Forbidden"


def test_failure_is_an_html_page_for_browsers(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app))
    origin = "https://<b>evil</b>.example"
    response = send(client, headers={"accept": "text/html,*/*", "origin": origin})
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "CSRF verification failed" in response.text
    assert "&lt;b&gt;evil&lt;/b&gt;" in response.text
    assert "<b>" not in response.text


def test_debug_adds_help_to_the_failure(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app, DEBUG=True))
    detail = problem(send(client), 403)
    assert detail.startswith(f"CSRF verification failed: {REASON_CSRF_TOKEN_MISSING} ")
    for hint in ("X-CSRFToken", "CSRF_TRUSTED_ORIGINS", "@csrf_exempt", "{% csrf_token %}"):
        assert hint in detail
    assert "CSRF_TRUSTED_ORIGINS" not in problem(send(serve(csrf_app(new_app))), 403)


def test_failure_is_logged_with_its_reason(
    new_app: NewApp, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    """Django logs 'Forbidden (<reason>): <path>' on django.security.csrf."""
    client = serve(csrf_app(new_app))
    with caplog.at_level(logging.WARNING, logger="qiao.csrf"):
        send(client, "PUT", token=64 * "a")
    records = [r for r in caplog.records if r.name == "qiao.csrf"]
    assert len(records) == 1
    assert records[0].levelno == logging.WARNING
    assert records[0].getMessage() == f"Forbidden ({REASON_CSRF_TOKEN_INCORRECT}): PUT /submit"


def test_accepted_and_exempt_requests_log_nothing(
    new_app: NewApp, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    client = serve(csrf_app(new_app))
    with caplog.at_level(logging.DEBUG, logger="qiao.csrf"):
        accepted(send(client, token=MASKED_TEST_SECRET2))
        client.get("/token")
    assert [r for r in caplog.records if r.name == "qiao.csrf"] == []


def test_custom_error_handler_for_csrf_errors(new_app: NewApp, serve: Serve) -> None:
    app = csrf_app(new_app)

    @app.errorhandler(CSRFError)
    def csrf_failed(request: qiao.Request, exc: CSRFError) -> tuple[dict[str, str], int]:
        return {"error": "csrf", "reason": exc.reason}, 419

    client = serve(app)
    response = send(client, headers={"origin": "https://evil.example"})
    assert response.status_code == 419
    assert response.json() == {
        "error": "csrf",
        "reason": REASON_BAD_ORIGIN.format("https://evil.example"),
    }


def test_csrf_error_is_a_forbidden(new_app: NewApp, serve: Serve) -> None:
    """Handlers for 403 (or ``Forbidden``) catch CSRF failures too."""
    app = csrf_app(new_app)

    @app.errorhandler(403)
    def forbidden(request: qiao.Request, exc: qiao.Forbidden) -> tuple[str, int]:
        assert isinstance(exc, CSRFError)
        return f"no: {exc.reason}", 403

    response = send(serve(app), cookie=None)
    assert response.status_code == 403
    assert response.text == f"no: {REASON_NO_CSRF_COOKIE}"


# -- bodies that cannot be read -------------------------------------------------------------------
def test_form_body_over_the_limit_is_413(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app, MAX_BODY_SIZE=100))
    response = send(client, content=b"a=" + b"x" * 200, headers={"content-type": FORM})
    problem(response, 413)


def test_chunked_form_body_over_the_limit_is_413(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app, MAX_BODY_SIZE=100))
    body = chunks(b"a=" + b"x" * 60, b"x" * 60)
    response = send(client, content=body, headers={"content-type": FORM})
    problem(response, 413)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b"--x\r\n"),
        (MULTIPART, b"not multipart at all"),
        (MULTIPART, multipart(part("a", "1"))[:-8]),
    ],
    ids=["no-boundary", "garbage", "truncated"],
)
def test_malformed_form_body_is_400(
    new_app: NewApp, serve: Serve, content_type: str, body: bytes
) -> None:
    client = serve(csrf_app(new_app))
    problem(send(client, content=body, headers={"content-type": content_type}), 400)


def test_too_many_form_fields_is_400(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app, MAX_FORM_FIELDS=2))
    body = b"a=1&b=2&c=3&csrfmiddlewaretoken=" + MASKED_TEST_SECRET2.encode()
    problem(send(client, content=body, headers={"content-type": FORM}), 400)


def test_bad_content_length_is_400(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app))
    headers = {"content-type": FORM, "content-length": "12abc"}
    assert send(client, content=b"a=1", headers=headers).status_code == 400


def test_header_token_means_the_body_is_never_read(new_app: NewApp, serve: Serve) -> None:
    """A JSON API with the header token: a form-typed body over the limit is the view's business."""
    app = csrf_app(new_app, MAX_BODY_SIZE=100)

    @app.post("/raw")
    def raw(request: qiao.Request) -> str:
        return "not read"

    response = send(
        serve(app),
        path="/raw",
        token=MASKED_TEST_SECRET2,
        content=b"a=" + b"x" * 200,
        headers={"content-type": FORM},
    )
    accepted(response, "not read")


def test_view_can_read_the_raw_body_after_the_form_token(new_app: NewApp, serve: Serve) -> None:
    app = csrf_app(new_app)

    @app.post("/raw")
    def raw(request: qiao.Request) -> bytes:
        return request.body()

    body = f"csrfmiddlewaretoken={MASKED_TEST_SECRET2}&a=1".encode()
    response = send(serve(app), path="/raw", content=body, headers={"content-type": FORM})
    assert response.status_code == 200
    assert response.content == body


def test_checked_requests_that_render_no_token_send_no_cookie(
    new_app: NewApp, serve: Serve
) -> None:
    """csrf.md: pages that render no token set no cookie; a 403 or an accepted post neither."""
    client = serve(csrf_app(new_app))
    refused = send(client, token="x" * 64)
    assert refused.status_code == 403
    assert "set-cookie" not in refused.headers
    assert "cookie" in vary(refused)
    ok = send(client, token=MASKED_TEST_SECRET2)
    accepted(ok)
    assert "set-cookie" not in ok.headers
