"""``App``: config, routes, blueprints, middleware, hooks and the dispatch core.

One ``App`` object is a WSGI application and an ASGI application at once: ``app(environ,
start_response)`` answers a WSGI server, ``await app(scope, receive, send)`` an ASGI server.
Routes, middleware chains and view call plans are compiled once, on the first request or at
start-up; per request only the work that request needs is done.
"""

from __future__ import annotations

import atexit
import functools
import inspect
import ipaddress
import logging
import threading
import weakref
from collections.abc import Callable, Generator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from qiao._concurrency import is_async_callable, run_coroutine_blocking, run_in_thread
from qiao._config import DEFAULTS, Config, Limits
from qiao._errors import render_http_error, render_server_error
from qiao._scaffold import Layer, Scaffold
from qiao.converters import Converter, make_converter
from qiao.http.exceptions import (
    HTTPException,
    ImproperlyConfigured,
    MethodNotAllowed,
    NotFound,
)
from qiao.http.request import Request, is_trusted
from qiao.http.response import JSONResponse, RedirectResponse, Response
from qiao.routing import Route, Router

if TYPE_CHECKING:
    from qiao.testing import AsyncTestClient, TestClient

__all__ = ["App"]

logger = logging.getLogger("qiao")
F = TypeVar("F", bound=Callable[..., Any])

# How the dispatch drivers run a callable: inline, awaited, or (under ASGI) in a worker thread;
# HOOK is a sync hook that may return an awaitable when it has to wait (CSRF reading a form).
SYNC, ASYNC, BLOCKING, HOOK = 0, 1, 2, 3
Call = tuple[Callable[..., Any], int, tuple[Any, ...], Mapping[str, Any]]
_NO_KWARGS: Mapping[str, Any] = {}


@dataclass(slots=True)
class Plan:
    """Everything needed to run one route, computed at start-up."""

    view: Callable[..., Any]
    view_mode: int
    befores: tuple[tuple[Callable[..., Any], int], ...]
    afters: tuple[tuple[Callable[..., Any], int], ...]
    teardowns: tuple[tuple[Callable[..., Any], int], ...]
    error_scopes: tuple[Scaffold, ...]
    defaults: dict[str, Any]
    fast_sync: bool
    fast_async: bool
    #: parameter names the matcher uses -> this route's names, when they differ
    renames: dict[str, str] | None = None


def _mode(func: Callable[..., Any], blocking: bool = False) -> int:
    if is_async_callable(func):
        return ASYNC
    # NOTE: ``qiao.extensions.blocking`` marks a sync hook that does I/O (bound methods
    # forward attribute reads to their function).
    return BLOCKING if blocking or getattr(func, "__qiao_blocking__", False) else SYNC


def _hook_mode(func: Callable[..., Any]) -> int:
    mode = _mode(func)
    return HOOK if mode == SYNC else mode


def _raise(request: Request, exc: Exception) -> Response:
    raise exc


def _options(request: Request, allowed: str) -> Response:
    response = Response(b"", 204, [("allow", allowed)])
    del response.headers["content-type"]
    return response


def _redirect(request: Request, location: str, status: int) -> Response:
    return RedirectResponse(location, status)


