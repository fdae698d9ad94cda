"""Tests of the database battery (``qiao.db``) on SQLite and PostgreSQL."""
