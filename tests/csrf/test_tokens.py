"""Where the token comes from and what makes it valid: header, form field, masking, the cookie.

Mirrors Django's ``csrf_tests``: ``test_csrf_cookie_bad_or_missing_token``,
``test_masked_unmasked_combinations``, ``test_rotate_token_triggers_second_reset``,
``test_invalid_cookie_replaced_on_GET``, ``test_process_response_get_token_not_used``...
"""

from __future__ import annotations

import string
from typing import Any

import pytest

import qiao
from qiao.csrf import (
    CSRF,
    REASON_CSRF_TOKEN_INCORRECT,
    REASON_CSRF_TOKEN_MISSING,
    REASON_INCORRECT_LENGTH,
    REASON_INVALID_CHARACTERS,
    REASON_NO_CSRF_COOKIE,
    check_origin,
    csrf_exempt,
    get_token,
    rotate_token,
)
from tests.csrf._support import (
    FORM,
    MASKED_TEST_SECRET1,
    MASKED_TEST_SECRET2,
    OTHER_SECRET,
    TEST_SECRET,
    NewApp,
    accepted,
    cookie_value,
    csrf_app,
    refused,
    send,
    set_cookie,
)
from tests.http._support import MULTIPART, Serve, multipart, part

ALNUM = frozenset(string.ascii_letters + string.digits)


# -- where the token comes from -------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/form", "/aform"])
def test_token_in_urlencoded_field_is_accepted_and_the_view_still_reads_the_form(
    new_app: NewApp, serve: Serve, path: str
) -> None:
    client = serve(csrf_app(new_app))
    response = send(client, path=path, data={"csrfmiddlewaretoken": MASKED_TEST_SECRET2, "a": "1"})
    assert response.status_code == 200, response.text
    assert response.json()["fields"] == [["csrfmiddlewaretoken", MASKED_TEST_SECRET2], ["a", "1"]]


@pytest.mark.parametrize("path", ["/form", "/aform"])
def test_token_in_multipart_field_is_accepted_and_the_view_still_reads_the_form(
    new_app: NewApp, serve: Serve, path: str
) -> None:
    client = serve(csrf_app(new_app))
    body = multipart(
        part("title", "hello"),
        part("csrfmiddlewaretoken", MASKED_TEST_SECRET2),
        part("upload", b"\x00data", filename="a.bin", content_type="application/octet-stream"),
    )
    response = send(client, path=path, content=body, headers={"content-type": MULTIPART})
    assert response.status_code == 200, response.text
    assert response.json()["fields"] == [
        ["title", "hello"],
        ["csrfmiddlewaretoken", MASKED_TEST_SECRET2],
    ]


def test_form_content_type_with_parameters_and_capitals_is_read(
    new_app: NewApp, serve: Serve
) -> None:
    client = serve(csrf_app(new_app))
    response = send(
        client,
        content=f"csrfmiddlewaretoken={MASKED_TEST_SECRET2}".encode(),
        headers={"content-type": "Application/X-WWW-Form-Urlencoded; charset=utf-8"},
    )
    accepted(response)


def test_token_in_header_is_accepted(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app))
    accepted(send(client, token=MASKED_TEST_SECRET2))


def test_header_name_is_case_insensitive(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app))
    accepted(send(client, token=MASKED_TEST_SECRET2, header="x-csrftoken"))


def test_custom_header_name(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app, CSRF_HEADER_NAME="X-XSRF-TOKEN"))
    accepted(send(client, token=MASKED_TEST_SECRET2, header="X-XSRF-TOKEN"))
    refused(send(client, token=MASKED_TEST_SECRET2), REASON_CSRF_TOKEN_MISSING)
    # Django's test_csrf_cookie_bad_token_custom_header
    refused(send(client, token=16 * "a", header="X-XSRF-TOKEN"), REASON_INCORRECT_LENGTH)


