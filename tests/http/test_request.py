"""The request: metadata, proxies, ids, state, the body APIs and their limits.

Most tests run twice through the ``serve`` fixture: once under WSGI, once under ASGI.
"""

from __future__ import annotations

import gc
import logging
import re
import threading
import warnings
from typing import Any

import pytest

import qiao
from qiao import DEFAULTS
from tests.http._support import NewApp, Serve, chunks, like_gunicorn, problem

HEX_ID = re.compile(r"^[0-9a-f]{32}$")


# -- metadata ------------------------------------------------------------------------------------


def test_method_path_url_and_path_params(new_app: NewApp, serve: Serve) -> None:
    app = new_app()

    @app.route("/items/<int:item_id>", methods=["GET", "PUT"])
    def item(request: qiao.Request, item_id: int) -> dict[str, Any]:
        return {
            "method": request.method,
            "path": request.path,
            "url": request.url,
            "base_url": request.base_url,
            "query_string": request.query_string,
            "params": request.path_params,
            "endpoint": request.endpoint,
        }

    client = serve(app)
    assert client.put("/items/7?x=1").json() == {
        "method": "PUT",
        "path": "/items/7",
        "url": "http://testserver/items/7?x=1",
        "base_url": "http://testserver",
        "query_string": "x=1",
        "params": {"item_id": 7},
        "endpoint": "item",
    }
    assert client.get("/items/8").json()["url"] == "http://testserver/items/8"


def test_url_is_percent_encoded(new_app: NewApp, serve: Serve) -> None:
    # request.path is decoded; request.url must still be a URL (as in Werkzeug, Starlette and
    # Django), or it cannot be used for redirects, OAuth callbacks or signatures.
    app = new_app()

    @app.get("/files/<path:name>")
    def files(request: qiao.Request, name: str) -> dict[str, str]:
        return {"path": request.path, "url": request.url}

    response = serve(app).get("/files/a%20b/%C3%BC?q=%20")
    assert response.json() == {
        "path": "/files/a b/ü",
        "url": "http://testserver/files/a%20b/%C3%BC?q=%20",
    }


def test_query_is_multi_valued_and_keeps_blank_values(new_app: NewApp, serve: Serve) -> None:
    app = new_app()

    @app.get("/q")
    def q(request: qiao.Request) -> dict[str, Any]:
        return {
            "first": request.query["tag"],
            "all": request.query.getlist("tag"),
            "text": request.query["text"],
            "blank": request.query["blank"],
            "missing": request.query.get("missing", "default"),
            "keys": sorted(request.query),
        }

    response = serve(app).get("/q?tag=a&tag=b&text=hello%20w%C3%B6rld+x&blank=")
    assert response.json() == {
        "first": "a",
        "all": ["a", "b"],
        "text": "hello wörld x",
        "blank": "",
        "missing": "default",
        "keys": ["blank", "tag", "text"],
    }


def test_headers_are_case_insensitive(new_app: NewApp, serve: Serve) -> None:
    app = new_app()

    @app.get("/h")
    def h(request: qiao.Request) -> dict[str, Any]:
        headers = request.headers
        return {
            "upper": headers["X-Custom-Thing"],
            "lower": headers.get("x-custom-thing"),
            "contains": "X-CUSTOM-THING" in headers,
            "missing": headers.get("x-missing", "default"),
            "names_lowercase": all(name == name.lower() for name in headers),
        }

    response = serve(app).get("/h", headers={"X-Custom-Thing": "value"})
    assert response.json() == {
        "upper": "value",
        "lower": "value",
        "contains": True,
        "missing": "default",
        "names_lowercase": True,
    }


@pytest.mark.anyio
async def test_repeated_header_fields_keep_every_value(new_app: NewApp) -> None:
    # ASGI only: WSGI has one environ key per header, so servers join repeats with ", "
    # (and httpx's WSGI transport keeps only the last one).
    app = new_app()

    @app.get("/h")
    def h(request: qiao.Request) -> dict[str, Any]:
        return {"first": request.headers["x-tag"], "all": request.headers.getlist("X-Tag")}

    async with app.async_test_client() as client:
        response = await client.get("/h", headers=[("x-tag", "a"), ("x-tag", "b")])
    assert response.json() == {"first": "a", "all": ["a", "b"]}


def test_cookies_are_parsed_from_the_cookie_header(new_app: NewApp, serve: Serve) -> None:
    app = new_app()

    @app.get("/c")
    def c(request: qiao.Request) -> dict[str, str]:
        return request.cookies

    response = serve(app).get("/c", headers={"cookie": 'a=1; b="two"; c=%20x; a=shadowed'})
    assert response.json() == {"a": "1", "b": "two", "c": " x"}


@pytest.mark.anyio
async def test_cookies_from_repeated_cookie_fields_are_all_read(new_app: NewApp) -> None:
    # HTTP/2 clients may split cookies over several `cookie` fields; RFC 9113 section 8.2.3
    # says to join them with "; " (ASGI servers pass them through separately).
    app = new_app()

    @app.get("/c")
    def c(request: qiao.Request) -> dict[str, str]:
        return request.cookies

    async with app.async_test_client() as client:
        response = await client.get("/c", headers=[("cookie", "a=1"), ("cookie", "b=2")])
    assert response.json() == {"a": "1", "b": "2"}


