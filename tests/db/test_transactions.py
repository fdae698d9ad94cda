"""One transaction per request: commit when the view succeeds, roll back when anything before
the commit fails, close the session (and give its connection back) either way.

Tests run on SQLite and PostgreSQL (``backend``), through WSGI and ASGI (``serve``), with sync
views on ``request.db`` and async views on ``request.adb`` (``flavor``) where both apply. A
``Probe`` installed ahead of the battery records, in its teardown hook, how many connections
the pools still lend out once the battery is done: always ``(0, 0)``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import qiao
from qiao.db import Database, get_or_404, on_commit
from qiao.extensions import blocking
from tests.db._support import (
    Backend,
    Boom,
    DbNote,
    Probe,
    count_checkouts,
    note_titles,
    notes_app,
    pools,
)
from tests.db.conftest import MakeApp
from tests.http._support import Serve, problem

pytestmark = pytest.mark.filterwarnings("error")


def errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


def unhandled(caplog: pytest.LogCaptureFixture) -> list[type[BaseException]]:
    """The exception types qiao logged as unhandled."""
    return [
        type(r.exc_info[1])
        for r in errors(caplog)
        if r.name == "qiao" and r.exc_info and r.exc_info[1] is not None
    ]


# -- commit and rollback --------------------------------------------------------------------------
def test_a_view_that_succeeds_commits_and_then_runs_on_commit(
    serve: Serve, make_app: MakeApp, flavor: str
) -> None:
    probe = Probe()
    app, db = make_app(before=[probe])
    events: list[str] = []
    notes_app(app, events)
    client = serve(app)
    response = client.post(f"/{flavor}/notes", params={"title": "kept"})
    assert response.status_code == 200, response.text
    assert note_titles(db) == ["kept"]
    assert events == ["commit:kept"]
    assert probe.checked_out == [(0, 0)]
    assert client.get(f"/{flavor}/count").json() == {"n": 1}


def test_a_view_that_raises_rolls_back_and_runs_no_on_commit(
    serve: Serve, make_app: MakeApp, flavor: str, caplog: pytest.LogCaptureFixture
) -> None:
    probe = Probe()
    app, db = make_app(before=[probe])
    events: list[str] = []
    notes_app(app, events)
    response = serve(app).post(f"/{flavor}/notes", params={"title": "lost", "fail": "1"})
    problem(response, 500)
    assert note_titles(db) == []
    assert events == []
    assert probe.checked_out == [(0, 0)]
    assert unhandled(caplog) == [Boom]


def test_an_http_exception_from_get_or_404_rolls_back(
    serve: Serve, make_app: MakeApp, flavor: str
) -> None:
    probe = Probe()
    app, db = make_app(before=[probe])

    @app.post("/sync/move")
    def move(request: qiao.Request) -> str:
        request.db.add(DbNote(title="half-done"))
        request.db.flush()
        get_or_404(request.db, DbNote, 999)
        return "unreachable"

    @app.post("/async/move")
    async def amove(request: qiao.Request) -> str:
        from qiao.db import aget_or_404

        request.adb.add(DbNote(title="half-done"))
        await request.adb.flush()
        await aget_or_404(request.adb, DbNote, 999)
        return "unreachable"

    detail = problem(serve(app).post(f"/{flavor}/move"), 404)
    assert detail == "No DbNote with id 999."
    assert note_titles(db) == []
    assert probe.checked_out == [(0, 0)]


def test_an_error_handlers_answer_still_rolls_back(
    serve: Serve, make_app: MakeApp, flavor: str
) -> None:
    app, db = make_app()
    events: list[str] = []
    notes_app(app, events)

    @app.errorhandler(Boom)
    def conflict(request: qiao.Request, exc: Boom) -> tuple[dict[str, str], int]:
        return {"error": str(exc)}, 409

    response = serve(app).post(f"/{flavor}/notes", params={"title": "x", "fail": "1"})
    assert response.status_code == 409
    assert response.json() == {"error": "x"}
    assert note_titles(db) == []
    assert events == []


def test_a_before_hook_that_raises_rolls_back_what_it_wrote(
    serve: Serve, make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    class Audit:
        @blocking
        def before_request(self, request: qiao.Request) -> None:
            request.db.add(DbNote(title="audit"))
            request.db.flush()
            if request.path == "/refused":
                raise Boom("refused")

    probe = Probe()
    app, db = make_app(before=[probe], after=[Audit()])

    @app.get("/<path:name>")
    def page(request: qiao.Request, name: str) -> str:
        request.db.add(DbNote(title=name))
        return name

    client = serve(app)
    problem(client.get("/refused"), 500)
    assert note_titles(db) == []
    assert client.get("/fine").text == "fine"
    assert note_titles(db) == ["audit", "fine"]  # the hook and the view: one transaction
    assert probe.checked_out == [(0, 0), (0, 0)]
    assert unhandled(caplog) == [Boom]


def test_an_async_before_hook_that_raises_rolls_back_what_it_wrote(
    serve: Serve, make_app: MakeApp
) -> None:
    class Audit:
        async def before_request(self, request: qiao.Request) -> Any:
            request.adb.add(DbNote(title="audit"))
            await request.adb.flush()
            if request.path == "/refused":
                raise qiao.Forbidden("no")
            return None

    app, db = make_app(after=[Audit()])

    @app.get("/<path:name>")
    async def page(request: qiao.Request, name: str) -> str:
        return name

    client = serve(app)
    problem(client.get("/refused"), 403)
    assert note_titles(db) == []
    assert client.get("/fine").text == "fine"
    assert note_titles(db) == ["audit"]


def test_the_session_is_the_same_object_for_the_whole_request_and_new_for_the_next(
    serve: Serve, make_app: MakeApp
) -> None:
    seen: list[Any] = []

    class Remember:
        def after_request(self, request: qiao.Request, response: qiao.Response) -> None:
            seen.append(request.db)

    app, _ = make_app(after=[Remember()])

    @app.get("/")
    def index(request: qiao.Request) -> str:
        seen.append(request.db)
        return "ok"

    client = serve(app)
    client.get("/")
    client.get("/")
    assert seen[0] is seen[1]
    assert seen[2] is seen[3]
    assert seen[0] is not seen[2]


def test_a_view_that_commits_itself_keeps_that_data_even_when_it_then_raises(
    serve: Serve, make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    """An explicit ``commit()`` is final: the request's rollback only undoes what came after."""
    app, db = make_app()
    events: list[str] = []

    @app.post("/")
    def both(request: qiao.Request) -> str:
        request.db.add(DbNote(title="committed"))
        on_commit(request.db, lambda: events.append("committed"))
        request.db.commit()
        request.db.add(DbNote(title="rolled-back"))
        on_commit(request.db, lambda: events.append("rolled-back"))
        raise Boom()

    problem(serve(app).post("/"), 500)
    assert note_titles(db) == ["committed"]
    assert events == ["committed"]


