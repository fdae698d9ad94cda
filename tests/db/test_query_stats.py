"""Query statistics and the N+1 detector (``DATABASE_QUERY_STATS``, on in debug)."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from sqlalchemy import select

import qiao
from qiao.db import aget_or_404, current_queries
from tests.db._support import DbAuthor, DbBook, DbNote
from tests.db.conftest import MakeApp
from tests.http._support import Serve

pytestmark = pytest.mark.filterwarnings("error")

SERVER_TIMING = re.compile(r'^db;dur=\d+\.\d\d;desc="(\d+) queries"$')
THIS_FILE = "tests/db/test_query_stats.py"


def queries(response: Any) -> int | None:
    """How many queries the ``Server-Timing: db`` entry reports (None without one)."""
    for value in response.headers.get_list("server-timing"):
        match = SERVER_TIMING.match(value)
        if match:
            return int(match.group(1))
    return None


def db_records(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "qiao.db" and r.levelno == level]


def library_app(make_app: MakeApp, **config: Any) -> qiao.App:
    """Authors with books; ``/*/books?n=N`` loads N books one query at a time (the N+1)."""
    app, db = make_app(**config)

    @app.get("/sync/books")
    def books(request: qiao.Request) -> str:
        lines = []
        for n in range(int(request.query["n"])):
            book = request.db.get(DbNote, n + 1)  # LINE: sync-loop
            lines.append(book.title if book else "-")
        return f"<html><body>{len(lines)}</body></html>"

    @app.get("/async/books")
    async def abooks(request: qiao.Request) -> str:
        lines = []
        for n in range(int(request.query["n"])):
            book = await request.adb.get(DbNote, n + 1)  # LINE: async-loop
            lines.append(book.title if book else "-")
        return f"<html><body>{len(lines)}</body></html>"

    @app.get("/async/helper-books")
    async def ahelper_books(request: qiao.Request) -> str:
        for n in range(int(request.query["n"])):
            await aget_or_404(request.adb, DbBook, n + 1)  # LINE: async-helper
        return "ok"

    @app.get("/sync/authors.json")
    def authors(request: qiao.Request) -> list[dict[str, Any]]:
        found = request.db.scalars(select(DbAuthor).order_by(DbAuthor.id)).all()
        return [{"name": a.name, "books": len(a.books)} for a in found]  # LINE: lazy

    @app.get("/sync/count")
    def count(request: qiao.Request) -> dict[str, Any]:
        request.db.get(DbNote, 1)
        stats = current_queries()
        return {"count": stats.count if stats else None}

    @app.get("/async/count")
    async def acount(request: qiao.Request) -> dict[str, Any]:
        await request.adb.get(DbNote, 1)
        await request.adb.get(DbNote, 2)
        stats = current_queries()
        return {"count": stats.count if stats else None}

    with db.session() as session:
        for a in range(8):
            author = DbAuthor(name=f"a{a}")
            session.add(author)
            session.add_all(DbBook(title=f"b{a}-{b}", author=author) for b in range(2))
    return app


def line_of(tag: str) -> int:
    with open(__file__, encoding="utf-8") as source:
        for number, line in enumerate(source, start=1):
            if line.rstrip().endswith(f"# LINE: {tag}"):
                return number
    raise AssertionError(tag)


def test_stats_count_queries_in_a_server_timing_header_and_the_log(
    serve: Serve, make_app: MakeApp, flavor: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="qiao.db")
    client = serve(library_app(make_app, DATABASE_QUERY_STATS=True))
    response = client.get(f"/{flavor}/books", params={"n": "3"})
    assert response.status_code == 200
    assert queries(response) == 3
    [info] = db_records(caplog, logging.INFO)
    assert re.fullmatch(rf"GET /{flavor}/books: 3 queries in \d+\.\d\d ms", info)
    assert db_records(caplog, logging.WARNING) == []  # 3 is not above the threshold (5)


def test_current_queries_is_the_requests_statistics(
    serve: Serve, make_app: MakeApp, flavor: str
) -> None:
    client = serve(library_app(make_app, DATABASE_QUERY_STATS=True))
    expected = 1 if flavor == "sync" else 2
    assert client.get(f"/{flavor}/count").json() == {"count": expected}
    assert current_queries() is None  # nothing leaks into the test's own context


def test_a_statement_repeated_past_the_threshold_is_logged_with_the_line_that_ran_it(
    serve: Serve, make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    client = serve(library_app(make_app, DATABASE_QUERY_STATS=True))
    response = client.get("/sync/books", params={"n": "6"})
    assert queries(response) == 6
    [warning] = db_records(caplog, logging.WARNING)
    assert warning.startswith("N+1 queries? This statement ran 6 times in GET /sync/books ")
    assert f"(first from {THIS_FILE}:{line_of('sync-loop')})" in warning
    assert "FROM db_note WHERE db_note.id = " in warning


def test_lazy_loads_are_the_classic_n_plus_one(
    serve: Serve, make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    client = serve(library_app(make_app, DATABASE_QUERY_STATS=True))
    response = client.get("/sync/authors.json")
    assert [a["books"] for a in response.json()] == [2] * 8
    assert queries(response) == 9  # one for the authors, one per author for its books
    [warning] = db_records(caplog, logging.WARNING)
    assert "ran 8 times" in warning
    assert f"(first from {THIS_FILE}:{line_of('lazy')})" in warning
    assert "FROM db_book" in warning


def test_the_n_plus_one_warning_names_the_line_in_an_async_view(
    serve: Serve, make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    client = serve(library_app(make_app, DATABASE_QUERY_STATS=True))
    client.get("/async/books", params={"n": "6"})
    [warning] = db_records(caplog, logging.WARNING)
    assert "ran 6 times" in warning
    assert f"(first from {THIS_FILE}:{line_of('async-loop')})" in warning


def test_the_n_plus_one_warning_skips_qiaos_helpers_in_an_async_view(
    serve: Serve, make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    client = serve(library_app(make_app, DATABASE_QUERY_STATS=True))
    assert client.get("/async/helper-books", params={"n": "7"}).text == "ok"
    [warning] = db_records(caplog, logging.WARNING)
    assert "ran 7 times in GET /async/helper-books " in warning
    assert f"(first from {THIS_FILE}:{line_of('async-helper')})" in warning


def test_the_threshold_is_a_setting_and_only_more_than_it_warns(
    serve: Serve, make_app: MakeApp, flavor: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = serve(
        library_app(make_app, DATABASE_QUERY_STATS=True, DATABASE_N_PLUS_ONE_THRESHOLD=2)
    )
    client.get(f"/{flavor}/books", params={"n": "2"})
    assert db_records(caplog, logging.WARNING) == []
    client.get(f"/{flavor}/books", params={"n": "3"})
    [warning] = db_records(caplog, logging.WARNING)
    assert "ran 3 times" in warning


def test_in_debug_an_html_page_shows_the_n_plus_one_note(
    serve: Serve, make_app: MakeApp, flavor: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = serve(library_app(make_app, DEBUG=True))  # stats follow DEBUG by default
    page = client.get(f"/{flavor}/books", params={"n": "6"})
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.text.startswith('<html><body>6<aside class="qiao-n-plus-one"')
    assert page.text.endswith("</aside></body></html>")
    assert "<b>6×</b>" in page.text
    assert "FROM db_note WHERE db_note.id = " in page.text
    assert int(page.headers["content-length"]) == len(page.content)
    # not on JSON, and not on pages without repeated statements
    json_response = client.get("/sync/authors.json")
    assert json_response.json()[0] == {"name": "a0", "books": 2}
    assert "qiao-n-plus-one" not in client.get(f"/{flavor}/books", params={"n": "2"}).text


def test_outside_debug_the_page_is_left_alone(
    serve: Serve, make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    client = serve(library_app(make_app, DATABASE_QUERY_STATS=True))
    page = client.get("/sync/books", params={"n": "6"})
    assert page.text == "<html><body>6</body></html>"
    assert len(db_records(caplog, logging.WARNING)) == 1  # the log still says so


@pytest.mark.parametrize("config", [{}, {"DEBUG": True, "DATABASE_QUERY_STATS": False}])
def test_with_stats_off_there_is_no_header_and_no_log(
    serve: Serve,
    make_app: MakeApp,
    flavor: str,
    caplog: pytest.LogCaptureFixture,
    config: dict[str, Any],
) -> None:
    caplog.set_level(logging.DEBUG, logger="qiao.db")
    client = serve(library_app(make_app, **config))
    response = client.get(f"/{flavor}/books", params={"n": "7"})
    assert response.status_code == 200
    assert "server-timing" not in response.headers
    assert "qiao-n-plus-one" not in response.text
    assert db_records(caplog, logging.INFO) + db_records(caplog, logging.WARNING) == []
    assert client.get(f"/{flavor}/count").json() == {"count": None}
