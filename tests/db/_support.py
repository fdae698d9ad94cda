"""Models, backends and small apps shared by the database battery's tests.

The models live here, once: ``qiao.db.Model`` has one ``MetaData`` for the whole process, so a
table may be declared only once per test run. Their names start with ``Db`` so they cannot clash
with the models of other batteries' tests (``DbNote`` is the table ``db_note``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import quote

import pytest
from sqlalchemy import ForeignKey, String, Table, create_engine, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, mapped_column, relationship

import qiao
from qiao.db import Database, Model, TimestampMixin, on_commit

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


# -- models ---------------------------------------------------------------------------------------
class DbNote(Model):
    title: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="note")


class DbAuthor(Model):
    name: Mapped[str] = mapped_column(String(100))
    books: Mapped[list[DbBook]] = relationship(back_populates="author")


class DbBook(Model):
    title: Mapped[str] = mapped_column(String(100))
    author_id: Mapped[int] = mapped_column(ForeignKey("db_author.id"), index=True)
    author: Mapped[DbAuthor] = relationship(back_populates="books")


class DbStamped(Model, TimestampMixin):
    name: Mapped[str] = mapped_column(String(100))


#: The tables the tests create (``Model.metadata`` also holds other batteries' models).
TABLES: list[Table] = [
    cast(Table, model.__table__) for model in (DbAuthor, DbBook, DbNote, DbStamped)
]


class Boom(Exception):
    """What views raise on purpose."""


# -- services -------------------------------------------------------------------------------------
def services_required() -> bool:
    """``QIAO_REQUIRE_SERVICES=1``: a missing service fails the test instead of skipping it."""
    return os.environ.get("QIAO_REQUIRE_SERVICES", "") == "1"


def postgres_url() -> str:
    return os.environ.get("QIAO_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def with_search_path(url: str, schema: str) -> str:
    """``url`` whose connections use ``schema`` first (libpq ``options=-csearch_path=...``)."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


@dataclass
class PostgresSchema:
    """A schema of its own for one test run, in the server at ``QIAO_TEST_POSTGRES_URL``."""

    server_url: str
    name: str = field(default_factory=lambda: f"qiao_test_{secrets.token_hex(6)}")

    @property
    def url(self) -> str:
        return with_search_path(self.server_url, self.name)

    def execute(self, *statements: str) -> None:
        import psycopg

        with psycopg.connect(self.server_url, autocommit=True, connect_timeout=5) as conn:
            for statement in statements:
                conn.execute(statement)

    def fresh(self) -> str:
        """A new, empty schema next to this one (dropped with ``drop``); returns its URL."""
        schema = f"{self.name}_{secrets.token_hex(3)}"
        self.execute(f"CREATE SCHEMA {schema}")
        self._extra.append(schema)
        return with_search_path(self.server_url, schema)

    def drop(self) -> None:
        self.execute(
            *(f"DROP SCHEMA IF EXISTS {name} CASCADE" for name in [self.name, *self._extra])
        )

    def __post_init__(self) -> None:
        self._extra: list[str] = []


def open_postgres_schema() -> PostgresSchema:
    """Create this run's schema; skip (or fail under ``QIAO_REQUIRE_SERVICES=1``) without one."""
    url = postgres_url()
    try:
        import psycopg
    except ImportError:  # pragma: no cover - the test extras install it
        _unavailable(url, "psycopg is not installed (pip install 'qiao[postgres]')")
    schema = PostgresSchema(url)
    try:
        schema.execute(f"CREATE SCHEMA {schema.name}")
    except psycopg.Error as exc:
        _unavailable(url, f"{exc}".strip())
    return schema


def _unavailable(url: str, reason: str) -> None:
    message = (
        f"PostgreSQL tests need a server at QIAO_TEST_POSTGRES_URL ({url}): {reason}. Start one "
        "or point QIAO_TEST_POSTGRES_URL at one; QIAO_REQUIRE_SERVICES=1 turns this skip into "
        "a failure."
    )
    if services_required():
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Backend:
    """One database the tests run against: ``name`` is ``sqlite`` or ``postgresql``."""

    name: str
    url: str

    def __str__(self) -> str:
        return self.name