# -- failing commits ------------------------------------------------------------------------------
def _duplicate_views(app: qiao.App, events: list[str]) -> None:
    """Views that add a note without flushing, so the failure comes at the battery's commit."""

    @app.post("/sync/dupe")
    def dupe(request: qiao.Request) -> str:
        request.db.add(DbNote(title="taken"))
        on_commit(request.db, lambda: events.append("committed"))
        return "looks fine"

    @app.post("/async/dupe")
    async def adupe(request: qiao.Request) -> str:
        request.adb.add(DbNote(title="taken"))
        on_commit(request.adb, lambda: events.append("committed"))
        return "looks fine"


def test_a_commit_that_fails_is_a_500_and_the_session_is_closed(
    serve: Serve, make_app: MakeApp, flavor: str, caplog: pytest.LogCaptureFixture
) -> None:
    probe = Probe()
    app, db = make_app(before=[probe])
    events: list[str] = []
    _duplicate_views(app, events)
    with db.session() as session:
        session.add(DbNote(title="taken"))
    response = serve(app).post(f"/{flavor}/dupe")
    problem(response, 500)
    assert "looks fine" not in response.text
    assert unhandled(caplog) == [IntegrityError]
    assert events == []
    assert probe.checked_out == [(0, 0)]
    assert pools(db) == (0, 0)
    assert note_titles(db) == ["taken"]


