"""The database benchmark apps (``benchmarks/database.py``): TechEmpower's database tests in
qiao, Django and FastAPI, on the same tables and the same queries.

- ``GET /db``: one random ``World`` row (of 10,000) as ``{"id": .., "randomNumber": ..}``;
- ``GET /queries?queries=N``: N separate single-row queries (N clamped to 1..500; a missing or
  bad value counts as 1), a JSON list; ids are distinct (``random.sample``), so an ORM's
  identity map never answers a repeat without a query;
- ``GET /fortunes``: every ``Fortune`` row plus one made at request time, sorted by message,
  rendered in an HTML template with escaping.

Tables (made and filled by the runner): ``bench_world (id, randomnumber)`` and
``bench_fortune (id, message)``. Each app reads, at import time, the environment the runner
sets: ``QIAO_BENCH_DB`` (``sqlite`` or ``postgres``), ``QIAO_BENCH_DB_URL`` (a plain
SQLAlchemy URL: ``sqlite:///FILE`` or ``postgresql://...``) and ``QIAO_BENCH_POOL_SIZE``
(database connections per app), plus ``QIAO_BENCH_THREADS`` (FastAPI's thread pool for its
sync endpoints). Every module exposes ``app``. This package is stdlib-only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

WORLD_TABLE = "bench_world"
FORTUNE_TABLE = "bench_fortune"
WORLD_ROWS = 10_000
MAX_QUERIES = 500
ADDITIONAL_FORTUNE = "Additional fortune added at request time."
TEMPLATES = Path(__file__).resolve().parent / "templates"

#: TechEmpower's twelve fortunes (id, message): markup that must be escaped, and unicode.
FORTUNES: list[tuple[int, str]] = [
    (1, "fortune: No such file or directory"),
    (2, "A computer scientist is someone who fixes things that aren't broken."),
    (3, "After enough decimal places, nobody gives a damn."),
    (4, "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1"),
    (5, "A computer program does what you tell it to do, not what you want it to do."),
    (6, "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen"),
    (7, "Any program that runs right is obsolete."),
    (8, "A list is only as strong as its weakest link. — Donald Knuth"),
    (9, "Feature: A bug with seniority."),
    (10, "Computers make very fast, very accurate mistakes."),
    (11, '<script>alert("This should not be displayed in a browser alert box.");</script>'),
    (12, "フレームワークのベンチマーク"),
]

#: module (under ``apps.database.``) -> (framework, interface, style): style is how the views
#: reach the database ("sync": a thread per request; "async": awaited on the event loop).
APPS: dict[str, tuple[str, str, str]] = {
    "qiao_wsgi": ("qiao", "wsgi", "sync"),
    "django_wsgi": ("django", "wsgi", "sync"),
    "fastapi_sync": ("fastapi", "asgi", "sync"),
    "qiao_asgi": ("qiao", "asgi", "async"),
    "fastapi_async": ("fastapi", "asgi", "async"),
}


def queries_param(raw: Any) -> int:
    """TechEmpower's rule for ``?queries=``: an integer clamped to 1..500, else 1."""
    try:
        count = int(raw)
    except (TypeError, ValueError):
        return 1
    return min(max(count, 1), MAX_QUERIES)


def kind() -> str:
    """``sqlite`` or ``postgres``."""
    return os.environ.get("QIAO_BENCH_DB", "sqlite")


def url() -> str:
    """The database as a plain SQLAlchemy URL (no driver named)."""
    return os.environ["QIAO_BENCH_DB_URL"]


def pool_size() -> int:
    return int(os.environ.get("QIAO_BENCH_POOL_SIZE", "8"))


def threads() -> int:
    return int(os.environ.get("QIAO_BENCH_THREADS", "8"))


def sqlalchemy_url(asynchronous: bool) -> str:
    """``url()`` with the driver FastAPI's engines use: the same ones qiao picks (pysqlite or
    aiosqlite; psycopg 3 for both sync and async PostgreSQL)."""
    raw = url()
    if raw.startswith("sqlite:"):
        return raw.replace("sqlite:", "sqlite+aiosqlite:", 1) if asynchronous else raw
    return raw.replace("postgresql:", "postgresql+psycopg:", 1)


def django_database() -> dict[str, Any]:
    """``DATABASES["default"]`` for ``url()``, with persistent connections (CONN_MAX_AGE)."""
    raw = url()
    if raw.startswith("sqlite:"):
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": raw.split(":///", 1)[1],
            "CONN_MAX_AGE": None,
        }
    parts = urlsplit(raw)
    return {
        "ENGINE": "django.db.backends.postgresql",  # psycopg 3
        "NAME": parts.path.lstrip("/"),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "CONN_MAX_AGE": None,  # keep each thread's connection for the life of the process
    }