def test_client_is_the_direct_peer(new_app: NewApp, serve: Serve) -> None:
    app = new_app()

    @app.get("/peer")
    def peer(request: qiao.Request) -> dict[str, Any]:
        assert request.client is not None
        host, port = request.client
        return {"host": host, "port_is_int": isinstance(port, int), "remote": request.remote_addr}

    assert serve(app).get("/peer").json() == {
        "host": "127.0.0.1",
        "port_is_int": True,
        "remote": "127.0.0.1",
    }


def test_content_type_and_length_are_read_from_the_headers(new_app: NewApp, serve: Serve) -> None:
    app = new_app()

    @app.route("/meta", methods=["GET", "POST"])
    def meta(request: qiao.Request) -> dict[str, Any]:
        return {"type": request.content_type, "length": request.content_length}

    client = serve(app)
    assert client.get("/meta").json() == {"type": "", "length": None}
    response = client.post("/meta", content=b"abc", headers={"content-type": "text/plain"})
    assert response.json() == {"type": "text/plain", "length": 3}


def test_is_disconnected_is_false_while_the_client_waits(new_app: NewApp, serve: Serve) -> None:
    app = new_app()

    @app.post("/d")
    async def d(request: qiao.Request) -> dict[str, bool]:
        await request.abody()
        return {"gone": await request.is_disconnected()}

    assert serve(app).post("/d", content=b"x").json() == {"gone": False}


# -- proxies -------------------------------------------------------------------------------------

SPOOFING_HEADERS = {
    "x-forwarded-for": "203.0.113.7",
    "x-forwarded-proto": "https",
    "x-forwarded-host": "example.com",
}


def whoami_app(new_app: NewApp, trusted: list[str]) -> qiao.App:
    app = new_app(TRUSTED_PROXIES=trusted)

    @app.get("/whoami")
    def whoami(request: qiao.Request) -> dict[str, Any]:
        return {
            "remote": request.remote_addr,
            "scheme": request.scheme,
            "host": request.host,
            "secure": request.is_secure,
            "url": request.url,
        }

    return app


@pytest.mark.parametrize(
    ("trusted", "headers"),
    [
        pytest.param([], SPOOFING_HEADERS, id="x-forwarded-no-trusted-proxies"),
        pytest.param(["10.0.0.0/8"], SPOOFING_HEADERS, id="x-forwarded-peer-not-trusted"),
        pytest.param(
            [], {"forwarded": "for=203.0.113.7;proto=https;host=example.com"}, id="forwarded"
        ),
    ],
)
def test_forwarding_headers_from_untrusted_peers_are_ignored(
    new_app: NewApp, serve: Serve, trusted: list[str], headers: dict[str, str]
) -> None:
    response = serve(whoami_app(new_app, trusted)).get("/whoami", headers=headers)
    assert response.json() == {
        "remote": "127.0.0.1",
        "scheme": "http",
        "host": "testserver",
        "secure": False,
        "url": "http://testserver/whoami",
    }


def test_default_trusts_no_proxy(new_app: NewApp, serve: Serve) -> None:
    assert DEFAULTS["TRUSTED_PROXIES"] == []
    app = new_app()

    @app.get("/who")
    def who(request: qiao.Request) -> dict[str, Any]:
        return {"remote": request.remote_addr, "scheme": request.scheme}

    response = serve(app).get("/who", headers=SPOOFING_HEADERS)
    assert response.json() == {"remote": "127.0.0.1", "scheme": "http"}


@pytest.mark.parametrize("trusted", [["127.0.0.1"], ["127.0.0.0/8"], ["::1", "127.0.0.1"], ["*"]])
def test_forwarding_headers_from_a_trusted_proxy_are_honoured(
    new_app: NewApp, serve: Serve, trusted: list[str]
) -> None:
    response = serve(whoami_app(new_app, trusted)).get("/whoami", headers=SPOOFING_HEADERS)
    assert response.json() == {
        "remote": "203.0.113.7",
        "scheme": "https",
        "host": "example.com",
        "secure": True,
        "url": "https://example.com/whoami",
    }


@pytest.mark.parametrize(
    ("trusted", "forwarded_for"),
    [
        pytest.param(["127.0.0.1"], "6.6.6.6, 203.0.113.7", id="one-proxy"),
        pytest.param(["127.0.0.1"], "6.6.6.6,203.0.113.7", id="no-space"),
        pytest.param(
            ["127.0.0.1", "10.0.0.0/8"], "6.6.6.6, 203.0.113.7, 10.0.0.2", id="proxy-chain"
        ),
        pytest.param(["127.0.0.1", "10.0.0.0/8"], "1.1.1.1, 2.2.2.2, 203.0.113.7", id="many"),
    ],
)
def test_spoofed_leftmost_forwarded_for_entries_do_not_win(
    new_app: NewApp, serve: Serve, trusted: list[str], forwarded_for: str
) -> None:
    client = serve(whoami_app(new_app, trusted))
    response = client.get("/whoami", headers={"x-forwarded-for": forwarded_for})
    assert response.json()["remote"] == "203.0.113.7"