def test_custom_field_name(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app, options={"field_name": "_csrf"}))
    accepted(send(client, data={"_csrf": MASKED_TEST_SECRET2}))
    refused(
        send(client, data={"csrfmiddlewaretoken": MASKED_TEST_SECRET2}), REASON_CSRF_TOKEN_MISSING
    )


def test_header_is_read_before_the_form_field(new_app: NewApp, serve: Serve) -> None:
    """A wrong header token is not rescued by a right field (nor the other way round)."""
    client = serve(csrf_app(new_app))
    response = send(
        client, token=64 * "a", path="/form", data={"csrfmiddlewaretoken": MASKED_TEST_SECRET2}
    )
    refused(response, REASON_CSRF_TOKEN_INCORRECT)
    response = send(client, token=MASKED_TEST_SECRET2, data={"csrfmiddlewaretoken": "bad"})
    accepted(response)


def test_repeated_form_field_uses_the_first_value(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app))
    good, bad = MASKED_TEST_SECRET2, 64 * "a"
    headers = {"content-type": FORM}
    body = f"csrfmiddlewaretoken={good}&csrfmiddlewaretoken={bad}".encode()
    accepted(send(client, content=body, headers=headers))
    body = f"csrfmiddlewaretoken={bad}&csrfmiddlewaretoken={good}".encode()
    refused(send(client, content=body, headers=headers), REASON_CSRF_TOKEN_INCORRECT)


def test_token_in_a_json_body_is_not_read(new_app: NewApp, serve: Serve) -> None:
    """Only the header and a form field carry the token: JSON clients send the header."""
    client = serve(csrf_app(new_app))
    response = send(client, json={"csrfmiddlewaretoken": MASKED_TEST_SECRET2})
    refused(response, REASON_CSRF_TOKEN_MISSING)
    accepted(send(client, token=MASKED_TEST_SECRET2, json={"a": 1}))


def test_token_in_the_query_string_is_not_read(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app))
    response = send(client, path=f"/submit?csrfmiddlewaretoken={MASKED_TEST_SECRET2}")
    refused(response, REASON_CSRF_TOKEN_MISSING)


def test_token_as_a_file_part_is_missing(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app))
    body = multipart(part("csrfmiddlewaretoken", MASKED_TEST_SECRET2, filename="t.txt"))
    refused(
        send(client, content=body, headers={"content-type": MULTIPART}), REASON_CSRF_TOKEN_MISSING
    )


def test_surrounding_whitespace_is_ignored(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app))
    accepted(send(client, data={"csrfmiddlewaretoken": f"  {MASKED_TEST_SECRET2}\t"}))


# -- what is refused ------------------------------------------------------------------------------
def test_missing_cookie_is_refused(new_app: NewApp, serve: Serve) -> None:
    """Django's test_no_csrf_cookie: this also stops login CSRF."""
    client = serve(csrf_app(new_app))
    refused(send(client, cookie=None, token=MASKED_TEST_SECRET2), REASON_NO_CSRF_COOKIE)


@pytest.mark.parametrize("sent", [None, ""], ids=["absent", "empty"])
@pytest.mark.parametrize("where", ["header", "field"])
def test_missing_token_is_refused(
    new_app: NewApp, serve: Serve, sent: str | None, where: str
) -> None:
    client = serve(csrf_app(new_app))
    if where == "header":
        response = send(client, token=sent)
    else:
        fields = {"a": "1"} if sent is None else {"csrfmiddlewaretoken": sent}
        response = send(client, data=fields)
    refused(response, REASON_CSRF_TOKEN_MISSING)


BAD_TOKENS = [
    (64 * "a", REASON_CSRF_TOKEN_INCORRECT),
    (32 * "a", REASON_CSRF_TOKEN_INCORRECT),
    (16 * "a", REASON_INCORRECT_LENGTH),
    (33 * "a", REASON_INCORRECT_LENGTH),
    (63 * "a", REASON_INCORRECT_LENGTH),
    (65 * "a", REASON_INCORRECT_LENGTH),
    (1000 * "a", REASON_INCORRECT_LENGTH),
    (64 * "*", REASON_INVALID_CHARACTERS),
    (MASKED_TEST_SECRET2[:-1] + "-", REASON_INVALID_CHARACTERS),
    (TEST_SECRET[:-1] + "=", REASON_INVALID_CHARACTERS),
]


