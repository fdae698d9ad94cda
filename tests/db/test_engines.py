"""Async engines, one per event loop: WSGI worker threads each get theirs and keep it, a
finished thread's engine is disposed of, ``db.dispose()`` reaches every loop, and
``db.on_engine`` hooks every engine the battery makes."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine

import qiao
from qiao.db import Database
from tests.db._support import DbNote, pools
from tests.db.conftest import MakeApp

pytestmark = pytest.mark.filterwarnings("error")


def engine_app(make_app: MakeApp) -> tuple[qiao.App, Database]:
    """``/engine``: an async view that queries and answers its loop's engine's id."""
    app, db = make_app()

    @app.get("/engine")
    async def engine(request: qiao.Request) -> dict[str, int]:
        await request.adb.scalar(select(func.count()).select_from(DbNote))
        return {"engine": id(request.adb.get_bind())}

    return app, db


def in_thread(target: Callable[[], Any], name: str = "worker") -> None:
    """Run ``target`` on a new thread (a WSGI worker's life: its own event loop) to the end."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=run, name=name)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), f"{name} hung"
    if errors:
        raise errors[0]


def wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def watch_connections(db: Database) -> dict[str, list[str]]:
    """Per async engine of ``db`` (by id), its ``connect`` and ``close`` events, each as the
    name of the thread it happened on."""
    seen: dict[str, list[str]] = {}

    @db.on_engine
    def listen(engine: Engine) -> None:
        if not engine.dialect.is_async:
            return
        for name in ("connect", "close"):
            key = f"{name}:{id(engine)}"
            seen[key] = []
            event.listen(
                engine,
                name,
                lambda *args, key=key: seen[key].append(threading.current_thread().name),
            )

    return seen


def count(seen: dict[str, list[str]], kind: str) -> int:
    return sum(len(names) for key, names in seen.items() if key.startswith(kind + ":"))


def test_each_wsgi_thread_gets_an_async_engine_of_its_own_and_keeps_it(
    make_app: MakeApp,
) -> None:
    app, db = engine_app(make_app)
    together = threading.Barrier(3)
    used: dict[str, list[int]] = {}

    def worker() -> None:
        client = app.test_client()  # WSGI on this thread: async views on its own loop
        together.wait(5)  # all three threads' first requests at once
        name = threading.current_thread().name
        used[name] = [client.get("/engine").json()["engine"] for _ in range(3)]

    threads = [threading.Thread(target=worker, name=f"w{n}") for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(used) == ["w0", "w1", "w2"], "a worker hung"
    assert all(len(set(ids)) == 1 for ids in used.values())  # kept for the thread's life
    assert len({ids[0] for ids in used.values()}) == 3  # one per thread
    assert pools(db) == (0, 0)


def test_under_asgi_every_request_shares_the_server_loops_engine(make_app: MakeApp) -> None:
    app, db = engine_app(make_app)

    async def main() -> set[int]:
        async with app.async_test_client() as client:
            answers = await asyncio.gather(*(client.get("/engine") for _ in range(5)))
            return {answer.json()["engine"] for answer in answers}

    [engine] = asyncio.run(main())
    assert [id(e.sync_engine) for e in db.async_engines] == [engine]


def test_a_finished_threads_engine_is_disposed_of_when_the_next_is_made(
    make_app: MakeApp,
) -> None:
    app, db = engine_app(make_app)
    seen = watch_connections(db)
    for n in range(3):  # a thread per request, as some servers do: each loop ends with it
        in_thread(lambda: app.test_client().get("/engine").raise_for_status(), f"t{n}")
    assert count(seen, "connect") == 3
    # each new engine had the finished threads' engines closed, on a thread of their own
    wait_until(lambda: count(seen, "close") == 2, "the finished threads' connections to close")
    assert {name for key, names in seen.items() if key.startswith("close") for name in names} == {
        "qiao-db-dispose"
    }
    assert len(db.async_engines) == 1  # only the last thread's is left


def test_dispose_closes_every_loops_connections_each_on_its_own_loop(
    make_app: MakeApp,
) -> None:
    app, db = engine_app(make_app)
    seen = watch_connections(db)
    app.test_client().get("/engine").raise_for_status()  # this thread's loop, idle after
    other = asyncio.new_event_loop()  # another worker's loop, running in its thread
    runner = threading.Thread(target=other.run_forever, name="other-loop")
    runner.start()
    try:

        async def query() -> None:
            async with db.asession() as session:
                await session.scalar(select(func.count()).select_from(DbNote))

        asyncio.run_coroutine_threadsafe(query(), other).result(10)
        assert len(db.async_engines) == 2
        assert count(seen, "connect") == 2
        asyncio.run(db.dispose())
        assert count(seen, "close") == 2
        closed_on = {
            name for key, names in seen.items() if key.startswith("close") for name in names
        }
        assert closed_on == {"MainThread", "other-loop"}
        assert all(engine.pool.checkedin() == 0 for engine in db.async_engines)  # type: ignore[attr-defined]
    finally:
        other.call_soon_threadsafe(other.stop)
        runner.join(10)
        other.close()


def test_an_async_session_connects_through_the_loop_that_runs_it(make_app: MakeApp) -> None:
    _, db = make_app()
    session = db.async_sessions()  # made outside any loop: not bound to an engine yet

    async def use() -> tuple[Any, Any]:
        await session.scalar(select(func.count()).select_from(DbNote))
        bind = session.get_bind()
        await session.close()
        return bind, db.async_engine.sync_engine

    bind, engine = asyncio.run(use())
    assert bind is engine
    assert len(db.async_engines) == 1


def test_outside_a_loop_async_engine_is_the_engine_of_this_threads_last_loop(
    make_app: MakeApp,
) -> None:
    app, db = engine_app(make_app)
    used = app.test_client().get("/engine").json()["engine"]  # on this thread's WSGI loop
    assert id(db.async_engine.sync_engine) == used
    assert len(db.async_engines) == 1


def test_on_engine_runs_for_the_engines_made_before_and_after(make_app: MakeApp) -> None:
    _, db = make_app()
    sync = db.engine
    made: list[tuple[Engine, bool]] = []
    db.on_engine(lambda engine: made.append((engine, engine.dialect.is_async)))
    assert made == [(sync, False)]

    async def use() -> Engine:
        async with db.asession() as session:
            await session.scalar(select(func.count()).select_from(DbNote))
        return db.async_engine.sync_engine

    first = asyncio.run(use())
    second = asyncio.run(use())  # another loop: another engine, hooked too
    assert made == [(sync, False), (first, True), (second, True)]
    assert first is not second
