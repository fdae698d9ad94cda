"""Query statistics per request and the N+1 detector (on in debug: ``DATABASE_QUERY_STATS``).

Every request logs how many queries it ran and how long they took, and answers with a
``Server-Timing: db`` entry. When the same statement shape runs more than
``DATABASE_N_PLUS_ONE_THRESHOLD`` times in one request (the N+1 pattern: one query per row of
an earlier query), the battery logs a warning naming the line of your code that ran it and, on
HTML pages in debug, shows it at the bottom of the page.
"""

from __future__ import annotations

import contextlib
import html
import logging
import os
import sys
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    from qiao.app import App
    from qiao.db._database import Database
    from qiao.http.request import Request
    from qiao.http.response import Response

__all__ = ["QueryStats", "RequestQueries", "current_queries"]

logger = logging.getLogger("qiao.db")
_current: ContextVar[RequestQueries | None] = ContextVar("qiao_db_queries", default=None)
_START = "qiao_query_started"
#: Frames from these folders are machinery, not the line that ran the query.
_SKIP = tuple(
    os.path.dirname(os.path.abspath(m.__file__ or ""))
    for m in (sys.modules["sqlalchemy"], sys.modules["qiao"], sys.modules["asyncio"])
)
_installed = False


@dataclass
class Shape:
    """One statement shape: how often it ran and where from first."""

    count: int = 0
    location: str = ""


@dataclass
class RequestQueries:
    """What one request ran: ``count`` statements in ``seconds``, grouped by ``shapes``."""

    count: int = 0
    seconds: float = 0.0
    shapes: dict[str, Shape] = field(default_factory=dict)

    def repeated(self, threshold: int) -> list[tuple[str, Shape]]:
        """Shapes that ran more than ``threshold`` times, most first."""
        found = [(sql, shape) for sql, shape in self.shapes.items() if shape.count > threshold]
        return sorted(found, key=lambda item: -item[1].count)


def current_queries() -> RequestQueries | None:
    """The statistics of the request being answered, when query stats are on."""
    return _current.get()


def _caller() -> str:
    """``path:line`` of the first frame outside SQLAlchemy, qiao and asyncio that led here.

    NOTE: under an ``AsyncSession`` the statement runs in a greenlet SQLAlchemy started for it,
    whose frames end where it began; the view's frames are in the parent greenlet, paused in
    ``greenlet_spawn``, so the walk goes on from the parent's ``gr_frame``.
    """
    frame: FrameType | None = sys._getframe(2)
    greenlets = sys.modules.get("greenlet")  # imported by SQLAlchemy's asyncio support
    current = greenlets.getcurrent() if greenlets is not None else None
    while frame is not None:
        path = frame.f_code.co_filename
        if not path.startswith(_SKIP) and "concurrent" not in path and "greenlet" not in path:
            with contextlib.suppress(ValueError):  # another drive (Windows)
                path = os.path.relpath(path)
            return f"{path}:{frame.f_lineno}"
        frame = frame.f_back
        if frame is None and current is not None and current.parent is not None:
            current = current.parent
            frame = current.gr_frame
    return "<unknown>"


def _before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    stats = _current.get()
    if stats is None or statement == "BEGIN":  # SQLite's explicit BEGIN is not a query
        return
    conn.info.setdefault(_START, []).append(time.perf_counter())
    shape = stats.shapes.get(statement)
    if shape is None:
        shape = stats.shapes[statement] = Shape(location=_caller())
    shape.count += 1
    stats.count += 1


def _after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    stats = _current.get()
    started = conn.info.get(_START)
    if stats is None or not started or statement == "BEGIN":
        return
    stats.seconds += time.perf_counter() - started.pop()


class QueryStats:
    """The middleware that opens and reports a request's statistics."""

    def __init__(self, db: Database, debug: bool) -> None:
        self.threshold = db.n_plus_one_threshold
        self.debug = debug

    @classmethod
    def install(cls, app: App, db: Database) -> None:
        """Listen to every engine's statements and add the middleware to ``app``."""
        global _installed
        if not _installed:
            event.listen(Engine, "before_cursor_execute", _before)
            event.listen(Engine, "after_cursor_execute", _after)
            _installed = True
        app.add_middleware(cls(db, bool(app.config["DEBUG"])))

    def before_request(self, request: Request) -> None:
        """Start counting."""
        request.state.qiao_queries = RequestQueries()
        request.state.qiao_queries_token = _current.set(request.state.qiao_queries)

    def after_request(self, request: Request, response: Response) -> None:
        """Log the count and time, warn about N+1 shapes, and say so on debug pages."""
        stats: RequestQueries | None = getattr(request.state, "qiao_queries", None)
        if stats is None:
            return
        token = getattr(request.state, "qiao_queries_token", None)
        if token is not None:
            try:
                _current.reset(token)
            except ValueError:  # set in another context (a different task): leave it
                _current.set(None)
        if not stats.count:
            return
        ms = stats.seconds * 1000
        response.headers.add("server-timing", f'db;dur={ms:.2f};desc="{stats.count} queries"')
        logger.info("%s %s: %d queries in %.2f ms", request.method, request.path, stats.count, ms)
        repeated = stats.repeated(self.threshold)
        for sql, shape in repeated:
            logger.warning(
                "N+1 queries? This statement ran %d times in %s %s (first from %s): %s",
                shape.count,
                request.method,
                request.path,
                shape.location,
                " ".join(sql.split())[:300],
            )
        if repeated and self.debug:
            _add_to_page(response, repeated)


def _add_to_page(response: Response, repeated: list[tuple[str, Shape]]) -> None:
    if response.body_kind != 0 or not (response.content_type or "").startswith("text/html"):
        return
    items = "".join(
        f"<li><b>{shape.count}×</b> from <code>{html.escape(shape.location)}</code>: "
        f"<code>{html.escape(' '.join(sql.split())[:300])}</code></li>"
        for sql, shape in repeated
    )
    note = (
        '<aside class="qiao-n-plus-one" style="font:13px/1.4 system-ui,sans-serif;'
        'background:#fff3e0;border-top:3px solid #e65100;padding:.5rem 1rem;margin-top:2rem">'
        "<b>qiao debug: N+1 queries?</b> The same statement ran many times in this request; "
        "load the related rows in one query (<code>selectinload</code>, a join) instead."
        f"<ul>{items}</ul></aside>"
    ).encode()
    body = response.body
    at = body.rfind(b"</body>")
    response.body = body[:at] + note + body[at:] if at >= 0 else body + note
    if "content-length" in response.headers:
        response.headers["content-length"] = str(len(response.body))