@pytest.mark.parametrize(
    ("trusted", "forwarded_for"),
    [
        pytest.param(["*"], "6.6.6.6, 203.0.113.7", id="any-peer"),
        pytest.param(["*", "10.0.0.0/8"], "6.6.6.6, 203.0.113.7, 10.0.0.2", id="any-peer-chain"),
    ],
)
def test_spoofed_leftmost_entries_do_not_win_when_any_peer_is_trusted(
    new_app: NewApp, serve: Serve, trusted: list[str], forwarded_for: str
) -> None:
    # "*" says: believe whichever peer connects (a load balancer of unknown address). The
    # entries in X-Forwarded-For are not peers; the leftmost is whatever the client wrote.
    client = serve(whoami_app(new_app, trusted))
    response = client.get("/whoami", headers={"x-forwarded-for": forwarded_for})
    assert response.json()["remote"] == "203.0.113.7"


def test_forwarded_header_is_honoured_from_a_trusted_proxy(new_app: NewApp, serve: Serve) -> None:
    client = serve(whoami_app(new_app, ["127.0.0.1"]))
    response = client.get(
        "/whoami",
        headers={"forwarded": 'for=6.6.6.6;proto=http, for="203.0.113.7";proto=https;host=a.test'},
    )
    assert response.json() == {
        "remote": "203.0.113.7",
        "scheme": "https",
        "host": "a.test",
        "secure": True,
        "url": "https://a.test/whoami",
    }


def test_forwarded_header_wins_over_x_forwarded(new_app: NewApp, serve: Serve) -> None:
    client = serve(whoami_app(new_app, ["127.0.0.1"]))
    response = client.get(
        "/whoami",
        headers={"forwarded": "for=203.0.113.7", "x-forwarded-for": "198.51.100.1"},
    )
    assert response.json()["remote"] == "203.0.113.7"


def test_forwarded_ipv6_in_brackets_is_unwrapped(new_app: NewApp, serve: Serve) -> None:
    client = serve(whoami_app(new_app, ["127.0.0.1"]))
    response = client.get("/whoami", headers={"forwarded": 'for="[2001:db8::1]"'})
    assert response.json()["remote"] == "2001:db8::1"


@pytest.mark.parametrize(
    ("node", "address"),
    [
        pytest.param('"[2001:db8:cafe::17]:4711"', "2001:db8:cafe::17", id="ipv6-with-port"),
        pytest.param('"203.0.113.7:47011"', "203.0.113.7", id="ipv4-with-port"),
    ],
)
def test_forwarded_for_with_a_port_gives_the_bare_address(
    new_app: NewApp, serve: Serve, node: str, address: str
) -> None:
    # RFC 7239 section 6: a node may carry a port (`for="[2001:db8:cafe::17]:4711"`, its own
    # example); remote_addr is an IP address and must not keep the port or a bracket.
    client = serve(whoami_app(new_app, ["127.0.0.1"]))
    response = client.get("/whoami", headers={"forwarded": f"for={node}"})
    assert response.json()["remote"] == address


def test_forwarded_proto_other_than_http_or_https_is_ignored(new_app: NewApp, serve: Serve) -> None:
    client = serve(whoami_app(new_app, ["127.0.0.1"]))
    response = client.get("/whoami", headers={"x-forwarded-proto": "javascript"})
    assert response.json()["scheme"] == "http"


def test_rightmost_forwarded_proto_and_host_win(new_app: NewApp, serve: Serve) -> None:
    client = serve(whoami_app(new_app, ["127.0.0.1"]))
    response = client.get(
        "/whoami",
        headers={"x-forwarded-proto": "http, https", "x-forwarded-host": "evil.test, good.test"},
    )
    assert response.json()["url"] == "https://good.test/whoami"


# -- state and id --------------------------------------------------------------------------------


def test_state_carries_values_from_hooks_to_the_view(new_app: NewApp, serve: Serve) -> None:
    app = new_app()

    @app.before_request
    def authenticate(request: qiao.Request) -> None:
        if "x-user" in request.headers:
            request.state.user = request.headers["x-user"]

    @app.get("/me")
    def me(request: qiao.Request) -> dict[str, Any]:
        return {"user": getattr(request.state, "user", None)}

    client = serve(app)
    assert client.get("/me", headers={"x-user": "ann"}).json() == {"user": "ann"}
    assert client.get("/me").json() == {"user": None}, "state leaked between requests"


def id_app(new_app: NewApp) -> qiao.App:
    app = new_app()

    @app.get("/id")
    def request_id(request: qiao.Request) -> dict[str, str]:
        assert request.id == request.id
        return {"id": request.id}

    return app


