"""The Compression battery: negotiation, what is skipped, headers, streams, and real servers.

Tests that use ``serve`` run twice: through WSGI and through ASGI. The last tests start gunicorn
and uvicorn and fetch with ``curl --compressed`` over a real socket.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import shutil
import subprocess
import sys
import textwrap
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import brotli  # type: ignore[import-untyped]
import httpx
import pytest

import qiao
from qiao.compression import Compression, compression_exempt, parse_accept_encoding
from tests._servers import free_port, running_server, server_env, venv_bin
from tests.http._support import NewApp, Serve

TEXT = "The quick brown fox jumps over the lazy dog. " * 40  # 1800 bytes, compresses well
CHUNKS = [f"data: event {i} {'x' * 200}\n\n" for i in range(5)]


@pytest.fixture(params=["wsgi", "asgi"])
def serve(request: pytest.FixtureRequest) -> Iterator[Serve]:
    """Call the app through WSGI, then (second run) through ASGI."""
    with ExitStack() as stack:
        yield Serve(request.param, stack)


def compressed_app(new_app: NewApp, **options: Any) -> qiao.App:
    app = new_app()
    Compression(app, **options)

    @app.get("/text")
    def text(request: qiao.Request) -> qiao.Response:
        return qiao.PlainTextResponse(TEXT, headers={"etag": '"v1"'})

    @app.get("/json")
    def json(request: qiao.Request) -> Any:
        return {"words": TEXT.split()}

    @app.get("/sized/<int:size>")
    def sized(request: qiao.Request, size: int) -> qiao.Response:
        return qiao.PlainTextResponse("a" * size)

    @app.get("/stream")
    def stream(request: qiao.Request) -> qiao.Response:
        return qiao.StreamingResponse(iter(CHUNKS), content_type="text/event-stream")

    @app.get("/astream")
    def astream(request: qiao.Request) -> qiao.Response:
        async def chunks() -> AsyncIterator[str]:
            for chunk in CHUNKS:
                await asyncio.sleep(0)
                yield chunk

        return qiao.StreamingResponse(chunks(), content_type="text/event-stream")

    return app


def get(client: Any, path: str, accept: str | None = "gzip, deflate, br", **kw: Any) -> Any:
    headers = kw.pop("headers", {})
    headers["accept-encoding"] = accept if accept is not None else ""
    return client.get(path, headers=headers, **kw)


# -- negotiation ---------------------------------------------------------------------------------


def test_gzip_is_decoded_by_the_client(new_app: NewApp, serve: Serve) -> None:
    response = get(serve(compressed_app(new_app)), "/text", "gzip")
    assert response.headers["content-encoding"] == "gzip"
    assert response.text == TEXT
    assert int(response.headers["content-length"]) < len(TEXT) / 5
    assert response.headers["vary"] == "accept-encoding"


def test_brotli_is_preferred_and_decoded(new_app: NewApp, serve: Serve) -> None:
    response = get(serve(compressed_app(new_app)), "/json")
    assert response.headers["content-encoding"] == "br"
    assert response.json() == {"words": TEXT.split()}


def test_raw_bodies_decode_with_the_reference_libraries(new_app: NewApp) -> None:
    client = compressed_app(new_app).test_client()
    with client.stream("GET", "/text", headers={"accept-encoding": "gzip"}) as response:
        assert gzip.decompress(b"".join(response.iter_raw())) == TEXT.encode()
    with client.stream("GET", "/text", headers={"accept-encoding": "br"}) as response:
        assert brotli.decompress(b"".join(response.iter_raw())) == TEXT.encode()


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("gzip", "gzip"),
        ("GZIP", "gzip"),
        ("x-gzip", "gzip"),
        ("br", "br"),
        ("gzip, br", "br"),  # equal weights: brotli, the smaller
        ("br;q=0.5, gzip", "gzip"),
        ("br;q=0.5, gzip;q=0.8", "gzip"),
        ("gzip;q=0", None),
        ("gzip;q=0, br;q=0", None),
        ("*", "br"),
        ("*;q=0.1, gzip;q=0.2", "gzip"),
        ("gzip;q=0, *", "br"),
        ("*;q=0", None),
        ("identity", None),
        ("deflate, zstd", None),
        ("gzip;q=abc", None),
        ("gzip;q=1.5", None),
        ("gzip;q=nan", None),
        ("gzip ; q=0.3 , br;q=0.001", "gzip"),
        ("", None),
        (None, None),
    ],
)
def test_accept_encoding_q_values(
    new_app: NewApp, accept: str | None, expected: str | None
) -> None:
    app = compressed_app(new_app)
    app.compile()
    assert app.extensions["compression"].choose_coding(accept) == expected


def test_q_values_through_the_servers(new_app: NewApp, serve: Serve) -> None:
    client = serve(compressed_app(new_app))
    refused = get(client, "/text", "gzip;q=0, br;q=0")
    assert "content-encoding" not in refused.headers
    assert refused.headers["vary"] == "accept-encoding"  # the answer still depends on it
    assert refused.text == TEXT
    assert get(client, "/text", "br;q=0.1, gzip;q=0.9").headers["content-encoding"] == "gzip"


def test_without_brotli_gzip_is_used(new_app: NewApp, serve: Serve) -> None:
    client = serve(compressed_app(new_app, brotli=False))
    assert get(client, "/text", "br, gzip").headers["content-encoding"] == "gzip"
    assert "content-encoding" not in get(client, "/text", "br").headers


def test_brotli_missing_is_fine_unless_required(
    new_app: NewApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "brotli", None)  # import brotli now raises ImportError
    app = compressed_app(new_app)
    app.compile()
    assert app.extensions["compression"].choose_coding("br, gzip") == "gzip"
    required = compressed_app(new_app, brotli=True)
    with pytest.raises(
        qiao.ImproperlyConfigured, match=r"qiao\.E121: .*pip install 'qiao\[brotli\]'"
    ):
        required.compile()


def test_parse_accept_encoding() -> None:
    assert parse_accept_encoding("gzip;q=0.5, BR, x-gzip;q=0.2") == {"gzip": 0.2, "br": 1.0}


# -- what is not compressed ----------------------------------------------------------------------


def test_bodies_under_the_minimum_are_sent_as_they_are(new_app: NewApp, serve: Serve) -> None:
    client = serve(compressed_app(new_app))
    small = get(client, "/sized/499")
    assert "content-encoding" not in small.headers
    assert "vary" not in small.headers  # the answer does not depend on Accept-Encoding
    assert small.headers["content-length"] == "499"
    assert get(client, "/sized/500").headers["content-encoding"] == "br"


def test_min_size_is_a_setting(new_app: NewApp, serve: Serve) -> None:
    app = compressed_app(new_app, min_size=0)
    assert get(serve(app), "/sized/100").headers["content-encoding"] == "br"


def test_an_already_encoded_response_is_left_alone(new_app: NewApp, serve: Serve) -> None:
    app = compressed_app(new_app)
    packed = gzip.compress(TEXT.encode())

    @app.get("/packed")
    def packed_view(request: qiao.Request) -> qiao.Response:
        body = packed + b" " * 600
        return qiao.Response(
            body, headers={"content-encoding": "identity"}, content_type="text/plain"
        )

    response = get(serve(app), "/packed", "gzip")
    assert response.headers["content-encoding"] == "identity"
    assert "vary" not in response.headers


@pytest.mark.parametrize(
    "content_type",
    ["image/png", "application/zip", "video/mp4", "application/octet-stream", "font/woff2"],
)
def test_types_that_are_compressed_already_are_skipped(
    new_app: NewApp, serve: Serve, content_type: str
) -> None:
    app = compressed_app(new_app)

    @app.get("/blob")
    def blob(request: qiao.Request) -> qiao.Response:
        return qiao.Response(TEXT, content_type=content_type)

    response = get(serve(app), "/blob")
    assert "content-encoding" not in response.headers
    assert "vary" not in response.headers


@pytest.mark.parametrize(
    "content_type",
    [
        "text/csv; charset=utf-8",
        "application/problem+json",
        "image/svg+xml",
        "application/atom+xml",
        "application/javascript",
    ],
)
def test_text_like_types_are_compressed(new_app: NewApp, serve: Serve, content_type: str) -> None:
    app = compressed_app(new_app)

    @app.get("/doc")
    def doc(request: qiao.Request) -> qiao.Response:
        return qiao.Response(TEXT, content_type=content_type)

    assert get(serve(app), "/doc", "gzip").headers["content-encoding"] == "gzip"


def test_types_are_a_setting(new_app: NewApp, serve: Serve) -> None:
    client = serve(compressed_app(new_app, types=["application/json"]))
    assert "content-encoding" not in get(client, "/text").headers
    assert get(client, "/json").headers["content-encoding"] == "br"


def test_304_206_and_204_are_not_compressed(new_app: NewApp, serve: Serve) -> None:
    app = compressed_app(new_app)

    @app.get("/status/<int:code>")
    def status(request: qiao.Request, code: int) -> Any:
        return qiao.PlainTextResponse(TEXT, code)

    client = serve(app)
    for code in (304, 206, 204):
        response = get(client, f"/status/{code}")
        assert response.status_code == code
        assert "content-encoding" not in response.headers


def test_cache_control_no_transform_is_respected(new_app: NewApp, serve: Serve) -> None:
    app = compressed_app(new_app)

    @app.get("/exact")
    def exact(request: qiao.Request) -> qiao.Response:
        return qiao.PlainTextResponse(TEXT, headers={"cache-control": "private, No-Transform"})

    assert "content-encoding" not in get(serve(app), "/exact").headers


def test_compression_exempt_views_are_never_compressed(new_app: NewApp, serve: Serve) -> None:
    app = compressed_app(new_app)

    @app.get("/account")
    @compression_exempt
    def account(request: qiao.Request) -> str:
        return f"<p>{request.query.get('q', '')}</p><input value='secret-token'>" + TEXT

    @compression_exempt
    class Settings(qiao.View):
        def get(self, request: qiao.Request) -> str:
            return TEXT

    app.add_route("/settings", Settings)
    client = serve(app)
    for path in ("/account?q=secret", "/settings"):
        response = get(client, path)
        assert "content-encoding" not in response.headers
        assert "vary" not in response.headers


def test_incompressible_bodies_are_sent_as_they_are(new_app: NewApp, serve: Serve) -> None:
    app = compressed_app(new_app)
    noise = os.urandom(2000)  # labelled text, but random: gzip would only make it longer

    @app.get("/noise")
    def noise_view(request: qiao.Request) -> qiao.Response:
        return qiao.Response(noise, content_type="text/plain")

    response = get(serve(app), "/noise", "gzip")
    assert "content-encoding" not in response.headers
    assert response.content == noise
    assert response.headers["vary"] == "accept-encoding"


def test_files_are_not_compressed(new_app: NewApp, serve: Serve, tmp_path: Path) -> None:
    app = compressed_app(new_app)
    page = tmp_path / "page.html"
    page.write_text(TEXT)

    @app.get("/file")
    def file(request: qiao.Request) -> qiao.Response:
        return qiao.FileResponse(page)

    response = get(serve(app), "/file")
    assert "content-encoding" not in response.headers
    assert response.text == TEXT


# -- headers -------------------------------------------------------------------------------------


def test_vary_is_appended_and_etag_weakened(new_app: NewApp, serve: Serve) -> None:
    app = compressed_app(new_app)

    @app.get("/page")
    def page(request: qiao.Request) -> qiao.Response:
        headers = {"vary": "Cookie", "etag": 'W/"weak"', "content-length": str(len(TEXT))}
        return qiao.PlainTextResponse(TEXT, headers=headers)

    @app.get("/lines/<int:listed>")
    def two_lines(request: qiao.Request, listed: int) -> qiao.Response:
        second = "Accept-Language, Accept-Encoding" if listed else "Accept-Language"
        return qiao.PlainTextResponse(TEXT, headers=[("vary", "Cookie"), ("vary", second)])

    client = serve(app)
    text = get(client, "/text")
    assert text.headers["etag"] == 'W/"v1"'
    response = get(client, "/page")
    assert response.headers["vary"] == "cookie, accept-encoding"
    assert response.headers["etag"] == 'W/"weak"'
    assert response.headers.get_list("content-length") == [str(response.num_bytes_downloaded)]
    # several Vary lines are all kept
    listed = get(client, "/lines/1").headers.get_list("vary")
    assert listed == ["Cookie", "Accept-Language, Accept-Encoding"]
    added = get(client, "/lines/0").headers.get_list("vary")
    assert added == ["Cookie", "Accept-Language", "accept-encoding"]
    identity = get(client, "/text", None)
    assert identity.headers["etag"] == '"v1"'  # the identity body keeps its strong validator


# -- streams -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/stream", "/astream"])
@pytest.mark.parametrize("accept", ["gzip", "br"])
def test_streams_arrive_compressed_and_decodable(
    new_app: NewApp, serve: Serve, path: str, accept: str
) -> None:
    response = get(serve(compressed_app(new_app)), path, accept)
    assert response.headers["content-encoding"] == accept
    assert "content-length" not in response.headers
    assert response.text == "".join(CHUNKS)
    assert response.headers["vary"] == "accept-encoding"


def test_streams_may_be_left_uncompressed(new_app: NewApp, serve: Serve) -> None:
    response = get(serve(compressed_app(new_app, streams=False)), "/stream")
    assert "content-encoding" not in response.headers
    assert response.text == "".join(CHUNKS)


def test_a_stream_with_a_small_declared_length_is_skipped(new_app: NewApp, serve: Serve) -> None:
    app = compressed_app(new_app)

    @app.get("/tiny")
    def tiny(request: qiao.Request) -> qiao.Response:
        return qiao.StreamingResponse(
            iter([b"tiny"]), headers={"content-length": "4"}, content_type="text/plain"
        )

    response = get(serve(app), "/tiny")
    assert "content-encoding" not in response.headers
    assert response.text == "tiny"


def test_each_chunk_is_flushed_as_it_is_produced(new_app: NewApp) -> None:
    app = new_app()
    Compression(app)
    produced: list[int] = []
    closed: list[bool] = []

    def events() -> Iterator[str]:
        try:
            for i, chunk in enumerate(CHUNKS):
                produced.append(i)
                yield chunk
        finally:
            closed.append(True)

    @app.get("/events")
    def stream(request: qiao.Request) -> qiao.Response:
        return qiao.StreamingResponse(events(), content_type="text/event-stream")

    client = app.test_client()
    decoders: dict[str, Callable[[bytes], bytes]] = {
        "gzip": zlib.decompressobj(31).decompress,
        "br": brotli.Decompressor().process,
    }
    for coding, decode in decoders.items():
        produced.clear()
        with client.stream("GET", "/events", headers={"accept-encoding": coding}) as response:
            raw = response.iter_raw()
            decoded = b""
            while decoded != CHUNKS[0].encode():
                data = next(raw)
                decoded += decode(data)
            assert produced == [0]  # the first event is readable before the second is made
        assert closed[-1] is True  # leaving early closed the view's generator


def test_a_stream_closed_early_closes_the_async_source(new_app: NewApp) -> None:
    app = new_app()
    Compression(app)
    closed: list[bool] = []

    async def events() -> AsyncIterator[bytes]:
        try:
            for chunk in CHUNKS:
                yield chunk.encode()
        finally:
            closed.append(True)

    @app.get("/events")
    def stream(request: qiao.Request) -> qiao.Response:
        return qiao.StreamingResponse(events(), content_type="text/event-stream")

    with app.test_client().stream("GET", "/events", headers={"accept-encoding": "gzip"}) as r:
        next(r.iter_raw())
    assert closed == [True]


# -- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"gzip_level": 0}, "COMPRESSION_GZIP_LEVEL must be a whole number from 1 to 9"),
        ({"gzip_level": 10}, "COMPRESSION_GZIP_LEVEL"),
        ({"brotli_level": 12}, "COMPRESSION_BROTLI_LEVEL must be a whole number from 0 to 11"),
        ({"min_size": -1}, "COMPRESSION_MIN_SIZE must be a whole number of at least 0"),
        ({"min_size": True}, "COMPRESSION_MIN_SIZE"),
        ({"types": "text/*"}, "COMPRESSION_TYPES must be a list of media types"),
        ({"types": ["json"]}, "COMPRESSION_TYPES must be a list of media types"),
    ],
)
def test_malformed_settings_fail_at_start_up(
    new_app: NewApp, options: dict[str, Any], message: str
) -> None:
    app = compressed_app(new_app, **options)
    with pytest.raises(qiao.ImproperlyConfigured, match=r"^qiao\.E121: ") as info:
        app.compile()
    assert message in str(info.value)


# -- real servers, real sockets, curl ------------------------------------------------------------

SERVED_APP = textwrap.dedent(
    f"""
    import asyncio

    import qiao
    from qiao.compression import Compression

    app = qiao.App(__name__, config={{"SECRET_KEY": "x"}})
    Compression(app)
    TEXT = {TEXT!r}
    CHUNKS = {CHUNKS!r}


    @app.get("/")
    def index(request):
        return qiao.PlainTextResponse(TEXT)


    @app.get("/events")
    def events(request):
        async def chunks():
            for chunk in CHUNKS:
                await asyncio.sleep(0.01)
                yield chunk

        return qiao.StreamingResponse(chunks(), content_type="text/event-stream")
    """
)

SERVERS = {
    "gunicorn": lambda port: [
        venv_bin("gunicorn"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "compressed_app:app",
    ],
    "uvicorn": lambda port: [
        venv_bin("uvicorn"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "compressed_app:app",
    ],
}


@pytest.fixture(scope="module", params=sorted(SERVERS))
def server_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The compressed app under a real WSGI (gunicorn) or ASGI (uvicorn) server."""
    folder = tmp_path_factory.mktemp("compressed")
    (folder / "compressed_app.py").write_text(SERVED_APP)
    env = server_env()
    env["PYTHONPATH"] = os.pathsep.join([str(folder), env["PYTHONPATH"]])
    port = free_port()
    with running_server(
        request.param, SERVERS[request.param](port), port, cwd=folder, env=env
    ) as server:
        yield server.url


