"""The database battery: engines from ``DATABASE_URL``, one session per request, on_commit.

``request.db`` is a sync ``Session`` and ``request.adb`` an ``AsyncSession``, each made on first
use. When the request ends the battery commits if the view succeeded and rolls back if it
raised, then runs the ``on_commit`` callbacks; a streamed response keeps its session open until
the last chunk is sent (or the client has gone), then closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from qiao.extensions import Extension
from qiao.http.exceptions import ImproperlyConfigured, ServiceUnavailable

try:
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import URL, Engine, make_url
    from sqlalchemy.exc import ArgumentError
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
    from sqlalchemy.orm import Session, sessionmaker
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImproperlyConfigured(
        f"The database battery needs SQLAlchemy: pip install 'qiao[db]' ({exc})."
    ) from None

if TYPE_CHECKING:
    from qiao.app import App
    from qiao.http.request import Request
    from qiao.http.response import Response

__all__ = ["Database", "DatabaseUnavailable", "on_commit"]

logger = logging.getLogger("qiao.db")
_PENDING = "qiao_on_commit_pending"
_READY = "qiao_on_commit_ready"
#: Async drivers for the sync URLs people write.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "postgresql+psycopg2": "postgresql+psycopg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}
_SYNC_DRIVERS = {"postgresql": "postgresql+psycopg"}


class DatabaseUnavailable(ServiceUnavailable):
    """503: the database cannot be reached; the message says where and why (no password)."""


def on_commit(session: Session | AsyncSession, callback: Callable[[], Any]) -> None:
    """Run ``callback()`` after ``session``'s transaction commits; never if it rolls back.

    For work that must not happen for data that was never saved: e-mails, tasks, cache
    invalidation. In a request the battery runs the callbacks after its commit (an async
    callback is awaited under ``request.adb``); in ``db.session()`` blocks, when the block ends.
    """
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    sync.info.setdefault(_PENDING, []).append(callback)


def _after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        session.info.setdefault(_READY, []).extend(pending)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _take_ready(session: Session) -> list[Callable[[], Any]]:
    ready: list[Callable[[], Any]] = session.info.pop(_READY, [])
    return ready


def _run_ready(session: Session) -> None:
    for callback in _take_ready(session):
        try:
            result = callback()
            if asyncio.iscoroutine(result):
                result.close()
                raise TypeError("an async on_commit callback needs an async session (adb)")
        except Exception:
            logger.exception("on_commit callback %r failed", callback)


async def _arun_ready(session: Session) -> None:
    for callback in _take_ready(session):
        try:
            result = callback()
            if asyncio.iscoroutine(result):
                await result
        except Exception:
            logger.exception("on_commit callback %r failed", callback)


class Database(Extension):
    """The database battery: ``db = Database(app)``; settings ``DATABASE_*``.

    Attributes (after the app compiles, or ``db.engine`` on first use):
        engine, async_engine: the SQLAlchemy engines.
    """

    name = "db"
    prefix = "DATABASE_"
    settings: ClassVar[dict[str, Any]] = {
        "DATABASE_URL": "sqlite:///instance/app.db",
        "DATABASE_ASYNC_URL": None,
        "DATABASE_ECHO": False,
        "DATABASE_POOL_SIZE": 5,
        "DATABASE_MAX_OVERFLOW": 10,
        "DATABASE_POOL_TIMEOUT": 30,
        "DATABASE_POOL_RECYCLE": 3600,
        "DATABASE_POOL_PRE_PING": True,
        "DATABASE_ENGINE_OPTIONS": {},
        "DATABASE_QUERY_STATS": None,
        "DATABASE_N_PLUS_ONE_THRESHOLD": 5,
        "DATABASE_MIGRATIONS": "migrations",
    }

    def __init__(self, app: App | None = None, **options: Any) -> None:
        self._engine: Engine | None = None
        self._async_engine: AsyncEngine | None = None
        self._sessions: sessionmaker[Session] | None = None
        self._async_sessions: Any = None
        #: ``func(session)`` hooks run after ``qiao db migrate`` (auth creates permissions).
        self.after_migrate_hooks: list[Callable[[Session], None]] = []
        super().__init__(app, **options)

    def init_app(self, app: App) -> None:
        """Install on ``app``: settings, ``request.db`` / ``request.adb``, the request hooks,
        and the ``qiao db`` commands."""
        super().init_app(app)
        app.add_request_attribute("db", self._request_session)
        app.add_request_attribute("adb", self._request_async_session)
        app.on_shutdown(self.dispose)
        from qiao.db._migrations import command

        app.add_command("db", command, help="database migrations (Alembic): qiao db --help")

    # -- configuration --------------------------------------------------------------------------
    def configure(self, app: App) -> None:
        """Read the settings (when the app compiles); engines are made on first use.

        Raises:
            ImproperlyConfigured: a URL SQLAlchemy cannot parse (``qiao.E401``) or a bad pool
                setting (``qiao.E402``).
        """
        self.url = self._resolve_url(self.setting("DATABASE_URL"))
        async_url = self.setting("DATABASE_ASYNC_URL")
        self.async_url = (
            self._resolve_url(async_url, "DATABASE_ASYNC_URL")
            if async_url
            else _async_url(self.url)
        )
        for key in ("DATABASE_POOL_SIZE", "DATABASE_MAX_OVERFLOW", "DATABASE_POOL_TIMEOUT"):
            value = self.setting(key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ImproperlyConfigured(
                    f"qiao.E402: {key} must be a non-negative whole number, got {value!r}."
                )
        stats = self.setting("DATABASE_QUERY_STATS")
        self.query_stats = bool(app.config["DEBUG"] if stats is None else stats)
        self.n_plus_one_threshold = int(self.setting("DATABASE_N_PLUS_ONE_THRESHOLD"))
        if self.query_stats:
            from qiao.db._debug import QueryStats

            QueryStats.install(app, self)

    def _resolve_url(self, raw: Any, setting: str = "DATABASE_URL") -> URL:
        try:
            url = make_url(str(raw))
            url.get_dialect()  # an unknown dialect ("postgres://") fails here, at start-up
        except (ArgumentError, ImportError) as exc:
            # SECURITY: the message goes to logs and CI output: no password in it.
            shown = _PASSWORD_IN_URL.sub(r"\1***@", str(raw))
            reason = _PASSWORD_IN_URL.sub(r"\1***@", str(exc))
            raise ImproperlyConfigured(
                f"qiao.E401: {setting} {shown!r} is not a database URL qiao can use "
                f"({reason}); write "
                "'sqlite:///instance/app.db' or 'postgresql://user:password@host/dbname'."
            ) from None
        url = url.set(drivername=_SYNC_DRIVERS.get(url.drivername, url.drivername))
        database = url.database
        if url.get_backend_name() == "sqlite" and database in (None, "", ":memory:"):
            # One in-memory database for the whole app, sync and async engines alike: a named
            # shared-cache memory database (a plain one would be one per connection).
            return url.set(
                database=f"file:qiao-memory-{id(self)}?mode=memory&cache=shared",
                query={"uri": "true"},
            )
        if (
            url.get_backend_name() == "sqlite"
            and database
            and database != ":memory:"
            and not database.startswith("file:")
            and not os.path.isabs(database)
        ):
            assert self.app is not None  # a relative SQLite file lives next to the app
            url = url.set(database=os.path.join(self.app.root_path, database))
        return url

    # -- engines --------------------------------------------------------------------------------
    def _engine_options(self, url: URL) -> dict[str, Any]:
        options: dict[str, Any] = {
            "echo": bool(self.setting("DATABASE_ECHO")),
            "pool_pre_ping": bool(self.setting("DATABASE_POOL_PRE_PING")),
        }
        memory = url.get_backend_name() == "sqlite" and "mode=memory" in (url.database or "")
        if memory:
            # An in-memory SQLite database lives in one connection: share it with every thread.
            from sqlalchemy.pool import StaticPool

            options.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
        else:
            options.update(
                pool_size=self.setting("DATABASE_POOL_SIZE"),
                max_overflow=self.setting("DATABASE_MAX_OVERFLOW"),
                pool_timeout=self.setting("DATABASE_POOL_TIMEOUT"),
                pool_recycle=self.setting("DATABASE_POOL_RECYCLE"),
            )
        extra = self.setting("DATABASE_ENGINE_OPTIONS") or {}
        if not isinstance(extra, dict):
            raise ImproperlyConfigured(
                f"qiao.E402: DATABASE_ENGINE_OPTIONS must be a dict of create_engine() "
                f"arguments, got {extra!r}."
            )
        options.update(extra)
        return options

    def _configured(self) -> None:
        if not hasattr(self, "url"):
            if self.app is None:
                raise ImproperlyConfigured("Database is not installed on an app: Database(app).")
            # NOTE: configure the batteries without compiling the routes, so a script may
            # create tables or seed data before every route is declared.
            self.app.configure()

    @property
    def engine(self) -> Engine:
        """The sync engine, made on first use (SQLite folders are created then)."""
        if self._engine is None:
            self._configured()
            _make_sqlite_folder(self.url)
            engine = create_engine(self.url, **self._engine_options(self.url))
            event.listen(engine, "handle_error", self._explain_connect_error)
            _sqlite_transactions(engine)
            self._engine = engine
        return self._engine

    @property
    def async_engine(self) -> AsyncEngine:
        """The async engine (aiosqlite for SQLite, psycopg 3 for PostgreSQL), made on first use."""
        if self._async_engine is None:
            self._configured()
            _make_sqlite_folder(self.async_url)
            engine = create_async_engine(self.async_url, **self._engine_options(self.async_url))
            event.listen(engine.sync_engine, "handle_error", self._explain_connect_error)
            _sqlite_transactions(engine.sync_engine)
            self._async_engine = engine
        return self._async_engine

    def _explain_connect_error(self, context: Any) -> None:
        if context.is_pre_ping:  # a dropped pooled connection: SQLAlchemy replaces it
            return
        if context.connection is not None and not context.is_disconnect:
            return
        exc = context.original_exception
        url = self.url.render_as_string(hide_password=True)
        message = (
            f"Cannot reach the database at {url}: {str(exc).strip()}. Check DATABASE_URL and "
            "that the server is running."
        )
        logger.error("%s", message)
        debug = self.app is not None and bool(self.app.config["DEBUG"])
        # SECURITY: where the database is stays in the log, not in answers to clients.
        raise DatabaseUnavailable(
            message if debug else "The database is unavailable; try again later."
        ) from exc

    @property
    def sessions(self) -> sessionmaker[Session]:
        """The sync session factory (``expire_on_commit=False``: objects stay readable)."""
        if self._sessions is None:
            self._sessions = sessionmaker(self.engine, class_=QiaoSession, expire_on_commit=False)
        return self._sessions

    @property
    def async_sessions(self) -> Any:
        """The ``async_sessionmaker`` for ``AsyncSession``."""
        if self._async_sessions is None:
            from sqlalchemy.ext.asyncio import async_sessionmaker

            factory = async_sessionmaker(
                self.async_engine, sync_session_class=QiaoSession, expire_on_commit=False
            )
            self._async_sessions = factory
        return self._async_sessions

    # -- sessions outside requests --------------------------------------------------------------
    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session for scripts, commands and tests: commits when the block ends, rolls back
        if it raises, runs ``on_commit`` callbacks after a commit, and closes."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
        _run_ready(session)

    @contextlib.asynccontextmanager
    async def asession(self) -> AsyncIterator[AsyncSession]:
        """The async twin of ``session()``."""
        session: AsyncSession = self.async_sessions()
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
        finally:
            await session.close()
        await _arun_ready(session.sync_session)

    # -- per request ----------------------------------------------------------------------------
    def _request_session(self, request: Request) -> Session:
        return self.sessions()

    def _request_async_session(self, request: Request) -> AsyncSession:
        session: AsyncSession = self.async_sessions()
        return session

    def after_request(self, request: Request, response: Response) -> Any:
        """Commit (or roll back, if the view raised) the request's sessions, and close them,
        or have a streamed response close them when it ends. Does nothing for requests that
        never touched the database."""
        state = request.__dict__
        state[_HANDLED] = True
        streaming = response.body_kind != 0  # PERF: BODY is 0; a stream keeps its session
        if streaming:
            # Close whatever sessions exist when the stream ends, including one the body's
            # generator opens after this hook (nothing else would close it).
            response.call_on_close(functools.partial(_close_all, request))
        sync_session: Session | None = state.get("db")
        async_session: AsyncSession | None = state.get("adb")
        if sync_session is None and async_session is None:
            return None
        failed = request.exception is not None
        if async_session is not None:
            return self._afinish(request, response, sync_session, async_session, failed)
        assert sync_session is not None
        if request.scope is not None:  # ASGI: commit in the thread pool, off the event loop
            return _finish_in_thread(request, sync_session, response, failed, streaming)
        _finish(sync_session, response, failed, streaming)
        return None

    async def _afinish(
        self,
        request: Request,
        response: Response,
        sync_session: Session | None,
        async_session: AsyncSession,
        failed: bool,
    ) -> None:
        streaming = response.body_kind != 0
        if sync_session is not None:
            await _finish_in_thread(request, sync_session, response, failed, streaming)
        try:
            if failed:
                await async_session.rollback()
            else:
                await async_session.commit()
        except BaseException:
            await async_session.rollback()
            await async_session.close()
            raise
        if not streaming:
            await async_session.close()
        await _arun_ready(async_session.sync_session)

    def after_migrate(self, func: Callable[[Session], None]) -> Callable[[Session], None]:
        """Register ``func(session)`` to run after migrations are applied (and after
        ``create_all``): data a schema needs, such as permission rows."""
        self.after_migrate_hooks.append(func)
        return func

    def run_after_migrate(self) -> None:
        """Run the ``after_migrate`` hooks in one transaction."""
        if self.after_migrate_hooks:
            with self.session() as session:
                for hook in self.after_migrate_hooks:
                    hook(session)

    async def dispose(self) -> None:
        """Close every pooled connection (run at shut-down; the engines reopen on next use).
        The async engine is disposed on the running loop, which made its connections."""
        if self._async_engine is not None:
            await self._async_engine.dispose()
        if self._engine is not None:
            self._engine.dispose()

    def teardown_request(self, request: Request, exc: Exception | None) -> Any:
        """Roll back and close the request's sessions if ``after_request`` never ran for them
        (an after hook of a battery installed later failed first): no connection leaks."""
        state = request.__dict__
        if state.get(_HANDLED) or not (state.get("db") or state.get("adb")):
            return None
        return _close_all(request)

    def create_all(self) -> None:
        """Create every model's table that does not exist (tests and quick starts; use
        migrations for real databases)."""
        from qiao.db._discovery import discover_models
        from qiao.db._model import Model

        assert self.app is not None
        discover_models(self.app)
        Model.metadata.create_all(self.engine)
        self.run_after_migrate()

    def drop_all(self) -> None:
        """Drop every model's table (tests)."""
        from qiao.db._model import Model

        Model.metadata.drop_all(self.engine)


