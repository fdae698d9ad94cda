"""``login_required``, ``permission_required`` and ``staff_required`` on sync and async view
functions and on ``qiao.View`` classes, for browsers and API clients."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

import qiao
from qiao.auth import login_required, permission_required, staff_required
from qiao.auth._models import Permission
from qiao.auth.models import User
from tests.auth._support import AuthEnv, log_in
from tests.http._support import Serve, problem

HTML = {"accept": "text/html,application/xhtml+xml"}


def guarded_app(env: AuthEnv, **config: Any) -> qiao.App:
    app = env.app(**config)

    @app.get("/sync")
    @login_required
    def sync_view(request: Any) -> str:
        return f"hello {request.user.username}"

    @app.get("/async")
    @login_required
    async def async_view(request: Any) -> str:
        return f"hello {request.user.username}"

    @app.get("/perm")
    @permission_required("auth.view_group")
    def perm_view(request: Any) -> str:
        return "allowed"

    @app.get("/async/perm")
    @permission_required("auth.view_group", "auth.add_group")
    async def async_perm_view(request: Any) -> str:
        return "allowed"

    @app.get("/staff")
    @staff_required
    def staff_view(request: Any) -> str:
        return "staff"

    @app.get("/async/staff")
    @staff_required(login_url="/elsewhere/")
    async def async_staff_view(request: Any) -> str:
        return "staff"

    @app.get("/custom")
    @login_required(login_url="/signin/")
    def custom(request: Any) -> str:
        return "custom"

    @login_required
    class Page(qiao.View):
        def get(self, request: Any) -> str:
            return "page " + request.user.username

    @permission_required("auth.view_group")
    class AsyncPage(qiao.View):
        async def get(self, request: Any) -> str:
            return "async page"

    class SubPage(Page):
        def get(self, request: Any) -> str:
            return "sub page"

    app.add_route("/page", Page)
    app.add_route("/async/page", AsyncPage)
    app.add_route("/sub", SubPage)
    return app


PATHS = ["/sync", "/async", "/perm", "/async/perm", "/staff", "/page", "/async/page", "/sub"]


@pytest.mark.parametrize("path", PATHS)
def test_browsers_are_sent_to_the_login_page(env: AuthEnv, serve: Serve, path: str) -> None:
    client = serve(guarded_app(env))
    response = client.get(path + "?x=1&y=2", headers=HTML)
    assert response.status_code == 302
    assert response.headers["location"] == "/accounts/login/?next=" + (
        path.replace("/", "%2F") + "%3Fx%3D1%26y%3D2"
    )


@pytest.mark.parametrize("path", PATHS)
def test_api_clients_get_401_json(env: AuthEnv, serve: Serve, path: str) -> None:
    response = serve(guarded_app(env)).get(path, headers={"accept": "application/json"})
    assert "log in" in problem(response, 401)
    assert response.headers["www-authenticate"] == "Session"


def test_login_url_options(env: AuthEnv, serve: Serve) -> None:
    client = serve(guarded_app(env))
    assert client.get("/custom", headers=HTML).headers["location"] == "/signin/?next=%2Fcustom"
    location = client.get("/async/staff", headers=HTML).headers["location"]
    assert location == "/elsewhere/?next=%2Fasync%2Fstaff"
    other = serve(guarded_app(env, AUTH_LOGIN_URL="/login?from=app"))
    assert other.get("/sync", headers=HTML).headers["location"] == "/login?from=app&next=%2Fsync"


def test_logged_in_users_pass_login_required(env: AuthEnv, serve: Serve) -> None:
    env.user("ada")
    client = serve(guarded_app(env))
    log_in(client)
    assert client.get("/sync").text == "hello ada"
    assert client.get("/async").text == "hello ada"
    assert client.get("/page").text == "page ada"
    assert client.get("/sub").text == "sub page"


def test_the_next_redirect_completes_the_round_trip(env: AuthEnv, serve: Serve) -> None:
    env.user("ada")
    client = serve(guarded_app(env))
    login_page = client.get("/sync", headers=HTML).headers["location"]
    page = client.get(login_page, headers=HTML)
    assert 'name="next" value="/sync"' in page.text
    from tests.auth._support import csrf_token

    response = client.post(
        login_page,
        data={"username": "ada", "password": "correct-horse-battery", "next": "/sync"},
        headers={"x-csrftoken": csrf_token(page)},
    )
    assert response.headers["location"] == "/sync"


@pytest.mark.parametrize("path", ["/perm", "/async/perm", "/staff", "/async/staff", "/async/page"])
def test_users_without_the_permission_get_403(env: AuthEnv, serve: Serve, path: str) -> None:
    env.user("ada")
    client = serve(guarded_app(env))
    log_in(client)
    assert "permission" in problem(client.get(path), 403)


def test_permissions_through_a_group_or_superuser(env: AuthEnv, serve: Serve) -> None:
    env.user("ada")
    env.user("root", is_superuser=True, is_staff=True)
    with env.session() as session:
        ada = session.scalars(select(User).where(User.username == "ada")).one()
        perms = session.scalars(
            select(Permission).where(Permission.codename.in_(["view_group", "add_group"]))
        ).all()
        ada.user_permissions.extend(perms)
    client = serve(guarded_app(env))
    log_in(client)
    for path in ("/perm", "/async/perm", "/async/page"):
        assert client.get(path).status_code == 200, path
    assert client.get("/staff").status_code == 403
    root = serve(guarded_app(env))
    log_in(root, "root")
    for path in ("/perm", "/async/perm", "/staff", "/async/staff", "/async/page"):
        assert root.get(path).status_code == 200, path


def test_permission_required_needs_names() -> None:
    with pytest.raises(TypeError, match="permission names"):
        permission_required()
    with pytest.raises(TypeError, match="permission names"):
        permission_required(lambda request: "x")  # type: ignore[arg-type]


def test_decorated_views_keep_their_marks_and_names(env: AuthEnv) -> None:
    from qiao.csrf import csrf_exempt

    @login_required
    @csrf_exempt
    def view(request: Any) -> str:
        """Docs."""
        return "x"

    assert view.__name__ == "view"
    assert view.__doc__ == "Docs."
    assert view.csrf_exempt is True  # type: ignore[attr-defined]
