"""The demo app in a real browser: Playwright driving Debian's Chromium (headless).

A person fills in the demo's CSRF-protected guestbook form and sees the session-backed flash
message; a page on another origin that auto-submits a form to the demo is refused with 403.
Both under a real server (uvicorn, ASGI) and a real WSGI server (gunicorn).

Chromium comes from Debian (``apt-get install chromium``; ``scripts/test`` installs it when it
can). Without it these tests skip, unless ``QIAO_REQUIRE_SERVICES=1`` (CI), where they fail.
"""

from __future__ import annotations

import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests._servers import DEMO, free_port, running_server, server_env, venv_bin

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Flags for a closed network: no background connections, no first-run work.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        reason = "Debian's chromium is not installed (apt-get install chromium)"
        if os.environ.get("QIAO_REQUIRE_SERVICES") == "1":
            pytest.fail(reason + "; QIAO_REQUIRE_SERVICES=1 forbids skipping")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


SERVERS = {
    "uvicorn": lambda port: [
        venv_bin("uvicorn"),
        DEMO,
        "--port",
        str(port),
        "--no-access-log",
        "--lifespan",
        "on",
    ],
    "gunicorn": lambda port: [
        venv_bin("gunicorn"),
        DEMO,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--threads",
        "4",
    ],
}


@pytest.fixture(scope="module", params=sorted(SERVERS))
def demo_url(request: pytest.FixtureRequest) -> Iterator[str]:
    port = free_port()
    argv = SERVERS[request.param](port)
    env = server_env(QIAO_DEBUG="false", QIAO_ALLOWED_HOSTS='["127.0.0.1", "localhost"]')
    with running_server(request.param, argv, port, env=env) as server:
        yield server.url


@pytest.fixture(scope="module")
def evil_origin(demo_url: str) -> Iterator[str]:
    """Another site (``localhost`` on another port: another origin and another site) whose
    page auto-submits a form to the demo's guestbook."""
    target = demo_url + "/guestbook"
    page = f"""<!doctype html><html><body onload="document.forms[0].submit()">
<form method="post" action="{target}">
<input name="name" value="mallory"><input name="message" value="forged">
</form></body></html>""".encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_guestbook_form_with_token_shows_a_flash_message(browser: Any, demo_url: str) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(demo_url + "/guestbook")
        token = page.locator("input[name=csrfmiddlewaretoken]")
        assert len(token.get_attribute("value") or "") == 64
        page.fill("input[name=name]", "Ada")
        page.fill("textarea[name=message]", "Hello from a real browser")
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert page.url == demo_url + "/guestbook"
        assert "Thanks, Ada!" in page.locator(".flash").inner_text()
        assert "Hello from a real browser" in page.content()
        cookies = {c["name"]: c for c in context.cookies()}
        assert cookies["csrftoken"]["httpOnly"] is True
        assert cookies["csrftoken"]["sameSite"] == "Lax"
        # The flash message is shown once; the emptied session's cookie is deleted.
        page.reload()
        assert page.locator(".flash").count() == 0
        assert "session" not in {c["name"] for c in context.cookies()}
    finally:
        context.close()


def test_invalid_submission_rerenders_with_errors(browser: Any, demo_url: str) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(demo_url + "/guestbook")
        page.fill("input[name=name]", "Ada")
        # The message is required: bypass the browser's own check to reach the server's.
        page.evaluate("document.querySelector('form.guestbook').noValidate = true")
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert page.locator("input[name=name]").get_attribute("value") == "Ada"
        assert "This field is required" in page.content()
    finally:
        context.close()


def test_forged_cross_site_post_is_refused(browser: Any, demo_url: str, evil_origin: str) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(demo_url + "/guestbook")  # the victim has visited: cookies are set
        responses: list[Any] = []
        page.on(
            "response",
            lambda r: responses.append(r) if r.url.endswith("/guestbook") else None,
        )
        with page.expect_navigation(url=demo_url + "/guestbook"):
            page.goto(evil_origin + "/")
        forged = [r for r in responses if r.request.method == "POST"]
        assert forged, "the evil page did not submit its form"
        assert forged[-1].status == 403
        assert "CSRF verification failed" in page.content()
        page.goto(demo_url + "/guestbook")
        assert "forged" not in page.content()
    finally:
        context.close()
