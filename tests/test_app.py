"""The App: dispatch under WSGI and ASGI, hooks, middleware, error handlers, lifespan, setup."""

from __future__ import annotations

import asyncio
import inspect
import threading

import pytest

import qiao


@pytest.fixture(params=["wsgi", "asgi"])
def call(request):
    """Make one request through WSGI or ASGI: ``call(app, method, url, **kwargs)``."""

    def via(app, method, url, **kwargs):
        if request.param == "wsgi":
            with app.test_client() as client:
                return client.request(method, url, **kwargs)

        async def run():
            async with app.async_test_client() as client:
                return await client.request(method, url, **kwargs)

        return asyncio.run(run())

    return via


def test_sync_and_async_views_mix_in_one_app(new_app, call):
    app = new_app()

    @app.get("/sync")
    def sync_view(request):
        return {"thread": threading.current_thread().name}

    @app.get("/async")
    async def async_view(request):
        await asyncio.sleep(0)
        return {"async": True}

    assert call(app, "GET", "/async").json() == {"async": True}
    assert "thread" in call(app, "GET", "/sync").json()


def test_sync_views_run_in_the_bounded_pool_under_asgi(new_app):
    app = new_app(THREADPOOL_WORKERS=3)

    @app.get("/t")
    def view(request):
        return threading.current_thread().name

    async def run():
        async with app.async_test_client() as client:
            return [(await client.get("/t")).text for _ in range(5)]

    names = asyncio.run(run())
    assert all(name.startswith("qiao-sync") for name in names)
    assert app.executor._max_workers == 3


class Recorder:
    """A qiao middleware with all three hooks, recording what it sees."""

    def __init__(self, name, log):
        self.name, self.log = name, log

    def before_request(self, request):
        self.log.append(f"{self.name}.before")

    def after_request(self, request, response):
        self.log.append(f"{self.name}.after")
        response.headers.add("x-trail", self.name)
        return response

    def teardown_request(self, request, exc):
        self.log.append(f"{self.name}.teardown:{type(exc).__name__ if exc else None}")


class AsyncRecorder(Recorder):
    async def before_request(self, request):
        await asyncio.sleep(0)
        self.log.append(f"{self.name}.before")

    async def after_request(self, request, response):
        self.log.append(f"{self.name}.after")
        response.headers.add("x-trail", self.name)

    async def teardown_request(self, request, exc):
        self.log.append(f"{self.name}.teardown:{type(exc).__name__ if exc else None}")


def test_middleware_and_hooks_run_in_onion_order(new_app, call):
    log: list[str] = []
    app = new_app()
    app.add_middleware(Recorder("outer", log))
    app.add_middleware(AsyncRecorder, name="inner", log=log)

    @app.before_request
    def hook(request):
        log.append("hook.before")

    @app.get("/")
    def view(request):
        log.append("view")
        return "ok"

    response = call(app, "GET", "/")
    assert response.text == "ok"
    assert log == [
        "outer.before",
        "inner.before",
        "hook.before",
        "view",
        "inner.after",
        "outer.after",
        "inner.teardown:None",
        "outer.teardown:None",
    ]
    assert response.headers.get_list("x-trail") == ["inner", "outer"]


def test_before_hook_can_answer_early(new_app, call):
    app = new_app()
    calls = []

    @app.before_request
    async def gate(request):
        if request.headers.get("x-token") != "ok":
            return qiao.JSONResponse({"error": "token"}, 401)
        return None

    @app.get("/")
    def view(request):
        calls.append(1)
        return "secret"

    assert call(app, "GET", "/").status_code == 401
    assert call(app, "GET", "/", headers={"x-token": "ok"}).text == "secret"
    assert calls == [1]


def test_after_hook_can_replace_the_response(new_app, call):
    app = new_app()

    @app.after_request
    def replace(request, response):
        return qiao.PlainTextResponse("replaced", 203)

    app.add_route("/", lambda request: "original", name="x")
    response = call(app, "GET", "/")
    assert (response.status_code, response.text) == (203, "replaced")


def test_hooks_and_middleware_see_404_and_405(new_app, call):
    app = new_app()

    @app.after_request
    def tag(request, response):
        response.headers["x-seen"] = str(response.status_code)
        return response

    app.add_route("/only-get", lambda request: "x", name="x")
    assert call(app, "GET", "/missing").headers["x-seen"] == "404"
    assert call(app, "POST", "/only-get").headers["x-seen"] == "405"


