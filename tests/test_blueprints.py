"""Blueprints: prefixes, namespaces, hooks, error handlers, nesting, double registration."""

from __future__ import annotations

import pytest

import qiao


def make_blog() -> qiao.Blueprint:
    bp = qiao.Blueprint("blog", __name__, url_prefix="/blog", template_folder="templates")

    @bp.get("/")
    def index(request):
        return request.url_for(".post", slug="first")

    @bp.get("/<slug>", name="post")
    async def post(request, slug):
        return {"slug": slug, "endpoint": request.endpoint}

    @bp.get("/boom")
    def boom(request):
        raise KeyError("boom")

    @bp.errorhandler(KeyError)
    def key_error(request, exc):
        return {"blog_error": str(exc)}, 409

    @bp.before_request
    def mark(request):
        request.state.in_blog = True

    @bp.after_request
    def header(request, response):
        response.headers["x-blog"] = "1"
        return response

    return bp


def test_blueprint_routes_prefix_namespace_and_relative_url_for(new_app):
    app = new_app()
    app.register_blueprint(make_blog())
    client = app.test_client()
    assert client.get("/blog/").text == "/blog/first"
    assert client.get("/blog/hello").json() == {"slug": "hello", "endpoint": "blog:post"}
    assert app.url_for("blog:post", slug="x") == "/blog/x"


def test_blueprint_hooks_and_error_handlers_apply_only_to_its_routes(new_app):
    app = new_app()
    app.register_blueprint(make_blog())

    @app.get("/outside")
    def outside(request):
        return {"in_blog": getattr(request.state, "in_blog", False)}

    @app.get("/outside-boom")
    def outside_boom(request):
        raise KeyError("x")

    client = app.test_client()
    blog = client.get("/blog/boom")
    assert blog.status_code == 409
    assert blog.json() == {"blog_error": "'boom'"}
    assert blog.headers["x-blog"] == "1"
    out = client.get("/outside")
    assert out.json() == {"in_blog": False}
    assert "x-blog" not in out.headers
    assert client.get("/outside-boom").status_code == 500


def test_register_one_blueprint_twice_under_two_names(new_app):
    app = new_app()
    bp = make_blog()
    app.register_blueprint(bp)
    app.register_blueprint(bp, url_prefix="/news", name="news")
    client = app.test_client()
    assert client.get("/news/").text == "/news/first"
    assert app.url_for("news:post", slug="a") == "/news/a"
    assert app.url_for("blog:post", slug="a") == "/blog/a"


def test_registering_twice_under_one_name_fails_at_startup(new_app):
    app = new_app()
    bp = make_blog()
    app.register_blueprint(bp)
    app.register_blueprint(bp, url_prefix="/other")
    with pytest.raises(qiao.ImproperlyConfigured, match=r"qiao\.E006"):
        app.compile()


def test_nested_blueprints_nest_prefix_namespace_and_hooks(new_app):
    parent = qiao.Blueprint("admin", __name__, url_prefix="/admin")
    child = qiao.Blueprint("users", __name__, url_prefix="users")
    order = []

    @parent.before_request
    def parent_hook(request):
        order.append("parent")

    @child.before_request
    def child_hook(request):
        order.append("child")

    @child.get("/<int:id>")
    def show(request, id):
        return {"id": id, "endpoint": request.endpoint}

    parent.register_blueprint(child)
    app = new_app()

    @app.before_request
    def app_hook(request):
        order.append("app")

    app.register_blueprint(parent)
    response = app.test_client().get("/admin/users/7")
    assert response.json() == {"id": 7, "endpoint": "admin:users:show"}
    assert order == ["app", "parent", "child"]
    assert app.url_for("admin:users:show", id=1) == "/admin/users/1"


def test_blueprint_folders_are_resolved_relative_to_its_module():
    bp = qiao.Blueprint("b", __name__, template_folder="templates", static_folder="static")
    assert bp.template_folder is not None
    assert bp.template_folder.endswith("tests/templates")
    assert bp.static_folder is not None
    assert bp.static_folder.endswith("tests/static")


def test_blueprint_names_may_not_contain_separators():
    with pytest.raises(ValueError, match="identifier-like"):
        qiao.Blueprint("a:b", __name__)


def test_blueprint_url_conf_mounts_under_its_prefix(new_app):
    from qiao.urls import path, re_path

    bp = qiao.Blueprint("api", __name__, url_prefix="/api")
    bp.add_urls(
        [
            path("items/<int:id>/", lambda request, id: {"id": id}, name="item"),
            re_path(r"^raw/(?P<code>[a-z]+)/$", lambda request, code: code, name="raw"),
        ]
    )
    app = new_app()
    app.register_blueprint(bp)
    client = app.test_client()
    assert client.get("/api/items/2/").json() == {"id": 2}
    assert client.get("/api/raw/abc/").text == "abc"
    assert app.url_for("api:item", id=2) == "/api/items/2/"
    assert app.url_for("api:raw", code="x") == "/api/raw/x/"


def test_changing_a_blueprint_after_the_app_compiled_is_refused(new_app):
    app = new_app()
    bp = make_blog()
    app.register_blueprint(bp)
    app.compile()
    with pytest.raises(RuntimeError, match="blueprint 'blog' after an app compiled"):
        bp.add_route("/late", lambda request: "late")
