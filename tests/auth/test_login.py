"""Logging in and out: the session, CSRF rotation, request.user and aget_user, hash upgrades.

Each test runs on SQLite and PostgreSQL, under WSGI and ASGI.
"""

from __future__ import annotations

from typing import Any

import pytest

from qiao.auth import (
    AnonymousUser,
    aauthenticate,
    aget_user,
    alogin,
    alogout,
    authenticate,
    login,
    logout,
)
from tests.auth._support import (
    PASSWORD,
    SECRET,
    AuthEnv,
    cookie,
    log_in,
    post_form,
    set_cookie,
)
from tests.http._support import Serve

#: Django's test vector: "lètmein" with 390,000 PBKDF2-SHA256 iterations.
DJANGO_PBKDF2 = "pbkdf2_sha256$390000$seasalt$8xBlGd3jVgvJ+92hWPxi5ww0uuAuAnKgC45eudxro7c="


def whoami_app(env: AuthEnv, **config: Any) -> Any:
    app = env.app(**config)

    @app.get("/whoami")
    def whoami(request: Any) -> dict[str, Any]:
        user = request.user
        return {"username": user.username, "authenticated": user.is_authenticated}

    @app.get("/async/whoami")
    async def async_whoami(request: Any) -> dict[str, Any]:
        user = await aget_user(request)
        assert request.user is user  # cached on request.user's slot
        return {"username": user.username, "authenticated": user.is_authenticated}

    return app


def test_anonymous_by_default(env: AuthEnv, serve: Serve) -> None:
    client = serve(whoami_app(env))
    for path in ("/whoami", "/async/whoami"):
        assert client.get(path).json() == {"username": "", "authenticated": False}


def test_login_view_logs_in_and_request_user_sees_it(env: AuthEnv, serve: Serve) -> None:
    env.user("ada")
    client = serve(whoami_app(env))
    response = log_in(client)
    assert response.headers["location"] == "/"
    for path in ("/whoami", "/async/whoami"):
        assert client.get(path).json() == {"username": "ada", "authenticated": True}
    with env.session() as session:
        from qiao.auth.models import User

        user = session.query(User).filter_by(username="ada").one()
        assert user.last_login is not None


def test_login_changes_the_session_key_and_rotates_the_csrf_secret(
    env: AuthEnv, serve: Serve
) -> None:
    env.user("ada")
    client = serve(whoami_app(env, SESSION_STORE="memory"))
    page = client.get("/accounts/login/", headers={"accept": "text/html"})
    assert page.status_code == 200
    client.get("/accounts/login/?visit=1", headers={"accept": "text/html"})
    planted_csrf = cookie(client, "csrftoken")
    assert planted_csrf
    from tests.auth._support import csrf_token

    # A session exists before login (an attacker could have planted its id).
    response = client.post(
        "/accounts/login/",
        data={"username": "ada", "password": "wrong", "csrfmiddlewaretoken": csrf_token(page)},
    )
    assert response.status_code == 422
    before = cookie(client, "session")
    log_in(client)
    after = cookie(client, "session")
    assert after
    assert after != before
    assert cookie(client, "csrftoken") != planted_csrf


def test_wrong_password_answers_422_with_a_message(env: AuthEnv, serve: Serve) -> None:
    env.user("ada")
    client = serve(whoami_app(env))
    response = post_form(client, "/accounts/login/", {"username": "ada", "password": "nope"})
    assert response.status_code == 422
    assert "Please enter a correct username and password" in response.text
    assert 'value="nope"' not in response.text  # password fields never echo
    unknown = post_form(client, "/accounts/login/", {"username": "bob", "password": "nope"})
    assert unknown.status_code == 422
    assert client.get("/whoami").json()["authenticated"] is False


def test_inactive_users_cannot_log_in(env: AuthEnv, serve: Serve) -> None:
    env.user("ada", is_active=False)
    client = serve(whoami_app(env))
    response = post_form(client, "/accounts/login/", {"username": "ada", "password": PASSWORD})
    assert response.status_code == 422