def _soft_rollback(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # the outermost transaction rolled back
        _after_rollback(session)


class QiaoSession(Session):
    """The session class of ``request.db`` and (inside) ``request.adb``: ``on_commit``
    bookkeeping is registered once on the class, not per session (PERF: 17 µs a request)."""


event.listen(QiaoSession, "after_commit", _after_commit)
event.listen(QiaoSession, "after_soft_rollback", _soft_rollback)


def _finish(session: Session, response: Response, failed: bool, streaming: bool) -> None:
    try:
        if failed:
            session.rollback()
        else:
            session.commit()
    except BaseException:
        session.rollback()
        session.close()
        raise
    if not streaming:  # a stream's sessions are closed by _close_all when it ends
        session.close()
    _run_ready(session)


_HANDLED = "_qiao_db_handled"
#: ``scheme://user:password@`` (or ``user:password@`` after a missing ``:``): the password part.
_PASSWORD_IN_URL = re.compile(r"([^:/@\s]+:)[^@/\s]*@")


async def _close_all(request: Request) -> None:
    """Close the request's sessions (rolling back what was not committed)."""
    state = request.__dict__
    sync_session: Session | None = state.get("db")
    async_session: AsyncSession | None = state.get("adb")
    if async_session is not None:
        await async_session.close()
    if sync_session is not None:
        if request.scope is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(request.app.executor, sync_session.close)
        else:
            sync_session.close()


async def _finish_in_thread(
    request: Request, session: Session, response: Response, failed: bool, streaming: bool
) -> None:
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(request.app.executor, _finish, session, response, failed, streaming)


def _sqlite_transactions(engine: Engine) -> None:
    """SQLAlchemy's recipe for real SQLite transactions: the driver's own transaction handling
    off, ``BEGIN`` sent by SQLAlchemy. Without it, a savepoint that comes first is committed by
    its ``RELEASE`` and survives the request's rollback."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")


def _async_url(url: URL) -> URL:
    driver = _ASYNC_DRIVERS.get(url.drivername)
    if driver is None:
        return url  # an async driver already, or one we do not know: use it as written
    return url.set(drivername=driver)


def _make_sqlite_folder(url: URL) -> None:
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        folder = os.path.dirname(url.database)
        if folder and not url.database.startswith("file:"):
            os.makedirs(folder, exist_ok=True)