@pytest.mark.parametrize("given", ["abc-123", "a.b_c:d-E", "0" * 200, "ABCDEF"])
def test_sane_x_request_id_is_honoured(new_app: NewApp, serve: Serve, given: str) -> None:
    response = serve(id_app(new_app)).get("/id", headers={"x-request-id": given})
    assert response.json() == {"id": given}


@pytest.mark.parametrize("given", ["has space", "0" * 201, "<script>", "a;b", "a/b", "a,b"])
def test_unsafe_x_request_id_is_replaced(new_app: NewApp, serve: Serve, given: str) -> None:
    response = serve(id_app(new_app)).get("/id", headers={"x-request-id": given})
    assert HEX_ID.match(response.json()["id"])


def test_request_id_is_generated_per_request(new_app: NewApp, serve: Serve) -> None:
    client = serve(id_app(new_app))
    first, second = client.get("/id").json()["id"], client.get("/id").json()["id"]
    assert HEX_ID.match(first)
    assert HEX_ID.match(second)
    assert first != second


# -- body, json, form, stream: sync and async views ----------------------------------------------


def body_app(new_app: NewApp, **config: Any) -> qiao.App:
    """The same four views twice: ``/sync/...`` with the sync API, ``/async/...`` with the async
    one."""
    app = new_app(**config)

    @app.post("/sync/body")
    def sync_body(request: qiao.Request) -> dict[str, Any]:
        first = request.body()
        return {"body": first.decode(), "cached": request.body() is first}

    @app.post("/async/body")
    async def async_body(request: qiao.Request) -> dict[str, Any]:
        first = await request.abody()
        return {"body": first.decode(), "cached": await request.abody() is first}

    @app.post("/sync/json")
    def sync_json(request: qiao.Request) -> dict[str, Any]:
        return {"json": request.json(), "body": request.body().decode()}

    @app.post("/async/json")
    async def async_json(request: qiao.Request) -> dict[str, Any]:
        return {"json": await request.ajson(), "body": (await request.abody()).decode()}

    @app.post("/sync/form")
    def sync_form(request: qiao.Request) -> dict[str, Any]:
        form = request.form()
        return {"a": form["a"], "b": form.getlist("b"), "has_a": "a" in form}

    @app.post("/async/form")
    async def async_form(request: qiao.Request) -> dict[str, Any]:
        form = await request.aform()
        return {"a": form["a"], "b": form.getlist("b"), "has_a": "a" in form}

    @app.post("/sync/stream")
    def sync_stream(request: qiao.Request) -> dict[str, Any]:
        return {"body": b"".join(request.stream()).decode()}

    @app.post("/async/stream")
    async def async_stream(request: qiao.Request) -> dict[str, Any]:
        return {"body": b"".join([chunk async for chunk in request.astream()]).decode()}

    app.wsgi_app = like_gunicorn(app.wsgi_app)
    return app


MODES = pytest.mark.parametrize("mode", ["sync", "async"])


@MODES
def test_body_is_read_once_and_cached(new_app: NewApp, serve: Serve, mode: str) -> None:
    response = serve(body_app(new_app)).post(f"/{mode}/body", content=b"hello")
    assert response.json() == {"body": "hello", "cached": True}


@MODES
def test_empty_body_is_empty_bytes(new_app: NewApp, serve: Serve, mode: str) -> None:
    response = serve(body_app(new_app)).post(f"/{mode}/body")
    assert response.json() == {"body": "", "cached": True}


@MODES
def test_json_decodes_the_body(new_app: NewApp, serve: Serve, mode: str) -> None:
    payload = {"a": [1, 2.5, None, True], "b": {"c": "ü"}}
    response = serve(body_app(new_app)).post(f"/{mode}/json", json=payload)
    assert response.status_code == 200
    assert response.json()["json"] == payload


@MODES
def test_form_decodes_an_urlencoded_body(new_app: NewApp, serve: Serve, mode: str) -> None:
    response = serve(body_app(new_app)).post(f"/{mode}/form", data={"a": "1 ü", "b": ["x", "y"]})
    assert response.json() == {"a": "1 ü", "b": ["x", "y"], "has_a": True}


@MODES
def test_form_decodes_a_multipart_body(new_app: NewApp, serve: Serve, mode: str) -> None:
    response = serve(body_app(new_app)).post(
        f"/{mode}/form", data={"a": "1", "b": ["x", "y"]}, files={"f": ("f.txt", b"data")}
    )
    assert response.json() == {"a": "1", "b": ["x", "y"], "has_a": True}


@MODES
def test_stream_yields_the_body(new_app: NewApp, serve: Serve, mode: str) -> None:
    response = serve(body_app(new_app)).post(f"/{mode}/stream", content=b"x" * 200_000)
    assert response.json() == {"body": "x" * 200_000}


@MODES
def test_stream_yields_a_chunked_body(new_app: NewApp, serve: Serve, mode: str) -> None:
    client = serve(body_app(new_app))
    response = client.post(f"/{mode}/stream", content=chunks(b"ab", b"cd", b"ef"))
    assert response.json() == {"body": "abcdef"}


