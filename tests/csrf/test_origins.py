"""What the browser says about where a request comes from: ``Origin``, ``Referer`` (HTTPS) and
``Sec-Fetch-Site``; trusted origins; proxies; ``check_origin``.

Mirrors Django's ``test_bad_origin_*``, ``test_good_origin_*``, ``test_https_*_referer*`` and
``test_https_csrf_*trusted_origin_allowed``.
"""

from __future__ import annotations

from typing import Any

import pytest

import qiao
from qiao.csrf import (
    CSRF,
    REASON_BAD_ORIGIN,
    REASON_BAD_REFERER,
    REASON_CROSS_SITE,
    REASON_CSRF_TOKEN_MISSING,
    REASON_INSECURE_REFERER,
    REASON_MALFORMED_REFERER,
    REASON_NO_CSRF_COOKIE,
    REASON_NO_REFERER,
    check_origin,
)
from tests.csrf._support import (
    MASKED_TEST_SECRET2,
    NewApp,
    accepted,
    csrf_app,
    refused,
    send,
)
from tests.http._support import Serve

HTTPS = {"base_url": "https://www.example.com"}
HTTP = {"base_url": "http://www.example.com"}


def post(client: Any, *, token: str | None = MASKED_TEST_SECRET2, **headers: str) -> Any:
    """POST /submit with a valid cookie and token and the given headers (``_`` for ``-``)."""
    sent = {name.replace("_", "-"): value for name, value in headers.items()}
    return send(client, token=token, headers=sent)


# -- Origin ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("base", [HTTP, HTTPS], ids=["http", "https"])
def test_same_origin_is_accepted(new_app: NewApp, serve: Serve, base: dict[str, str]) -> None:
    """Django's test_good_origin_insecure / test_good_origin_secure."""
    client = serve(csrf_app(new_app), **base)
    accepted(post(client, origin=base["base_url"]))


def test_origin_is_compared_without_case(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app), **HTTPS)
    accepted(post(client, origin="HTTPS://WWW.Example.COM"))


@pytest.mark.parametrize("base", [HTTP, HTTPS], ids=["http", "https"])
@pytest.mark.parametrize(
    "origin",
    [
        "https://www.evil.org",  # test_bad_origin_bad_domain
        "null",  # test_bad_origin_null_origin: sandboxed frames, file: pages, redirects
        "https://[",  # test_bad_origin_cannot_be_parsed
        "https://www.example.com:8443",
        "https://example.com",
        "https://www.example.com.evil.org",
        "https://www.example.com/",
        "",
    ],
)
def test_foreign_origin_is_refused_even_with_a_token(
    new_app: NewApp, serve: Serve, base: dict[str, str], origin: str
) -> None:
    client = serve(csrf_app(new_app), **base)
    refused(post(client, origin=origin), REASON_BAD_ORIGIN.format(origin))


def test_origin_with_another_scheme_is_refused(new_app: NewApp, serve: Serve) -> None:
    """Django's test_bad_origin_bad_protocol: a page on http:// cannot post to https://."""
    client = serve(csrf_app(new_app), **HTTPS)
    origin = "http://www.example.com"
    refused(post(client, origin=origin), REASON_BAD_ORIGIN.format(origin))
    client = serve(csrf_app(new_app), **HTTP)
    origin = "https://www.example.com"
    refused(post(client, origin=origin), REASON_BAD_ORIGIN.format(origin))


def test_origin_port_must_match_the_host_port(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app), base_url="http://localhost:8000")
    accepted(post(client, origin="http://localhost:8000"))
    origin = "http://localhost:3000"
    refused(post(client, origin=origin), REASON_BAD_ORIGIN.format(origin))


def test_origin_is_checked_before_the_cookie(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app), **HTTPS)
    response = send(client, cookie=None, headers={"origin": "https://www.evil.org"})
    refused(response, REASON_BAD_ORIGIN.format("https://www.evil.org"))


def test_a_good_origin_still_needs_the_token(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app), **HTTPS)
    refused(post(client, token=None, origin="https://www.example.com"), REASON_CSRF_TOKEN_MISSING)


def test_default_port_in_the_host_header_matches_the_origin(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app), **HTTPS)
    response = post(client, origin="https://www.example.com", host="www.example.com:443")
    accepted(response)


