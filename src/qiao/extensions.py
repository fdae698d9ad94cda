"""The shape every battery shares: settings with defaults, ``init_app``, and one-time set-up.

A battery is a plug-in that uses only the core's public extension points: middleware and hooks,
``request`` attributes, ``app.extensions``, start-up hooks and CLI commands. Write one like this::

    class Greeter(Extension):
        name = "greeter"
        settings = {"GREETER_WORD": "hello"}

        def configure(self, app):          # once, when the app compiles, config final
            self.word = self.setting("GREETER_WORD")

        def after_request(self, request, response):
            response.headers["x-greeting"] = self.word

    Greeter(app, word="hi")               # keyword options override GREETER_WORD
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from qiao.http.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from qiao.app import App

__all__ = ["Extension", "blocking"]

F = TypeVar("F", bound=Callable[..., Any])


def blocking(func: F) -> F:
    """Mark a sync hook as doing blocking I/O (a database, Redis): under ASGI it then runs in
    the app's thread pool instead of on the event loop. Views are treated this way already."""
    func.__qiao_blocking__ = True  # type: ignore[attr-defined]
    return func


class Extension:
    """Base class for batteries.

    Class attributes:
        name: the key in ``app.extensions``.
        settings: the settings this battery reads, with their defaults. They are added to
            ``app.config`` (without overriding values already there) by ``init_app``.
        middleware: whether ``init_app`` adds the instance as a qiao middleware (it must then
            define ``before_request``, ``after_request`` or ``teardown_request``).

    Args:
        app: the app to install on now; or call ``init_app(app)`` later.
        options: override settings for this instance: ``CORS(app, allow_origins=[...])``
            stands for ``CORS_ALLOW_ORIGINS``. Unknown options raise ``TypeError``.
    """

    name: ClassVar[str] = ""
    settings: ClassVar[dict[str, Any]] = {}
    middleware: ClassVar[bool] = True
    #: the prefix that turns an option into a setting name (``"CORS_"``); default NAME_
    prefix: ClassVar[str | None] = None

    def __init__(self, app: App | None = None, **options: Any) -> None:
        prefix = self._prefix()
        unknown = [k for k in options if prefix + k.upper() not in self.settings]
        if unknown:
            known = ", ".join(sorted(k[len(prefix) :].lower() for k in self.settings))
            raise TypeError(
                f"{type(self).__name__} got unknown option(s) {', '.join(sorted(unknown))}; "
                f"known: {known or 'none'}."
            )
        self.options = {prefix + k.upper(): v for k, v in options.items()}
        self.app: App | None = None
        if app is not None:
            self.init_app(app)

    @classmethod
    def _prefix(cls) -> str:
        return cls.prefix if cls.prefix is not None else cls.name.upper() + "_"

    def init_app(self, app: App) -> None:
        """Install on ``app``: register settings, ``app.extensions[name]``, the middleware and
        ``configure`` as an ``app.on_configure`` hook.

        Raises:
            ImproperlyConfigured: the battery is already installed on this app.
        """
        if self.name in app.extensions:
            raise ImproperlyConfigured(
                f"{type(self).__name__} is installed twice on {app!r}; install it once."
            )
        for key, value in self.settings.items():
            app.config.setdefault(key, value)
        self.app = app
        app.extensions[self.name] = self
        if self.middleware:
            app.add_middleware(self)
        app.on_configure(self.configure)

    def setting(self, key: str) -> Any:
        """A setting's value: this instance's option, else ``app.config``, else the default."""
        if key in self.options:
            return self.options[key]
        if self.app is not None and key in self.app.config:
            return self.app.config[key]
        return self.settings[key]

    def configure(self, app: App) -> None:
        """Read settings once, when the app compiles (after every ``config.from_*`` call, before
        routes and middleware plans are built: a hook's ``blocking`` mark may still change).

        Raises:
            ImproperlyConfigured: a setting is invalid; say which and how to fix it.
        """
