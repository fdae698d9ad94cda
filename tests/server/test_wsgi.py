"""PEP 3333 over real sockets: WSGI apps wrapped in ``wsgiref.validate.validator`` and served
by qiao's server, spoken to with raw requests and read back strictly with h11.

The validator raises ``AssertionError`` (and warns, which is an error here) on every protocol
violation by the server or the app; qiao's server then answers 500, so a violation fails the
test that met it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment
from wsgiref.validate import validator

import httpx
import pytest

from tests._servers import free_port, running_server, venv_bin

from ._support import Reply, ServerLog, read_reply, request, server_log, wait_until
from .conftest import Running

__all__ = ["server_log"]  # the autouse log gate, imported to take effect here

Environ = WSGIEnvironment
WSGIApp = WSGIApplication
TEXT = [("Content-Type", "text/plain")]


def fetch(running: Running, raw: bytes, method: str = "GET") -> Reply:
    return request(running.host, running.port, raw, method)


def get(target: str, *headers: str, method: str = "GET", version: str = "1.1") -> bytes:
    lines = [f"{method} {target} HTTP/{version}", "Host: example.test", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def post(target: str, body: bytes, *headers: str) -> bytes:
    return get(target, f"Content-Length: {len(body)}", *headers, method="POST") + body


def chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x\r\n%b\r\n" % (len(p), p) for p in pieces if p) + b"0\r\n\r\n"


# -- apps ------------------------------------------------------------------------------------------
def environ_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """Echoes the environ: every CGI value, and the types of the ``wsgi.*`` ones."""
    cgi = {k: v for k, v in environ.items() if "." not in k}
    wsgi = {
        "version": environ["wsgi.version"],
        "url_scheme": environ["wsgi.url_scheme"],
        "multithread": environ["wsgi.multithread"],
        "multiprocess": environ["wsgi.multiprocess"],
        "run_once": environ["wsgi.run_once"],
        "input_terminated": environ.get("wsgi.input_terminated"),
        "errors_writable": callable(environ["wsgi.errors"].write),
        "file_wrapper": callable(environ.get("wsgi.file_wrapper")),
        "types": {k: type(v).__name__ for k, v in cgi.items()},
    }
    body = json.dumps({"cgi": cgi, "wsgi": wsgi}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def body_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """Reads the body the way the query string says and answers what it read, as JSON."""
    stream = environ["wsgi.input"]
    how = environ["QUERY_STRING"]
    parts: list[bytes]
    if how == "readline":
        parts = []
        while line := stream.readline():
            parts.append(line)
    elif how == "readlines":
        parts = stream.readlines()
    elif how == "iterate":
        parts = list(stream)
    elif how == "readline-size":
        parts = []
        while line := stream.readline(4):
            parts.append(line)
    elif how == "length":  # exactly CONTENT_LENGTH, as PEP 3333 asks of an app
        parts = [stream.read(int(environ.get("CONTENT_LENGTH") or 0))]
    else:  # read to EOF: wsgi.input_terminated says the stream ends with the body
        assert environ["wsgi.input_terminated"] is True
        parts = []
        while piece := stream.read(1000):
            assert len(piece) <= 1000
            parts.append(piece)
    data = b"".join(parts)
    answer = {
        "parts": [p.decode("latin-1") for p in parts] if len(parts) < 50 else len(parts),
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "content_length": environ.get("CONTENT_LENGTH"),
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(answer).encode()]


class ClosingBody:
    """An iterable whose ``close()`` PEP 3333 says the server must call."""

    def __init__(self, pieces: Iterable[bytes], delay: float = 0.0) -> None:
        self.pieces = pieces
        self.delay = delay
        self.closed = threading.Event()
        self.close_calls = 0
        self.yielded = 0

    def __iter__(self) -> Iterator[bytes]:
        for piece in self.pieces:
            if self.delay:
                time.sleep(self.delay)
            self.yielded += 1
            yield piece

    def close(self) -> None:
        self.close_calls += 1
        self.closed.set()


@pytest.fixture
def served(serve: Any) -> Callable[..., Any]:
    """``with served(app, **options) as running:`` serves ``validator(app)``."""

    def start(app: WSGIApp, **options: Any) -> Any:
        options.setdefault("interface", "wsgi")
        return serve(validator(app), **options)

    return start


# -- the environ -----------------------------------------------------------------------------------
def environ_of(served: Callable[..., Any], raw: bytes, **options: Any) -> dict[str, Any]:
    with served(environ_app, **options) as running:
        reply = fetch(running, raw)
    assert reply.status == 200, reply.body
    data: dict[str, Any] = json.loads(reply.body)
    return data


def test_environ_has_the_cgi_keys_as_strings(served: Any) -> None:
    with served(environ_app) as running, running.connect() as sock:
        sock.sendall(get("/path", "X-Custom: yes"))
        reply = read_reply(sock)
        client_port = sock.getsockname()[1]
    cgi = json.loads(reply.body)["cgi"]
    assert cgi["REQUEST_METHOD"] == "GET"
    assert cgi["SCRIPT_NAME"] == ""
    assert cgi["PATH_INFO"] == "/path"
    assert cgi["QUERY_STRING"] == ""
    assert cgi["SERVER_NAME"] == running.host
    assert cgi["SERVER_PORT"] == str(running.port)
    assert cgi["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert cgi["REMOTE_ADDR"] == "127.0.0.1"
    assert cgi["REMOTE_PORT"] == str(client_port)
    assert cgi["HTTP_HOST"] == "example.test"
    assert cgi["HTTP_X_CUSTOM"] == "yes"
    assert set(json.loads(reply.body)["wsgi"]["types"].values()) == {"str"}


def test_environ_wsgi_keys(served: Any) -> None:
    wsgi = environ_of(served, get("/"))["wsgi"]
    assert wsgi == {
        "version": [1, 0],
        "url_scheme": "http",
        "multithread": True,
        "multiprocess": False,
        "run_once": False,
        "input_terminated": True,
        "errors_writable": True,
        "file_wrapper": True,
        "types": wsgi["types"],
    }


MULTIPROCESS_APP = """
import json


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    keys = ("wsgi.multiprocess", "wsgi.multithread", "wsgi.run_once")
    return [json.dumps({key: environ[key] for key in keys}).encode()]
