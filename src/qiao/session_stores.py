"""Where session data lives: a signed cookie, Redis, process memory, or your own store.

A store turns session data into the value of the session cookie and back. Write your own (a
database table, memcached) by implementing ``SessionStore``; the sessions battery does the rest
(laziness, saving only when modified, cookie flags, expiry, ``cycle_key``).
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from qiao.http.exceptions import ImproperlyConfigured
from qiao.signing import BadSignature, Signer

if TYPE_CHECKING:
    from qiao.app import App

__all__ = ["CookieStore", "MemoryStore", "RedisStore", "SessionStore", "SessionTooLarge"]

#: Session ids of server-side stores: 43 URL-safe characters (256 random bits).
_KEY = re.compile(r"[A-Za-z0-9_\-]{43}")
_decoder = msgspec.json.Decoder(dict[str, Any])


class SessionTooLarge(ValueError):
    """The session no longer fits in a cookie; a programming error, raised on save."""


class SessionStore(Protocol):
    """The interface of a session store.

    Attributes:
        blocking: True when the store does I/O; its saves then run in the app's thread pool
            under ASGI, and async views should ``await request.session.aload()``.
    """

    blocking: bool

    def load(self, cookie: str) -> tuple[dict[str, Any], str | None] | None:
        """The data and the store key for a cookie value, or None (unknown, expired, invalid).
        Must not raise for any cookie a client can send."""
        ...

    def save(self, key: str | None, data: dict[str, Any], max_age: int) -> str:
        """Store ``data`` for ``max_age`` seconds under ``key`` (None: a new key) and return the
        cookie value to send."""
        ...

    def delete(self, key: str) -> None:
        """Forget the data under ``key`` (no error when it is already gone)."""
        ...


def new_key() -> str:
    """A fresh, unguessable session id."""
    return secrets.token_urlsafe(32)


class CookieStore:
    """The data itself, signed (HMAC-SHA256 with ``SECRET_KEY``, verified with
    ``SECRET_KEY_FALLBACKS`` too) and carried in the cookie. No server state; the client can
    read the data (it is signed, not encrypted), so keep secrets out of it.

    Args:
        max_size: the largest cookie value; browsers drop cookies past about 4 KB.
    """

    blocking = False

    def __init__(self, max_size: int = 4093) -> None:
        self.max_size = max_size
        self._signer: Signer | None = None

    def bind(self, app: App) -> None:
        """Take the signing keys from ``app`` (called when the app compiles)."""
        self._signer = Signer.from_app(app, salt="qiao.sessions")

    def _signer_or_raise(self) -> Signer:
        if self._signer is None:
            raise ImproperlyConfigured("CookieStore is not bound to an app; install Sessions.")
        return self._signer

    def load(self, cookie: str) -> tuple[dict[str, Any], str | None] | None:
        """Verify the signature and the expiry time inside the payload."""
        try:
            payload = self._signer_or_raise().loads(cookie)
        except BadSignature:
            return None
        if (
            not isinstance(payload, dict)
            or not isinstance(payload.get("d"), dict)
            or not isinstance(payload.get("x"), int)
            or payload["x"] < time.time()
        ):
            return None
        return payload["d"], None

    def save(self, key: str | None, data: dict[str, Any], max_age: int) -> str:
        """Sign the data with its expiry time.

        Raises:
            SessionTooLarge: the cookie would be over ``max_size``.
        """
        value = self._signer_or_raise().dumps({"d": data, "x": int(time.time()) + max_age})
        if len(value) > self.max_size:
            raise SessionTooLarge(
                f"The session cookie would be {len(value)} bytes, over SESSION_MAX_SIZE "
                f"({self.max_size}); browsers drop such cookies. Keep less in the session, or "
                "keep sessions on the server: SESSION_STORE='redis://127.0.0.1:6379/0'."
            )
        return value

    def delete(self, key: str) -> None:
        """Nothing to forget on the server."""


class RedisStore:
    """Session data in Redis, under ``prefix + id`` with a TTL; the cookie holds only the id.

    Shared by every process and machine that uses the same Redis, and a logout or
    ``cycle_key`` really retires the old id. Needs ``pip install 'qiao[redis]'``.

    Args:
        url: ``redis://host:port/db`` (or ``rediss://``, ``unix://``), or pass ``client``.
        client: a ready ``redis.Redis`` client (sync).
        prefix: the key prefix in Redis.
    """

    blocking = True

    def __init__(
        self, url: str | None = None, *, client: Any = None, prefix: str = "qiao:session:"
    ) -> None:
        if client is None:
            try:
                import redis
            except ImportError:
                raise ImproperlyConfigured(
                    "The Redis session store needs redis-py: pip install 'qiao[redis]'"
                ) from None
            if url is None:
                raise TypeError("RedisStore needs a url or a client.")
            client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.client = client
        self.prefix = prefix

    def load(self, cookie: str) -> tuple[dict[str, Any], str | None] | None:
        """Fetch the data for the id in the cookie (ids of the wrong shape are not looked up)."""
        if not _KEY.fullmatch(cookie):
            return None
        raw = self.client.get(self.prefix + cookie)
        if raw is None:
            return None
        try:
            return _decoder.decode(raw), cookie
        except msgspec.DecodeError:
            return None

    def save(self, key: str | None, data: dict[str, Any], max_age: int) -> str:
        """Store the data with a TTL of ``max_age`` seconds; a new id when ``key`` is None."""
        key = key or new_key()
        self.client.set(self.prefix + key, msgspec.json.encode(data), ex=max(max_age, 1))
        return key

    def delete(self, key: str) -> None:
        """Delete the id's data."""
        self.client.delete(self.prefix + key)


class MemoryStore:
    """Session data in this process's memory: for tests and single-process development only
    (lost on restart, not shared between workers)."""

    blocking = False

    def __init__(self) -> None:
        self._data: dict[str, tuple[float, bytes]] = {}
        self._lock = threading.Lock()

    def load(self, cookie: str) -> tuple[dict[str, Any], str | None] | None:
        """The live data for the id in the cookie."""
        with self._lock:
            entry = self._data.get(cookie)
        if entry is None or entry[0] < time.monotonic():
            return None
        return _decoder.decode(entry[1]), cookie

    def save(self, key: str | None, data: dict[str, Any], max_age: int) -> str:
        """Keep the data (as JSON, like the other stores) until ``max_age`` seconds from now."""
        key = key or new_key()
        with self._lock:
            now = time.monotonic()
            for stale in [k for k, (exp, _) in self._data.items() if exp < now]:
                del self._data[stale]
            self._data[key] = (now + max_age, msgspec.json.encode(data))
        return key

    def delete(self, key: str) -> None:
        """Forget the id."""
        with self._lock:
            self._data.pop(key, None)
