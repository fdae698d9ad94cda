"""The public API is exactly what ``qiao.__all__`` says, and every name is documented."""

from __future__ import annotations

import inspect

import qiao

EXPECTED = {
    "DEFAULTS", "App", "BadRequest", "Blueprint", "BuildError", "Config", "Conflict",
    "Converter", "FileResponse", "Forbidden", "FormData", "Gone", "HTMLResponse",
    "HTTPException", "Headers", "ImproperlyConfigured", "InternalServerError", "JSONResponse",
    "MethodNotAllowed", "MultiDict", "NotAcceptable", "NotFound", "PayloadTooLarge",
    "PlainTextResponse", "RangeNotSatisfiable", "RedirectResponse", "Request",
    "RequestHeaderFieldsTooLarge", "Response", "RouteConflict", "ServiceUnavailable",
    "StreamingResponse", "TooManyRequests", "URITooLong", "Unauthorized",
    "UnprocessableEntity", "UnsupportedMediaType", "UploadFile", "View", "__version__",
    "abort", "redirect", "render", "render_to_string",
}  # fmt: skip


def test_exported_names_are_exactly_the_intended_ones():
    assert set(qiao.__all__) == EXPECTED
    for name in qiao.__all__:
        assert hasattr(qiao, name), name


def test_every_public_object_has_a_docstring():
    for name in qiao.__all__:
        obj = getattr(qiao, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"qiao.{name} has no docstring"
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and inspect.isfunction(member):
                    assert inspect.getdoc(member), f"qiao.{name}.{attr} has no docstring"


def test_importing_the_core_does_no_network_io(monkeypatch):
    """The core is sans-I/O: importing and dispatching needs no socket."""
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("the core opened a socket")

    monkeypatch.setattr(socket, "socket", refuse)
    app = qiao.App(__name__, config={"DEBUG": True})
    app.add_route("/", lambda request: "ok", name="x")
    assert app.test_client().get("/").text == "ok"