def curl(*args: str) -> subprocess.CompletedProcess[bytes]:
    path = shutil.which("curl")
    if path is None:
        pytest.skip("curl is not installed")
    return subprocess.run([path, "-sS", *args], capture_output=True, timeout=30, check=True)


def test_curl_compressed_decodes_the_body(server_url: str) -> None:
    result = curl("--compressed", "-D", "-", server_url + "/")
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    headers = head.decode().lower()
    assert "content-encoding: br" in headers or "content-encoding: gzip" in headers
    assert "vary: accept-encoding" in headers
    assert body.decode() == TEXT


def test_curl_gets_a_gzip_stream_over_the_socket(server_url: str) -> None:
    raw = curl("-H", "Accept-Encoding: gzip", "-D", "-", server_url + "/events").stdout
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"content-encoding: gzip" in head.lower()
    assert gzip.decompress(body).decode() == "".join(CHUNKS)
    decoded = curl("--compressed", "-H", "Accept-Encoding: br", server_url + "/events").stdout
    assert decoded.decode() == "".join(CHUNKS)


def test_httpx_over_the_socket_decodes_brotli(server_url: str) -> None:
    response = httpx.get(server_url + "/", headers={"accept-encoding": "br"})
    assert response.headers["content-encoding"] == "br"
    assert response.text == TEXT


def test_head_answers_with_the_headers_of_get(new_app: NewApp, serve: Serve) -> None:
    """RFC 9110: HEAD sends the header fields GET would, without the body."""
    client = serve(compressed_app(new_app))
    head = client.head("/text", headers={"accept-encoding": "gzip"})
    got = get(client, "/text", "gzip")
    assert head.content == b""
    for name in ("content-encoding", "content-length", "vary", "etag"):
        assert head.headers[name] == got.headers[name], name
    assert head.headers["etag"] == 'W/"v1"'
