"""A corpus of requests, written once as data, sent byte for byte to the same ASGI app
(``tests/server/corpus_app.py``) served by qiao's server and by uvicorn (``--http httptools``,
the reference), and read back strictly with h11: the parts of each response that matter must
be the same, and as the corpus expects.

Both servers mount the app under the root path ``/mnt``. Where qiao differs from uvicorn on
purpose, a test below says so and checks qiao's own answer.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests._servers import ServerProcess, free_port, running_server, server_env, venv_bin

from . import corpus_app
from ._support import Reader, Reply, ServerLog, read_reply, request, server_log, wait_until
from .conftest import Running
from .conftest import running_server as running_qiao

__all__ = ["server_log"]  # the autouse log gate, imported to take effect here

ROOT = "/mnt"
APP = "tests.server.corpus_app:app"
#: What the corpus compares unless a case says otherwise.
BODY = "body"
FRAMING = "framing"  # Content-Length and Transfer-Encoding, exactly
DEFAULT = (BODY, FRAMING, "content-type")


@dataclass(frozen=True)
class Case:
    """One request, and which parts of its response must agree (and be as expected)."""

    name: str
    method: str
    target: bytes
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | tuple[bytes, ...] = b""  # a tuple goes out chunked, one chunk each
    version: str = "1.1"
    status: int = 200
    matters: tuple[str, ...] = DEFAULT
    complete: bool = True  # the response ends as its framing says

    def raw(self) -> bytes:
        head = [self.method.encode() + b" " + self.target + b" HTTP/" + self.version.encode()]
        if self.version == "1.1":
            head.append(b"Host: example.test")
        head += [f"{name}: {value}".encode("latin-1") for name, value in self.headers]
        if isinstance(self.body, tuple):
            head.append(b"Transfer-Encoding: chunked")
            body = b"".join(b"%x\r\n%b\r\n" % (len(p), p) for p in self.body) + b"0\r\n\r\n"
        else:
            if self.body or self.method in ("POST", "PUT", "PATCH"):
                head.append(b"Content-Length: %d" % len(self.body))
            body = self.body
        return b"\r\n".join(head) + b"\r\n\r\n" + body


BIG = corpus_app.pattern(2 * 1024 * 1024)
CHUNKS = tuple(corpus_app.pattern(65536) for _ in range(16))
ECHO = (BODY, FRAMING, "content-type")
ONLY_BODY = (BODY, "content-type")  # framing differs on purpose: see the notes below

CORPUS: tuple[Case, ...] = (
    # -- the scope, echoed ------------------------------------------------------------------------
    Case("echo-get", "GET", b"/echo", (("X-Mixed-Case", "A"), ("Accept", "*/*"))),
    Case(
        "echo-percent-escapes-and-utf8",
        "GET",
        b"/echo/a%20b%2Fc/caf%C3%A9/%E6%A1%A5?q=%20x&y=%E6%A1%A5&z",
    ),
    Case("echo-empty-query", "GET", b"/echo?"),
    Case("echo-dot-segments-kept", "GET", b"/echo/../a/./b//c"),
    Case("echo-absolute-form-target", "GET", b"http://example.test/echo?x=1"),
    Case("echo-http-1.0", "GET", b"/echo?v=10", version="1.0"),
    Case("echo-repeated-headers", "GET", b"/echo", (("X-Dup", "1"), ("x-dup", "2"))),
    Case("echo-header-value-latin-1", "GET", b"/echo", (("X-Name", "caf\xe9"),)),
    Case("echo-header-with-underscore", "GET", b"/echo", (("X_Under", "1"), ("X-Over", "2"))),
    Case("echo-header-empty-value", "GET", b"/echo", (("X-Empty", ""),)),
    Case("echo-header-long-value", "GET", b"/echo", (("X-Long", "v" * 8000),)),
    Case("echo-get-with-a-body", "GET", b"/echo", body=b"unusual"),
    Case(
        "echo-http-1.0-keep-alive",
        "GET",
        b"/echo",
        (("Connection", "keep-alive"),),
        version="1.0",  # qiao keeps the connection, uvicorn closes it: see below
    ),
    Case("echo-post-length", "POST", b"/echo", (("Content-Type", "text/plain"),), b"hello"),
    Case("echo-post-empty", "POST", b"/echo"),
    Case("echo-post-chunked", "POST", b"/echo", body=(b"abc", b"de", b"f" * 100)),
    Case("echo-post-large", "POST", b"/echo", body=BIG),
    Case("echo-post-large-chunked", "POST", b"/echo", body=CHUNKS),
    Case("echo-expect-continue", "POST", b"/echo", (("Expect", "100-continue"),), b"x" * 5000),
    Case("echo-put", "PUT", b"/echo", body=b"put"),
    Case("echo-delete", "DELETE", b"/echo"),
    Case("echo-patch", "PATCH", b"/echo", body=b"patch"),
    Case("echo-custom-method", "PURGE", b"/echo"),
    # -- response shapes --------------------------------------------------------------------------
    Case("stream", "GET", b"/stream", matters=(*DEFAULT, "x-custom")),
    Case("stream-with-length", "GET", b"/stream-length"),
    Case("empty-body-with-length", "GET", b"/empty"),
    Case("body-message-without-body-key", "GET", b"/no-body-key"),
    Case("status-201", "GET", b"/status/201", status=201, matters=(BODY, "x-status")),
    Case("status-204", "GET", b"/status/204", status=204, matters=(*DEFAULT, "x-status")),
    Case("status-304", "GET", b"/status/304", status=304, matters=(*DEFAULT, "x-status")),
    Case("status-404-from-the-app", "GET", b"/status/404", status=404, matters=(BODY,)),
    Case("head-with-length", "HEAD", b"/large/100"),
    Case("head-of-stream-with-length", "HEAD", b"/stream-length"),
    Case("head-of-stream", "HEAD", b"/stream", matters=ONLY_BODY),
    Case("large-body", "GET", b"/large/3000000"),
    Case("large-stream", "GET", b"/large-stream/1000000"),
    Case("set-cookie-several", "GET", b"/cookies", matters=(*DEFAULT, "set-cookie")),
    Case(
        "custom-headers",
        "GET",
        b"/headers",
        status=201,
        matters=(*DEFAULT, "x-mixed-case", "x-repeated", "x-empty", "x-latin"),
    ),
    Case("pathsend-or-body", "GET", b"/pathsend"),
    Case("head-of-pathsend", "HEAD", b"/pathsend"),
    Case("head-of-204", "HEAD", b"/status/204", status=204, matters=(*DEFAULT, "x-status")),
    Case("unknown-route", "GET", b"/nowhere", status=404, matters=ONLY_BODY),
    Case("options-asterisk", "OPTIONS", b"*", status=404, matters=ONLY_BODY),
    # -- failures ---------------------------------------------------------------------------------
    Case("app-raises-before-response", "GET", b"/raise-before", status=500, matters=()),
    Case("app-returns-without-response", "GET", b"/no-response", status=500, matters=()),
    Case("app-raises-mid-body", "GET", b"/raise-after", matters=(BODY,), complete=False),
    Case("raw-utf8-in-target-refused", "GET", "/echo/桥".encode(), status=400, matters=()),
)

#: Cases a server answers on a connection it keeps open (the rest close it).
KEEP_ALIVE = tuple(
    c for c in CORPUS if c.version == "1.1" and c.complete and c.status not in (400, 500)
)


# -- the two servers -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def app_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the app under uvicorn records what it saw (lifespan, disconnects)."""
    return tmp_path_factory.mktemp("corpus") / "events.log"


