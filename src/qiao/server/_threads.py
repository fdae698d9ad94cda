"""The WSGI app's threads: a bounded pool with less machinery per call than
``loop.run_in_executor`` (no ``concurrent.futures.Future`` chained to an asyncio one).

PERF: a WSGI request costs one queue put and one ``call_soon_threadsafe``, which is most of
the server's per-request overhead for WSGI apps.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any

__all__ = ["ThreadPool"]


def _resolve(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # cancelled meanwhile (the server is stopping)
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


class ThreadPool:
    """At most ``size`` threads that run calls for one event loop; threads start on demand."""

    def __init__(self, size: int, loop: asyncio.AbstractEventLoop, name: str) -> None:
        self.size = size
        self.loop = loop
        self.name = name
        self.queue: SimpleQueue[
            tuple[asyncio.Future[Any], Callable[..., Any], tuple[Any, ...]] | None
        ] = SimpleQueue()
        self.threads: list[threading.Thread] = []
        self.idle = 0
        self.lock = threading.Lock()

    def run(self, func: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Call ``func(*args)`` on a pool thread; the future resolves on the loop."""
        future = self.loop.create_future()
        self.queue.put((future, func, args))
        if self.idle <= 0 and len(self.threads) < self.size:
            self._start_thread()
        return future

    def _start_thread(self) -> None:
        with self.lock:
            if len(self.threads) >= self.size:
                return
            thread = threading.Thread(
                target=self._work, name=f"{self.name}_{len(self.threads)}", daemon=True
            )
            self.threads.append(thread)
            self.idle += 1
        thread.start()

    def _work(self) -> None:
        get = self.queue.get
        call_soon = self.loop.call_soon_threadsafe
        while True:
            item = get()
            if item is None:
                return
            with self.lock:
                self.idle -= 1
            future, func, args = item
            result: Any = None
            error: BaseException | None = None
            try:
                result = func(*args)
            except BaseException as exc:  # NOTE: handed to the awaiting coroutine
                error = exc
            # NOTE: the loop may have closed while the app ran; then nobody is waiting.
            with contextlib.suppress(RuntimeError):
                call_soon(_resolve, future, result, error)
            del item, future, func, args, result, error
            with self.lock:
                self.idle += 1

    def shutdown(self) -> None:
        """Let every thread finish its call and exit (does not wait)."""
        for _ in self.threads:
            self.queue.put(None)