# -- trusted origins ------------------------------------------------------------------------------
def test_trusted_origin_exact(new_app: NewApp, serve: Serve) -> None:
    """Django's test_good_origin_csrf_trusted_origin_allowed."""
    app = csrf_app(new_app, CSRF_TRUSTED_ORIGINS=["https://dashboard.example.com"])
    client = serve(app, **HTTPS)
    accepted(post(client, origin="https://dashboard.example.com"))
    accepted(post(client, origin="https://DASHBOARD.example.com"))
    for origin in ("http://dashboard.example.com", "https://a.dashboard.example.com"):
        refused(post(client, origin=origin), REASON_BAD_ORIGIN.format(origin))


@pytest.mark.parametrize(
    ("origin", "trusted"),
    [
        ("https://foo.example.com", True),  # test_good_origin_wildcard_csrf_trusted_origin_allowed
        ("https://a.b.example.com", True),
        ("https://example.com", True),  # as Django's is_same_domain: the apex matches too
        ("http://foo.example.com", False),  # test_bad_origin_csrf_trusted_origin_bad_protocol
        ("https://foo.example.com:8443", False),
        ("https://badexample.com", False),
        ("https://example.com.evil.org", False),
    ],
)
def test_trusted_origin_wildcard(
    new_app: NewApp, serve: Serve, origin: str, *, trusted: bool
) -> None:
    app = csrf_app(new_app, CSRF_TRUSTED_ORIGINS=["http://no-match.com", "https://*.example.com"])
    client = serve(app, base_url="https://app.example.org")
    response = post(client, origin=origin)
    if trusted:
        accepted(response)
    else:
        refused(response, REASON_BAD_ORIGIN.format(origin))


def test_trusted_origins_as_an_option(new_app: NewApp, serve: Serve) -> None:
    app = csrf_app(new_app, options={"trusted_origins": ["https://partner.example"]})
    client = serve(app, **HTTPS)
    accepted(post(client, origin="https://partner.example"))


@pytest.mark.parametrize(
    "entry",
    ["example.com", "https://example.com/", "https://example.com/path", "https://", "://x", "*"],
)
def test_malformed_trusted_origin_fails_at_compile(new_app: NewApp, entry: str) -> None:
    app = csrf_app(new_app, CSRF_TRUSTED_ORIGINS=[entry])
    with pytest.raises(qiao.ImproperlyConfigured, match=r"qiao\.E302") as info:
        app.compile()
    assert repr(entry) in str(info.value)


def test_trusted_origins_as_a_bare_string_is_named_in_the_error(new_app: NewApp) -> None:
    app = csrf_app(new_app, CSRF_TRUSTED_ORIGINS="https://example.com")
    with pytest.raises(qiao.ImproperlyConfigured, match="list"):
        app.compile()


def test_wildcard_without_a_domain_fails_at_compile(new_app: NewApp) -> None:
    app = csrf_app(new_app, CSRF_TRUSTED_ORIGINS=["https://*."])
    with pytest.raises(qiao.ImproperlyConfigured, match=r"qiao\.E302"):
        app.compile()


def test_unicode_trusted_origin_matches_the_punycode_origin(new_app: NewApp, serve: Serve) -> None:
    app = csrf_app(new_app, CSRF_TRUSTED_ORIGINS=["https://bücher.example"])
    client = serve(app, **HTTPS)
    accepted(post(client, origin="https://xn--bcher-kva.example"))


# -- Referer (HTTPS without Origin) ---------------------------------------------------------------
def test_https_without_origin_or_referer_is_refused(new_app: NewApp, serve: Serve) -> None:
    """Django's test_https_no_referer."""
    client = serve(csrf_app(new_app), **HTTPS)
    refused(post(client), REASON_NO_REFERER)


@pytest.mark.parametrize(
    "referer", ["", "//example.com/", "https://", "https://[", "https://www.example.com:99999/"]
)
def test_https_malformed_referer_is_refused(new_app: NewApp, serve: Serve, referer: str) -> None:
    """Django's test_https_malformed_referer."""
    client = serve(csrf_app(new_app), **HTTPS)
    refused(post(client, referer=referer), REASON_MALFORMED_REFERER)


@pytest.mark.parametrize("referer", ["http://www.example.com/", "http://http://www.example.com/"])
def test_https_insecure_referer_is_refused(new_app: NewApp, serve: Serve, referer: str) -> None:
    """Django's test_https_reject_insecure_referer."""
    client = serve(csrf_app(new_app), **HTTPS)
    refused(post(client, referer=referer), REASON_INSECURE_REFERER)


