"""Real clients against qiao's server: httpx (sync and async), curl, h11 as a strict client on
every response shape the server writes, and wrk under load.

One qiao app answers, served three ways (``native``, and the same object as an ASGI and as a
WSGI app), so each client checks every interface. The demo app under ``qiao serve`` is in
``tests/test_servers.py``; here curl reads a few of its pages.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import qiao
from tests._servers import DEMO, ServerProcess, free_port, running_server, venv_bin

from ._support import Reader, Reply, ServerLog, read_reply, request, server_log
from .conftest import Running
from .conftest import running_server as running_qiao

__all__ = ["server_log"]  # the autouse log gate, imported to take effect here

INTERFACES = ["native", "asgi", "wsgi"]
PATTERN = b"0123456789abcdef" * 4096  # 64 KiB
CURL = shutil.which("curl")
WRK = shutil.which("wrk")


def build_app() -> qiao.App:
    app = qiao.App(__name__, config={"SECRET_KEY": "clients-test"})

    @app.get("/")
    def index(request: qiao.Request) -> str:
        return "hello"

    @app.get("/peer")
    def peer(request: qiao.Request) -> dict[str, Any]:
        client = request.client
        return {"port": client[1] if client else None}

    @app.post("/echo")
    async def echo(request: qiao.Request) -> qiao.Response:
        return qiao.Response(await request.abody(), content_type="application/octet-stream")

    @app.post("/upload")
    async def upload(request: qiao.Request) -> dict[str, Any]:
        digest = hashlib.sha256()
        size = pieces = 0
        async for chunk in request.astream():
            digest.update(chunk)
            size += len(chunk)
            pieces += 1
        return {"size": size, "sha256": digest.hexdigest()}

    @app.get("/download/<int:count>")
    def download(request: qiao.Request, count: int) -> qiao.StreamingResponse:
        def pieces() -> Iterator[bytes]:
            for _ in range(count):
                yield PATTERN

        return qiao.StreamingResponse(pieces(), content_type="application/octet-stream")

    @app.get("/status/<int:code>")
    def status(request: qiao.Request, code: int) -> qiao.Response:
        return qiao.Response(b"", status=code, headers={"x-status": str(code)})

    return app


@pytest.fixture(scope="module", params=INTERFACES)
def server(request: pytest.FixtureRequest) -> Iterator[Running]:
    """The clients app, served by qiao's server through one interface."""
    with running_qiao(build_app(), interface=request.param) as running:
        yield running


def body_of(count: int) -> bytes:
    return PATTERN * count


# -- httpx -----------------------------------------------------------------------------------------
def test_httpx_keeps_the_connection_alive(server: Running) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        ports = {client.get("/peer").json()["port"] for _ in range(5)}
        assert client.get("/").text == "hello"
        assert client.post("/echo", content=b"abc").content == b"abc"
        ports.add(client.get("/peer").json()["port"])
    assert len(ports) == 1


def test_httpx_streams_an_upload(server: Running) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield PATTERN

    with httpx.Client(base_url=server.url, timeout=10) as client:
        request = client.build_request("POST", "/upload", content=chunks())
        assert request.headers["transfer-encoding"] == "chunked"
        answer = client.send(request).json()
    data = body_of(40)
    assert answer == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def test_httpx_streams_a_download(server: Running) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        with client.stream("GET", "/download/64") as response:
            assert response.headers["transfer-encoding"] == "chunked"
            assert "content-length" not in response.headers
            received = b"".join(response.iter_bytes())
        # The connection is reused after a streamed body.
        assert client.get("/").text == "hello"
    assert received == body_of(64)


def test_httpx_async_client(server: Running) -> None:
    async def main() -> tuple[set[int], dict[str, Any], bytes, list[str]]:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(20):
                yield PATTERN
                await asyncio.sleep(0)

        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            ports = {(await client.get("/peer")).json()["port"] for _ in range(3)}
            uploaded = (await client.post("/upload", content=chunks())).json()
            async with client.stream("GET", "/download/16") as response:
                downloaded = b"".join([piece async for piece in response.aiter_bytes()])
            texts = await asyncio.gather(*(client.get("/") for _ in range(10)))
        return ports, uploaded, downloaded, [t.text for t in texts]

    ports, uploaded, downloaded, texts = asyncio.run(main())
    assert len(ports) == 1
    assert uploaded["size"] == len(body_of(20))
    assert downloaded == body_of(16)
    assert texts == ["hello"] * 10


# -- curl ------------------------------------------------------------------------------------------
def curl(*args: str, timeout: float = 10) -> subprocess.CompletedProcess[bytes]:
    if CURL is None:
        pytest.skip("curl is not installed")
    return subprocess.run(
        [CURL, "-sS", "--noproxy", "*", *args], capture_output=True, timeout=timeout, check=True
    )


