"""Property: whatever a client puts in the headers, cookie, token or form, CSRF answers 200, 400,
403 or 413 (the views add 405 and 415); never 500, and the folder's log gate fails the test on
any error qiao logs."""

from __future__ import annotations

import string
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.csrf._support import (
    FORM,
    MASKED_TEST_SECRET2,
    TEST_SECRET,
    UNSAFE_METHODS,
    NewApp,
    csrf_app,
)
from tests.http._support import MULTIPART, Serve, multipart, part

# NOTE: httpx's WSGI transport decodes header values as ASCII; the ASGI one sends bytes as given,
# so under ASGI the values also get a tail of Latin-1 bytes (obs-text, as real servers pass on).
ASCII = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)
LATIN1 = st.text(alphabet=st.characters(min_codepoint=0xA0, max_codepoint=0xFF), max_size=4)
TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_*=+/ "


def near(*examples: str) -> st.SearchStrategy[str]:
    """Realistic values, their mutations, and junk."""
    return st.one_of(
        st.sampled_from(examples),
        st.builds(lambda a, b: a + b, st.sampled_from(examples), ASCII),
        ASCII,
    )


ORIGINS = near(
    "http://testserver",
    "https://testserver",
    "https://evil.example",
    "null",
    "https://[",
    "https://*.example.com",
)
REFERERS = near("https://testserver/", "http://testserver/", "//x", "https://", "https://[")
TOKENS = st.one_of(
    st.sampled_from([MASKED_TEST_SECRET2, TEST_SECRET, "", 64 * "a"]),
    st.text(alphabet=TOKEN_ALPHABET, max_size=70),
    ASCII,
)
COOKIES = st.one_of(
    st.sampled_from([TEST_SECRET, "", "csrftoken"]),
    st.text(alphabet=TOKEN_ALPHABET.replace(" ", ""), max_size=70),
)


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    headers: dict[str, str] = {}
    for name, values in (
        ("origin", ORIGINS),
        ("referer", REFERERS),
        ("sec-fetch-site", near("same-origin", "same-site", "cross-site", "none")),
        ("x-csrftoken", TOKENS),
        ("authorization", near("Bearer x", "Basic eA==")),
        ("x-forwarded-proto", near("https", "http")),
        ("x-forwarded-host", near("testserver", "evil.example")),
    ):
        if draw(st.booleans()):
            headers[name] = draw(values).strip()
    if draw(st.booleans()):
        headers["cookie"] = f"csrftoken={draw(COOKIES)}"
    body: dict[str, Any] = {}
    kind = draw(st.sampled_from(["none", "form", "multipart", "json", "junk"]))
    field = draw(TOKENS)
    if kind == "form":
        body["data"] = {"csrfmiddlewaretoken": field, "x": draw(ASCII)}
    elif kind == "multipart":
        content = multipart(part("csrfmiddlewaretoken", field))
        body["content"] = content[: draw(st.integers(0, len(content)))]
        headers["content-type"] = MULTIPART
    elif kind == "json":
        body["json"] = {"csrfmiddlewaretoken": field}
    elif kind == "junk":
        body["content"] = draw(st.binary(max_size=200))
        headers["content-type"] = draw(st.sampled_from([FORM, MULTIPART, "multipart/form-data"]))
    return {
        "method": draw(st.sampled_from(UNSAFE_METHODS)),
        "path": draw(st.sampled_from(["/submit", "/form", "/aform"])),
        "headers": headers,
        **body,
    }


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=requests(), https=st.booleans(), tail=LATIN1)
def test_no_input_makes_csrf_fail_with_a_server_error(
    new_app: NewApp, serve: Serve, request: dict[str, Any], tail: str, *, https: bool
) -> None:
    app = csrf_app(
        new_app,
        MAX_BODY_SIZE=150,
        TRUSTED_PROXIES=["127.0.0.1"],
        CSRF_TRUSTED_ORIGINS=["https://*.example.com"],
    )
    client = serve(app, base_url="https://testserver" if https else "http://testserver")
    method, path = request.pop("method"), request.pop("path")
    if serve.kind == "asgi" and tail:
        request["headers"] = [
            (name.encode(), (value + tail).encode("latin-1"))
            for name, value in request["headers"].items()
        ]
    response = client.request(method, path, **request)
    assert response.status_code in (200, 400, 403, 405, 413, 415), response.text
