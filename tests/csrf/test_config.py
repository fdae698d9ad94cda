"""Settings, start-up checks and the secret kept in the session (``CSRF_USE_SESSIONS``); the
guide documents every reason and setting.

Mirrors Django's ``CsrfViewMiddlewareUseSessionsTests`` and ``test_no_session_on_request``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import qiao
import qiao.csrf
from qiao.csrf import (
    CSRF,
    REASON_CSRF_TOKEN_INCORRECT,
    REASON_NO_CSRF_COOKIE,
    get_token,
    rotate_token,
)
from qiao.sessions import Sessions
from tests.csrf._support import (
    MASKED_TEST_SECRET2,
    TEST_SECRET,
    NewApp,
    accepted,
    add_views,
    csrf_app,
    refused,
    send,
    set_cookie,
    vary,
)
from tests.http._support import Serve

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "csrf.md"


def session_app(new_app: NewApp, **config: object) -> qiao.App:
    app = new_app(CSRF_USE_SESSIONS=True, **config)
    Sessions(app)
    CSRF(app)
    add_views(app)

    @app.post("/login")
    def login(request: qiao.Request) -> str:
        rotate_token(request)
        return get_token(request)

    return app


# -- CSRF_USE_SESSIONS ----------------------------------------------------------------------------
def test_secret_in_the_session(new_app: NewApp, serve: Serve) -> None:
    client = serve(session_app(new_app))
    response = client.get("/token")
    assert set_cookie(response, "session") is not None
    assert set_cookie(response) is None, "no csrftoken cookie with CSRF_USE_SESSIONS"
    assert "cookie" in vary(response)
    accepted(client.post("/submit", headers={"x-csrftoken": response.text}))
    accepted(client.post("/submit", data={"csrfmiddlewaretoken": response.text}))
    again = client.get("/token")
    assert set_cookie(again, "session") is None, "the session is saved only when the secret is new"
    accepted(client.post("/submit", headers={"x-csrftoken": again.text}))


def test_with_sessions_a_csrf_cookie_is_not_a_secret(new_app: NewApp, serve: Serve) -> None:
    client = serve(session_app(new_app))
    refused(send(client, cookie=TEST_SECRET, token=MASKED_TEST_SECRET2), REASON_NO_CSRF_COOKIE)


def test_rotate_token_with_sessions(new_app: NewApp, serve: Serve) -> None:
    client = serve(session_app(new_app))
    old = client.get("/token").text
    new = client.post("/login", headers={"x-csrftoken": old})
    assert new.status_code == 200, new.text
    refused(client.post("/submit", headers={"x-csrftoken": old}), REASON_CSRF_TOKEN_INCORRECT)
    accepted(client.post("/submit", headers={"x-csrftoken": new.text}))


def test_use_sessions_without_the_sessions_battery_is_e301(new_app: NewApp) -> None:
    """Django's test_no_session_on_request, at start-up instead of on the first request."""
    app = new_app(CSRF_USE_SESSIONS=True)
    CSRF(app)
    with pytest.raises(
        qiao.ImproperlyConfigured,
        match=r"qiao\.E301.*installed before this one: qiao\.sessions\.Sessions\(app\)",
    ):
        app.compile()


def test_sessions_installed_after_csrf_is_e301(new_app: NewApp) -> None:
    app = new_app(CSRF_USE_SESSIONS=True)
    CSRF(app)
    Sessions(app)
    with pytest.raises(qiao.ImproperlyConfigured, match=r"qiao\.E301"):
        app.compile()


# -- settings -------------------------------------------------------------------------------------
def test_settings_are_added_to_the_config_without_overriding(new_app: NewApp) -> None:
    app = new_app(CSRF_COOKIE_NAME="mine")
    CSRF(app)
    assert app.config["CSRF_COOKIE_NAME"] == "mine"
    for key, default in CSRF.settings.items():
        if key != "CSRF_COOKIE_NAME":
            assert app.config[key] == default


def test_options_override_settings_for_the_instance(new_app: NewApp, serve: Serve) -> None:
    app = new_app(CSRF_HEADER_NAME="X-From-Config")
    CSRF(app, header_name="X-From-Option")
    add_views(app)
    client = serve(app)
    accepted(send(client, token=MASKED_TEST_SECRET2, header="X-From-Option"))


def test_unknown_option_is_a_type_error(new_app: NewApp) -> None:
    with pytest.raises(TypeError, match="header_nam"):
        CSRF(new_app(), header_nam="X")


def test_installed_twice_is_an_error(new_app: NewApp) -> None:
    app = new_app()
    CSRF(app)
    with pytest.raises(qiao.ImproperlyConfigured, match="installed twice"):
        CSRF(app)


def test_reasons_are_data(new_app: NewApp) -> None:
    reasons = {n: getattr(qiao.csrf, n) for n in qiao.csrf.__all__ if n.startswith("REASON_")}
    assert len(reasons) == 11
    assert len(set(reasons.values())) == len(reasons)
    assert all(isinstance(v, str) and v.endswith(".") for v in reasons.values())


# -- the guide ------------------------------------------------------------------------------------
def test_the_guide_documents_every_reason_setting_and_check() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    reasons = [n for n in qiao.csrf.__all__ if n.startswith("REASON_")]
    missing = [n for n in reasons if f"`{n}`" not in text]
    missing += [key for key in CSRF.settings if f"`{key}`" not in text]
    missing += [f for f in ("qiao.E301", "qiao.E302") if f"`{f}`" not in text]
    missing += [n for n in qiao.csrf.__all__ if not re.search(rf"\b{n}\b", text)]
    assert not missing, f"docs/csrf.md does not describe: {missing}"


def test_the_guide_lists_each_setting_with_its_default() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    for key, default in CSRF.settings.items():
        row = next((line for line in text.splitlines() if line.startswith(f"| `{key}` |")), None)
        assert row is not None, f"no settings-table row for {key}"
        shown = f'`"{default}"`' if isinstance(default, str) else f"`{default!r}`"
        assert shown in row, f"the row for {key} should show its default {shown}: {row}"


@pytest.mark.parametrize("age", [-1, "1 year", True, 1.5])
def test_bad_cookie_age_is_e303(new_app: NewApp, age: object) -> None:
    app = csrf_app(new_app, CSRF_COOKIE_AGE=age)
    with pytest.raises(qiao.ImproperlyConfigured, match=r"qiao\.E303: CSRF_COOKIE_AGE"):
        app.compile()


def test_samesite_none_with_secure_off_is_e303(new_app: NewApp) -> None:
    app = csrf_app(new_app, CSRF_COOKIE_SAMESITE="None", CSRF_COOKIE_SECURE=False)
    with pytest.raises(qiao.ImproperlyConfigured, match=r"qiao\.E303: CSRF_COOKIE_SAMESITE"):
        app.compile()


def test_custom_stateless_auth_scheme(new_app: NewApp, serve: Serve) -> None:
    client = serve(csrf_app(new_app, CSRF_STATELESS_AUTH_SCHEMES=["Bearer", "Token"]))
    assert client.post("/submit", headers={"authorization": "Token abc"}).status_code == 200
    assert client.post("/submit", headers={"authorization": "token abc"}).status_code == 200
    assert client.post("/submit", headers={"authorization": "Basic abc"}).status_code == 403
    assert client.post("/submit", headers={"authorization": ""}).status_code == 403