@pytest.mark.parametrize(("token", "reason"), BAD_TOKENS, ids=lambda v: repr(v)[:20])
@pytest.mark.parametrize("where", ["header", "field"])
def test_bad_token_is_refused_with_its_reason(
    new_app: NewApp, serve: Serve, token: str, reason: str, where: str
) -> None:
    client = serve(csrf_app(new_app))
    if where == "header":
        response = send(client, token=token)
    else:
        response = send(client, data={"csrfmiddlewaretoken": token})
    refused(response, reason)


def test_token_made_from_another_secret_is_refused(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app))
    other = client.get("/token", headers={"cookie": f"csrftoken={OTHER_SECRET}"}).text
    refused(send(client, token=other), REASON_CSRF_TOKEN_INCORRECT)
    accepted(send(client, cookie=OTHER_SECRET, token=other))


# -- masking --------------------------------------------------------------------------------------
MASKED_UNMASKED = [
    (TEST_SECRET, TEST_SECRET),
    (TEST_SECRET, MASKED_TEST_SECRET2),
    (MASKED_TEST_SECRET1, TEST_SECRET),
    (MASKED_TEST_SECRET1, MASKED_TEST_SECRET2),
]


@pytest.mark.parametrize(("cookie", "token"), MASKED_UNMASKED)
@pytest.mark.parametrize("where", ["header", "field"])
def test_masked_and_unmasked_cookies_and_tokens_combine(
    new_app: NewApp, serve: Serve, cookie: str, token: str, where: str
) -> None:
    """Django's test_masked_unmasked_combinations, with Django's own vectors: a 32-char secret or
    a 64-char masked cookie (Django <= 4.0) against an unmasked or masked token."""
    client = serve(csrf_app(new_app))
    if where == "header":
        accepted(send(client, cookie=cookie, token=token))
    else:
        accepted(send(client, cookie=cookie, data={"csrfmiddlewaretoken": token}))


def test_masked_tokens_differ_per_call_and_all_validate(new_app: NewApp, serve: Serve) -> None:
    app = new_app()
    CSRF(app)

    @app.get("/tokens")
    def tokens(request: qiao.Request) -> list[str]:
        return [get_token(request) for _ in range(5)]

    @app.post("/submit")
    def submit(request: qiao.Request) -> str:
        return "ok"

    client = serve(app)
    response = client.get("/tokens")
    made = response.json()
    secret = cookie_value(response)
    assert secret is not None
    assert len(secret) == 32
    assert ALNUM.issuperset(secret)
    assert len(set(made)) == 5, "each call masks afresh (BREACH)"
    for token in made:
        assert len(token) == 64
        assert ALNUM.issuperset(token)
        assert secret not in token
        accepted(send(client, cookie=secret, token=token))


def test_page_tokens_validate_with_the_issued_cookie(new_app: NewApp, serve: Serve) -> None:
    """The whole flow with the client's cookie jar: GET a page, POST its token."""
    client = serve(csrf_app(new_app))
    first = client.get("/token")
    token = first.text
    accepted(client.post("/submit", headers={"x-csrftoken": token}))
    accepted(client.post("/submit", data={"csrfmiddlewaretoken": token}))
    first_secret = cookie_value(first)
    second = client.get("/token")
    assert cookie_value(second) == first_secret, "a valid secret is kept (re-sent to renew it)"
    accepted(client.post("/submit", headers={"x-csrftoken": second.text}))