def test_wsgi_test_client_delivers_a_chunked_body(new_app: NewApp) -> None:
    # app.test_client() without any WSGI middleware: the view must see the chunked body.
    app = new_app()

    @app.post("/body")
    def body(request: qiao.Request) -> bytes:
        return request.body()

    with app.test_client() as client:
        response = client.post("/body", content=chunks(b"ab", b"cd"))
    assert response.content == b"abcd"


def test_stream_can_be_read_only_once(
    new_app: NewApp, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    app = new_app()

    @app.post("/twice")
    def twice(request: qiao.Request) -> str:
        b"".join(request.stream())
        b"".join(request.stream())
        return "unreachable"

    response = serve(app).post("/twice", content=b"abc")
    assert response.status_code == 500
    [record] = [r for r in caplog.records if r.name == "qiao"]
    assert record.exc_info is not None
    assert "already consumed" in str(record.exc_info[1])


def test_form_can_be_read_after_body(new_app: NewApp, serve: Serve) -> None:
    # A hook that reads the raw body (signature checks, logging) must not break form().
    app = new_app()

    @app.post("/f")
    def f(request: qiao.Request) -> dict[str, Any]:
        raw = request.body()
        return {"raw": raw.decode(), "a": request.form()["a"]}

    response = serve(app).post("/f", data={"a": "1"})
    assert response.json() == {"raw": "a=1", "a": "1"}


def test_json_can_be_read_after_body(new_app: NewApp, serve: Serve) -> None:
    app = new_app()

    @app.post("/j")
    def j(request: qiao.Request) -> dict[str, Any]:
        return {"raw": request.body().decode(), "json": request.json()}

    response = serve(app).post("/j", json=[1])
    assert response.json() == {"raw": "[1]", "json": [1]}


@pytest.mark.anyio
async def test_sync_body_read_in_an_async_view_under_asgi_says_to_await(
    new_app: NewApp, caplog: pytest.LogCaptureFixture
) -> None:
    app = new_app()

    @app.post("/wrong")
    async def wrong(request: qiao.Request) -> bytes:
        return request.body()

    async with app.async_test_client() as client:
        response = await client.post("/wrong", content=b"x")
    assert response.status_code == 500
    [record] = [r for r in caplog.records if r.name == "qiao"]
    assert record.exc_info is not None
    assert "await request.abody()" in str(record.exc_info[1])


def test_async_view_under_wsgi_on_a_short_lived_thread_leaves_no_open_event_loop(
    new_app: NewApp,
) -> None:
    # Thread-per-request WSGI servers (wsgiref's ThreadingMixIn, for one) run each request on a
    # new thread; the loop qiao makes there for async views must be closed when it ends, not
    # left to the garbage collector with an "unclosed event loop" ResourceWarning.
    app = new_app()

    @app.get("/")
    async def view(request: qiao.Request) -> str:
        return "ok"

    results: list[str] = []
    with app.test_client() as client, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        thread = threading.Thread(target=lambda: results.append(client.get("/").text))
        thread.start()
        thread.join()
        gc.collect()
    assert results == ["ok"]
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_sync_body_read_in_an_async_view_fails_alike_on_every_server(
    new_app: NewApp, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    app = new_app()

    @app.post("/bad")
    async def bad(request: qiao.Request) -> bytes:
        return request.body()

    @app.post("/good")
    async def good(request: qiao.Request) -> bytes:
        return await request.abody()

    client = serve(app)
    with caplog.at_level(logging.ERROR, logger="qiao"):
        assert client.post("/bad", content=b"x").status_code == 500
    assert "use await request.abody()" in str(caplog.records[-1].exc_info[1])
    assert client.post("/good", content=b"x").content == b"x"


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_client_gone_mid_body_is_a_400_not_a_crash(
    new_app: NewApp, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Raw ASGI: the server reports http.disconnect while the view is still reading the body.
    app = body_app(new_app)
    incoming = [
        {"type": "http.request", "body": b"part", "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"/{mode}/body",
        "raw_path": f"/{mode}/body".encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    await app.ashutdown()
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 400
    assert b"disconnected before sending the whole body" in sent[1]["body"]
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


# -- MAX_BODY_SIZE -------------------------------------------------------------------------------


def test_max_body_size_default_is_ten_mebibytes(new_app: NewApp, serve: Serve) -> None:
    assert DEFAULTS["MAX_BODY_SIZE"] == 10 * 1024 * 1024
    client = serve(body_app(new_app))
    limit = 10 * 1024 * 1024
    assert client.post("/sync/body", content=b"x" * limit).status_code == 200
    detail = problem(client.post("/sync/body", content=b"x" * (limit + 1)), 413)
    assert "MAX_BODY_SIZE" in detail


@MODES
def test_max_body_size_from_content_length(new_app: NewApp, serve: Serve, mode: str) -> None:
    client = serve(body_app(new_app, MAX_BODY_SIZE=100))
    assert client.post(f"/{mode}/body", content=b"x" * 100).status_code == 200
    detail = problem(client.post(f"/{mode}/body", content=b"x" * 101), 413)
    assert detail == "Body of 101 bytes exceeds the limit of 100 bytes (setting MAX_BODY_SIZE)."


@MODES
@pytest.mark.parametrize("what", ["body", "json", "form", "stream"])
def test_max_body_size_applies_to_every_body_api(
    new_app: NewApp, serve: Serve, mode: str, what: str
) -> None:
    content_type = {"json": "application/json", "form": "application/x-www-form-urlencoded"}
    client = serve(body_app(new_app, MAX_BODY_SIZE=10))
    response = client.post(
        f"/{mode}/{what}",
        content=b'{"a": "' + b"x" * 20 + b'"}',
        headers={"content-type": content_type.get(what, "text/plain")},
    )
    problem(response, 413)


@MODES
def test_max_body_size_is_checked_while_a_chunked_body_streams(
    new_app: NewApp, serve: Serve, mode: str
) -> None:
    client = serve(body_app(new_app, MAX_BODY_SIZE=10))
    response = client.post(f"/{mode}/body", content=chunks(b"12345", b"67890"))
    assert response.json()["body"] == "1234567890"
    response = client.post(f"/{mode}/body", content=chunks(b"12345", b"67890", b"1"))
    detail = problem(response, 413)
    assert detail == "Body exceeds the limit of 10 bytes (setting MAX_BODY_SIZE)."


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_max_body_size_catches_an_understated_content_length(
    new_app: NewApp, mode: str
) -> None:
    # ASGI only: a WSGI server reads no more than Content-Length, so the extra bytes never
    # reach the app there.
    app = body_app(new_app, MAX_BODY_SIZE=10)
    async with app.async_test_client() as client:
        response = await client.post(
            f"/{mode}/body", content=b"x" * 50, headers={"content-length": "5"}
        )
    problem(response, 413)


@pytest.mark.anyio
async def test_max_body_size_refuses_a_declared_length_before_reading(new_app: NewApp) -> None:
    app = body_app(new_app, MAX_BODY_SIZE=10)
    sent: list[bytes] = []

    async def body() -> Any:
        for chunk in (b"x" * 600, b"x" * 600):
            sent.append(chunk)
            yield chunk

    async with app.async_test_client() as client:
        response = await client.post(
            "/async/body", content=body(), headers={"content-length": "1200"}
        )
    assert "1200 bytes" in problem(response, 413)
    assert sent == [], "the body was read although Content-Length was over the limit"


def test_max_body_size_refuses_a_declared_length_before_reading_under_wsgi(
    new_app: NewApp,
) -> None:
    app = body_app(new_app, MAX_BODY_SIZE=10)
    reads: list[int] = []
    inner = app.wsgi_app

    class RecordingInput:
        def __init__(self, stream: Any) -> None:
            self.stream = stream

        def read(self, size: int = -1) -> bytes:
            data: bytes = self.stream.read(size)
            reads.append(len(data))
            return data

    def recording(environ: dict[str, Any], start_response: Any) -> Any:
        environ["wsgi.input"] = RecordingInput(environ["wsgi.input"])
        return inner(environ, start_response)

    app.wsgi_app = recording
    with app.test_client() as client:
        response = client.post("/sync/body", content=b"x" * 1200)
    problem(response, 413)
    assert reads == []


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "+3", "0x10", "1 2", "9" * 19])
def test_invalid_content_length_is_400(new_app: NewApp, serve: Serve, value: str) -> None:
    client = serve(body_app(new_app))
    response = client.post("/sync/body", content=b"abc", headers={"content-length": value})
    assert problem(response, 400) == f"Invalid Content-Length {value!r}."


# -- JSON ----------------------------------------------------------------------------------------


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_max_json_depth_default_is_64(new_app: NewApp, serve: Serve) -> None:
    assert DEFAULTS["MAX_JSON_DEPTH"] == 64
    client = serve(body_app(new_app))
    headers = {"content-type": "application/json"}
    assert client.post("/sync/json", content=nested(64), headers=headers).status_code == 200
    detail = problem(client.post("/sync/json", content=nested(65), headers=headers), 400)
    assert detail == "JSON nests deeper than 64 levels (setting MAX_JSON_DEPTH)."


@MODES
@pytest.mark.parametrize(
    ("ok", "too_deep"),
    [
        (b"[[[1]]]", b"[[[[1]]]]"),
        (b'{"a": {"b": {"c": 1}}}', b'{"a": {"b": {"c": {"d": 1}}}}'),
        (b'[{"a": [1]}]', b'[{"a": [{"b": 1}]}]'),
        (b'["[[[[[[[[", 1]', b'[[[["]]]]"]]]]'),
    ],
)
def test_max_json_depth_setting(
    new_app: NewApp, serve: Serve, mode: str, ok: bytes, too_deep: bytes
) -> None:
    client = serve(body_app(new_app, MAX_JSON_DEPTH=3))
    headers = {"content-type": "application/json"}
    assert client.post(f"/{mode}/json", content=ok, headers=headers).status_code == 200
    detail = problem(client.post(f"/{mode}/json", content=too_deep, headers=headers), 400)
    assert "deeper than 3 levels" in detail


@pytest.mark.parametrize("body", [nested(100_000), b"[" * 100_000, b'{"a":' * 100_000])
def test_hostile_json_nesting_is_400_not_a_recursion_error(
    new_app: NewApp, serve: Serve, body: bytes
) -> None:
    client = serve(body_app(new_app))
    response = client.post("/sync/json", content=body, headers={"content-type": "application/json"})
    assert problem(response, 400).startswith(("JSON nests deeper", "Malformed JSON"))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(b"1" * 5000, "Integer value out of range", id="int-past-digit-limit"),
        pytest.param(b"[-" + b"9" * 5000 + b"]", "Integer value out of range", id="negative"),
        pytest.param(b"1e400", "Number out of range", id="float-overflow"),
        pytest.param(b"NaN", "malformed", id="nan"),
        pytest.param(b"[Infinity]", "malformed", id="infinity"),
        pytest.param(b"-Infinity", "malformed", id="minus-infinity"),
        pytest.param(b'{"a": 1', "truncated", id="truncated"),
        pytest.param(b'{"a": 1} x', "trailing characters", id="trailing"),
        pytest.param(b"{'a': 1}", "malformed", id="single-quotes"),
        pytest.param(b"\xff\xfe", "malformed", id="not-utf8"),
    ],
)
def test_bad_json_is_400_with_the_reason(
    new_app: NewApp, serve: Serve, body: bytes, reason: str
) -> None:
    client = serve(body_app(new_app))
    response = client.post("/sync/json", content=body, headers={"content-type": "application/json"})
    detail = problem(response, 400)
    assert detail.startswith("Malformed JSON: ")
    assert reason.lower() in detail.lower()


def test_empty_json_body_is_400(new_app: NewApp, serve: Serve) -> None:
    client = serve(body_app(new_app))
    response = client.post("/async/json", headers={"content-type": "application/json"})
    assert problem(response, 400) == "Malformed JSON: the body is empty."


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "application/problem+json",
        "application/vnd.api+json",
    ],
)
def test_json_accepts_json_media_types(new_app: NewApp, serve: Serve, content_type: str) -> None:
    client = serve(body_app(new_app))
    response = client.post("/sync/json", content=b"[1]", headers={"content-type": content_type})
    assert response.json()["json"] == [1]


