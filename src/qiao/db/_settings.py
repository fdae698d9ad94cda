"""The database battery's settings: start-up checks (``qiao.E401``, ``qiao.E402``) and URLs.

Every ``DATABASE_*`` setting is checked when the app compiles, so a wrong one stops the app at
start-up with the setting, the value and what it must be, instead of failing at the first query.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from qiao.http.exceptions import ImproperlyConfigured

__all__ = ["SETTING_CHECKS", "async_url", "check_settings", "resolve_url", "sqlite_folder"]

#: Async drivers for the sync URLs people write.
ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "postgresql+psycopg2": "postgresql+psycopg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}
SYNC_DRIVERS = {"postgresql": "postgresql+psycopg"}
#: ``scheme://user:password@`` (or ``user:password@`` after a missing ``:``): the password part.
PASSWORD_IN_URL = re.compile(r"([^:/@\s]+:)[^@/\s]*@")


def _whole(minimum: int) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, int) and not isinstance(value, bool) and value >= minimum


#: What each setting must be (``qiao.E402``): a test, and the words the error says it with.
#: ``DATABASE_URL`` and ``DATABASE_ASYNC_URL`` are parsed instead (``qiao.E401``).
SETTING_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "DATABASE_ECHO": (lambda v: isinstance(v, bool) or v == "debug", "True, False or 'debug'"),
    "DATABASE_POOL_SIZE": (_whole(0), "a non-negative whole number"),
    "DATABASE_MAX_OVERFLOW": (_whole(0), "a non-negative whole number"),
    "DATABASE_POOL_TIMEOUT": (_whole(0), "a non-negative whole number"),
    "DATABASE_POOL_RECYCLE": (_whole(-1), "a whole number of seconds, or -1 for never"),
    "DATABASE_POOL_PRE_PING": (lambda v: isinstance(v, bool), "True or False"),
    "DATABASE_ENGINE_OPTIONS": (
        lambda v: v is None or (isinstance(v, dict) and all(isinstance(k, str) for k in v)),
        "a dict of create_engine() arguments",
    ),
    "DATABASE_QUERY_STATS": (
        lambda v: v is None or isinstance(v, bool),
        "True, False or None (on when DEBUG is)",
    ),
    "DATABASE_N_PLUS_ONE_THRESHOLD": (_whole(0), "a non-negative whole number"),
    "DATABASE_MIGRATIONS": (
        lambda v: isinstance(v, str | os.PathLike) and str(v) != "",
        "a folder path (relative to the app)",
    ),
}


def check_settings(setting: Callable[[str], Any]) -> None:
    """Check every setting of ``SETTING_CHECKS``; ``setting(name)`` reads one.

    Raises:
        ImproperlyConfigured: ``qiao.E402``, naming the first wrong setting and its value.
    """
    for key, (valid, expected) in SETTING_CHECKS.items():
        value = setting(key)
        if not valid(value):
            raise ImproperlyConfigured(f"qiao.E402: {key} must be {expected}, got {value!r}.")


def resolve_url(raw: Any, setting: str, *, root_path: str, memory_name: str) -> URL:
    """The URL the engines use for the setting's value ``raw``: a relative SQLite file made
    relative to ``root_path`` (the app's folder), an in-memory SQLite database made the named
    shared one ``memory_name``, and ``postgresql://`` given psycopg 3.

    Raises:
        ImproperlyConfigured: ``qiao.E401``, a URL SQLAlchemy cannot parse or whose dialect is
            unknown (the message hides the password).
    """
    try:
        url = make_url(str(raw))
        url.get_dialect()  # an unknown dialect ("postgres://") fails here, at start-up
    except (ArgumentError, ImportError) as exc:
        # SECURITY: the message goes to logs and CI output: no password in it.
        shown = PASSWORD_IN_URL.sub(r"\1***@", str(raw))
        reason = PASSWORD_IN_URL.sub(r"\1***@", str(exc))
        raise ImproperlyConfigured(
            f"qiao.E401: {setting} {shown!r} is not a database URL qiao can use "
            f"({reason}); write "
            "'sqlite:///instance/app.db' or 'postgresql://user:password@host/dbname'."
        ) from None
    url = url.set(drivername=SYNC_DRIVERS.get(url.drivername, url.drivername))
    database = url.database
    if url.get_backend_name() == "sqlite" and database in (None, "", ":memory:"):
        # One in-memory database for the whole app, sync and async engines alike: a named
        # shared-cache memory database (a plain one would be one per connection).
        return url.set(
            database=f"file:{memory_name}?mode=memory&cache=shared", query={"uri": "true"}
        )
    if (
        url.get_backend_name() == "sqlite"
        and database
        and not database.startswith("file:")
        and not os.path.isabs(database)
    ):
        url = url.set(database=os.path.join(root_path, database))
    return url


def async_url(url: URL) -> URL:
    """The async twin of the sync ``url`` (aiosqlite, psycopg 3), or ``url`` as written."""
    driver = ASYNC_DRIVERS.get(url.drivername)
    if driver is None:
        return url  # an async driver already, or one we do not know: use it as written
    return url.set(drivername=driver)


def sqlite_folder(url: URL) -> str | None:
    """The folder a SQLite file of ``url`` lives in, or None (not SQLite, in memory, a bare
    file name, or a ``file:`` URI)."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        return None
    return os.path.dirname(database) or None
