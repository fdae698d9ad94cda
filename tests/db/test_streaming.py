"""Streamed responses keep the request's session open until the last chunk, then close it.

The client-disconnect case needs a real server; it is in ``test_servers.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import func, select

import qiao
from qiao.db import on_commit
from tests.db._support import DbNote, note_titles, pools
from tests.db.conftest import MakeApp
from tests.http._support import Serve

pytestmark = pytest.mark.filterwarnings("error")


def test_a_sync_stream_queries_while_streaming_and_closes_the_session_after(
    serve: Serve, make_app: MakeApp
) -> None:
    app, db = make_app()
    held: list[tuple[int, int]] = []
    events: list[str] = []

    @app.post("/stream")
    def stream(request: qiao.Request) -> qiao.StreamingResponse:
        request.db.add(DbNote(title="first"))
        on_commit(request.db, lambda: events.append("committed"))

        def lines() -> Iterator[str]:
            for n in range(3):
                count = request.db.scalar(select(func.count()).select_from(DbNote))
                held.append(pools(db))
                yield f"{n}:{count}\n"

        return qiao.StreamingResponse(lines(), content_type="text/plain")

    response = serve(app).post("/stream")
    assert response.text == "0:1\n1:1\n2:1\n"
    assert held == [(1, 0)] * 3  # the session (and its connection) lives on while streaming
    assert pools(db) == (0, 0)
    assert events == ["committed"]  # the view's work was committed before the body was sent
    assert note_titles(db) == ["first"]


def test_an_async_stream_queries_while_streaming_and_closes_the_session_after(
    serve: Serve, make_app: MakeApp
) -> None:
    app, db = make_app()
    held: list[tuple[int, int]] = []

    @app.post("/stream")
    async def stream(request: qiao.Request) -> qiao.StreamingResponse:
        request.adb.add(DbNote(title="first"))

        async def lines() -> AsyncIterator[str]:
            for n in range(3):
                count = await request.adb.scalar(select(func.count()).select_from(DbNote))
                held.append(pools(db))
                yield f"{n}:{count}\n"

        return qiao.StreamingResponse(lines(), content_type="text/plain")

    response = serve(app).post("/stream")
    assert response.text == "0:1\n1:1\n2:1\n"
    assert held == [(0, 1)] * 3
    assert pools(db) == (0, 0)
    assert note_titles(db) == ["first"]


def test_a_stream_that_fails_midway_still_closes_the_session(
    serve: Serve, make_app: MakeApp
) -> None:
    app, db = make_app()

    @app.get("/stream")
    def stream(request: qiao.Request) -> qiao.StreamingResponse:
        request.db.get(DbNote, 1)

        def lines() -> Iterator[str]:
            yield str(request.db.scalar(select(func.count()).select_from(DbNote)))
            raise RuntimeError("the stream broke")

        return qiao.StreamingResponse(lines())

    client = serve(app)
    with pytest.raises(RuntimeError, match="the stream broke"):
        client.get("/stream")
    assert pools(db) == (0, 0)


def test_a_stream_that_first_touches_the_database_in_its_body_closes_the_session(
    serve: Serve, make_app: MakeApp, flavor: str
) -> None:
    app, db = make_app()
    sessions: list[object] = []

    @app.get("/sync/stream")
    def stream(request: qiao.Request) -> qiao.StreamingResponse:
        def lines() -> Iterator[str]:
            sessions.append(request.db)
            yield str(request.db.scalar(select(func.count()).select_from(DbNote)))

        return qiao.StreamingResponse(lines())

    @app.get("/async/stream")
    async def astream(request: qiao.Request) -> qiao.StreamingResponse:
        async def lines() -> AsyncIterator[str]:
            sessions.append(request.adb)
            yield str(await request.adb.scalar(select(func.count()).select_from(DbNote)))

        return qiao.StreamingResponse(lines())

    try:
        assert serve(app).get(f"/{flavor}/stream").text == "0"
        assert pools(db) == (0, 0)
    finally:  # give the leaked connection back, or garbage collection warns in a later test
        for session in sessions:
            close = session.close()  # type: ignore[attr-defined]
            if close is not None:
                asyncio.run(close)


def test_writes_made_while_streaming_need_their_own_commit(
    serve: Serve, make_app: MakeApp, flavor: str
) -> None:
    """The battery commits when the view returns, before the body is produced: what a stream
    writes is rolled back when its session closes, unless the stream commits it; then its
    ``on_commit`` callbacks run when the stream ends."""
    app, db = make_app()
    events: list[str] = []

    @app.get("/sync/stream/<title>")
    def stream(request: qiao.Request, title: str) -> qiao.StreamingResponse:
        request.db.get(DbNote, 1)  # the view opens the session; the stream goes on with it

        def lines() -> Iterator[str]:
            request.db.add(DbNote(title=title))
            request.db.flush()
            on_commit(request.db, lambda: events.append(title))
            if title == "committed":
                request.db.commit()
            yield title

        return qiao.StreamingResponse(lines())

    @app.get("/async/stream/<title>")
    async def astream(request: qiao.Request, title: str) -> qiao.StreamingResponse:
        await request.adb.get(DbNote, 1)

        async def lines() -> AsyncIterator[str]:
            request.adb.add(DbNote(title=title))
            await request.adb.flush()
            on_commit(request.adb, lambda: events.append(title))
            if title == "committed":
                await request.adb.commit()
            yield title

        return qiao.StreamingResponse(lines())

    client = serve(app)
    assert client.get(f"/{flavor}/stream/discarded").text == "discarded"
    assert client.get(f"/{flavor}/stream/committed").text == "committed"
    assert note_titles(db) == ["committed"]
    assert events == ["committed"]
    assert pools(db) == (0, 0)