def test_a_deactivated_user_is_anonymous_on_the_next_request(env: AuthEnv, serve: Serve) -> None:
    env.user("ada")
    client = serve(whoami_app(env))
    log_in(client)
    with env.session() as session:
        from qiao.auth.models import User

        session.query(User).filter_by(username="ada").one().is_active = False
    assert client.get("/whoami").json()["authenticated"] is False


def test_logout_is_post_only_and_flushes_the_session(env: AuthEnv, serve: Serve) -> None:
    env.user("ada")
    client = serve(whoami_app(env))
    log_in(client)
    assert client.get("/accounts/logout/").status_code == 405
    response = post_form(client, "/accounts/login/", {"username": "ada", "password": PASSWORD})
    page = client.get("/accounts/login/", headers={"accept": "text/html"})
    from tests.auth._support import csrf_token

    response = client.post("/accounts/logout/", data={"csrfmiddlewaretoken": csrf_token(page)})
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert client.get("/whoami").json()["authenticated"] is False


def test_logout_without_csrf_token_is_refused(env: AuthEnv, serve: Serve) -> None:
    env.user("ada")
    client = serve(whoami_app(env))
    log_in(client)
    assert client.post("/accounts/logout/").status_code == 403
    assert client.get("/whoami").json()["authenticated"] is True


def test_changing_the_password_logs_out_other_sessions(env: AuthEnv, serve: Serve) -> None:
    env.user("ada")
    app = whoami_app(env)
    laptop, phone = serve(app), serve(app)
    log_in(laptop)
    log_in(phone)
    response = post_form(
        laptop,
        "/accounts/password/change/",
        {
            "old_password": PASSWORD,
            "new_password1": "another-fine-passphrase",
            "new_password2": "another-fine-passphrase",
        },
    )
    assert response.status_code == 303, response.text
    assert laptop.get("/whoami").json()["authenticated"] is True
    assert phone.get("/whoami").json()["authenticated"] is False


def test_a_password_changed_elsewhere_ends_the_session(env: AuthEnv, serve: Serve) -> None:
    env.user("ada")
    client = serve(whoami_app(env))
    log_in(client)
    from tests.auth._support import FAST

    with env.session() as session:
        from qiao.auth.models import User

        session.query(User).filter_by(username="ada").one().password = FAST.make("new-secret-1")
    assert client.get("/whoami").json()["authenticated"] is False
    assert client.get("/async/whoami").json()["authenticated"] is False


def test_sessions_survive_a_secret_key_rotation(env: AuthEnv, serve: Serve) -> None:
    env.user("ada")
    old = whoami_app(env)
    client = serve(old)
    log_in(client)
    rotated = whoami_app(env, SECRET_KEY="new-secret", SECRET_KEY_FALLBACKS=[SECRET])
    other = serve(rotated)
    set_cookie(other, "session", cookie(client, "session") or "")
    assert other.get("/whoami").json()["username"] == "ada"
    assert other.get("/whoami").json()["username"] == "ada"


def test_django_pbkdf2_hash_logs_in_and_is_upgraded_to_argon2(env: AuthEnv, serve: Serve) -> None:
    env.user("django", password=None)
    with env.session() as session:
        from qiao.auth.models import User

        session.query(User).filter_by(username="django").one().password = DJANGO_PBKDF2
    app = whoami_app(env)
    log_in(serve(app), "django", "lètmein")
    stored = env.password_of("django")
    assert stored.startswith("argon2$argon2id$v=19$m=8,t=1,p=1$")
    log_in(serve(app), "django", "lètmein")  # the upgraded hash works


def test_argon2_parameters_are_upgraded_on_login(env: AuthEnv, serve: Serve) -> None:
    from qiao.auth import Argon2Hasher

    env.user("ada")
    assert "m=8,t=1,p=1" in env.password_of("ada")
    stronger = [Argon2Hasher(time_cost=2, memory_cost=16, parallelism=1)]
    client = serve(whoami_app(env, AUTH_PASSWORD_HASHERS=stronger))
    log_in(client)
    assert "$m=16,t=2,p=1$" in env.password_of("ada")


