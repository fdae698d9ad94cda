"""The public API of ``qiao.auth`` and the corners of the views and functions: lazy ``User``,
detached users, form errors, ``next`` after logout, links in reset e-mails."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest

import qiao
import qiao.auth
from qiao import ImproperlyConfigured
from qiao.auth import get_user_model, login, update_session_auth_hash
from tests.auth._support import PASSWORD, SECRET, AuthEnv, csrf_token, log_in, post_form
from tests.http._support import Serve

HTML = {"accept": "text/html"}
EXPECTED = {
    "AbstractUser",
    "AnonymousUser",
    "Argon2Hasher",
    "Auth",
    "CommonPasswordValidator",
    "Group",
    "Hasher",
    "LoginForm",
    "LoginThrottled",
    "MemoryThrottleStore",
    "MinimumLengthValidator",
    "NumericPasswordValidator",
    "PBKDF2SHA256Hasher",
    "PasswordChangeForm",
    "PasswordHashers",
    "PasswordResetForm",
    "PasswordValidator",
    "Permission",
    "RedisThrottleStore",
    "ScryptHasher",
    "SetPasswordForm",
    "SignupForm",
    "User",
    "UserAttributeSimilarityValidator",
    "aauthenticate",
    "aget_user",
    "alogin",
    "alogout",
    "authenticate",
    "check_password",
    "check_reset_token",
    "create_permissions",
    "get_user",
    "get_user_model",
    "is_password_usable",
    "is_safe_redirect",
    "login",
    "login_required",
    "logout",
    "make_password",
    "make_reset_token",
    "permission_required",
    "staff_required",
    "update_session_auth_hash",
    "validate_password",
}


def test_the_exported_names_are_exactly_the_intended_ones() -> None:
    assert set(qiao.auth.__all__) == EXPECTED
    for name in qiao.auth.__all__:
        assert getattr(qiao.auth, name) is not None
        assert getattr(qiao.auth, name).__doc__, f"{name} has no docstring"
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        qiao.auth.Nope  # noqa: B018


def test_importing_auth_does_not_define_the_default_user_table() -> None:
    code = (
        "import sys, qiao.auth\n"
        "from qiao.db import Model\n"
        "assert 'qiao.auth.models' not in sys.modules\n"
        "assert 'auth_user' not in Model.metadata.tables\n"
        "assert 'auth_group' in Model.metadata.tables\n"
        "assert qiao.auth.User.__tablename__ == 'auth_user'\n"
        "assert 'auth_user_groups' in Model.metadata.tables\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


def test_get_user_model_needs_the_battery() -> None:
    app = qiao.App(__name__, config={"SECRET_KEY": SECRET})
    with pytest.raises(ImproperlyConfigured, match=r"Auth\(app\)"):
        get_user_model(app)


def test_get_user_model_compiles_the_app(sqlite_env: AuthEnv) -> None:
    app = sqlite_env.app()
    assert get_user_model(app).__name__ == "User"


def test_logging_in_a_detached_user_merges_it(env: AuthEnv, serve: Serve) -> None:
    detached = env.user("ada")
    app = env.app(AUTH_VIEWS=False)
    from qiao.auth import alogin
    from qiao.csrf import csrf_exempt

    @app.post("/login")
    @csrf_exempt
    def sync_login(request: Any) -> str:
        login(request, detached)
        return request.user.username

    @app.post("/async/login")
    @csrf_exempt
    async def async_login(request: Any) -> str:
        await alogin(request, detached)
        return request.user.username

    @app.get("/me")
    def me(request: Any) -> str:
        return request.user.username

    for path in ("/login", "/async/login"):
        client = serve(app)
        assert client.post(path).text == "ada"
        assert client.get("/me").text == "ada"


def test_a_second_login_as_another_user_starts_a_clean_session(env: AuthEnv, serve: Serve) -> None:
    env.user("ada")
    env.user("bob")
    app = env.app()

    @app.get("/note")
    def note(request: Any) -> str:
        request.session["note"] = "ada's"
        return "ok"

    @app.get("/read")
    def read(request: Any) -> dict[str, Any]:
        return {"user": request.user.username, "note": request.session.get("note")}

    client = serve(app)
    log_in(client, "ada")
    client.get("/note")
    log_in(client, "bob")
    assert client.get("/read").json() == {"user": "bob", "note": None}
    log_in(client, "bob")  # the same user again keeps the session's data
    client.get("/note")
    log_in(client, "bob")
    assert client.get("/read").json() == {"user": "bob", "note": "ada's"}


def test_update_session_auth_hash_ignores_other_users_sessions(sqlite_env: AuthEnv) -> None:
    user = sqlite_env.user("ada")
    app = sqlite_env.app(AUTH_VIEWS=False)

    @app.get("/")
    def view(request: Any) -> dict[str, Any]:
        update_session_auth_hash(request, user)
        return dict(request.session)

    assert app.test_client().get("/").json() == {}


def test_form_errors_answer_422(sqlite_env: AuthEnv, serve: Serve) -> None:
    sqlite_env.user("ada")
    client = serve(sqlite_env.app(AUTH_ALLOW_SIGNUP=True))
    empty_login = post_form(client, "/accounts/login/", {"username": "", "password": ""})
    assert empty_login.status_code == 422
    assert "This field is required." in empty_login.text
    bad_email = post_form(client, "/accounts/password/reset/", {"email": "not-an-address"})
    assert bad_email.status_code == 422
    signup = {"username": "bob", "email": "b@example.com", "password1": "a" * 12}
    mismatch = post_form(client, "/accounts/signup/", {**signup, "password2": "b" * 12})
    assert mismatch.status_code == 422
    assert "The two password fields didn&#x27;t match." in mismatch.text
    bad_name = post_form(client, "/accounts/signup/", {**signup, "username": "bob smith"})
    assert bad_name.status_code == 422


def test_logout_follows_a_safe_next(sqlite_env: AuthEnv, serve: Serve) -> None:
    sqlite_env.user("ada")
    client = serve(sqlite_env.app(AUTH_LOGOUT_REDIRECT_URL="/bye/"))
    log_in(client)
    page = client.get("/accounts/login/", headers=HTML)
    token = csrf_token(page)
    response = client.post("/accounts/logout/", data={"csrfmiddlewaretoken": token, "next": "/x"})
    assert response.headers["location"] == "/x"
    log_in(client)
    page = client.get("/accounts/login/", headers=HTML)
    unsafe = {"csrfmiddlewaretoken": csrf_token(page), "next": "//evil.example"}
    assert client.post("/accounts/logout/", data=unsafe).headers["location"] == "/bye/"


def test_reset_links_use_the_site_url(sqlite_env: AuthEnv, serve: Serve) -> None:
    sqlite_env.user("ada")
    app = sqlite_env.app(AUTH_SITE_URL="https://example.com/")
    post_form(serve(app), "/accounts/password/reset/", {"email": "ada@example.com"})
    body = app.extensions["mail"].outbox[0].get_content()
    assert re.search(r"https://example\.com/accounts/password/reset/\S+/", body)
    assert "Hello ada," in body


def test_the_reset_confirm_page_refuses_weak_passwords(sqlite_env: AuthEnv, serve: Serve) -> None:
    sqlite_env.user("ada")
    app = sqlite_env.app()
    client = serve(app)
    post_form(client, "/accounts/password/reset/", {"email": "ada@example.com"})
    body = app.extensions["mail"].outbox[0].get_content()
    link = re.search(r"http://testserver(\S+)", body).group(1)  # type: ignore[union-attr]
    weak = post_form(client, link, {"new_password1": "ada", "new_password2": "ada"})
    assert weak.status_code == 422
    assert "too short" in weak.text
    assert client.get(link, headers=HTML).status_code == 200  # still usable
    log_in(serve(app), "ada", PASSWORD)


def test_a_reset_clears_the_login_throttle(sqlite_env: AuthEnv, serve: Serve) -> None:
    sqlite_env.user("ada")
    app = sqlite_env.app(AUTH_THROTTLE_FAILURES=2)
    client = serve(app)
    for _ in range(2):
        post_form(client, "/accounts/login/", {"username": "ada", "password": "x"})
    post_form(client, "/accounts/password/reset/", {"email": "ada@example.com"})
    body = app.extensions["mail"].outbox[0].get_content()
    link = re.search(r"http://testserver(\S+)", body).group(1)  # type: ignore[union-attr]
    new = "another-fine-passphrase"
    post_form(client, link, {"new_password1": new, "new_password2": new})
    log_in(serve(app), "ada", new)


def test_login_url_may_be_absolute(sqlite_env: AuthEnv, serve: Serve) -> None:
    from qiao.auth import login_required

    app = sqlite_env.app(AUTH_LOGIN_URL="https://id.example.com/login")

    @app.get("/private")
    @login_required
    def private(request: Any) -> str:
        return "secret"

    location = serve(app).get("/private", headers=HTML).headers["location"]
    assert location == "https://id.example.com/login?next=%2Fprivate"


def test_the_commands_are_registered(sqlite_env: AuthEnv) -> None:
    app = sqlite_env.app()
    assert {"createsuperuser", "changepassword"} <= set(app.commands)
