"""``Model``'s conventions, ``TimestampMixin``, ``discover_models`` and ``create_all``."""

from __future__ import annotations

import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import DateTime, String, Table, insert, inspect, select, text, update
from sqlalchemy.orm import Mapped, Session, mapped_column

import qiao
from qiao.db import Database, Model, discover_models
from qiao.db._model import UTCDateTime
from tests.db._support import Backend, DbBook, DbNote, DbStamped, PostgresSchema, dispose
from tests.db.conftest import MakeApp

pytestmark = pytest.mark.filterwarnings("error")


class DbHTTPLogEntry(Model):
    path: Mapped[str] = mapped_column(String(200))


class DbCustomKey(Model):
    __tablename__ = "db_custom_keys"
    id: Mapped[str] = mapped_column(String(20), primary_key=True)  # type: ignore[assignment]


def table(model: type[Model]) -> Table:
    return cast(Table, model.__table__)


# -- conventions ----------------------------------------------------------------------------------
def test_table_names_are_the_class_name_in_snake_case() -> None:
    assert DbNote.__tablename__ == "db_note"
    assert DbHTTPLogEntry.__tablename__ == "db_http_log_entry"
    assert table(DbCustomKey).name == "db_custom_keys"  # an explicit name wins


def test_every_model_gets_an_integer_id_primary_key_unless_it_declares_one() -> None:
    [key] = table(DbNote).primary_key.columns
    assert key.name == "id"
    assert key.type.python_type is int
    assert key.autoincrement in (True, "auto")
    [custom] = table(DbCustomKey).primary_key.columns
    assert custom.type.python_type is str


def test_constraints_are_named_by_the_convention_in_the_database(make_app: MakeApp) -> None:
    _, db = make_app()
    assert table(DbNote).primary_key.name == "pk_db_note"
    inspector = inspect(db.engine)
    assert [u["name"] for u in inspector.get_unique_constraints("db_note")] == ["uq_db_note_title"]
    assert [f["name"] for f in inspector.get_foreign_keys("db_book")] == [
        "fk_db_book_author_id_db_author"
    ]
    assert [i["name"] for i in inspector.get_indexes("db_book")] == ["ix_db_book_author_id"]
    if db.engine.dialect.name == "postgresql":  # SQLite does not name primary keys
        assert inspector.get_pk_constraint("db_note")["name"] == "pk_db_note"
    assert table(DbBook).c.author_id.foreign_keys


def test_repr_shows_the_class_and_id(make_app: MakeApp) -> None:
    _, db = make_app()
    note = DbNote(title="x")
    assert repr(note) == "<DbNote id=None>"
    with db.session() as session:
        session.add(note)
        session.flush()
        assert repr(note) == f"<DbNote id={note.id}>"


# -- timestamps -----------------------------------------------------------------------------------
def test_timestamps_are_set_on_insert_and_updated_at_moves_on_update(make_app: MakeApp) -> None:
    _, db = make_app()
    before = datetime.now(UTC)
    with db.session() as session:
        row = DbStamped(name="a")
        session.add(row)
    assert before <= row.created_at <= row.updated_at <= datetime.now(UTC)
    created = row.created_at
    time.sleep(0.01)
    with db.session() as session:
        loaded = session.get(DbStamped, row.id)
        assert loaded is not None
        loaded.name = "b"
        session.flush()
        assert loaded.updated_at > created
    with db.session() as session:
        again = session.get(DbStamped, row.id)
        assert again is not None
        assert again.created_at == created
        assert again.updated_at > again.created_at
        stamped = again.updated_at
    time.sleep(0.01)
    with db.session() as session:  # a Core UPDATE gets the Python-side onupdate too
        session.execute(update(DbStamped).where(DbStamped.id == row.id).values(name="c"))
    with db.session() as session:
        updated = session.scalars(select(DbStamped.updated_at)).one()
        assert updated > stamped


def test_rows_inserted_without_the_orm_get_server_side_timestamps(make_app: MakeApp) -> None:
    _, db = make_app()
    before = datetime.now(UTC).replace(microsecond=0)  # SQLite's CURRENT_TIMESTAMP: seconds
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO db_stamped (name) VALUES ('raw')"))
    with db.session() as session:
        row = session.scalars(select(DbStamped)).one()
        assert before <= row.created_at <= datetime.now(UTC)  # aware, and in UTC
        assert before <= row.updated_at <= datetime.now(UTC)
    with db.session() as session:
        session.execute(insert(DbStamped).values(name="core"))


def test_timestamps_read_back_are_timezone_aware(make_app: MakeApp) -> None:
    _, db = make_app()
    with db.session() as session:
        session.add(DbStamped(name="a"))
    with db.session() as session:
        row = session.scalars(select(DbStamped)).one()
        assert row.created_at.utcoffset() == timedelta(0)
        assert row.created_at <= datetime.now(UTC)  # comparing with an aware value works
        [updated] = session.execute(select(DbStamped.updated_at)).scalars()
        assert updated.utcoffset() == timedelta(0)