@pytest.mark.parametrize(
    ("referer", "origin"),
    [
        ("https://www.evil.org/somepage", "https://www.evil.org"),  # test_https_bad_referer
        ("https://www.example.com:8443/", "https://www.example.com:8443"),
        ("https://user@www.example.com/", "https://user@www.example.com"),
        ("https://www.example.com.evil.org/", "https://www.example.com.evil.org"),
    ],
)
def test_https_referer_from_another_origin_is_refused(
    new_app: NewApp, serve: Serve, referer: str, origin: str
) -> None:
    client = serve(csrf_app(new_app), **HTTPS)
    refused(post(client, referer=referer), REASON_BAD_REFERER.format(origin))


@pytest.mark.parametrize(
    "referer",
    [
        "https://www.example.com/somepage",  # test_https_good_referer
        "https://www.example.com",  # test_https_good_referer_2 (no trailing slash)
        "https://WWW.EXAMPLE.COM/a?b=c#d",
        "HTTPS://www.example.com/",
    ],
)
def test_https_same_origin_referer_is_accepted(new_app: NewApp, serve: Serve, referer: str) -> None:
    client = serve(csrf_app(new_app), **HTTPS)
    accepted(post(client, referer=referer))


def test_https_same_origin_referer_still_needs_the_token(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app), **HTTPS)
    refused(post(client, token=None, referer="https://www.example.com/"), REASON_CSRF_TOKEN_MISSING)


@pytest.mark.parametrize(
    "referer", ["https://dashboard.example.com", "https://a.partner.example/page"]
)
def test_https_trusted_referer_is_accepted(new_app: NewApp, serve: Serve, referer: str) -> None:
    """Django's test_https_csrf_trusted_origin_allowed / _wildcard_trusted_origin_allowed."""
    trusted = ["https://dashboard.example.com", "https://*.partner.example"]
    client = serve(csrf_app(new_app, CSRF_TRUSTED_ORIGINS=trusted), **HTTPS)
    accepted(post(client, referer=referer))


def test_origin_takes_the_place_of_the_referer(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app), **HTTPS)
    accepted(post(client, origin="https://www.example.com", referer="https://www.evil.org/"))


def test_plain_http_needs_only_the_token(new_app: NewApp, serve: Serve) -> None:
    """Over HTTP the Referer is not checked (it proves nothing a MITM cannot forge)."""
    client = serve(csrf_app(new_app), **HTTP)
    accepted(post(client))
    accepted(post(client, referer="https://www.evil.org/"))
    refused(post(client, token=None), REASON_CSRF_TOKEN_MISSING)


# -- Sec-Fetch-Site -------------------------------------------------------------------------------
@pytest.mark.parametrize("base", [HTTP, HTTPS], ids=["http", "https"])
def test_same_origin_fetch_with_matching_origin_needs_no_token(
    new_app: NewApp, serve: Serve, base: dict[str, str]
) -> None:
    client = serve(csrf_app(new_app), **base)
    headers = {"origin": base["base_url"], "sec-fetch-site": "same-origin"}
    accepted(send(client, cookie=None, headers=headers))


@pytest.mark.parametrize("fetch_site", [None, "same-site", "none", "Same-Origin"])
def test_other_fetch_sites_with_matching_origin_still_need_the_token(
    new_app: NewApp, serve: Serve, fetch_site: str | None
) -> None:
    client = serve(csrf_app(new_app), **HTTPS)
    headers = {"origin": "https://www.example.com"}
    if fetch_site is not None:
        headers["sec-fetch-site"] = fetch_site
    refused(send(client, cookie=None, headers=headers), REASON_NO_CSRF_COOKIE)
    accepted(send(client, token=MASKED_TEST_SECRET2, headers=headers))


def test_same_origin_fetch_without_origin_still_needs_the_token(
    new_app: NewApp, serve: Serve
) -> None:
    client = serve(csrf_app(new_app), **HTTP)
    refused(
        send(client, cookie=None, headers={"sec-fetch-site": "same-origin"}), REASON_NO_CSRF_COOKIE
    )


def test_same_origin_fetch_from_a_trusted_origin_still_needs_the_token(
    new_app: NewApp, serve: Serve
) -> None:
    app = csrf_app(new_app, CSRF_TRUSTED_ORIGINS=["https://admin.example.com"])
    client = serve(app, **HTTPS)
    headers = {"origin": "https://admin.example.com", "sec-fetch-site": "same-origin"}
    refused(send(client, cookie=None, headers=headers), REASON_NO_CSRF_COOKIE)


@pytest.mark.parametrize("origin", [None, "https://www.example.com"])
def test_cross_site_fetch_is_refused(new_app: NewApp, serve: Serve, origin: str | None) -> None:
    client = serve(csrf_app(new_app), **HTTPS)
    headers = {"sec-fetch-site": "cross-site", "referer": "https://www.example.com/"}
    if origin is not None:
        headers["origin"] = origin
    refused(send(client, token=MASKED_TEST_SECRET2, headers=headers), REASON_CROSS_SITE)


