"""Cookie parsing (the ``Cookie`` request header) and ``Set-Cookie`` building."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Literal
from urllib.parse import unquote

__all__ = ["build_set_cookie", "parse_cookie_header"]

SameSite = Literal["lax", "strict", "none"]

# RFC 6265 cookie-name is an HTTP token; the value may not carry separators that would let it
# escape its attribute.
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_BAD_VALUE = re.compile(r"[\x00-\x20\x7f\";\\,]")


def parse_cookie_header(header: str) -> dict[str, str]:
    """Parse a ``Cookie`` header the way browsers send it.

    Lenient like browsers and Django: pairs split on ``;``, a pair without ``=`` is a value with
    an empty name, surrounding quotes are removed and ``%xx`` escapes decoded. The first cookie
    of a repeated name wins (the browser sends the most specific path first).
    """
    cookies: dict[str, str] = {}
    for chunk in header.split(";"):
        if "=" in chunk:
            key, value = chunk.split("=", 1)
        else:
            key, value = "", chunk
        key, value = key.strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if (key or value) and key not in cookies:
            cookies[key] = unquote(value)
    return cookies


def _samesite(samesite: str, secure: bool) -> str:
    if samesite.lower() not in ("lax", "strict", "none"):
        raise ValueError(f"samesite must be 'lax', 'strict' or 'none', not {samesite!r}.")
    if samesite.lower() == "none" and not secure:
        raise ValueError("samesite='none' requires secure=True; browsers reject it otherwise.")
    return f"SameSite={samesite.capitalize()}"


def build_set_cookie(
    key: str,
    value: str = "",
    *,
    max_age: int | None = None,
    expires: datetime | int | None = None,
    path: str | None = "/",
    domain: str | None = None,
    secure: bool = False,
    httponly: bool = False,
    samesite: SameSite | None = "lax",
    partitioned: bool = False,
) -> str:
    """Build one ``Set-Cookie`` header value.

    Raises:
        ValueError: the name is not a token, the value holds a character cookies cannot carry
            (quote or encode it first), ``samesite`` is unknown, or ``samesite="none"`` is asked
            without ``secure`` (browsers drop such cookies).
    """
    if not _TOKEN.match(key):
        raise ValueError(f"Cookie name {key!r} is not a valid token.")
    if _BAD_VALUE.search(value):
        raise ValueError(
            f"Cookie value {value!r} contains a space, quote, comma, semicolon, backslash or "
            "control character; encode it (urllib.parse.quote) before setting it."
        )
    parts = [f"{key}={value}"]
    if max_age is not None:
        parts.append(f"Max-Age={int(max_age)}")
    if expires is not None:
        if isinstance(expires, int):
            expires = datetime.fromtimestamp(expires, tz=UTC)
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        parts.append(f"Expires={format_datetime(expires.astimezone(UTC), usegmt=True)}")
    if domain:
        parts.append(f"Domain={domain}")
    if path:
        parts.append(f"Path={path}")
    if secure:
        parts.append("Secure")
    if httponly:
        parts.append("HttpOnly")
    if samesite is not None:
        parts.append(_samesite(samesite, secure))
    if partitioned:
        parts.append("Partitioned")
    return "; ".join(parts)
