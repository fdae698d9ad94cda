"""Real transactions on SQLite, for the sync (pysqlite) and async (aiosqlite) engines.

Python's ``sqlite3`` opens transactions itself, and only before ``INSERT``/``UPDATE``/``DELETE``:
a ``SELECT`` runs outside any transaction and a savepoint that comes first is committed by its
``RELEASE``, so it would survive the request's rollback. The battery follows SQLAlchemy's recipe
instead: the driver's own transaction handling off (``isolation_level = None``) and ``BEGIN``
sent when SQLAlchemy begins a transaction.

PERF: ``BEGIN`` goes straight to the driver connection rather than through
``Connection.exec_driver_sql``, which makes a cursor, an execution context and (under aiosqlite)
three trips to the driver's thread for a statement with no parameters and no rows: one trip
instead. And a connection that goes back to the pool outside a transaction (the request
committed) is not rolled back again: SQLAlchemy's rollback-on-return is replaced by one that
rolls back only a connection still in a transaction, which saves another trip under aiosqlite.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.util import concurrency

__all__ = ["RESET_OPTION", "sqlite_transactions"]

#: ``sqlalchemy.util``'s "await inside the greenlet of an ``AsyncSession``": ``await_only`` in
#: SQLAlchemy 2.0, ``await_`` in 2.1.
_await = getattr(concurrency, "await_", None) or concurrency.await_only


#: The ``create_engine()`` option the battery sets to ``None`` on SQLite engines, unless
#: ``DATABASE_ENGINE_OPTIONS`` gives it: ``sqlite_transactions(reset=True)`` resets instead.
RESET_OPTION = "pool_reset_on_return"


def sqlite_transactions(engine: Engine, *, reset: bool) -> None:
    """Listen on a SQLite ``engine``: no driver transactions, ``BEGIN`` sent when SQLAlchemy
    begins one, and (``reset``: the pool's own reset is off) a connection still in a
    transaction rolled back when it goes back to the pool."""
    asynchronous = engine.dialect.is_async

    @event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        driver = connection.connection.driver_connection
        try:
            if asynchronous:  # aiosqlite: one trip to its thread, awaited in SQLAlchemy's greenlet
                _await(driver.execute("BEGIN"))  # type: ignore[union-attr]
            else:
                driver.execute("BEGIN")  # type: ignore[union-attr]
        except Exception:
            # NOTE: again through SQLAlchemy, so that the error is wrapped (and a lost database
            # explained) as for any other statement; it fails the same way.
            connection.exec_driver_sql("BEGIN")

    if reset:

        @event.listens_for(engine, "reset")
        def _rollback_open(dbapi_connection: Any, record: Any, state: Any) -> None:
            if not state.asyncio_safe:  # as the pool's own reset: nothing to do from here
                return
            driver = record.driver_connection if record is not None else None
            # NOTE: ``in_transaction`` reads SQLite's autocommit flag; aiosqlite's reads it from
            # this thread, which is safe: nothing else uses the connection while it is returned.
            if driver is None or driver.in_transaction:
                dbapi_connection.rollback()
