"""Why the server refuses a request before any app sees it (protocol behaviour as data), the
checks llhttp leaves to us, and the plain responses the server itself sends."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import unquote_to_bytes

from qiao._status import status_line
from qiao.server._exchange import date_header

if TYPE_CHECKING:
    from qiao.server._exchange import Exchange

__all__ = ["CHUNKED", "HOST", "Refused", "decode_path", "error_response", "is_websocket"]

#: The reasons a request is refused before any app sees it (protocol behaviour as data).
REASON_MALFORMED = "Malformed request"
REASON_HOST_MISSING = "HTTP/1.1 requests need one Host header"
REASON_HOST_TWICE = "More than one Host header"
REASON_HOST_INVALID = "The Host header is not a host and port"
REASON_HOST_MISMATCH = "The absolute-form target disagrees with the Host header"
REASON_TARGET = "Unsupported request target form"
REASON_PATH_ENCODING = "The request path is not valid UTF-8"
REASON_TLS = "This port speaks plain HTTP, not TLS"
REASON_TRANSFER_CODING = "Only the chunked transfer coding is supported"
REASON_VERSION = "HTTP version not supported"
REASON_LINE = "Request line too long"
REASON_HEAD = "Request headers too large"
REASON_HEADER_COUNT = "Too many request headers"
REASON_HEAD_TIMEOUT = "The request head did not arrive in time"
REASON_UPGRADE_BODY = "An Upgrade request cannot have a chunked body or follow pipelined requests"

#: A Host header's value (RFC 9110 7.2, RFC 3986 3.2.2): a reg-name, IPv4 or [IPv6], a port.
HOST = re.compile(rb"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]*)(?::[0-9]*)?")
CHUNKED = re.compile(rb"[ \t]*chunked[ \t]*", re.IGNORECASE)


def decode_path(raw_path: bytes) -> str:
    """The percent-decoded path, strictly UTF-8 (``/%ff`` is a 400, not a U+FFFD)."""
    if b"%" not in raw_path and raw_path.isascii():
        return raw_path.decode("ascii")
    try:
        return unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, REASON_PATH_ENCODING) from None


def is_websocket(exchange: Exchange) -> bool:
    upgrade = exchange.header(b"upgrade")
    return exchange.method == "GET" and upgrade is not None and upgrade.lower() == b"websocket"


class Refused(Exception):
    """Raised inside a parser callback to stop parsing and answer ``status``."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def error_response(status: int, reason: str, keep_alive: bool = False) -> bytes:
    """A complete plain-text error response, with ``Connection: close`` unless ``keep_alive``."""
    body = f"{status_line(status)}: {reason}\n".encode()
    head = (
        f"HTTP/1.1 {status_line(status)}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\n"
    )
    if not keep_alive:
        head += "connection: close\r\n"
    return head.encode("latin-1") + date_header() + b"server: qiao\r\n\r\n" + body