@MODES
@pytest.mark.parametrize(
    ("content_type", "shown"),
    [
        ("text/plain", "'text/plain'"),
        ("application/x-www-form-urlencoded", "'application/x-www-form-urlencoded'"),
        ("application/jsonx", "'application/jsonx'"),
        ("text/json+xml", "'text/json+xml'"),
        (None, "'none'"),
    ],
)
def test_json_refuses_other_media_types_with_415(
    new_app: NewApp, serve: Serve, mode: str, content_type: str | None, shown: str
) -> None:
    client = serve(body_app(new_app))
    headers = {"content-type": content_type} if content_type else {}
    response = client.post(f"/{mode}/json", content=b"[1]", headers=headers)
    assert problem(response, 415) == f"Expected Content-Type application/json, got {shown}."


# -- headers and query limits --------------------------------------------------------------------


def header_app(new_app: NewApp, **config: Any) -> qiao.App:
    app = new_app(**config)

    @app.get("/h")
    def h(request: qiao.Request) -> dict[str, Any]:
        return {"n": len(request.headers), "q": len(request.query)}

    return app


def many_headers(n: int) -> dict[str, str]:
    return {f"x-h-{i}": "v" for i in range(n)}


def test_max_header_count_default_is_100(new_app: NewApp, serve: Serve) -> None:
    assert DEFAULTS["MAX_HEADER_COUNT"] == 100
    client = serve(header_app(new_app))
    # httpx adds host, accept, accept-encoding, connection and user-agent.
    assert client.get("/h", headers=many_headers(90)).status_code == 200
    detail = problem(client.get("/h", headers=many_headers(100)), 431)
    assert re.fullmatch(
        r"10\d header fields; the limit is 100 \(setting MAX_HEADER_COUNT\)\.", detail
    )