def test_rotate_token_invalidates_tokens_of_the_old_secret(new_app: NewApp, serve: Serve) -> None:
    """Django's test_rotate_token_triggers_second_reset: on login the secret changes."""
    app = csrf_app(new_app)

    @app.post("/login")
    def login(request: qiao.Request) -> str:
        rotate_token(request)
        return "logged in"

    client = serve(app)
    first = client.get("/token")
    old_token, old_secret = first.text, cookie_value(first)
    response = client.post("/login", headers={"x-csrftoken": old_token})
    assert response.status_code == 200
    new_secret = cookie_value(response)
    assert new_secret is not None
    assert new_secret != old_secret
    assert len(new_secret) == 32
    refused(client.post("/submit", headers={"x-csrftoken": old_token}), REASON_CSRF_TOKEN_INCORRECT)
    new_token = client.get("/token").text
    accepted(client.post("/submit", headers={"x-csrftoken": new_token}))


def test_tokens_rendered_after_rotate_token_use_the_new_secret(
    new_app: NewApp, serve: Serve
) -> None:
    app = new_app()
    CSRF(app)

    @app.post("/login")
    def login(request: qiao.Request) -> str:
        rotate_token(request)
        return get_token(request)

    @app.post("/submit")
    def submit(request: qiao.Request) -> str:
        return "ok"

    client = serve(app)
    response = send(client, path="/login", token=MASKED_TEST_SECRET2)
    new_secret = cookie_value(response)
    assert new_secret is not None
    assert new_secret != TEST_SECRET
    accepted(send(client, cookie=new_secret, token=response.text))


# -- the cookie -----------------------------------------------------------------------------------
def test_no_cookie_is_set_unless_a_token_is_rendered(new_app: NewApp, serve: Serve) -> None:
    """Django's test_process_response_get_token_not_used: pages stay cacheable."""
    client = serve(csrf_app(new_app))
    response = client.get("/plain")
    assert set_cookie(response) is None
    assert "vary" not in response.headers


def test_first_token_sets_a_new_secret_cookie(new_app: NewApp, serve: Serve) -> None:
    """Django's test_token_node_no_csrf_cookie / test_token_node_with_new_csrf_cookie."""
    client = serve(csrf_app(new_app))
    response = client.get("/token")
    secret = cookie_value(response)
    assert secret is not None
    assert len(secret) == 32
    assert ALNUM.issuperset(secret)
    accepted(send(client, cookie=secret, token=response.text))


def test_valid_cookie_is_kept(new_app: NewApp, serve: Serve) -> None:
    """Django's test_cookie_not_reset_on_accepted_request."""
    client = serve(csrf_app(new_app))
    response = client.get("/token", headers={"cookie": f"csrftoken={TEST_SECRET}"})
    assert cookie_value(response) == TEST_SECRET  # the same secret, re-sent to renew it
    accepted(send(client, token=response.text))


MALFORMED_COOKIES = [
    "",
    "badvalue",
    16 * "a",
    33 * "a",
    64 * "*",
    "!@#" + TEST_SECRET[3:],
    "x" * 500,
]


@pytest.mark.parametrize("cookie", MALFORMED_COOKIES, ids=lambda v: repr(v)[:20])
def test_malformed_cookie_is_treated_as_missing(new_app: NewApp, serve: Serve, cookie: str) -> None:
    """Django's test_bad_csrf_cookie_characters / _length (qiao answers "not set")."""
    client = serve(csrf_app(new_app))
    refused(send(client, cookie=cookie, token=MASKED_TEST_SECRET2), REASON_NO_CSRF_COOKIE)


@pytest.mark.parametrize("cookie", MALFORMED_COOKIES, ids=lambda v: repr(v)[:20])
def test_malformed_cookie_is_replaced_when_a_token_is_rendered(
    new_app: NewApp, serve: Serve, cookie: str
) -> None:
    """Django's test_invalid_cookie_replaced_on_GET, test_process_view_token_too_long and
    test_process_view_token_invalid_chars."""
    client = serve(csrf_app(new_app))
    response = client.get("/token", headers={"cookie": f"csrftoken={cookie}"})
    secret = cookie_value(response)
    assert secret is not None
    assert secret != cookie
    assert len(secret) == 32
    accepted(send(client, cookie=secret, token=response.text))


