"""Class-based views and view return values."""

from __future__ import annotations

import pytest

import qiao
from qiao.views import View


class Counter(View):
    step = 1

    def get(self, request, n):
        return {"n": n + self.step}

    def post(self, request, n):
        return {"posted": n}, 201


class AsyncThing(View):
    async def get(self, request):
        return "async get"

    async def delete(self, request):
        return qiao.Response(status=204)


def test_class_based_view_dispatches_by_method_with_init_kwargs(new_app):
    app = new_app()
    app.add_route("/c/<int:n>", Counter.as_view(step=10), name="counter")
    client = app.test_client()
    assert client.get("/c/1").json() == {"n": 11}
    response = client.post("/c/1")
    assert response.status_code == 201
    assert response.json() == {"posted": 1}
    assert client.head("/c/1").status_code == 200
    missing = client.put("/c/1")
    assert missing.status_code == 405
    assert missing.headers["allow"] == "GET, HEAD, OPTIONS, POST"


@pytest.mark.anyio
async def test_async_class_based_view_under_asgi(new_app):
    app = new_app()
    app.add_route("/a", AsyncThing)
    async with app.async_test_client() as client:
        assert (await client.get("/a")).text == "async get"
        assert (await client.delete("/a")).status_code == 204


def test_async_class_based_view_under_wsgi(new_app):
    app = new_app()
    app.add_route("/a", AsyncThing)
    assert app.test_client().get("/a").text == "async get"


def test_mixing_sync_and_async_handlers_is_refused():
    class Mixed(View):
        def get(self, request):
            return "x"

        async def post(self, request):
            return "y"

    with pytest.raises(qiao.ImproperlyConfigured, match="mixes sync and async"):
        Mixed.as_view()


def test_as_view_rejects_unknown_init_kwargs():
    with pytest.raises(qiao.ImproperlyConfigured, match="not an attribute"):
        Counter.as_view(stpe=2)


def test_decorating_a_class_registers_it(new_app):
    app = new_app()

    @app.route("/deco")
    class Deco(View):
        def get(self, request):
            return "deco"

    assert app.test_client().get("/deco").text == "deco"


@pytest.mark.parametrize(
    ("value", "status", "content_type", "body"),
    [
        ("<b>hi</b>", 200, "text/html; charset=utf-8", b"<b>hi</b>"),
        (b"\x00\x01", 200, "application/octet-stream", b"\x00\x01"),
        ({"a": 1}, 200, "application/json", b'{"a":1}'),
        ([1, 2], 200, "application/json", b"[1,2]"),
        (("created", 201), 201, "text/html; charset=utf-8", b"created"),
        (({"e": 1}, 422, {"x-a": "b"}), 422, "application/json", b'{"e":1}'),
        (qiao.PlainTextResponse("p", 202), 202, "text/plain; charset=utf-8", b"p"),
    ],
)
def test_view_return_values_become_responses(new_app, value, status, content_type, body):
    app = new_app()
    app.add_route("/r", lambda request: value, name="r")
    response = app.test_client().get("/r")
    assert response.status_code == status
    assert response.headers["content-type"] == content_type
    assert response.content == body
    if isinstance(value, tuple) and len(value) == 3:
        assert response.headers["x-a"] == "b"


@pytest.mark.parametrize("value", [None, 3.5, object()])
def test_unsendable_return_values_are_a_clear_500(new_app, caplog, value):
    app = new_app()

    def broken(request):
        return value

    app.add_route("/r", broken)
    response = app.test_client().get("/r")
    assert response.status_code == 500
    (record,) = [r for r in caplog.records if r.name == "qiao"]
    assert "broken" in str(record.exc_info[1])
    assert "Return a Response" in str(record.exc_info[1])
