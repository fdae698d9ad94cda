"""``on_commit``: callbacks that run once a session's outermost transaction has committed.

Callbacks are kept per transaction, as Django keeps them per ``atomic`` block:

1. ``on_commit`` files the callback under the innermost transaction open now (a savepoint of
   ``begin_nested()``, else the outermost transaction; before the first query, the outermost
   transaction the session begins next).
2. A savepoint that is released hands its callbacks to the transaction around it; one that
   rolls back drops them (its data was never saved).
3. The outermost transaction's callbacks become *ready* when it commits, and are dropped when
   it rolls back (closing a session rolls its transaction back).
4. Ready callbacks run: on sessions the battery runs (``request.db``, ``request.adb``,
   ``db.session()``, ``db.asession()``) after its commit and close, where an ``async def``
   callback can be awaited under an async session; on any other session, right after the
   commit.

NOTE: SQLAlchemy fires ``after_commit`` when a savepoint is released too, so "committed" alone
cannot tell the request's commit from a savepoint's; the transaction that ended (from
``after_transaction_end``) can.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

__all__ = ["QiaoSession", "arun_ready", "managed", "on_commit", "run_ready"]

logger = logging.getLogger("qiao.db")
Callback = Callable[[], Any]
#: ``session.info`` keys: callbacks by transaction (``None``: the next outermost one), the
#: ready ones, the transaction ``after_commit`` saw, whether the battery runs the ready ones,
#: and whether a session of another class has the listeners.
_PENDING = "qiao_on_commit_pending"
_READY = "qiao_on_commit_ready"
_COMMITTED = "qiao_on_commit_committed"
_MANAGED = "qiao_on_commit_managed"
_LISTENING = "qiao_on_commit_listening"
#: Why an ``async def`` callback did not run.
ASYNC_CALLBACK_ON_SYNC = (
    "an async on_commit callback needs an async session the battery runs "
    "(request.adb or db.asession()); this one cannot await it"
)


def on_commit(session: Session | AsyncSession, callback: Callback) -> None:
    """Run ``callback()`` after ``session``'s outermost transaction commits; never if it rolls
    back.

    For work that must not happen for data that was never saved: e-mails, tasks, cache
    invalidation. In a request the battery runs the callbacks after its commit (an async
    callback is awaited under ``request.adb``); in ``db.session()`` blocks, when the block ends;
    on a session of your own, right after its commit. A callback registered inside a savepoint
    (``begin_nested()``) waits for the outermost commit, and is dropped if the savepoint rolls
    back.
    """
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    if not isinstance(sync, QiaoSession) and not sync.info.get(_LISTENING):
        # PERF: QiaoSession listens once, on the class; any other session gets its own
        # listeners on first use instead of every Session of the process paying for them.
        for name, listener in _LISTENERS:
            event.listen(sync, name, listener)
        sync.info[_LISTENING] = True
    transaction = sync.get_nested_transaction() or sync.get_transaction()
    pending: dict[SessionTransaction | None, list[Callback]] = sync.info.setdefault(_PENDING, {})
    pending.setdefault(transaction, []).append(callback)


def managed(session: Session) -> Session:
    """Mark ``session`` as run by the battery: it runs the ready callbacks itself (``run_ready``
    or ``arun_ready``) after its commit and close."""
    session.info[_MANAGED] = True
    return session


def run_ready(session: Session) -> None:
    """Run ``session``'s ready callbacks, logging (not raising) their errors."""
    _run(session.info.pop(_READY, None) or [])


async def arun_ready(session: Session) -> None:
    """Run ``session``'s ready callbacks, awaiting ``async def`` ones."""
    for callback in session.info.pop(_READY, None) or []:
        try:
            result = callback()
            if asyncio.iscoroutine(result):
                await result
        except Exception:
            logger.exception("on_commit callback %r failed", callback)


def _run(callbacks: list[Callback]) -> None:
    for callback in callbacks:
        try:
            result = callback()
            if asyncio.iscoroutine(result):
                result.close()
                raise TypeError(ASYNC_CALLBACK_ON_SYNC)
        except Exception:
            logger.exception("on_commit callback %r failed", callback)


def _after_transaction_create(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        pending = session.info.get(_PENDING)
        if pending and None in pending:  # registered before the session began this one
            pending[transaction] = pending.pop(None)


def _after_commit(session: Session) -> None:
    # The transaction committing is still the session's innermost one here; it ends next.
    session.info[_COMMITTED] = session.get_nested_transaction() or session.get_transaction()


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    committed = session.info.pop(_COMMITTED, None) is transaction
    pending = session.info.get(_PENDING)
    if not pending:  # PERF: most transactions have no callbacks
        return
    callbacks = pending.pop(transaction, None)
    if not callbacks or not committed:
        return  # none here, or rolled back: a rolled-back transaction's callbacks are dropped
    outer = transaction.parent
    while outer is not None and not (outer.nested or outer.parent is None):
        outer = outer.parent  # skip SQLAlchemy's internal subtransactions
    if outer is not None:  # a released savepoint: its callbacks wait for the one around it
        pending.setdefault(outer, []).extend(callbacks)
    elif session.info.get(_MANAGED):
        session.info.setdefault(_READY, []).extend(callbacks)
    else:
        _run(callbacks)


_LISTENERS: list[tuple[str, Callable[..., None]]] = [
    ("after_transaction_create", _after_transaction_create),
    ("after_commit", _after_commit),
    ("after_transaction_end", _after_transaction_end),
]


class QiaoSession(Session):
    """The session class of ``request.db`` and (inside) ``request.adb``: ``on_commit``
    bookkeeping is registered once on the class, not per session (PERF: 17 µs a request)."""


for _name, _listener in _LISTENERS:
    event.listen(QiaoSession, _name, _listener)
