"""The benchmark apps: one module per framework, each with the same endpoints.

- ``GET /plaintext``: ``Hello, World!`` as ``text/plain``;
- ``GET /json``: ``{"message": "Hello, World!"}`` as ``application/json``, encoded per request;
- ``GET /r0000/<int:id>`` ... ``GET /r0999/<int:id>``: 1,000 dynamic routes, each with its own
  handler, answering ``Hello, World!`` as ``text/plain`` (first route vs last route).

Every module exposes ``app`` and builds it at import time, as a server would load it.
"""

N_ROUTES = 1000
TEXT = "Hello, World!"
MESSAGE = {"message": TEXT}


def route_prefixes() -> list[str]:
    """``["r0000", ..., "r0999"]``."""
    return [f"r{i:04d}" for i in range(N_ROUTES)]


#: module name -> (framework, interface). "bare" is the limit every ratio is taken against.
APPS: dict[str, tuple[str, str]] = {
    "bare_wsgi": ("bare", "wsgi"),
    "qiao_wsgi": ("qiao", "wsgi"),
    "falcon_wsgi": ("falcon", "wsgi"),
    "flask_app": ("flask", "wsgi"),
    "django_app": ("django", "wsgi"),
    "bare_asgi": ("bare", "asgi"),
    "qiao_asgi": ("qiao", "asgi"),
    "falcon_asgi": ("falcon", "asgi"),
    "starlette_app": ("starlette", "asgi"),
    "fastapi_app": ("fastapi", "asgi"),
    "litestar_app": ("litestar", "asgi"),
    "blacksheep_app": ("blacksheep", "asgi"),
}

#: name -> (path, expected body or JSON value, expected content-type prefix)
ENDPOINTS: dict[str, tuple[str, object, str]] = {
    "plaintext": ("/plaintext", TEXT, "text/plain"),
    "json": ("/json", MESSAGE, "application/json"),
    "route-first": ("/r0000/1", TEXT, "text/plain"),
    "route-last": ("/r0999/1", TEXT, "text/plain"),
}