def test_a_commit_that_fails_goes_to_the_apps_error_handler(
    serve: Serve, make_app: MakeApp, flavor: str
) -> None:
    app, db = make_app()
    events: list[str] = []
    _duplicate_views(app, events)

    @app.errorhandler(IntegrityError)
    def conflict(request: qiao.Request, exc: IntegrityError) -> tuple[dict[str, str], int]:
        return {"error": "already exists"}, 409

    with db.session() as session:
        session.add(DbNote(title="taken"))
    response = serve(app).post(f"/{flavor}/dupe")
    assert response.status_code == 409
    assert response.json() == {"error": "already exists"}
    assert events == []


# -- laziness -------------------------------------------------------------------------------------
def test_a_request_that_never_touches_the_database_opens_no_connection(
    serve: Serve, make_app: MakeApp
) -> None:
    app, db = make_app(DATABASE_QUERY_STATS=True)
    notes_app(app, [])
    checkouts = count_checkouts(db)
    client = serve(app)
    for path in ("/plain", "/aplain", "/missing"):
        response = client.get(path)
        assert "server-timing" not in response.headers
    assert checkouts == []
    client.get("/sync/count")
    client.get("/async/count")
    assert checkouts == ["sync", "async"]


# -- other batteries' after hooks -----------------------------------------------------------------
class FailingAfter:
    """A battery whose after hook fails on ``/boom`` (a template error, a full disk...)."""

    def __init__(self) -> None:
        self.requests: list[qiao.Request] = []

    def after_request(self, request: qiao.Request, response: qiao.Response) -> None:
        self.requests.append(request)
        if request.path.endswith("/boom"):
            raise RuntimeError("after hook failed")


def _boom_views(app: qiao.App, events: list[str]) -> None:
    @app.get("/sync/boom")
    def boom(request: qiao.Request) -> str:
        request.db.add(DbNote(title="boom"))
        request.db.flush()  # the session now holds a connection
        on_commit(request.db, lambda: events.append("committed"))
        return "ok"

    @app.get("/async/boom")
    async def aboom(request: qiao.Request) -> str:
        request.adb.add(DbNote(title="boom"))
        await request.adb.flush()
        on_commit(request.adb, lambda: events.append("committed"))
        return "ok"