def test_cross_site_fetch_from_a_trusted_origin_is_accepted_with_the_token(
    new_app: NewApp, serve: Serve
) -> None:
    app = csrf_app(new_app, CSRF_TRUSTED_ORIGINS=["https://partner.example"])
    client = serve(app, **HTTPS)
    headers = {"origin": "https://partner.example", "sec-fetch-site": "cross-site"}
    accepted(send(client, token=MASKED_TEST_SECRET2, headers=headers))
    refused(send(client, headers=headers), REASON_CSRF_TOKEN_MISSING)


def test_cross_site_fetch_from_an_untrusted_origin_names_the_origin(
    new_app: NewApp, serve: Serve
) -> None:
    client = serve(csrf_app(new_app), **HTTPS)
    headers = {"origin": "https://www.evil.org", "sec-fetch-site": "cross-site"}
    refused(send(client, headers=headers), REASON_BAD_ORIGIN.format("https://www.evil.org"))


# -- proxies --------------------------------------------------------------------------------------
PROXIED = {"x-forwarded-proto": "https", "x-forwarded-host": "www.example.com"}


def test_behind_a_trusted_proxy_the_forwarded_origin_counts(new_app: NewApp, serve: Serve) -> None:
    """Django's test_https_good_referer_behind_proxy: the app sees http://10.0.0.2."""
    client = serve(csrf_app(new_app, TRUSTED_PROXIES=["127.0.0.1"]), base_url="http://10.0.0.2")
    accepted(post(client, origin="https://www.example.com", **_underscored(PROXIED)))
    accepted(post(client, referer="https://www.example.com/form", **_underscored(PROXIED)))
    # the forwarded scheme is HTTPS, so the Referer rule applies
    refused(post(client, **_underscored(PROXIED)), REASON_NO_REFERER)
    origin = "http://10.0.0.2"
    refused(post(client, origin=origin, **_underscored(PROXIED)), REASON_BAD_ORIGIN.format(origin))


def test_behind_a_trusted_proxy_the_forwarded_header_counts(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app, TRUSTED_PROXIES=["127.0.0.0/8"]), base_url="http://10.0.0.2")
    response = post(
        client,
        origin="https://www.example.com",
        forwarded="for=203.0.113.7;proto=https;host=www.example.com",
    )
    accepted(response)


def test_forwarded_headers_from_an_untrusted_peer_are_ignored(
    new_app: NewApp, serve: Serve
) -> None:
    """A client cannot claim another host or scheme to make its forged Origin match."""
    client = serve(csrf_app(new_app), base_url="http://10.0.0.2")
    origin = "https://www.example.com"
    refused(post(client, origin=origin, **_underscored(PROXIED)), REASON_BAD_ORIGIN.format(origin))
    accepted(post(client, origin="http://10.0.0.2", **_underscored(PROXIED)))


def _underscored(headers: dict[str, str]) -> dict[str, str]:
    return {name.replace("-", "_"): value for name, value in headers.items()}


# -- check_origin ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("base", "headers", "reason"),
    [
        (HTTPS, {"origin": "https://www.example.com"}, None),
        (
            HTTPS,
            {"origin": "https://www.evil.org"},
            REASON_BAD_ORIGIN.format("https://www.evil.org"),
        ),
        (HTTPS, {"origin": "null"}, REASON_BAD_ORIGIN.format("null")),
        (HTTPS, {"origin": "https://partner.example"}, None),
        (HTTPS, {"sec-fetch-site": "cross-site"}, REASON_CROSS_SITE),
        (HTTPS, {}, REASON_NO_REFERER),
        (HTTPS, {"referer": "https://www.example.com/chat"}, None),
        (HTTP, {}, None),
    ],
)
def test_check_origin_for_websocket_like_handshakes(
    new_app: NewApp,
    serve: Serve,
    base: dict[str, str],
    headers: dict[str, str],
    reason: str | None,
) -> None:
    """``check_origin`` runs the Origin rules on any request, GET included, and never raises."""
    app = new_app(CSRF_TRUSTED_ORIGINS=["https://partner.example"])
    CSRF(app)

    @app.get("/ws")
    def handshake(request: qiao.Request) -> dict[str, str | None]:
        return {"problem": check_origin(request)}

    response = serve(app, **base).get("/ws", headers=headers)
    assert response.status_code == 200
    assert response.json() == {"problem": reason}