def test_teardown_receives_the_exception_even_when_handled(new_app, call):
    seen = []
    app = new_app()

    @app.teardown_request
    def teardown(request, exc):
        seen.append(type(exc).__name__ if exc else None)

    @app.errorhandler(ValueError)
    def handle(request, exc):
        return "handled", 400

    @app.get("/bad")
    def bad(request):
        raise ValueError("bad")

    @app.get("/good")
    def good(request):
        return "good"

    assert call(app, "GET", "/bad").status_code == 400
    assert call(app, "GET", "/good").status_code == 200
    assert seen == ["ValueError", None]


def test_a_failing_teardown_is_logged_not_fatal(new_app, call, caplog):
    app = new_app()

    @app.teardown_request
    def broken(request, exc):
        raise RuntimeError("teardown broke")

    app.add_route("/", lambda request: "fine", name="x")
    assert call(app, "GET", "/").text == "fine"
    assert any("teardown_request hook" in r.getMessage() for r in caplog.records)


def test_error_handlers_by_status_and_by_class_sync_and_async(new_app, call):
    app = new_app()

    @app.errorhandler(404)
    async def not_found(request, exc):
        return {"custom": exc.detail}, 404

    @app.errorhandler(LookupError)
    def lookup(request, exc):
        return f"lookup {type(exc).__name__}", 410

    @app.get("/key")
    def key(request):
        raise KeyError("k")

    @app.get("/abort")
    def aborts(request):
        qiao.abort(404, "gone fishing")

    assert call(app, "GET", "/nope").json() == {"custom": "Not Found"}
    assert call(app, "GET", "/abort").json() == {"custom": "gone fishing"}
    response = call(app, "GET", "/key")
    assert (response.status_code, response.text) == (410, "lookup KeyError")


def test_error_handler_registered_by_http_exception_class(new_app, call):
    app = new_app()
    app.register_error_handler(qiao.Forbidden, lambda request, exc: ("no", 403))
    app.add_route("/", lambda request: qiao.abort(403), name="x")
    assert call(app, "GET", "/").text == "no"


def test_an_error_handler_that_fails_gives_a_plain_500(new_app, call, caplog):
    app = new_app()

    @app.errorhandler(ValueError)
    def broken(request, exc):
        raise RuntimeError("handler broke")

    app.add_route("/", lambda request: (_ for _ in ()).throw(ValueError("v")), name="x")
    response = call(app, "GET", "/")
    assert response.status_code == 500
    assert "handler broke" not in response.text


def test_http_exceptions_render_problem_json_or_html(new_app, call):
    app = new_app()

    @app.get("/teapot")
    def teapot(request):
        raise qiao.HTTPException(418, "short and stout", {"x-pot": "1"})

    api = call(app, "GET", "/teapot", headers={"accept": "application/json"})
    assert api.status_code == 418
    assert api.headers["content-type"] == "application/problem+json"
    assert api.headers["x-pot"] == "1"
    assert api.json() == {
        "type": "about:blank",
        "title": "I'm a Teapot",
        "status": 418,
        "detail": "short and stout",
    }
    page = call(app, "GET", "/teapot", headers={"accept": "text/html,*/*"})
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>418 I&#x27;m a Teapot</h1>" in page.text or "418" in page.text
    assert "short and stout" in page.text


def test_unhandled_errors_hide_the_traceback_unless_debug(new_app, call, caplog):
    for debug in (False, True):
        app = new_app(DEBUG=debug)

        @app.get("/boom")
        def boom(request):
            raise ZeroDivisionError("secret detail")

        caplog.clear()
        response = call(app, "GET", "/boom", headers={"x-request-id": "req-123"})
        assert response.status_code == 500
        assert response.headers["x-request-id"] == "req-123"
        assert ("secret detail" in response.text) is debug
        assert ("Traceback" in response.text) is debug
        records = [r for r in caplog.records if r.name == "qiao"]
        assert len(records) == 1
        assert "req-123" in records[0].getMessage()