def test_masked_cookie_renders_tokens_of_its_secret(new_app: NewApp, serve: Serve) -> None:
    """A Django <= 4.0 masked cookie keeps working across an upgrade: its tokens validate."""
    client = serve(csrf_app(new_app))
    response = client.get("/token", headers={"cookie": f"csrftoken={MASKED_TEST_SECRET1}"})
    accepted(send(client, cookie=TEST_SECRET, token=response.text))


def test_custom_cookie_name(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app, CSRF_COOKIE_NAME="xsrf"))
    response = client.get("/token")
    assert set_cookie(response, "xsrf") is not None
    assert set_cookie(response) is None
    accepted(client.post("/submit", headers={"x-csrftoken": response.text}))
    # a secret under the default name is not this app's cookie
    refused(send(client, token=MASKED_TEST_SECRET2), REASON_NO_CSRF_COOKIE)


def test_rendering_a_token_renews_the_cookie_expiry(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app, CSRF_COOKIE_AGE=3600))
    response = client.get("/token", headers={"cookie": f"csrftoken={TEST_SECRET}"})
    assert cookie_value(response) == TEST_SECRET


def test_get_token_works_in_an_exempt_view(new_app: NewApp, serve: Serve) -> None:
    """Django's test_get_token_for_exempt_view."""
    app = new_app()
    CSRF(app)

    @app.post("/exempt")
    @csrf_exempt
    def exempt(request: qiao.Request) -> str:
        return get_token(request)

    client = serve(app)
    response = send(client, path="/exempt")
    assert response.status_code == 200
    assert cookie_value(response) in (None, TEST_SECRET), "the client's valid secret is kept"
    assert len(response.text) == 64


# -- without the battery --------------------------------------------------------------------------
@pytest.mark.parametrize("func", [get_token, rotate_token, check_origin])
def test_functions_without_the_battery_say_how_to_install_it(
    new_app: NewApp, serve: Serve, func: Any
) -> None:
    app = new_app()

    @app.get("/")
    def view(request: qiao.Request) -> str:
        with pytest.raises(qiao.ImproperlyConfigured) as info:
            func(request)
        return str(info.value)

    response = serve(app).get("/")
    assert response.status_code == 200
    assert "qiao.csrf.CSRF(app)" in response.text


def test_tokens_rendered_by_an_error_handler_share_one_secret(
    new_app: NewApp, serve: Serve
) -> None:
    """Django's test_csrf_token_on_404_stays_constant: a 404 page with a form works too."""
    app = csrf_app(new_app)

    @app.errorhandler(404)
    def not_found(request: qiao.Request, exc: Exception) -> tuple[str, int]:
        return get_token(request), 404

    client = serve(app)
    first = client.get("/missing")
    second = client.get("/missing")
    assert first.status_code == second.status_code == 404
    assert first.text != second.text
    secret = cookie_value(first)
    assert secret is not None
    assert cookie_value(second) == secret  # the same secret, renewed
    accepted(send(client, cookie=secret, token=first.text))
    accepted(send(client, cookie=secret, token=second.text))


def test_host_prefixed_cookie_name_on_https(new_app: NewApp, serve: Serve) -> None:
    """``__Host-csrftoken``: browsers refuse it from a subdomain (no cookie tossing)."""
    client = serve(
        csrf_app(new_app, CSRF_COOKIE_NAME="__Host-csrftoken"), base_url="https://testserver"
    )
    response = client.get("/token")
    header = set_cookie(response, "__Host-csrftoken")
    assert header is not None
    assert "Secure" in header
    assert "Path=/" in header
    assert "Domain" not in header
    headers = {"x-csrftoken": response.text, "origin": "https://testserver"}
    accepted(client.post("/submit", headers=headers))
