"""The auth views end to end: login page, password change, password reset by e-mail, sign-up,
safe ``next`` redirects, template overrides, and the start-up checks."""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path
from typing import Any

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

import qiao
from qiao import ImproperlyConfigured
from qiao.auth import Auth, is_safe_redirect
from qiao.auth._tokens import RESET_SALT
from qiao.csrf import CSRF
from qiao.db import Database
from qiao.sessions import Sessions
from qiao.signing import Signer, _Json
from qiao.templating import Templates
from tests.auth._support import PASSWORD, SECRET, AuthEnv, csrf_token, log_in, post_form
from tests.http._support import Serve

NEW = "another-fine-passphrase"
HTML = {"accept": "text/html"}


def test_login_page_has_a_csrf_token_and_posts_without_it_fail(env: AuthEnv, serve: Serve) -> None:
    env.user("ada")
    client = serve(env.app())
    page = client.get("/accounts/login/", headers=HTML)
    assert page.status_code == 200
    assert csrf_token(page)
    assert 'autocomplete="current-password"' in page.text
    assert "Forgot your password?" in page.text
    assert "Sign up" not in page.text
    refused = client.post("/accounts/login/", data={"username": "ada", "password": PASSWORD})
    assert refused.status_code == 403


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "https://evil.example/",
        "/\\evil.example",
        "/\t/evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/ /evil.example",
    ],
)
def test_open_redirects_are_refused(env: AuthEnv, serve: Serve, target: str) -> None:
    env.user("ada")
    client = serve(env.app())
    page = client.get("/accounts/login/", params={"next": target}, headers=HTML)
    assert 'name="next"' not in page.text
    response = client.post(
        "/accounts/login/",
        params={"next": target},
        data={
            "username": "ada",
            "password": PASSWORD,
            "next": target,
            "csrfmiddlewaretoken": csrf_token(page),
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_safe_local_paths_are_kept() -> None:
    assert is_safe_redirect("/dashboard?tab=1#top")
    assert is_safe_redirect("/%2F%2Fevil.example")  # an encoded slash is a path, not a host
    for unsafe in ("", None, "//x", "/\\x", "http://x", "x", "/\nx", "/\x7fx"):
        assert not is_safe_redirect(unsafe)


def test_login_redirect_setting_may_be_a_route_name(env: AuthEnv, serve: Serve) -> None:
    env.user("ada")
    app = env.app(AUTH_LOGIN_REDIRECT_URL="home")

    @app.get("/home/", name="home")
    def home(request: Any) -> str:
        return "home"

    assert log_in(serve(app)).headers["location"] == "/home/"


def test_password_change_errors_and_success(env: AuthEnv, serve: Serve) -> None:
    env.user("ada")
    client = serve(env.app())
    assert client.get("/accounts/password/change/", headers=HTML).status_code == 302
    log_in(client)
    page = client.get("/accounts/password/change/", headers=HTML)
    assert "commonly used password" in page.text  # the validators' rules are shown
    cases = [
        ({"old_password": "wrong", "new_password1": NEW, "new_password2": NEW}, "incorrectly"),
        ({"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW + "x"}, "match"),
        (
            {"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"},
            "too common",
        ),
    ]
    for data, message in cases:
        response = post_form(client, "/accounts/password/change/", data)
        assert response.status_code == 422
        assert message in response.text
    data = {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW}
    response = post_form(client, "/accounts/password/change/", data)
    assert response.status_code == 303
    assert response.headers["location"] == "/accounts/password/change/done/"
    assert "Password changed" in client.get("/accounts/password/change/done/").text
    log_in(serve(env.app()), "ada", NEW)


def reset_link(app: qiao.App) -> str:
    outbox = app.extensions["mail"].outbox
    assert len(outbox) == 1
    message = outbox[0]
    assert message["Subject"] == "Reset your password"
    assert message["To"] == "ada@example.com"
    match = re.search(
        r"http://testserver(/accounts/password/reset/[^/\s]+/)", message.get_content()
    )
    assert match is not None, message.get_content()
    return match.group(1)


def test_password_reset_does_not_reveal_accounts(env: AuthEnv, serve: Serve) -> None:
    env.user("ada")
    env.user("nopass", password=None)
    app = env.app()
    client = serve(app)
    answers = [
        post_form(client, "/accounts/password/reset/", {"email": email})
        for email in ("nobody@example.com", "nopass@example.com", "ADA@example.com")
    ]
    assert {(r.status_code, r.headers["location"]) for r in answers} == {
        (303, "/accounts/password/reset/done/")
    }
    assert len(app.extensions["mail"].outbox) == 1  # only the real, usable account
    assert "we have sent it a link" in client.get("/accounts/password/reset/done/").text


def test_password_reset_link_works_once(env: AuthEnv, serve: Serve) -> None:
    env.user("ada")
    app = env.app()
    client = serve(app)
    post_form(client, "/accounts/password/reset/", {"email": "ada@example.com"})
    link = reset_link(app)
    page = client.get(link, headers=HTML)
    assert page.status_code == 200
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    mismatch = post_form(client, link, {"new_password1": NEW, "new_password2": "nope"})
    assert mismatch.status_code == 422
    done = post_form(client, link, {"new_password1": NEW, "new_password2": NEW})
    assert done.status_code == 303
    assert done.headers["location"] == "/accounts/password/reset/complete/"
    assert "Your new password is set" in client.get(done.headers["location"]).text
    again = client.get(link, headers=HTML)
    assert again.status_code == 400
    assert "This link no longer works" in again.text
    log_in(serve(env.app()), "ada", NEW)


def test_a_login_spends_an_unused_reset_link(env: AuthEnv, serve: Serve) -> None:
    env.user("ada")
    app = env.app()
    client = serve(app)
    post_form(client, "/accounts/password/reset/", {"email": "ada@example.com"})
    link = reset_link(app)
    log_in(serve(app))
    assert client.get(link, headers=HTML).status_code == 400


def forged_token(payload: Any, timestamp: int, secret: str = SECRET) -> str:
    class OldSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return timestamp

    serializer = URLSafeTimedSerializer(
        secret,
        salt=RESET_SALT,
        serializer=_Json,
        signer=OldSigner,
        signer_kwargs={"digest_method": hashlib.sha256},
    )
    return serializer.dumps(payload)


def test_reset_links_expire_and_must_be_authentic(sqlite_env: AuthEnv, serve: Serve) -> None:
    sqlite_env.user("ada")
    app = sqlite_env.app(AUTH_PASSWORD_RESET_TIMEOUT=3600)
    client = serve(app)
    post_form(client, "/accounts/password/reset/", {"email": "ada@example.com"})
    link = reset_link(app)
    token = link.rstrip("/").rsplit("/", 1)[1]
    value = Signer.from_app(app, salt=RESET_SALT).loads(token)  # [id, state]: re-sign it
    assert value[0] == 1
    assert isinstance(value[1], str)
    old = forged_token(value, int(time.time()) - 7200)
    assert client.get(f"/accounts/password/reset/{old}/", headers=HTML).status_code == 400
    fresh = forged_token(value, int(time.time()))
    assert client.get(f"/accounts/password/reset/{fresh}/", headers=HTML).status_code == 200
    wrong_key = forged_token(value, int(time.time()), secret="other")
    assert client.get(f"/accounts/password/reset/{wrong_key}/", headers=HTML).status_code == 400
    for junk in ("x", forged_token({"u": 1}, int(time.time())), forged_token([999, "x"], 0)):
        assert client.get(f"/accounts/password/reset/{junk}/", headers=HTML).status_code == 400


def test_signup_creates_and_logs_in(env: AuthEnv, serve: Serve) -> None:
    env.user("ada")
    app = env.app(AUTH_ALLOW_SIGNUP=True)

    @app.get("/whoami")
    def whoami(request: Any) -> str:
        return request.user.username

    client = serve(app)
    assert "Sign up" in client.get("/accounts/login/", headers=HTML).text
    data = {"username": "bob", "email": "bob@example.com", "password1": NEW, "password2": NEW}
    taken = post_form(client, "/accounts/signup/", {**data, "username": "ada"})
    assert taken.status_code == 422
    assert "already exists" in taken.text
    weak = post_form(
        client, "/accounts/signup/", {**data, "password1": "bob12345", "password2": "bob12345"}
    )
    assert weak.status_code == 422
    response = post_form(client, "/accounts/signup/", data)
    assert response.status_code == 303
    assert client.get("/whoami").text == "bob"


def test_signup_is_off_by_default(sqlite_env: AuthEnv, serve: Serve) -> None:
    assert serve(sqlite_env.app()).get("/accounts/signup/").status_code == 404


def test_the_apps_own_templates_win(sqlite_env: AuthEnv, serve: Serve, tmp_path: Path) -> None:
    folder = tmp_path / "templates" / "auth"
    folder.mkdir(parents=True)
    (folder / "login.html").write_text("<p>our login</p>{% csrf_token %}{{ form }}")
    (folder / "base.html").write_text("<main class='ours'>{% block content %}{% endblock %}</main>")
    app = sqlite_env.app()
    app.template_folder = str(tmp_path / "templates")
    client = serve(app)
    assert client.get("/accounts/login/").text.startswith("<p>our login</p>")
    assert "<main class='ours'>" in client.get("/accounts/password/reset/").text


def test_the_prefix_setting(sqlite_env: AuthEnv, serve: Serve) -> None:
    client = serve(sqlite_env.app(AUTH_URL_PREFIX="/users"))
    assert client.get("/users/login/").status_code == 200
    assert client.get("/accounts/login/").status_code == 404


def test_views_can_be_turned_off(sqlite_env: AuthEnv, serve: Serve) -> None:
    app = qiao.App(__name__, config={"SECRET_KEY": SECRET, "DATABASE_URL": sqlite_env.url})
    Database(app)
    Sessions(app)
    Auth(app, views=False)
    assert serve(app).get("/accounts/login/").status_code == 404


def batteries(*names: str, **config: Any) -> qiao.App:
    app = qiao.App(__name__, config={"SECRET_KEY": SECRET, "DATABASE_URL": "sqlite://", **config})
    installers = {"db": Database, "sessions": Sessions, "csrf": CSRF, "templates": Templates}
    for name in names:
        installers[name](app)
    Auth(app)
    return app


@pytest.mark.parametrize(
    ("names", "config", "check"),
    [
        (("sessions",), {"AUTH_VIEWS": False}, "qiao.E501"),
        (("db",), {"AUTH_VIEWS": False}, "qiao.E502"),
        (("db", "sessions", "templates"), {}, "qiao.E503"),
        (("db", "sessions", "csrf"), {}, "qiao.E504"),
        (("db", "sessions", "csrf", "templates"), {}, "qiao.E505"),
    ],
)
def test_start_up_checks(names: tuple[str, ...], config: dict[str, Any], check: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=check):
        batteries(*names, **config).compile()


def test_password_reset_can_be_turned_off_without_mail() -> None:
    app = batteries("db", "sessions", "csrf", "templates", AUTH_PASSWORD_RESET=False)
    app.compile()
    client = app.test_client()
    assert client.get("/accounts/password/reset/").status_code == 404
    assert "Forgot your password?" not in client.get("/accounts/login/").text


def test_auth_is_installed_once_and_needs_its_names() -> None:
    app = batteries("db", "sessions", AUTH_VIEWS=False)
    with pytest.raises(ImproperlyConfigured, match="installed twice"):
        Auth(app)
