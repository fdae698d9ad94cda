"""Jinja2 templates: ``render(request, "page.html", **context)``.

Install the battery once, then render from any view, sync or async::

    templates = Templates(app)

    @app.get("/")
    def index(request):
        return render(request, "index.html", title="Home")

Templates are found in the app's ``template_folder``, then in each blueprint's (nested ones too,
in registration order): one merged namespace where the first match wins, as in Flask and
Django. A blueprint keeps its templates apart by putting them in a subfolder named after itself
(``blog/templates/blog/post.html``, rendered as ``"blog/post.html"``).

Every template sees ``request``, ``config``, ``url_for``, ``static``, ``csrf_token()`` and the
``{% csrf_token %}`` tag, plus whatever the context processors return. Autoescaping is on for
``.html``, ``.htm``, ``.xml`` and ``.jinja`` names and for templates made from strings.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, overload

from qiao.extensions import Extension
from qiao.http.exceptions import ImproperlyConfigured
from qiao.http.response import HeadersInit, HTMLResponse

if TYPE_CHECKING:
    import jinja2

    from qiao._scaffold import Scaffold
    from qiao.app import App
    from qiao.http.request import Request

__all__ = ["AUTOESCAPE_EXTENSIONS", "Templates", "render", "render_to_string"]

F = TypeVar("F", bound=Callable[..., Any])
ContextProcessor = Callable[["Request"], Mapping[str, Any]]

#: Template name endings rendered with autoescaping on (names are matched case-insensitively).
AUTOESCAPE_EXTENSIONS = ("html", "htm", "xml", "jinja")

_INSTALL_JINJA = "The templates battery needs Jinja2: pip install 'qiao[templates]'."
_INSTALL_CSRF = (
    "{% csrf_token %} and csrf_token() need the CSRF battery; install it with qiao.csrf.CSRF(app)."
)
_INSTALL_STATIC = (
    "static() in a template needs the static battery; install it with qiao.static.Static(app)."
)


def _import_jinja() -> None:
    try:
        import jinja2  # noqa: F401 - only checking that it is installed
    except ImportError:  # pragma: no cover - depends on the extra being absent
        raise ImproperlyConfigured(_INSTALL_JINJA) from None


def _template_folders(app: App) -> list[str]:
    """The folders templates are looked up in, in order: the app's, then each blueprint's
    (depth first, in registration order; a folder shared by two blueprints is listed once)."""
    folders: list[str] = []

    def visit(scaffold: Scaffold) -> None:
        folder = scaffold.template_folder
        if folder and folder not in folders:
            folders.append(folder)
        for blueprint, _ in scaffold.blueprints:
            visit(blueprint)

    visit(app)
    return folders


def _csrf_input(request: Request | None) -> str:
    """The hidden ``<input>`` of ``{% csrf_token %}`` for ``request`` (markup, escaped).

    Raises:
        ImproperlyConfigured: the CSRF battery is not installed.
        RuntimeError: no request (a template rendered outside a request).
    """
    from markupsafe import escape

    token = _csrf_token(request)
    assert request is not None  # _csrf_token raised otherwise
    field = request.app.extensions["csrf"].field_name
    return f'<input type="hidden" name="{escape(field)}" value="{escape(token)}">'


def _csrf_token(request: Request | None) -> str:
    """A fresh masked CSRF token for ``request`` (``qiao.csrf.get_token``).

    Raises:
        ImproperlyConfigured: the CSRF battery is not installed.
        RuntimeError: no request.
    """
    if request is None:
        raise RuntimeError(
            "csrf_token needs the request: render the template with render(request, ...), or "
            "import macros that use it 'with context'."
        )
    if "csrf" not in request.app.extensions:
        raise ImproperlyConfigured(_INSTALL_CSRF)
    from qiao.csrf import get_token

    return get_token(request)


def _make_csrf_extension() -> type[Any]:
    """Build the Jinja extension for ``{% csrf_token %}`` (Jinja is imported lazily)."""
    from jinja2 import nodes
    from jinja2.ext import Extension as JinjaExtension
    from markupsafe import Markup

    class CSRFTokenExtension(JinjaExtension):
        """``{% csrf_token %}``: Django's tag, rendering the hidden token field."""

        tags = {"csrf_token"}  # noqa: RUF012 - Jinja's declared class attribute

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            call = self.call_method("_render", [nodes.ContextReference()], lineno=lineno)
            return nodes.Output([call], lineno=lineno)

        def _render(self, context: Any) -> Markup:
            return Markup(_csrf_input(context.get("request")))  # noqa: S704 - escaped above

    return CSRFTokenExtension


