"""The limit under WSGI: a bare callable, no framework (dict dispatch + int() of the param)."""

import json

from apps import MESSAGE, TEXT, route_prefixes

_TEXT = TEXT.encode()
_PLAIN = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(_TEXT)))]


def _plaintext(environ, start_response):
    start_response("200 OK", _PLAIN)
    return [_TEXT]


def _json(environ, start_response):
    body = json.dumps(MESSAGE).encode()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


def _make_route(index):
    def view(environ, start_response, id):
        start_response("200 OK", _PLAIN)
        return [_TEXT]

    view.__name__ = f"route_{index}"
    return view


_STATIC = {"/plaintext": _plaintext, "/json": _json}
_DYNAMIC = {prefix: _make_route(i) for i, prefix in enumerate(route_prefixes())}


def _not_found(start_response):
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
    return [b"Not Found"]


def app(environ, start_response):
    path = environ["PATH_INFO"]
    view = _STATIC.get(path)
    if view is not None:
        return view(environ, start_response)
    prefix, _, rest = path[1:].partition("/")
    view = _DYNAMIC.get(prefix)
    if view is None or not rest.isdigit():
        return _not_found(start_response)
    return view(environ, start_response, int(rest))