def test_an_after_hook_that_fails_after_the_commit_leaves_the_data_committed(
    serve: Serve, make_app: MakeApp, flavor: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A battery installed *before* the database runs its after hook once the commit is done:
    its failure turns the answer into a 500, but the data is saved and on_commit has run."""
    probe = Probe()
    app, db = make_app(before=[probe, FailingAfter()])
    events: list[str] = []
    _boom_views(app, events)
    problem(serve(app).get(f"/{flavor}/boom"), 500)
    assert note_titles(db) == ["boom"]
    assert events == ["committed"]
    assert probe.checked_out == [(0, 0)]
    assert unhandled(caplog) == [RuntimeError]


def test_an_after_hook_that_fails_before_the_commit_rolls_back_and_closes_the_session(
    serve: Serve, make_app: MakeApp, flavor: str, caplog: pytest.LogCaptureFixture
) -> None:
    probe = Probe()
    failing = FailingAfter()
    app, db = make_app(before=[probe], after=[failing])
    events: list[str] = []
    _boom_views(app, events)
    try:
        problem(serve(app).get(f"/{flavor}/boom"), 500)
        assert probe.checked_out == [(0, 0)]
        assert note_titles(db) == []
        assert events == []
    finally:  # give the leaked connection back, or garbage collection warns in a later test
        for request in failing.requests:
            state = vars(request)
            if "db" in state:
                state["db"].close()
            if "adb" in state:
                asyncio.run(state["adb"].close())


# -- sessions outside requests --------------------------------------------------------------------
def test_db_session_commits_runs_on_commit_and_closes(make_app: MakeApp) -> None:
    _, db = make_app()
    events: list[str] = []
    with db.session() as session:
        session.add(DbNote(title="script"))
        on_commit(session, lambda: events.append("after"))
        assert events == []
    assert events == ["after"]
    assert note_titles(db) == ["script"]
    assert pools(db) == (0, 0)


def test_db_session_rolls_back_and_re_raises(make_app: MakeApp) -> None:
    _, db = make_app()
    events: list[str] = []

    def write_then_fail() -> None:
        with db.session() as session:
            session.add(DbNote(title="script"))
            on_commit(session, lambda: events.append("after"))
            session.flush()
            raise Boom()

    with pytest.raises(Boom):
        write_then_fail()
    assert events == []
    assert note_titles(db) == []
    assert pools(db) == (0, 0)


def test_db_asession_commits_rolls_back_and_awaits_async_callbacks(make_app: MakeApp) -> None:
    _, db = make_app()
    events: list[str] = []

    async def callback() -> None:
        events.append("async")

    async def write_then_fail() -> None:
        async with db.asession() as session:
            session.add(DbNote(title="never"))
            on_commit(session, callback)
            await session.flush()
            raise Boom()

    async def main() -> None:
        async with db.asession() as session:
            session.add(DbNote(title="async-script"))
            on_commit(session, callback)
            on_commit(session, lambda: events.append("sync"))
        with pytest.raises(Boom):
            await write_then_fail()
        count = 0
        async with db.asession() as session:
            count = await session.scalar(select(func.count()).select_from(DbNote)) or 0
        assert count == 1
        await db.async_engine.dispose()

    asyncio.run(main())
    assert events == ["async", "sync"]
    assert note_titles(db) == ["async-script"]


def test_db_session_works_before_the_app_has_served_a_request(backend: Backend) -> None:
    app = qiao.App(__name__, config={"SECRET_KEY": "x", "DATABASE_URL": backend.url})
    db = Database(app)
    try:
        with db.session() as session:
            session.add(DbNote(title="early"))
        assert note_titles(db) == ["early"]
    finally:
        db.engine.dispose()


# -- on_commit ------------------------------------------------------------------------------------
def test_on_commit_callbacks_run_in_order_and_a_failing_one_is_logged(
    serve: Serve, make_app: MakeApp, flavor: str, caplog: pytest.LogCaptureFixture
) -> None:
    app, _ = make_app()
    events: list[str] = []

    def failing() -> None:
        raise RuntimeError("mail server down")

    @app.post("/sync/")
    def view(request: qiao.Request) -> str:
        request.db.add(DbNote(title="n"))
        on_commit(request.db, lambda: events.append("first"))
        on_commit(request.db, failing)
        on_commit(request.db, lambda: events.append("third"))
        return "ok"

    @app.post("/async/")
    async def aview(request: qiao.Request) -> str:
        request.adb.add(DbNote(title="n"))

        async def first() -> None:
            events.append("first")

        on_commit(request.adb, first)
        on_commit(request.adb, failing)
        on_commit(request.adb, lambda: events.append("third"))
        return "ok"

    assert serve(app).post(f"/{flavor}/").text == "ok"
    assert events == ["first", "third"]
    [record] = errors(caplog)
    assert record.name == "qiao.db"
    assert "on_commit callback" in record.getMessage()
    assert record.exc_info is not None
    assert "mail server down" in str(record.exc_info[1])


def test_an_async_on_commit_callback_on_a_sync_session_is_refused_in_the_log(
    serve: Serve, make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    app, db = make_app()

    async def notify() -> None:  # pragma: no cover - never awaited
        raise AssertionError

    @app.post("/")
    def view(request: qiao.Request) -> str:
        request.db.add(DbNote(title="n"))
        on_commit(request.db, notify)
        return "ok"

    assert serve(app).post("/").text == "ok"
    assert note_titles(db) == ["n"]
    [record] = errors(caplog)
    assert "needs an async session" in str(record.exc_info[1])  # type: ignore[index]


def test_a_request_without_on_commit_callbacks_runs_none(serve: Serve, make_app: MakeApp) -> None:
    app, _db = make_app()
    events: list[str] = []
    notes_app(app, events)
    client = serve(app)
    client.post("/sync/notes", params={"title": "a"})
    client.get("/sync/count")  # a later request on a new session runs nothing again
    assert events == ["commit:a"]


# -- on_commit and savepoints ---------------------------------------------------------------------
def test_a_rolled_back_savepoint_keeps_the_outer_callbacks_and_rows(
    serve: Serve, make_app: MakeApp
) -> None:
    app, db = make_app()
    events: list[str] = []

    @app.post("/")
    def view(request: qiao.Request) -> str:
        request.db.add(DbNote(title="outer"))
        on_commit(request.db, lambda: events.append("outer"))
        try:
            with request.db.begin_nested():
                request.db.add(DbNote(title="inner"))
                request.db.flush()
                raise Boom()
        except Boom:
            pass
        return "ok"

    assert serve(app).post("/").text == "ok"
    assert note_titles(db) == ["outer"]
    assert events == ["outer"]


def test_on_commit_never_runs_when_the_request_rolls_back_after_a_savepoint(
    serve: Serve, make_app: MakeApp, flavor: str, caplog: pytest.LogCaptureFixture
) -> None:
    app, db = make_app()
    events: list[str] = []

    @app.post("/sync/")
    def view(request: qiao.Request) -> str:
        on_commit(request.db, lambda: events.append("mail sent"))
        with request.db.begin_nested():
            request.db.add(DbNote(title="inner"))
            on_commit(request.db, lambda: events.append("inner mail sent"))
        raise Boom()

    @app.post("/async/")
    async def aview(request: qiao.Request) -> str:
        on_commit(request.adb, lambda: events.append("mail sent"))
        async with request.adb.begin_nested():
            request.adb.add(DbNote(title="inner"))
            on_commit(request.adb, lambda: events.append("inner mail sent"))
        raise Boom()

    problem(serve(app).post(f"/{flavor}/"), 500)
    assert events == []
    assert note_titles(db) == []


def test_callbacks_of_a_released_savepoint_run_after_the_request_commits(
    serve: Serve, make_app: MakeApp, flavor: str
) -> None:
    app, db = make_app()
    events: list[str] = []

    def remember(name: str) -> Any:
        return lambda: events.append(name)

    @app.post("/sync/")
    def view(request: qiao.Request) -> str:
        on_commit(request.db, remember("before"))
        with request.db.begin_nested():
            request.db.add(DbNote(title="inner"))
            on_commit(request.db, remember("inner"))
            with request.db.begin_nested():
                on_commit(request.db, remember("innermost"))
        events.append("released")
        on_commit(request.db, remember("after"))
        return "ok"

    @app.post("/async/")
    async def aview(request: qiao.Request) -> str:
        on_commit(request.adb, remember("before"))
        async with request.adb.begin_nested():
            request.adb.add(DbNote(title="inner"))
            on_commit(request.adb, remember("inner"))
            async with request.adb.begin_nested():
                on_commit(request.adb, remember("innermost"))
        events.append("released")
        on_commit(request.adb, remember("after"))
        return "ok"

    assert serve(app).post(f"/{flavor}/").text == "ok"
    assert events == ["released", "before", "inner", "innermost", "after"]
    assert note_titles(db) == ["inner"]


def test_callbacks_of_a_rolled_back_savepoint_are_dropped(
    serve: Serve, make_app: MakeApp, flavor: str
) -> None:
    app, db = make_app()
    events: list[str] = []

    @app.post("/sync/")
    def view(request: qiao.Request) -> str:
        request.db.add(DbNote(title="kept"))
        try:
            with request.db.begin_nested():
                on_commit(request.db, lambda: events.append("inner"))
                with request.db.begin_nested():  # released into the one that rolls back
                    on_commit(request.db, lambda: events.append("innermost"))
                raise Boom()
        except Boom:
            pass
        on_commit(request.db, lambda: events.append("outer"))
        return "ok"

    @app.post("/async/")
    async def aview(request: qiao.Request) -> str:
        request.adb.add(DbNote(title="kept"))
        try:
            async with request.adb.begin_nested():
                on_commit(request.adb, lambda: events.append("inner"))
                async with request.adb.begin_nested():
                    on_commit(request.adb, lambda: events.append("innermost"))
                raise Boom()
        except Boom:
            pass
        on_commit(request.adb, lambda: events.append("outer"))
        return "ok"

    assert serve(app).post(f"/{flavor}/").text == "ok"
    assert events == ["outer"]
    assert note_titles(db) == ["kept"]


def test_a_savepoint_that_fails_to_flush_drops_its_callbacks(make_app: MakeApp) -> None:
    _, db = make_app()
    events: list[str] = []
    with db.session() as session:
        session.add(DbNote(title="taken"))
        session.flush()
        try:
            with session.begin_nested():
                on_commit(session, lambda: events.append("duplicate"))
                session.add(DbNote(title="taken"))  # the unique title: the flush fails
        except IntegrityError:
            pass
        on_commit(session, lambda: events.append("first"))
    assert events == ["first"]
    assert note_titles(db) == ["taken"]


def test_rows_of_a_released_savepoint_roll_back_with_the_request(
    serve: Serve, make_app: MakeApp
) -> None:
    app, db = make_app()

    @app.post("/")
    def view(request: qiao.Request) -> str:
        with request.db.begin_nested():
            request.db.add(DbNote(title="inner"))
        raise Boom()

    problem(serve(app).post("/"), 500)
    assert note_titles(db) == []


# -- on_commit on sessions the battery does not run -----------------------------------------------
def test_on_commit_on_a_session_of_ones_own_runs_after_its_commit(make_app: MakeApp) -> None:
    _, db = make_app()
    ran: list[str] = []
    with Session(db.engine) as session:
        on_commit(session, lambda: ran.append("first"))  # before the session has begun
        session.add(DbNote(title="own"))
        session.flush()
        with session.begin_nested():
            on_commit(session, lambda: ran.append("in a savepoint"))
        assert ran == []
        session.commit()
        assert ran == ["first", "in a savepoint"]
        on_commit(session, lambda: ran.append("rolled back"))
        session.add(DbNote(title="never"))
        session.flush()
        session.rollback()
        on_commit(session, lambda: ran.append("second"))
        session.commit()
    assert ran == ["first", "in a savepoint", "second"]
    assert note_titles(db) == ["own"]


def test_on_commit_on_a_session_of_ones_own_is_dropped_when_it_closes_uncommitted(
    make_app: MakeApp,
) -> None:
    _, db = make_app()
    ran: list[str] = []
    with Session(db.engine) as session:
        session.add(DbNote(title="own"))
        session.flush()
        on_commit(session, lambda: ran.append("ran"))
    assert ran == []
    assert note_titles(db) == []


def test_on_commit_on_a_session_from_the_factory_runs_after_its_commit(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    _, db = make_app()
    ran: list[str] = []

    async def notify() -> None:  # pragma: no cover - never awaited
        raise AssertionError

    with db.sessions() as session:
        session.add(DbNote(title="factory"))
        on_commit(session, lambda: ran.append("ran"))
        on_commit(session, notify)  # nobody can await it: refused in the log
        session.commit()
        assert ran == ["ran"]
    [record] = errors(caplog)
    assert "needs an async session the battery runs" in str(record.exc_info[1])  # type: ignore[index]


def test_an_async_session_from_the_factory_runs_sync_callbacks_after_its_commit(
    make_app: MakeApp,
) -> None:
    _, db = make_app()
    ran: list[str] = []

    async def main() -> None:
        async with db.async_sessions() as session:
            session.add(DbNote(title="factory"))
            on_commit(session, lambda: ran.append("ran"))
            await session.commit()
            assert ran == ["ran"]
        await db.dispose()

    asyncio.run(main())
    assert note_titles(db) == ["factory"]
