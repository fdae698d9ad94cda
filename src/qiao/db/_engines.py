"""The async engines: one per event loop.

An ``AsyncEngine``'s pool and connections belong to the event loop that first used them:
SQLAlchemy's asyncio locks (the first connect, the pool's queue) wake their waiters on that
loop, and a driver's connection waits on its socket there. A threaded WSGI server runs async
views on an event loop of each worker thread's own, so one engine shared by the threads hangs.
The battery keeps one engine per loop instead, made the first time the loop needs one.

An engine whose loop has closed (its thread ended) is disposed of the next time an engine is
made, in a thread of its own, and at shut-down (``db.dispose()``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["LoopEngines"]

logger = logging.getLogger("qiao.db")
#: Seconds ``dispose()`` waits for another thread's running loop to dispose of its engine,
#: before disposing of it from the caller's loop instead.
DISPOSE_TIMEOUT = 10.0
Loop = asyncio.AbstractEventLoop


class LoopEngines:
    """The async engines of one ``Database``, by event loop; ``make()`` makes one.

    Outside a running loop the key is the loop this thread last ran (a WSGI worker thread's
    own, between the async calls of a request) while it is open, else ``None``: an engine for
    code that has no loop yet (``asyncio.run(db.async_engine.dispose())``).
    """

    def __init__(self, make: Callable[[], AsyncEngine], lock: threading.RLock) -> None:
        self._make = make
        self._lock = lock
        self._engines: dict[Loop | None, AsyncEngine] = {}
        self._local = threading.local()

    def get(self) -> AsyncEngine:
        """The current loop's engine, made now if it has none.

        PERF: a dictionary look-up without the lock; the lock is taken to make an engine.
        """
        loop = self._loop()
        engine = self._engines.get(loop)
        return engine if engine is not None else self._add(loop)

    def find(self) -> AsyncEngine | None:
        """The current loop's engine, or None if it has none yet (nothing is made)."""
        return self._engines.get(self._loop())

    def forget(self) -> None:
        """Drop the current loop's engine (the caller disposed of it); the next use makes one."""
        with self._lock:
            self._engines.pop(self._loop(), None)

    def all(self) -> list[AsyncEngine]:
        """Every engine made and not yet dropped."""
        with self._lock:
            return list(self._engines.values())

    def _loop(self) -> Loop | None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            last: Loop | None = getattr(self._local, "loop", None)
            return last if last is not None and not last.is_closed() else None
        if getattr(self._local, "loop", None) is not loop:
            self._local.loop = loop
        return loop

    def _add(self, loop: Loop | None) -> AsyncEngine:
        with self._lock:
            engine = self._engines.get(loop)
            if engine is not None:
                return engine
            engine = self._make()  # may raise (the database is unavailable): nothing is kept
            stale = [key for key in self._engines if key is not None and key.is_closed()]
            gone = [self._engines.pop(key) for key in stale]
            self._engines[loop] = engine
        if gone:
            _dispose_in_thread(gone)
        return engine

    async def dispose(self) -> None:
        """Close every engine's pooled connections, each on its own loop when that loop is
        running in another thread; the engines of closed loops are dropped."""
        here = asyncio.get_running_loop()
        with self._lock:
            engines = list(self._engines.items())
            for key, _ in engines:
                if key is not None and key.is_closed():
                    del self._engines[key]
        for key, engine in engines:
            if key is None or key is here or not key.is_running():
                # NOTE: an idle or closed loop's connections are idle: closing them from this
                # loop is safe (aiosqlite and psycopg close without their loop).
                await engine.dispose()
            else:
                await _dispose_on(key, engine)


async def _dispose_on(loop: Loop, engine: AsyncEngine) -> None:
    future = asyncio.run_coroutine_threadsafe(engine.dispose(), loop)
    try:
        await asyncio.wait_for(asyncio.wrap_future(future), DISPOSE_TIMEOUT)
    except TimeoutError:  # that loop stopped before running it
        future.cancel()
        await engine.dispose()


def _dispose_in_thread(engines: list[AsyncEngine]) -> None:
    """Dispose of ``engines`` (their loops are closed) on a loop of a short-lived thread: the
    caller may be on a running loop, and must not wait for the connections to close."""

    async def dispose_all() -> None:
        for engine in engines:
            await engine.dispose()

    def run() -> None:
        try:
            asyncio.run(dispose_all())
        except Exception:  # pragma: no cover - a driver failing to close
            logger.exception("Disposing of the async engines of closed event loops failed")

    thread = threading.Thread(target=run, name="qiao-db-dispose")
    thread.start()
