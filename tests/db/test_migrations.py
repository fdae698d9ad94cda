"""``qiao db``: migrations through the real command, as subprocesses, in a project written into
``tmp_path`` (an app package with a blueprint package, each with a ``models.py``)."""

from __future__ import annotations

import re
import subprocess
import textwrap
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, make_url, text

from tests._servers import server_env, venv_bin
from tests.db._support import PostgresSchema, sqlalchemy_url

pytestmark = pytest.mark.filterwarnings("error")

APP = """
import os
from pathlib import Path

import qiao
from qiao.db import Database

from shop.blog import bp

app = qiao.App(__name__, config={"SECRET_KEY": "x"})
app.config["DATABASE_URL"] = os.environ["SHOP_DATABASE_URL"]
db = Database(app)
app.register_blueprint(bp)


@db.after_migrate
def note_it(session):
    with Path(os.environ["SHOP_MARKER"]).open("a") as marker:
        marker.write("migrated\\n")
"""

BLOG = """
import qiao

bp = qiao.Blueprint("blog", __name__, url_prefix="/blog")
"""

BLOG_MODELS = """
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from qiao.db import Model


class BlogPost(Model):
    title: Mapped[str] = mapped_column(String(200))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("shop_product.id"))
"""

SHOP_MODELS = """
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from qiao.db import Model, TimestampMixin


class ShopProduct(Model, TimestampMixin):
    {name}: Mapped[str] = mapped_column(String(80), unique=True)
    {extra}
"""

SKU = "sku: Mapped[str | None] = mapped_column(String(20), index=True)"

#: A hand-written migration: rename a column and its unique constraint. SQLite cannot ALTER
#: either, so both go through batch mode (a table rebuild), in two steps: in one batch Alembic
#: would drop the new constraint along with the old one.
RENAME_UP = """\
    with op.batch_alter_table("shop_product") as batch_op:
        batch_op.alter_column("name", new_column_name="title")
    with op.batch_alter_table("shop_product") as batch_op:
        batch_op.drop_constraint("uq_shop_product_name", type_="unique")
        batch_op.create_unique_constraint("uq_shop_product_title", ["title"])"""
RENAME_DOWN = """\
    with op.batch_alter_table("shop_product") as batch_op:
        batch_op.alter_column("title", new_column_name="name")
    with op.batch_alter_table("shop_product") as batch_op:
        batch_op.drop_constraint("uq_shop_product_title", type_="unique")
        batch_op.create_unique_constraint("uq_shop_product_name", ["name"])"""


