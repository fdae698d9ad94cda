"""Fixtures for the database battery: a backend, an app factory, and WSGI or ASGI clients.

``backend`` runs a test twice: on SQLite (a file in ``tmp_path``, tables created per test) and
on PostgreSQL at ``QIAO_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``),
in a schema made for this test run (``search_path`` in the URL), its tables created once and
emptied before each test, and dropped at the end. Without a reachable server the PostgreSQL runs
skip, unless ``QIAO_REQUIRE_SERVICES=1`` makes that a failure.

``make_app(**config)`` builds an app with the battery installed on the test's backend and
returns ``(app, db)``; every engine it made is disposed of after the test.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

import qiao
from qiao.db import Database
from tests.db._support import (
    Backend,
    PostgresSchema,
    create_tables,
    dispose,
    empty_tables,
    open_postgres_schema,
)
from tests.http._support import Serve

MakeApp = Callable[..., tuple[qiao.App, Database]]


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[PostgresSchema]:
    """This run's schema in the PostgreSQL server, with the test tables; dropped at the end."""
    schema = open_postgres_schema()
    try:
        create_tables(schema.url)
        yield schema
    finally:
        schema.drop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with the empty test tables, copied for each test (PERF: DDL fsyncs)."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    create_tables(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """The database a test runs on, with empty test tables."""
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return Backend("sqlite", f"sqlite:///{path}")
    schema: PostgresSchema = request.getfixturevalue("postgres_schema")
    empty_tables(schema)
    return Backend("postgresql", schema.url)


@pytest.fixture
def make_app(backend: Backend, tmp_path: Path) -> Iterator[MakeApp]:
    """``make_app(before=[mw], after=[mw], **config) -> (app, db)``: middleware in ``before``
    is installed ahead of the battery (its hooks wrap the battery's), ``after`` behind it."""
    made: list[Database] = []

    def make(
        *, before: Sequence[Any] = (), after: Sequence[Any] = (), **config: Any
    ) -> tuple[qiao.App, Database]:
        config.setdefault("DATABASE_URL", backend.url)
        app = qiao.App(
            __name__, config={"SECRET_KEY": "test-secret", **config}, root_path=str(tmp_path)
        )
        for middleware in before:
            app.add_middleware(middleware)
        db = Database(app)
        for middleware in after:
            app.add_middleware(middleware)
        made.append(db)
        return app, db

    yield make
    for db in made:
        dispose(db)


@pytest.fixture(params=["wsgi", "asgi"])
def serve(request: pytest.FixtureRequest) -> Iterator[Serve]:
    """Call the app through WSGI, then (second run) through ASGI; see tests/http/conftest.py."""
    with ExitStack() as stack:
        yield Serve(request.param, stack)


@pytest.fixture(params=["sync", "async"])
def flavor(request: pytest.FixtureRequest) -> str:
    """Which views a test calls: ``sync`` (``request.db``) or ``async`` (``request.adb``)."""
    return str(request.param)