def test_startup_and_shutdown_hooks_under_asgi_lifespan(new_app):
    events = []
    app = new_app()

    @app.on_startup
    async def start():
        events.append("async start")

    @app.on_startup
    def start_sync():
        events.append("sync start")

    @app.on_shutdown
    def stop():
        events.append("stop")

    app.add_route("/", lambda request: "x", name="x")

    async def run():
        async with app.async_test_client() as client:
            await client.get("/")
            events.append("request")

    asyncio.run(run())
    assert events == ["async start", "sync start", "request", "stop"]


def test_startup_hooks_run_once_at_the_first_wsgi_request(new_app):
    events = []
    app = new_app()

    @app.on_startup
    async def start():
        events.append("start")

    app.add_route("/", lambda request: "x", name="x")
    client = app.test_client()
    client.get("/")
    client.get("/")
    assert events == ["start"]
    app.shutdown()


def test_missing_secret_key_fails_at_startup_with_check_id():
    app = qiao.App(__name__)
    with pytest.raises(qiao.ImproperlyConfigured, match=r"qiao\.E001: SECRET_KEY is not set"):
        app.compile()
    qiao.App(__name__, config={"DEBUG": True}).compile()  # debug needs no key


def test_setup_after_the_first_request_is_refused(new_app):
    app = new_app()
    app.add_route("/", lambda request: "x", name="x")
    app.test_client().get("/")
    with pytest.raises(RuntimeError, match="after the app compiled"):
        app.add_route("/late", lambda request: "x")
    with pytest.raises(RuntimeError, match="after the app compiled"):
        app.before_request(lambda request: None)


def test_add_middleware_rejects_objects_without_hooks(new_app):
    with pytest.raises(TypeError, match="wrap the app"):
        new_app().add_middleware(object())


def test_the_app_object_is_both_wsgi_and_asgi_3():
    app = qiao.App(__name__, config={"DEBUG": True})
    assert inspect.iscoroutinefunction(app.__call__)  # what ASGI servers ask
    assert not inspect.iscoroutinefunction(type(app).__call__)  # WSGI calls stay sync
    started = []
    body = app(
        {"REQUEST_METHOD": "GET", "PATH_INFO": "/x", "wsgi.input": None},
        lambda status, headers: started.append(status),
    )
    assert started == ["404 Not Found"]
    assert b"Not Found" in b"".join(body)


def test_request_is_passed_explicitly_with_converted_params(new_app, call):
    app = new_app()

    @app.get("/items/<int:id>")
    def item(request, id):
        assert isinstance(request, qiao.Request)
        return {"id": id, "params": dict(request.path_params), "endpoint": request.endpoint}

    assert call(app, "GET", "/items/9").json() == {
        "id": 9,
        "params": {"id": 9},
        "endpoint": "item",
    }


def test_route_defaults_are_passed_as_keyword_arguments(new_app, call):
    app = new_app()
    app.add_route("/d", lambda request, lang: lang, name="d", lang="zh")
    assert call(app, "GET", "/d").text == "zh"


def test_too_many_headers_is_431_even_for_routes_that_never_read_them(new_app, call):
    app = new_app(MAX_HEADER_COUNT=8)
    app.add_route("/", lambda request: "ok", name="x")
    assert call(app, "GET", "/").status_code == 200
    response = call(app, "GET", "/", headers={f"x-h{i}": "v" for i in range(12)})
    assert response.status_code == 431
    assert "MAX_HEADER_COUNT" in response.text


def test_handler_for_a_custom_http_exception_catches_only_that_class(new_app, call):
    class PaymentRequired(qiao.HTTPException):
        status_code = 402

    app = new_app()
    app.register_error_handler(PaymentRequired, lambda request, exc: ("pay up", 402))
    app.add_route("/custom", lambda request: (_ for _ in ()).throw(PaymentRequired()), name="c")
    app.add_route("/plain", lambda request: qiao.abort(402), name="p")
    assert call(app, "GET", "/custom").text == "pay up"
    assert call(app, "GET", "/plain").headers["content-type"] == "application/problem+json"


def test_startup_hooks_do_not_run_twice_when_both_interfaces_start_the_app(new_app):
    events = []
    app = new_app()
    app.on_startup(lambda: events.append("start"))
    app.add_route("/", lambda request: "x", name="x")
    app.test_client().get("/")

    async def run():
        async with app.async_test_client() as client:
            await client.get("/")

    asyncio.run(run())
    assert events == ["start"]