@dataclass
class Project:
    root: Path
    database_url: str
    absolute_url: str

    @property
    def migrations(self) -> Path:
        return self.root / "shop" / "migrations"

    def qiao(self, *args: str, status: int = 0) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [venv_bin("qiao"), *args],
            cwd=self.root,
            env=server_env(
                QIAO_APP="shop:app",
                SHOP_DATABASE_URL=self.database_url,
                SHOP_MARKER=str(self.root / "marker.txt"),
            ),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == status, (
            f"qiao {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
        return result

    def models(self, name: str = "name", extra: str = "") -> None:
        (self.root / "shop" / "models.py").write_text(SHOP_MODELS.format(name=name, extra=extra))

    def versions(self) -> list[Path]:
        return sorted(self.migrations.joinpath("versions").glob("*.py"))

    def revision_of(self, slug: str) -> str:
        [path] = [p for p in self.versions() if p.stem.endswith(slug)]
        return path.stem.split("_", 1)[0]

    def schema(self) -> dict[str, list[str]]:
        """Each table's columns, and its unique constraints as ``uq:NAME``."""
        engine = create_engine(sqlalchemy_url(self.absolute_url))
        try:
            inspector = inspect(engine)
            return {
                table: sorted(
                    [c["name"] for c in inspector.get_columns(table)]
                    + [f"uq:{u['name']}" for u in inspector.get_unique_constraints(table)]
                )
                for table in inspector.get_table_names()
            }
        finally:
            engine.dispose()

    def query(self, sql: str) -> list[tuple[object, ...]]:
        engine = create_engine(sqlalchemy_url(self.absolute_url))
        try:
            with engine.begin() as conn:
                result = conn.execute(text(sql))
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            engine.dispose()


def make_project(root: Path, database_url: str | None) -> Project:
    """The project under ``root``, on ``database_url`` (None: a SQLite file next to the app)."""
    for name, source in {
        "shop/__init__.py": APP,
        "shop/blog/__init__.py": BLOG,
        "shop/blog/models.py": BLOG_MODELS,
    }.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    if database_url is None:
        url = "sqlite:///instance/shop.db"  # relative: next to the app package
        absolute = f"sqlite:///{root / 'shop' / 'instance' / 'shop.db'}"
    else:
        url = absolute = database_url
    project = Project(root, url, absolute)
    project.models()
    return project


Outcome = Future[None] | BaseException


@pytest.fixture(scope="module")
def outcomes(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[dict[str, Outcome]]:
    """PERF: each ``qiao`` call is a new process (about 0.6 s), so the workflows run at once,
    one thread per database; the tests below wait for their own and report it."""
    found: dict[str, Outcome] = {}
    with ThreadPoolExecutor(4) as pool:
        found["errors"] = pool.submit(
            explain_what_is_missing, make_project(tmp_path_factory.mktemp("errors"), None)
        )
        found["alembic_error"] = pool.submit(
            alembic_error, make_project(tmp_path_factory.mktemp("alembic-error"), None)
        )
        found["sqlite"] = pool.submit(
            migration_workflow, make_project(tmp_path_factory.mktemp("sqlite"), None), True
        )
        try:
            schema: PostgresSchema = request.getfixturevalue("postgres_schema")
        except (pytest.skip.Exception, pytest.fail.Exception) as exc:
            found["postgresql"] = exc  # reported by the PostgreSQL test: a skip or a failure
        else:
            project = make_project(tmp_path_factory.mktemp("postgresql"), schema.fresh())
            found["postgresql"] = pool.submit(migration_workflow, project, False)
        yield found


def outcome_of(outcomes: dict[str, Outcome], name: str) -> None:
    outcome = outcomes[name]
    if isinstance(outcome, BaseException):
        raise outcome
    outcome.result()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_migration_workflow(outcomes: dict[str, Outcome], backend: str) -> None:
    """init, makemigrations, migrate --sql, migrate, a new column, a rename by hand (batch
    mode), "No changes detected", history, downgrade, current, migrate again."""
    outcome_of(outcomes, backend)


def test_the_commands_explain_what_is_missing(outcomes: dict[str, Outcome]) -> None:
    outcome_of(outcomes, "errors")


def test_an_alembic_error_is_one_line_not_a_traceback(outcomes: dict[str, Outcome]) -> None:
    outcome_of(outcomes, "alembic_error")


def alembic_error(project: Project) -> None:
    project.qiao("db", "init")
    err = project.qiao("db", "migrate", "nosuchrevision", status=1).stderr
    assert "Can't locate revision identified by 'nosuchrevision'" in err
    assert "Traceback" not in err


def migration_workflow(project: Project, sqlite: bool) -> None:
    # init: the folder with env.py and the revision template, no alembic.ini
    out = project.qiao("db", "init").stdout
    assert out.startswith("Created shop/migrations; next: qiao db makemigrations -m")
    assert sorted(p.name for p in project.migrations.iterdir()) == [
        "env.py",
        "script.py.mako",
        "versions",
    ]
    assert not (project.root / "alembic.ini").exists()

    # the first migration: both packages' models, constraint names by the convention
    out = project.qiao("db", "makemigrations", "-m", "first tables").stdout
    assert "Generating" in out
    [first] = project.versions()
    source = first.read_text()
    assert "op.create_table('shop_product'" in source
    assert "op.create_table('blog_post'" in source  # the blueprint's models.py
    for name in (
        "pk_shop_product",
        "uq_shop_product_name",
        "fk_blog_post_product_id_shop_product",
    ):
        assert f"name=op.f('{name}')" in source
    # TimestampMixin's columns as plain SQLAlchemy types: the migration imports nothing of qiao
    assert "sa.Column('created_at', sa.DateTime(timezone=True), server_default=" in source
    assert "qiao" not in source

    # offline: the SQL, and nothing run
    sql = project.qiao("db", "migrate", "--sql").stdout
    assert re.search(r"CREATE TABLE shop_product \(", sql)
    assert "CONSTRAINT uq_shop_product_name UNIQUE (name)" in sql
    assert "INSERT INTO alembic_version" in sql
    assert set(project.schema()) <= {"alembic_version"}

    out = project.qiao("db", "migrate").stdout
    url = make_url(sqlalchemy_url(project.absolute_url))
    assert out.strip() == f"Migrated {url.render_as_string(hide_password=True)} to head."
    if url.password:
        assert url.password not in out
    tables = project.schema()
    assert tables["shop_product"] == sorted(
        ["created_at", "id", "name", "uq:uq_shop_product_name", "updated_at"]
    )
    assert tables["blog_post"] == ["id", "product_id", "title"]
    assert (project.root / "marker.txt").read_text() == "migrated\n"  # after_migrate ran
    project.query("INSERT INTO shop_product (name) VALUES ('lamp')")

    # a model change: an ALTER (batch mode on SQLite) that runs
    project.models(extra=SKU)
    project.qiao("db", "makemigrations", "-m", "add sku")
    source_text = next(p for p in project.versions() if p.stem.endswith("add_sku")).read_text()
    if sqlite:
        assert "with op.batch_alter_table('shop_product', schema=None) as batch_op:" in (
            source_text
        )
        assert "batch_op.add_column(sa.Column('sku'" in source_text
    else:
        assert "op.add_column('shop_product', sa.Column('sku'" in source_text
    assert "ix_shop_product_sku" in source_text
    project.qiao("db", "migrate")
    assert "sku" in project.schema()["shop_product"]

    # a rename, written by hand into an empty migration
    project.qiao("db", "makemigrations", "--empty", "-m", "rename name")
    rename = next(p for p in project.versions() if p.stem.endswith("rename_name"))
    body = rename.read_text()
    assert body.count("    pass\n") == 2
    rename.write_text(
        body.replace("    pass\n", RENAME_UP + "\n", 1).replace("    pass\n", RENAME_DOWN + "\n", 1)
    )
    project.qiao("db", "migrate")
    assert project.schema()["shop_product"] == sorted(
        ["created_at", "id", "sku", "title", "uq:uq_shop_product_title", "updated_at"]
    )
    assert project.query("SELECT title FROM shop_product") == [("lamp",)]  # data kept
    project.models(name="title", extra=SKU)
    out = project.qiao("db", "makemigrations", "-m", "nothing").stdout
    assert "No changes detected." in out
    assert len(project.versions()) == 3

    # history, current, downgrade and back
    history = project.qiao("db", "history").stdout.splitlines()
    first_rev, sku_rev, rename_rev = (
        project.revision_of(s) for s in ("first_tables", "add_sku", "rename_name")
    )
    assert history == [
        f"{sku_rev} -> {rename_rev} (head), rename name",
        f"{first_rev} -> {sku_rev}, add sku",
        f"<base> -> {first_rev}, first tables",
    ]
    project.qiao("db", "downgrade")
    assert project.qiao("db", "current").stdout.strip() == sku_rev
    assert "name" in project.schema()["shop_product"]
    assert project.query("SELECT name FROM shop_product") == [("lamp",)]
    project.qiao("db", "migrate")
    assert project.query("SELECT version_num FROM alembic_version") == [(rename_rev,)]
    assert (project.root / "marker.txt").read_text() == "migrated\n" * 4


def explain_what_is_missing(project: Project) -> None:
    err = project.qiao("db", "migrate", status=1).stderr
    assert "qiao db: no migrations folder yet; run qiao db init first." in err
    project.qiao("db", "init")
    err = project.qiao("db", "init", status=1).stderr
    assert "already exists and is not empty" in err
    err = project.qiao("db", "downgrade", "--sql", status=1).stderr
    assert "needs a range: FROM:TO (e.g. head:base)" in err
    (project.root / "shop" / "__init__.py").write_text(
        "import qiao\napp = qiao.App(__name__, config={'SECRET_KEY': 'x'})\n"
    )
    err = project.qiao("db", "migrate", status=1).stderr
    assert "unknown command 'db'" in err
