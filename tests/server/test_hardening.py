"""Request smuggling and malformed input: the server refuses what it cannot frame safely, with the
exact status, ``Connection: close`` and a closed connection, before any app sees it; and it frames
what it accepts exactly (keep-alive, pipelining, HEAD, HTTP/1.0, ``Expect: 100-continue``).

Every case runs for a qiao app served natively, a bare ASGI 3 app and a bare WSGI app.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import pytest

from ._wire import (
    FAST,
    INTERFACES,
    Hammer,
    Wire,
    converse,
    echo_app,
    parse_responses,
    read_until,
    read_until_close,
    request,
)
from .conftest import running_server

GET = request()


def client_hello() -> bytes:
    """A real TLS ClientHello, as a browser sends to an ``https://`` URL with the wrong port."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="example.com")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def post(*headers: str, body: bytes = b"") -> bytes:
    """A POST whose framing headers are exactly ``headers``."""
    head = "POST / HTTP/1.1\r\nHost: x\r\n" + "".join(f"{h}\r\n" for h in headers) + "\r\n"
    return head.encode() + body  # UTF-8: the Arabic-Indic digit goes as its two bytes


SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

#: (id, bytes, status): refused from the head alone, before the app is called.
FRAMING = [
    (
        "content-length-with-transfer-encoding",
        post("Content-Length: 4", "Transfer-Encoding: chunked", body=b"0\r\n\r\n" + SMUGGLED),
        400,
    ),
    (
        "transfer-encoding-with-content-length",
        post("Transfer-Encoding: chunked", "Content-Length: 0", body=b"3\r\nabc\r\n0\r\n\r\n"),
        400,
    ),
    (
        "unknown-coding-with-content-length",
        post("Transfer-Encoding: gzip", "Content-Length: 3", body=b"abc"),
        400,
    ),
    ("duplicate-content-length-same", post("Content-Length: 3", "Content-Length: 3"), 400),
    ("duplicate-content-length-different", post("Content-Length: 3", "Content-Length: 4"), 400),
    ("content-length-list", post("Content-Length: 3, 3", body=b"abc"), 400),
    ("content-length-non-numeric", post("Content-Length: abc", body=b"abc"), 400),
    ("content-length-plus-sign", post("Content-Length: +5", body=b"abcde"), 400),
    ("content-length-underscore", post("Content-Length: 1_0", body=b"0123456789"), 400),
    ("content-length-arabic-indic-digit", post("Content-Length: ١", body=b"a"), 400),
    ("content-length-negative", post("Content-Length: -1", body=b"a"), 400),
    ("content-length-inner-space", post("Content-Length: 1 0", body=b"0123456789"), 400),
    ("content-length-overflow", post("Content-Length: " + "9" * 30, body=b"a"), 400),
    ("content-length-empty", post("Content-Length: ", body=b"a"), 400),
    ("chunked-not-last", post("Transfer-Encoding: chunked, gzip", body=b"0\r\n\r\n"), 400),
    ("chunked-twice", post("Transfer-Encoding: chunked, chunked", body=b"0\r\n\r\n"), 400),
    (
        "transfer-encoding-two-lines",
        post("Transfer-Encoding: chunked", "Transfer-Encoding: chunked", body=b"0\r\n\r\n"),
        400,
    ),
    (
        "transfer-encoding-obfuscated-second-line",
        post("Transfer-Encoding: chunked", "Transfer-Encoding: x", body=b"0\r\n\r\n"),
        400,
    ),
    (
        "transfer-encoding-space-before-colon",
        post("Transfer-Encoding : chunked", body=b"0\r\n\r\n"),
        400,
    ),
    (
        "transfer-encoding-vertical-tab",
        post("Transfer-Encoding: \x0bchunked", body=b"0\r\n\r\n"),
        400,
    ),
    ("unknown-coding-gzip", post("Transfer-Encoding: gzip"), 501),
    ("unknown-coding-before-chunked", post("Transfer-Encoding: gzip, chunked"), 501),
    ("unknown-coding-identity", post("Transfer-Encoding: identity"), 501),
    ("unknown-coding-xchunked", post("Transfer-Encoding: xchunked"), 501),
]

