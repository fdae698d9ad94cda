"""Routing: decorators, converters, reversing, 404/405/HEAD/OPTIONS, APPEND_SLASH, conflicts."""

from __future__ import annotations

import uuid

import pytest

import qiao
from qiao.converters import Converter
from qiao.routing import Route, Router


def test_decorators_register_each_method(new_app):
    app = new_app()

    @app.route("/p", methods=["GET", "POST"])
    def both(request):
        return request.method

    for verb in ("get", "post", "put", "patch", "delete"):
        getattr(app, verb)("/v")(lambda request, verb=verb: verb)

    client = app.test_client()
    assert client.get("/p").text == "GET"
    assert client.post("/p").text == "POST"
    for verb in ("get", "post", "put", "patch", "delete"):
        assert client.request(verb.upper(), "/v").text == verb


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("/s/<name>", "/s/bob", "bob"),
        ("/s/<str:name>", "/s/caf%C3%A9", "café"),
        ("/i/<int:n>", "/i/42", 42),
        ("/f/<float:x>", "/f/2.5", 2.5),
        ("/f/<float:x>", "/f/3", 3.0),
        ("/p/<path:rest>", "/p/a/b/c.txt", "a/b/c.txt"),
        (
            "/u/<uuid:key>",
            "/u/12345678-1234-5678-1234-567812345678",
            uuid.UUID("12345678-1234-5678-1234-567812345678"),
        ),
        ("/g/<slug:slug>", "/g/hello-world_2", "hello-world_2"),
    ],
)
def test_converters_pass_converted_values(new_app, pattern, path, expected):
    app = new_app()
    seen = []

    @app.get(pattern)
    def view(request, **params):
        seen.extend(params.values())
        return "ok"

    assert app.test_client().get(path).status_code == 200
    assert seen == [expected]
    assert type(seen[0]) is type(expected)


@pytest.mark.parametrize(
    ("pattern", "path"),
    [
        ("/i/<int:n>", "/i/abc"),
        ("/i/<int:n>", "/i/-1"),
        ("/i/<int:n>", "/i/%D9%A3"),  # Arabic-Indic digit three: not ASCII
        ("/u/<uuid:key>", "/u/not-a-uuid"),
        ("/g/<slug:slug>", "/g/a%20b"),
        ("/s/<name>", "/s/"),
        ("/s/<name>", "/s/a/b"),
    ],
)
def test_converters_reject_non_matching_segments(new_app, pattern, path):
    app = new_app(APPEND_SLASH=False)
    app.add_route(pattern, lambda request, **kw: "ok")
    assert app.test_client().get(path).status_code == 404


def test_path_converter_in_the_middle(new_app):
    app = new_app()

    @app.get("/files/<path:name>/edit")
    def edit(request, name):
        return name

    assert app.test_client().get("/files/a/b/c/edit").text == "a/b/c"
    assert app.url_for("edit", name="x/y") == "/files/x/y/edit"


def test_mixed_segment_with_two_parameters(new_app):
    app = new_app()

    @app.get("/dl/<name>.<ext>")
    def download(request, name, ext):
        return f"{name}|{ext}"

    assert app.test_client().get("/dl/report.pdf").text == "report|pdf"
    assert app.url_for("download", name="a", ext="txt") == "/dl/a.txt"


def test_custom_converter_class_and_functions(new_app):
    app = new_app()

    class Hex(Converter):
        regex = "[0-9a-f]+"

        def to_python(self, value):
            return int(value, 16)

        def to_url(self, value):
            return f"{value:x}"

    app.add_converter("hex", Hex)
    app.add_converter("upper", regex="[A-Z]+", to_python=str.lower, to_url=str.upper)

    @app.get("/h/<hex:n>/<upper:word>")
    def view(request, n, word):
        return {"n": n, "word": word}

    assert app.test_client().get("/h/ff/ABC").json() == {"n": 255, "word": "abc"}
    assert app.url_for("view", n=255, word="abc") == "/h/ff/ABC"


def test_static_routes_win_over_dynamic_ones(new_app):
    app = new_app()
    app.add_route("/users/<name>", lambda request, name: f"dyn {name}", name="dyn")
    app.add_route("/users/me", lambda request: "static", name="me")
    client = app.test_client()
    assert client.get("/users/me").text == "static"
    assert client.get("/users/bob").text == "dyn bob"


def test_dynamic_routes_backtrack_to_a_later_match(new_app):
    app = new_app()
    app.add_route("/a/<int:n>/x", lambda request, n: f"int {n}", name="one")
    app.add_route("/a/<name>/y", lambda request, name: f"str {name}", name="two")
    client = app.test_client()
    assert client.get("/a/5/x").text == "int 5"
    assert client.get("/a/5/y").text == "str 5"


def test_unknown_path_is_404_and_wrong_method_is_405_with_allow(new_app):
    app = new_app()

    @app.route("/thing", methods=["GET", "PUT"])
    def thing(request):
        return "x"

    client = app.test_client()
    assert client.get("/nothing").status_code == 404
    response = client.delete("/thing")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, OPTIONS, PUT"


def test_head_runs_get_and_drops_the_body(new_app):
    app = new_app()
    calls = []

    @app.get("/h")
    def view(request):
        calls.append(request.method)
        return "twelve bytes"

    response = app.test_client().head("/h")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "12"
    assert calls == ["HEAD"]


