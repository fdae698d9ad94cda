"""What a project's ``migrations/env.py`` imports: ``run_migrations`` (see ``qiao db``)."""

from qiao.db._migrations import alembic_config, migrations_folder, run_migrations

__all__ = ["alembic_config", "migrations_folder", "run_migrations"]
