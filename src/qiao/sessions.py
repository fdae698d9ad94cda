"""Sessions: ``request.session``, a dict kept between requests of one client.

``Sessions(app)`` installs it. The session is loaded on first use (a request that never touches
it costs one small object), saved only when it changed, and carried by a cookie that is
``HttpOnly``, ``SameSite=Lax`` and ``Secure`` on HTTPS. Where the data lives is the store's job
(``qiao.session_stores``): a signed cookie by default, Redis for many processes and machines,
or your own ``SessionStore``.

A tampered, expired, truncated or unknown cookie gives an empty session, never an error.
"""

from __future__ import annotations

import asyncio
import functools
import time
import types
from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING, Any, ClassVar

from qiao.extensions import Extension
from qiao.http.exceptions import ImproperlyConfigured
from qiao.session_stores import (
    CookieStore,
    MemoryStore,
    RedisStore,
    SessionStore,
    SessionTooLarge,
)

if TYPE_CHECKING:
    from qiao.app import App
    from qiao.http.request import Request
    from qiao.http.response import Response

__all__ = ["Session", "Sessions", "flash", "get_flashed_messages"]

_EXPIRY = "_qiao_expiry"  # the reserved key holding a per-session lifetime (set_expiry)
_FLASHES = "_qiao_flashes"
_SAMESITE = ("lax", "strict", "none")


class Session(MutableMapping[str, Any]):
    """The session of one request: a mutable mapping of JSON-able values.

    Attributes:
        modified: set when the data changed; the session is then saved.
        accessed: set when the data was read or written; the response then varies on Cookie.
    """

    def __init__(self, battery: Sessions, request: Request) -> None:
        self._battery = battery
        self._request = request
        self._data: dict[str, Any] | None = None
        self._key: str | None = None
        self._old_key: str | None = None
        self.modified = False
        self.accessed = False

    # -- loading --------------------------------------------------------------------------------
    def _load(self) -> dict[str, Any]:
        self.accessed = True
        if self._data is None:
            cookie = self._request.cookies.get(self._battery.cookie_name)
            self._data, self._key = self._battery.load(cookie)
        return self._data

    async def aload(self) -> None:
        """Load now, without blocking the event loop (for stores that do I/O, like Redis).

        Call it at the top of an async view that uses a Redis-backed session; with the cookie
        store it is instant. Sync views never need it.
        """
        if self._data is None:
            if getattr(self._battery.store, "blocking", False):
                executor = self._request.app.executor
                await asyncio.get_running_loop().run_in_executor(executor, self._load)
            else:
                self._load()
        self.accessed = True

    # -- the mapping ----------------------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        if key in (_EXPIRY,):
            raise KeyError(key)
        return self._load()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._load()[key] = value
        self.modified = True

    def __delitem__(self, key: str) -> None:
        del self._load()[key]
        self.modified = True

    def __iter__(self) -> Iterator[str]:
        return (k for k in list(self._load()) if k != _EXPIRY)

    def __len__(self) -> int:
        data = self._load()
        return len(data) - (_EXPIRY in data)

    def __contains__(self, key: object) -> bool:
        return key != _EXPIRY and key in self._load()

    def __repr__(self) -> str:
        return f"<Session {dict(self.items())!r}>"

    # -- life cycle -----------------------------------------------------------------------------
    @property
    def key(self) -> str | None:
        """The session's id in a server-side store (None for cookie sessions or before save)."""
        self._load()
        return self._key

    def clear(self) -> None:
        """Remove all data (the cookie is deleted when the response is sent)."""
        self._load().clear()
        self.modified = True

    def cycle_key(self) -> None:
        """Keep the data under a new id and retire the old one (call it on login: an attacker
        who planted a session id beforehand ends up holding a dead one)."""
        self._load()
        if self._key is not None:
            self._old_key = self._key
        self._key = None
        self.modified = True

    def flush(self) -> None:
        """Remove all data and retire the id (call it on logout)."""
        self.clear()
        self.cycle_key()

    def set_expiry(self, seconds: int | None) -> None:
        """Set this session's lifetime: ``seconds`` from now, ``0`` until the browser closes,
        or None for the app's default (``SESSION_COOKIE_AGE``)."""
        data = self._load()
        if seconds is None:
            data.pop(_EXPIRY, None)
        elif seconds < 0:
            raise ValueError(f"Session expiry must be >= 0 seconds, got {seconds}.")
        else:
            data[_EXPIRY] = seconds
        self.modified = True

    def get_expiry_age(self) -> int | None:
        """Seconds this session lives for (None: until the browser closes)."""
        expiry = self._load().get(_EXPIRY)
        if expiry == 0 or (expiry is None and self._battery.browser_session):
            return None
        return int(expiry) if expiry is not None else self._battery.max_age