def test_automatic_options_lists_methods_and_user_options_wins(new_app):
    app = new_app()
    app.add_route("/auto", lambda request: "x", methods=["GET", "POST"], name="auto")

    @app.route("/own", methods=["GET", "OPTIONS"])
    def own(request):
        return qiao.Response("custom", headers={"allow": "GET"})

    client = app.test_client()
    response = client.options("/auto")
    assert response.status_code == 204
    assert response.headers["allow"] == "GET, HEAD, OPTIONS, POST"
    assert client.options("/own").text == "custom"


def test_append_slash_redirects_get_with_301_and_others_with_308(new_app):
    app = new_app()
    app.add_route("/dir/", lambda request: "dir", methods=["GET", "POST"], name="dir")
    client = app.test_client()
    response = client.get("/dir?x=1")
    assert response.status_code == 301
    assert response.headers["location"] == "/dir/?x=1"
    post = client.post("/dir")
    assert post.status_code == 308
    assert post.headers["location"] == "/dir/"
    assert client.get("/dir", follow_redirects=True).text == "dir"


def test_append_slash_can_be_turned_off(new_app):
    app = new_app(APPEND_SLASH=False)
    app.add_route("/dir/", lambda request: "dir", name="dir")
    assert app.test_client().get("/dir").status_code == 404


def test_duplicate_route_is_an_error_at_startup(new_app):
    app = new_app()
    app.add_route("/x/<int:id>", lambda request, id: "a", name="a")
    app.add_route("/x/<int:other>", lambda request, other: "b", name="b")
    with pytest.raises(qiao.RouteConflict, match=r"qiao\.E002.*GET /x/<int:other>"):
        app.compile()


def test_same_pattern_with_different_methods_is_fine(new_app):
    app = new_app()
    app.add_route("/x", lambda request: "get", methods=["GET"], name="g")
    app.add_route("/x", lambda request: "post", methods=["POST"], name="p")
    client = app.test_client()
    assert client.get("/x").text == "get"
    assert client.post("/x").text == "post"


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("no-slash", "must start with '/'"),
        ("/a/<int:id", "malformed"),
        ("/a/<nope:id>", "unknown converter 'nope'"),
        ("/a/<id>/<id>", "twice"),
    ],
)
def test_malformed_patterns_fail_at_startup(new_app, pattern, message):
    app = new_app()
    app.add_route(pattern, lambda request, **kw: "x")
    with pytest.raises(qiao.ImproperlyConfigured, match=message):
        app.compile()


def test_view_that_cannot_take_its_parameters_fails_at_startup(new_app):
    app = new_app()

    @app.get("/p/<int:id>")
    def view(request):
        return "x"

    with pytest.raises(qiao.ImproperlyConfigured, match=r"qiao\.E005.*does not accept id"):
        app.compile()


def test_url_for_builds_paths_query_strings_and_quotes(new_app):
    app = new_app()

    @app.get("/u/<name>/<int:n>")
    def user(request, name, n):
        return "x"

    assert app.url_for("user", name="a b/c", n=3) == "/u/a%20b%2Fc/3"
    assert app.url_for("user", name="x", n=1, q="s", tag=["a", "b"]) == "/u/x/1?q=s&tag=a&tag=b"


def test_url_for_errors_are_clear(new_app):
    app = new_app()

    @app.get("/u/<int:n>")
    def user(request, n):
        return "x"

    with pytest.raises(qiao.BuildError, match="No route is named 'nobody'"):
        app.url_for("nobody")
    with pytest.raises(qiao.BuildError, match="needs n"):
        app.url_for("user")
    with pytest.raises(qiao.BuildError, match="non-negative int"):
        app.url_for("user", n="seven")
    with pytest.raises(qiao.BuildError, match="non-negative int"):
        app.url_for("user", n=-1)


def test_url_for_picks_the_route_whose_parameters_are_given(new_app):
    app = new_app()
    app.add_route("/page/", lambda request: "x", name="page")
    app.add_route("/page/<int:n>", lambda request, n: "x", name="page")
    assert app.url_for("page") == "/page/"
    assert app.url_for("page", n=2) == "/page/2"


def test_matching_cost_does_not_depend_on_route_count():
    """The router tree: a thousand siblings are one dictionary level, not a list scan."""
    router = Router()
    routes = [
        Route(f"/r{i}/<int:id>", lambda request, id: "x", frozenset({"GET"}), f"r{i}")
        for i in range(1000)
    ]
    router.compile(routes)
    first = router.match("/r0/1")
    last = router.match("/r999/1")
    assert first is not None
    assert last is not None
    assert first[1] == {"id": 1}
    assert last[1] == {"id": 1}
    # every route hangs off one static dictionary at the root: no linear scan
    assert len(router._root.static) == 1000
    assert router._regex == []


def test_routes_of_one_shape_may_name_their_parameters_differently(new_app):
    app = new_app()
    app.add_route("/u/<int:id>", lambda request, id: {"get": id}, methods=["GET"], name="g")
    app.add_route("/u/<int:uid>", lambda request, uid: {"post": uid}, methods=["POST"], name="p")
    client = app.test_client()
    assert client.get("/u/1").json() == {"get": 1}
    assert client.post("/u/2").json() == {"post": 2}
    assert app.url_for("p", uid=3) == "/u/3"
