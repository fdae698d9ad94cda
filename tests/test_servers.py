"""The demo app under real servers: gunicorn, uvicorn, granian (WSGI and ASGI), hypercorn and
waitress, each a subprocess on a free port, spoken to over real sockets with httpx (and curl).

Each server starts once per module (a module-scoped fixture) and is always stopped.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests._servers import (
    DEMO,
    REPO,
    ServerProcess,
    free_port,
    running_server,
    server_env,
    venv_bin,
    wait_for,
)

DEMO_SOURCE = (REPO / "examples" / "demo" / "app.py").read_bytes()

#: argv for each server, given a port; all serve the very same app object.
SERVERS: dict[str, Callable[[int], list[str]]] = {
    "gunicorn": lambda port: [
        venv_bin("gunicorn"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--graceful-timeout",
        "5",
        DEMO,
    ],
    "uvicorn": lambda port: [
        venv_bin("uvicorn"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        DEMO,
    ],
    "granian-wsgi": lambda port: [
        venv_bin("granian"),
        "--interface",
        "wsgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        DEMO,
    ],
    "granian-asgi": lambda port: [
        venv_bin("granian"),
        "--interface",
        "asgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        DEMO,
    ],
    "hypercorn": lambda port: [venv_bin("hypercorn"), "--bind", f"127.0.0.1:{port}", DEMO],
    "qiao": lambda port: [venv_bin("qiao"), "serve", DEMO, "--port", str(port)],
    "qiao-asgi": lambda port: [
        venv_bin("qiao"),
        "serve",
        DEMO,
        "--port",
        str(port),
        "--interface",
        "asgi",
    ],
    "qiao-wsgi": lambda port: [
        venv_bin("qiao"),
        "serve",
        DEMO,
        "--port",
        str(port),
        "--interface",
        "wsgi",
    ],
    "waitress": lambda port: [venv_bin("waitress-serve"), f"--listen=127.0.0.1:{port}", DEMO],
}


@pytest.fixture(scope="module", params=list(SERVERS))
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """The demo app running under one server (started once per module, always stopped)."""
    name: str = request.param
    port = free_port()
    with running_server(name, SERVERS[name](port), port) as running:
        yield running


@pytest.fixture(scope="module")
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    """An httpx client for ``server``; redirects are not followed."""
    with httpx.Client(base_url=server.url, timeout=10.0) as client:
        yield client


@pytest.fixture(scope="module")
def csrf_token(http: httpx.Client) -> str:
    """A CSRF token from the demo's guestbook page (its cookie stays in ``http``'s jar)."""
    return _token_in(http.get("/guestbook").text)


def _token_in(page: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]{64})"', page)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


# -- the demo, on every server ---------------------------------------------------------------------
def test_home_page_is_html(http: httpx.Client) -> None:
    response = http.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>qiao 桥</h1>" in response.text
    # Compressed by the compression battery: the length is that of the bytes on the wire.
    assert int(response.headers["content-length"]) == response.num_bytes_downloaded


def test_decorator_route_answers_json(http: httpx.Client) -> None:
    response = http.get("/hello/x")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"hello": "x", "url": "/hello/x"}


def test_urlconf_route_converts_its_int_parameter(http: httpx.Client) -> None:
    response = http.get("/articles/2024/")
    assert response.status_code == 200
    assert "<h1>Articles of 2024</h1>" in response.text
    assert "<li>Bridges of Suzhou</li>" in response.text


def test_regex_route_redirects_permanently_to_the_urlconf_route(http: httpx.Client) -> None:
    response = http.get("/archive/2024/")
    assert response.status_code == 301
    assert response.headers["location"] == "/articles/2024/"


def test_blueprint_async_view_answers_json_with_blueprint_hook_state(http: httpx.Client) -> None:
    response = http.get("/blog/hello-qiao")
    assert response.status_code == 200
    assert response.json() == {"slug": "hello-qiao", "body": "qiao says hello", "section": "blog"}


def test_blueprint_not_found_uses_the_app_error_handler(http: httpx.Client) -> None:
    response = http.get("/blog/no-such-post")
    assert response.status_code == 404
    assert response.json() == {"status": 404, "detail": "No post 'no-such-post'."}


def test_streaming_response_arrives_chunked(http: httpx.Client) -> None:
    with http.stream("GET", "/blog/feed") as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        assert "content-length" not in response.headers
        assert response.headers["transfer-encoding"] == "chunked"
        body = response.read()
    assert body == b"hello-qiao\ntwo-schools\n"


def test_file_is_sent_whole_with_validators(http: httpx.Client) -> None:
    response = http.get("/source")
    assert response.status_code == 200
    assert response.content == DEMO_SOURCE
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-length"] == str(len(DEMO_SOURCE))
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"].startswith('"')
    assert response.headers["last-modified"].endswith(" GMT")


def test_file_range_request_gets_206_with_the_slice(http: httpx.Client) -> None:
    response = http.get("/source", headers={"range": "bytes=3-12"})
    assert response.status_code == 206
    assert response.content == DEMO_SOURCE[3:13]
    assert response.headers["content-range"] == f"bytes 3-12/{len(DEMO_SOURCE)}"
    assert response.headers["content-length"] == "10"


def test_file_suffix_range_gets_the_last_bytes(http: httpx.Client) -> None:
    response = http.get("/source", headers={"range": "bytes=-7"})
    assert response.status_code == 206
    assert response.content == DEMO_SOURCE[-7:]


def test_file_range_starting_past_the_end_gets_416(http: httpx.Client) -> None:
    size = len(DEMO_SOURCE)
    response = http.get("/source", headers={"range": f"bytes={size + 10}-{size + 20}"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{size}"
    assert response.content == b""


def test_file_open_ended_range_starting_past_the_end_gets_416(http: httpx.Client) -> None:
    # RFC 9110 section 14.1.1: a range whose first-pos is at or past the length is
    # unsatisfiable, whether or not it has a last-pos.
    size = len(DEMO_SOURCE)
    response = http.get("/source", headers={"range": f"bytes={size}-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{size}"
    assert response.content == b""


def test_file_matching_if_none_match_gets_304_without_body(http: httpx.Client) -> None:
    etag = http.get("/source").headers["etag"]
    response = http.get("/source", headers={"if-none-match": etag})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    assert "content-type" not in response.headers


def test_multipart_upload_is_parsed(http: httpx.Client, csrf_token: str) -> None:
    response = http.post(
        "/upload",
        data={"note": "bridges", "csrfmiddlewaretoken": csrf_token},
        files={"file": ("notes.txt", b"x" * 5000, "text/plain")},
    )
    assert response.status_code == 200
    assert response.json() == {"note": "bridges", "file": {"name": "notes.txt", "size": 5000}}


def _multipart_chunks(boundary: str, token: str) -> Iterator[bytes]:
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n'
        f"{token}\r\n"
    ).encode()
    yield f'--{boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nchunked\r\n'.encode()
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    for _ in range(4):
        yield b"y" * 1000
    yield f"\r\n--{boundary}--\r\n".encode()


def test_chunked_multipart_upload_is_parsed(http: httpx.Client, csrf_token: str) -> None:
    # A generator body makes httpx send Transfer-Encoding: chunked, without Content-Length.
    request = http.build_request(
        "POST",
        "/upload",
        content=_multipart_chunks("qiaoboundary", csrf_token),
        headers={"content-type": "multipart/form-data; boundary=qiaoboundary"},
    )
    assert request.headers["transfer-encoding"] == "chunked"
    response = http.send(request)
    assert response.status_code == 200
    assert response.json() == {"note": "chunked", "file": {"name": "a.bin", "size": 4000}}


def test_class_based_view_put_reads_json(http: httpx.Client) -> None:
    response = http.put("/api/items/1", json={"name": "paper lantern"})
    assert response.status_code == 200
    assert response.json() == {"id": 1, "name": "paper lantern"}
    assert http.get("/api/items/1").json() == {"id": 1, "name": "paper lantern"}


def test_class_based_view_put_without_json_gets_415(http: httpx.Client) -> None:
    response = http.put("/api/items/1", content=b"name=x")
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("method", ["DELETE", "POST", "PATCH"])
def test_unsupported_method_gets_405_with_allow(http: httpx.Client, method: str) -> None:
    response = http.request(method, "/api/items/1")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, OPTIONS, PUT"
    assert response.json()["status"] == 405


def test_options_lists_allowed_methods(http: httpx.Client) -> None:
    response = http.options("/api/items/1")
    assert response.status_code == 204
    assert response.headers["allow"] == "GET, HEAD, OPTIONS, PUT"
    assert response.content == b""


def test_head_sends_the_get_headers_without_a_body(http: httpx.Client) -> None:
    # /blog/ renders no CSRF token, so its length does not change from one request to the next.
    get = http.get("/blog/")
    head = http.head("/blog/")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["content-length"] == get.headers["content-length"]
    assert head.headers.get("content-encoding") == get.headers.get("content-encoding")


def test_head_of_a_file_sends_its_length_without_a_body(http: httpx.Client) -> None:
    head = http.head("/source")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(DEMO_SOURCE))


def test_unknown_path_gets_404_json_from_the_error_handler(http: httpx.Client) -> None:
    response = http.get("/no/such/page")
    assert response.status_code == 404
    assert response.json() == {"status": 404, "detail": "Not Found"}


def test_unknown_path_gets_404_html_when_the_client_asks_for_html(http: httpx.Client) -> None:
    response = http.get("/no/such/page", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text == "<h1>Not here</h1><p>Not Found</p>"


def test_missing_trailing_slash_redirects(http: httpx.Client) -> None:
    response = http.get("/articles/2024?x=1")
    assert response.status_code == 301
    assert response.headers["location"] == "/articles/2024/?x=1"


def test_after_request_hook_adds_server_timing(http: httpx.Client) -> None:
    assert http.get("/hello/t").headers["server-timing"].startswith("app;dur=")


def test_non_ascii_path_parameter_is_decoded_as_utf8(http: httpx.Client) -> None:
    response = http.get("/hello/桥")
    assert response.status_code == 200
    assert response.json()["hello"] == "桥"


# -- curl ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("server", ["gunicorn"], indirect=True)
def test_curl_uploads_a_file_and_follows_the_redirect(
    server: ServerProcess, tmp_path: Path
) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    upload = tmp_path / "bridge.txt"
    upload.write_bytes(b"stone arch\n" * 100)
    jar = tmp_path / "cookies.txt"
    page = subprocess.run(
        [curl, "-sS", "--compressed", "-c", str(jar), f"{server.url}/guestbook"],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    posted = subprocess.run(
        [
            curl,
            "-sS",
            "--fail-with-body",
            "-b",
            str(jar),
            "-F",
            f"csrfmiddlewaretoken={_token_in(page.stdout)}",
            "-F",
            "note=from curl",
            "-F",
            f"file=@{upload}",
            f"{server.url}/upload",
        ],
        capture_output=True,
        timeout=10,
        check=True,
    )
    assert json.loads(posted.stdout) == {
        "note": "from curl",
        "file": {"name": "bridge.txt", "size": 1100},
    }
    followed = subprocess.run(
        [curl, "-sS", "-L", "-w", "\n%{http_code} %{num_redirects}", f"{server.url}/archive/2025/"],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    body, _, status = followed.stdout.rpartition("\n")
    assert status == "200 1"
    assert "<h1>Articles of 2025</h1>" in body


# -- lifespan --------------------------------------------------------------------------------------
LIFESPAN_APP = textwrap.dedent(
    """
    import asyncio
    import os

    import qiao

    LOG = os.environ["LIFESPAN_LOG"]
    app = qiao.App(__name__, config={"SECRET_KEY": "lifespan-test"})


    def record(event):
        with open(LOG, "a") as log:
            log.write(f"{event} {os.getpid()}\\n")


    record("imported")


    @app.on_startup
    def sync_startup():
        record("startup-sync")


    @app.on_startup
    async def async_startup():
        await asyncio.sleep(0)
        record("startup-async")


    @app.on_shutdown
    def sync_shutdown():
        record("shutdown-sync")


    @app.on_shutdown
    async def async_shutdown():
        await asyncio.sleep(0)
        record("shutdown-async")


    @app.get("/")
    def index(request):
        return {"pid": os.getpid()}
    """
)


STARTED = ["imported", "startup-sync", "startup-async"]


def _events(log: Path) -> list[str]:
    if not log.exists():
        return []
    return [line.split()[0] for line in log.read_text().splitlines()]


def _lifespan_server(name: str, argv: list[str], port: int, tmp_path: Path) -> ServerProcess:
    (tmp_path / "lifespan_app.py").write_text(LIFESPAN_APP)
    env = server_env(LIFESPAN_LOG=str(tmp_path / "events.log"))
    return ServerProcess(name, argv, port, cwd=tmp_path, env=env)


def test_uvicorn_runs_startup_and_shutdown_hooks_through_asgi_lifespan(tmp_path: Path) -> None:
    log = tmp_path / "events.log"
    port = free_port()
    argv = [venv_bin("uvicorn"), "--host", "127.0.0.1", "--port", str(port)]
    server = _lifespan_server("uvicorn", [*argv, "lifespan_app:app"], port, tmp_path)
    try:
        # ASGI lifespan: start-up runs before the server accepts a single request.
        wait_for(lambda: len(_events(log)) >= 3, 20, "the start-up hooks under uvicorn")
        assert _events(log) == STARTED
        server.wait_until_answers()
        assert _events(log) == STARTED
        # NOTE: uvicorn re-raises SIGTERM after its graceful shut-down, so it "dies" of it.
        assert server.terminate() in (0, -signal.SIGTERM)
    finally:
        server.stop()
    assert _events(log) == [*STARTED, "shutdown-sync", "shutdown-async"]
    assert "Application shutdown complete" in server.output()


def test_gunicorn_runs_startup_hooks_at_first_request_and_shutdown_hooks_at_exit(
    tmp_path: Path,
) -> None:
    log = tmp_path / "events.log"
    port = free_port()
    argv = [venv_bin("gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1"]
    server = _lifespan_server("gunicorn", [*argv, "lifespan_app:app"], port, tmp_path)
    try:
        # WSGI has no lifespan: the worker imports the app, and start-up waits for a request.
        wait_for(lambda: _events(log) == ["imported"], 20, "gunicorn's worker to import the app")
        assert _events(log) == ["imported"]
        server.wait_until_answers()
        assert _events(log) == STARTED
        with httpx.Client(base_url=server.url, timeout=10) as client:
            pid = client.get("/").json()["pid"]
            client.get("/")
        assert _events(log) == STARTED  # once per worker, not once per request
        assert server.terminate() == 0
    finally:
        server.stop()
    assert _events(log) == [*STARTED, "shutdown-sync", "shutdown-async"]
    assert {int(line.split()[1]) for line in log.read_text().splitlines()} == {pid}
