"""Cookies: parsing the ``Cookie`` header, building ``Set-Cookie``, and the round trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from http.cookies import SimpleCookie
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qiao
from qiao.http.cookies import build_set_cookie, parse_cookie_header
from tests.http._support import NewApp, Serve

# -- parse_cookie_header -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", {}),
        ("a=1", {"a": "1"}),
        ("a=1; b=2", {"a": "1", "b": "2"}),
        ("a=1;b=2", {"a": "1", "b": "2"}),
        ("  a = 1 ;  b=2  ", {"a": "1", "b": "2"}),
        ('a="quoted value"', {"a": "quoted value"}),
        ('a="', {"a": '"'}),
        ("a=%20x%3B", {"a": " x;"}),
        ("a=%zz", {"a": "%zz"}),
        ("a=b=c", {"a": "b=c"}),
        ("a=", {"a": ""}),
        ("a=1; a=2", {"a": "1"}),
        ("flag", {"": "flag"}),
        (";;; ;", {}),
        ("a=1;;b=2", {"a": "1", "b": "2"}),
        ("a=ü", {"a": "ü"}),
        ("__Host-id=abc", {"__Host-id": "abc"}),
    ],
)
def test_parse_cookie_header(header: str, expected: dict[str, str]) -> None:
    assert parse_cookie_header(header) == expected


@settings(max_examples=500)
@given(st.text())
def test_parse_cookie_header_never_raises(header: str) -> None:
    cookies = parse_cookie_header(header)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in cookies.items())


@settings(max_examples=200)
@given(st.text(alphabet=st.characters(max_codepoint=255)))
def test_parse_cookie_header_never_raises_on_latin1(header: str) -> None:
    parse_cookie_header(header)


# SimpleCookie reads these names as cookie attributes, never as cookie names.
ATTRIBUTES = {"expires", "path", "comment", "domain", "max-age", "secure", "httponly", "version"}
token = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", min_size=1
).filter(lambda name: name.lower() not in ATTRIBUTES | {"samesite", "partitioned"})
plain_value = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789!#$&'()*+-./:<>?@[]^_`{|}~")


@given(st.dictionaries(token, plain_value, max_size=8))
def test_parse_cookie_header_agrees_with_the_standard_library(cookies: dict[str, str]) -> None:
    header = "; ".join(f"{k}={v}" for k, v in cookies.items())
    reference = SimpleCookie()
    reference.load(header)
    expected = {k: morsel.value for k, morsel in reference.items()}
    assert parse_cookie_header(header) == expected


# -- build_set_cookie ----------------------------------------------------------------------------


def test_build_set_cookie_defaults() -> None:
    assert build_set_cookie("sid", "abc") == "sid=abc; Path=/; SameSite=Lax"


def test_build_set_cookie_every_attribute() -> None:
    header = build_set_cookie(
        "sid",
        "abc",
        max_age=3600,
        expires=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
        path="/app",
        domain="example.com",
        secure=True,
        httponly=True,
        samesite="strict",
        partitioned=True,
    )
    assert header == (
        "sid=abc; Max-Age=3600; Expires=Wed, 02 Jan 2030 03:04:05 GMT; Domain=example.com; "
        "Path=/app; Secure; HttpOnly; SameSite=Strict; Partitioned"
    )


@pytest.mark.parametrize(
    ("expires", "shown"),
    [
        (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
        (1_700_000_000, "Tue, 14 Nov 2023 22:13:20 GMT"),
        (datetime(2030, 1, 2, 3, 4, 5), "Wed, 02 Jan 2030 03:04:05 GMT"),
        (
            datetime(2030, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2))),
            "Wed, 02 Jan 2030 03:04:05 GMT",
        ),
    ],
    ids=["epoch", "timestamp", "naive-is-utc", "aware-converted-to-utc"],
)
def test_build_set_cookie_expires_is_an_http_date_in_gmt(expires: Any, shown: str) -> None:
    assert f"Expires={shown};" in build_set_cookie("a", "b", expires=expires)


def test_build_set_cookie_without_path_or_samesite() -> None:
    assert build_set_cookie("a", "b", path=None, samesite=None) == "a=b"


def test_samesite_none_needs_secure() -> None:
    with pytest.raises(ValueError, match="requires secure=True"):
        build_set_cookie("a", "b", samesite="none")
    assert build_set_cookie("a", "b", samesite="none", secure=True).endswith("; SameSite=None")


def test_unknown_samesite_is_refused() -> None:
    with pytest.raises(ValueError, match="samesite must be 'lax', 'strict' or 'none'"):
        build_set_cookie("a", "b", samesite="sometimes")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["", "a b", "a;b", "a=b", "a,b", "ü", "a\r\nb", 'a"b', "a\x00"])
def test_invalid_cookie_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="is not a valid token"):
        build_set_cookie(name, "v")


@pytest.mark.parametrize(
    "value", ["a b", "a;b", "a,b", 'a"b', "a\\b", "a\r\nSet-Cookie: x=y", "a\x00", "a\x7f"]
)
def test_cookie_values_that_could_escape_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="encode it"):
        build_set_cookie("a", value)


@given(st.text())
def test_build_set_cookie_never_emits_a_line_break(value: str) -> None:
    try:
        header = build_set_cookie("a", value)
    except ValueError:
        return
    assert not any(c in header for c in "\r\n\x00")
    assert header.split(";")[0] == f"a={value}"


@given(name=token, value=plain_value, max_age=st.none() | st.integers(0, 10**9))
def test_set_cookie_round_trips_through_the_standard_library(
    name: str, value: str, max_age: int | None
) -> None:
    header = build_set_cookie(name, value, max_age=max_age, secure=True, httponly=True)
    reference = SimpleCookie()
    reference.load(header)
    morsel = reference[name]
    assert morsel.value == value
    assert morsel["path"] == "/"
    assert morsel["secure"] is True
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Lax"
    assert morsel["max-age"] == ("" if max_age is None else str(max_age))


# -- through the app -----------------------------------------------------------------------------


def test_cookies_set_by_a_response_come_back_on_the_next_request(
    new_app: NewApp, serve: Serve
) -> None:
    app = new_app()

    @app.post("/login")
    def login(request: qiao.Request) -> qiao.Response:
        response = qiao.Response("ok")
        response.set_cookie("sid", "s3cr3t")
        response.set_cookie("theme", "dark", httponly=False)
        return response

    @app.post("/logout")
    def logout(request: qiao.Request) -> qiao.Response:
        response = qiao.Response("bye")
        response.delete_cookie("sid")
        return response

    @app.get("/whoami")
    def whoami(request: qiao.Request) -> dict[str, str]:
        return request.cookies

    client = serve(app)
    client.post("/login")
    assert client.get("/whoami").json() == {"sid": "s3cr3t", "theme": "dark"}
    client.post("/logout")
    assert client.get("/whoami").json() == {"theme": "dark"}
