"""Status lines, computed once."""

from __future__ import annotations

from http import HTTPStatus

#: "200 OK" and friends, for WSGI's ``start_response``.
STATUS_LINES: dict[int, str] = {s.value: f"{s.value} {s.phrase}" for s in HTTPStatus}

#: Statuses whose responses never carry a body (RFC 9110 sections 6.4.1, 15.3.5, 15.4.5).
NO_BODY_STATUSES = frozenset({100, 101, 102, 103, 204, 205, 304})


def status_line(status: int) -> str:
    """``"404 Not Found"``; ``"599 Unknown"`` for codes without a phrase."""
    return STATUS_LINES.get(status) or f"{status} Unknown"
