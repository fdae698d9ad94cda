"""The demo app in a real browser: Playwright driving Debian's Chromium (headless).

A person fills in the demo's CSRF-protected guestbook form and sees the session-backed flash
message; a page on another origin that auto-submits a form to the demo is refused with 403.
Under a real ASGI server (uvicorn), a real WSGI server (gunicorn) and qiao's own server.

Chromium comes from Debian (``apt-get install chromium``; ``scripts/test`` installs it when it
can). Without it these tests skip, unless ``QIAO_REQUIRE_SERVICES=1`` (CI), where they fail.
"""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
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
    "qiao": lambda port: [venv_bin("qiao"), "serve", DEMO, "--port", str(port), "--no-access-log"],
}


@pytest.fixture(scope="module")
def demo_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh SQLite database for the demo, migrated with its own migrations (as
    ``./scripts/demo`` does), with a staff user made by ``qiao createsuperuser``."""
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    env = server_env(QIAO_DATABASE_URL=url, QIAO_SUPERUSER_PASSWORD="boss-password-42")
    for args in (
        ["db", "migrate"],
        ["createsuperuser", "--no-input", "--username", "boss", "--email", "boss@example.com"],
    ):
        subprocess.run(
            [venv_bin("qiao"), *args, "--app", DEMO],
            env=env,
            check=True,
            capture_output=True,
            timeout=60,
        )
    return url


@pytest.fixture(scope="module", params=sorted(SERVERS))
def demo_url(request: pytest.FixtureRequest, demo_database: str) -> Iterator[str]:
    port = free_port()
    argv = SERVERS[request.param](port)
    env = server_env(
        QIAO_DEBUG="false",
        QIAO_ALLOWED_HOSTS='["127.0.0.1", "localhost"]',
        QIAO_DATABASE_URL=demo_database,
    )
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


def _log_in(page: Any, demo_url: str, username: str, password: str) -> None:
    page.goto(demo_url + "/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("button[type=submit]")


def test_sign_up_log_in_staff_page_and_log_out(
    browser: Any, demo_url: str, request: pytest.FixtureRequest
) -> None:
    username = f"ada{abs(hash(request.node.name)) % 10_000}"
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(demo_url + "/accounts/signup/")
        page.fill("input[name=username]", username)
        page.fill("input[name=email]", f"{username}@example.com")
        page.fill("input[name=password1]", "a-long-unusual-passphrase")
        page.fill("input[name=password2]", "a-long-unusual-passphrase")
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert username in page.locator("header").inner_text()  # signed up and logged in
        # Not staff: the staff page is refused.
        response = page.goto(demo_url + "/staff")
        assert response is not None
        assert response.status == 403
        # Log out with the header's POST form (CSRF-protected), then log back in.
        page.goto(demo_url + "/")
        with page.expect_navigation():
            page.click("header button")
        assert "log in" in page.locator("header").inner_text()
        _log_in(page, demo_url, username, "a-long-unusual-passphrase")
        assert username in page.locator("header").inner_text()
    finally:
        context.close()


def test_only_staff_see_the_staff_page(browser: Any, demo_url: str) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        response = page.goto(demo_url + "/staff")
        assert response is not None
        assert "/accounts/login/" in page.url  # anonymous: sent to the login page
        _log_in(page, demo_url, "boss", "boss-password-42")
        response = page.goto(demo_url + "/staff")
        assert response is not None
        assert response.status == 200
        assert "Staff only" in page.content()
        _log_in(page, demo_url, "boss", "wrong-password")
        assert "Please enter a correct username and password" in page.content()
    finally:
        context.close()
