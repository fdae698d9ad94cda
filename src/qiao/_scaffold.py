"""What ``App`` and ``Blueprint`` share: route decorators, hooks, middleware, error handlers."""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from qiao.http.exceptions import _BY_STATUS

__all__ = ["Layer", "RouteRecord", "Scaffold"]

F = TypeVar("F", bound=Callable[..., Any])
ErrorKey = type[BaseException] | int


@dataclass(slots=True)
class Layer:
    """One middleware layer: any of the three hooks, each sync or async.

    ``before(request)`` may return a response to answer early; ``after(request, response)`` may
    return a replacement response (or None to keep it); ``teardown(request, exc)`` always runs.
    """

    before: Callable[..., Any] | None = None
    after: Callable[..., Any] | None = None
    teardown: Callable[..., Any] | None = None
    #: the middleware object, whose hooks are looked up again when the app compiles (so a
    #: battery's ``configure`` can drop a hook it does not need: ``self.before_request = None``)
    source: Any = None

    def resolved(self) -> Layer:
        """This layer with its hooks as they are now on ``source``."""
        if self.source is None:
            return self
        return Layer(
            getattr(self.source, "before_request", None),
            getattr(self.source, "after_request", None),
            getattr(self.source, "teardown_request", None),
        )


@dataclass(slots=True)
class RouteRecord:
    """A route as declared, before prefixes and namespaces are applied."""

    pattern: str
    view: Callable[..., Any]
    methods: frozenset[str] | None
    name: str | None
    is_regex: bool = False
    defaults: dict[str, Any] = field(default_factory=dict)
    location: str = ""
    #: for regex routes: the literal path the regex continues from (the URLconf's prefix)
    regex_prefix: str = ""


def _location(view: Callable[..., Any]) -> str:
    code = getattr(inspect.unwrap(view), "__code__", None)
    if code is None:
        return "<unknown>"
    path = code.co_filename
    with contextlib.suppress(ValueError):
        path = os.path.relpath(path)
    return f"{path}:{code.co_firstlineno}"


def _root_path(import_name: str) -> str:
    module = sys.modules.get(import_name)
    file = getattr(module, "__file__", None)
    if file is None:
        try:
            spec = importlib.util.find_spec(import_name)
        except (ImportError, ValueError):
            spec = None
        file = spec.origin if spec is not None else None
    if file is None or file in ("built-in", "frozen"):
        return os.getcwd()
    return os.path.dirname(os.path.abspath(file))


def _methods(methods: Iterable[str] | None, view: Callable[..., Any]) -> frozenset[str] | None:
    if methods is None:
        declared = getattr(view, "methods", None)
        return frozenset(declared) if declared else frozenset({"GET"})
    if isinstance(methods, str):
        raise TypeError(f"methods must be a list of strings, not the string {methods!r}.")
    return frozenset(m.upper() for m in methods)


