"""Helpers for the sessions tests: a demo app, cookie parsing, forged cookies, Redis access.

``session_app()`` builds a small app whose views read, write, clear and cycle the session, so
each test states only what it checks. ``forge()`` signs a cookie-store payload the way the
store does (``{"d": data, "x": expires_at}``, salt ``qiao.sessions``), which lets a test travel
in time without patching the clock. ``server_app()`` is the same app for real servers: its
store comes from the environment (``QIAO_SESSIONS_TEST_STORE``).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec
from itsdangerous import URLSafeTimedSerializer

import qiao
from qiao.session_stores import MemoryStore, RedisStore, SessionStore
from qiao.sessions import Sessions, flash, get_flashed_messages
from qiao.signing import Signer

SECRET = "test-secret"
#: The salt the cookie store signs with; ``test_cookie_store_payload_is_signed_data`` pins it.
SESSION_SALT = "qiao.sessions"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
#: Two weeks: the default SESSION_COOKIE_AGE.
TWO_WEEKS = 14 * 24 * 3600


# -- the app under test -------------------------------------------------------------------------
def session_app(
    *, store: SessionStore | str | None = None, prefix: str = "", **config: Any
) -> qiao.App:
    """An app with the sessions battery and views that exercise it.

    Views (under ``prefix``): ``/none`` never touches the session; ``/read`` returns it as JSON;
    ``/has`` asks ``"user" in session``; ``/write?k=v...`` sets keys; ``/set`` stores the JSON
    body's object; ``/clear``, ``/flush``, ``/login`` (sets ``user`` and cycles the key);
    ``/expiry/<int:seconds>`` and ``/expiry/default``; ``/age`` (``get_expiry_age()``); ``/key``
    (the store key); ``/async/read`` and ``/async/write`` are async views using ``aload``.
    """
    app = qiao.App(__name__, config={"SECRET_KEY": SECRET, **config})
    options: dict[str, Any] = {} if store is None else {"store": store}
    Sessions(app, **options)

    @app.get(prefix + "/none")
    def none(request: Any) -> str:
        return "untouched"

    @app.get(prefix + "/read")
    def read(request: Any) -> dict[str, Any]:
        return dict(request.session)

    @app.get(prefix + "/has")
    def has(request: Any) -> str:
        return "yes" if "user" in request.session else "no"

    @app.get(prefix + "/write")
    def write(request: Any) -> dict[str, Any]:
        for key, value in request.query.items():
            request.session[key] = value
        return dict(request.session)

    @app.post(prefix + "/set")
    def set_json(request: Any) -> dict[str, Any]:
        request.session.update(request.json())
        return dict(request.session)

    @app.get(prefix + "/clear")
    def clear(request: Any) -> str:
        request.session.clear()
        return "cleared"

    @app.get(prefix + "/flush")
    def flush(request: Any) -> str:
        request.session.flush()
        return "flushed"

    @app.get(prefix + "/login")
    def login(request: Any) -> dict[str, Any]:
        request.session["user"] = request.query.get("user", "alice")
        request.session.cycle_key()
        return dict(request.session)

    @app.get(prefix + "/expiry/<int:seconds>")
    def expiry(request: Any, seconds: int) -> str:
        request.session["user"] = "alice"
        request.session.set_expiry(seconds)
        return str(request.session.get_expiry_age())

    @app.get(prefix + "/expiry/default")
    def expiry_default(request: Any) -> str:
        request.session.set_expiry(None)
        return str(request.session.get_expiry_age())

    @app.get(prefix + "/age")
    def age(request: Any) -> str:
        return str(request.session.get_expiry_age())

    @app.get(prefix + "/key")
    def key(request: Any) -> str:
        return str(request.session.key)

    @app.get(prefix + "/async/read")
    async def async_read(request: Any) -> dict[str, Any]:
        await request.session.aload()
        return dict(request.session)

    @app.get(prefix + "/async/write")
    async def async_write(request: Any) -> dict[str, Any]:
        await request.session.aload()
        for name, value in request.query.items():
            request.session[name] = value
        return dict(request.session)

    @app.get(prefix + "/flash")
    def add_flash(request: Any) -> str:
        flash(request, request.query["m"], request.query.get("c", "info"))
        return "flashed"

    @app.get(prefix + "/flashes")
    def show_flashes(request: Any) -> list[Any]:
        return [list(pair) for pair in get_flashed_messages(request, with_categories=True)]

    @app.get(prefix + "/messages")
    def show_messages(request: Any) -> list[Any]:
        return get_flashed_messages(request)

    return app


def server_app() -> qiao.App:
    """``session_app()`` for a real server (``uvicorn --factory``, gunicorn ``server_app()``).

    ``QIAO_SESSIONS_TEST_STORE``: ``cookie`` (the default) or a redis URL;
    ``QIAO_SESSIONS_TEST_PREFIX``: the Redis key prefix. ``/pid`` answers the worker's pid.
    """
    url = os.environ.get("QIAO_SESSIONS_TEST_STORE", "cookie")
    store: SessionStore | str = url
    if url != "cookie":
        store = RedisStore(url, prefix=os.environ["QIAO_SESSIONS_TEST_PREFIX"])
    app = session_app(store=store)

    @app.get("/pid")
    def pid(request: Any) -> dict[str, Any]:
        return {"pid": os.getpid(), "session": dict(request.session)}

    return app


# -- cookies ------------------------------------------------------------------------------------
@dataclass
class SetCookie:
    """One parsed ``Set-Cookie`` header: name, value and attributes (keys lower-cased)."""

    name: str
    value: str
    attrs: dict[str, str | bool] = field(default_factory=dict)

    @property
    def deletes(self) -> bool:
        """True when the header removes the cookie (empty value, ``Max-Age=0``)."""
        return self.value == "" and self.attrs.get("max-age") == "0"


def set_cookies(response: httpx.Response) -> dict[str, SetCookie]:
    """Every ``Set-Cookie`` of ``response``, by cookie name."""
    found: dict[str, SetCookie] = {}
    for header in response.headers.get_list("set-cookie"):
        pair, *attributes = (part.strip() for part in header.split(";"))
        name, _, value = pair.partition("=")
        attrs: dict[str, str | bool] = {}
        for attribute in attributes:
            key, has_value, attr_value = attribute.partition("=")
            attrs[key.lower()] = attr_value if has_value else True
        found[name] = SetCookie(name, value, attrs)
    return found


def session_cookie(response: httpx.Response, name: str = "session") -> SetCookie | None:
    """The ``Set-Cookie`` for the session cookie, or None when the response sets none."""
    return set_cookies(response).get(name)


def vary(response: httpx.Response) -> set[str]:
    """The field names in ``Vary``, lower-cased."""
    value = response.headers.get("vary", "")
    return {part.strip().lower() for part in value.split(",") if part.strip()}


def with_cookie(value: str, name: str = "session") -> dict[str, str]:
    """Request headers that send exactly this cookie (the client's jar is not consulted)."""
    return {"cookie": f"{name}={value}"}


# -- forging cookie-store values ----------------------------------------------------------------
def forge(
    data: Any,
    *,
    expires_at: Any = None,
    key: str = SECRET,
    salt: str = SESSION_SALT,
    payload: Any = None,
) -> str:
    """A cookie-store value for ``data`` that expires at ``expires_at`` (a Unix time; default
    an hour from now), signed like the store signs. ``payload`` replaces the whole payload."""
    if payload is None:
        when = int(time.time()) + 3600 if expires_at is None else expires_at
        payload = {"d": data, "x": when}
    return Signer(key, salt=salt).dumps(payload)


class _RawText:
    """An itsdangerous serializer that signs text as is (to forge a payload that is not JSON)."""

    @staticmethod
    def dumps(obj: Any) -> str:
        return str(obj)

    @staticmethod
    def loads(data: str | bytes) -> Any:
        return data


def forge_raw(text: str, *, key: str = SECRET, salt: str = SESSION_SALT) -> str:
    """A value with a valid signature over ``text``, which need not be JSON."""
    serializer = URLSafeTimedSerializer(
        [key], salt=salt, serializer=_RawText, signer_kwargs={"digest_method": hashlib.sha256}
    )
    token: str = serializer.dumps(text)
    return token


def unsign(value: str, *, key: str = SECRET, fallbacks: tuple[str, ...] = ()) -> Any:
    """The payload of a cookie-store value (raises ``BadSignature`` for another key)."""
    return Signer(key, fallbacks=fallbacks, salt=SESSION_SALT).loads(value)


# -- stores that record what they do ------------------------------------------------------------
class RecordingRedisStore(RedisStore):
    """A Redis store that records the thread each load and save ran on."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.threads: list[tuple[str, str]] = []

    def load(self, cookie: str) -> tuple[dict[str, Any], str | None] | None:
        self.threads.append(("load", threading.current_thread().name))
        return super().load(cookie)

    def save(self, key: str | None, data: dict[str, Any], max_age: int) -> str:
        self.threads.append(("save", threading.current_thread().name))
        return super().save(key, data, max_age)


class RecordingMemoryStore(MemoryStore):
    """A memory store (not blocking) that records the thread each save ran on."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[str] = []

    def save(self, key: str | None, data: dict[str, Any], max_age: int) -> str:
        self.threads.append(threading.current_thread().name)
        return super().save(key, data, max_age)


class DictStore:
    """A custom store in a dozen lines: what the ``SessionStore`` protocol asks for."""

    blocking = False

    def __init__(self) -> None:
        self.rows: dict[str, tuple[dict[str, Any], int]] = {}
        self.deleted: list[str] = []
        self._next = 0

    def load(self, cookie: str) -> tuple[dict[str, Any], str | None] | None:
        row = self.rows.get(cookie)
        return (dict(row[0]), cookie) if row is not None else None

    def save(self, key: str | None, data: dict[str, Any], max_age: int) -> str:
        if key is None:
            self._next += 1
            key = f"row{self._next}"
        # NOTE: a copy through JSON, as a real store would keep it.
        self.rows[key] = (msgspec.json.decode(msgspec.json.encode(data)), max_age)
        return key

    def delete(self, key: str) -> None:
        self.deleted.append(key)
        self.rows.pop(key, None)


class CountingRedis:
    """Wraps a redis client and records the keys ``get`` was asked for."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.gets: list[str] = []

    def get(self, name: str) -> Any:
        self.gets.append(name)
        return self._client.get(name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


# -- Redis --------------------------------------------------------------------------------------
@dataclass
class RedisEnv:
    """A reachable Redis server and a key prefix unique to one test (removed after it)."""

    url: str
    client: Any  # redis.Redis
    prefix: str
    _stores: list[RedisStore] = field(default_factory=list)

    def store(self, cls: type[RedisStore] = RedisStore, **kwargs: Any) -> Any:
        """A store with its own connection (as another process would have), closed after."""
        store = cls(self.url, prefix=self.prefix, **kwargs)
        self._stores.append(store)
        return store

    def keys(self) -> list[str]:
        """The session ids stored under this test's prefix."""
        found = self.client.scan_iter(match=self.prefix + "*")
        return sorted(k.decode()[len(self.prefix) :] for k in found)

    def exists(self, session_id: str) -> bool:
        return bool(self.client.exists(self.prefix + session_id))

    def ttl(self, session_id: str) -> int:
        return int(self.client.ttl(self.prefix + session_id))

    def raw(self, session_id: str) -> Any:
        value = self.client.get(self.prefix + session_id)
        return None if value is None else msgspec.json.decode(value)

    def cleanup(self) -> None:
        for key in list(self.client.scan_iter(match=self.prefix + "*")):
            self.client.delete(key)
        for store in self._stores:
            store.client.close()
        self.client.close()


def redis_url() -> str:
    return os.environ.get("QIAO_TEST_REDIS_URL", DEFAULT_REDIS_URL)


def services_required() -> bool:
    """``QIAO_REQUIRE_SERVICES=1``: a missing service fails the test instead of skipping it."""
    return os.environ.get("QIAO_REQUIRE_SERVICES", "") == "1"