def test_an_aware_timestamp_in_another_zone_is_the_same_instant_read_back(
    make_app: MakeApp,
) -> None:
    _, db = make_app()
    tokyo = timezone(timedelta(hours=9))
    moment = datetime(2024, 5, 1, 9, 30, 15, 123456, tzinfo=tokyo)
    with db.session() as session:
        session.add(DbStamped(name="a", created_at=moment))
    with db.session() as session:
        created = session.scalars(select(DbStamped.created_at)).one()
        assert created == moment
        assert created.astimezone(UTC) == datetime(2024, 5, 1, 0, 30, 15, 123456, tzinfo=UTC)
        # and a query compares instants, not wall-clock text
        later = datetime(2024, 5, 1, 1, 0, tzinfo=UTC)
        assert session.scalars(select(DbStamped.name).where(DbStamped.created_at < later)).all()


def test_timestamps_are_plain_datetime_columns_in_the_schema() -> None:
    column = table(DbStamped).c.created_at
    assert isinstance(column.type, UTCDateTime)
    assert isinstance(column.type.impl, DateTime)
    assert column.type.impl.timezone is True


# -- discovery ------------------------------------------------------------------------------------
@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """``tmp_path`` on ``sys.path`` for the packages a test writes (their modules are
    forgotten after the test; their models stay in ``Model.metadata``)."""
    sys.path.insert(0, str(tmp_path))
    before = set(sys.modules)
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for name in set(sys.modules) - before:
            del sys.modules[name]


def write(root: Path, files: dict[str, str]) -> None:
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))


MODEL = """
from sqlalchemy.orm import Mapped, mapped_column
from qiao.db import Model

class {name}(Model):
    label: Mapped[str] = mapped_column()
"""


def test_discover_models_imports_the_models_of_the_app_and_its_blueprints(project: Path) -> None:
    write(
        project,
        {
            "discshop/__init__.py": """
                import qiao
                from qiao.db import Database
                from discshop.blog import bp
                from discshop.store.views import store

                app = qiao.App(__name__, config={"SECRET_KEY": "x"})
                Database(app)
                app.register_blueprint(bp)
                app.register_blueprint(store)
            """,
            "discshop/models.py": MODEL.format(name="DiscShopItem"),
            "discshop/blog/__init__.py": """
                import qiao
                bp = qiao.Blueprint("blog", __name__, url_prefix="/blog")
            """,
            "discshop/blog/models.py": MODEL.format(name="DiscBlogPost"),
            "discshop/store/__init__.py": "",
            "discshop/store/views.py": """
                import qiao
                store = qiao.Blueprint("store", __name__, url_prefix="/store")
            """,
            "discshop/store/models.py": MODEL.format(name="DiscStoreOrder"),
            "discshop/nomodels/__init__.py": "",
        },
    )
    import discshop  # type: ignore[import-not-found]

    assert "disc_shop_item" not in Model.metadata.tables
    found = discover_models(discshop.app)
    assert sorted(found) == ["discshop.blog.models", "discshop.models", "discshop.store.models"]
    for table in ("disc_shop_item", "disc_blog_post", "disc_store_order"):
        assert table in Model.metadata.tables
    assert discover_models(discshop.app) == found  # importing again is harmless


def test_a_models_module_that_fails_to_import_is_the_users_error(project: Path) -> None:
    write(
        project,
        {
            "discbroken/__init__.py": """
                import qiao
                app = qiao.App(__name__, config={"SECRET_KEY": "x"})
            """,
            "discbroken/models.py": "import a_module_that_does_not_exist\n",
        },
    )
    import discbroken  # type: ignore[import-not-found]

    with pytest.raises(ModuleNotFoundError, match="a_module_that_does_not_exist"):
        discover_models(discbroken.app)


def test_discover_models_finds_models_next_to_a_top_level_app_module(project: Path) -> None:
    write(
        project,
        {
            "discflat_app.py": """
                import qiao
                app = qiao.App(__name__, config={"SECRET_KEY": "x"})
            """,
            "models.py": MODEL.format(name="DiscFlatThing"),
        },
    )
    import discflat_app  # type: ignore[import-not-found]

    discover_models(discflat_app.app)
    assert "disc_flat_thing" in Model.metadata.tables


# -- create_all, drop_all, after_migrate ----------------------------------------------------------
@pytest.fixture
def empty_url(backend: Backend, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A database with no tables at all (PostgreSQL: a schema of its own)."""
    if backend.name == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    schema: PostgresSchema = request.getfixturevalue("postgres_schema")
    return schema.fresh()


def test_create_all_makes_the_tables_and_runs_after_migrate_hooks(empty_url: str) -> None:
    app = qiao.App(__name__, config={"SECRET_KEY": "x", "DATABASE_URL": empty_url})
    db = Database(app)
    seen: list[str] = []

    @db.after_migrate
    def seed(session: Session) -> None:
        seen.append("Session" if isinstance(session, Session) else repr(session))
        session.add(DbNote(title="seeded"))

    try:
        db.create_all()
        assert seen == ["Session"]
        assert {"db_note", "db_book", "db_stamped"} <= set(inspect(db.engine).get_table_names())
        with db.session() as session:
            assert session.scalars(select(DbNote.title)).all() == ["seeded"]
        db.drop_all()
        assert not {"db_note", "db_book"} & set(inspect(db.engine).get_table_names())
    finally:
        dispose(db)
