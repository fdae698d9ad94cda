"""The helpers: 404s, existence, pagination (sync and async twins) and bulk writes."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

import qiao
from qiao.db import (
    Page,
    aexists,
    afirst_or_404,
    aget_or_404,
    apaginate,
    bulk_insert,
    bulk_update,
    exists,
    first_or_404,
    get_or_404,
    paginate,
)
from qiao.http.exceptions import NotFound
from tests.db._support import DbNote, DbStamped, count_checkouts
from tests.db.conftest import MakeApp
from tests.http._support import Serve, problem

pytestmark = pytest.mark.filterwarnings("error")


def seed(db: Any, n: int, kind: str = "note") -> None:
    with db.session() as session:
        bulk_insert(session, DbNote, ({"title": f"n{i:03}", "kind": kind} for i in range(n)))


# -- 404s and existence ---------------------------------------------------------------------------
def test_get_or_404_and_first_or_404_return_the_row_or_raise_not_found(make_app: MakeApp) -> None:
    _, db = make_app()
    seed(db, 3)
    with db.session() as session:
        assert get_or_404(session, DbNote, 1).title == "n000"
        with pytest.raises(NotFound, match="No DbNote with id 99"):
            get_or_404(session, DbNote, 99)
        newest = select(DbNote).order_by(DbNote.id.desc())
        assert first_or_404(session, newest).title == "n002"
        with pytest.raises(NotFound, match="No such item"):
            first_or_404(session, select(DbNote).where(DbNote.title == "nope"))
        assert exists(session, select(DbNote).where(DbNote.title == "n001")) is True
        assert exists(session, select(DbNote).where(DbNote.title == "nope")) is False


def test_the_async_twins_behave_the_same(make_app: MakeApp) -> None:
    _, db = make_app()
    seed(db, 3)

    async def main() -> None:
        async with db.asession() as session:
            assert (await aget_or_404(session, DbNote, 2)).title == "n001"
            with pytest.raises(NotFound, match="No DbNote with id 99"):
                await aget_or_404(session, DbNote, 99)
            first = await afirst_or_404(session, select(DbNote).order_by(DbNote.title))
            assert first.title == "n000"
            with pytest.raises(NotFound):
                await afirst_or_404(session, select(DbNote).where(DbNote.id > 50))
            assert await aexists(session, select(DbNote).where(DbNote.id == 3)) is True
            assert await aexists(session, select(DbNote).where(DbNote.id == 4)) is False
            page = await apaginate(session, select(DbNote).order_by(DbNote.id), per_page=2)
            assert [n.title for n in page.items] == ["n000", "n001"]
            assert (page.total, page.pages, page.has_next) == (3, 2, True)
        await db.async_engine.dispose()

    asyncio.run(main())


def test_get_or_404_in_a_view_answers_404(serve: Serve, make_app: MakeApp, flavor: str) -> None:
    app, db = make_app()

    @app.get("/sync/notes/<int:id>")
    def show(request: qiao.Request, id: int) -> dict[str, str]:
        return {"title": get_or_404(request.db, DbNote, id).title}

    @app.get("/async/notes/<int:id>")
    async def ashow(request: qiao.Request, id: int) -> dict[str, str]:
        return {"title": (await aget_or_404(request.adb, DbNote, id)).title}

    seed(db, 1)  # NOTE: after the routes: db.session() compiles the app (see test_config)
    client = serve(app)
    assert client.get(f"/{flavor}/notes/1").json() == {"title": "n000"}
    assert problem(client.get(f"/{flavor}/notes/2"), 404) == "No DbNote with id 2."


# -- pagination -----------------------------------------------------------------------------------
def page_json(page: Page[Any]) -> dict[str, Any]:
    return {
        "titles": [note.title for note in page.items],
        "page": page.page,
        "per_page": page.per_page,
        "total": page.total,
        "pages": page.pages,
        "has_next": page.has_next,
        "has_prev": page.has_prev,
        "links": page.links,
    }


def pagination_app(make_app: MakeApp, n: int = 45) -> qiao.App:
    app, db = make_app()

    def statement(request: qiao.Request) -> Any:
        query = select(DbNote).order_by(DbNote.title)
        if "kind" in request.query:
            query = query.where(DbNote.kind == request.query["kind"])
        return query

    @app.get("/sync/notes")
    def notes(request: qiao.Request) -> dict[str, Any]:
        return page_json(paginate(request.db, statement(request), request))

    @app.get("/async/notes")
    async def anotes(request: qiao.Request) -> dict[str, Any]:
        return page_json(await apaginate(request.adb, statement(request), request))

    seed(db, n)
    return app


def test_paginate_reads_page_and_per_page_and_keeps_other_query_parameters(
    serve: Serve, make_app: MakeApp, flavor: str
) -> None:
    client = serve(pagination_app(make_app))
    body = client.get(
        f"/{flavor}/notes",
        params=[("kind", "note"), ("tag", "a"), ("tag", "b"), ("page", "2"), ("per_page", "10")],
    ).json()
    base = f"/{flavor}/notes?kind=note&tag=a&tag=b&per_page=10&page="
    assert body == {
        "titles": [f"n{i:03}" for i in range(10, 20)],
        "page": 2,
        "per_page": 10,
        "total": 45,
        "pages": 5,
        "has_next": True,
        "has_prev": True,
        "links": {
            "first": base + "1",
            "prev": base + "1",
            "next": base + "3",
            "last": base + "5",
        },
    }
    last = client.get(body["links"]["last"]).json()
    assert last["titles"] == [f"n{i:03}" for i in range(40, 45)]
    assert (last["has_next"], last["links"]["next"]) == (False, None)


def test_paginate_defaults_to_the_first_page_of_20(serve: Serve, make_app: MakeApp) -> None:
    body = serve(pagination_app(make_app)).get("/sync/notes").json()
    assert (body["page"], body["per_page"], body["pages"]) == (1, 20, 3)
    assert len(body["titles"]) == 20
    assert (body["has_prev"], body["links"]["prev"]) == (False, None)
    assert body["links"]["first"] == "/sync/notes?page=1"


def test_paginate_caps_per_page_at_100(serve: Serve, make_app: MakeApp, flavor: str) -> None:
    body = (
        serve(pagination_app(make_app, 120))
        .get(f"/{flavor}/notes", params={"per_page": "1000"})
        .json()
    )
    assert body["per_page"] == 100
    assert len(body["titles"]) == 100
    assert body["pages"] == 2


@pytest.mark.parametrize(
    "query",
    [
        {"page": "0"},
        {"page": "-1"},
        {"page": "abc"},
        {"page": "1.5"},
        {"page": " 2"},
        {"page": "\uff12"},  # a full-width digit: str.isdigit() says yes
        {"page": "9999999999"},
        {"per_page": "0"},
        {"per_page": "ten"},
    ],
)
def test_paginate_answers_400_for_bad_page_numbers(
    serve: Serve, make_app: MakeApp, flavor: str, query: dict[str, str]
) -> None:
    response = serve(pagination_app(make_app, 3)).get(f"/{flavor}/notes", params=query)
    detail = problem(response, 400)
    [name] = query
    assert f"Query parameter {name!r} must be a positive whole number" in detail


def test_a_page_past_the_end_is_empty_and_knows_the_total(serve: Serve, make_app: MakeApp) -> None:
    body = serve(pagination_app(make_app, 5)).get("/sync/notes", params={"page": "9"}).json()
    assert body["titles"] == []
    assert (body["total"], body["pages"], body["has_next"], body["has_prev"]) == (5, 1, False, True)


def test_an_empty_result_has_one_empty_page(serve: Serve, make_app: MakeApp) -> None:
    body = serve(pagination_app(make_app, 0)).get("/sync/notes").json()
    assert body["titles"] == []
    assert (body["total"], body["pages"], body["has_next"]) == (0, 1, False)
    assert body["links"]["last"] == "/sync/notes?page=1"


def test_paginate_without_a_request_uses_the_arguments(make_app: MakeApp) -> None:
    _, db = make_app()
    seed(db, 7)
    with db.session() as session:
        page = paginate(session, select(DbNote).order_by(DbNote.id), page=2, per_page=3)
        assert [n.title for n in page.items] == ["n003", "n004", "n005"]
        assert (page.total, page.pages, page.has_next) == (7, 3, True)
        assert page.url(3) == "?page=3"
        # an explicit page or per_page wins over the query; the count ignores ORDER BY
        filtered = select(DbNote).where(DbNote.title > "n004").order_by(DbNote.title.desc())
        assert paginate(session, filtered, per_page=500).per_page == 100
        assert paginate(session, filtered).total == 2


def test_page_links_keep_the_prefix_the_app_is_mounted_under(make_app: MakeApp) -> None:
    app = pagination_app(make_app, 30)

    async def main() -> dict[str, Any]:
        transport = httpx.ASGITransport(app=app, root_path="/api")
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.get("/api/sync/notes", params={"page": "1"})
            return response.json()  # type: ignore[no-any-return]

    body = asyncio.run(main())
    assert body["page"] == 1
    assert body["links"]["next"] == "/api/sync/notes?page=2"


# -- bulk writes ----------------------------------------------------------------------------------
def test_bulk_insert_and_bulk_update_write_many_rows(make_app: MakeApp) -> None:
    _, db = make_app()
    with db.session() as session:
        assert bulk_insert(session, DbNote, [{"title": f"t{i}"} for i in range(50)]) == 50
    with db.session() as session:
        ids = session.scalars(select(DbNote.id).order_by(DbNote.id)).all()
        assert len(ids) == 50
        changed = bulk_update(session, DbNote, [{"id": i, "kind": "bulk"} for i in ids[:20]])
        assert changed == 20
    with db.session() as session:
        kinds = dict(session.execute(select(DbNote.kind, func.count()).group_by(DbNote.kind)).all())
        assert kinds == {"bulk": 20, "note": 30}


def test_bulk_helpers_with_no_rows_run_no_query(make_app: MakeApp) -> None:
    _, db = make_app()
    checkouts = count_checkouts(db)
    with db.session() as session:
        assert bulk_insert(session, DbNote, []) == 0
        assert bulk_update(session, DbNote, iter([])) == 0
    assert checkouts == []


def test_bulk_helpers_run_on_an_async_session_through_run_sync(make_app: MakeApp) -> None:
    _, db = make_app()

    async def main() -> int:
        async with db.asession() as session:
            await session.run_sync(bulk_insert, DbNote, [{"title": "a"}, {"title": "b"}])
        async with db.asession() as session:
            count = await session.scalar(select(func.count()).select_from(DbNote))
        await db.async_engine.dispose()
        return int(count or 0)

    assert asyncio.run(main()) == 2


def test_bulk_update_keeps_updated_at_current(make_app: MakeApp) -> None:
    _, db = make_app()
    with db.session() as session:
        bulk_insert(session, DbStamped, [{"name": "a"}])
    with db.session() as session:
        before = session.scalars(select(DbStamped)).one().updated_at
    with db.session() as session:
        bulk_update(session, DbStamped, [{"id": 1, "name": "b"}])
    with db.session() as session:
        row = session.scalars(select(DbStamped)).one()
        assert row.name == "b"
        assert row.updated_at > before