#: (id, bytes, status): a head that is not HTTP/1.1 syntax.
SYNTAX = [
    ("obs-fold-space", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400),
    ("obs-fold-tab", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n", 400),
    ("bare-lf-request-line", b"GET / HTTP/1.1\nHost: x\r\n\r\n", 400),
    ("bare-lf-header-line", b"GET / HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n", 400),
    ("bare-lf-end-of-head", b"GET / HTTP/1.1\r\nHost: x\r\n\n", 400),
    ("bare-cr-request-line", b"GET / HTTP/1.1\rHost: x\r\n\r\n", 400),
    ("bare-cr-header-line", b"GET / HTTP/1.1\r\nHost: x\rX-A: b\r\n\r\n", 400),
    ("bare-cr-inside-value", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400),
    ("space-before-colon", b"GET / HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n", 400),
    ("space-inside-name", b"GET / HTTP/1.1\r\nHost: x\r\nX A: b\r\n\r\n", 400),
    ("parenthesis-in-name", b"GET / HTTP/1.1\r\nHost: x\r\nX(A): b\r\n\r\n", 400),
    ("at-sign-in-name", b"GET / HTTP/1.1\r\nHost: x\r\nX@A: b\r\n\r\n", 400),
    ("non-ascii-name", b"GET / HTTP/1.1\r\nHost: x\r\nX-\xe9: b\r\n\r\n", 400),
    ("empty-name", b"GET / HTTP/1.1\r\nHost: x\r\n: b\r\n\r\n", 400),
    ("whitespace-before-first-header", b"GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400),
    ("nul-in-value", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", 400),
    ("soh-in-value", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n", 400),
    ("escape-in-value", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x1bb\r\n\r\n", 400),
    ("del-in-value", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x7fb\r\n\r\n", 400),
    ("lower-case-method", b"get / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("lower-case-protocol", b"GET / http/1.1\r\nHost: x\r\n\r\n", 400),
    ("space-after-version", b"GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400),
    ("nul-in-target", b"GET /a\x00b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("tab-in-target", b"GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("raw-non-ascii-in-target", b"GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n", 400),
]

#: (id, bytes, status): the request target, the Host rules and the version.
TARGET = [
    ("path-not-utf8", b"GET /%ff%fe HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (
        "absolute-form-host-disagrees",
        b"GET http://evil.example/ HTTP/1.1\r\nHost: good.example\r\n\r\n",
        400,
    ),
    (
        "absolute-form-port-disagrees",
        b"GET http://good.example:8080/ HTTP/1.1\r\nHost: good.example\r\n\r\n",
        400,
    ),
    ("absolute-form-without-host", b"GET http://good.example/ HTTP/1.1\r\n\r\n", 400),
    ("missing-host", b"GET / HTTP/1.1\r\n\r\n", 400),
    ("two-hosts-same", b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400),
    ("two-hosts-different", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("asterisk-not-options", b"GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("http-2-version", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    ("http-0-9-version", b"GET / HTTP/0.9\r\nHost: x\r\n\r\n", 505),
    ("tls-client-hello", client_hello(), 400),
]

#: Host values RFC 9110 section 7.2 says a server MUST answer 400 to.
BAD_HOSTS = ["a b", "a/b", "evil@good.example", "x:port", "[::1"]

REFUSED = FRAMING + SYNTAX + TARGET


def cases(table: list[tuple[str, bytes, int]]) -> Any:
    return pytest.mark.parametrize(
        ("data", "status"), [p[1:] for p in table], ids=[p[0] for p in table]
    )


@pytest.fixture(scope="module", params=INTERFACES)
def shared(request: pytest.FixtureRequest) -> Iterator[tuple[Any, list[str]]]:
    """One server per interface for the whole module (the refusal tables are long)."""
    calls: list[str] = []
    options = {**FAST, "timeout_body": 0.2, "timeout_keep_alive": 0.3}
    with running_server(echo_app(request.param, calls), **options) as running:
        yield running, calls


@pytest.fixture
def echo(shared: tuple[Any, list[str]]) -> tuple[Any, list[str]]:
    shared[1].clear()
    return shared


@pytest.fixture(params=INTERFACES)
def interface(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def assert_refused(wire: Wire, status: int) -> None:
    """Exactly one response, ``status``, saying ``Connection: close``; then the server closed."""
    replies = wire.replies()
    assert [reply.status for reply in replies] == [status], wire.data
    assert replies[0].closes, replies[0].headers
    assert wire.closed, "the server left the connection open"
    assert b"smuggled" not in wire.data


# -- refusals -------------------------------------------------------------------------------------
@cases(REFUSED)
def test_refused_before_the_app_runs(echo: tuple[Any, list[str]], data: bytes, status: int) -> None:
    running, calls = echo
    assert_refused(converse(running, data), status)
    assert calls == []


@pytest.mark.parametrize("host", BAD_HOSTS)
def test_invalid_host_value_is_refused(echo: tuple[Any, list[str]], host: str) -> None:
    running, calls = echo
    # NOTE: Connection: close only keeps the failing case fast; the refusal must close anyway.
    wire = converse(running, request(headers=[("Host", host), ("Connection", "close")]))
    assert_refused(wire, 400)
    assert calls == []


def test_http2_preface_is_refused(echo: tuple[Any, list[str]]) -> None:
    wire = converse(echo[0], b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    replies = wire.replies()
    assert [reply.status for reply in replies] in ([400], [505])
    assert wire.closed


def test_smuggled_request_after_refusal_is_never_answered(echo: tuple[Any, list[str]]) -> None:
    running, calls = echo
    # CL.TE: a front end trusting Content-Length forwards the GET as part of the body.
    data = post("Content-Length: 39", "Transfer-Encoding: chunked", body=b"0\r\n\r\n" + SMUGGLED)
    assert_refused(converse(running, data), 400)
    # TE.CL: a front end trusting Transfer-Encoding forwards the GET as a second request.
    data = post("Transfer-Encoding: chunked", "Content-Length: 3", body=b"5\r\n" + SMUGGLED)
    assert_refused(converse(running, data), 400)
    assert calls == []


#: A chunked body that goes wrong after the head: the app is reading it when the error arrives.
BAD_CHUNKS = [
    ("size-not-hex", b"zz\r\nabc\r\n0\r\n\r\n"),
    ("size-0x-prefix", b"0x3\r\nabc\r\n0\r\n\r\n"),
    ("size-overflow", b"ffffffffffffffffff\r\nabc\r\n0\r\n\r\n"),
    ("size-negative", b"-3\r\nabc\r\n0\r\n\r\n"),
    ("extension-nul", b"3;\x00\r\nabc\r\n0\r\n\r\n"),
    ("extension-control-in-quoted-value", b'3;a="\x01"\r\nabc\r\n0\r\n\r\n'),
    ("extension-bare-lf", b"3;a\nxx\r\nabc\r\n0\r\n\r\n"),
    ("bare-lf-after-size", b"3\nabc\r\n0\r\n\r\n"),
    ("bare-cr-after-size", b"3\rabc\r\n0\r\n\r\n"),
    ("bare-lf-after-data", b"3\r\nabc\n0\r\n\r\n"),
    ("data-longer-than-size", b"3\r\nabcd\r\n0\r\n\r\n"),
    ("last-chunk-bare-lf", b"3\r\nabc\r\n0\n\n"),
    ("trailer-bad-name", b"3\r\nabc\r\n0\r\nX T: 1\r\n\r\n"),
]


@pytest.mark.parametrize("chunks", [c[1] for c in BAD_CHUNKS], ids=[c[0] for c in BAD_CHUNKS])
def test_malformed_chunked_body_is_refused(echo: tuple[Any, list[str]], chunks: bytes) -> None:
    assert_refused(converse(echo[0], post("Transfer-Encoding: chunked", body=chunks)), 400)


def test_valid_chunk_extension_and_trailer_are_accepted(echo: tuple[Any, list[str]]) -> None:
    data = post("Transfer-Encoding: chunked", body=b'3;a=b;c="d e"\r\nabc\r\n0\r\nX-T: 1\r\n\r\n')
    wire = converse(echo[0], data + request(headers=[("Host", "x"), ("Connection", "close")]))
    assert [(r.status, r.body) for r in wire.replies()] == [(200, b"abc"), (200, b"ok")]


def test_transfer_encoding_is_case_and_whitespace_insensitive(
    echo: tuple[Any, list[str]],
) -> None:
    for value in ("CHUNKED", "\tchunked", "Chunked "):
        data = post(
            f"Transfer-Encoding: {value}", "Connection: close", body=b"3\r\nabc\r\n0\r\n\r\n"
        )
        assert [(r.status, r.body) for r in converse(echo[0], data).replies()] == [(200, b"abc")]


def test_trailing_whitespace_is_not_part_of_the_host(echo: tuple[Any, list[str]]) -> None:
    data = b"GET http://good.example/ HTTP/1.1\r\nHost: good.example \r\nConnection: close\r\n\r\n"
    assert converse(echo[0], data).statuses() == [200]


def test_http10_transfer_encoding_closes_the_connection(echo: tuple[Any, list[str]]) -> None:
    data = (
        b"POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n0\r\n\r\n" + request(version="1.0", headers=[("Connection", "keep-alive")])
    )
    wire = converse(echo[0], data)
    assert len(wire.replies()) == 1
    assert wire.closed


def test_absolute_form_with_matching_host_is_answered(echo: tuple[Any, list[str]]) -> None:
    running, calls = echo
    data = b"GET HTTP://Good.Example/ HTTP/1.1\r\nHost: good.example\r\nConnection: close\r\n\r\n"
    assert converse(running, data).statuses() == [200]
    assert calls == ["/"]


# -- pipelining around a refusal ---------------------------------------------------------------
def test_pipelined_requests_before_a_malformed_one_are_answered(
    echo: tuple[Any, list[str]],
) -> None:
    bad = b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n"
    wire = converse(echo[0], GET + request("POST", body=b"two") + bad)
    assert [(r.status, r.body) for r in wire.replies()][:2] == [(200, b"ok"), (200, b"two")]
    assert wire.statuses() == [200, 200, 400]
    assert wire.closed


def test_malformed_pipelined_request_never_reaches_the_app(echo: tuple[Any, list[str]]) -> None:
    running, calls = echo
    bad = post("Content-Length: 3", "Transfer-Encoding: chunked", body=b"0\r\n\r\n")
    wire = converse(running, GET + bad + SMUGGLED)
    assert wire.statuses()[:1] == [200]
    assert 200 not in wire.statuses()[1:]
    assert wire.closed
    assert calls == ["/"]


# -- the WSGI environ ---------------------------------------------------------------------------
def test_wsgi_drops_header_names_with_underscores(serve: Any) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        keys = sorted(k for k in environ if k.startswith("HTTP_X_"))
        return [repr([(k, environ[k]) for k in keys]).encode()]

    with serve(app) as running:
        headers = [("Host", "x"), ("X-Auth_User", "evil"), ("Connection", "close")]
        [reply] = converse(running, request(headers=headers)).replies()
        assert reply.body == b"[]"
        headers = [("Host", "x"), ("X-Auth-User", "good"), ("X-Auth_User", "evil")]
        [reply] = converse(running, request(headers=[*headers, ("Connection", "close")])).replies()
        assert reply.body == repr([("HTTP_X_AUTH_USER", "good")]).encode()


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_header_values_exclude_surrounding_whitespace(serve: Any, kind: str) -> None:
    seen: list[Any] = []

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        seen.append(dict(scope["headers"])[b"x-a"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ["HTTP_X_A"].encode("latin-1"))
        start_response("204 No Content", [])
        return []

    with serve(asgi if kind == "asgi" else wsgi) as running:
        data = b"GET / HTTP/1.1\r\nHost: x\r\nX-A: \t v  \t\r\nConnection: close\r\n\r\n"
        assert converse(running, data).statuses() == [204]
    assert seen == [b"v"]


# -- under load -----------------------------------------------------------------------------------
@pytest.mark.parametrize("event_loop", ["asyncio", "uvloop"])
def test_refusals_hold_under_load(interface: str, event_loop: str) -> None:
    calls: list[str] = []
    app = echo_app(interface, calls)
    # NOTE: a long keep-alive: a hammer thread starved for a second on a busy machine must not
    # race the server's idle close (httpx does not retry a POST on a closed connection).
    options = {**FAST, "timeout_keep_alive": 30.0}
    with (
        running_server(app, event_loop=event_loop, **options) as running,
        Hammer(running.url) as hammer,
    ):
        for _, data, status in REFUSED:
            assert_refused(converse(running, data), status)
        before = len(hammer.statuses)
        for _, data, status in REFUSED:
            assert_refused(converse(running, data), status)
        assert len(hammer.statuses) > before, "the normal clients stalled"
    assert hammer.errors == [], hammer.errors
    assert set(hammer.statuses) == {200}, hammer.statuses
    assert set(calls) == {"/"}


# -- framing the server must get right ------------------------------------------------------------
def test_keep_alive_pipelining_with_bodies_and_head(serve: Any, interface: str) -> None:
    calls: list[str] = []
    with serve(echo_app(interface, calls), **FAST) as running, running.connect() as sock:
        sock.sendall(
            request("POST", body=b"one")
            + request("HEAD")
            + post("Transfer-Encoding: chunked", body=b"3\r\ntwo\r\n1;x=y\r\n!\r\n0\r\n\r\n")
            + GET
            + request("POST", body=b"three", headers=[("Host", "x"), ("Connection", "close")])
        )
        data, closed = read_until_close(sock)
    replies = parse_responses(data, ["POST", "HEAD", "POST", "GET", "POST"])
    assert [(r.status, r.body) for r in replies] == [
        (200, b"one"),
        (200, b""),
        (200, b"two!"),
        (200, b"ok"),
        (200, b"three"),
    ]
    assert replies[1].header("content-length") == replies[3].header("content-length") == "2"
    assert [r.closes for r in replies] == [False] * 4 + [True]
    assert closed


def test_many_pipelined_requests_are_answered_in_order(serve: Any, interface: str) -> None:
    with serve(echo_app(interface), max_pipeline=4, **FAST) as running, running.connect() as sock:
        sock.sendall(
            b"".join(request("POST", body=b"%d" % i) for i in range(200))
            + post("Connection: close")
        )
        data, closed = read_until_close(sock, 10)
    replies = parse_responses(data)
    assert [r.body for r in replies] == [b"%d" % i for i in range(200)] + [b"ok"]
    assert closed


def test_head_has_the_same_headers_and_no_body(serve: Any, interface: str) -> None:
    with serve(echo_app(interface), **FAST) as running:
        [get] = converse(
            running, request(headers=[("Host", "x"), ("Connection", "close")])
        ).replies()
        wire = converse(running, request("HEAD", headers=[("Host", "x"), ("Connection", "close")]))
    [head] = wire.replies(["HEAD"])
    assert wire.data.endswith(b"\r\n\r\n"), "a HEAD response carried a body"
    assert head.status == get.status == 200
    assert head.body == b""
    drop = {"date"}
    assert {k: v for k, v in head.headers.items() if k not in drop} == {
        k: v for k, v in get.headers.items() if k not in drop
    }


def test_date_and_server_headers(serve: Any, interface: str) -> None:
    with serve(echo_app(interface), **FAST) as running:
        [reply] = converse(
            running, request(headers=[("Host", "x"), ("Connection", "close")])
        ).replies()
    assert reply.header("server") == "qiao"
    assert reply.header("date") is not None
    assert reply.header("date").endswith(" GMT")  # type: ignore[union-attr]


def test_http10_closes_by_default(serve: Any, interface: str) -> None:
    with serve(echo_app(interface), timeout_keep_alive=30) as running:
        wire = converse(running, request(version="1.0", headers=[]))
    [reply] = wire.replies()
    assert reply.status == 200
    assert reply.closes
    assert wire.closed


def test_http10_keep_alive_when_asked(serve: Any, interface: str) -> None:
    with serve(echo_app(interface), **FAST) as running, running.connect() as sock:
        ask = request(version="1.0", headers=[("Connection", "keep-alive")])
        sock.sendall(ask + ask + request(version="1.0", headers=[]))
        data, closed = read_until_close(sock)
    replies = parse_responses(data)
    assert [r.status for r in replies] == [200, 200, 200]
    assert [r.header("connection") for r in replies] == ["keep-alive", "keep-alive", "close"]
    assert closed


def test_http10_streamed_response_ends_with_the_connection(serve: Any, interface: str) -> None:
    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await send({"type": "http.response.body", "body": b"b"})

    def wsgi(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"a"
        yield b"b"

    apps = {"native": None, "asgi": asgi, "wsgi": wsgi}
    if interface == "native":
        import qiao

        app = qiao.App(__name__, config={"SECRET_KEY": "x"})

        @app.get("/")
        def index(request: qiao.Request) -> qiao.StreamingResponse:
            return qiao.StreamingResponse(iter([b"a", b"b"]))

        apps["native"] = app
    with serve(apps[interface], **FAST) as running:
        wire = converse(running, request(version="1.0", headers=[("Connection", "keep-alive")]))
    head, _, body = wire.data.partition(b"\r\n\r\n")
    assert b"transfer-encoding" not in head.lower()
    assert body == b"ab"
    assert wire.closed


# -- Expect: 100-continue -------------------------------------------------------------------------
EXPECT = b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"


def test_100_continue_is_sent_when_the_app_reads(serve: Any, interface: str) -> None:
    with serve(echo_app(interface), **FAST) as running, running.connect() as sock:
        sock.sendall(EXPECT)
        assert read_until(sock, b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"abc" + request(headers=[("Host", "x"), ("Connection", "close")]))
        data, closed = read_until_close(sock)
    assert [(r.status, r.body) for r in parse_responses(data)] == [(200, b"abc"), (200, b"ok")]
    assert closed


def unauthorized_app(interface: str) -> Any:
    """An app answering 401 without reading the body."""
    if interface == "native":
        import qiao

        app = qiao.App(__name__, config={"SECRET_KEY": "x"})

        @app.post("/")
        def index(request: qiao.Request) -> tuple[str, int]:
            return "who are you", 401

        return app
    if interface == "asgi":

        async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                raise RuntimeError("no lifespan")
            await send({"type": "http.response.start", "status": 401, "headers": []})
            await send({"type": "http.response.body", "body": b"who are you"})

        return asgi

    def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("401 Unauthorized", [])
        return [b"who are you"]

    return wsgi


def test_100_continue_is_not_sent_when_the_app_answers_without_reading(
    serve: Any, interface: str
) -> None:
    with serve(unauthorized_app(interface), **FAST) as running:
        wire = converse(running, EXPECT)
    [reply] = wire.replies()
    assert not wire.data.startswith(b"HTTP/1.1 100")
    assert reply.status == 401
    assert wire.closed, "an unread body would be taken for the next request"


def test_100_continue_is_not_sent_for_a_body_over_the_limit(serve: Any, interface: str) -> None:
    app = echo_app(interface, MAX_BODY_SIZE=100)
    with serve(app, max_body_size=100, **FAST) as running:
        data = b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 101\r\n\r\n"
        wire = converse(running, data)
    assert not wire.data.startswith(b"HTTP/1.1 100")
    assert_refused(wire, 413)


def test_100_continue_is_never_sent_to_http10(serve: Any, interface: str) -> None:
    with serve(echo_app(interface), **FAST) as running, running.connect() as sock:
        sock.sendall(b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
        early, _ = read_until_close(sock, 0.3)
        sock.sendall(b"abc")
        rest, _ = read_until_close(sock)
    assert not (early + rest).startswith(b"HTTP/1.1 100")
    assert [r.status for r in parse_responses(early + rest)] == [200]


def test_100_continue_with_trailing_whitespace(serve: Any) -> None:
    # NOTE: the protocol's own header scan; one interface shows it.
    with serve(echo_app("asgi"), **FAST) as running, running.connect() as sock:
        sock.sendall(EXPECT.replace(b"100-continue", b"100-continue "))
        assert read_until(sock, b"\r\n\r\n", 1.5) == b"HTTP/1.1 100 Continue\r\n\r\n"


def test_content_length_with_trailing_whitespace_is_valid(serve: Any) -> None:
    with serve(echo_app("native"), **FAST) as running:
        wire = converse(running, post("Content-Length: 3 ", "Connection: close", body=b"abc"))
    assert [(r.status, r.body) for r in wire.replies()] == [(200, b"abc")]