class Templates(Extension):
    """The templates battery: one Jinja2 environment per app.

    Options (each overrides the setting in brackets):
        auto_reload: re-read a template when its file changes (``TEMPLATES_AUTO_RELOAD``;
            default: on when ``DEBUG`` is).
        cache_size: compiled templates kept in memory (``TEMPLATES_CACHE_SIZE``, 400;
            ``-1`` keeps all, ``0`` none).
        strict_undefined: an undefined variable raises instead of rendering as nothing
            (``TEMPLATES_STRICT_UNDEFINED``, False).

    Raises:
        ImproperlyConfigured: Jinja2 is not installed (``pip install 'qiao[templates]'``).
    """

    name = "templates"
    middleware = False
    settings: ClassVar[dict[str, Any]] = {
        "TEMPLATES_AUTO_RELOAD": None,
        "TEMPLATES_CACHE_SIZE": 400,
        "TEMPLATES_STRICT_UNDEFINED": False,
    }

    def __init__(self, app: App | None = None, **options: Any) -> None:
        self._env: jinja2.Environment | None = None
        self._lock = threading.Lock()
        #: ``func(request) -> dict`` callables whose results every render sees.
        self.context_processors: list[ContextProcessor] = []
        super().__init__(app, **options)

    def init_app(self, app: App) -> None:
        """Install on ``app`` (see ``Extension.init_app``).

        Raises:
            ImproperlyConfigured: Jinja2 is missing, or the battery is installed twice.
        """
        _import_jinja()  # SECURITY: fail at set-up, not on the first page a user asks for
        super().init_app(app)

    # -- the environment --------------------------------------------------------------------------
    @property
    def env(self) -> jinja2.Environment:
        """The app's ``jinja2.Environment``: add filters, tests, globals and extensions to it.

        Created on first use; the settings are applied again at start-up.

        Raises:
            RuntimeError: the battery is not installed on an app yet.
        """
        env = self._env
        if env is None:
            with self._lock:
                if self._env is None:
                    self._env = self._create_env()
                env = self._env
        return env

    def _create_env(self) -> jinja2.Environment:
        if self.app is None:
            raise RuntimeError("Templates is not installed on an app; call init_app(app) first.")
        _import_jinja()
        from jinja2 import Environment, pass_context, select_autoescape

        app = self.app
        loader = _make_loader(app)

        def url_for(context: Any, name: str, /, **params: Any) -> str:
            request = context.get("request")
            if request is not None:
                return str(request.url_for(name, **params))
            return app.url_for(name.lstrip("."), **params)

        def static(context: Any, filename: str) -> str:
            battery = app.extensions.get("static")
            if battery is None:
                raise ImproperlyConfigured(_INSTALL_STATIC)
            return str(battery.url(filename, context.get("request")))

        def token(context: Any) -> str:
            return _csrf_token(context.get("request"))

        env = Environment(
            loader=loader,
            autoescape=select_autoescape(
                AUTOESCAPE_EXTENSIONS, default_for_string=True, default=False
            ),
            extensions=[_make_csrf_extension()],
        )
        env.globals.update(
            url_for=pass_context(url_for),
            static=pass_context(static),
            csrf_token=pass_context(token),
            config=app.config,
            # Replaced by the sessions battery's context processor when it is installed.
            get_flashed_messages=_no_flashes,
        )
        self._apply_settings(env)
        return env

    def _apply_settings(self, env: jinja2.Environment) -> None:
        from jinja2 import StrictUndefined, Undefined
        from jinja2.environment import create_cache

        assert self.app is not None
        auto_reload = self.setting("TEMPLATES_AUTO_RELOAD")
        if auto_reload is None:
            auto_reload = bool(self.app.config["DEBUG"])
        size = self.setting("TEMPLATES_CACHE_SIZE")
        if isinstance(size, bool) or not isinstance(size, int) or size < -1:
            raise ImproperlyConfigured(
                f"TEMPLATES_CACHE_SIZE must be a whole number (-1 for no limit, 0 for no cache), "
                f"got {size!r}."
            )
        env.auto_reload = bool(auto_reload)
        env.undefined = StrictUndefined if self.setting("TEMPLATES_STRICT_UNDEFINED") else Undefined
        env.cache = create_cache(size)
        env.loader.searchpath = _template_folders(self.app)  # type: ignore[union-attr]

    def configure(self, app: App) -> None:
        """At start-up: apply the settings, list the template folders, empty the cache.

        Raises:
            ImproperlyConfigured: ``TEMPLATES_CACHE_SIZE`` is not a whole number >= -1.
        """
        env = self.env
        with self._lock:
            self._apply_settings(env)

    # -- extension points -----------------------------------------------------------------------
    def context_processor(self, func: F) -> F:
        """Register ``func(request) -> dict``; its items are in every template rendered for a
        request. Values passed to ``render`` win over a processor's.

        Batteries call it from their ``configure`` (at start-up), so the order in which they
        were installed does not matter: ``app.extensions["templates"].context_processor(f)``.
        """
        self.context_processors.append(func)
        return func

    @overload
    def template_filter(self, name: F, /) -> F: ...
    @overload
    def template_filter(self, name: str | None = None, /) -> Callable[[F], F]: ...
    def template_filter(self, name: Any = None, /) -> Any:
        """Register a filter: ``@templates.template_filter`` or ``@templates.template_filter("x")``
        (the function's name is used when no name is given)."""
        return self._registrar(self.env.filters, name)

    @overload
    def global_function(self, name: F, /) -> F: ...
    @overload
    def global_function(self, name: str | None = None, /) -> Callable[[F], F]: ...
    def global_function(self, name: Any = None, /) -> Any:
        """Make a function callable from every template: ``@templates.global_function`` or
        ``@templates.global_function("name")``."""
        return self._registrar(self.env.globals, name)

    @staticmethod
    def _registrar(table: Any, name: Any) -> Any:
        def register(func: F) -> F:
            table[name if isinstance(name, str) else func.__name__] = func
            return func

        return register(name) if callable(name) else register

    # -- rendering ------------------------------------------------------------------------------
    def render_template(
        self,
        name: str | Iterable[str],
        context: Mapping[str, Any] | None = None,
        *,
        request: Request | None = None,
    ) -> str:
        """Render template ``name`` (or the first of a list that exists) to a string.

        Without a request (an e-mail sent from a task), ``url_for`` builds app paths, context
        processors are not run, and ``csrf_token`` raises.

        Raises:
            jinja2.TemplateNotFound: no folder has the template; the message lists the folders.
            jinja2.TemplateError: the template is invalid or failed while rendering.
        """
        env = self._env or self.env
        if isinstance(name, str):
            template = env.get_template(name)
        else:
            template = env.select_template(list(name))
        values: dict[str, Any] = {}
        if request is not None:
            for processor in self.context_processors:
                values.update(processor(request))
        if context:
            values.update(context)
        values["request"] = request
        return template.render(values)


