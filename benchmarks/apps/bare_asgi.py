"""The limit under ASGI: a bare ASGI 3 callable, no framework (dict dispatch + int() of the
param), with a minimal lifespan."""

import json

from apps import MESSAGE, TEXT, route_prefixes

_TEXT = TEXT.encode()
_PLAIN_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(_TEXT)).encode()),
    ],
}
_PLAIN_BODY = {"type": "http.response.body", "body": _TEXT}


async def _plaintext(scope, send):
    await send(_PLAIN_START)
    await send(_PLAIN_BODY)


async def _json(scope, send):
    body = json.dumps(MESSAGE).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _make_route(index):
    async def view(scope, send, id):
        await send(_PLAIN_START)
        await send(_PLAIN_BODY)

    view.__name__ = f"route_{index}"
    return view


_STATIC = {"/plaintext": _plaintext, "/json": _json}
_DYNAMIC = {prefix: _make_route(i) for i, prefix in enumerate(route_prefixes())}


async def _lifespan(receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope, receive, send):
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
        return
    path = scope["path"]
    view = _STATIC.get(path)
    if view is not None:
        await view(scope, send)
        return
    prefix, _, rest = path[1:].partition("/")
    view = _DYNAMIC.get(prefix)
    if view is None or not rest.isdigit():
        await send(
            {
                "type": "http.response.start",
                "status": 404,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"9")],
            }
        )
        await send({"type": "http.response.body", "body": b"Not Found"})
        return
    await view(scope, send, int(rest))