class Scaffold:
    """Routes, hooks, middleware and error handlers, shared by ``App`` and ``Blueprint``."""

    def __init__(
        self,
        import_name: str,
        *,
        root_path: str | None = None,
        template_folder: str | None = None,
        static_folder: str | None = None,
        static_url_path: str | None = None,
    ) -> None:
        self.import_name = import_name
        self.root_path = root_path or _root_path(import_name)
        self.template_folder = (
            os.path.join(self.root_path, template_folder) if template_folder else None
        )
        self.static_folder = os.path.join(self.root_path, static_folder) if static_folder else None
        self.static_url_path = static_url_path
        self.records: list[RouteRecord] = []
        self.layers: list[Layer] = []
        self.error_handlers: dict[ErrorKey, Callable[..., Any]] = {}
        self.blueprints: list[tuple[Any, dict[str, Any]]] = []

    def _setup_guard(self, what: str) -> None:
        """Refuse set-up calls once serving has started (the app overrides this)."""

    # -- routes ---------------------------------------------------------------------------------
    def add_route(
        self,
        pattern: str,
        view: Callable[..., Any],
        methods: Iterable[str] | None = None,
        name: str | None = None,
        **defaults: Any,
    ) -> None:
        """Register ``view`` for ``pattern`` (``/p/<int:id>``).

        Args:
            methods: HTTP methods; default ``["GET"]``, or a class-based view's own methods.
            name: the name for ``url_for``; defaults to the view function's name.
            defaults: extra keyword arguments passed to the view on every call.
        """
        self._setup_guard("add_route")
        view = _as_view(view)
        self.records.append(
            RouteRecord(
                pattern,
                view,
                _methods(methods, view),
                name if name is not None else getattr(view, "__name__", None),
                defaults=defaults,
                location=_location(view),
            )
        )

    def route(
        self, pattern: str, methods: Iterable[str] | None = None, name: str | None = None
    ) -> Callable[[F], F]:
        """Decorator form of ``add_route``: ``@app.route("/p", methods=["GET", "POST"])``."""

        def decorator(view: F) -> F:
            self.add_route(pattern, view, methods, name)
            return view

        return decorator

    def get(self, pattern: str, name: str | None = None) -> Callable[[F], F]:
        """``@app.get("/p")``: a GET route (HEAD is answered automatically)."""
        return self.route(pattern, ["GET"], name)

    def post(self, pattern: str, name: str | None = None) -> Callable[[F], F]:
        """``@app.post("/p")``: a POST route."""
        return self.route(pattern, ["POST"], name)

    def put(self, pattern: str, name: str | None = None) -> Callable[[F], F]:
        """``@app.put("/p")``: a PUT route."""
        return self.route(pattern, ["PUT"], name)

    def patch(self, pattern: str, name: str | None = None) -> Callable[[F], F]:
        """``@app.patch("/p")``: a PATCH route."""
        return self.route(pattern, ["PATCH"], name)

    def delete(self, pattern: str, name: str | None = None) -> Callable[[F], F]:
        """``@app.delete("/p")``: a DELETE route."""
        return self.route(pattern, ["DELETE"], name)

    def add_urls(self, patterns: Iterable[Any], prefix: str = "/") -> None:
        """Mount a Django-style URLconf (``qiao.urls.path``/``re_path``/``include`` entries)."""
        from qiao.urls import flatten

        self._setup_guard("add_urls")
        self.records.extend(flatten(patterns, prefix))

    # -- hooks and middleware -------------------------------------------------------------------
    def before_request(self, func: F) -> F:
        """Run ``func(request)`` before each view; a non-None return answers the request."""
        self._setup_guard("before_request")
        self.layers.append(Layer(before=func))
        return func

    def after_request(self, func: F) -> F:
        """Run ``func(request, response)`` after each view; return the response to send."""
        self._setup_guard("after_request")
        self.layers.append(Layer(after=func))
        return func

    def teardown_request(self, func: F) -> F:
        """Run ``func(request, exc)`` when the request ends, even after an error."""
        self._setup_guard("teardown_request")
        self.layers.append(Layer(teardown=func))
        return func

    def add_middleware(self, middleware: Any, **options: Any) -> None:
        """Add a qiao middleware: an object (or a class, built with ``options``) with any of
        ``before_request``, ``after_request`` and ``teardown_request``, sync or async.

        Middleware and hooks run in the order they were added; ``after`` and ``teardown``
        run in reverse order, so each layer wraps the ones added after it.
        """
        self._setup_guard("add_middleware")
        if inspect.isclass(middleware):
            middleware = middleware(**options)
        layer = Layer(
            getattr(middleware, "before_request", None),
            getattr(middleware, "after_request", None),
            getattr(middleware, "teardown_request", None),
            middleware,
        )
        if layer.before is None and layer.after is None and layer.teardown is None:
            raise TypeError(
                f"{middleware!r} has none of before_request, after_request, teardown_request; "
                "for a WSGI or ASGI middleware, wrap the app: app.wsgi_app = Mw(app.wsgi_app)."
            )
        self.layers.append(layer)

    # -- errors ---------------------------------------------------------------------------------
    def errorhandler(self, key: ErrorKey) -> Callable[[F], F]:
        """``@app.errorhandler(404)`` or ``@app.errorhandler(ValueError)``: handle(request, exc)."""

        def decorator(func: F) -> F:
            self.register_error_handler(key, func)
            return func

        return decorator

    def register_error_handler(self, key: ErrorKey, handler: Callable[..., Any]) -> None:
        """Register ``handler(request, exc)`` for a status code or an exception class."""
        if not isinstance(key, int) and not (
            inspect.isclass(key) and issubclass(key, BaseException)
        ):
            raise TypeError(f"Error handler key must be a status code or exception class: {key!r}")
        if isinstance(key, type) and key is _BY_STATUS.get(getattr(key, "status_code", 0)):
            key = key.status_code  # qiao's own NotFound & co. stand for their status code
        self.error_handlers[key] = handler

    # -- blueprints -----------------------------------------------------------------------------
    def register_blueprint(self, blueprint: Any, **options: Any) -> None:
        """Mount ``blueprint``; ``url_prefix=`` and ``name=`` override its own (register one
        blueprint twice under two prefixes by giving each a different name)."""
        self._setup_guard("register_blueprint")
        self.blueprints.append((blueprint, options))


def _as_view(view: Any) -> Callable[..., Any]:
    """Accept a ``View`` class where a view function is expected."""
    if inspect.isclass(view) and hasattr(view, "as_view"):
        return view.as_view()  # type: ignore[no-any-return]
    if not callable(view):
        raise TypeError(f"A view must be callable, got {view!r}.")
    return view  # type: ignore[no-any-return]