def test_max_header_count_setting(new_app: NewApp, serve: Serve) -> None:
    client = serve(header_app(new_app, MAX_HEADER_COUNT=10))
    assert client.get("/h", headers=many_headers(3)).status_code == 200
    detail = problem(client.get("/h", headers=many_headers(10)), 431)
    assert detail.endswith("header fields; the limit is 10 (setting MAX_HEADER_COUNT).")


def test_max_header_size_default_is_64_kibibytes(new_app: NewApp, serve: Serve) -> None:
    assert DEFAULTS["MAX_HEADER_SIZE"] == 64 * 1024
    client = serve(header_app(new_app))
    assert client.get("/h", headers={"x-big": "v" * 60_000}).status_code == 200
    detail = problem(client.get("/h", headers={"x-big": "v" * 66_000}), 431)
    assert detail == "Header fields exceed 65536 bytes (setting MAX_HEADER_SIZE)."


def test_max_header_size_setting(new_app: NewApp, serve: Serve) -> None:
    client = serve(header_app(new_app, MAX_HEADER_SIZE=300))
    assert client.get("/h", headers={"x-big": "v" * 10}).status_code == 200
    detail = problem(client.get("/h", headers={"x-big": "v" * 300}), 431)
    assert detail == "Header fields exceed 300 bytes (setting MAX_HEADER_SIZE)."


