"""Hypothesis against the running server: random and mutated request bytes, and the WSGI environ
and ASGI scope the server builds from random (valid) requests.

Properties:

- whatever arrives, the server answers with valid HTTP/1.1 responses (or nothing) and closes a
  half-closed connection; every final status is 2xx or 4xx, or 501/505 for what it does not
  speak: the apps never fail, so a 500 can only be the server's own mistake;
- the server answers a normal request after every example;
- PEP 3333: ``PATH_INFO`` is the percent-decoded path as latin-1 text, ``QUERY_STRING`` the raw
  query, ``HTTP_*`` the header values byte for byte (names with ``_`` dropped);
- ASGI: ``path`` is the percent-decoded UTF-8 path, ``raw_path`` and ``query_string`` the bytes
  sent, ``headers`` the names lower-cased and the values byte for byte, in order.

The examples are derandomized so a run is reproducible; ``QIAO_FUZZ_EXAMPLES=5000`` runs a longer,
random campaign locally.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_from_bytes, unquote_to_bytes

import h11
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import qiao

from ._wire import Wire, converse, parse_responses, request
from .conftest import running_server

EXAMPLES = int(os.environ.get("QIAO_FUZZ_EXAMPLES", "0"))
FUZZ = settings(
    max_examples=EXAMPLES or 200,
    derandomize=not EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
OPTIONS = {
    "timeout_header": 0.2,
    "timeout_body": 0.1,
    "timeout_keep_alive": 0.2,
    "timeout_write": 1.0,
    "max_header_size": 4096,
    "max_request_line": 1024,
    "max_header_count": 30,
    "max_body_size": 1000,
}
#: 5xx a server may answer by itself: a transfer coding or an HTTP version it does not speak.
SERVER_5XX = {501, 505}


# -- the apps: they never fail ------------------------------------------------------------------
def native_app() -> qiao.App:
    app = qiao.App(__name__, config={"SECRET_KEY": "x", "MAX_BODY_SIZE": 1000})
    methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]

    @app.route("/", methods=methods)
    async def index(request: qiao.Request) -> bytes:
        return await request.abody() or b"ok"

    @app.route("/<path:rest>", methods=methods)
    async def anything(request: qiao.Request, rest: str) -> bytes:
        return await request.abody() or b"ok"

    return app


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        raise RuntimeError("no lifespan")
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body or b"ok"})


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Length", str(len(body or b"ok")))])
    return [body or b"ok"]


APPS = {"native": native_app, "asgi": lambda: asgi_app, "wsgi": lambda: wsgi_app}


# -- a corpus of valid requests, and mutations of it ----------------------------------------------
CORPUS = [
    request(),
    request("POST", body=b"hello"),
    request("PUT", target="/a/b?x=1&y=%20", body=b"{}"),
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: t\r\n\r\n",
    request() + request("POST", body=b"two") + request(target="/three"),
    request(version="1.0", headers=[("Connection", "keep-alive")])
    + request(version="1.0", headers=[]),
    b"GET http://x/abs?q HTTP/1.1\r\nHost: x\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
    request(headers=[("Host", "x"), ("Cookie", "a=1"), ("Cookie", "b=2"), ("X-Many", "1, 2")]),
    request(
        "DELETE", target="/%E2%82%AC/caf%C3%A9", headers=[("Host", "x"), ("Connection", "close")]
    ),
]

TOKEN = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: Bytes a mutation likes to insert: the ones framing is made of.
FRAMING_BYTES = [b"\r\n", b"\n", b"\r", b" ", b"\t", b":", b"\x00", b"0", b"1", b";", b",", b"\xff"]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(CORPUS)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "header", "dup"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            chunk = draw(st.sampled_from(FRAMING_BYTES) | st.binary(min_size=1, max_size=8))
            data[at:at] = chunk
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        elif kind == "truncate":
            del data[at:]
        elif kind == "header":
            end = data.find(b"\r\n")
            if end >= 0:
                name = draw(st.text(TOKEN, min_size=1, max_size=12)).encode()
                value = draw(st.binary(max_size=16))
                data[end + 2 : end + 2] = name + b": " + value + b"\r\n"
        elif kind == "dup":
            line_end = data.find(b"\r\n", at)
            line_start = data.rfind(b"\r\n", 0, at) + 2 if at else 0
            if line_end > line_start:
                line = bytes(data[line_start : line_end + 2])
                data[line_start:line_start] = line
    return bytes(data)


@st.composite
def structured(draw: st.DrawFn) -> bytes:
    """A request line and headers built from random, mostly plausible parts."""
    method = draw(
        st.sampled_from(["GET", "POST", "PUT", "HEAD", "PATCH"]) | st.text(TOKEN, min_size=1)
    )
    target = draw(
        st.sampled_from(["/", "/a?b", "*", "http://x/"])
        | st.binary(max_size=20).map(lambda b: "/" + b.decode("latin-1"))
    )
    version = draw(st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/1.1", "HTTP/2.0", "HTTP/1.x"]))
    head = f"{method} {target} {version}\r\n".encode("latin-1")
    headers = draw(
        st.lists(
            st.tuples(
                st.sampled_from(
                    ["Host", "Content-Length", "Transfer-Encoding", "Expect", "Connection", "X-A"]
                )
                | st.text(TOKEN, min_size=1, max_size=10),
                st.sampled_from(["x", "0", "3", "chunked", "close", "100-continue", ""])
                | st.binary(max_size=12).map(lambda b: b.decode("latin-1")),
            ),
            max_size=6,
        )
    )
    head += b"".join(f"{n}: {v}\r\n".encode("latin-1") for n, v in headers)
    body = draw(st.sampled_from([b"", b"abc", b"3\r\nabc\r\n0\r\n\r\n", b"zz\r\n"]))
    return head + b"\r\n" + body


def replies(wire: Wire) -> list[Any]:
    """The responses, parsed strictly; a HEAD request (the fuzz cannot know which) may leave any
    response without its body, so those readings are tried too."""
    count = wire.data.count(b"HTTP/1.")
    for heads in itertools.chain([()], itertools.combinations(range(min(count, 4)), 1)):
        methods = ["HEAD" if i in heads else "GET" for i in range(count)]
        try:
            return parse_responses(wire.data, methods)
        except h11.RemoteProtocolError:
            continue
    return parse_responses(wire.data)  # raise the strict error


@pytest.fixture(scope="module")
def fuzzed(request: pytest.FixtureRequest) -> Iterator[Any]:
    with running_server(APPS[request.param](), **OPTIONS) as running:
        yield running


TRUNCATED_BODY = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"


def check_answer(running: Any, data: bytes) -> None:
    wire = converse(running, data, timeout=3.0, shut_write=True)
    assert wire.closed, f"the server neither answered nor closed for {data!r}"
    for reply in replies(wire):
        assert (
            200 <= reply.status < 300 or 400 <= reply.status < 500 or reply.status in SERVER_5XX
        ), f"{reply.status} {reply.body!r} for {data!r}"
    after = converse(running, request(headers=[("Host", "x"), ("Connection", "close")]))
    assert after.statuses() == [200], f"the server stopped answering after {data!r}"


def fuzz_params(test: Any) -> Any:
    return pytest.mark.parametrize("fuzzed", ["native", "asgi", "wsgi"], indirect=True)(test)


@fuzz_params
@FUZZ
@given(data=mutated())
@example(data=TRUNCATED_BODY)
def test_mutated_requests(fuzzed: Any, data: bytes) -> None:
    check_answer(fuzzed, data)


@fuzz_params
@FUZZ
@given(data=st.binary(max_size=300) | structured())
@example(data=TRUNCATED_BODY)
def test_random_requests(fuzzed: Any, data: bytes) -> None:
    check_answer(fuzzed, data)


# -- the WSGI environ and the ASGI scope ----------------------------------------------------------
PCHAR = "abcXYZ019-._~!$&'()*+,;=:@"
QUERY = PCHAR + "/?%"
#: Header values: visible ASCII and obs-text, spaces and tabs inside only.
VCHAR = bytes(range(0x21, 0x7F)) + bytes(range(0x80, 0x100))


@st.composite
def raw_paths(draw: st.DrawFn) -> bytes:
    segments = draw(
        st.lists(
            st.one_of(
                st.text(PCHAR, max_size=6).map(str.encode),
                st.text(max_size=4).map(lambda t: quote_from_bytes(t.encode(), safe="").encode()),
                st.binary(min_size=1, max_size=3).map(
                    lambda b: "".join(f"%{c:02X}" for c in b).encode()
                ),
            ),
            max_size=4,
        )
    )
    return b"/" + b"/".join(segments)


header_values = st.one_of(
    st.just(b""),
    st.tuples(
        st.sampled_from(VCHAR),
        st.lists(st.sampled_from(VCHAR + b" \t"), max_size=12),
        st.sampled_from(VCHAR),
    ).map(lambda t: bytes([t[0], *t[1], t[2]])),
    st.sampled_from(VCHAR).map(lambda c: bytes([c])),
)
header_names = st.text("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789-_", min_size=1, max_size=10).map(
    lambda n: "X-" + n
)


def build(raw_path: bytes, query: bytes, headers: list[tuple[str, bytes]]) -> bytes:
    target = raw_path + (b"?" + query if query else b"")
    lines = [b"GET " + target + b" HTTP/1.1", b"Host: x", b"Connection: close"]
    lines += [name.encode() + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def utf8_path(raw_path: bytes) -> str | None:
    try:
        return unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError:
        return None


def environ_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    for key, value in environ.items():
        assert isinstance(key, str)
        if key.isupper():  # CGI variables are native strings, latin-1 code points only
            assert isinstance(value, str), key
            value.encode("latin-1")
    picked = {k: v for k, v in environ.items() if k.startswith("HTTP_") or k.isupper()}
    body = json.dumps(picked).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


async def scope_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        raise RuntimeError("no lifespan")
    assert isinstance(scope["path"], str)
    assert isinstance(scope["raw_path"], bytes)
    assert isinstance(scope["query_string"], bytes)
    for name, value in scope["headers"]:
        assert isinstance(name, bytes)
        assert isinstance(value, bytes)
        assert name == name.lower()
    picked = {
        "path": scope["path"],
        "raw_path": scope["raw_path"].decode("latin-1"),
        "query_string": scope["query_string"].decode("latin-1"),
        "headers": [[n.decode("latin-1"), v.decode("latin-1")] for n, v in scope["headers"]],
    }
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": json.dumps(picked).encode()})


@pytest.fixture(scope="module")
def wsgi_server() -> Iterator[Any]:
    with running_server(environ_app, **OPTIONS) as running:
        yield running


@pytest.fixture(scope="module")
def asgi_server() -> Iterator[Any]:
    with running_server(scope_app, **OPTIONS) as running:
        yield running


requests_parts = {
    "raw_path": raw_paths(),
    "query": st.text(QUERY, max_size=12).map(str.encode),
    "headers": st.lists(st.tuples(header_names, header_values), max_size=5),
}


@FUZZ
@given(**requests_parts)
def test_wsgi_environ(
    wsgi_server: Any, raw_path: bytes, query: bytes, headers: list[tuple[str, bytes]]
) -> None:
    wire = converse(wsgi_server, build(raw_path, query, headers))
    [reply] = wire.replies()
    if utf8_path(raw_path) is None:
        assert reply.status == 400
        return
    assert reply.status == 200
    environ = json.loads(reply.body)
    assert environ["PATH_INFO"] == unquote_to_bytes(raw_path).decode("latin-1")
    assert environ["QUERY_STRING"] == query.decode("latin-1")
    assert environ["REQUEST_METHOD"] == "GET"
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.1"
    expected: dict[str, list[bytes]] = {}
    for name, value in headers:
        if "_" not in name:  # SECURITY: X-Auth_User must not pass for X-Auth-User
            expected.setdefault("HTTP_" + name.upper().replace("-", "_"), []).append(value)
    got = {k: v for k, v in environ.items() if k.startswith("HTTP_X_")}
    assert got == {k: b", ".join(v).decode("latin-1") for k, v in expected.items()}


@FUZZ
@given(**requests_parts)
def test_asgi_scope(
    asgi_server: Any, raw_path: bytes, query: bytes, headers: list[tuple[str, bytes]]
) -> None:
    wire = converse(asgi_server, build(raw_path, query, headers))
    [reply] = wire.replies()
    path = utf8_path(raw_path)
    if path is None:
        assert reply.status == 400
        return
    assert reply.status == 200
    scope = json.loads(reply.body)
    assert scope["path"] == path
    assert scope["raw_path"].encode("latin-1") == raw_path
    assert scope["query_string"].encode("latin-1") == query
    sent = [("host", b"x"), ("connection", b"close")]
    sent += [(name.lower(), value) for name, value in headers]
    assert [(n, v.encode("latin-1")) for n, v in scope["headers"]] == sent
