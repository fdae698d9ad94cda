"""The templates battery, through the public API, under WSGI and ASGI (the ``serve`` fixture)."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import jinja2
import pytest

import qiao
from qiao.csrf import CSRF
from qiao.static import Static
from qiao.templating import AUTOESCAPE_EXTENSIONS, Templates, render, render_to_string
from tests.http._support import Serve

CSRF_INPUT = re.compile(r'<input type="hidden" name="csrfmiddlewaretoken" value="([^"]+)">')


@pytest.fixture(params=["wsgi", "asgi"])
def serve(request: pytest.FixtureRequest) -> Iterator[Serve]:
    """Call the app through WSGI, then (second run) through ASGI."""
    with ExitStack() as stack:
        yield Serve(request.param, stack)


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def touch_later(path: Path, text: str) -> None:
    """Rewrite ``path`` with a modification time clearly after the previous one."""
    path.write_text(text, encoding="utf-8")
    later = time.time() + 10
    os.utime(path, (later, later))


def make_app(tmp_path: Path, files: dict[str, str] | None = None, **config: Any) -> qiao.App:
    write(tmp_path, files or {})
    return qiao.App(
        __name__, config={"SECRET_KEY": "test-secret", **config}, root_path=str(tmp_path)
    )


# -- rendering ----------------------------------------------------------------------------------
def test_render_returns_html_with_the_context(tmp_path: Path, serve: Serve) -> None:
    app = make_app(tmp_path, {"templates/hello.html": "<p>Hello {{ name }}!</p>"})
    Templates(app)

    @app.get("/")
    def index(request: qiao.Request) -> qiao.Response:
        return render(request, "hello.html", name="Ada")

    response = serve(app).get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text == "<p>Hello Ada!</p>"


def test_render_sets_status_and_headers(tmp_path: Path, serve: Serve) -> None:
    app = make_app(tmp_path, {"templates/gone.html": "gone {{ what }}"})
    Templates(app)

    @app.get("/")
    def index(request: qiao.Request) -> qiao.Response:
        return render(request, "gone.html", 410, {"x-reason": "moved"}, what="away")

    response = serve(app).get("/")
    assert (response.status_code, response.text) == (410, "gone away")
    assert response.headers["x-reason"] == "moved"


def test_request_and_name_are_positional_so_any_context_name_works(
    tmp_path: Path, serve: Serve
) -> None:
    app = make_app(tmp_path, {"templates/n.html": "{{ name }}/{{ request.method }}"})
    Templates(app)

    @app.get("/")
    def index(request: qiao.Request) -> str:
        return render_to_string(request, "n.html", name="the name")

    assert serve(app).get("/").text == "the name/GET"


def test_async_view_renders(tmp_path: Path, serve: Serve) -> None:
    app = make_app(tmp_path, {"templates/a.html": "async {{ n }} {{ url_for('index') }}"})
    Templates(app)

    @app.get("/")
    async def index(request: qiao.Request) -> qiao.Response:
        return render(request, "a.html", n=1)

    assert serve(app).get("/").text == "async 1 /"


def test_a_list_of_names_renders_the_first_that_exists(tmp_path: Path, serve: Serve) -> None:
    app = make_app(tmp_path, {"templates/default.html": "default"})
    Templates(app)

    @app.get("/")
    def index(request: qiao.Request) -> qiao.Response:
        return render(request, ["custom.html", "default.html"])

    assert serve(app).get("/").text == "default"


# -- autoescaping -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "escaped"),
    [
        ("page.html", True),
        ("page.htm", True),
        ("feed.xml", True),
        ("page.jinja", True),
        ("PAGE.HTML", True),
        ("mail.txt", False),
        ("data.csv", False),
    ],
)
def test_autoescape_follows_the_template_name(
    tmp_path: Path, serve: Serve, name: str, escaped: bool
) -> None:
    app = make_app(tmp_path, {f"templates/{name}": "{{ value }}|{{ value|safe }}"})
    Templates(app)

    @app.get("/")
    def index(request: qiao.Request) -> qiao.Response:
        return render(request, name, value="<b>&")

    text = serve(app).get("/").text
    assert text == ("&lt;b&gt;&amp;|<b>&" if escaped else "<b>&|<b>&")


def test_autoescape_is_on_for_templates_made_from_strings(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    templates = Templates(app)
    assert templates.env.from_string("{{ x }}").render(x="<i>") == "&lt;i&gt;"
    assert set(AUTOESCAPE_EXTENSIONS) == {"html", "htm", "xml", "jinja"}


def test_markup_passes_unescaped(tmp_path: Path, serve: Serve) -> None:
    from markupsafe import Markup

    app = make_app(tmp_path, {"templates/m.html": "{{ trusted }} {{ untrusted }}"})
    Templates(app)

    @app.get("/")
    def index(request: qiao.Request) -> qiao.Response:
        return render(request, "m.html", trusted=Markup("<em>ok</em>"), untrusted="<em>")

    assert serve(app).get("/").text == "<em>ok</em> &lt;em&gt;"


# -- globals ------------------------------------------------------------------------------------
def test_globals_request_config_and_url_for(tmp_path: Path, serve: Serve) -> None:
    app = make_app(
        tmp_path,
        {
            "templates/g.html": (
                "{{ request.path }}|{{ request.query['q'] }}|{{ config['SITE'] }}|"
                "{{ url_for('post', id=3) }}|{{ url_for('post', id=4, page=2) }}"
            )
        },
        SITE="qiao.dev",
    )
    Templates(app)

    @app.get("/g")
    def page(request: qiao.Request) -> qiao.Response:
        return render(request, "g.html")

    @app.get("/posts/<int:id>", name="post")
    def post(request: qiao.Request, id: int) -> str:
        return str(id)

    assert serve(app).get("/g?q=x").text == "/g|x|qiao.dev|/posts/3|/posts/4?page=2"


def test_url_for_with_a_dot_is_relative_to_the_blueprint(tmp_path: Path, serve: Serve) -> None:
    app = make_app(tmp_path, {"templates/blog/index.html": "{{ url_for('.show', slug='hi') }}"})
    Templates(app)
    blog = qiao.Blueprint("blog", __name__, url_prefix="/blog")

    @blog.get("/")
    def index(request: qiao.Request) -> qiao.Response:
        return render(request, "blog/index.html")

    @blog.get("/<slug>")
    def show(request: qiao.Request, slug: str) -> str:
        return slug

    app.register_blueprint(blog)
    assert serve(app).get("/blog/").text == "/blog/hi"


def test_static_global_uses_the_static_battery(tmp_path: Path, serve: Serve) -> None:
    app = make_app(
        tmp_path,
        {"templates/s.html": "{{ static('css/app.css') }}", "static/css/app.css": "body{}"},
    )
    Templates(app)
    Static(app)

    @app.get("/")
    def index(request: qiao.Request) -> qiao.Response:
        return render(request, "s.html")

    client = serve(app)
    assert client.get("/").text == "/static/css/app.css"
    assert client.get("/static/css/app.css").text == "body{}"


def test_static_global_without_the_battery_says_what_to_install(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    templates = Templates(app)
    with pytest.raises(qiao.ImproperlyConfigured, match=r"qiao\.static\.Static\(app\)"):
        templates.env.from_string("{{ static('x.css') }}").render()


def test_filters_and_globals_can_be_added(tmp_path: Path, serve: Serve) -> None:
    app = make_app(
        tmp_path,
        {"templates/f.html": "{{ 'ab'|reverse_it }} {{ 'x'|shout }} {{ answer() }} {{ two() }}"},
    )
    templates = Templates(app)

    @templates.template_filter
    def reverse_it(value: str) -> str:
        return value[::-1]

    @templates.template_filter("shout")
    def make_loud(value: str) -> str:
        return value.upper() + "!"

    @templates.global_function
    def answer() -> int:
        return 42

    @templates.global_function("two")
    def number_two() -> int:
        return 2

    @app.get("/")
    def index(request: qiao.Request) -> qiao.Response:
        return render(request, "f.html")

    assert serve(app).get("/").text == "ba X! 42 2"
    assert templates.env.filters["shout"] is make_loud


def test_env_is_one_environment_per_app(tmp_path: Path) -> None:
    first, second = make_app(tmp_path), make_app(tmp_path)
    a, b = Templates(first), Templates(second)
    assert a.env is a.env
    assert a.env is not b.env
    assert first.extensions["templates"] is a


# -- context processors -------------------------------------------------------------------------
def test_context_processors_feed_every_render_and_lose_to_render_arguments(
    tmp_path: Path, serve: Serve
) -> None:
    app = make_app(tmp_path, {"templates/c.html": "{{ user }} {{ theme }} {{ path }}"})
    templates = Templates(app)
    seen: list[str] = []

    @templates.context_processor
    def user(request: qiao.Request) -> dict[str, Any]:
        seen.append(request.path)
        return {"user": "ada", "theme": "light", "path": request.path}

    @app.get("/")
    def index(request: qiao.Request) -> qiao.Response:
        return render(request, "c.html")

    @app.get("/dark")
    def dark(request: qiao.Request) -> qiao.Response:
        return render(request, "c.html", theme="dark")

    client = serve(app)
    assert client.get("/").text == "ada light /"
    assert client.get("/dark").text == "ada dark /dark"
    assert seen == ["/", "/dark"]


def test_a_battery_can_add_a_context_processor_when_it_configures(
    tmp_path: Path, serve: Serve
) -> None:
    """Sessions (flash messages) register from ``configure``, installed before or after."""

    class Flashes(qiao.extensions.Extension):
        name = "flashes"
        middleware = False

        def configure(self, app: qiao.App) -> None:
            templates = app.extensions.get("templates")
            if templates is not None:
                templates.context_processor(lambda request: {"messages": ["saved"]})

    app = make_app(tmp_path, {"templates/p.html": "{% for m in messages %}{{ m }}{% endfor %}"})
    Flashes(app)  # installed before the templates battery
    Templates(app)

    @app.get("/")
    def index(request: qiao.Request) -> qiao.Response:
        return render(request, "p.html")

    assert serve(app).get("/").text == "saved"


# -- folders ------------------------------------------------------------------------------------
def test_blueprint_template_folders_merge_after_the_app(tmp_path: Path, serve: Serve) -> None:
    write(
        tmp_path,
        {
            "templates/shared.html": "app wins",
            "templates/base.html": "<main>{% block body %}{% endblock %}</main>",
            "blog/templates/shared.html": "blog loses",
            "blog/templates/blog/post.html": (
                "{% extends 'base.html' %}{% block body %}post{% endblock %}"
            ),
            "blog/comments/templates/comments/list.html": "comments",
            "shop/templates/shop/cart.html": "cart",
        },
    )
    app = make_app(tmp_path)
    Templates(app)
    blog = qiao.Blueprint(
        "blog", __name__, template_folder="templates", root_path=str(tmp_path / "blog")
    )
    comments = qiao.Blueprint(
        "comments",
        __name__,
        template_folder="templates",
        root_path=str(tmp_path / "blog" / "comments"),
    )
    shop = qiao.Blueprint(
        "shop", __name__, template_folder="templates", root_path=str(tmp_path / "shop")
    )

    @app.get("/<path:name>")
    def show(request: qiao.Request, name: str) -> qiao.Response:
        return render(request, name)

    blog.register_blueprint(comments)
    app.register_blueprint(blog, url_prefix="/blog")
    app.register_blueprint(shop, url_prefix="/shop")
    client = serve(app)
    assert client.get("/shared.html").text == "app wins"
    assert client.get("/blog/post.html").text == "<main>post</main>"
    assert client.get("/comments/list.html").text == "comments"
    assert client.get("/shop/cart.html").text == "cart"
    assert app.extensions["templates"].env.loader.searchpath == [
        str(tmp_path / "templates"),
        str(tmp_path / "blog" / "templates"),
        str(tmp_path / "blog" / "comments" / "templates"),
        str(tmp_path / "shop" / "templates"),
    ]


def test_template_names_cannot_climb_out_of_the_folders(tmp_path: Path) -> None:
    write(tmp_path, {"secret.txt": "secret"})
    app = make_app(tmp_path, {"templates/x.html": "x"})
    templates = Templates(app)
    app.compile()
    with pytest.raises(jinja2.TemplateNotFound):
        templates.render_template("../secret.txt")


# -- reloading and caching ----------------------------------------------------------------------
def _page_app(tmp_path: Path, **config: Any) -> qiao.App:
    app = make_app(tmp_path, {"templates/page.html": "version 1"}, **config)

    @app.get("/")
    def index(request: qiao.Request) -> qiao.Response:
        return render(request, "page.html")

    return app


def test_debug_reloads_a_changed_template(tmp_path: Path, serve: Serve) -> None:
    app = _page_app(tmp_path, DEBUG=True)
    Templates(app)
    client = serve(app)
    assert client.get("/").text == "version 1"
    touch_later(tmp_path / "templates/page.html", "version 2")
    assert client.get("/").text == "version 2"


def test_production_caches_compiled_templates(tmp_path: Path, serve: Serve) -> None:
    app = _page_app(tmp_path)
    Templates(app)
    client = serve(app)
    assert client.get("/").text == "version 1"
    touch_later(tmp_path / "templates/page.html", "version 2")
    assert client.get("/").text == "version 1"


def test_auto_reload_option_overrides_debug(tmp_path: Path, serve: Serve) -> None:
    app = _page_app(tmp_path)
    Templates(app, auto_reload=True)
    client = serve(app)
    assert client.get("/").text == "version 1"
    touch_later(tmp_path / "templates/page.html", "version 2")
    assert client.get("/").text == "version 2"


def test_cache_size_zero_loads_on_every_render(tmp_path: Path, serve: Serve) -> None:
    app = _page_app(tmp_path, TEMPLATES_CACHE_SIZE=0)
    Templates(app)
    client = serve(app)
    assert client.get("/").text == "version 1"
    touch_later(tmp_path / "templates/page.html", "version 2")
    assert client.get("/").text == "version 2"


def test_settings_are_read_when_the_app_compiles(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    templates = Templates(app)
    env = templates.env  # created early, to add filters: settings still apply at compile
    app.config.from_mapping(DEBUG=True, TEMPLATES_CACHE_SIZE=7)
    app.compile()
    assert templates.env is env
    assert env.auto_reload is True
    assert env.cache is not None
    assert env.cache.capacity == 7


@pytest.mark.parametrize("size", [-2, "400", 1.5, True])
def test_a_bad_cache_size_fails_at_start_up(tmp_path: Path, size: Any) -> None:
    app = make_app(tmp_path, TEMPLATES_CACHE_SIZE=size)
    Templates(app)
    with pytest.raises(qiao.ImproperlyConfigured, match="TEMPLATES_CACHE_SIZE"):
        app.compile()


def test_undefined_renders_empty_unless_strict(tmp_path: Path) -> None:
    lenient = make_app(tmp_path, {"templates/u.html": "[{{ missing }}]"})
    lenient_templates = Templates(lenient)
    lenient.compile()
    assert lenient_templates.render_template("u.html") == "[]"
    strict = make_app(tmp_path)
    strict_templates = Templates(strict, strict_undefined=True)
    strict.compile()
    with pytest.raises(jinja2.UndefinedError, match="missing"):
        strict_templates.render_template("u.html")


# -- errors -------------------------------------------------------------------------------------
def test_missing_template_is_a_logged_500_in_production(
    tmp_path: Path, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(tmp_path)
    Templates(app)

    @app.get("/")
    def index(request: qiao.Request) -> qiao.Response:
        return render(request, "nope.html")

    with caplog.at_level(logging.ERROR, logger="qiao"):
        response = serve(app).get("/", headers={"accept": "text/html"})
    assert response.status_code == 500
    assert "nope.html" not in response.text  # no details outside DEBUG
    [record] = [r for r in caplog.records if r.name == "qiao"]
    assert record.exc_info is not None
    message = str(record.exc_info[1])
    assert "'nope.html' was not found" in message
    assert str(tmp_path / "templates") in message


def test_missing_template_shows_the_traceback_in_debug(
    tmp_path: Path, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(tmp_path, DEBUG=True)
    Templates(app)

    @app.get("/")
    def index(request: qiao.Request) -> qiao.Response:
        return render(request, "nope.html")

    with caplog.at_level(logging.CRITICAL, logger="qiao"):
        response = serve(app).get("/", headers={"accept": "text/html"})
    assert response.status_code == 500
    assert "TemplateNotFound" in response.text
    assert "nope.html" in response.text


def test_render_without_the_battery_says_what_to_install(
    tmp_path: Path, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(tmp_path, DEBUG=True)

    @app.get("/")
    def index(request: qiao.Request) -> qiao.Response:
        return render(request, "x.html")

    with caplog.at_level(logging.CRITICAL, logger="qiao"):
        response = serve(app).get("/")
    assert response.status_code == 500
    assert "qiao.templating.Templates(app)" in response.json()["exception"]


def test_installing_twice_is_refused(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    Templates(app)
    with pytest.raises(qiao.ImproperlyConfigured, match="installed twice"):
        Templates(app)


def test_env_needs_an_app(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="init_app"):
        _ = Templates().env


# -- rendering outside a request ----------------------------------------------------------------
def test_render_template_without_a_request(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"templates/mail.txt": "Hi {{ name }}, see {{ url_for('home') }}"})
    templates = Templates(app)

    @app.get("/home")
    def home(request: qiao.Request) -> str:
        return "home"

    @templates.context_processor
    def needs_request(request: qiao.Request) -> dict[str, Any]:
        raise AssertionError("context processors need a request; not called without one")

    assert templates.render_template("mail.txt", {"name": "Ada"}) == "Hi Ada, see /home"


# -- CSRF ---------------------------------------------------------------------------------------
FORM = """<form method="post">{% csrf_token %}<button>Go</button></form>"""


def _form_app(tmp_path: Path, *, csrf: bool = True, **config: Any) -> qiao.App:
    app = make_app(
        tmp_path,
        {"templates/form.html": FORM, "templates/token.html": "{{ csrf_token() }}"},
        **config,
    )
    Templates(app)
    if csrf:
        CSRF(app)

    @app.get("/form")
    def form(request: qiao.Request) -> qiao.Response:
        return render(request, "form.html")

    @app.get("/token")
    def token(request: qiao.Request) -> qiao.Response:
        return render(request, "token.html")

    @app.post("/form")
    def submit(request: qiao.Request) -> str:
        return "accepted"

    return app


def test_csrf_token_tag_renders_the_hidden_field_and_the_form_posts(
    tmp_path: Path, serve: Serve
) -> None:
    client = serve(_form_app(tmp_path))
    page = client.get("/form")
    assert page.status_code == 200
    match = CSRF_INPUT.search(page.text)
    assert match is not None, page.text
    assert page.text == FORM.replace("{% csrf_token %}", match.group(0))
    refused = client.post("/form", data={"csrfmiddlewaretoken": "x" * 64})
    assert refused.status_code == 403
    accepted = client.post("/form", data={"csrfmiddlewaretoken": match.group(1)})
    assert (accepted.status_code, accepted.text) == (200, "accepted")


def test_csrf_token_differs_on_every_render(tmp_path: Path, serve: Serve) -> None:
    client = serve(_form_app(tmp_path))
    first = CSRF_INPUT.search(client.get("/form").text)
    second = CSRF_INPUT.search(client.get("/form").text)
    assert first is not None
    assert second is not None
    assert first.group(1) != second.group(1)
    value = client.get("/token").text
    assert re.fullmatch(r"[A-Za-z0-9]{64}", value)
    assert client.post("/form", data={"csrfmiddlewaretoken": value}).text == "accepted"


def test_csrf_field_name_follows_the_csrf_battery(tmp_path: Path, serve: Serve) -> None:
    client = serve(_form_app(tmp_path, CSRF_FIELD_NAME="_token"))
    assert '<input type="hidden" name="_token" value="' in client.get("/form").text


@pytest.mark.parametrize("path", ["/form", "/token"])
def test_csrf_without_the_battery_says_what_to_install(
    tmp_path: Path, serve: Serve, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    app = _form_app(tmp_path, csrf=False, DEBUG=True)
    with caplog.at_level(logging.CRITICAL, logger="qiao"):
        response = serve(app).get(path)
    assert response.status_code == 500
    exception = response.json()["exception"]
    assert exception.startswith("ImproperlyConfigured")
    assert "qiao.csrf.CSRF(app)" in exception


def test_csrf_tag_without_a_request_explains(tmp_path: Path) -> None:
    app = _form_app(tmp_path)
    templates = app.extensions["templates"]
    app.compile()
    with pytest.raises(RuntimeError, match="render"):
        templates.render_template("form.html")


def test_csrf_tag_in_includes_and_macros(
    tmp_path: Path, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(
        tmp_path,
        {
            "templates/forms.html": "{% macro form() %}<form>{% csrf_token %}</form>{% endmacro %}",
            "templates/with.html": '{% import "forms.html" as f with context %}{{ f.form() }}',
            "templates/without.html": '{% import "forms.html" as f %}{{ f.form() }}',
            "templates/include.html": '<form>{% include "field.html" %}</form>',
            "templates/field.html": "{% csrf_token %}",
        },
        DEBUG=True,
    )
    Templates(app)
    CSRF(app)

    @app.get("/<name>")
    def page(request: qiao.Request, name: str) -> qiao.Response:
        return render(request, f"{name}.html")

    client = serve(app)
    for name in ("with", "include"):
        assert CSRF_INPUT.search(client.get(f"/{name}").text), name
    with caplog.at_level(logging.CRITICAL, logger="qiao"):
        response = client.get("/without")
    assert response.status_code == 500
    assert "import macros that use it 'with context'" in response.json()["exception"]


def test_flash_messages_without_the_sessions_battery_say_what_to_install(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "page.html").write_text("{{ get_flashed_messages() }}")
    app = qiao.App(__name__, config={"SECRET_KEY": "x"}, root_path=str(tmp_path))
    Templates(app)

    @app.get("/")
    def page(request: qiao.Request) -> qiao.Response:
        return render(request, "page.html")

    with caplog.at_level(logging.ERROR, logger="qiao"):
        assert app.test_client().get("/").status_code == 500
    assert "qiao.sessions.Sessions(app)" in str(caplog.records[-1].exc_info[1])
