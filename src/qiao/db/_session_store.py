"""Sessions kept in the database: ``SESSION_STORE = "database"`` (needs ``Database(app)``).

One row per session in the ``qiao_session`` table (created by ``qiao db makemigrations`` /
``create_all`` once the store is configured), read and written in transactions of their own, so
a session is saved even when the request's own transaction rolls back. ``qiao clearsessions``
deletes expired rows.
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import DateTime, String, Text, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from qiao.db._model import Model
from qiao.http.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from qiao.app import App
    from qiao.db._database import Database

__all__ = ["DatabaseSessionStore", "SessionRecord"]

_KEY = re.compile(r"[A-Za-z0-9_\-]{43}")
_decoder = msgspec.json.Decoder(dict[str, Any])


class SessionRecord(Model):
    """One stored session."""

    __tablename__ = "qiao_session"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # type: ignore[assignment]
    data: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were written in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class DatabaseSessionStore:
    """The database session store (``qiao.sessions.SessionStore``): shared by every process
    that uses the database, and ``cycle_key`` / logout really retire the old id."""

    blocking = True

    def __init__(self) -> None:
        self._db: Database | None = None

    def bind(self, app: App) -> None:
        """Use ``app``'s database battery; add ``qiao clearsessions``.

        Raises:
            ImproperlyConfigured: the database battery is not installed (``qiao.E204``).
        """
        db: Database | None = app.extensions.get("db")
        if db is None:
            raise ImproperlyConfigured(
                "qiao.E204: SESSION_STORE = 'database' needs the database battery: install "
                "qiao.db.Database(app) before the app compiles."
            )
        self._db = db
        if "clearsessions" not in app.commands:
            app.commands["clearsessions"] = (_clearsessions, "delete expired sessions")

    @property
    def db(self) -> Database:
        if self._db is None:
            raise ImproperlyConfigured("DatabaseSessionStore is not bound; install Sessions.")
        return self._db

    def load(self, cookie: str) -> tuple[dict[str, Any], str | None] | None:
        """The live data for the id in the cookie (ids of the wrong shape are not looked up)."""
        if not _KEY.fullmatch(cookie):
            return None
        with self.db.session() as session:
            record = session.get(SessionRecord, cookie)
            if record is None or _aware(record.expires_at) <= _now():
                return None
            try:
                return _decoder.decode(record.data), cookie
            except msgspec.DecodeError:
                return None

    def save(self, key: str | None, data: dict[str, Any], max_age: int) -> str:
        """Insert or replace the row; a new id when ``key`` is None."""
        from qiao.session_stores import new_key

        key = key or new_key()
        with self.db.session() as session:
            session.merge(
                SessionRecord(
                    id=key,
                    data=msgspec.json.encode(data).decode(),
                    expires_at=_now() + timedelta(seconds=max_age),
                )
            )
        return key

    def delete(self, key: str) -> None:
        """Delete the id's row."""
        with self.db.session() as session:
            session.execute(delete(SessionRecord).where(SessionRecord.id == key))

    def clear_expired(self) -> int:
        """Delete expired rows; returns how many."""
        with self.db.session() as session:
            expired = session.scalars(
                select(SessionRecord.id).where(SessionRecord.expires_at <= _now())
            ).all()
            if expired:
                session.execute(delete(SessionRecord).where(SessionRecord.id.in_(expired)))
        return len(expired)


def _clearsessions(app: App, argv: list[str]) -> int:
    argparse.ArgumentParser(
        prog="qiao clearsessions", description="Delete expired sessions."
    ).parse_args(argv)
    app.compile()
    store = app.extensions["sessions"].store
    if not isinstance(store, DatabaseSessionStore):
        raise SystemExit("qiao clearsessions: SESSION_STORE is not 'database'.")
    print(f"Deleted {store.clear_expired()} expired sessions.")
    return 0
