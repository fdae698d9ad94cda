"""ASGI scopes built from a parsed request (the ASGI interface, and ``request.scope`` on the
native path)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qiao.server._exchange import Exchange
    from qiao.server._http import HTTPProtocol

__all__ = ["ASGI_VERSION", "http_scope", "under_root"]

ASGI_VERSION = {"version": "3.0", "spec_version": "2.4"}


def under_root(root_path: str, path: str) -> str | None:
    """``path`` without the mount prefix ``root_path`` when it starts with it at a segment
    boundary (a proxy that passes the full path); else None (a proxy that strips it)."""
    if path == root_path:
        return ""
    if path.startswith(root_path) and path[len(root_path)] == "/":
        return path[len(root_path) :]
    return None


def http_scope(protocol: HTTPProtocol, exchange: Exchange, kind: str = "http") -> dict[str, Any]:
    """The ASGI ``http`` (or ``websocket``) scope for ``exchange``."""
    state = protocol.state
    root_path = state.root_path
    scope: dict[str, Any] = {
        "type": kind,
        "asgi": ASGI_VERSION,
        "http_version": exchange.version,
        "server": protocol.server,
        "client": exchange.client,
        "scheme": exchange.scheme if kind == "http" else _ws_scheme(exchange.scheme),
        "root_path": root_path,
        "path": _full_path(root_path, exchange.path),
        "raw_path": _full_raw_path(root_path, exchange),
        "query_string": exchange.query,
        "headers": [(name.lower(), value) for name, value in exchange.headers],
        "state": dict(state.lifespan_state),
    }
    if kind == "http":
        scope["method"] = exchange.method
        scope["extensions"] = {"http.response.pathsend": {}}
    return scope


def _full_path(root_path: str, path: str) -> str:
    if not root_path or under_root(root_path, path) is not None:
        return path
    return root_path + path


def _full_raw_path(root_path: str, exchange: Exchange) -> bytes:
    # NOTE: raw_path agrees with path: both carry the root path, or neither had to gain it.
    if not root_path or under_root(root_path, exchange.path) is not None:
        return exchange.raw_path
    return root_path.encode("utf-8") + exchange.raw_path


def _ws_scheme(scheme: str) -> str:
    return "wss" if scheme == "https" else "ws"