def test_no_upgrade_on_a_wrong_password(env: AuthEnv, serve: Serve) -> None:
    from qiao.auth import Argon2Hasher

    env.user("ada")
    before = env.password_of("ada")
    stronger = [Argon2Hasher(time_cost=2, memory_cost=16, parallelism=1)]
    client = serve(whoami_app(env, AUTH_PASSWORD_HASHERS=stronger))
    response = post_form(client, "/accounts/login/", {"username": "ada", "password": "wrong"})
    assert response.status_code == 422
    assert env.password_of("ada") == before


def api_app(env: AuthEnv, **config: Any) -> Any:
    """JSON login endpoints built on the functions, sync and async."""
    app = whoami_app(env, AUTH_VIEWS=False, **config)
    from qiao.csrf import csrf_exempt

    @app.post("/api/login")
    @csrf_exempt
    def api_login(request: Any) -> Any:
        body = request.json()
        user = authenticate(request, username=body["username"], password=body["password"])
        if user is None:
            return {"ok": False}, 401
        login(request, user)
        return {"ok": True, "id": user.id}

    @app.post("/api/async/login")
    @csrf_exempt
    async def api_alogin(request: Any) -> Any:
        body = await request.ajson()
        user = await aauthenticate(request, username=body["username"], password=body["password"])
        if user is None:
            return {"ok": False}, 401
        await alogin(request, user)
        return {"ok": True, "id": user.id}

    @app.post("/api/logout")
    @csrf_exempt
    def api_logout(request: Any) -> Any:
        logout(request)
        return {"user": str(request.user)}

    @app.post("/api/async/logout")
    @csrf_exempt
    async def api_alogout(request: Any) -> Any:
        await alogout(request)
        return {"user": str(request.user)}

    return app


@pytest.mark.parametrize("flavour", ["", "/async"])
def test_authenticate_and_login_functions(env: AuthEnv, serve: Serve, flavour: str) -> None:
    env.user("ada")
    client = serve(api_app(env))
    bad = client.post(f"/api{flavour}/login", json={"username": "ada", "password": "x"})
    assert bad.status_code == 401
    good = client.post(f"/api{flavour}/login", json={"username": "ada", "password": PASSWORD})
    assert good.json()["ok"] is True
    assert client.get("/async/whoami").json()["username"] == "ada"
    assert client.post(f"/api{flavour}/logout").json() == {"user": "AnonymousUser"}
    assert client.get("/whoami").json()["authenticated"] is False


def test_request_user_in_an_async_view_under_asgi_says_to_use_aget_user(
    sqlite_env: AuthEnv, serve: Serve
) -> None:
    app = sqlite_env.app(AUTH_VIEWS=False, DEBUG=True)

    @app.get("/bad")
    async def bad(request: Any) -> str:
        return str(request.user)

    response = serve(app).get("/bad")
    if serve.kind == "wsgi":  # a per-thread loop: blocking there blocks nobody else
        assert response.text == "AnonymousUser"
    else:
        assert response.status_code == 500
        assert "aget_user" in response.text


def test_anonymous_user_has_nothing() -> None:
    anonymous = AnonymousUser()
    assert not anonymous.is_authenticated
    assert anonymous.is_anonymous
    assert not anonymous.has_perm("blog.add_post")
    assert not anonymous.has_perms(["blog.add_post"])
    assert anonymous.get_all_permissions() == frozenset()
    assert anonymous == AnonymousUser()
    assert anonymous.id is None
    assert repr(anonymous) == "<AnonymousUser>"


def test_a_tampered_user_id_is_anonymous(env: AuthEnv, serve: Serve) -> None:
    app = whoami_app(env, SESSION_STORE="memory", AUTH_VIEWS=False)
    from qiao.csrf import csrf_exempt

    @app.post("/forge")
    @csrf_exempt
    def forge(request: Any) -> str:
        request.session["_auth_user_id"] = "not-a-number"
        return "ok"

    client = serve(app)
    client.post("/forge")
    assert client.get("/whoami").json()["authenticated"] is False
    assert client.get("/async/whoami").json()["authenticated"] is False
