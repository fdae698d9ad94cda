"""The extension points batteries build on: ``Extension``, ``on_configure``, blocking hooks,
hooks that return awaitables, ``request.route``, and the errors for missing batteries."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

import qiao
from qiao.extensions import Extension, blocking

NewApp = Callable[..., qiao.App]


class Stamp(Extension):
    """A tiny battery: stamps a header whose value comes from a setting."""

    name = "stamp"
    settings: ClassVar[dict[str, Any]] = {"STAMP_VALUE": "default", "STAMP_HEADER": "x-stamp"}

    def configure(self, app: qiao.App) -> None:
        self.value = self.setting("STAMP_VALUE")
        self.header = self.setting("STAMP_HEADER")

    def after_request(self, request: qiao.Request, response: qiao.Response) -> None:
        response.headers[self.header] = self.value


def _app_with_index(new_app: NewApp, **config: Any) -> qiao.App:
    app = new_app(**config)

    @app.get("/")
    def index(request: qiao.Request) -> str:
        return "ok"

    return app


def test_extension_registers_settings_without_overriding_config(new_app: NewApp) -> None:
    app = _app_with_index(new_app, STAMP_VALUE="from-config")
    battery = Stamp(app)
    assert app.extensions["stamp"] is battery
    assert app.config["STAMP_VALUE"] == "from-config"
    assert app.config["STAMP_HEADER"] == "x-stamp"
    assert app.test_client().get("/").headers["x-stamp"] == "from-config"


def test_extension_options_override_config(new_app: NewApp) -> None:
    app = _app_with_index(new_app, STAMP_VALUE="from-config")
    Stamp(app, value="from-option")
    assert app.test_client().get("/").headers["x-stamp"] == "from-option"


def test_extension_reads_config_loaded_after_install(new_app: NewApp) -> None:
    app = _app_with_index(new_app)
    Stamp(app)
    app.config.from_mapping(STAMP_VALUE="late")
    assert app.test_client().get("/").headers["x-stamp"] == "late"


def test_extension_init_app_later(new_app: NewApp) -> None:
    app = _app_with_index(new_app)
    battery = Stamp(value="v")
    assert battery.app is None
    battery.init_app(app)
    assert app.test_client().get("/").headers["x-stamp"] == "v"


def test_extension_unknown_option_names_the_known_ones() -> None:
    with pytest.raises(TypeError, match=r"unknown option\(s\) colour; known: header, value"):
        Stamp(colour="red")


def test_extension_installed_twice_is_refused(new_app: NewApp) -> None:
    app = new_app()
    Stamp(app)
    with pytest.raises(qiao.ImproperlyConfigured, match="installed twice"):
        Stamp(app)


def test_on_configure_runs_once_before_routes_compile(new_app: NewApp) -> None:
    app = new_app()
    calls: list[str] = []

    @app.on_configure
    def add_late_route(app: qiao.App) -> None:
        calls.append("configure")
        app.add_route("/late", lambda request: "late")

    client = app.test_client()
    assert client.get("/late").text == "late"
    assert client.get("/late").text == "late"
    assert calls == ["configure"]
    with pytest.raises(RuntimeError, match="after the app compiled"):
        app.on_configure(add_late_route)


def test_blocking_hook_runs_in_the_thread_pool_under_asgi(new_app: NewApp) -> None:
    app = _app_with_index(new_app)
    seen: dict[str, str] = {}

    @app.before_request
    def plain(request: qiao.Request) -> None:
        seen["plain"] = threading.current_thread().name

    @app.before_request
    @blocking
    def does_io(request: qiao.Request) -> None:
        seen["blocking"] = threading.current_thread().name

    async def call() -> None:
        async with app.async_test_client() as client:
            assert (await client.get("/")).text == "ok"

    asyncio.run(call())
    assert seen["blocking"].startswith("qiao-sync")
    assert not seen["plain"].startswith("qiao-sync")
    # Under WSGI the request owns its thread: both run inline.
    app.test_client().get("/")
    assert seen["blocking"] == seen["plain"]


@pytest.mark.parametrize("transport", ["wsgi", "asgi"])
def test_sync_hook_may_return_an_awaitable(new_app: NewApp, transport: str) -> None:
    app = new_app()

    async def read_name(request: qiao.Request) -> qiao.Response | None:
        form = await request.aform()
        if form.get("name") == "stop":
            return qiao.PlainTextResponse("stopped by hook", 409)
        request.state.name = form.get("name")
        return None

    @app.before_request
    def maybe_wait(request: qiao.Request) -> Any:
        return read_name(request) if request.method == "POST" else None

    @app.route("/", methods=["GET", "POST"])
    def index(request: qiao.Request) -> str:
        return f"hello {getattr(request.state, 'name', 'nobody')}"

    def run(method: str, **kwargs: Any) -> tuple[int, str]:
        if transport == "wsgi":
            r = app.test_client().request(method, "/", **kwargs)
            return r.status_code, r.text

        async def call() -> tuple[int, str]:
            async with app.async_test_client() as client:
                r = await client.request(method, "/", **kwargs)
                return r.status_code, r.text

        return asyncio.run(call())

    assert run("GET") == (200, "hello nobody")
    assert run("POST", data={"name": "ada"}) == (200, "hello ada")
    assert run("POST", data={"name": "stop"}) == (409, "stopped by hook")


def test_request_route_and_endpoint(new_app: NewApp) -> None:
    app = new_app()
    bp = qiao.Blueprint("shop", __name__, url_prefix="/shop")
    seen: dict[str, Any] = {}

    @bp.get("/item/<int:id>", name="item")
    def item(request: qiao.Request, id: int) -> str:
        seen["route"] = request.route
        seen["endpoint"] = request.endpoint
        return "ok"

    @app.after_request
    def after(request: qiao.Request, response: qiao.Response) -> None:
        seen.setdefault("after", []).append(request.route)

    app.register_blueprint(bp)
    client = app.test_client()
    client.get("/shop/item/3")
    assert seen["endpoint"] == "shop:item"
    assert seen["route"].view is item
    assert seen["route"].scaffolds == (bp,)
    assert client.get("/nowhere").status_code == 404
    assert seen["after"][-1] is None


def test_missing_battery_attribute_says_what_to_install(new_app: NewApp) -> None:
    app = new_app()

    @app.get("/")
    def index(request: qiao.Request) -> str:
        try:
            request.session  # noqa: B018
        except AttributeError as exc:
            return str(exc)
        return "no error"

    @app.get("/other")
    def other(request: qiao.Request) -> str:
        return str(hasattr(request, "no_such_thing"))

    client = app.test_client()
    assert "qiao.sessions.Sessions(app)" in client.get("/").text
    assert client.get("/other").text == "False"


def test_configure_can_drop_a_hook_it_does_not_need(new_app: NewApp) -> None:
    calls: list[str] = []

    class Optional(Extension):
        name = "optional"
        settings: ClassVar[dict[str, Any]] = {"OPTIONAL_ON": False}

        def configure(self, app: qiao.App) -> None:
            if not self.setting("OPTIONAL_ON"):
                self.before_request = None  # type: ignore[assignment]

        def before_request(self, request: qiao.Request) -> None:
            calls.append("before")

    off = _app_with_index(new_app)
    Optional(off)
    assert off.test_client().get("/").text == "ok"
    assert calls == []
    on = _app_with_index(new_app, OPTIONAL_ON=True)
    Optional(on)
    assert on.test_client().get("/").text == "ok"
    assert calls == ["before"]


def test_lazy_request_attribute_is_made_once_on_first_use(new_app: NewApp) -> None:
    app = new_app()
    made: list[str] = []

    def make(request: qiao.Request) -> str:
        made.append(request.path)
        return f"for {request.path}"

    app.add_request_attribute("greeting", make)

    @app.before_request
    def early(request: qiao.Request) -> None:  # registered before anything sets it
        if request.path == "/early":
            request.state.seen = request.greeting  # type: ignore[attr-defined]

    @app.get("/early")
    def early_view(request: qiao.Request) -> str:
        return request.state.seen + " / " + request.greeting  # type: ignore[attr-defined]

    @app.get("/unused")
    def unused(request: qiao.Request) -> str:
        return "none"

    client = app.test_client()
    assert client.get("/early").text == "for /early / for /early"
    assert client.get("/unused").text == "none"
    assert made == ["/early"]


def test_request_attribute_names_are_unique(new_app: NewApp) -> None:
    app = new_app()
    app.add_request_attribute("greeting", lambda request: "hi")
    with pytest.raises(ValueError, match=r"request\.greeting already exists"):
        app.add_request_attribute("greeting", lambda request: "hello")


def test_request_attribute_cannot_shadow_the_request_api(new_app: NewApp) -> None:
    with pytest.raises(ValueError, match=r"request\.headers already exists"):
        new_app().add_request_attribute("headers", lambda request: None)


def test_session_works_in_handlers_for_requests_refused_early(new_app: NewApp) -> None:
    from qiao.security import AllowedHosts
    from qiao.sessions import Sessions

    app = new_app(ALLOWED_HOSTS=["good.example"])
    AllowedHosts(app)
    Sessions(app)

    @app.errorhandler(400)
    def bad_request(request: qiao.Request, exc: qiao.HTTPException) -> tuple[str, int]:
        return f"refused; session has {len(request.session)} keys", 400

    response = app.test_client(base_url="http://evil.example").get("/")
    assert response.status_code == 400
    assert response.text == "refused; session has 0 keys"
