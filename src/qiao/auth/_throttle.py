"""Login throttling: refuse a username or an address after repeated failures, for a while.

Each failed login counts against the username and the client's address for
``AUTH_THROTTLE_WINDOW`` seconds (a fixed window from the first failure). Once either count
reaches its limit, ``authenticate`` raises ``LoginThrottled`` (a 429) without checking the
password until the window ends; a successful login clears the username's count.

The counts live in a ``ThrottleStore``: process memory by default, Redis
(``AUTH_THROTTLE_STORE = "redis://..."``) when several processes serve the app.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from typing import Any, Protocol

from qiao.http.exceptions import ImproperlyConfigured, TooManyRequests

__all__ = ["THROTTLE_MESSAGE", "LoginThrottled", "MemoryThrottleStore", "RedisThrottleStore"]

#: The message of a refused login; ``{minutes}`` is rounded up, at least 1.
THROTTLE_MESSAGE = "Too many failed attempts. Try again in {minutes} minutes."
_ONE_MINUTE = "Too many failed attempts. Try again in 1 minute."


class LoginThrottled(TooManyRequests):
    """429: too many failed logins for this username or address.

    Attributes:
        retry_after: seconds until logins are accepted again.
    """

    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        minutes = max(1, math.ceil(self.retry_after / 60))
        message = _ONE_MINUTE if minutes == 1 else THROTTLE_MESSAGE.format(minutes=minutes)
        super().__init__(message, headers={"retry-after": str(self.retry_after)})


class ThrottleStore(Protocol):
    """Where failure counts live.

    Attributes:
        blocking: True when the store does I/O (async code then calls it in a thread).
    """

    blocking: bool

    def get(self, key: str) -> tuple[int, float]:
        """The count under ``key`` and the seconds its window has left (``(0, 0)``: none)."""
        ...

    def hit(self, key: str, window: int) -> tuple[int, float]:
        """Add one failure; a new count opens a window of ``window`` seconds."""
        ...

    def reset(self, key: str) -> None:
        """Forget the count under ``key``."""
        ...


class MemoryThrottleStore:
    """Counts in this process's memory: for one process (and tests)."""

    blocking = False

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()
        self._next_sweep = 0.0

    def _sweep(self, now: float) -> None:
        # PERF: expired windows are dropped at most once a minute, so memory stays bounded by
        # the failures of the last window without a timer thread.
        if now >= self._next_sweep:
            self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
            self._next_sweep = now + 60

    def get(self, key: str) -> tuple[int, float]:
        """See ``ThrottleStore.get``."""
        now = time.monotonic()
        with self._lock:
            count, expires = self._counts.get(key, (0, 0.0))
        return (count, expires - now) if expires > now else (0, 0.0)

    def hit(self, key: str, window: int) -> tuple[int, float]:
        """See ``ThrottleStore.hit``."""
        now = time.monotonic()
        with self._lock:
            self._sweep(now)
            count, expires = self._counts.get(key, (0, 0.0))
            if expires <= now:
                count, expires = 0, now + window
            self._counts[key] = (count + 1, expires)
        return count + 1, expires - now

    def reset(self, key: str) -> None:
        """See ``ThrottleStore.reset``."""
        with self._lock:
            self._counts.pop(key, None)


class RedisThrottleStore:
    """Counts in Redis (one key per username or address, expiring with its window), shared
    by every process and machine.

    Args:
        url: ``redis://host:port/db``.
        prefix: the start of every key.
        client: a ``redis.Redis`` to use instead of connecting to ``url``.
    """

    blocking = True

    def __init__(
        self, url: str = "", *, prefix: str = "qiao:auth:throttle:", client: Any = None
    ) -> None:
        if client is None:
            try:
                import redis
            except ImportError:  # pragma: no cover - depends on the install
                raise ImproperlyConfigured(
                    "qiao.E508: AUTH_THROTTLE_STORE is a Redis URL but redis-py is missing: "
                    "pip install 'qiao[redis]'."
                ) from None
            client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.client = client
        self.prefix = prefix

    def get(self, key: str) -> tuple[int, float]:
        """See ``ThrottleStore.get``."""
        name = self.prefix + key
        pipe = self.client.pipeline(transaction=False)
        pipe.get(name)
        pipe.pttl(name)
        raw, ttl = pipe.execute()
        if raw is None or ttl is None or ttl <= 0:
            return 0, 0.0
        return int(raw), ttl / 1000

    def hit(self, key: str, window: int) -> tuple[int, float]:
        """See ``ThrottleStore.hit``: ``SET NX EX`` opens the window, ``INCR`` counts."""
        name = self.prefix + key
        pipe = self.client.pipeline(transaction=True)
        pipe.set(name, 0, ex=window, nx=True)
        pipe.incr(name)
        pipe.pttl(name)
        _, count, ttl = pipe.execute()
        return int(count), max(ttl, 0) / 1000

    def reset(self, key: str) -> None:
        """See ``ThrottleStore.reset``."""
        self.client.delete(self.prefix + key)


def username_key(username: str) -> str:
    """The store key for a username (hashed: keys hold no personal data)."""
    digest = hashlib.sha256(username.casefold().encode()).hexdigest()[:32]
    return "user:" + digest


def address_key(address: str) -> str:
    """The store key for a client address."""
    return "ip:" + address


class Throttle:
    """The policy: limits, the window, and the store.

    Args:
        store: where counts live.
        failures: failures allowed per username in a window.
        address_failures: failures allowed per client address in a window.
        window: seconds.
    """

    def __init__(
        self, store: ThrottleStore, failures: int, address_failures: int, window: int
    ) -> None:
        self.store = store
        self.failures = failures
        self.address_failures = address_failures
        self.window = window

    def _keys(self, username: str, address: str | None) -> list[tuple[str, int]]:
        keys = [(username_key(username), self.failures)]
        if address:
            keys.append((address_key(address), self.address_failures))
        return keys

    def check(self, username: str, address: str | None) -> None:
        """Raise ``LoginThrottled`` when the username or the address is over its limit."""
        waits = []
        for key, limit in self._keys(username, address):
            count, left = self.store.get(key)
            if count >= limit > 0:
                waits.append(left)
        if waits:
            raise LoginThrottled(max(waits))

    def failed(self, username: str, address: str | None) -> None:
        """Count a failed login."""
        for key, _ in self._keys(username, address):
            self.store.hit(key, self.window)

    def succeeded(self, username: str) -> None:
        """Clear the username's count after a successful login."""
        self.store.reset(username_key(username))
