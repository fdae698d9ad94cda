"""Bridges between sync and async code: the cheapest correct one for each direction.

- sync code on an event loop: a bounded thread pool, with the caller's context variables;
- async code on a WSGI worker thread: that thread's own event loop, made once and reused.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_local = threading.local()


#: The error for a sync body read inside a coroutine, under any server.
SYNC_READ_IN_ASYNC = (
    "A sync body read (request.body(), json(), form(), stream()) ran inside a coroutine; in "
    "async views and async hooks use await request.abody(), ajson(), aform() or astream()."
)


def run_coroutine_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on this thread's event loop (created on first use).

    Raises:
        RuntimeError: called on a thread whose event loop is already running (an async view
            must ``await`` instead).
    """
    holder: _LoopHolder | None = getattr(_local, "holder", None)
    loop = holder.loop if holder is not None else None
    if loop is None or loop.is_closed():
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            coro.close()
            raise RuntimeError(
                "Cannot block on a coroutine from inside a running event loop; await it."
            )
        _local.holder = _LoopHolder()
        loop = _local.holder.loop
    return loop.run_until_complete(coro)


class _LoopHolder:
    """Owns a thread's event loop and closes it when the thread ends (its locals are freed)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def __del__(self) -> None:
        self.loop.close()


async def run_in_thread(
    executor: ThreadPoolExecutor | None, func: Callable[..., T], *args: Any, **kwargs: Any
) -> T:
    """Run the sync ``func`` in ``executor`` without blocking the event loop."""
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    context.run(_worker_loop.set, loop)
    call = functools.partial(context.run, func, *args, **kwargs)
    return await loop.run_in_executor(executor, call)


_worker_loop: contextvars.ContextVar[asyncio.AbstractEventLoop | None] = contextvars.ContextVar(
    "qiao_worker_loop", default=None
)


def worker_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop that handed this worker thread its job (``run_in_thread``), or None
    on the loop's own thread and on threads no loop started."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _worker_loop.get()
    return None


def is_async_callable(func: Any) -> bool:
    """True for ``async def`` functions, methods, partials of them and objects whose
    ``__call__`` is ``async def``."""
    while isinstance(func, functools.partial):
        func = func.func
    call = None if inspect.isroutine(func) else inspect.getattr_static(type(func), "__call__", None)
    return asyncio.iscoroutinefunction(func) or asyncio.iscoroutinefunction(call)