class Sessions(Extension):
    """The sessions battery: ``Sessions(app)``, or ``Sessions(app, store=RedisStore(url))``.

    Settings (``SESSION_*``; options drop the prefix: ``Sessions(app, cookie_name="sid")``):
    see ``SETTINGS`` in docs/sessions.md. ``SESSION_STORE`` is ``"cookie"``, a ``redis://`` URL,
    or a ``SessionStore`` instance.
    """

    name = "sessions"
    prefix = "SESSION_"
    settings: ClassVar[dict[str, Any]] = {
        "SESSION_STORE": "cookie",
        "SESSION_COOKIE_NAME": "session",
        "SESSION_COOKIE_AGE": 14 * 24 * 3600,
        "SESSION_EXPIRE_AT_BROWSER_CLOSE": False,
        "SESSION_COOKIE_DOMAIN": None,
        "SESSION_COOKIE_PATH": "/",
        "SESSION_COOKIE_SECURE": None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_SAVE_EVERY_REQUEST": False,
        "SESSION_MAX_SIZE": 4093,
    }

    middleware = False  # installed by init_app, with a save hook whose mode fits the store
    store: SessionStore

    def init_app(self, app: App) -> None:
        """Install on ``app`` (see ``Extension.init_app``)."""
        super().init_app(app)
        self._save_hook = _SaveHook(self)
        app.add_middleware(types.SimpleNamespace(after_request=self._save_hook))
        app.add_request_attribute("session", lambda request: Session(self, request))

    def configure(self, app: App) -> None:
        """Read the settings and build the store (when the app compiles).

        Raises:
            ImproperlyConfigured: no ``SECRET_KEY`` (``qiao.E201``) or a bad setting.
        """
        if not app.config["SECRET_KEY"]:
            raise ImproperlyConfigured(
                "qiao.E201: Sessions need SECRET_KEY to sign cookies, even with DEBUG on; set it "
                "(python -c 'import secrets; print(secrets.token_urlsafe(50))')."
            )
        self.cookie_name = str(self.setting("SESSION_COOKIE_NAME"))
        self.max_age = _whole(self.setting("SESSION_COOKIE_AGE"), "SESSION_COOKIE_AGE")
        self.browser_session = bool(self.setting("SESSION_EXPIRE_AT_BROWSER_CLOSE"))
        self.domain = self.setting("SESSION_COOKIE_DOMAIN")
        self.path = self.setting("SESSION_COOKIE_PATH")
        self.secure = self.setting("SESSION_COOKIE_SECURE")
        self.httponly = bool(self.setting("SESSION_COOKIE_HTTPONLY"))
        samesite = self.setting("SESSION_COOKIE_SAMESITE")
        if (samesite is not None and str(samesite).lower() not in _SAMESITE) or (
            str(samesite).lower() == "none" and self.secure is False
        ):
            raise ImproperlyConfigured(
                f"qiao.E202: SESSION_COOKIE_SAMESITE must be 'Lax', 'Strict', 'None' or None "
                f"('None' needs a Secure cookie, so not with SESSION_COOKIE_SECURE = False), "
                f"got {samesite!r}."
            )
        self.samesite = samesite
        self.save_every_request = bool(self.setting("SESSION_SAVE_EVERY_REQUEST"))
        #: the largest Set-Cookie name=value, in bytes (browsers keep up to about 4096)
        self.max_size = _whole(self.setting("SESSION_MAX_SIZE"), "SESSION_MAX_SIZE")
        store = self.setting("SESSION_STORE")
        if isinstance(store, str):
            store = self._store_from_url(app, store)
        if isinstance(store, type) or not all(
            callable(getattr(store, name, None)) for name in ("load", "save", "delete")
        ):
            raise ImproperlyConfigured(
                f"qiao.E203: SESSION_STORE must be 'cookie', 'memory', 'database', a redis:// "
                f"URL or a SessionStore instance (with load, save and delete), got {store!r}."
            )
        self.store = store
        if hasattr(store, "bind"):
            store.bind(app)
        templates = app.extensions.get("templates")
        if templates is not None:  # get_flashed_messages() in every template
            templates.context_processor(_flash_context)
        # PERF: only stores that do I/O pay for a thread hop under ASGI (plans are built after
        # this, so the mark takes effect).
        self._save_hook.__qiao_blocking__ = bool(getattr(store, "blocking", False))

    def _store_from_url(self, app: App, url: str) -> SessionStore:
        if url == "cookie":
            return CookieStore(
                max_size=_whole(self.setting("SESSION_MAX_SIZE"), "SESSION_MAX_SIZE")
            )
        if url.startswith(("redis://", "rediss://", "unix://")):
            return RedisStore(url)
        if url == "memory":
            return MemoryStore()
        if url == "database":
            from qiao.db._session_store import DatabaseSessionStore

            return DatabaseSessionStore()
        raise ImproperlyConfigured(
            f"qiao.E203: SESSION_STORE must be 'cookie', 'memory', 'database', a redis:// URL "
            f"or a SessionStore, "
            f"got {url!r}."
        )

    # -- per request ----------------------------------------------------------------------------
    def load(self, cookie: str | None) -> tuple[dict[str, Any], str | None]:
        """The data and store key for a cookie value; ``({}, None)`` for anything invalid."""
        if not cookie:
            return {}, None
        if len(cookie) > 8192:  # PERF/SECURITY: no verifying or looking up oversized junk
            return {}, None
        loaded = self.store.load(cookie)
        return loaded if loaded is not None else ({}, None)

    def _save(self, request: Request, response: Response) -> None:
        session: Session | None = request.__dict__.get("session")  # None: never used
        if session is None or not session.accessed:
            # SESSION_SAVE_EVERY_REQUEST renews a session on every request that carries one,
            # used by the view or not (an idle timeout that browsing keeps alive).
            if not (self.save_every_request and self.cookie_name in request.cookies):
                return
            session = request.session
            session._load()
        response.headers.add_vary("cookie")
        data = session._data if session._data is not None else {}
        if session._old_key is not None:
            self.store.delete(session._old_key)
        secure = request.is_secure if self.secure is None else bool(self.secure)
        samesite = self.samesite.lower() if self.samesite else None
        if samesite == "none":
            secure = True  # SameSite=None cookies must be Secure; browsers drop them otherwise
        if not data:
            if self.cookie_name in request.cookies and (
                session.modified or session._old_key is not None
            ):
                if session._key is not None:
                    self.store.delete(session._key)
                # The same attributes as when it was set: browsers refuse to delete a
                # __Host- or __Secure- cookie without Secure.
                response.delete_cookie(
                    self.cookie_name,
                    path=self.path,
                    domain=self.domain,
                    secure=secure,
                    httponly=self.httponly,
                    samesite=samesite,
                )
            return
        if not (session.modified or self.save_every_request):
            return
        age = session.get_expiry_age()
        store_age = age if age is not None else self.max_age
        value = self.store.save(session._key, data, store_age)
        size = len(self.cookie_name) + 1 + len(value)
        if size > self.max_size:
            raise SessionTooLarge(
                f"The session cookie would be {size} bytes (name and value), over "
                f"SESSION_MAX_SIZE ({self.max_size}); browsers drop such cookies. Keep less in "
                "the session, or keep sessions on the server: "
                "SESSION_STORE='redis://127.0.0.1:6379/0'."
            )
        response.set_cookie(
            self.cookie_name,
            value,
            max_age=age,
            expires=int(time.time()) + age if age is not None else None,
            path=self.path,
            domain=self.domain,
            secure=secure,
            httponly=self.httponly,
            samesite=samesite,
        )


