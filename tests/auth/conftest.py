"""Fixtures for the auth tests.

``env`` is parametrized over the databases: a SQLite file of its own, then the real PostgreSQL at
``QIAO_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``) in a schema
made for this test run and dropped after it (tables are emptied after each test). Without a
reachable server the PostgreSQL runs skip, unless ``QIAO_REQUIRE_SERVICES=1`` makes that a
failure. ``serve`` runs a test under WSGI and under ASGI; ``redis_url`` is the real Redis.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from tests.auth._support import AuthEnv, postgres_url, services_required, sync_url
from tests.http._support import Serve

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def _unavailable(service: str, reason: str, fix: str) -> None:
    message = (
        f"{service} tests need a {service} server: {reason}. {fix}; "
        "QIAO_REQUIRE_SERVICES=1 turns this skip into a failure."
    )
    if services_required():
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_schema_url() -> Iterator[str]:
    """The PostgreSQL URL with a schema unique to this test run on its search path."""
    url = postgres_url()
    try:
        import psycopg
    except ImportError:
        _unavailable("PostgreSQL", "psycopg is not installed", "pip install 'qiao[postgres]'")
    try:
        connection = psycopg.connect(url, connect_timeout=3, autocommit=True)
    except psycopg.Error as exc:
        _unavailable(
            "PostgreSQL",
            f"{url} is unreachable ({str(exc).strip()})",
            "Start one or point QIAO_TEST_POSTGRES_URL at one",
        )
    schema = f"qiao_auth_{secrets.token_hex(6)}"
    with connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuthEnv]:
    """A database with the tables made, and a factory of apps using it."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'auth.db'}"
    else:
        url = request.getfixturevalue("postgres_schema_url")
    environment = AuthEnv(url, request.param, create_engine(sync_url(url)))
    environment.create_tables()
    try:
        yield environment
    finally:
        environment.close()


@pytest.fixture
def sqlite_env(tmp_path: Path) -> Iterator[AuthEnv]:
    """``env`` on SQLite only (for tests of logic that no database changes)."""
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    environment = AuthEnv(url, "sqlite", create_engine(url))
    environment.create_tables()
    try:
        yield environment
    finally:
        environment.close()


@pytest.fixture(params=["wsgi", "asgi"])
def serve(request: pytest.FixtureRequest) -> Iterator[Serve]:
    """Call the app through WSGI, then (second run) through ASGI."""
    with ExitStack() as stack:
        yield Serve(request.param, stack)


@pytest.fixture
def redis_url() -> str:
    """The Redis server at ``QIAO_TEST_REDIS_URL``; skips (or fails) when unreachable."""
    url = os.environ.get("QIAO_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    try:
        import redis
    except ImportError:
        _unavailable("Redis", "redis-py is not installed", "pip install 'qiao[redis]'")
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        _unavailable("Redis", f"{url} is unreachable ({exc})", "Start redis-server")
    client.close()
    return url


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix unique to this test; its keys are removed after it."""
    import redis

    prefix = f"qiao-test-auth:{secrets.token_hex(8)}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)
    client.close()