@pytest.fixture(scope="module")
def uvicorn(app_log: Path) -> Iterator[ServerProcess]:
    port = free_port()
    argv = [venv_bin("uvicorn"), "--http", "httptools", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--root-path", ROOT, "--lifespan", "on", "--no-access-log"]
    env = server_env(**{corpus_app.LOG_ENV: str(app_log)})
    with running_server("uvicorn", [*argv, APP], port, env=env) as server:
        yield server


@pytest.fixture(scope="module")
def qiao() -> Iterator[Running]:
    with running_qiao(
        corpus_app.app, root_path=ROOT, interface="asgi", timeout_graceful=0.5
    ) as running:
        yield running


@pytest.fixture(scope="module")
def servers(qiao: Running, uvicorn: ServerProcess) -> dict[str, tuple[str, int]]:
    return {"qiao": (qiao.host, qiao.port), "uvicorn": ("127.0.0.1", uvicorn.port)}


def send(address: tuple[str, int], case: Case) -> Reply:
    return request(*address, case.raw(), case.method)


# -- comparing -------------------------------------------------------------------------------------
def without_root(raw_path: str | None) -> str | None:
    """NOTE: uvicorn puts the root path in front of ``raw_path``; qiao does not (see
    ``test_raw_path_starts_with_the_root_path_like_path``). The corpus compares the rest."""
    if raw_path is not None and raw_path.startswith(ROOT + "/"):
        return raw_path[len(ROOT) :]
    return raw_path


def view(reply: Reply, case: Case) -> dict[str, Any]:
    """The parts of ``reply`` that matter for ``case``."""
    seen: dict[str, Any] = {"status": reply.status, "complete": reply.complete}
    for part in case.matters:
        if part == BODY:
            body: Any = reply.body
            if reply.header("content-type") == "application/json" and reply.complete:
                body = json.loads(reply.body)
                body["raw_path"] = without_root(body["raw_path"])
            seen[BODY] = body
        elif part == FRAMING:
            length = reply.all("content-length")
            if length == [str(len(reply.body))] and reply.body[:1] == b"{":
                length = ["exact"]  # the echo's length varies with raw_path (see without_root)
            seen[FRAMING] = (length, reply.all("transfer-encoding"))
        else:
            seen[part] = reply.all(part)
    return seen


@pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
def test_qiao_answers_as_uvicorn_does(
    servers: dict[str, tuple[str, int]], case: Case, server_log: ServerLog
) -> None:
    server_log.expect("ASGI app")  # the failure cases log the app's exception
    replies = {name: send(address, case) for name, address in servers.items()}
    assert view(replies["qiao"], case) == view(replies["uvicorn"], case)
    reply = replies["qiao"]
    assert (reply.status, reply.complete) == (case.status, case.complete)


@pytest.mark.parametrize("name", ["qiao", "uvicorn"])
def test_corpus_on_one_keep_alive_connection(
    servers: dict[str, tuple[str, int]], name: str
) -> None:
    # Each response read exactly as framed, one after another: no byte too few or too many.
    with socket.create_connection(servers[name], timeout=10) as sock:
        for case in KEEP_ALIVE:
            sock.sendall(case.raw())
            reply = read_reply(sock, case.method)
            assert (case.name, reply.status, reply.complete) == (case.name, case.status, True)
            assert reply.header("connection") != "close", case.name


# -- the scope in detail ---------------------------------------------------------------------------
def echo(address: tuple[str, int], target: bytes, *headers: tuple[str, str]) -> dict[str, Any]:
    reply = send(address, Case("echo", "GET", target, headers))
    assert reply.status == 200, reply.body
    data: dict[str, Any] = json.loads(reply.body)
    return data


def test_scope_fields_of_a_request(servers: dict[str, tuple[str, int]]) -> None:
    scope = echo(servers["qiao"], b"/echo/caf%C3%A9%2F?a=%20b", ("X-UPPER", "Value"))
    assert scope == {
        "type": "http",
        "asgi": "3.0",
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/mnt/echo/café/",
        "raw_path": scope["raw_path"],  # see the next test
        "query_string": "a=%20b",
        "root_path": "/mnt",
        "headers": [["host", "example.test"], ["x-upper", "Value"]],
        "client": True,
        "server": True,
        "state": "yes",  # set by the app's lifespan start-up
        "subprotocols": None,
        "body": "",
        "body_size": 0,
    }
    assert without_root(scope["raw_path"]) == "/echo/caf%C3%A9%2F"


def test_raw_path_starts_with_the_root_path_like_path(servers: dict[str, tuple[str, int]]) -> None:
    uvicorn = echo(servers["uvicorn"], b"/echo/a%20b")
    qiao = echo(servers["qiao"], b"/echo/a%20b")
    assert uvicorn["raw_path"] == "/mnt/echo/a%20b"
    assert qiao["raw_path"] == uvicorn["raw_path"]


# -- where qiao differs from uvicorn on purpose ----------------------------------------------------
def test_one_piece_body_without_length_gets_a_content_length(
    servers: dict[str, tuple[str, int]],
) -> None:
    # qiao holds the start message for the first body message, so a whole body sent at once
    # gets a Content-Length; uvicorn sends such a body chunked. Both are valid HTTP/1.1.
    case = Case("unknown-route", "GET", b"/nowhere")
    qiao, uvicorn = send(servers["qiao"], case), send(servers["uvicorn"], case)
    assert (qiao.header("content-length"), qiao.header("transfer-encoding")) == ("9", None)
    assert (uvicorn.header("content-length"), uvicorn.header("transfer-encoding")) == (
        None,
        "chunked",
    )
    assert qiao.body == uvicorn.body == b"not found"


def test_stream_to_an_http_1_0_client_is_ended_by_close(
    servers: dict[str, tuple[str, int]],
) -> None:
    # HTTP/1.0 has no chunked coding: qiao ends the body by closing the connection. (uvicorn
    # sends "Transfer-Encoding: chunked" to the 1.0 client, which RFC 9112 section 6.1 forbids.)
    raw = b"GET /stream HTTP/1.0\r\n\r\n"
    with socket.create_connection(servers["qiao"], timeout=10) as sock:
        sock.sendall(raw)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"transfer-encoding" not in head.lower()
    assert b"connection: close" in head.lower()
    assert body == b"one\ntwo\nthree\n"


def test_http_1_0_keep_alive_is_honoured(servers: dict[str, tuple[str, int]]) -> None:
    # qiao keeps an HTTP/1.0 connection that asks for it when the body has a length (uvicorn
    # closes it); a stream, with no length to end it, still closes.
    ask = b"GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
    with socket.create_connection(servers["qiao"], timeout=10) as sock:
        reader = Reader(sock)
        for _ in range(2):
            sock.sendall(ask)
            reply = reader.next()
            assert (reply.status, reply.header("connection")) == (200, "keep-alive")
        sock.sendall(b"GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"connection: close" in head.lower()
    assert body == b"one\ntwo\nthree\n"


def test_head_of_a_stream_may_say_chunked(servers: dict[str, tuple[str, int]]) -> None:
    # RFC 9110 section 9.3.2: a HEAD response may carry the headers a GET would have had; qiao
    # says "chunked" as the GET would, uvicorn leaves it out. Neither sends a body.
    case = Case("head", "HEAD", b"/stream")
    qiao, uvicorn = send(servers["qiao"], case), send(servers["uvicorn"], case)
    assert qiao.all("transfer-encoding") in (["chunked"], [])
    assert qiao.body == uvicorn.body == b""


def test_app_raising_after_start_but_before_body_gets_500(
    servers: dict[str, tuple[str, int]], server_log: ServerLog
) -> None:
    # qiao writes the head with the first body message, so an app failing between the two
    # still gets a clean 500; uvicorn has sent "200" by then and can only cut the connection.
    server_log.expect("Exception in ASGI app")
    case = Case("raise-after-start", "GET", b"/raise-after-start")
    qiao, uvicorn = send(servers["qiao"], case), send(servers["uvicorn"], case)
    assert (qiao.status, qiao.complete) == (500, True)
    assert (uvicorn.status, uvicorn.complete) == (200, False)


def test_path_that_is_not_utf8_is_refused(servers: dict[str, tuple[str, int]]) -> None:
    # qiao refuses "/%ff" with 400; uvicorn passes U+FFFD to the app. A path the app cannot
    # read back is better refused than guessed at.
    case = Case("not-utf8", "GET", b"/echo/%ff")
    assert send(servers["qiao"], case).status == 400
    assert json.loads(send(servers["uvicorn"], case).body)["path"] == "/mnt/echo/\ufffd"


# -- lifespan and disconnects ----------------------------------------------------------------------
def test_lifespan_startup_state_reaches_every_server(servers: dict[str, tuple[str, int]]) -> None:
    for address in servers.values():
        assert echo(address, b"/echo")["state"] == "yes"


def test_lifespan_shutdown_runs_when_qiao_stops() -> None:
    before = len(corpus_app.EVENTS)
    with running_qiao(corpus_app.app, interface="asgi") as running:
        assert echo((running.host, running.port), b"/echo")["state"] == "yes"
        assert corpus_app.EVENTS[before:] == ["startup"]
    assert corpus_app.EVENTS[before:] == ["startup", "shutdown"]


def disconnects(events: list[Any]) -> list[float]:
    """How long after its start each ``/wait-disconnect`` app was told of the disconnect."""
    return [e[1] for e in events if isinstance(e, list | tuple) and e[0] == "http.disconnect"]


def events_of(name: str, app_log: Path) -> list[Any]:
    """What the app recorded: in this process under qiao, in its log file under uvicorn."""
    if name == "qiao":
        return list(corpus_app.EVENTS)
    lines = app_log.read_text().splitlines() if app_log.exists() else []
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize("name", ["qiao", "uvicorn"])
def test_client_closing_mid_body_is_an_http_disconnect_at_once(
    servers: dict[str, tuple[str, int]], app_log: Path, name: str, server_log: ServerLog
) -> None:
    # NOTE: the log line is its own bug: test_app_told_of_a_disconnect_may_return_silently.
    server_log.expect("ASGI app returned without a response")
    before = len(disconnects(events_of(name, app_log)))
    with socket.create_connection(servers[name], timeout=5) as sock:
        sock.sendall(
            b"POST /wait-disconnect HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nhalf"
        )
        time.sleep(0.05)
    wait_until(
        lambda: len(disconnects(events_of(name, app_log))) > before, "http.disconnect", timeout=2
    )
    assert disconnects(events_of(name, app_log))[-1] < 1.0


def test_app_told_of_a_disconnect_may_return_silently(
    qiao: Running, caplog: pytest.LogCaptureFixture
) -> None:
    before = len(disconnects(corpus_app.EVENTS))
    with socket.create_connection((qiao.host, qiao.port), timeout=5) as sock:
        sock.sendall(
            b"POST /wait-disconnect HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nhalf"
        )
        time.sleep(0.05)
    wait_until(lambda: len(disconnects(corpus_app.EVENTS)) > before, "http.disconnect")
    time.sleep(0.1)  # the handler's end, after the app's
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == []
