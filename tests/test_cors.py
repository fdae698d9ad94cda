"""The CORS battery: actual requests, preflights, credentials, regexes, paths and Vary.

Tests that use ``serve`` run twice: through WSGI and through ASGI.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

import qiao
from qiao.cors import CORS, DEFAULT_HEADERS, DEFAULT_METHODS, MAX_ORIGIN_LENGTH
from tests.http._support import NewApp, Serve

ALLOWED = "https://app.example"
OTHER = "https://evil.example"


@pytest.fixture(params=["wsgi", "asgi"])
def serve(request: pytest.FixtureRequest) -> Iterator[Serve]:
    """Call the app through WSGI, then (second run) through ASGI."""
    with ExitStack() as stack:
        yield Serve(request.param, stack)


def api(new_app: NewApp, **options: Any) -> qiao.App:
    app = new_app()
    CORS(app, **{"allow_origins": [ALLOWED], **options})
    calls: list[str] = []
    app.extensions["calls"] = calls

    @app.route("/items", methods=["GET", "POST"])
    def items(request: qiao.Request) -> Any:
        calls.append(request.method)
        return {"items": []}

    @app.get("/boom")
    def boom(request: qiao.Request) -> Any:
        raise RuntimeError("boom")

    return app


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


def vary(response: httpx.Response) -> list[str]:
    return [v.strip().lower() for v in response.headers.get("vary", "").split(",") if v.strip()]


def preflight(
    client: Any, path: str, origin: str = ALLOWED, method: str = "POST", headers: str | None = None
) -> httpx.Response:
    sent = {"origin": origin, "access-control-request-method": method}
    if headers is not None:
        sent["access-control-request-headers"] = headers
    return client.request("OPTIONS", path, headers=sent)  # type: ignore[no-any-return]


# -- actual requests -----------------------------------------------------------------------------


def test_an_allowed_origin_may_read_the_response(new_app: NewApp, serve: Serve) -> None:
    response = serve(api(new_app)).get("/items", headers={"origin": ALLOWED})
    assert response.json() == {"items": []}
    assert cors_headers(response) == {"access-control-allow-origin": ALLOWED}
    assert vary(response) == ["origin"]


def test_a_disallowed_origin_gets_no_cors_headers_but_vary(new_app: NewApp, serve: Serve) -> None:
    response = serve(api(new_app)).get("/items", headers={"origin": OTHER})
    assert response.status_code == 200  # CORS is enforced by the browser, not the server
    assert cors_headers(response) == {}
    assert vary(response) == ["origin"]


def test_a_request_without_origin_gets_vary(new_app: NewApp, serve: Serve) -> None:
    response = serve(api(new_app)).get("/items")
    assert cors_headers(response) == {}
    assert vary(response) == ["origin"]


def test_origins_are_compared_exactly(new_app: NewApp, serve: Serve) -> None:
    client = serve(api(new_app))
    for origin in (ALLOWED + ":443", ALLOWED + ".evil.net", "http://app.example", "null"):
        assert cors_headers(client.get("/items", headers={"origin": origin})) == {}


def test_configured_origins_are_normalised(new_app: NewApp, serve: Serve) -> None:
    client = serve(api(new_app, allow_origins=["HTTPS://App.Example", "http://localhost:3000"]))
    assert cors_headers(client.get("/items", headers={"origin": ALLOWED})) == {
        "access-control-allow-origin": ALLOWED
    }
    local = client.get("/items", headers={"origin": "http://localhost:3000"})
    assert local.headers["access-control-allow-origin"] == "http://localhost:3000"


def test_credentials_and_expose_headers(new_app: NewApp, serve: Serve) -> None:
    app = api(new_app, allow_credentials=True, expose_headers=["X-Total", "ETag"])
    response = serve(app).get("/items", headers={"origin": ALLOWED})
    assert cors_headers(response) == {
        "access-control-allow-origin": ALLOWED,
        "access-control-allow-credentials": "true",
        "access-control-expose-headers": "X-Total, ETag",
    }


def test_any_origin_answers_star_to_everyone_without_vary(new_app: NewApp, serve: Serve) -> None:
    client = serve(api(new_app, allow_origins=["*"], expose_headers=["x-total"]))
    for headers in ({"origin": OTHER}, {}):
        response = client.get("/items", headers=headers)
        assert cors_headers(response) == {
            "access-control-allow-origin": "*",
            "access-control-expose-headers": "x-total",
        }
        assert vary(response) == []


def test_any_origin_with_credentials_fails_at_start_up(new_app: NewApp) -> None:
    app = api(new_app, allow_origins=["*"], allow_credentials=True)
    with pytest.raises(qiao.ImproperlyConfigured, match=r"^qiao\.E111: CORS_ALLOW_ORIGINS is '\*'"):
        app.compile()


def test_regex_origins_must_match_whole(new_app: NewApp, serve: Serve) -> None:
    app = api(
        new_app,
        allow_origins=[],
        allow_origin_regexes=[r"https://[a-z0-9-]+\.example\.com", r"http://localhost:\d+"],
        allow_credentials=True,
    )
    client = serve(app)
    for origin in ("https://pr-12.example.com", "http://localhost:5173"):
        response = client.get("/items", headers={"origin": origin})
        assert response.headers["access-control-allow-origin"] == origin
        assert response.headers["access-control-allow-credentials"] == "true"
    too_long = "https://" + "a" * (MAX_ORIGIN_LENGTH - 19) + ".example.com"
    for origin in ("https://pr-12.example.com.evil.net", "https://example.com", "null", too_long):
        assert cors_headers(client.get("/items", headers={"origin": origin})) == {}


def test_error_responses_carry_cors_headers(
    new_app: NewApp, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    client = serve(api(new_app))
    broken = client.get("/boom", headers={"origin": ALLOWED})
    assert broken.status_code == 500  # the browser lets the page read the error
    assert broken.headers["access-control-allow-origin"] == ALLOWED
    missing = client.get("/nowhere", headers={"origin": ALLOWED})
    assert missing.status_code == 404
    assert missing.headers["access-control-allow-origin"] == ALLOWED


def test_vary_is_merged_with_the_views_own(new_app: NewApp, serve: Serve) -> None:
    app = api(new_app)

    @app.get("/lang")
    def lang(request: qiao.Request) -> qiao.Response:
        return qiao.Response("hi", headers={"vary": "Accept-Language"})

    @app.get("/two")
    def two(request: qiao.Request) -> qiao.Response:
        return qiao.Response("hi", headers=[("vary", "Cookie"), ("vary", "Accept-Language")])

    client = serve(app)
    assert vary(client.get("/lang", headers={"origin": ALLOWED})) == ["accept-language", "origin"]
    assert vary(client.get("/two")) == ["cookie", "accept-language", "origin"]


def test_a_view_that_sets_its_own_cors_header_is_left_alone(new_app: NewApp, serve: Serve) -> None:
    app = api(new_app)

    @app.get("/public")
    def public(request: qiao.Request) -> qiao.Response:
        return qiao.Response("open", headers={"access-control-allow-origin": "*"})

    response = serve(app).get("/public", headers={"origin": OTHER})
    assert cors_headers(response) == {"access-control-allow-origin": "*"}


# -- preflights ----------------------------------------------------------------------------------


def test_an_allowed_preflight_gets_204_before_the_view(new_app: NewApp, serve: Serve) -> None:
    app = api(new_app, allow_credentials=True)
    response = preflight(serve(app), "/items", headers="Content-Type, X-Requested-With")
    assert response.status_code == 204
    assert response.content == b""
    assert "content-type" not in response.headers
    assert cors_headers(response) == {
        "access-control-allow-methods": ", ".join(DEFAULT_METHODS),
        "access-control-max-age": "600",
        "access-control-allow-credentials": "true",
        "access-control-allow-origin": ALLOWED,
        "access-control-allow-headers": ", ".join(sorted(DEFAULT_HEADERS)),
    }
    assert vary(response) == ["origin"]
    assert app.extensions["calls"] == []


@pytest.mark.parametrize(
    ("origin", "method", "headers", "reason"),
    [
        (OTHER, "POST", None, "Disallowed CORS origin 'https://evil.example'."),
        (ALLOWED, "PURGE", None, "Disallowed CORS method 'PURGE'."),
        (
            ALLOWED,
            "POST",
            "content-type, x-secret",
            "Disallowed CORS request header(s) 'x-secret'.",
        ),
    ],
)
def test_a_refused_preflight_gets_400_without_cors_headers(
    new_app: NewApp, serve: Serve, origin: str, method: str, headers: str | None, reason: str
) -> None:
    app = api(new_app, allow_credentials=True)
    response = preflight(serve(app), "/items", origin, method, headers)
    assert response.status_code == 400
    assert response.text == reason
    assert cors_headers(response) == {}
    assert vary(response) == ["origin"]
    assert app.extensions["calls"] == []


def test_preflights_are_answered_for_404_and_405_paths(new_app: NewApp, serve: Serve) -> None:
    client = serve(api(new_app))
    for path, method in (("/nowhere", "POST"), ("/items", "DELETE")):
        response = preflight(client, path, method=method)
        assert response.status_code == 204
        assert response.headers["access-control-allow-origin"] == ALLOWED
    # the real request then gets its own error, which the allowed origin can read
    refused = client.delete("/items", headers={"origin": ALLOWED})
    assert refused.status_code == 405
    assert refused.headers["access-control-allow-origin"] == ALLOWED


def test_a_plain_options_request_is_answered_by_the_app(new_app: NewApp, serve: Serve) -> None:
    response = serve(api(new_app)).request("OPTIONS", "/items", headers={"origin": ALLOWED})
    assert response.status_code == 204
    assert set(response.headers["allow"].split(", ")) >= {"GET", "POST"}
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "access-control-allow-methods" not in response.headers


def test_allow_headers_star_reflects_the_requested_headers(new_app: NewApp, serve: Serve) -> None:
    client = serve(api(new_app, allow_headers=["*"], max_age=None, allow_methods=["GET", "PUT"]))
    response = preflight(client, "/items", method="PUT", headers="X-Custom-One,x-custom-two")
    assert response.status_code == 204
    assert response.headers["access-control-allow-headers"] == "x-custom-one, x-custom-two"
    assert response.headers["access-control-allow-methods"] == "GET, PUT"
    assert "access-control-max-age" not in response.headers
    bad = preflight(client, "/items", method="PUT", headers="x(y)")
    assert bad.status_code == 400


def test_any_origin_preflight_answers_star(new_app: NewApp, serve: Serve) -> None:
    response = preflight(serve(api(new_app, allow_origins=["*"])), "/items", OTHER)
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert vary(response) == []


# -- paths ---------------------------------------------------------------------------------------


def test_paths_limit_cors_to_a_prefix(new_app: NewApp, serve: Serve) -> None:
    app = api(new_app, paths=["/api/"])

    @app.route("/api/things", methods=["GET", "POST"])
    def things(request: qiao.Request) -> Any:
        return []

    client = serve(app)
    inside = client.get("/api/things", headers={"origin": ALLOWED})
    assert inside.headers["access-control-allow-origin"] == ALLOWED
    outside = client.get("/items", headers={"origin": ALLOWED})
    assert cors_headers(outside) == {}
    assert vary(outside) == []
    assert preflight(client, "/api/things").status_code == 204
    not_ours = preflight(client, "/items")  # the app's own OPTIONS answer, no CORS
    assert not_ours.status_code == 204
    assert cors_headers(not_ours) == {}


# -- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"allow_origins": ["https://app.example/"]}, "is not an origin"),
        ({"allow_origins": ["app.example"]}, "is not an origin"),
        ({"allow_origins": ["https://app.example/path"]}, "is not an origin"),
        ({"allow_origin_regexes": ["https://(unclosed"]}, "does not compile"),
        ({"allow_methods": ["GET POST"]}, "is not an HTTP method or header name"),
        ({"allow_headers": ["x:y"]}, "is not an HTTP method or header name"),
        ({"max_age": -1}, "CORS_MAX_AGE must be"),
        ({"paths": 7}, "CORS_PATHS must be a list of strings"),
    ],
)
def test_malformed_settings_fail_at_start_up(
    new_app: NewApp, options: dict[str, Any], message: str
) -> None:
    app = api(new_app, **options)
    with pytest.raises(qiao.ImproperlyConfigured, match=r"^qiao\.E112: ") as info:
        app.compile()
    assert message in str(info.value)


def test_settings_come_from_the_config(new_app: NewApp, serve: Serve) -> None:
    app = new_app()
    app.config.from_env(environ={"QIAO_CORS_ALLOW_ORIGINS": '["https://env.example"]'})
    CORS(app)
    app.add_route("/", lambda request: "ok")
    response = serve(app).get("/", headers={"origin": "https://env.example"})
    assert response.headers["access-control-allow-origin"] == "https://env.example"