@pytest.mark.parametrize(
    ("config", "headers"),
    [
        pytest.param({"MAX_HEADER_COUNT": 10}, many_headers(20), id="count"),
        pytest.param({"MAX_HEADER_SIZE": 300}, {"x-big": "v" * 400}, id="size"),
    ],
)
def test_header_limits_apply_even_when_the_view_reads_no_header(
    new_app: NewApp,
    serve: Serve,
    config: dict[str, int],
    headers: dict[str, str],
    request: pytest.FixtureRequest,
) -> None:
    if "size" in request.node.callspec.id and "wsgi" in request.node.callspec.id:
        pytest.skip("under WSGI the server bounds header bytes; qiao checks on first read")
    app = new_app(**config)

    @app.get("/")
    def index(request: qiao.Request) -> str:
        return "never looked at a header"

    problem(serve(app).get("/", headers=headers), 431)


def test_header_size_limit_applies_when_a_wsgi_view_reads_headers(new_app: NewApp) -> None:
    app = new_app(MAX_HEADER_SIZE=300)

    @app.get("/")
    def index(request: qiao.Request) -> str:
        return request.headers.get("x-big", "")

    with app.test_client() as client:
        problem(client.get("/", headers={"x-big": "v" * 400}), 431)


def test_oversized_headers_get_json_even_when_html_is_asked_for(
    new_app: NewApp, serve: Serve
) -> None:
    # The Accept header cannot be trusted once the headers are over the limit.
    client = serve(header_app(new_app, MAX_HEADER_COUNT=5))
    response = client.get("/h", headers={"accept": "text/html", **many_headers(10)})
    problem(response, 431)


def test_max_query_fields_default_is_1000(new_app: NewApp, serve: Serve) -> None:
    assert DEFAULTS["MAX_QUERY_FIELDS"] == 1000
    client = serve(header_app(new_app))
    assert client.get("/h?" + "&".join(["a=1"] * 1000)).json()["q"] == 1
    detail = problem(client.get("/h?" + "&".join(["a=1"] * 1001)), 400)
    assert detail == "Too many query parameters (limit 1000; setting MAX_QUERY_FIELDS)."


def test_max_query_fields_setting(new_app: NewApp, serve: Serve) -> None:
    client = serve(header_app(new_app, MAX_QUERY_FIELDS=2))
    assert client.get("/h?a=1&b=2").json()["q"] == 2
    detail = problem(client.get("/h?a=1&b=2&c=3"), 400)
    assert detail == "Too many query parameters (limit 2; setting MAX_QUERY_FIELDS)."


def test_limits_are_read_from_config_at_startup(new_app: NewApp, serve: Serve) -> None:
    app = header_app(new_app)
    app.config["MAX_QUERY_FIELDS"] = 1  # changed after construction, before the first request
    problem(serve(app).get("/h?a=1&b=2"), 400)


def test_limit_errors_are_not_logged_as_server_errors(
    new_app: NewApp, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    client = serve(header_app(new_app, MAX_QUERY_FIELDS=1))
    with caplog.at_level(logging.DEBUG, logger="qiao"):
        problem(client.get("/h?a=1&b=2"), 400)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.mark.parametrize("body", [b'"\xff"', b'{"a": "\xc3"}', b'["ok", "\xed\xa0\x80"]'])
def test_invalid_utf8_inside_json_strings_is_a_400(
    new_app: NewApp, serve: Serve, body: bytes
) -> None:
    app = new_app()

    @app.post("/j")
    def j(request: qiao.Request) -> Any:
        return {"got": request.json()}

    response = serve(app).post("/j", content=body, headers={"content-type": "application/json"})
    assert problem(response, 400).startswith("Malformed JSON")


def test_absolute_url_for_uses_the_scheme_host_and_mount_point(new_app: NewApp) -> None:
    app = new_app(TRUSTED_PROXIES=["127.0.0.1"])

    @app.get("/posts/<int:id>", name="post")
    def post(request: qiao.Request, id: int) -> str:
        return request.absolute_url_for("post", id=id + 1)

    client = app.test_client(base_url="https://example.com")
    assert client.get("/posts/1").text == "https://example.com/posts/2"
    behind = app.test_client(base_url="http://10.0.0.1")
    forwarded = {"x-forwarded-proto": "https", "x-forwarded-host": "shop.example"}
    # The test client's peer is 127.0.0.1, a trusted proxy here: its headers are believed.
    assert behind.get("/posts/1", headers=forwarded).text == "https://shop.example/posts/2"
