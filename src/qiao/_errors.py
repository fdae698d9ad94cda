"""Default error responses: problem-details JSON for API clients, a small page for browsers,
and a traceback page (HTML or JSON) in debug. Never a traceback outside debug."""

from __future__ import annotations

import html
import traceback
from typing import TYPE_CHECKING, Any

from qiao.http.exceptions import HTTPException, status_phrase
from qiao.http.response import HTMLResponse, JSONResponse, Response

if TYPE_CHECKING:
    from qiao.http.request import Request

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{status} {title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;margin:3rem auto;max-width:60rem;padding:0 1rem}}
pre{{background:#f6f6f6;padding:1rem;overflow:auto;font-size:13px}}
small{{color:#666}}</style></head>
<body><h1>{status} {title}</h1><p>{detail}</p>{extra}</body></html>
"""


def wants_json(request: Request) -> bool:
    """Whether the client prefers JSON: anything that does not ask for HTML gets JSON."""
    try:
        accept = request.headers.get("accept", "")
    except HTTPException:  # the headers themselves are the problem (431)
        return True
    return "text/html" not in accept


def render_http_error(request: Request, exc: HTTPException) -> Response:
    """The default response for an ``HTTPException``."""
    status = exc.status_code
    title = status_phrase(status)
    response: Response
    if wants_json(request):
        response = JSONResponse(
            {"type": "about:blank", "title": title, "status": status, "detail": exc.detail},
            status,
            content_type="application/problem+json",
        )
    else:
        body = _PAGE.format(status=status, title=title, detail=html.escape(exc.detail), extra="")
        response = HTMLResponse(body, status)
    for name, value in exc.headers:
        response.headers.add(name, value)
    return response


def render_server_error(
    request: Request, exc: BaseException, request_id: str, debug: bool
) -> Response:
    """The response for an unhandled exception; the traceback only when ``debug``."""
    detail = "The server failed to answer this request."
    tb: list[str] = traceback.format_exception(exc) if debug else []
    response: Response
    if wants_json(request):
        payload: dict[str, Any] = {
            "type": "about:blank",
            "title": "Internal Server Error",
            "status": 500,
            "detail": detail,
            "request_id": request_id,
        }
        if debug:
            payload["exception"] = f"{type(exc).__name__}: {exc}"
            payload["traceback"] = "".join(tb).splitlines()
        response = JSONResponse(payload, 500, content_type="application/problem+json")
    else:
        extra = f"<p><small>Request id {html.escape(request_id)}</small></p>"
        if debug:
            extra = (
                f"<h2>{html.escape(type(exc).__name__)}: {html.escape(str(exc))}</h2>"
                f"<pre>{html.escape(''.join(tb))}</pre>"
                f"<p><small>Request {html.escape(request.method)} {html.escape(request.path)}"
                f" · id {html.escape(request_id)} · shown because DEBUG is on</small></p>"
            )
        response = HTMLResponse(
            _PAGE.format(status=500, title="Internal Server Error", detail=detail, extra=extra),
            500,
        )
    response.headers["x-request-id"] = request_id
    return response
