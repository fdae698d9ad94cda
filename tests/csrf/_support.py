"""Shared pieces of the CSRF scenarios: Django's test vectors, a small app, request helpers.

The vectors come from Django's ``tests/csrf_tests/tests.py``: qiao masks tokens exactly as Django
does (same alphabet, same cipher), so tokens and cookies made by one validate in the other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx

import qiao
from qiao.csrf import CSRF, get_token
from tests.http._support import problem

NewApp = Callable[..., qiao.App]

#: Django's unmasked test secret, and two masked tokens made from it.
TEST_SECRET = "lcccccccX2kcccccccY2jcccccccssIC"
MASKED_TEST_SECRET1 = "1bcdefghij2bcdefghij3bcdefghij4bcdefghij5bcdefghij6bcdefghijABCD"
MASKED_TEST_SECRET2 = "2JgchWvM1tpxT2lfz9aydoXW9yT1DN3NdLiejYxOOlzzV4nhBbYqmqZYbAV3V5Bf"
#: Another valid secret (from Django's ``test_mask_cipher_secret``): tokens of it never match.
OTHER_SECRET = "da4SrUiHJYoJ0HYQ0vcgisoIuFOxx4ER"

UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")
ALL_METHODS = [*SAFE_METHODS, *UNSAFE_METHODS]
FORM = "application/x-www-form-urlencoded"


def csrf_app(new_app: NewApp, *, options: Mapping[str, Any] | None = None, **config: Any) -> Any:
    """An app with the CSRF battery and the views the scenarios use.

    ``/token`` renders a token; ``/submit`` answers ``ok`` to every method; ``/form`` and
    ``/aform`` (async) echo the form they receive, so a test sees the view still reads the
    body CSRF looked into; ``/plain`` never touches CSRF.
    """
    app = new_app(**config)
    CSRF(app, **(options or {}))
    add_views(app)
    return app


def add_views(app: qiao.App) -> None:
    """The views ``csrf_app`` serves (for apps that install the battery themselves)."""

    @app.get("/token")
    def token(request: qiao.Request) -> str:
        return get_token(request)

    @app.route("/submit", methods=ALL_METHODS)
    def submit(request: qiao.Request) -> str:
        return "ok"

    @app.post("/form")
    def form(request: qiao.Request) -> dict[str, Any]:
        return {"fields": request.form().fields.multi_items()}

    @app.post("/aform")
    async def aform(request: qiao.Request) -> dict[str, Any]:
        return {"fields": (await request.aform()).fields.multi_items()}

    @app.get("/plain")
    def plain(request: qiao.Request) -> str:
        return "plain"


def send(
    client: Any,
    method: str = "POST",
    path: str = "/submit",
    *,
    cookie: str | None = TEST_SECRET,
    token: str | None = None,
    header: str = "X-CSRFToken",
    headers: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """Send ``method path`` with the CSRF cookie ``cookie`` and ``token`` in ``header``.

    An explicit ``Cookie`` header wins over the client's jar, so each request says exactly
    which secret it carries (None: no cookie at all).
    """
    sent: dict[str, str] = {}
    if cookie is not None:
        sent["cookie"] = f"csrftoken={cookie}"
    if token is not None:
        sent[header] = token
    sent.update(headers or {})
    response: httpx.Response = client.request(method, path, headers=sent, **kwargs)
    return response


def accepted(response: httpx.Response, body: str = "ok") -> None:
    """Assert the view answered."""
    assert response.status_code == 200, response.text
    assert response.text == body


def refused(response: httpx.Response, reason: str) -> None:
    """Assert a 403 problem+json whose detail is ``reason`` (one of ``qiao.csrf.REASON_*``)."""
    assert problem(response, 403) == f"CSRF verification failed: {reason}"


def set_cookie(response: httpx.Response, name: str = "csrftoken") -> str | None:
    """The ``Set-Cookie`` header ``response`` sends for ``name``, or None."""
    for value in response.headers.get_list("set-cookie"):
        if value.startswith(f"{name}="):
            return value
    return None


def cookie_value(response: httpx.Response, name: str = "csrftoken") -> str | None:
    """The value ``response`` sets for cookie ``name``, or None."""
    header = set_cookie(response, name)
    return None if header is None else header.split(";", 1)[0].split("=", 1)[1]


def cookie_attributes(response: httpx.Response, name: str = "csrftoken") -> dict[str, str]:
    """The attributes of cookie ``name`` (lower-case names; flags map to ``""``)."""
    header = set_cookie(response, name)
    assert header is not None, f"no Set-Cookie for {name}: {response.headers}"
    attributes: dict[str, str] = {}
    for item in header.split(";")[1:]:
        key, _, value = item.strip().partition("=")
        attributes[key.lower()] = value
    return attributes


def vary(response: httpx.Response) -> set[str]:
    """The field names of ``Vary``, lower-case."""
    return {f.strip().lower() for f in response.headers.get("vary", "").split(",") if f.strip()}
