"""Helpers people reach for daily: 404s, pagination, existence, bulk writes (sync and async).

Querying stays plain SQLAlchemy 2 (``select(...)``); these only wrap the common patterns.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import Select, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from qiao.http.exceptions import BadRequest, NotFound

if TYPE_CHECKING:
    from qiao.http.request import Request

__all__ = [
    "Page",
    "aexists",
    "afirst_or_404",
    "aget_or_404",
    "apaginate",
    "bulk_insert",
    "bulk_update",
    "exists",
    "first_or_404",
    "get_or_404",
    "paginate",
]

T = TypeVar("T")
#: The largest page a client may ask for with ``?per_page=``.
MAX_PER_PAGE = 100


def get_or_404(session: Session, model: type[T], ident: Any) -> T:
    """``session.get(model, ident)``, or ``NotFound`` (404) when there is no such row."""
    found = session.get(model, ident)
    if found is None:
        raise NotFound(f"No {model.__name__} with id {ident!r}.")
    return found


async def aget_or_404(session: AsyncSession, model: type[T], ident: Any) -> T:
    """Async twin of ``get_or_404``."""
    found = await session.get(model, ident)
    if found is None:
        raise NotFound(f"No {model.__name__} with id {ident!r}.")
    return found


def first_or_404(session: Session, statement: Select[Any]) -> Any:
    """The first row's first column (the entity) of ``statement``, or ``NotFound``."""
    found = session.scalars(statement.limit(1)).first()
    if found is None:
        raise NotFound("No such item.")
    return found


async def afirst_or_404(session: AsyncSession, statement: Select[Any]) -> Any:
    """Async twin of ``first_or_404``."""
    found = (await session.scalars(statement.limit(1))).first()
    if found is None:
        raise NotFound("No such item.")
    return found


def exists(session: Session, statement: Select[Any]) -> bool:
    """Whether ``statement`` matches any row (``SELECT EXISTS``, no rows loaded)."""
    return bool(session.scalar(select(statement.exists())))


async def aexists(session: AsyncSession, statement: Select[Any]) -> bool:
    """Async twin of ``exists``."""
    return bool(await session.scalar(select(statement.exists())))


def bulk_insert(session: Session, model: type[Any], rows: Iterable[Mapping[str, Any]]) -> int:
    """Insert many rows in one executemany (no ORM objects made); returns how many."""
    values = [dict(row) for row in rows]
    if values:
        session.execute(insert(model), values)
    return len(values)


def bulk_update(session: Session, model: type[Any], rows: Iterable[Mapping[str, Any]]) -> int:
    """Update many rows by primary key in one executemany (each row has ``id``)."""
    values = [dict(row) for row in rows]
    if values:
        session.execute(update(model), values)
    return len(values)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of results.

    Attributes:
        items: this page's rows; page: its number (from 1); per_page; total: all matching rows.
    """

    items: Sequence[T]
    page: int
    per_page: int
    total: int
    _base: str = field(default="", repr=False)

    @property
    def pages(self) -> int:
        """How many pages there are (at least 1)."""
        return max(1, math.ceil(self.total / self.per_page)) if self.per_page else 1

    @property
    def has_next(self) -> bool:
        """Whether a later page exists."""
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        """Whether an earlier page exists."""
        return self.page > 1

    def url(self, page: int) -> str:
        """The URL of page ``page`` (the request's path and query, with ``page`` replaced)."""
        from urllib.parse import urlencode

        path, _, query = self._base.partition("?")
        params = [(k, v) for k, v in _pairs(query) if k != "page"]
        params.append(("page", str(page)))
        return f"{path}?{urlencode(params)}"

    @property
    def links(self) -> dict[str, str | None]:
        """``first``, ``prev``, ``next`` and ``last`` URLs (None where there is none)."""
        return {
            "first": self.url(1),
            "prev": self.url(self.page - 1) if self.has_prev else None,
            "next": self.url(self.page + 1) if self.has_next else None,
            "last": self.url(self.pages),
        }


def _pairs(query: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(query, keep_blank_values=True)


def _page_args(
    request: Request | None, page: int | None, per_page: int | None, default_per_page: int
) -> tuple[int, int, str]:
    base = ""
    if request is not None:
        from urllib.parse import quote

        path = request.root_path + quote(request.path, safe="/!$&'()*+,;=:@~")
        base = path + ("?" + request.query_string if request.query_string else "")
        page = page if page is not None else _positive(request.query.get("page"), "page", 1)
        per_page = (
            per_page
            if per_page is not None
            else _positive(request.query.get("per_page"), "per_page", default_per_page)
        )
    page = page or 1
    per_page = min(per_page or default_per_page, MAX_PER_PAGE)
    return page, per_page, base


def _positive(raw: str | None, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9 or int(raw) < 1:
        raise BadRequest(f"Query parameter {name!r} must be a positive whole number, got {raw!r}.")
    return int(raw)


def _count(statement: Select[Any]) -> Select[Any]:
    return select(func.count()).select_from(statement.order_by(None).subquery())


def paginate(
    session: Session,
    statement: Select[Any],
    request: Request | None = None,
    *,
    page: int | None = None,
    per_page: int | None = None,
    default_per_page: int = 20,
) -> Page[Any]:
    """Run ``statement`` for one page: ``?page=`` and ``?per_page=`` from ``request`` unless
    given (``per_page`` at most 100), and count all matches for ``total``.

    Raises:
        BadRequest: ``page`` or ``per_page`` in the query is not a positive whole number.
    """
    page, per_page, base = _page_args(request, page, per_page, default_per_page)
    total = session.scalar(_count(statement)) or 0
    items = session.scalars(statement.limit(per_page).offset((page - 1) * per_page)).all()
    return Page(items, page, per_page, total, base)


async def apaginate(
    session: AsyncSession,
    statement: Select[Any],
    request: Request | None = None,
    *,
    page: int | None = None,
    per_page: int | None = None,
    default_per_page: int = 20,
) -> Page[Any]:
    """Async twin of ``paginate``."""
    page, per_page, base = _page_args(request, page, per_page, default_per_page)
    total = await session.scalar(_count(statement)) or 0
    rows = await session.scalars(statement.limit(per_page).offset((page - 1) * per_page))
    return Page(rows.all(), page, per_page, total, base)