"""


def test_environ_multiprocess_is_true_with_several_workers(tmp_path: Path) -> None:
    (tmp_path / "wsgi_workers_app.py").write_text(MULTIPROCESS_APP)
    port = free_port()
    argv = [venv_bin("qiao"), "serve", "wsgi_workers_app:app", "--port", str(port)]
    argv += ["--workers", "2", "--interface", "wsgi", "--no-access-log"]
    with running_server("qiao-wsgi-workers", argv, port, cwd=tmp_path) as server:
        reply = httpx.get(server.url, timeout=5)
    assert reply.json() == {
        "wsgi.multiprocess": True,
        "wsgi.multithread": True,
        "wsgi.run_once": False,
    }


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_request_method_is_passed_as_sent(served: Any, method: str) -> None:
    cgi = environ_of(served, get("/", "Content-Length: 0", method=method))["cgi"]
    assert cgi["REQUEST_METHOD"] == method


def test_http_1_0_request_has_its_protocol(served: Any) -> None:
    cgi = environ_of(served, get("/", version="1.0"))["cgi"]
    assert cgi["SERVER_PROTOCOL"] == "HTTP/1.0"


def test_path_info_is_percent_decoded_to_latin_1_for_a_utf8_path(served: Any) -> None:
    cgi = environ_of(served, get("/caf%C3%A9/%E6%A1%A5%20x%2Fy"))["cgi"]
    assert cgi["PATH_INFO"] == "/café/桥 x/y".encode().decode("latin-1")
    assert cgi["PATH_INFO"].encode("latin-1").decode("utf-8") == "/café/桥 x/y"


def test_query_string_is_passed_raw(served: Any) -> None:
    cgi = environ_of(served, get("/?a=%20b&c=%E6%A1%A5&d+e=f&&g"))["cgi"]
    assert cgi["QUERY_STRING"] == "a=%20b&c=%E6%A1%A5&d+e=f&&g"
    assert cgi["PATH_INFO"] == "/"


def test_root_path_is_the_script_name(served: Any) -> None:
    cgi = environ_of(served, get("/app/users/1?x=1"), root_path="/app")["cgi"]
    assert (cgi["SCRIPT_NAME"], cgi["PATH_INFO"]) == ("/app", "/users/1")
    assert cgi["QUERY_STRING"] == "x=1"


def test_root_path_request_for_the_root_itself(served: Any) -> None:
    cgi = environ_of(served, get("/app"), root_path="/app/")["cgi"]
    assert (cgi["SCRIPT_NAME"], cgi["PATH_INFO"]) == ("/app", "")


def test_root_path_is_only_stripped_at_a_segment_boundary(
    served: Any, server_log: ServerLog
) -> None:
    cgi = environ_of(served, get("/application/x"), root_path="/app")["cgi"]
    assert cgi["SCRIPT_NAME"] == "/app"
    assert cgi["PATH_INFO"] == "/application/x"


def test_content_type_and_length_have_no_http_prefix(served: Any) -> None:
    cgi = environ_of(served, post("/", b"abc", "Content-Type: text/x; charset=utf-8"))["cgi"]
    assert cgi["CONTENT_TYPE"] == "text/x; charset=utf-8"
    assert cgi["CONTENT_LENGTH"] == "3"
    assert "HTTP_CONTENT_TYPE" not in cgi
    assert "HTTP_CONTENT_LENGTH" not in cgi


def test_a_chunked_request_has_no_content_length(served: Any) -> None:
    raw = get("/", "Transfer-Encoding: chunked", method="POST") + chunked(b"abc")
    cgi = environ_of(served, raw)["cgi"]
    assert "CONTENT_LENGTH" not in cgi
    assert cgi["HTTP_TRANSFER_ENCODING"] == "chunked"


def test_repeated_headers_are_joined(served: Any) -> None:
    cgi = environ_of(
        served,
        get("/", "Accept: a/b", "X-Multi: 1", "x-multi: 2", "Accept: c/d", "X-Multi: 3"),
    )["cgi"]
    assert cgi["HTTP_ACCEPT"] == "a/b, c/d"
    assert cgi["HTTP_X_MULTI"] == "1, 2, 3"


def test_repeated_cookie_headers_are_joined_with_semicolons(served: Any) -> None:
    cgi = environ_of(served, get("/", "Cookie: a=1", "Cookie: b=2"))["cgi"]
    assert cgi["HTTP_COOKIE"] == "a=1; b=2"


def test_header_names_with_underscores_are_dropped(served: Any) -> None:
    cgi = environ_of(served, get("/", "X-Auth_User: mallory", "X-Auth-Role: user"))["cgi"]
    assert cgi["HTTP_X_AUTH_ROLE"] == "user"
    assert "HTTP_X_AUTH_USER" not in cgi
    assert not [key for key in cgi if "AUTH_USER" in key]


def test_header_values_reach_the_app_as_latin_1(served: Any) -> None:
    raw = get("/").replace(b"\r\n\r\n", b"\r\nX-Name: caf\xc3\xa9\r\n\r\n")
    cgi = environ_of(served, raw)["cgi"]
    assert cgi["HTTP_X_NAME"] == "café".encode().decode("latin-1")


# -- wsgi.input ------------------------------------------------------------------------------------
LINES = b"first line\nsecond\n\nlast without newline"


@pytest.mark.parametrize(
    ("how", "parts"),
    [
        ("readline", [b"first line\n", b"second\n", b"\n", b"last without newline"]),
        ("readlines", [b"first line\n", b"second\n", b"\n", b"last without newline"]),
        ("iterate", [b"first line\n", b"second\n", b"\n", b"last without newline"]),
        ("length", [LINES]),
    ],
)
def test_input_is_read_by_lines_or_by_length(served: Any, how: str, parts: list[bytes]) -> None:
    with served(body_app) as running:
        reply = fetch(running, post(f"/?{how}", LINES))
    assert reply.status == 200, reply.body
    assert json.loads(reply.body)["parts"] == [p.decode() for p in parts]


def test_readline_with_a_size_stops_there(served: Any) -> None:
    with served(body_app) as running:
        reply = fetch(running, post("/?readline-size", b"abcdefg\nhi\n"))
    assert json.loads(reply.body)["parts"] == ["abcd", "efg\n", "hi\n"]


@pytest.mark.parametrize("how", ["readline", "readlines", "iterate", "eof"])
def test_input_still_arriving_is_read_by_lines(served: Any, how: str) -> None:
    # The body comes in three pieces with pauses: the app reads while it is on the wire.
    with served(body_app) as running, running.connect() as sock:
        sock.sendall(get(f"/?{how}", "Transfer-Encoding: chunked", method="POST"))
        for piece in (b"first li", b"ne\nsecond\n\nlast", b" without newline"):
            time.sleep(0.05)
            sock.sendall(b"%x\r\n%b\r\n" % (len(piece), piece))
        sock.sendall(b"0\r\n\r\n")
        reply = read_reply(sock)
    assert reply.status == 200, reply.body
    answer = json.loads(reply.body)
    assert answer["size"] == len(LINES)
    assert "".join(answer["parts"]) == LINES.decode()
    if how != "eof":
        assert answer["parts"] == ["first line\n", "second\n", "\n", "last without newline"]


def test_chunked_body_is_read_to_eof(served: Any) -> None:
    payload = os.urandom(300_000)
    pieces = [payload[i : i + 7000] for i in range(0, len(payload), 7000)]
    with served(body_app) as running:
        reply = fetch(
            running, get("/", "Transfer-Encoding: chunked", method="POST") + chunked(*pieces)
        )
    assert reply.status == 200, reply.body
    answer = json.loads(reply.body)
    assert answer["size"] == len(payload)
    assert answer["sha256"] == hashlib.sha256(payload).hexdigest()
    assert answer["content_length"] is None


def test_slow_chunked_body_is_read_to_eof(served: Any) -> None:
    payload = os.urandom(600_000)  # past the server's read-ahead buffer: reading pauses
    with served(body_app) as running, running.connect() as sock:
        sock.sendall(get("/", "Transfer-Encoding: chunked", method="POST"))
        for start in range(0, len(payload), 100_000):
            piece = payload[start : start + 100_000]
            sock.sendall(b"%x\r\n%b\r\n" % (len(piece), piece))
            time.sleep(0.01)
        sock.sendall(b"0\r\n\r\n")
        reply = read_reply(sock)
    answer = json.loads(reply.body)
    assert answer["size"] == len(payload)
    assert answer["sha256"] == hashlib.sha256(payload).hexdigest()


def test_post_with_content_length_is_read_whole(served: Any) -> None:
    payload = os.urandom(1_000_000)
    with served(body_app) as running:
        reply = fetch(running, post("/?length", payload))
    answer = json.loads(reply.body)
    assert answer["size"] == len(payload)
    assert answer["sha256"] == hashlib.sha256(payload).hexdigest()
    assert answer["content_length"] == str(len(payload))


def test_get_has_an_empty_input(served: Any) -> None:
    with served(body_app) as running:
        reply = fetch(running, get("/?eof"))
    assert json.loads(reply.body)["size"] == 0


def test_keep_alive_after_a_body_the_app_read(served: Any) -> None:
    with served(body_app) as running, running.connect() as sock:
        for payload in (b"one", b"two!", b""):
            sock.sendall(post("/?length", payload))
            reply = read_reply(sock)
            assert json.loads(reply.body)["size"] == len(payload)


# -- the response ----------------------------------------------------------------------------------
def test_write_callable_sends_the_body(served: Any) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        write = start_response("200 OK", TEXT)
        write(b"written ")
        write(b"then ")
        return [b"returned"]

    with served(app) as running:
        reply = fetch(running, get("/"))
    assert (reply.status, reply.body) == (200, b"written then returned")
    assert reply.header("transfer-encoding") == "chunked"


def test_write_callable_with_content_length(served: Any) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        write = start_response("200 OK", [*TEXT, ("Content-Length", "6")])
        write(b"abc")
        write(b"def")
        return []

    with served(app) as running:
        reply = fetch(running, get("/"))
    assert (reply.body, reply.header("content-length")) == (b"abcdef", "6")
    assert reply.header("transfer-encoding") is None


def test_generator_response_is_streamed_chunked(served: Any) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [*TEXT, ("X-Kind", "generator")])
        yield b"one,"
        yield b""  # an empty piece is skipped, not sent as the last chunk
        yield b"two,"
        yield b"three"

    with served(app) as running:
        reply = fetch(running, get("/"))
    assert reply.body == b"one,two,three"
    assert reply.header("transfer-encoding") == "chunked"
    assert reply.header("x-kind") == "generator"


def test_generator_with_content_length_is_not_chunked(served: Any) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [*TEXT, ("Content-Length", "9")])
        yield b"abc"
        yield b"defghi"

    with served(app) as running:
        reply = fetch(running, get("/"))
    assert (reply.body, reply.header("content-length")) == (b"abcdefghi", "9")
    assert reply.header("transfer-encoding") is None


def test_list_response_unvalidated_gets_a_content_length(serve: Any) -> None:
    # Not through the validator (it wraps every iterable): a one-item list goes out whole.
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", TEXT)
        return [b"whole body"]

    with serve(app, interface="wsgi") as running:
        reply = fetch(running, get("/"))
    assert (reply.body, reply.header("content-length")) == (b"whole body", "10")


def test_http_1_0_client_gets_a_body_ended_by_close(served: Any) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", TEXT)
        yield b"old "
        yield b"client"

    with served(app) as running:
        raw = running.exchange(get("/", version="1.0"))
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"transfer-encoding" not in head.lower()
    assert body == b"old client"


def test_head_response_has_the_headers_without_the_body(served: Any) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [*TEXT, ("Content-Length", "5")])
        return [b"hello"]

    with served(app) as running, running.connect() as sock:
        sock.sendall(get("/", method="HEAD"))
        head = read_reply(sock, "HEAD")
        sock.sendall(get("/"))  # the connection is still usable: no stray body bytes
        reply = read_reply(sock)
    assert (head.status, head.header("content-length"), head.body) == (200, "5", b"")
    assert reply.body == b"hello"


def test_close_is_called_after_the_response(served: Any) -> None:
    body = ClosingBody([b"a", b"b", b"c"])

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", TEXT)
        return body

    with served(app) as running:
        reply = fetch(running, get("/"))
        assert reply.body == b"abc"
        wait_until(body.closed.is_set, "close() on the response iterable")
    assert body.close_calls == 1


def test_close_is_called_when_the_client_disconnects_mid_stream(served: Any) -> None:
    body = ClosingBody((b"x" * 1000 for _ in range(10_000)), delay=0.002)

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", TEXT)
        return body if environ["PATH_INFO"] == "/stream" else [b"fine"]

    with served(app) as running:
        with running.connect() as sock:
            sock.sendall(get("/stream"))
            assert sock.recv(100).startswith(b"HTTP/1.1 200 ")
        wait_until(body.closed.is_set, "close() after the client went away")
        assert body.yielded < 10_000
        assert body.close_calls == 1
        # The server is fine afterwards.
        assert fetch(running, get("/")).body == b"fine"


def test_close_is_called_when_the_app_iterable_raises(served: Any, server_log: ServerLog) -> None:
    server_log.expect("Exception in WSGI app")
    body = ClosingBody([b"a"])

    def broken() -> Iterator[bytes]:
        yield b"a"
        raise RuntimeError("the body failed")

    body.pieces = broken()

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", TEXT)
        return body

    with served(app) as running:
        reply = fetch(running, get("/"))
        wait_until(body.closed.is_set, "close() after the iterable raised")
    assert reply.status == 200
    assert not reply.complete  # the chunked body never got its last chunk


def test_exc_info_before_the_head_is_sent_replaces_the_response(served: Any) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [*TEXT, ("X-First", "1")])
        try:
            raise ValueError("changed my mind")
        except ValueError:
            start_response("503 Service Unavailable", [*TEXT, ("X-Second", "2")], sys.exc_info())
        yield b"sorry"

    with served(app) as running:
        reply = fetch(running, get("/"))
    assert (reply.status, reply.body) == (503, b"sorry")
    assert reply.header("x-first") is None
    assert reply.header("x-second") == "2"


def test_exc_info_after_the_head_is_sent_is_reraised(served: Any, server_log: ServerLog) -> None:
    server_log.expect("Exception in WSGI app")
    reraised = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", TEXT)
        yield b"partial"
        try:
            raise ValueError("too late")
        except ValueError:
            try:
                start_response("500 Internal Server Error", TEXT, sys.exc_info())
            except ValueError:
                reraised.set()
                raise
        yield b"never sent"

    with served(app) as running, running.connect() as sock:
        sock.sendall(get("/"))
        reply = read_reply(sock)
        assert reraised.is_set()
        assert sock.recv(100) == b""  # the server closed the connection
    assert reply.status == 200
    assert reply.body == b"partial"
    assert not reply.complete


def test_start_response_twice_without_exc_info_is_an_error(
    serve: Any, server_log: ServerLog
) -> None:
    server_log.expect("Exception in WSGI app")

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", TEXT)
        start_response("201 Created", TEXT)
        return [b""]

    with serve(app, interface="wsgi") as running:
        reply = fetch(running, get("/"))
    assert reply.status == 500


def test_app_error_before_start_response_gets_500_and_keep_alive(
    served: Any, server_log: ServerLog
) -> None:
    server_log.expect("Exception in WSGI app")

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/boom":
            raise RuntimeError("boom")
        start_response("200 OK", TEXT)
        return [b"fine"]

    with served(app) as running, running.connect() as sock:
        sock.sendall(get("/boom"))
        failed = read_reply(sock)
        sock.sendall(get("/"))
        fine = read_reply(sock)
    assert failed.status == 500
    assert (fine.status, fine.body) == (200, b"fine")


# -- wsgi.file_wrapper -----------------------------------------------------------------------------
@pytest.fixture
def data_file(tmp_path: Path) -> tuple[Path, bytes]:
    data = os.urandom(300_000)
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    return path, data


def file_app(path: Path, opened: list[Any], offset: int = 0) -> WSGIApp:
    """Sends ``path`` with ``wsgi.file_wrapper``; ``?length`` adds the Content-Length."""

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        file = path.open("rb")
        file.seek(offset)
        opened.append(file)
        headers = [("Content-Type", "application/octet-stream")]
        if environ["QUERY_STRING"] == "length":
            headers.append(("Content-Length", str(path.stat().st_size - offset)))
        start_response("200 OK", headers)
        wrapper: Iterable[bytes] = environ["wsgi.file_wrapper"](file, 8192)
        return wrapper

    return app


@pytest.mark.parametrize("validated", [True, False], ids=["validated", "sendfile"])
@pytest.mark.parametrize("query", ["length", ""], ids=["content-length", "chunked"])
def test_file_wrapper_sends_the_whole_file_and_closes_it(
    serve: Any, data_file: tuple[Path, bytes], validated: bool, query: str
) -> None:
    # NOTE: the validator wraps the wrapper, so "validated" takes the iteration path and
    # "sendfile" the server's own path for a real file.
    path, data = data_file
    opened: list[Any] = []
    app = file_app(path, opened)
    with serve(validator(app) if validated else app, interface="wsgi") as running:
        with running.connect() as sock:
            for _ in range(2):  # twice on one connection: the framing is exact
                sock.sendall(get(f"/?{query}"))
                reply = read_reply(sock)
                assert reply.status == 200
                assert reply.body == data
                if query:
                    assert reply.header("content-length") == str(len(data))
                    assert reply.header("transfer-encoding") is None
                else:
                    assert reply.header("transfer-encoding") == "chunked"
        wait_until(lambda: all(f.closed for f in opened), "the wrapped files to be closed")
    assert len(opened) == 2


@pytest.mark.parametrize("query", ["length", ""], ids=["content-length", "chunked"])
def test_file_wrapper_starts_at_the_files_position(
    serve: Any, data_file: tuple[Path, bytes], query: str
) -> None:
    path, data = data_file
    opened: list[Any] = []
    with serve(file_app(path, opened, offset=1000), interface="wsgi") as running:
        reply = fetch(running, get(f"/?{query}"))
        wait_until(lambda: opened[0].closed, "the wrapped file to be closed")
    assert reply.body == data[1000:]


def test_file_wrapper_head_sends_no_body_and_closes(
    serve: Any, data_file: tuple[Path, bytes]
) -> None:
    path, data = data_file
    opened: list[Any] = []
    with serve(file_app(path, opened), interface="wsgi") as running, running.connect() as sock:
        sock.sendall(get("/?length", method="HEAD"))
        head = read_reply(sock, "HEAD")
        sock.sendall(get("/?length"))
        reply = read_reply(sock)
        wait_until(lambda: all(f.closed for f in opened), "the wrapped files to be closed")
    assert (head.status, head.body, head.header("content-length")) == (200, b"", str(len(data)))
    assert reply.body == data


def test_file_wrapper_over_a_file_like_without_fileno(serve: Any) -> None:
    closed = threading.Event()

    class Stream(io.BytesIO):
        def close(self) -> None:
            closed.set()
            super().close()

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", TEXT)
        wrapper: Iterable[bytes] = environ["wsgi.file_wrapper"](Stream(b"z" * 20_000), 4096)
        return wrapper

    with serve(validator(app), interface="wsgi") as running:
        reply = fetch(running, get("/"))
        wait_until(closed.is_set, "close() on the file-like object")
    assert reply.body == b"z" * 20_000


# -- threads and backpressure ----------------------------------------------------------------------
def test_requests_beyond_the_thread_pool_all_complete(served: Any) -> None:
    active = 0
    most = 0
    lock = threading.Lock()

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        nonlocal active, most
        with lock:
            active += 1
            most = max(most, active)
        time.sleep(0.05)
        with lock:
            active -= 1
        start_response("200 OK", TEXT)
        return [environ["PATH_INFO"].encode()]

    with served(app, wsgi_threads=3) as running:

        def one(i: int) -> Reply:
            return fetch(running, get(f"/{i}"))

        with ThreadPoolExecutor(max_workers=24) as pool:
            replies = list(pool.map(one, range(24)))
    assert [r.status for r in replies] == [200] * 24
    assert [r.body for r in replies] == [f"/{i}".encode() for i in range(24)]
    assert most == 3  # the pool was full, and no more than full


def test_slow_reader_does_not_hold_other_requests(served: Any) -> None:
    # One client never reads its large streamed response: its thread waits on backpressure,
    # and the other thread still serves everyone else.
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", TEXT)
        if environ["PATH_INFO"] == "/big":
            for _ in range(2000):
                yield b"y" * 65536
        else:
            yield b"small"

    with served(app, wsgi_threads=2, timeout_write=2.0) as running:
        stalled = running.connect()
        try:
            stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stalled.sendall(get("/big"))
            time.sleep(0.1)
            replies = [fetch(running, get("/small")) for _ in range(5)]
        finally:
            stalled.close()
    assert [r.body for r in replies] == [b"small"] * 5


def test_client_gone_mid_body_ends_the_apps_read_at_once(
    served: Any, server_log: ServerLog
) -> None:
    server_log.expect("Exception in WSGI app")
    errors: list[str] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        try:
            data = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        except Exception as exc:
            errors.append(type(exc).__name__)
            raise
        start_response("200 OK", TEXT)
        return [data]

    # NOTE: a small timeout_body: a regression would keep the test's threads that long.
    with served(app, wsgi_threads=2, timeout_body=3.0) as running:
        for _ in range(3):  # a head and half a body, then gone: more than the threads
            with running.connect() as sock:
                sock.sendall(get("/", "Content-Length: 100", method="POST") + b"half")
        wait_until(lambda: len(errors) == 3, "the apps to learn the clients left", timeout=2)
        reply = request(running.host, running.port, post("/", b"whole"), timeout=3)
    assert errors == ["ClientGone"] * 3
    assert (reply.status, reply.body) == (200, b"whole")