def _make_loader(app: App) -> Any:
    """A ``FileSystemLoader`` over the app's and blueprints' template folders whose "not found"
    error names the folders it searched."""
    from jinja2 import FileSystemLoader, TemplateNotFound

    class _AppLoader(FileSystemLoader):
        def get_source(self, environment: Any, template: str) -> Any:
            try:
                return super().get_source(environment, template)
            except TemplateNotFound:
                searched = ", ".join(self.searchpath) or "no folders"
                raise TemplateNotFound(
                    template,
                    f"Template {template!r} was not found; searched {searched}. Put it in the "
                    "app's template_folder or a blueprint's (templates/ by default).",
                ) from None

    return _AppLoader(_template_folders(app))


def _templates(request: Request) -> Templates:
    battery = request.app.extensions.get("templates")
    if battery is None:
        raise ImproperlyConfigured(
            "render() needs the templates battery; install it with qiao.templating.Templates(app)."
        )
    return battery  # type: ignore[no-any-return]


def render_to_string(request: Request, name: str | Iterable[str], /, **context: Any) -> str:
    """Render template ``name`` for ``request`` to a string (see ``render``).

    Raises:
        ImproperlyConfigured: the templates battery is not installed on ``request.app``.
        jinja2.TemplateNotFound: no template folder has ``name``.
    """
    return _templates(request).render_template(name, context, request=request)


def render(
    request: Request,
    name: str | Iterable[str],
    /,
    status: int = 200,
    headers: HeadersInit = None,
    **context: Any,
) -> HTMLResponse:
    """Render template ``name`` with ``context`` into an ``HTMLResponse``.

    Works from sync and async views (rendering itself is synchronous CPU work). ``name`` may be
    a list: the first template that exists is used. ``status`` and ``headers`` are the
    response's, so they cannot be template variables.

    Raises:
        ImproperlyConfigured: the templates battery is not installed on ``request.app``.
        jinja2.TemplateNotFound: no template folder has ``name`` (a 500, logged, unless handled).
    """
    body = _templates(request).render_template(name, context, request=request)
    return HTMLResponse(body, status, headers)


def _no_flashes(*args: Any, **kwargs: Any) -> list[Any]:
    raise ImproperlyConfigured(
        "get_flashed_messages() in a template needs the sessions battery: install it with "
        "qiao.sessions.Sessions(app)."
    )