# -- apps -----------------------------------------------------------------------------------------
class Probe:
    """Middleware installed *before* the database battery: its teardown runs last, when the
    battery has finished, and records how many connections each pool still lends out."""

    def __init__(self) -> None:
        self.checked_out: list[tuple[int, int]] = []

    def teardown_request(self, request: qiao.Request, error: Exception | None) -> None:
        self.checked_out.append(pools(request.app.extensions["db"]))


def pools(db: Database) -> tuple[int, int]:
    """Connections the sync pool and the async pools (one per event loop) lend out now."""
    lent = sum(engine.pool.checkedout() for engine in db.async_engines)  # type: ignore[attr-defined]
    return db.engine.pool.checkedout(), lent  # type: ignore[attr-defined]


def count_checkouts(db: Database) -> list[str]:
    """A list that gets ``"sync"``/``"async"`` each time a pool, of any engine the battery
    makes (now or later), hands out a connection."""
    seen: list[str] = []

    @db.on_engine
    def listen(engine: Engine) -> None:
        kind = "async" if engine.dialect.is_async else "sync"
        event.listen(engine, "checkout", lambda *args: seen.append(kind))

    return seen


def dispose(db: Database) -> None:
    """Close every pooled connection of ``db`` (the async pool from a loop of our own: the
    test clients' loops may be gone)."""
    asyncio.run(db.dispose())


def note_titles(db: Database) -> list[str]:
    with db.session() as session:
        return sorted(session.scalars(select(DbNote.title)))


def rows(db: Database, model: type[Any]) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def create_tables(url: str) -> None:
    """Create the test tables at ``url`` with an engine of our own (an app's engine would
    compile the app, and tests still add routes)."""
    engine = create_engine(sqlalchemy_url(url))
    try:
        Model.metadata.create_all(engine, tables=TABLES)
    finally:
        engine.dispose()


def empty_tables(schema: PostgresSchema) -> None:
    """Empty the test tables of ``schema`` (created once per run, then truncated per test)."""
    names = ", ".join(table.name for table in TABLES)
    # A connection some test leaked would hold a lock: fail fast instead of hanging.
    schema.execute(
        "SET lock_timeout = '5s'",
        f"TRUNCATE {schema.name}.{names.replace(', ', f', {schema.name}.')} RESTART IDENTITY",
    )


def sqlalchemy_url(url: str) -> str:
    """``postgresql://`` means psycopg2 to SQLAlchemy; the battery (and we) use psycopg 3."""
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@contextlib.contextmanager
def chdir(path: os.PathLike[str] | str) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def notes_app(app: qiao.App, events: list[str]) -> None:
    """Routes over ``DbNote``, each as a sync view (``/sync/...``, ``request.db``) and an async
    one (``/async/...``, ``request.adb``). ``events`` gets ``commit:TITLE`` from ``on_commit``.
    """

    def remember(title: str) -> Callable[[], None]:
        return lambda: events.append(f"commit:{title}")

    @app.post("/sync/notes")
    def add(request: qiao.Request) -> dict[str, Any]:
        title = request.query["title"]
        note = DbNote(title=title)
        request.db.add(note)
        request.db.flush()
        on_commit(request.db, remember(title))
        if request.query.get("fail"):
            raise Boom(title)
        return {"id": note.id}

    @app.post("/async/notes")
    async def aadd(request: qiao.Request) -> dict[str, Any]:
        title = request.query["title"]
        note = DbNote(title=title)
        request.adb.add(note)
        await request.adb.flush()

        async def acallback() -> None:
            await asyncio.sleep(0)
            events.append(f"commit:{title}")

        on_commit(request.adb, acallback)
        if request.query.get("fail"):
            raise Boom(title)
        return {"id": note.id}

    @app.get("/sync/count")
    def count(request: qiao.Request) -> dict[str, int | None]:
        return {"n": request.db.scalar(select(func.count()).select_from(DbNote))}

    @app.get("/async/count")
    async def acount(request: qiao.Request) -> dict[str, int | None]:
        return {"n": await request.adb.scalar(select(func.count()).select_from(DbNote))}

    @app.get("/plain")
    def plain(request: qiao.Request) -> str:
        return "no database here"

    @app.get("/aplain")
    async def aplain(request: qiao.Request) -> str:
        return "no database here either"