class App(Scaffold):
    """A qiao application.

    Args:
        import_name: the module the app lives in (``__name__``); folders are relative to it.
        config: initial settings (see ``qiao.DEFAULTS``); load more with ``app.config.from_*``.
        template_folder, static_folder, static_url_path: used by the template and static
            batteries.
    """

    def __init__(
        self,
        import_name: str = "__main__",
        *,
        config: Mapping[str, Any] | None = None,
        root_path: str | None = None,
        template_folder: str | None = "templates",
        static_folder: str | None = "static",
        static_url_path: str | None = "/static",
    ) -> None:
        super().__init__(
            import_name,
            root_path=root_path,
            template_folder=template_folder,
            static_folder=static_folder,
            static_url_path=static_url_path,
        )
        self.name = import_name
        self.config = Config(config)
        self.limits = Limits.from_config(DEFAULTS)  # read from self.config in compile()
        self.router = Router()
        #: Battery state, by battery name (``app.extensions["sessions"]``).
        self.extensions: dict[str, Any] = {}
        #: Lazy request attributes batteries add (see ``add_request_attribute``).
        self.request_attributes: dict[str, Callable[[Request], Any]] = {}
        #: CLI commands batteries and projects add: ``qiao NAME ...`` (see ``add_command``).
        self.commands: dict[str, tuple[Callable[[App, list[str]], int | None], str]] = {}
        self.configure_hooks: list[Callable[[App], None]] = []
        self._configured_hooks = 0
        self.startup_hooks: list[Callable[..., Any]] = []
        self.shutdown_hooks: list[Callable[..., Any]] = []
        self._converters: dict[str, Converter] = {}
        self._compiled = False
        self._started = False
        self._lock = threading.RLock()
        self._executor: ThreadPoolExecutor | None = None
        self._trusted_any = False
        self._trusted_networks: list[Any] = []
        self._fallback: Plan | None = None
        from qiao.asgi import asgi_app
        from qiao.wsgi import wsgi_app

        #: The WSGI app; add WSGI middleware with ``app.wsgi_app = Mw(app.wsgi_app)``.
        self.wsgi_app: Callable[..., Any] = functools.partial(wsgi_app, self)
        #: The ASGI app; add ASGI middleware with ``app.asgi_app = Mw(app.asgi_app)``.
        self.asgi_app: Callable[..., Any] = functools.partial(asgi_app, self)
        # NOTE: ASGI servers tell ASGI 3 from ASGI 2 by asking whether ``app.__call__`` is a
        # coroutine function, while ``app(...)`` itself always uses the class's ``__call__``.
        # This instance attribute answers the question without changing how calls dispatch.
        self.__dict__["__call__"] = self._asgi_call

    # -- the two interfaces ---------------------------------------------------------------------
    def __call__(self, first: Any, second: Any, third: Any = None) -> Any:
        """WSGI with two arguments, ASGI (returns a coroutine) with three."""
        if third is None:
            return self.wsgi_app(first, second)
        return self.asgi_app(first, second, third)

    async def _asgi_call(self, scope: Any, receive: Any, send: Any) -> None:
        await self.asgi_app(scope, receive, send)

    # -- setup ----------------------------------------------------------------------------------
    def _setup_guard(self, what: str) -> None:
        if self._compiled:
            raise RuntimeError(
                f"{what} was called after the app compiled its routes (on its first request or "
                "start-up); set up routes, hooks and middleware before serving."
            )

    def add_converter(
        self,
        name: str,
        converter: Converter | type[Converter] | None = None,
        *,
        regex: str | None = None,
        to_python: Callable[[str], Any] = str,
        to_url: Callable[[Any], str] = str,
    ) -> None:
        """Register a path converter: a ``Converter`` (class or instance), or a regex and two
        functions: ``app.add_converter("hex", regex="[0-9a-f]+", to_python=lambda s: int(s, 16),
        to_url=lambda n: f"{n:x}")``."""
        self._setup_guard("add_converter")
        if converter is None:
            if regex is None:
                raise TypeError("add_converter needs a Converter or a regex.")
            converter = make_converter(regex, to_python, to_url)
        elif inspect.isclass(converter):
            converter = converter()
        self._converters[name] = converter

    def add_command(
        self, name: str, func: Callable[[App, list[str]], int | None], help: str = ""
    ) -> None:
        """Add ``qiao NAME [ARGS...]``: ``func(app, args)`` gets the app and the arguments after
        the command's name, parses them itself (with ``argparse``), and returns an exit status.

        Raises:
            ValueError: the name is taken by another command.
        """
        from qiao.cli import BUILTIN_COMMANDS

        if name in BUILTIN_COMMANDS or name in self.commands:
            raise ValueError(f"The command {name!r} already exists; choose another name.")
        self.commands[name] = (func, help)

    def add_request_attribute(self, name: str, factory: Callable[[Request], Any]) -> None:
        """Give every request a lazy attribute: ``request.NAME`` is ``factory(request)``, made
        on first use and cached on the request (``request.session`` is one). A request that
        never reads it pays nothing; it works in any hook or handler, whatever the order.

        Raises:
            ValueError: ``Request`` already has that attribute, or another battery added it.
        """
        self._setup_guard("add_request_attribute")
        if hasattr(Request, name) or name in self.request_attributes:
            raise ValueError(f"request.{name} already exists; choose another name.")
        self.request_attributes[name] = factory

    def on_configure(self, func: F) -> F:
        """Run ``func(app)`` once, when the app compiles (after every ``config.from_*`` call,
        before routes and middleware plans are built), or earlier if ``configure()`` is called:
        it may read settings and still add routes. Batteries read their settings here
        (``qiao.extensions.Extension.configure``)."""
        self._setup_guard("on_configure")
        self.configure_hooks.append(func)
        return func

    def configure(self) -> None:
        """Run the ``on_configure`` hooks not run yet (each runs once), without compiling the
        routes: batteries read their settings, and set-up may go on. ``compile()`` calls it;
        so does a battery used before the app is complete (``db.create_all()`` in a script)."""
        with self._lock:
            while self._configured_hooks < len(self.configure_hooks):
                hook = self.configure_hooks[self._configured_hooks]
                self._configured_hooks += 1
                hook(self)

    def on_startup(self, func: F) -> F:
        """Run ``func()`` (sync or async) at start-up: ASGI lifespan, or the first WSGI request."""
        self.startup_hooks.append(func)
        return func

    def on_shutdown(self, func: F) -> F:
        """Run ``func()`` at shut-down: ASGI lifespan, or interpreter exit under WSGI."""
        self.shutdown_hooks.append(func)
        return func

    # -- compilation ----------------------------------------------------------------------------
    def compile(self) -> None:
        """Check the config and compile routes and plans (done once, automatically).

        Raises:
            ImproperlyConfigured: a check failed; the message names its id (``qiao.E001``...).
        """
        with self._lock:
            if self._compiled:
                return
            self.configure()
            self._check_config()
            self.limits = Limits.from_config(self.config)
            proxies = list(self.config["TRUSTED_PROXIES"])
            self._trusted_any = "*" in proxies
            self._trusted_networks = [
                ipaddress.ip_network(p, strict=False) for p in proxies if p != "*"
            ]
            from qiao.blueprints import collect_routes

            routes = collect_routes(self)
            router = Router(self._converters)
            router.compile(routes)
            for route in routes:
                route.plan = self._make_plan(route.view, route.scaffolds, route)
                if not route.is_regex and route.match_params != route.param_names:
                    route.plan.renames = dict(
                        zip(route.match_params, route.param_names, strict=True)
                    )
            self._fallback = self._make_plan(_raise, (), None)
            self.router = router
            self._compiled = True

    def _check_config(self) -> None:
        if not self.config["DEBUG"] and not self.config["SECRET_KEY"]:
            raise ImproperlyConfigured(
                "qiao.E001: SECRET_KEY is not set and DEBUG is off. Set it from a secret store, "
                "e.g. QIAO_SECRET_KEY in the environment with app.config.from_env(), or "
                "python -c 'import secrets; print(secrets.token_urlsafe(50))' to make one."
            )

    def _make_plan(
        self, view: Callable[..., Any], scaffolds: tuple[Scaffold, ...], route: Route | None
    ) -> Plan:
        layers: list[Layer] = [ly.resolved() for ly in self.layers]
        for scaffold in scaffolds:
            layers += [ly.resolved() for ly in scaffold.layers]
        befores = tuple((ly.before, _hook_mode(ly.before)) for ly in layers if ly.before)
        afters = tuple((ly.after, _hook_mode(ly.after)) for ly in reversed(layers) if ly.after)
        teardowns = tuple(
            (ly.teardown, _hook_mode(ly.teardown)) for ly in reversed(layers) if ly.teardown
        )
        if route is not None:
            _check_signature(route)
        mode = _mode(view, blocking=True)
        bare = not (befores or afters or teardowns)
        return Plan(
            view,
            mode,
            befores,
            afters,
            teardowns,
            (*reversed(scaffolds), self),
            dict(route.defaults) if route else {},
            bare and mode != ASYNC,
            bare and mode == ASYNC,
        )

    def _ensure_started(self) -> None:
        """Compile, and run start-up hooks once (the WSGI path; ASGI uses lifespan)."""
        if self._started:
            return
        with self._lock:
            if self._started:
                return
            self.startup()
            # NOTE: a weak reference, so the exit hook does not keep every app ever started alive.
            atexit.register(_shutdown_at_exit, weakref.ref(self))

    def startup(self) -> None:
        """Compile and run the start-up hooks once (sync callers: WSGI, scripts, tests)."""
        self.compile()
        if self._started:
            return
        self._run_sync(self._lifespan(self.startup_hooks))
        self._started = True

    async def astartup(self) -> None:
        """Compile and run the start-up hooks once (async callers: ASGI lifespan)."""
        self.compile()
        if self._started:
            return
        await self._run_async(self._lifespan(self.startup_hooks))
        self._started = True

    def shutdown(self) -> None:
        """Run the shut-down hooks once (sync callers)."""
        if self._started:
            self._started = False
            self._run_sync(self._lifespan(self.shutdown_hooks))

    async def ashutdown(self) -> None:
        """Run the shut-down hooks once (async callers)."""
        if self._started:
            self._started = False
            await self._run_async(self._lifespan(self.shutdown_hooks))
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    @staticmethod
    def _lifespan(hooks: list[Callable[..., Any]]) -> Generator[Call, Any, None]:
        for hook in hooks:
            yield hook, _mode(hook, blocking=True), (), _NO_KWARGS

    # -- dispatch -------------------------------------------------------------------------------
    def _resolve(self, request: Request) -> tuple[Plan, tuple[Any, ...], Mapping[str, Any]]:
        """Match the request to a plan and its arguments; routing failures get a plan too, so
        app-level middleware sees 404s and 405s like any other response."""
        found = self.router.match(request.path)
        if found is None:
            path = request.path
            if (
                self.config["APPEND_SLASH"]
                and not path.endswith("/")
                and self.router.match(path + "/") is not None
            ):
                location = request.root_path + path + "/"
                if request.query_string:
                    location += "?" + request.query_string
                status = 301 if request.method in ("GET", "HEAD") else 308
                return self._fallback_with(_redirect), (location, status), _NO_KWARGS
            return self._fallback_with(_raise), (NotFound(),), _NO_KWARGS
        endpoint, kwargs, args = found
        route = endpoint.routes.get(request.method) or endpoint.for_method(request.method)
        if route is None:
            if request.method == "OPTIONS":
                allow = ", ".join(sorted(endpoint.allowed))
                return self._fallback_with(_options), (allow,), _NO_KWARGS
            return self._fallback_with(_raise), (MethodNotAllowed(endpoint.allowed),), _NO_KWARGS
        plan: Plan = route.plan
        request.route = route
        if plan.renames is not None:  # this route names the shared shape's parameters its way
            kwargs = {plan.renames.get(k, k): v for k, v in kwargs.items()}
        request.path_params = kwargs
        if plan.defaults:
            kwargs = {**plan.defaults, **kwargs}
        return plan, args, kwargs

    def _fallback_with(self, view: Callable[..., Any]) -> Plan:
        """The app-level plan (app hooks only) with ``view`` in place of a route's view."""
        plan = self._fallback
        assert plan is not None
        if view is _raise:
            return plan
        return Plan(
            view,
            SYNC,
            plan.befores,
            plan.afters,
            plan.teardowns,
            plan.error_scopes,
            {},
            plan.fast_sync,
            False,
        )

    def dispatch(self, request: Request, rejection: HTTPException | None = None) -> Response:
        """Answer ``request`` on the calling thread (the WSGI path); never raises.

        ``rejection``: an error the adapter found before routing (too many headers); the
        request is answered with it, through the app's hooks and error handlers.
        """
        if rejection is None:
            plan, args, kwargs = self._resolve(request)
        else:
            plan, args, kwargs = self._fallback_with(_raise), (rejection,), _NO_KWARGS
        if plan.fast_sync:
            # PERF: a route without hooks or middleware skips the generator pipeline.
            try:
                response = self.make_response(plan.view(request, *args, **kwargs), plan)
                if response.needs_prepare:
                    response.prepare(request)
                return response
            except Exception as exc:
                error_response: Response = self._run_sync(self._handle_error(request, plan, exc))
                return error_response
        response = self._run_sync(self._pipeline(request, plan, args, kwargs))
        return response  # type: ignore[no-any-return]

    async def dispatch_async(
        self, request: Request, rejection: HTTPException | None = None
    ) -> Response:
        """Answer ``request`` on the event loop (the ASGI path); never raises (see ``dispatch``)."""
        if rejection is None:
            plan, args, kwargs = self._resolve(request)
        else:
            plan, args, kwargs = self._fallback_with(_raise), (rejection,), _NO_KWARGS
        if plan.fast_async:
            try:
                response = self.make_response(await plan.view(request, *args, **kwargs), plan)
                if response.needs_prepare:
                    response.prepare(request)
                return response
            except Exception as exc:
                error_response: Response = await self._run_async(
                    self._handle_error(request, plan, exc)
                )
                return error_response
        response = await self._run_async(self._pipeline(request, plan, args, kwargs))
        return response  # type: ignore[no-any-return]

    def _pipeline(
        self, request: Request, plan: Plan, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> Generator[Call, Any, Response]:
        """The request's life, written once: it yields each call to make and the sync or
        async driver makes it (see ``_run_sync`` / ``_run_async``)."""
        error: Exception | None = None
        response: Response
        try:
            try:
                for hook, mode in plan.befores:
                    early = yield hook, mode, (request,), _NO_KWARGS
                    if early is not None:
                        response = self.make_response(early, plan)
                        break
                else:
                    result = yield plan.view, plan.view_mode, (request, *args), kwargs
                    response = self.make_response(result, plan)
            except Exception as exc:
                error = request.exception = exc
                response = yield from self._handle_error(request, plan, exc)
            for hook, mode in plan.afters:
                replaced = yield hook, mode, (request, response), _NO_KWARGS
                if replaced is not None:
                    response = self.make_response(replaced, plan)
            if response.needs_prepare:
                response.prepare(request)
        except Exception as exc:  # an after hook (or a file's prepare) failed
            error = error or exc
            response = yield from self._handle_error(request, plan, exc)
        for hook, mode in plan.teardowns:
            try:
                yield hook, mode, (request, error), _NO_KWARGS
            except Exception:
                logger.exception("teardown_request hook %r failed", hook)
        return response

    def _handle_error(
        self, request: Request, plan: Plan, exc: Exception
    ) -> Generator[Call, Any, Response]:
        handler = self._find_error_handler(plan, exc)
        if handler is not None:
            try:
                result = yield handler, _mode(handler, blocking=True), (request, exc), _NO_KWARGS
                return self.make_response(result, plan)
            except Exception as handler_exc:
                exc = handler_exc
        if isinstance(exc, HTTPException):
            return render_http_error(request, exc)
        try:
            request_id = request.id
        except HTTPException:
            request_id = "-"
        logger.error(
            "Unhandled exception in %s %s (request id %s)",
            request.method,
            request.path,
            request_id,
            exc_info=exc,
        )
        return render_server_error(request, exc, request_id, bool(self.config["DEBUG"]))

    @staticmethod
    def _find_error_handler(plan: Plan, exc: Exception) -> Callable[..., Any] | None:
        for scope in plan.error_scopes:
            handlers = scope.error_handlers
            if not handlers:
                continue
            if isinstance(exc, HTTPException) and exc.status_code in handlers:
                return handlers[exc.status_code]
            for cls in type(exc).__mro__:
                if cls in handlers:
                    return handlers[cls]
        return None

    def _run_sync(self, gen: Generator[Call, Any, Any]) -> Any:
        """Drive a pipeline on this thread; async calls run on the thread's own loop."""
        value: Any = None
        error: Exception | None = None
        while True:
            try:
                if error is None:
                    func, mode, args, kwargs = gen.send(value)
                else:
                    func, mode, args, kwargs = gen.throw(error)
                    error = None
            except StopIteration as stop:
                return stop.value
            try:
                value = func(*args, **kwargs)
                if mode == ASYNC or (
                    mode == HOOK and value is not None and inspect.iscoroutine(value)
                ):
                    value = run_coroutine_blocking(value)
            except Exception as exc:
                value, error = None, exc

    async def _run_async(self, gen: Generator[Call, Any, Any]) -> Any:
        """Drive a pipeline on the event loop; blocking sync calls go to the thread pool."""
        value: Any = None
        error: Exception | None = None
        while True:
            try:
                if error is None:
                    func, mode, args, kwargs = gen.send(value)
                else:
                    func, mode, args, kwargs = gen.throw(error)
                    error = None
            except StopIteration as stop:
                return stop.value
            try:
                if mode == ASYNC:
                    value = await func(*args, **kwargs)
                elif mode == BLOCKING:
                    value = await run_in_thread(self.executor, func, *args, **kwargs)
                else:
                    value = func(*args, **kwargs)
                    if mode == HOOK and value is not None and inspect.iscoroutine(value):
                        value = await value
            except Exception as exc:
                value, error = None, exc

    @property
    def executor(self) -> ThreadPoolExecutor:
        """The bounded pool that runs sync views under ASGI (``THREADPOOL_WORKERS`` threads)."""
        if self._executor is None:
            with self._lock:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(
                        int(self.config["THREADPOOL_WORKERS"]), thread_name_prefix="qiao-sync"
                    )
        return self._executor

    def make_response(self, rv: Any, plan: Plan | None = None) -> Response:
        """Turn a view's return value into a ``Response``.

        Accepts a ``Response``; ``str`` (HTML); ``bytes``; ``dict``/``list`` (JSON);
        ``(body, status)``; ``(body, status, headers)``.

        Raises:
            TypeError: the view returned None or something else.
        """
        kind = type(rv)
        if kind is str:
            return Response(rv)
        if isinstance(rv, Response):
            return rv
        if kind is dict or kind is list:
            return JSONResponse(rv)
        if kind is bytes:
            return Response(rv, content_type="application/octet-stream")
        if kind is tuple and len(rv) in (2, 3):
            response = self.make_response(rv[0], plan)
            response.status_code = int(rv[1])
            if len(rv) == 3:
                response.headers.update(rv[2])
            return response
        if isinstance(rv, str):  # a str subclass: SafeHTML, markupsafe.Markup
            return Response(str(rv))
        view = getattr(plan.view, "__qualname__", "the view") if plan else "the view"
        if rv is None:
            raise TypeError(
                f"View {view!r} returned None. Return a Response, str, bytes, dict, list, "
                "(body, status) or (body, status, headers)."
            )
        raise TypeError(
            f"View {view!r} returned {kind.__name__}, which qiao cannot send. Return a Response, "
            "str, bytes, dict, list, (body, status) or (body, status, headers)."
        )

    # -- helpers --------------------------------------------------------------------------------
    def url_for(self, name: str, /, **params: Any) -> str:
        """Build the path of the route called ``name`` (``"blog:detail"`` for namespaces).

        Parameters no route part uses become the query string.

        Raises:
            BuildError: unknown name, missing parameter, or a value of the wrong type.
        """
        self.compile()
        return self.router.url_for(name, params)

    def _is_trusted_proxy(self, client: tuple[str, int] | None) -> bool:
        return is_trusted(client, self._trusted_networks, self._trusted_any)

    def test_client(self, **kwargs: Any) -> TestClient:
        """A synchronous httpx client that calls this app through WSGI (see ``qiao.testing``)."""
        from qiao.testing import TestClient

        return TestClient(self, **kwargs)

    def async_test_client(self, **kwargs: Any) -> AsyncTestClient:
        """An async httpx client that calls this app through ASGI, lifespan included."""
        from qiao.testing import AsyncTestClient

        return AsyncTestClient(self, **kwargs)

    def __repr__(self) -> str:
        return f"<qiao.App {self.name!r}>"


def _shutdown_at_exit(ref: weakref.ref[App]) -> None:
    app = ref()
    if app is not None:
        app.shutdown()


def _check_signature(route: Route) -> None:
    """Fail at start-up when a view cannot take its route's parameters (``qiao.E005``)."""
    try:
        signature = inspect.signature(route.view)
    except (TypeError, ValueError):
        return
    params = signature.parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return
    accepted = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    missing = [
        name
        for name in (*route.param_names, *route.defaults)
        if name not in accepted and not route.is_regex
    ]
    if missing:
        raise ImproperlyConfigured(
            f"qiao.E005: View {route.view.__qualname__!r} ({route.location}) does not accept "
            f"{', '.join(missing)} from route {route.pattern!r}; add "
            f"{', '.join(missing)} to its parameters."
        )
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if not positional and not any(p.kind is p.VAR_POSITIONAL for p in params):
        raise ImproperlyConfigured(
            f"qiao.E005: View {route.view.__qualname__!r} ({route.location}) takes no request "
            "argument; views are called as view(request, **path_params)."
        )
