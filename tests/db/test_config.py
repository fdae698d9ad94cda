"""Settings: the database URL (defaults, relative SQLite paths, the async URL), pool settings,
start-up checks ``qiao.E401`` / ``qiao.E402``, and an unreachable database (503)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

import qiao
from qiao.db import Database, DatabaseUnavailable
from qiao.db._settings import SETTING_CHECKS
from qiao.http.exceptions import ImproperlyConfigured
from tests._servers import free_port
from tests.db._support import Backend, PostgresSchema, chdir, dispose, notes_app
from tests.db.conftest import MakeApp
from tests.http._support import Serve, problem

pytestmark = pytest.mark.filterwarnings("error")


def bare_app(tmp_path: Path, **config: Any) -> tuple[qiao.App, Database]:
    app = qiao.App(
        "tests.db.test_config", config={"SECRET_KEY": "x", **config}, root_path=str(tmp_path)
    )
    return app, Database(app)


# -- the URL --------------------------------------------------------------------------------------
def test_the_default_database_is_instance_app_db_next_to_the_app(tmp_path: Path) -> None:
    project = tmp_path / "project"
    app, db = bare_app(project)
    notes_app(app, [])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    try:
        with chdir(elsewhere):  # the working directory does not matter
            client = app.test_client()
            assert client.get("/plain").status_code == 200
            assert not (project / "instance").exists()  # nothing is made until it is used
            assert db.engine.url.database == str(project / "instance" / "app.db")
            assert (project / "instance").is_dir()  # made with the engine
            db.create_all()
            assert client.post("/sync/notes", params={"title": "x"}).status_code == 200
        assert (project / "instance" / "app.db").is_file()
        assert list(elsewhere.iterdir()) == []
    finally:
        dispose(db)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///data/site.db", "{root}/data/site.db"),
        ("sqlite:////srv/site.db", "/srv/site.db"),
    ],
)
def test_relative_sqlite_paths_are_relative_to_the_apps_root(
    tmp_path: Path, url: str, expected: str
) -> None:
    app, db = bare_app(tmp_path, DATABASE_URL=url)
    app.compile()
    want = expected.format(root=tmp_path)
    assert db.engine.url.database == want
    assert db.async_engine.url.database == want
    dispose(db)


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite://"])
def test_in_memory_sqlite_is_one_shared_memory_database_and_no_file(
    tmp_path: Path, url: str
) -> None:
    app, db = bare_app(tmp_path, DATABASE_URL=url)
    app.compile()
    for engine in (db.engine, db.async_engine):
        assert "mode=memory" in (engine.url.database or "")
        assert engine.url.query["uri"] == "true"
    assert list(tmp_path.iterdir()) == []
    dispose(db)


@pytest.mark.parametrize(
    ("url", "sync", "async_"),
    [
        ("sqlite:///a.db", "sqlite", "sqlite+aiosqlite"),
        ("sqlite+pysqlite:///a.db", "sqlite+pysqlite", "sqlite+aiosqlite"),
        ("postgresql://u@h/d", "postgresql+psycopg", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg", "postgresql+psycopg"),
        ("postgresql+psycopg2://u@h/d", None, "postgresql+psycopg"),  # psycopg2: not installed
    ],
)
def test_the_async_url_is_derived_from_database_url(
    tmp_path: Path, url: str, sync: str | None, async_: str
) -> None:
    app, db = bare_app(tmp_path, DATABASE_URL=url)
    app.compile()
    if sync is not None:
        assert db.engine.url.drivername == sync
        assert db.async_engine.url.database == db.engine.url.database
    assert db.async_engine.url.drivername == async_
    asyncio.run(db.async_engine.dispose())


def test_database_async_url_wins_over_the_derived_one(tmp_path: Path) -> None:
    app, db = bare_app(
        tmp_path,
        DATABASE_URL="postgresql://u@h/d",
        DATABASE_ASYNC_URL="postgresql+psycopg://other@h2/d2",
    )
    app.compile()
    assert db.async_engine.url.render_as_string() == "postgresql+psycopg://other@h2/d2"
    dispose(db)


def test_settings_come_from_config_and_options_override_them(tmp_path: Path) -> None:
    app = qiao.App(
        __name__,
        config={"SECRET_KEY": "x", "DATABASE_URL": "sqlite:///from-config.db"},
        root_path=str(tmp_path),
    )
    db = Database(app, url="sqlite:///from-option.db", pool_size=2)
    assert app.config["DATABASE_POOL_SIZE"] == 5  # the default, now in config
    assert db.setting("DATABASE_POOL_SIZE") == 2
    app.compile()
    assert db.engine.url.database == str(tmp_path / "from-option.db")
    dispose(db)


def test_pool_settings_reach_the_postgresql_engine(tmp_path: Path) -> None:
    app, db = bare_app(
        tmp_path,
        DATABASE_URL="postgresql://u@127.0.0.1/d",
        DATABASE_POOL_SIZE=3,
        DATABASE_MAX_OVERFLOW=1,
        DATABASE_POOL_TIMEOUT=7,
        DATABASE_POOL_RECYCLE=60,
    )
    app.compile()
    pool: Any = db.engine.pool
    assert (pool.size(), pool._max_overflow, pool._timeout, pool._recycle) == (3, 1, 7, 60)
    assert pool._pre_ping is True
    dispose(db)


def test_pool_settings_apply_to_sqlite_files_too(tmp_path: Path) -> None:
    app, db = bare_app(tmp_path, DATABASE_URL="sqlite:///pool.db", DATABASE_POOL_SIZE=2)
    app.compile()
    assert db.engine.pool.size() == 2  # type: ignore[attr-defined]
    dispose(db)


def test_database_engine_options_go_to_create_engine(tmp_path: Path) -> None:
    app, db = bare_app(
        tmp_path,
        DATABASE_URL="sqlite:///opts.db",
        DATABASE_ENGINE_OPTIONS={"pool_size": 3, "execution_options": {"x_marker": 1}},
    )
    app.compile()
    assert db.engine.pool.size() == 3  # type: ignore[attr-defined]  # wins over POOL_SIZE
    assert db.engine.get_execution_options()["x_marker"] == 1
    dispose(db)


def test_the_engines_are_disposed_of_at_shut_down(backend: Backend, tmp_path: Path) -> None:
    app, db = bare_app(tmp_path, DATABASE_URL=backend.url)
    notes_app(app, [])

    async def main() -> None:
        async with app.async_test_client() as client:
            assert (await client.get("/sync/count")).status_code == 200
            assert (await client.get("/async/count")).status_code == 200
            assert db.engine.pool.checkedin() == 1  # type: ignore[attr-defined]
            assert db.async_engine.pool.checkedin() == 1  # type: ignore[attr-defined]
        # lifespan shut-down ran db.dispose() on the server's loop
        assert db.engine.pool.checkedin() == 0  # type: ignore[attr-defined]
        assert db.async_engine.pool.checkedin() == 0  # type: ignore[attr-defined]

    asyncio.run(main())


# -- start-up checks ------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["nonsense", "", None, 42])
def test_a_url_that_is_not_a_url_is_qiao_e401_at_start_up(tmp_path: Path, url: Any) -> None:
    app, _ = bare_app(tmp_path, DATABASE_URL=url)
    with pytest.raises(ImproperlyConfigured, match=r"^qiao\.E401: DATABASE_URL .* is not a"):
        app.compile()


@pytest.mark.parametrize("url", ["foo://u@h/d", "postgres://u@h/d"])
def test_a_url_with_an_unknown_dialect_is_qiao_e401_at_start_up(tmp_path: Path, url: str) -> None:
    app, _ = bare_app(tmp_path, DATABASE_URL=url)
    with pytest.raises(ImproperlyConfigured, match=r"qiao\.E401"):
        app.compile()


def test_qiao_e401_names_the_setting_that_is_wrong(tmp_path: Path) -> None:
    app, _ = bare_app(tmp_path, DATABASE_ASYNC_URL="not a url")
    with pytest.raises(ImproperlyConfigured, match=r"^qiao\.E401: DATABASE_ASYNC_URL "):
        app.compile()


def test_qiao_e401_never_shows_the_password(tmp_path: Path) -> None:
    app, _ = bare_app(tmp_path, DATABASE_URL="postgresql//user:hunter2@db.internal/app")
    with pytest.raises(ImproperlyConfigured) as info:
        app.compile()
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("DATABASE_POOL_SIZE", -1),
        ("DATABASE_POOL_SIZE", "5"),
        ("DATABASE_MAX_OVERFLOW", True),
        ("DATABASE_MAX_OVERFLOW", None),
        ("DATABASE_POOL_TIMEOUT", -3),
    ],
)
def test_a_bad_pool_setting_is_qiao_e402_at_start_up(
    tmp_path: Path, setting: str, value: Any
) -> None:
    app, _ = bare_app(tmp_path, **{setting: value})
    with pytest.raises(ImproperlyConfigured, match=rf"^qiao\.E402: {setting} must be a"):
        app.compile()


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("DATABASE_POOL_RECYCLE", "hourly", "a whole number of seconds, or -1 for never"),
        ("DATABASE_POOL_RECYCLE", -2, "a whole number of seconds, or -1 for never"),
        ("DATABASE_N_PLUS_ONE_THRESHOLD", "many", "a non-negative whole number"),
        ("DATABASE_N_PLUS_ONE_THRESHOLD", -1, "a non-negative whole number"),
        ("DATABASE_ENGINE_OPTIONS", "pool_size=3", "a dict of create_engine() arguments"),
        ("DATABASE_ENGINE_OPTIONS", {1: 2}, "a dict of create_engine() arguments"),
        ("DATABASE_ECHO", "loud", "True, False or 'debug'"),
        ("DATABASE_POOL_PRE_PING", "yes", "True or False"),
        ("DATABASE_QUERY_STATS", "on", "True, False or None (on when DEBUG is)"),
        ("DATABASE_MIGRATIONS", 42, "a folder path (relative to the app)"),
    ],
)
def test_every_setting_is_checked_at_start_up(
    tmp_path: Path, setting: str, value: Any, expected: str
) -> None:
    app, _ = bare_app(tmp_path, **{"DATABASE_QUERY_STATS": True, setting: value})
    with pytest.raises(ImproperlyConfigured) as info:
        app.compile()
    assert str(info.value) == f"qiao.E402: {setting} must be {expected}, got {value!r}."


def test_every_setting_has_a_start_up_check() -> None:
    checked = set(SETTING_CHECKS) | {"DATABASE_URL", "DATABASE_ASYNC_URL"}  # those: qiao.E401
    assert checked == set(Database.settings)


@pytest.mark.parametrize(
    "config",
    [
        {"DATABASE_POOL_RECYCLE": -1},
        {"DATABASE_ECHO": "debug"},
        {"DATABASE_ENGINE_OPTIONS": None},
        {"DATABASE_QUERY_STATS": False, "DATABASE_N_PLUS_ONE_THRESHOLD": 0},
        {"DATABASE_MIGRATIONS": Path("db/migrations")},
    ],
)
def test_the_special_values_of_settings_are_accepted(
    tmp_path: Path, config: dict[str, Any]
) -> None:
    app, db = bare_app(tmp_path, **config)
    app.compile()
    for key, value in config.items():
        assert db.setting(key) == value


def test_pool_settings_from_the_environment_are_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QIAO_DATABASE_POOL_SIZE", "7")
    app, db = bare_app(tmp_path, DATABASE_URL="postgresql://u@127.0.0.1/d")
    app.config.from_env()
    app.compile()
    assert db.engine.pool.size() == 7  # type: ignore[attr-defined]
    dispose(db)


def test_using_the_database_before_the_routes_are_added_is_fine(tmp_path: Path) -> None:
    app, db = bare_app(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'early.db'}")
    try:
        db.create_all()

        @app.get("/")
        def index(request: qiao.Request) -> str:
            return "ok"

        assert app.test_client().get("/").text == "ok"
    finally:
        dispose(db)


@pytest.mark.parametrize("path", ["/sync/count", "/async/count"])
def test_an_in_memory_database_is_shared_by_the_whole_app(path: str) -> None:
    app = qiao.App(__name__, config={"SECRET_KEY": "x", "DATABASE_URL": "sqlite://"})
    db = Database(app)
    notes_app(app, [])
    db.create_all()

    async def main() -> int:
        async with app.async_test_client() as client:
            return (await client.get(path)).status_code

    try:
        assert asyncio.run(main()) == 200
    finally:
        dispose(db)


# -- an unreachable database ----------------------------------------------------------------------
def unreachable_url() -> str:
    return f"postgresql://qiao:hunter2@127.0.0.1:{free_port()}/nowhere"


def test_an_unreachable_database_is_a_503_that_keeps_the_details_in_the_log(
    serve: Serve, flavor: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = unreachable_url()
    app, db = bare_app(tmp_path, DATABASE_URL=url)
    notes_app(app, [])
    try:
        response = serve(app).get(f"/{flavor}/count")
        assert problem(response, 503) == "The database is unavailable; try again later."
        assert "127.0.0.1" not in response.text
        [record] = [r for r in caplog.records if r.name == "qiao.db"]
        assert record.levelno == logging.ERROR
        port = url.rsplit(":", 1)[1].split("/")[0]
        message = record.getMessage()
        assert message.startswith(
            f"Cannot reach the database at postgresql+psycopg://qiao:***@127.0.0.1:{port}/nowhere"
        )
        assert "Check DATABASE_URL" in message
        assert not [r for r in caplog.records if r.name == "qiao"]  # a 503, not a crash
        assert "hunter2" not in caplog.text + response.text
    finally:
        dispose(db)


def test_in_debug_the_503_says_where_and_why(
    serve: Serve, flavor: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app, db = bare_app(tmp_path, DATABASE_URL=unreachable_url(), DEBUG=True)
    notes_app(app, [])
    try:
        response = serve(app).get(f"/{flavor}/count")
        assert response.status_code == 503
        assert "Cannot reach the database at postgresql+psycopg://qiao:***@127.0.0.1:" in (
            response.text
        )
        assert "hunter2" not in caplog.text + response.text
    finally:
        dispose(db)


def test_an_unreachable_sqlite_file_is_a_503(
    serve: Serve, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "app.db").mkdir()  # a folder where the file should be
    app, db = bare_app(tmp_path, DATABASE_URL="sqlite:///app.db")
    notes_app(app, [])
    try:
        problem(serve(app).get("/sync/count"), 503)
        assert "Cannot reach the database at sqlite:///" in caplog.text
    finally:
        dispose(db)


def test_an_sqlite_folder_that_cannot_be_made_is_a_503(
    serve: Serve, flavor: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "instance").write_text("a file, not a folder")  # in the way of instance/app.db
    app, db = bare_app(tmp_path)
    notes_app(app, [])
    try:
        response = serve(app).get(f"/{flavor}/count")
        assert problem(response, 503) == "The database is unavailable; try again later."
        [record] = [r for r in caplog.records if r.name == "qiao.db"]
        assert record.levelno == logging.ERROR
        assert record.getMessage().startswith(
            f"Cannot reach the database at sqlite{'+aiosqlite' if flavor == 'async' else ''}:///"
            f"{tmp_path / 'instance' / 'app.db'}: its folder {tmp_path / 'instance'} cannot be "
            "created ("
        )
        assert record.getMessage().endswith(
            "Check DATABASE_URL, and that the folder can be "
            "created there (no file in its way, permission to write)."
        )
        assert not [r for r in caplog.records if r.name == "qiao"]  # a 503, not a crash
        assert str(tmp_path) not in response.text
    finally:
        dispose(db)


def test_in_debug_the_sqlite_folder_503_says_which_folder(tmp_path: Path) -> None:
    (tmp_path / "instance").write_text("a file, not a folder")
    app, db = bare_app(tmp_path, DEBUG=True)
    notes_app(app, [])
    with pytest.raises(DatabaseUnavailable, match=r"its folder .*instance cannot be created"):
        db.engine  # noqa: B018
    response = app.test_client().get("/sync/count")
    assert response.status_code == 503
    assert f"its folder {tmp_path / 'instance'} cannot be created" in response.text
    (tmp_path / "instance").unlink()  # fixed: the next use makes the folder and the engine
    db.create_all()
    assert app.test_client().get("/sync/count").json() == {"n": 0}
    dispose(db)


def test_database_unavailable_is_a_service_unavailable() -> None:
    assert issubclass(DatabaseUnavailable, qiao.ServiceUnavailable)
    assert DatabaseUnavailable().status_code == 503


def test_a_dropped_connection_is_replaced_not_an_error(
    serve: Serve, make_app: MakeApp, backend: Backend, request: pytest.FixtureRequest
) -> None:
    """Pre-ping is on: a pooled connection the server has closed is replaced on checkout."""
    if backend.name != "postgresql":
        pytest.skip("needs a database server that can drop a connection")
    schema: PostgresSchema = request.getfixturevalue("postgres_schema")
    app, db = make_app()
    notes_app(app, [])
    client = serve(app)
    assert client.get("/sync/count").json() == {"n": 0}
    with db.engine.connect() as conn:  # the pool's only connection
        pid = conn.scalar(text("SELECT pg_backend_pid()"))
    schema.execute(f"SELECT pg_terminate_backend({int(pid)})")
    assert client.get("/sync/count").json() == {"n": 0}
    with db.engine.connect() as conn:
        assert conn.scalar(text("SELECT pg_backend_pid()")) != pid
