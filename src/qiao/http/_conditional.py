"""Conditional requests (RFC 9110 section 13) and byte ranges (RFC 9110 section 14) for files."""

from __future__ import annotations

import os
import re
import stat
from email.utils import formatdate, parsedate_to_datetime
from typing import Any

from qiao.http.exceptions import NotFound

# NOTE: strict ASCII digits; int() alone would accept "+5", "1_0" and non-ASCII digits.
_RANGE = re.compile(r"^bytes=([0-9]{0,18})-([0-9]{0,18})$", re.ASCII)


def _etag_matches(header: str, etag: str) -> bool:
    """Weak comparison of ``etag`` against an ``If-None-Match`` / ``If-Range`` list."""
    if header.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in header.split(","))


def _not_modified_since(header: str, mtime: float) -> bool:
    try:
        since = parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return False
    return int(mtime) <= since


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """Return ``(offset, length)`` for a single-range ``Range`` header.

    Returns ``None`` when the header is not one we serve as a range (multiple ranges, another
    unit, malformed): RFC 9110 lets a server ignore it and send the whole file.

    Raises:
        ValueError: the range is well-formed but unsatisfiable (416).
    """
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix range: the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise ValueError("empty suffix range")
        start = max(size - suffix, 0)
        return start, size - start
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise ValueError("range starts past the end")
    end = min(int(last), size - 1) if last else size - 1
    return start, end - start + 1


def prepare_file_response(response: Any, request: Any) -> None:
    """Stat ``response.path`` and set validators, 304, 206 or 416 on ``response``."""
    try:
        st = os.stat(response.path)
    except OSError:
        raise NotFound() from None
    if not stat.S_ISREG(st.st_mode):
        raise NotFound()
    size = st.st_size
    etag = f'"{st.st_mtime_ns:x}-{size:x}"'
    headers = response.headers
    headers.setdefault("etag", etag)
    headers.setdefault("last-modified", formatdate(st.st_mtime, usegmt=True))
    headers["accept-ranges"] = "bytes"
    response.file_size = size
    response.offset, response.length = 0, size
    if not response.conditional or response.status_code != 200:
        return
    req_headers = request.headers
    if request.method in ("GET", "HEAD"):
        inm = req_headers.get("if-none-match")
        ims = req_headers.get("if-modified-since")
        if (inm is not None and _etag_matches(inm, etag)) or (
            inm is None and ims is not None and _not_modified_since(ims, st.st_mtime)
        ):
            response.status_code = 304
            response.length = 0
            del headers["content-type"]
            del headers["content-disposition"]
            return
    range_header = req_headers.get("range")
    if range_header is None or request.method != "GET":
        return
    if_range = req_headers.get("if-range")
    if if_range is not None:
        if if_range.startswith(('"', 'W/"')):
            if if_range != etag:
                return
        elif if_range != headers.get("last-modified"):  # RFC 9110 13.1.5: an exact match
            return
    try:
        chosen = parse_range(range_header, size)
    except ValueError:
        response.status_code = 416
        response.length = 0
        headers["content-range"] = f"bytes */{size}"
        return
    if chosen is None:
        return
    offset, length = chosen
    response.status_code = 206
    response.offset, response.length = offset, length
    headers["content-range"] = f"bytes {offset}-{offset + length - 1}/{size}"
