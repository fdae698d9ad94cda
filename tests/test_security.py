"""The security batteries: SecurityHeaders (with ContentSecurityPolicy) and AllowedHosts.

Tests that use ``serve`` run twice: through WSGI (``app.test_client()``) and through ASGI
(``app.async_test_client()``).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

import qiao
from qiao.security import (
    DEBUG_HOSTS,
    MANAGED_HEADERS,
    MAX_HOST_LENGTH,
    AllowedHosts,
    ContentSecurityPolicy,
    SecurityHeaders,
    security_exempt,
)
from tests.http._support import NewApp, Serve, problem

DEFAULT_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}


@pytest.fixture(params=["wsgi", "asgi"])
def serve(request: pytest.FixtureRequest) -> Iterator[Serve]:
    """Call the app through WSGI, then (second run) through ASGI."""
    with ExitStack() as stack:
        yield Serve(request.param, stack)


def hello(request: qiao.Request) -> str:
    return "hello"


def secured(new_app: NewApp, *config: tuple[str, Any], **options: Any) -> qiao.App:
    settings = dict(config)
    if options.get("ssl_redirect") and not options.get("ssl_host"):
        # qiao.E104: a redirect built from Host needs the host checked first.
        settings.setdefault("ALLOWED_HOSTS", ["*"])
    app = new_app(**settings)
    if "ALLOWED_HOSTS" in settings:
        AllowedHosts(app)
    SecurityHeaders(app, **options)
    app.add_route("/", hello, ["GET", "POST"])
    return app


# -- SecurityHeaders: the headers ----------------------------------------------------------------


def test_default_headers_are_added(new_app: NewApp, serve: Serve) -> None:
    response = serve(secured(new_app)).get("/")
    assert response.text == "hello"
    for name, value in DEFAULT_HEADERS.items():
        assert response.headers[name] == value
    assert "strict-transport-security" not in response.headers  # plain HTTP
    assert "content-security-policy" not in response.headers  # no policy by default


def test_headers_are_added_to_error_responses(new_app: NewApp, serve: Serve) -> None:
    response = serve(secured(new_app)).get("/missing")
    assert response.status_code == 404
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_header_the_view_set_is_never_overwritten(new_app: NewApp, serve: Serve) -> None:
    app = secured(new_app)

    @app.get("/framed")
    def framed(request: qiao.Request) -> qiao.Response:
        return qiao.Response("ok", headers={"X-Frame-Options": "SAMEORIGIN"})

    response = serve(app, base_url="https://testserver").get("/framed")
    assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_security_exempt_leaves_out_the_named_headers(new_app: NewApp, serve: Serve) -> None:
    app = secured(new_app)

    @app.get("/embed")
    @security_exempt("X-Frame-Options")
    def embed(request: qiao.Request) -> str:
        return "embeddable"

    @app.get("/raw")
    @security_exempt()
    def raw(request: qiao.Request) -> str:
        return "raw"

    client = serve(app, base_url="https://testserver")
    embedded = client.get("/embed")
    assert "x-frame-options" not in embedded.headers
    assert embedded.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" in embedded.headers
    assert not MANAGED_HEADERS & set(client.get("/raw").headers)


def test_security_exempt_works_on_class_based_views(new_app: NewApp, serve: Serve) -> None:
    app = secured(new_app)

    @security_exempt("x-frame-options", "referrer-policy")
    class Widget(qiao.View):
        def get(self, request: qiao.Request) -> str:
            return "widget"

    app.add_route("/widget", Widget)
    response = serve(app).get("/widget")
    assert "x-frame-options" not in response.headers
    assert "referrer-policy" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"


def test_security_exempt_refuses_headers_it_does_not_manage() -> None:
    with pytest.raises(ValueError, match="security_exempt got x-powered-by"):
        security_exempt("X-Powered-By")


def test_settings_change_and_disable_headers(new_app: NewApp, serve: Serve) -> None:
    app = secured(
        new_app,
        ("SECURITY_REFERRER_POLICY", ["no-referrer", "strict-origin-when-cross-origin"]),
        ("SECURITY_CROSS_ORIGIN_OPENER_POLICY", None),
        ("SECURITY_CONTENT_TYPE_NOSNIFF", False),
        frame_options="sameorigin",  # an option overrides the setting
    )
    response = serve(app).get("/")
    assert response.headers["referrer-policy"] == "no-referrer, strict-origin-when-cross-origin"
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert "cross-origin-opener-policy" not in response.headers
    assert "x-content-type-options" not in response.headers


def test_unknown_option_is_a_type_error(new_app: NewApp) -> None:
    with pytest.raises(TypeError, match="unknown option"):
        SecurityHeaders(new_app(), hsts_second=60)


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("SECURITY_FRAME_OPTIONS", "ALLOW-FROM https://a.example", "SECURITY_FRAME_OPTIONS got"),
        ("SECURITY_REFERRER_POLICY", "no-referer", "SECURITY_REFERRER_POLICY got 'no-referer'"),
        ("SECURITY_CROSS_ORIGIN_OPENER_POLICY", "same", "SECURITY_CROSS_ORIGIN_OPENER_POLICY"),
        ("SECURITY_HSTS_SECONDS", -1, "SECURITY_HSTS_SECONDS must be"),
        ("SECURITY_HSTS_SECONDS", "3600", "SECURITY_HSTS_SECONDS must be"),
        ("SECURITY_HSTS_PRELOAD", True, "SECURITY_HSTS_PRELOAD needs"),
        ("SECURITY_CSP", "default-src 'self'", "SECURITY_CSP must be"),
        ("SECURITY_SSL_REDIRECT_EXEMPT", 5, "SECURITY_SSL_REDIRECT_EXEMPT must be"),
    ],
)
def test_invalid_settings_fail_at_start_up(
    new_app: NewApp, setting: str, value: Any, message: str
) -> None:
    app = secured(new_app, (setting, value))
    with pytest.raises(qiao.ImproperlyConfigured, match=r"^qiao\.E103: ") as info:
        app.compile()
    assert message in str(info.value)


# -- HSTS ----------------------------------------------------------------------------------------


def test_hsts_is_sent_only_over_https(new_app: NewApp, serve: Serve) -> None:
    app = secured(new_app)
    assert "strict-transport-security" not in serve(app).get("/").headers
    https = serve(app, base_url="https://testserver").get("/")
    assert https.headers["strict-transport-security"] == "max-age=31536000"


def test_hsts_settings(new_app: NewApp, serve: Serve) -> None:
    app = secured(new_app, hsts_seconds=63072000, hsts_include_subdomains=True, hsts_preload=True)
    response = serve(app, base_url="https://testserver").get("/")
    assert response.headers["strict-transport-security"] == (
        "max-age=63072000; includeSubDomains; preload"
    )


def test_hsts_none_sends_no_header_and_zero_revokes(new_app: NewApp, serve: Serve) -> None:
    off = serve(secured(new_app, hsts_seconds=None), base_url="https://testserver").get("/")
    assert "strict-transport-security" not in off.headers
    revoke = serve(secured(new_app, hsts_seconds=0), base_url="https://testserver").get("/")
    assert revoke.headers["strict-transport-security"] == "max-age=0"


def test_hsts_believes_x_forwarded_proto_from_a_trusted_proxy(
    new_app: NewApp, serve: Serve
) -> None:
    app = secured(new_app, ("TRUSTED_PROXIES", ["127.0.0.1"]))
    response = serve(app).get("/", headers={"x-forwarded-proto": "https"})
    assert response.headers["strict-transport-security"] == "max-age=31536000"


def test_hsts_ignores_x_forwarded_proto_from_an_untrusted_peer(
    new_app: NewApp, serve: Serve
) -> None:
    app = secured(new_app, ("TRUSTED_PROXIES", ["10.0.0.0/8"]))
    response = serve(app).get("/", headers={"x-forwarded-proto": "https"})
    assert "strict-transport-security" not in response.headers


# -- SSL redirect --------------------------------------------------------------------------------


def test_ssl_redirect_sends_get_to_https_with_301(new_app: NewApp, serve: Serve) -> None:
    app = secured(new_app, ssl_redirect=True)
    response = serve(app).get("/a%20b/c?x=1&y=%2F")
    assert response.status_code == 301
    assert response.headers["location"] == "https://testserver/a%20b/c?x=1&y=%2F"
    assert response.headers["x-frame-options"] == "DENY"  # the redirect is hardened too
    assert "strict-transport-security" not in response.headers


def test_ssl_redirect_keeps_the_method_of_a_post_with_308(new_app: NewApp, serve: Serve) -> None:
    response = serve(secured(new_app, ssl_redirect=True)).post("/", content=b"data")
    assert response.status_code == 308
    assert response.headers["location"] == "https://testserver/"


def test_ssl_redirect_lets_https_through(new_app: NewApp, serve: Serve) -> None:
    app = secured(new_app, ssl_redirect=True)
    assert serve(app, base_url="https://testserver").get("/").text == "hello"


def test_ssl_redirect_believes_a_trusted_proxy(new_app: NewApp, serve: Serve) -> None:
    app = secured(new_app, ("TRUSTED_PROXIES", ["127.0.0.1"]), ssl_redirect=True)
    client = serve(app)
    assert client.get("/", headers={"x-forwarded-proto": "https"}).text == "hello"
    assert client.get("/", headers={"x-forwarded-proto": "http"}).status_code == 301


def test_ssl_redirect_exempt_paths_and_ssl_host(new_app: NewApp, serve: Serve) -> None:
    app = secured(
        new_app, ssl_redirect=True, ssl_redirect_exempt=["/healthz"], ssl_host="secure.example"
    )

    @app.get("/healthz")
    def health(request: qiao.Request) -> str:
        return "up"

    client = serve(app)
    assert client.get("/healthz").text == "up"
    assert client.get("/?q=1").headers["location"] == "https://secure.example/?q=1"


def test_ssl_redirect_refuses_a_malformed_host(new_app: NewApp, serve: Serve) -> None:
    response = serve(secured(new_app, ssl_redirect=True)).get("/", headers={"host": "evil/x"})
    assert "not a host name" in problem(response, 400)


# -- Content Security Policy ---------------------------------------------------------------------


def test_content_security_policy_is_built_from_a_mapping_and_keywords() -> None:
    policy = ContentSecurityPolicy(
        {"default-src": "self", "img-src": ["'self'", "data:", "https://cdn.example"]},
        script_src="self strict-dynamic sha256-abc=",
        object_src="none",
        upgrade_insecure_requests=True,
        frame_ancestors=None,
    )
    assert policy.header_name == "content-security-policy"
    assert policy.value == (
        "default-src 'self'; img-src 'self' data: https://cdn.example; "
        "script-src 'self' 'strict-dynamic' 'sha256-abc='; object-src 'none'; "
        "upgrade-insecure-requests"
    )
    assert policy.render("ignored") == policy.value  # not a nonce policy
    assert "default-src 'self'" in repr(policy)


@pytest.mark.parametrize(
    "sources",
    ["'self'; script-src *", "https://a.example,https://b.example", ["a b"], ["x\r\ny"], [""]],
)
def test_content_security_policy_refuses_sources_that_break_the_header(sources: Any) -> None:
    with pytest.raises(ValueError, match="Invalid source"):
        ContentSecurityPolicy(default_src=sources)


def test_content_security_policy_refuses_bad_directive_names() -> None:
    with pytest.raises(ValueError, match="Invalid CSP directive name"):
        ContentSecurityPolicy({"default-src; script-src": "*"})


def test_csp_header_and_report_only_side_by_side(new_app: NewApp, serve: Serve) -> None:
    enforced = ContentSecurityPolicy(default_src="self")
    trial = ContentSecurityPolicy(default_src="self", script_src="none", report_only=True)
    app = secured(new_app, csp=[enforced, trial])
    response = serve(app).get("/")
    assert response.headers["content-security-policy"] == "default-src 'self'"
    assert response.headers["content-security-policy-report-only"] == (
        "default-src 'self'; script-src 'none'"
    )


def test_csp_setting_accepts_a_plain_mapping(new_app: NewApp, serve: Serve) -> None:
    app = secured(new_app, ("SECURITY_CSP", {"default-src": ["'none'"]}))
    assert serve(app).get("/").headers["content-security-policy"] == "default-src 'none'"


def test_csp_nonce_is_per_request_and_reaches_the_view(new_app: NewApp, serve: Serve) -> None:
    policy = ContentSecurityPolicy(default_src="self", style_src="self", nonce=True)
    app = secured(new_app, csp=policy)

    @app.get("/page")
    def page(request: qiao.Request) -> str:
        return f'<script nonce="{request.csp_nonce}"></script>'

    client = serve(app)
    first, second = client.get("/page"), client.get("/page")
    nonce = first.text.split('"')[1]
    assert len(nonce) >= 22
    assert first.headers["content-security-policy"] == (
        f"default-src 'self'; style-src 'self' 'nonce-{nonce}'; script-src 'self' 'nonce-{nonce}'"
    )
    assert second.text.split('"')[1] != nonce


def test_csp_nonce_on_named_directives_replaces_none() -> None:
    policy = ContentSecurityPolicy(default_src="none", nonce=["script-src"])
    assert policy.uses_nonce
    assert policy.render("abc") == "default-src 'none'; script-src 'nonce-abc'"
    assert policy.render() == "default-src 'none'"


def test_csp_nonce_header_even_when_an_earlier_hook_answered(new_app: NewApp, serve: Serve) -> None:
    app = new_app()

    @app.before_request
    def gate(request: qiao.Request) -> Any:
        return "gated", 403

    SecurityHeaders(app, csp=ContentSecurityPolicy(script_src="self", nonce=True))
    app.add_route("/", hello)
    response = serve(app).get("/")
    assert response.status_code == 403
    assert response.headers["content-security-policy"].startswith("script-src 'self' 'nonce-")


# -- AllowedHosts --------------------------------------------------------------------------------


def guarded(new_app: NewApp, hosts: Any, **config: Any) -> qiao.App:
    app = new_app(ALLOWED_HOSTS=hosts, **config)
    AllowedHosts(app)
    app.add_route("/", hello)
    return app


HOST_TABLE = [
    # (ALLOWED_HOSTS, Host header, allowed)
    (["example.com"], "example.com", True),
    (["example.com"], "EXAMPLE.Com", True),
    (["example.com"], "example.com:8443", True),
    (["example.com"], "example.com.", True),
    (["Example.COM"], "example.com", True),
    (["example.com"], "www.example.com", False),
    (["example.com"], "example.com.evil.net", False),
    (["example.com"], "evilexample.com", False),
    ([".example.com"], "example.com", True),
    ([".example.com"], "a.b.example.com:80", True),
    ([".example.com"], "evilexample.com", False),
    ([".example.com"], ".example.com", False),
    (["*"], "anything.test:1234", True),
    (["203.0.113.7"], "203.0.113.7:8000", True),
    (["203.0.113.7"], "203.0.113.8", False),
    (["[2001:db8::1]"], "[2001:DB8::1]:443", True),
    (["2001:db8::1"], "[2001:db8:0:0:0:0:0:1]", True),
    (["[2001:db8::1]"], "[2001:db8::2]", False),
    (["[::1]"], "::1", False),  # a bare IPv6 address is not a valid Host
]


@pytest.mark.parametrize(("hosts", "host", "allowed"), HOST_TABLE)
def test_host_matching(
    new_app: NewApp, serve: Serve, hosts: list[str], host: str, allowed: bool
) -> None:
    response = serve(guarded(new_app, hosts)).get("/", headers={"host": host})
    if allowed:
        assert response.text == "hello"
    else:
        detail = problem(response, 400)
        assert detail.startswith("Invalid Host header")


@pytest.mark.parametrize(("hosts", "host", "allowed"), HOST_TABLE)
def test_is_allowed_agrees_with_the_middleware(
    new_app: NewApp, hosts: list[str], host: str, allowed: bool
) -> None:
    app = guarded(new_app, hosts)
    app.compile()
    assert app.extensions["allowed_hosts"].is_allowed(host) is allowed


@pytest.mark.parametrize(
    "host",
    [
        "example.com evil.com",
        "example.com\x01",
        "user@example.com",
        "example.com/path",
        "example.com:80:80",
        "example.com:http",
        "example..com",
        "[::1",
        "[not:an:ip]",
        "a" * (MAX_HOST_LENGTH + 1),
    ],
)
def test_malformed_hosts_get_400_even_with_a_wildcard(
    new_app: NewApp, serve: Serve, host: str
) -> None:
    response = serve(guarded(new_app, ["*"])).get("/", headers={"host": host})
    assert problem(response, 400).startswith("Invalid Host header")


def test_the_reason_names_the_setting_only_in_debug(new_app: NewApp, serve: Serve) -> None:
    production = serve(guarded(new_app, ["example.com"])).get("/", headers={"host": "evil.test"})
    detail = problem(production, 400)
    assert detail == "Invalid Host header 'evil.test': this server does not serve that host."
    debug = serve(guarded(new_app, ["example.com"], DEBUG=True))
    response = debug.get("/", headers={"host": "Evil.test:8000"})
    assert problem(response, 400) == (
        "Invalid Host header 'Evil.test:8000': add 'evil.test' to ALLOWED_HOSTS."
    )


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("localhost:8000", True),
        ("app.localhost", True),
        ("127.0.0.1:5000", True),
        ("[::1]:8000", True),
        ("testserver", True),
        ("example.com", False),
        ("127.0.0.2", False),
    ],
)
def test_an_empty_list_in_debug_means_local_hosts(
    new_app: NewApp, serve: Serve, host: str, allowed: bool
) -> None:
    app = guarded(new_app, [], DEBUG=True)
    assert serve(app).get("/", headers={"host": host}).status_code == (200 if allowed else 400)
    assert "testserver" in DEBUG_HOSTS


def test_an_empty_list_outside_debug_fails_at_start_up(new_app: NewApp) -> None:
    app = guarded(new_app, [])
    with pytest.raises(qiao.ImproperlyConfigured, match=r"^qiao\.E101: ALLOWED_HOSTS is empty"):
        app.compile()


@pytest.mark.parametrize(
    "entry", ["example.com:8000", "*.example.com", "https://example.com", "a b", ".", "[::1]:80"]
)
def test_malformed_entries_fail_at_start_up(new_app: NewApp, entry: str) -> None:
    app = guarded(new_app, ["ok.example", entry])
    with pytest.raises(qiao.ImproperlyConfigured, match=r"^qiao\.E102: ALLOWED_HOSTS entry"):
        app.compile()


def test_the_setting_may_be_a_comma_separated_string(new_app: NewApp, serve: Serve) -> None:
    app = new_app()
    app.config.from_env(environ={"QIAO_ALLOWED_HOSTS": "a.example, .b.example"})
    AllowedHosts(app)
    app.add_route("/", hello)
    client = serve(app)
    assert client.get("/", headers={"host": "a.example"}).status_code == 200
    assert client.get("/", headers={"host": "x.b.example"}).status_code == 200
    assert client.get("/", headers={"host": "c.example"}).status_code == 400


def test_the_option_overrides_the_setting(new_app: NewApp, serve: Serve) -> None:
    app = new_app(ALLOWED_HOSTS=["a.example"])
    AllowedHosts(app, hosts=["b.example"])
    app.add_route("/", hello)
    client = serve(app)
    assert client.get("/", headers={"host": "b.example"}).status_code == 200
    assert client.get("/", headers={"host": "a.example"}).status_code == 400


def test_forwarded_host_from_a_trusted_proxy_is_checked(new_app: NewApp, serve: Serve) -> None:
    app = guarded(new_app, ["public.example"], TRUSTED_PROXIES=["127.0.0.1"])
    client = serve(app)
    ok = client.get("/", headers={"host": "internal:8000", "x-forwarded-host": "public.example"})
    assert ok.status_code == 200
    bad = client.get("/", headers={"host": "public.example", "x-forwarded-host": "evil.test"})
    assert problem(bad, 400).startswith("Invalid Host header 'evil.test'")


def test_forwarded_host_from_an_untrusted_peer_is_ignored(new_app: NewApp, serve: Serve) -> None:
    app = guarded(new_app, ["public.example"])
    response = serve(app).get(
        "/", headers={"host": "public.example", "x-forwarded-host": "evil.test"}
    )
    assert response.status_code == 200


def _wsgi_status(app: qiao.App, environ: dict[str, Any]) -> str:
    base = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "SERVER_NAME": "example.com",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
    }
    statuses: list[str] = []
    body = app.wsgi_app({**base, **environ}, lambda status, headers: statuses.append(status))
    b"".join(body)
    return statuses[0]


def test_a_request_without_host_is_checked_by_server_name(new_app: NewApp) -> None:
    app = guarded(new_app, ["example.com"])
    assert _wsgi_status(app, {}) == "200 OK"
    assert _wsgi_status(app, {"SERVER_NAME": "10.1.2.3"}) == "400 Bad Request"
    assert _wsgi_status(app, {"HTTP_HOST": "example.com:80"}) == "200 OK"


def test_a_non_ascii_host_gets_400(new_app: NewApp) -> None:
    app = guarded(new_app, ["*"])
    # PEP 3333 hands header bytes over as latin-1; an IDN must arrive as punycode.
    host = "exämple.com".encode().decode("latin-1")
    assert _wsgi_status(app, {"HTTP_HOST": host}) == "400 Bad Request"
    assert _wsgi_status(app, {"HTTP_HOST": "xn--exmple-cua.com"}) == "200 OK"


def test_the_refusal_goes_through_the_apps_400_handler(new_app: NewApp, serve: Serve) -> None:
    app = guarded(new_app, ["example.com"])

    @app.errorhandler(400)
    def bad_request(request: qiao.Request, exc: qiao.HTTPException) -> Any:
        return f"refused: {exc.detail}", 400

    response = serve(app).get("/", headers={"host": "evil.test"})
    assert response.status_code == 400
    assert response.text.startswith("refused: Invalid Host header 'evil.test'")


def test_installed_first_it_runs_before_other_hooks(new_app: NewApp, serve: Serve) -> None:
    app = new_app(ALLOWED_HOSTS=["example.com"])
    AllowedHosts(app)
    seen: list[str] = []

    @app.before_request
    def record(request: qiao.Request) -> None:
        seen.append(request.host)

    app.add_route("/", hello)
    assert serve(app).get("/", headers={"host": "evil.test"}).status_code == 400
    assert seen == []


def test_full_stack_in_the_recommended_order(new_app: NewApp, serve: Serve) -> None:
    app = new_app(ALLOWED_HOSTS=["example.com"])
    AllowedHosts(app)
    SecurityHeaders(app, ssl_redirect=True)
    app.add_route("/", hello)
    client = serve(app)
    refused = client.get("/", headers={"host": "evil.test"})
    assert refused.status_code == 400  # never redirected to https://evil.test
    assert refused.headers["x-frame-options"] == "DENY"
    redirected = client.get("/", headers={"host": "example.com"})
    assert redirected.headers["location"] == "https://example.com/"


@pytest.mark.parametrize("order", ["missing", "after"])
def test_ssl_redirect_needs_allowed_hosts_installed_first(new_app: NewApp, order: str) -> None:
    app = new_app(ALLOWED_HOSTS=["example.com"])
    SecurityHeaders(app, ssl_redirect=True)
    if order == "after":
        AllowedHosts(app)
    with pytest.raises(qiao.ImproperlyConfigured, match=r"qiao\.E104: SECURITY_SSL_REDIRECT"):
        app.compile()


def test_ssl_redirect_with_a_fixed_ssl_host_needs_no_host_check(new_app: NewApp) -> None:
    app = new_app()
    SecurityHeaders(app, ssl_redirect=True, ssl_host="secure.example")
    app.add_route("/", hello)
    response = app.test_client(base_url="http://evil.test").get("/")
    assert response.headers["location"] == "https://secure.example/"