class _SaveHook:
    """The after-request hook, as an object so its ``blocking`` mark is per app: a Redis store
    saves in the thread pool under ASGI, a cookie store inline."""

    __slots__ = ("__qiao_blocking__", "_battery")

    def __init__(self, battery: Sessions) -> None:
        self._battery = battery
        self.__qiao_blocking__ = False

    def __call__(self, request: Request, response: Response) -> None:
        self._battery._save(request, response)


def _whole(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ImproperlyConfigured(f"{name} must be a non-negative whole number, got {value!r}.")
    return value


# -- flash messages -----------------------------------------------------------------------------
def flash(request: Request, message: str, category: str = "info") -> None:
    """Queue ``message`` for the next page this client sees (kept in the session)."""
    session = request.session
    session[_FLASHES] = [*session.get(_FLASHES, []), [category, message]]


def _flash_context(request: Request) -> dict[str, Any]:
    return {"get_flashed_messages": functools.partial(get_flashed_messages, request)}


def get_flashed_messages(request: Request, with_categories: bool = False) -> list[Any]:
    """Take the queued messages (they are shown once): strings, or ``(category, message)``."""
    session = request.session
    if _FLASHES not in session:
        return []
    messages = session.pop(_FLASHES)
    if with_categories:
        return [(c, m) for c, m in messages]
    return [m for _, m in messages]
