"""``qiao db ...``: Alembic migrations without Alembic configuration.

``qiao db init`` writes a ``migrations/`` folder (an ``env.py`` that calls ``run_migrations``,
the revision template and ``versions/``); the other commands drive Alembic's command API with a
``Config`` built here, carrying the app, so no ``alembic.ini`` is needed. On SQLite, migrations
use batch mode so ``ALTER`` works.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qiao.http.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from alembic.config import Config

    from qiao.app import App
    from qiao.db._database import Database

__all__ = ["command", "migrations_folder", "run_migrations"]

_TEMPLATE = Path(__file__).parent / "_migration_template"


def _database(app: App) -> Database:
    db: Database | None = app.extensions.get("db")
    if db is None:
        raise ImproperlyConfigured("qiao db needs the database battery: qiao.db.Database(app).")
    return db


def migrations_folder(app: App) -> Path:
    """Where the project's migrations live (``DATABASE_MIGRATIONS``, relative to the app)."""
    folder = Path(str(_database(app).setting("DATABASE_MIGRATIONS")))
    return folder if folder.is_absolute() else Path(app.root_path) / folder


def alembic_config(app: App) -> Config:
    """An Alembic ``Config`` for ``app``'s migrations folder, carrying the app itself."""
    try:
        from alembic.config import Config
    except ImportError:
        raise ImproperlyConfigured("Migrations need Alembic: pip install 'qiao[db]'") from None
    folder = migrations_folder(app)
    config = Config()
    config.set_main_option("script_location", str(folder))
    config.set_main_option("path_separator", "os")
    config.attributes["qiao_app"] = app
    return config


def run_migrations() -> None:
    """The body of a project's ``migrations/env.py``: run Alembic against the app's database
    with every model's metadata (models found by ``discover_models``)."""
    from alembic import context

    from qiao.db._discovery import discover_models
    from qiao.db._model import Model

    app = context.config.attributes.get("qiao_app")
    if app is None:  # run by the plain ``alembic`` command: find the app like ``qiao`` does
        from qiao.cli import find_app

        app, _ = find_app(None)
    db = _database(app)
    app.compile()
    discover_models(app)
    options: dict[str, Any] = {
        "target_metadata": Model.metadata,
        "compare_type": True,
        "render_item": _render_item,
    }
    if context.config.attributes.get("skip_empty"):
        options["process_revision_directives"] = _skip_empty
    if context.is_offline_mode():
        context.configure(
            url=db.url.render_as_string(hide_password=False),
            literal_binds=True,
            render_as_batch=db.url.get_backend_name() == "sqlite",
            **options,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    with db.engine.connect() as connection:
        context.configure(
            connection=connection,
            render_as_batch=connection.dialect.name == "sqlite",
            **options,
        )
        with context.begin_transaction():
            context.run_migrations()


def _render_item(kind: str, item: Any, context: Any) -> str | bool:
    """Write qiao's column types as the plain SQLAlchemy types they store, so a migration
    imports nothing from qiao (``TimestampMixin``'s ``UTCDateTime`` is a ``DateTime``)."""
    from qiao.db._model import UTCDateTime

    if kind == "type" and isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False  # Alembic's own rendering


def _skip_empty(context: Any, revision: Any, directives: list[Any]) -> None:
    script = directives[0]
    if script.upgrade_ops.is_empty():
        directives[:] = []
        print("No changes detected.")


def _init(app: App, args: argparse.Namespace) -> int:
    folder = migrations_folder(app)
    if folder.exists() and any(folder.iterdir()):
        raise SystemExit(f"qiao db init: {folder} already exists and is not empty.")
    (folder / "versions").mkdir(parents=True, exist_ok=True)
    shutil.copy(_TEMPLATE / "env.py.tmpl", folder / "env.py")
    shutil.copy(_TEMPLATE / "script.py.mako", folder / "script.py.mako")
    (folder / "versions" / ".keep").write_text("")
    print(f"Created {os.path.relpath(folder)}; next: qiao db makemigrations -m 'first tables'")
    return 0


def _needs_folder(app: App) -> None:
    if not (migrations_folder(app) / "env.py").exists():
        raise SystemExit("qiao db: no migrations folder yet; run qiao db init first.")


def command(app: App, argv: list[str]) -> int:
    """``qiao db init | makemigrations -m MSG | migrate [REV] | downgrade [REV] | history |
    current``."""
    parser = argparse.ArgumentParser(prog="qiao db", description="Database migrations (Alembic).")
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("init", help="create the migrations folder")
    make = sub.add_parser("makemigrations", help="write a migration from model changes")
    make.add_argument("-m", "--message", required=True, help="what the migration does")
    make.add_argument("--empty", action="store_true", help="write an empty migration to edit")
    up = sub.add_parser("migrate", help="apply migrations (to the latest by default)")
    up.add_argument("revision", nargs="?", default="head")
    up.add_argument("--sql", action="store_true", help="print the SQL instead of running it")
    down = sub.add_parser("downgrade", help="revert migrations (one by default)")
    down.add_argument("revision", nargs="?", default="-1")
    down.add_argument("--sql", action="store_true", help="print the SQL instead of running it")
    sub.add_parser("history", help="list the migrations")
    sub.add_parser("current", help="show the database's revision")
    args = parser.parse_args(argv)
    if args.action == "init":
        return _init(app, args)
    _needs_folder(app)
    from alembic.util import CommandError

    try:
        return _run(app, args)
    except CommandError as exc:  # Alembic's own errors are the user's to fix: one line
        raise SystemExit(f"qiao db {args.action}: {exc}") from None


def _run(app: App, args: argparse.Namespace) -> int:
    from alembic import command as alembic

    config = alembic_config(app)
    db = _database(app)
    if args.action == "makemigrations":
        config.attributes["skip_empty"] = not args.empty
        alembic.revision(config, message=args.message, autogenerate=not args.empty)
    elif args.action == "migrate":
        alembic.upgrade(config, args.revision, sql=args.sql)
        if not args.sql:
            db.run_after_migrate()
            print(f"Migrated {db.url.render_as_string(hide_password=True)} to {args.revision}.")
    elif args.action == "downgrade":
        if args.sql and ":" not in args.revision:
            raise SystemExit("qiao db downgrade --sql needs a range: FROM:TO (e.g. head:base).")
        alembic.downgrade(config, args.revision, sql=args.sql)
        if not args.sql:
            print(f"Downgraded {db.url.render_as_string(hide_password=True)} to {args.revision}.")
    elif args.action == "history":
        alembic.history(config, verbose=False)
    else:
        alembic.current(config, verbose=False)
    return 0
