"""SQLite's transactions (``qiao.db._sqlite``): ``BEGIN`` sent straight to the driver, and a
connection rolled back on its way back to the pool only when it is still in a transaction.

Each test runs on both SQLite engines: the sync one (pysqlite, ``request.db``) and the async
one (aiosqlite, ``request.adb``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

import qiao
from qiao.db import Database
from tests.db._support import Boom, DbNote, create_tables, dispose, note_titles, notes_app

pytestmark = pytest.mark.filterwarnings("error")


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Any:
    """``make(**config) -> (app, db)`` on a SQLite file with the test tables."""
    made: list[Database] = []

    def make(**config: Any) -> tuple[qiao.App, Database]:
        path = tmp_path / "sqlite.db"
        create_tables(f"sqlite:///{path}")
        config = {"SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{path}", **config}
        app = qiao.App(__name__, config=config, root_path=str(tmp_path))
        db = Database(app)
        made.append(db)
        return app, db

    yield make
    for db in made:
        dispose(db)


def resets(db: Database) -> list[tuple[str, bool]]:
    """``(engine kind, in a transaction)`` each time a connection of ``db`` goes back to a
    pool, as the pool's ``reset`` event sees it before the battery's own reset runs."""
    seen: list[tuple[str, bool]] = []

    @db.on_engine
    def listen(engine: Engine) -> None:
        kind = "async" if engine.dialect.is_async else "sync"

        def reset(dbapi_connection: Any, record: Any, state: Any) -> None:
            seen.append((kind, bool(record.driver_connection.in_transaction)))

        event.listen(engine, "reset", reset, insert=True)

    return seen


def statements(db: Database) -> list[str]:
    """Every statement SQLAlchemy sends through a cursor, on any engine of ``db``."""
    seen: list[str] = []

    @db.on_engine
    def listen(engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))

    return seen


# -- BEGIN ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("flavor", ["sync", "async"])
def test_a_request_reads_and_writes_in_one_real_transaction(sqlite_app: Any, flavor: str) -> None:
    app, db = sqlite_app()
    notes_app(app, [])
    sent = statements(db)
    client = app.test_client()
    assert client.post(f"/{flavor}/notes", params={"title": "kept"}).status_code == 200
    response = client.post(f"/{flavor}/notes", params={"title": "gone", "fail": "1"})
    assert response.status_code == 500
    assert note_titles(db) == ["kept"]
    # PERF: BEGIN goes to the driver directly, not through a SQLAlchemy cursor
    assert "BEGIN" not in sent
    assert any(s.startswith("INSERT") for s in sent)


@pytest.mark.parametrize("flavor", ["sync", "async"])
def test_a_savepoint_first_still_rolls_back_with_the_request(sqlite_app: Any, flavor: str) -> None:
    """Without a real BEGIN, pysqlite would commit the savepoint's RELEASE on its own."""
    app, db = sqlite_app()

    @app.post("/sync")
    def sync_view(request: qiao.Request) -> None:
        with request.db.begin_nested():
            request.db.add(DbNote(title="nested"))
        raise Boom("after the savepoint")

    @app.post("/async")
    async def async_view(request: qiao.Request) -> None:
        async with request.adb.begin_nested():
            request.adb.add(DbNote(title="nested"))
        raise Boom("after the savepoint")

    assert app.test_client().post(f"/{flavor}").status_code == 500
    assert note_titles(db) == []


def test_a_select_holds_a_transaction_until_the_request_ends(sqlite_app: Any) -> None:
    app, _ = sqlite_app()
    seen: list[bool] = []

    @app.get("/read")
    def read(request: qiao.Request) -> dict[str, int]:
        request.db.scalars(select(DbNote)).all()
        seen.append(request.db.connection().connection.driver_connection.in_transaction)
        return {"ok": 1}

    assert app.test_client().get("/read").status_code == 200
    assert seen == [True]


def test_a_begin_the_driver_refuses_fails_as_a_sqlalchemy_error(sqlite_app: Any) -> None:
    """The fallback sends BEGIN again through SQLAlchemy, so the error is wrapped as usual."""
    app, db = sqlite_app()
    app.compile()
    with db.engine.connect() as connection:
        connection.connection.driver_connection.execute("BEGIN")  # type: ignore[union-attr]
        with pytest.raises(OperationalError, match="within a transaction"):
            connection.execute(text("SELECT 1"))
        connection.connection.driver_connection.rollback()  # type: ignore[union-attr]


# -- back to the pool -----------------------------------------------------------------------------
@pytest.mark.parametrize("flavor", ["sync", "async"])
def test_a_committed_request_gives_back_a_connection_with_nothing_to_roll_back(
    sqlite_app: Any, flavor: str
) -> None:
    app, db = sqlite_app()
    notes_app(app, [])
    seen = resets(db)
    client = app.test_client()
    assert client.post(f"/{flavor}/notes", params={"title": "a"}).status_code == 200
    assert client.get(f"/{flavor}/count").status_code == 200
    assert seen == [(flavor, False), (flavor, False)]


def test_a_connection_given_back_in_a_transaction_is_rolled_back(sqlite_app: Any) -> None:
    app, db = sqlite_app()
    app.compile()
    seen = resets(db)
    with db.engine.connect() as connection:
        connection.connection.driver_connection.execute("BEGIN")  # type: ignore[union-attr]
        connection.connection.driver_connection.execute(  # type: ignore[union-attr]
            "INSERT INTO db_note (title, kind) VALUES ('left open', 'x')"
        )
        dbapi = connection.connection.dbapi_connection
    # the Connection had no SQLAlchemy transaction: only the pool's reset can undo the row
    assert seen == [("sync", True)]
    assert dbapi is not None
    assert not dbapi.in_transaction  # type: ignore[attr-defined]
    assert note_titles(db) == []


def test_an_async_connection_given_back_in_a_transaction_is_rolled_back(sqlite_app: Any) -> None:
    app, db = sqlite_app()
    app.compile()
    seen = resets(db)

    async def main() -> list[str]:
        engine = db.async_engine
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection
            await driver.execute("BEGIN")
            await driver.execute("INSERT INTO db_note (title, kind) VALUES ('left open', 'x')")
        async with engine.connect() as connection:
            titles = (await connection.scalars(select(DbNote.title))).all()
        await db.dispose()
        return list(titles)

    assert asyncio.run(main()) == []
    assert seen[0] == ("async", True)


def test_a_pool_reset_chosen_in_engine_options_is_kept(sqlite_app: Any) -> None:
    app, db = sqlite_app(DATABASE_ENGINE_OPTIONS={"pool_reset_on_return": "commit"})
    app.compile()
    with db.engine.connect() as connection:
        connection.connection.driver_connection.execute("BEGIN")  # type: ignore[union-attr]
        connection.connection.driver_connection.execute(  # type: ignore[union-attr]
            "INSERT INTO db_note (title, kind) VALUES ('committed on return', 'x')"
        )
    assert note_titles(db) == ["committed on return"]
