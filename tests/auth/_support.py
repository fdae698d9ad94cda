"""Helpers for the auth tests: an app with every battery, users made outside the app, cheap
hashing, and reading CSRF tokens and cookies out of responses.

``AuthEnv`` owns one database (a SQLite file, or a schema of the real PostgreSQL) and makes apps
on it. Tables are created with a separate engine, so a test can still add routes to an app
before the app compiles (``db.create_all()`` would compile it).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

import qiao
import qiao.auth.models
from qiao._concurrency import run_coroutine_blocking
from qiao.auth import (
    Argon2Hasher,
    Auth,
    PasswordHashers,
    PBKDF2SHA256Hasher,
    ScryptHasher,
    create_permissions,
)
from qiao.auth.models import User
from qiao.csrf import CSRF
from qiao.db import Database, Model
from qiao.mail import Mail
from qiao.sessions import Sessions
from qiao.templating import Templates

SECRET = "test-secret"
#: A password every default validator accepts.
PASSWORD = "correct-horse-battery"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
#: Argon2 with the smallest parameters, so tests hash in microseconds.
FAST_HASHERS = [
    Argon2Hasher(time_cost=1, memory_cost=8, parallelism=1),
    PBKDF2SHA256Hasher(iterations=1000),
    ScryptHasher(work_factor=16),
]
FAST = PasswordHashers(FAST_HASHERS)
_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def services_required() -> bool:
    """``QIAO_REQUIRE_SERVICES=1``: a missing service fails the test instead of skipping it."""
    return os.environ.get("QIAO_REQUIRE_SERVICES", "") == "1"


def postgres_url() -> str:
    return os.environ.get("QIAO_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def sync_url(url: str) -> str:
    """The URL with the psycopg 3 driver named (SQLAlchemy's default is psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


@dataclass
class AuthEnv:
    """One test's database and the apps made on it."""

    url: str
    kind: str
    engine: Engine
    apps: list[qiao.App] = field(default_factory=list)

    def create_tables(self) -> None:
        Model.metadata.create_all(self.engine)
        with Session(self.engine) as session:
            create_permissions(session)
            session.commit()

    def app(self, *, batteries: bool = True, **config: Any) -> qiao.App:
        """An app with Database, Sessions, CSRF, Templates, Mail (memory) and Auth."""
        settings: dict[str, Any] = {
            "SECRET_KEY": SECRET,
            "DATABASE_URL": self.url,
            "MAIL_BACKEND": "memory",
            "AUTH_PASSWORD_HASHERS": FAST_HASHERS,
            **config,
        }
        app = qiao.App(__name__, config=settings)
        if batteries:
            db = Database(app)

            async def dispose_async_engine() -> None:
                # NOTE: the async engine's pooled connections belong to the event loop that
                # made them (the ASGI test client's), so close them there, at lifespan end.
                if db._async_engine is not None:
                    await db._async_engine.dispose()
                    db._async_engine = None

            app.on_shutdown(dispose_async_engine)
            Sessions(app)
            CSRF(app)
            Templates(app)
            Mail(app)
            Auth(app)
        self.apps.append(app)
        return app

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session on this database, committed at the end of the block."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session
            session.commit()

    def user(self, username: str = "ada", password: str | None = PASSWORD, **fields: Any) -> Any:
        """Create a user (cheap argon2 hash) and return it, detached."""
        fields.setdefault("email", f"{username}@example.com")
        user = User(username=username, **fields)
        user.password = FAST.make(password)
        with self.session() as session:
            session.add(user)
        return user

    def password_of(self, username: str) -> str:
        with self.session() as session:
            return str(
                session.execute(
                    text("SELECT password FROM auth_user WHERE username = :u"), {"u": username}
                ).scalar_one()
            )

    def close(self) -> None:
        for app in self.apps:
            db = app.extensions.get("db")
            if db is None:
                continue
            if db._engine is not None:
                db._engine.dispose()
            if db._async_engine is not None:  # used by async views under WSGI: this thread's loop
                run_coroutine_blocking(db._async_engine.dispose())
        if self.kind == "postgresql":
            with self.engine.begin() as connection:
                tables = ", ".join(f'"{t.name}"' for t in Model.metadata.sorted_tables)
                connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        self.engine.dispose()


# -- responses ----------------------------------------------------------------------------------
def csrf_token(response: httpx.Response) -> str:
    """The hidden CSRF token of the page's form."""
    match = _CSRF_INPUT.search(response.text)
    assert match is not None, f"no CSRF token in the page:\n{response.text}"
    return match.group(1)


def post_form(client: Any, path: str, data: dict[str, str], **kwargs: Any) -> httpx.Response:
    """GET ``path`` for its CSRF token, then POST ``data`` with it, as a browser would."""
    page = client.get(path, headers={"accept": "text/html"})
    return client.post(
        path,
        data={**data, "csrfmiddlewaretoken": csrf_token(page)},
        headers={"accept": "text/html"},
        **kwargs,
    )


def log_in(client: Any, username: str = "ada", password: str = PASSWORD) -> httpx.Response:
    """Log in through the login view; the response is the 303 after success."""
    response = post_form(client, "/accounts/login/", {"username": username, "password": password})
    assert response.status_code == 303, response.text
    return response


def cookie(client: Any, name: str) -> str | None:
    """The value of cookie ``name`` the client holds."""
    jar = client._client.cookies if hasattr(client, "_client") else client.cookies
    return jar.get(name)  # type: ignore[no-any-return]


def set_cookie(client: Any, name: str, value: str) -> None:
    """Give the client cookie ``name`` (moving a session between apps)."""
    jar = client._client.cookies if hasattr(client, "_client") else client.cookies
    jar.set(name, value)
