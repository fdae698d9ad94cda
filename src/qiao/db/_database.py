"""The database battery: engines from ``DATABASE_URL``, one session per request, on_commit.

``request.db`` is a sync ``Session`` and ``request.adb`` an ``AsyncSession``, each made on first
use. When the request ends the battery commits if the view succeeded and rolls back if it
raised, then runs the ``on_commit`` callbacks; a streamed response keeps its session open until
the last chunk is sent (or the client has gone), then closes it. Async engines are one per event
loop (``qiao.db._engines``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from qiao.extensions import Extension
from qiao.http.exceptions import ImproperlyConfigured, ServiceUnavailable

try:
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import URL, Connection, Engine
    from sqlalchemy.ext.asyncio import (
        AsyncEngine,
        AsyncSession,
        async_sessionmaker,
        create_async_engine,
    )
    from sqlalchemy.orm import Session, sessionmaker
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImproperlyConfigured(
        f"The database battery needs SQLAlchemy: pip install 'qiao[db]' ({exc})."
    ) from None

from qiao.db._engines import LoopEngines
from qiao.db._on_commit import QiaoSession, arun_ready, managed, run_ready
from qiao.db._settings import async_url, check_settings, resolve_url, sqlite_folder
from qiao.db._sqlite import RESET_OPTION, sqlite_transactions

if TYPE_CHECKING:
    from qiao.app import App
    from qiao.http.request import Request
    from qiao.http.response import Response

__all__ = ["Database", "DatabaseUnavailable"]

logger = logging.getLogger("qiao.db")
#: ``session.info`` key of an async session's ``Database`` (its engine depends on the loop).
_DATABASE = "qiao_database"
#: What a 503's log line says to check: a server that cannot be reached, a SQLite folder.
_CHECK_SERVER = "Check DATABASE_URL and that the server is running."
_CHECK_FOLDER = (
    "Check DATABASE_URL, and that the folder can be created there (no file in its way, "
    "permission to write)."
)


class DatabaseUnavailable(ServiceUnavailable):
    """503: the database cannot be reached; the message says where and why (no password)."""


class Database(Extension):
    """The database battery: ``db = Database(app)``; settings ``DATABASE_*``.

    Attributes (after the app compiles, or on first use):
        engine: the sync engine; async_engine: the running event loop's async engine.
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
        self._lock = threading.RLock()  # making engines, and on_engine hooks
        self._async_engines = LoopEngines(self._make_async_engine, self._lock)
        self._sessions: sessionmaker[Session] | None = None
        self._async_sessions: async_sessionmaker[AsyncSession] | None = None
        self._engine_hooks: list[Callable[[Engine], Any]] = []
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
        """Read and check the settings (when the app compiles); engines are made on first use.

        Raises:
            ImproperlyConfigured: a URL SQLAlchemy cannot parse (``qiao.E401``) or another
                setting of the wrong kind (``qiao.E402``, see ``_settings.SETTING_CHECKS``).
        """
        check_settings(self.setting)
        where = {"root_path": app.root_path, "memory_name": f"qiao-memory-{id(self)}"}
        self.url = resolve_url(self.setting("DATABASE_URL"), "DATABASE_URL", **where)
        raw_async = self.setting("DATABASE_ASYNC_URL")
        self.async_url = (
            resolve_url(raw_async, "DATABASE_ASYNC_URL", **where)
            if raw_async
            else async_url(self.url)
        )
        stats = self.setting("DATABASE_QUERY_STATS")
        self.query_stats = bool(app.config["DEBUG"] if stats is None else stats)
        self.n_plus_one_threshold: int = self.setting("DATABASE_N_PLUS_ONE_THRESHOLD")
        if self.query_stats:
            from qiao.db._debug import QueryStats

            QueryStats.install(app, self)

    # -- engines --------------------------------------------------------------------------------
    def _engine_options(self, url: URL) -> dict[str, Any]:
        options: dict[str, Any] = {
            "echo": self.setting("DATABASE_ECHO"),
            "pool_pre_ping": self.setting("DATABASE_POOL_PRE_PING"),
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
        options.update(self.setting("DATABASE_ENGINE_OPTIONS") or {})
        if url.get_backend_name() == "sqlite" and RESET_OPTION not in options:
            # PERF: the battery's own reset on return (``_sqlite``) replaces the pool's.
            options[RESET_OPTION] = None
            options[_OWN_RESET] = True
        return options

    def _create(self, url: URL, create: Callable[..., Any]) -> Any:
        """``create(url, **options)`` (an engine or async engine), then ``_prepare`` it."""
        options = self._engine_options(url)
        own_reset = bool(options.pop(_OWN_RESET, False))
        engine = create(url, **options)
        self._prepare(getattr(engine, "sync_engine", engine), own_reset)
        return engine

    def _configured(self) -> None:
        if not hasattr(self, "url"):
            if self.app is None:
                raise ImproperlyConfigured("Database is not installed on an app: Database(app).")
            # NOTE: configure the batteries without compiling the routes, so a script may
            # create tables or seed data before every route is declared.
            self.app.configure()

    @property
    def engine(self) -> Engine:
        """The sync engine, made on first use (SQLite folders are created then).

        Raises:
            DatabaseUnavailable: a SQLite file's folder cannot be created.
        """
        if self._engine is None:
            self._configured()  # NOTE: before the lock: configuring takes the app's lock
            with self._lock:
                if self._engine is None:
                    self._make_sqlite_folder(self.url)
                    self._engine = self._create(self.url, create_engine)
        return self._engine

    @property
    def async_engine(self) -> AsyncEngine:
        """The async engine (aiosqlite for SQLite, psycopg 3 for PostgreSQL) of the running
        event loop, made on its first use there: one engine per loop, because an engine's
        pool and connections belong to the loop that made them. Outside a running loop, the
        engine of the loop this thread last ran (under a threaded WSGI server, the worker
        thread's own), else one for code that has no loop yet.

        Raises:
            DatabaseUnavailable: a SQLite file's folder cannot be created.
        """
        self._configured()  # NOTE: before the engines' lock: configuring takes the app's lock
        return self._async_engines.get()

    @property
    def async_engines(self) -> list[AsyncEngine]:
        """Every async engine made so far, one per event loop that used the database: for
        pool statistics across a threaded server's loops."""
        return self._async_engines.all()

    @property
    def _async_engine(self) -> AsyncEngine | None:
        # NOTE: kept for code written when there was one async engine (tests/auth/_support.py):
        # the current loop's engine, or None; assigning None drops it.
        return self._async_engines.find()

    @_async_engine.setter
    def _async_engine(self, value: None) -> None:
        if value is not None:
            raise TypeError("Only None can be assigned: engines are made per event loop.")
        self._async_engines.forget()

    def _make_async_engine(self) -> AsyncEngine:
        self._make_sqlite_folder(self.async_url)
        engine: AsyncEngine = self._create(self.async_url, create_async_engine)
        return engine

    def _prepare(self, engine: Engine, own_reset: bool = False) -> None:
        event.listen(engine, "handle_error", self._explain_connect_error)
        if engine.dialect.name == "sqlite":
            sqlite_transactions(engine, reset=own_reset)
        for hook in self._engine_hooks:
            hook(engine)

    def on_engine(self, func: Callable[[Engine], Any]) -> Callable[[Engine], Any]:
        """Run ``func(engine)`` for every SQLAlchemy ``Engine`` the battery makes, as soon as
        it is made, and now for those made already: the sync engine, and the ``sync_engine``
        of each async engine (one per event loop). The place for ``event.listen(engine, ...)``,
        such as a SQLite ``PRAGMA`` on ``"connect"``; ``engine.dialect.is_async`` tells the two
        kinds apart. ``func`` must not use ``db.engine`` or ``db.async_engine`` itself."""
        with self._lock:
            self._engine_hooks.append(func)
            made = [self._engine] if self._engine is not None else []
            made += [engine.sync_engine for engine in self._async_engines.all()]
            for engine in made:
                func(engine)
        return func

    def _make_sqlite_folder(self, url: URL) -> None:
        folder = sqlite_folder(url)
        if folder is None:
            return
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            reason = f"its folder {folder} cannot be created ({exc.strerror or exc})"
            raise self._unavailable(url, reason, _CHECK_FOLDER) from exc

    def _explain_connect_error(self, context: Any) -> None:
        if context.is_pre_ping:  # a dropped pooled connection: SQLAlchemy replaces it
            return
        if context.connection is not None and not context.is_disconnect:
            return
        exc = context.original_exception
        raise self._unavailable(self.url, str(exc).strip(), _CHECK_SERVER) from exc

    def _unavailable(self, url: URL, reason: str, hint: str) -> DatabaseUnavailable:
        shown = url.render_as_string(hide_password=True)
        message = f"Cannot reach the database at {shown}: {reason}. {hint}"
        logger.error("%s", message)
        debug = self.app is not None and bool(self.app.config["DEBUG"])
        # SECURITY: where the database is stays in the log, not in answers to clients.
        return DatabaseUnavailable(
            message if debug else "The database is unavailable; try again later."
        )

    @property
    def sessions(self) -> sessionmaker[Session]:
        """The sync session factory (``expire_on_commit=False``: objects stay readable)."""
        if self._sessions is None:
            self._sessions = sessionmaker(self.engine, class_=QiaoSession, expire_on_commit=False)
        return self._sessions

    @property
    def async_sessions(self) -> async_sessionmaker[AsyncSession]:
        """The ``async_sessionmaker`` for ``AsyncSession``: a session connects through the
        engine of the event loop it runs on (unless given a ``bind``)."""
        if self._async_sessions is None:
            self._async_sessions = async_sessionmaker(
                sync_session_class=_LoopBoundSession,
                expire_on_commit=False,
                info={_DATABASE: self},
            )
        return self._async_sessions

    # -- sessions outside requests --------------------------------------------------------------
    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session for scripts, commands and tests: commits when the block ends, rolls back
        if it raises, runs ``on_commit`` callbacks after a commit, and closes."""
        session = managed(self.sessions())
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
        run_ready(session)

    @contextlib.asynccontextmanager
    async def asession(self) -> AsyncIterator[AsyncSession]:
        """The async twin of ``session()``."""
        session = self.async_sessions()
        managed(session.sync_session)
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
        finally:
            await session.close()
        await arun_ready(session.sync_session)

    # -- per request ----------------------------------------------------------------------------
    def _request_session(self, request: Request) -> Session:
        return managed(self.sessions())

    def _request_async_session(self, request: Request) -> AsyncSession:
        session = self.async_sessions()
        managed(session.sync_session)
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
        await arun_ready(async_session.sync_session)

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
        Each async engine is disposed of on its own loop when that loop runs in another
        thread; the engines of closed loops are dropped."""
        await self._async_engines.dispose()
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


class _LoopBoundSession(QiaoSession):
    """The sync half of an ``AsyncSession`` of the battery: it connects through the engine of
    the event loop running it, looked up when it needs a connection (``get_bind``, SQLAlchemy's
    hook for choosing an engine), not when the session is made."""

    def get_bind(self, mapper: Any = None, *, bind: Any = None, **kw: Any) -> Engine | Connection:
        database: Database | None = self.info.get(_DATABASE)
        if bind is None and self.bind is None and database is not None:
            return database.async_engine.sync_engine
        return super().get_bind(mapper, bind=bind, **kw)


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
    run_ready(session)


_HANDLED = "_qiao_db_handled"
#: An ``_engine_options`` key (removed before ``create_engine``): the battery resets SQLite
#: connections on return itself.
_OWN_RESET = "_qiao_own_reset"


async def _close_all(request: Request) -> None:
    """Close the request's sessions (rolling back what was not committed), then run the
    ``on_commit`` callbacks of what a stream committed itself."""
    state = request.__dict__
    sync_session: Session | None = state.get("db")
    async_session: AsyncSession | None = state.get("adb")
    if async_session is not None:
        await async_session.close()
        await arun_ready(async_session.sync_session)
    if sync_session is not None:
        if request.scope is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(request.app.executor, _close, sync_session)
        else:
            _close(sync_session)


def _close(session: Session) -> None:
    session.close()
    run_ready(session)


async def _finish_in_thread(
    request: Request, session: Session, response: Response, failed: bool, streaming: bool
) -> None:
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(request.app.executor, _finish, session, response, failed, streaming)
