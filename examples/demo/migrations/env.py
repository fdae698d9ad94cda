"""Alembic's environment for this project, wired by qiao (``qiao db ...`` runs it).

It finds the app, imports its models and runs the migrations on its database; there is no
alembic.ini to keep. See qiao's docs/migrations.md.
"""

from qiao.db.migrations import run_migrations

run_migrations()
