"""Django-style URLconf: path, re_path, include, namespaces."""

from __future__ import annotations

import sys
import types

import pytest

import qiao
from qiao.urls import include, path, re_path
from qiao.views import View


def year(request, year):
    return {"year": year}


def archive(request, year):
    return {"archive": year}


def positional(request, *args):
    return {"args": list(args)}


def any_method(request):
    return request.method


def test_path_and_re_path_with_prefix(new_app):
    app = new_app()
    app.add_urls(
        [
            path("articles/<int:year>/", year, name="year"),
            re_path(r"^archive/(?P<year>[0-9]{4})/$", archive, name="archive"),
            re_path(r"^pos/([a-z]+)/([0-9]+)/$", positional),
        ],
        prefix="/api",
    )
    client = app.test_client()
    assert client.get("/api/articles/2024/").json() == {"year": 2024}
    assert client.get("/api/archive/2024/").json() == {"archive": "2024"}
    assert client.get("/api/archive/24/").status_code == 404
    assert client.get("/api/pos/ab/12/").json() == {"args": ["ab", "12"]}
    assert app.url_for("year", year=1999) == "/api/articles/1999/"
    assert app.url_for("archive", year="2001") == "/api/archive/2001/"


def test_re_path_without_dollar_matches_a_prefix_like_django(new_app):
    app = new_app()
    app.add_urls([re_path(r"^static/", lambda request: "static")])
    assert app.test_client().get("/static/a/b").text == "static"


def test_urlconf_routes_take_any_method_unless_restricted(new_app):
    app = new_app()
    app.add_urls(
        [path("any/", any_method), path("get-only/", any_method, methods=["GET"], name="g")]
    )
    client = app.test_client()
    assert client.post("/any/").text == "POST"
    assert client.delete("/any/").text == "DELETE"
    assert client.post("/get-only/").status_code == 405


def test_include_with_namespaces_nested(new_app):
    inner = [path("<slug:slug>/", lambda request, slug: slug, name="detail")]
    outer = [path("posts/", include(inner, namespace="posts")), path("", any_method, name="home")]
    app = new_app()
    app.add_urls([path("blog/", include(outer, namespace="blog"))])
    client = app.test_client()
    assert client.get("/blog/posts/hi/").text == "hi"
    assert client.get("/blog/").text == "GET"
    assert app.url_for("blog:posts:detail", slug="x") == "/blog/posts/x/"
    assert app.url_for("blog:home") == "/blog/"


def test_include_a_module_by_dotted_path_uses_its_app_name(new_app, monkeypatch):
    module = types.ModuleType("shop_urls")
    module.app_name = "shop"
    module.urlpatterns = [path("items/<int:id>/", lambda request, id: {"id": id}, name="item")]
    monkeypatch.setitem(sys.modules, "shop_urls", module)
    app = new_app()
    app.add_urls([path("shop/", include("shop_urls"))])
    assert app.test_client().get("/shop/items/3/").json() == {"id": 3}
    assert app.url_for("shop:item", id=3) == "/shop/items/3/"


def test_include_of_a_module_without_urlpatterns_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "empty_urls", types.ModuleType("empty_urls"))
    with pytest.raises(qiao.ImproperlyConfigured, match="no 'urlpatterns'"):
        include("empty_urls")


def test_url_kwargs_reach_the_view(new_app):
    app = new_app()
    app.add_urls([path("feed/", lambda request, fmt: fmt, {"fmt": "rss"}, name="feed")])
    assert app.test_client().get("/feed/").text == "rss"


def test_class_based_view_in_urlconf_answers_only_its_methods(new_app):
    class Item(View):
        def get(self, request, id):
            return {"id": id}

    app = new_app()
    app.add_urls([path("items/<int:id>", Item, name="item")])
    client = app.test_client()
    assert client.get("/items/4").json() == {"id": 4}
    response = client.post("/items/4")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"


def test_reversing_a_complex_regex_is_refused_clearly(new_app):
    app = new_app()
    app.add_urls([re_path(r"^a/(?P<x>[0-9]+)(?:/b)?/$", archive, name="complex")])
    with pytest.raises(qiao.BuildError, match="too complex to reverse"):
        app.url_for("complex", x=1)


def test_re_path_cannot_mount_an_include():
    with pytest.raises(qiao.ImproperlyConfigured, match="mount includes with path"):
        re_path(r"^x/", include([]))  # type: ignore[arg-type]


def test_bad_urlconf_entry_is_a_clear_error(new_app):
    app = new_app()
    with pytest.raises(qiao.ImproperlyConfigured, match="not a path"):
        app.add_urls([("a/", any_method)])