def heads(output: bytes) -> list[str]:
    """The status lines in curl's ``-i`` output (interim responses too)."""
    return re.findall(r"^HTTP/[0-9.]+ [0-9]{3}[^\r\n]*", output.decode("latin-1"), re.MULTILINE)


def test_curl_get_includes_the_head(server: Running) -> None:
    out = curl("-i", server.url + "/").stdout
    assert heads(out) == ["HTTP/1.1 200 OK"]
    assert out.endswith(b"\r\n\r\nhello")
    assert b"content-length: 5\r\n" in out.lower()


def test_curl_http_1_0(server: Running) -> None:
    out = curl("-i", "--http1.0", server.url + "/download/2").stdout
    head, _, body = out.partition(b"\r\n\r\n")
    assert heads(out) == ["HTTP/1.1 200 OK"]
    assert b"transfer-encoding" not in head.lower()  # no chunked coding for a 1.0 client
    assert body == body_of(2)


def test_curl_head(server: Running) -> None:
    out = curl("-I", server.url + "/").stdout
    assert heads(out) == ["HTTP/1.1 200 OK"]
    assert b"content-length: 5\r\n" in out.lower()
    assert out.endswith(b"\r\n\r\n")  # no body


def test_curl_expect_100_continue_with_a_large_body(server: Running, tmp_path: Path) -> None:
    upload = tmp_path / "upload.bin"
    data = body_of(48)  # 3 MiB
    upload.write_bytes(data)
    out = curl(
        "-i",
        "-H",
        "Expect: 100-continue",
        "-H",
        "Content-Type: application/octet-stream",
        "--data-binary",
        f"@{upload}",
        server.url + "/upload",
    ).stdout
    # The server said "go on" (else curl sends the body after a second without one).
    assert heads(out) == ["HTTP/1.1 100 Continue", "HTTP/1.1 200 OK"]
    answer = json.loads(out.rpartition(b"\r\n\r\n")[2])
    assert answer == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def test_curl_chunked_upload(server: Running, tmp_path: Path) -> None:
    upload = tmp_path / "upload.bin"
    data = body_of(20)
    upload.write_bytes(data)
    out = curl(
        "-H",
        "Transfer-Encoding: chunked",
        "-H",
        "Content-Type: application/octet-stream",
        "--data-binary",
        f"@{upload}",
        server.url + "/upload",
    ).stdout
    assert json.loads(out) == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def test_curl_over_a_unix_socket() -> None:
    folder = tempfile.mkdtemp(prefix="qiao-uds-")  # short: a socket path has ~100 bytes
    path = str(Path(folder) / "s")
    try:
        with running_qiao(build_app(), uds=path):
            out = curl("-i", "--unix-socket", path, "http://localhost/").stdout
            posted = curl("--unix-socket", path, "--data-binary", "xyz", "http://x/echo").stdout
        assert heads(out) == ["HTTP/1.1 200 OK"]
        assert out.endswith(b"hello")
        assert posted == b"xyz"
        assert not Path(path).exists()  # removed when the server stopped
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- h11, strict, on every response shape ----------------------------------------------------------
SHAPES: dict[str, tuple[bytes, str, int]] = {
    # name: (raw request, method for h11, status)
    "plain": (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET", 200),
    "chunked-stream": (b"GET /download/3 HTTP/1.1\r\nHost: x\r\n\r\n", "GET", 200),
    "head": (b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", "HEAD", 200),
    "head-of-stream": (b"HEAD /download/3 HTTP/1.1\r\nHost: x\r\n\r\n", "HEAD", 200),
    "204": (b"GET /status/204 HTTP/1.1\r\nHost: x\r\n\r\n", "GET", 204),
    "304": (b"GET /status/304 HTTP/1.1\r\nHost: x\r\n\r\n", "GET", 304),
    "404": (b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n", "GET", 404),
    "405": (b"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n", "DELETE", 405),
    "echo-chunked-request": (
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n0\r\n\r\n",
        "POST",
        200,
    ),
}
#: Requests the server itself refuses, before any app sees them.
REFUSED: dict[str, tuple[bytes, int]] = {
    "malformed-request-line": (b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n", 400),
    "missing-host": (b"GET / HTTP/1.1\r\n\r\n", 400),
    "two-hosts": (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    "header-too-large": (
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n",
        431,
    ),
    "too-many-headers": (
        b"GET / HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-%d: 1\r\n" % i for i in range(150))
        + b"\r\n",
        431,
    ),
    "body-too-large": (
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n",
        413,
    ),
    "uri-too-long": (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    "unknown-transfer-coding": (
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
        501,
    ),
    "http-version": (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    "tls-on-a-plain-port": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40, 400),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_h11_parses_every_response_shape(server: Running, shape: str) -> None:
    raw, method, status = SHAPES[shape]
    with server.connect() as sock:
        reader = Reader(sock)
        for _ in range(2):  # twice on one connection: the framing must be exact
            sock.sendall(raw)
            reply = reader.next(method)
            assert (reply.status, reply.complete) == (status, True)
            assert reply.header("connection") != "close"
    if method == "HEAD" or status in (204, 304):
        assert reply.body == b""
    if status in (204, 304):
        assert reply.header("content-length") is None
        assert reply.header("transfer-encoding") is None


@pytest.mark.parametrize("name", list(REFUSED))
def test_h11_parses_the_servers_own_refusals(
    server: Running, name: str, server_log: ServerLog
) -> None:
    raw, status = REFUSED[name]
    with server.connect() as sock:
        sock.sendall(raw)
        reply = read_reply(sock)
        assert sock.recv(10) == b""  # then the connection is closed
    assert (reply.status, reply.complete) == (status, True)
    assert reply.header("connection") == "close"
    assert reply.header("content-type") == "text/plain; charset=utf-8"
    assert int(reply.header("content-length") or -1) == len(reply.body)


@pytest.mark.parametrize("interface", INTERFACES)
def test_malformed_chunked_body_gets_400_at_once(interface: str, server_log: ServerLog) -> None:
    server_log.expect("")  # the app's read fails, and each interface logs it its own way
    raw = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    # NOTE: timeout_body bounds how long the bug keeps the test waiting.
    with running_qiao(build_app(), interface=interface, timeout_body=0.5) as running:
        with running.connect() as sock:
            sock.sendall(raw)
            started = time.monotonic()
            reply = read_reply(sock)
            waited = time.monotonic() - started
    assert (reply.status, reply.header("connection")) == (400, "close")
    assert waited < 0.4


def test_h11_parses_a_header_timeout() -> None:
    with running_qiao(build_app(), timeout_header=0.2) as running, running.connect() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        reply = read_reply(sock)
    assert (reply.status, reply.header("connection")) == (408, "close")


def test_h11_parses_a_response_to_a_client_that_half_closes(server: Running) -> None:
    with server.connect() as sock:
        sock.sendall(b"GET /download/2 HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)
        reply = read_reply(sock)
    assert (reply.status, reply.complete, reply.body) == (200, True, body_of(2))


def test_h11_parses_pipelined_responses(server: Running) -> None:
    shapes = ["plain", "chunked-stream", "head", "204", "echo-chunked-request", "404"]
    with server.connect() as sock:
        sock.sendall(b"".join(SHAPES[name][0] for name in shapes))
        reader = Reader(sock)
        replies: list[Reply] = [reader.next(SHAPES[name][1]) for name in shapes]
    assert [r.status for r in replies] == [SHAPES[name][2] for name in shapes]
    assert replies[1].body == body_of(3)
    assert replies[4].body == b"abc"


# -- wrk -------------------------------------------------------------------------------------------
@pytest.mark.skipif(WRK is None, reason="wrk is not installed")
def test_wrk_sees_no_errors() -> None:
    with running_qiao(build_app()) as running:
        done = subprocess.run(
            [str(WRK), "-t1", "-c16", "-d1s", running.url + "/"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    out = done.stdout
    assert "Socket errors" not in out, out
    assert "Non-2xx or 3xx responses" not in out, out
    requests = re.search(r"([0-9]+) requests in", out)
    assert requests is not None, out
    assert int(requests.group(1)) > 100, out


# -- the demo under `qiao serve` -------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo() -> Iterator[ServerProcess]:
    port = free_port()
    argv = [venv_bin("qiao"), "serve", DEMO, "--port", str(port), "--no-access-log"]
    with running_server("qiao-demo", argv, port) as running:
        yield running


def test_demo_pages_render_under_qiao_serve_for_curl(demo: ServerProcess) -> None:
    home = curl("-i", "--compressed", demo.url + "/").stdout.decode()
    assert heads(home.encode()) == ["HTTP/1.1 200 OK"]
    assert "<h1>qiao 桥</h1>" in home
    hello = curl(demo.url + "/hello/curl").stdout
    assert json.loads(hello) == {"hello": "curl", "url": "/hello/curl"}
    articles = curl("-L", demo.url + "/archive/2024/").stdout.decode()
    assert "<h1>Articles of 2024</h1>" in articles
    head = curl("-I", demo.url + "/source").stdout.decode().lower()
    assert "content-length: " in head
    assert "accept-ranges: bytes" in head


def test_demo_stream_and_range_for_h11(demo: ServerProcess) -> None:
    feed = request("127.0.0.1", demo.port, b"GET /blog/feed HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert (feed.status, feed.body) == (200, b"hello-qiao\ntwo-schools\n")
    assert feed.header("transfer-encoding") == "chunked"
    ranged = request(
        "127.0.0.1",
        demo.port,
        b"GET /source HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes=0-9\r\n\r\n",
    )
    assert (ranged.status, len(ranged.body), ranged.header("content-length")) == (206, 10, "10")
