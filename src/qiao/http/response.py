"""Responses: plain bytes, JSON, HTML, redirects, streams and files.

A view returns one of these (or something ``make_response`` turns into one). Responses are plain
objects: the WSGI and ASGI adapters read ``status_code``, ``headers`` and the body and write them
out; nothing here touches a socket.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import quote

import msgspec

from qiao.http._conditional import prepare_file_response
from qiao.http.cookies import SameSite, build_set_cookie
from qiao.http.datastructures import Headers

__all__ = [
    "FileResponse",
    "HTMLResponse",
    "JSONResponse",
    "PlainTextResponse",
    "RedirectResponse",
    "Response",
    "StreamingResponse",
    "redirect",
]

HeadersInit = Mapping[str, str] | Iterable[tuple[str, str]] | None

_json_encoder = msgspec.json.Encoder()

#: ``Response.body_kind`` values: how an adapter sends the body.
BODY, STREAM, FILE = 0, 1, 2


class Response:
    """An HTTP response with the whole body in memory.

    Args:
        body: ``str`` (encoded as UTF-8) or ``bytes``.
        status: the status code.
        headers: extra header fields.
        content_type: the ``Content-Type``; defaults to ``media_type`` of the class, which is
            ``text/html; charset=utf-8`` for ``Response``.
    """

    # PERF: no __slots__, so rarely-set fields cost nothing until set (see ``_on_close``).
    _on_close: list[Callable[[], Any]] | None = None

    media_type: ClassVar[str] = "text/html; charset=utf-8"
    #: How adapters send the body: ``BODY`` (bytes in memory), ``STREAM`` or ``FILE``.
    body_kind: ClassVar[int] = BODY
    #: True for responses whose body depends on request headers (``FileResponse``); the app
    #: calls ``prepare(request)`` on them before sending.
    needs_prepare: ClassVar[bool] = False

    def __init__(
        self,
        body: str | bytes = b"",
        status: int = 200,
        headers: HeadersInit = None,
        content_type: str | None = None,
    ) -> None:
        if type(body) is not bytes:
            body = body.encode() if isinstance(body, str) else bytes(body)
        self.body: bytes = body
        self.status_code = status
        self.headers = Headers._trusted([("content-type", content_type or self.media_type)])
        if headers:
            self.headers.update(headers)

    @property
    def content_type(self) -> str | None:
        """The ``Content-Type`` header, if any."""
        return self.headers.get("content-type")

    def set_cookie(
        self,
        key: str,
        value: str = "",
        *,
        max_age: int | None = None,
        expires: datetime | int | None = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = True,
        samesite: SameSite | None = "lax",
        partitioned: bool = False,
    ) -> None:
        """Add a ``Set-Cookie`` header. ``HttpOnly`` and ``SameSite=Lax`` are on by default.

        Raises:
            ValueError: see ``qiao.http.cookies.build_set_cookie``.
        """
        self.headers.add(
            "set-cookie",
            build_set_cookie(
                key,
                value,
                max_age=max_age,
                expires=expires,
                path=path,
                domain=domain,
                secure=secure,
                httponly=httponly,
                samesite=samesite,
                partitioned=partitioned,
            ),
        )

    def delete_cookie(
        self,
        key: str,
        *,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = True,
        samesite: SameSite | None = "lax",
    ) -> None:
        """Expire a cookie in the browser (same ``path`` and ``domain`` as when it was set)."""
        self.set_cookie(
            key,
            "",
            max_age=0,
            expires=0,
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
        )

    def call_on_close(self, callback: Callable[[], Any]) -> None:
        """Run ``callback()`` once the response has been sent, or the client has gone.

        The adapters call it after the last byte (after a stream is exhausted or a file is sent),
        which is the place to release resources a streamed body still needs.
        """
        if self._on_close is None:
            self._on_close = []
        self._on_close.append(callback)

    def prepare(self, request: Any) -> None:
        """Adjust the response to the request's conditional headers (a no-op here)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.status_code} {self.content_type}>"


class HTMLResponse(Response):
    """A ``text/html; charset=utf-8`` response."""


class PlainTextResponse(Response):
    """A ``text/plain; charset=utf-8`` response."""

    media_type = "text/plain; charset=utf-8"


class JSONResponse(Response):
    """A JSON response, encoded with msgspec.

    Args:
        data: anything msgspec encodes: dicts, lists, str, numbers, bools, None, dataclasses,
            ``msgspec.Struct``, datetimes, UUIDs, Decimals, enums.

    Raises:
        TypeError: ``data`` holds an object msgspec cannot encode.
    """

    media_type = "application/json"

    def __init__(
        self,
        data: Any,
        status: int = 200,
        headers: HeadersInit = None,
        content_type: str | None = None,
    ) -> None:
        super().__init__(_json_encoder.encode(data), status, headers, content_type)


class RedirectResponse(Response):
    """A redirect to ``url`` (302 by default; 301, 303, 307 and 308 are the other usual codes)."""

    def __init__(self, url: str, status: int = 302, headers: HeadersInit = None) -> None:
        super().__init__(b"", status, headers)
        self.headers["location"] = quote(url, safe=":/%#?=@[]!$&'()*+,;~")


def redirect(url: str, status: int = 302) -> RedirectResponse:
    """Return a ``RedirectResponse`` to ``url`` (Flask's and Django's ``redirect``)."""
    return RedirectResponse(url, status)


class StreamingResponse(Response):
    """A response whose body is produced chunk by chunk.

    Args:
        content: a sync or async iterable of ``bytes`` or ``str`` chunks. A sync iterable runs in
            a worker thread under ASGI so it may block; an async one runs on the event loop (under
            WSGI, on the worker thread's own loop).
    """

    media_type = "application/octet-stream"
    body_kind = STREAM

    def __init__(
        self,
        content: Iterable[bytes | str] | AsyncIterable[bytes | str],
        status: int = 200,
        headers: HeadersInit = None,
        content_type: str | None = None,
    ) -> None:
        super().__init__(b"", status, headers, content_type)
        self.content = content

    @property
    def is_async(self) -> bool:
        """True when ``content`` is an async iterable."""
        return hasattr(self.content, "__aiter__")


class FileResponse(Response):
    """Send a file from disk, with ``ETag``, ``Last-Modified``, 304 and byte ranges.

    The adapters send it with ``wsgi.file_wrapper`` or ASGI ``http.response.pathsend`` when the
    server offers them, else in chunks. The file is opened when the response is sent, not before.

    Args:
        path: the file to send; if it does not exist the request gets a 404.
        filename: the name the browser should save it as (sets ``Content-Disposition``).
        as_attachment: ``attachment`` instead of ``inline`` disposition.
        content_type: defaults to a guess from the file name.
        conditional: answer ``If-None-Match``/``If-Modified-Since`` with 304 and ``Range`` with
            206/416.
        chunk_size: bytes read per chunk when the server cannot send the file itself.
    """

    needs_prepare = True
    body_kind = FILE

    def __init__(
        self,
        path: str | os.PathLike[str],
        status: int = 200,
        headers: HeadersInit = None,
        content_type: str | None = None,
        *,
        filename: str | None = None,
        as_attachment: bool = False,
        conditional: bool = True,
        chunk_size: int = 64 * 1024,
    ) -> None:
        self.path = os.fspath(path)
        if content_type is None:
            guessed, encoding = mimetypes.guess_type(filename or self.path)
            content_type = guessed or "application/octet-stream"
            if encoding:  # a .gz file is served as-is, never as a transparently-decoded body
                content_type = "application/octet-stream"
            elif content_type.startswith("text/"):
                content_type += "; charset=utf-8"
        super().__init__(b"", status, headers, content_type)
        if filename is not None or as_attachment:
            name = filename or os.path.basename(self.path)
            disposition = "attachment" if as_attachment else "inline"
            ascii_name = name.encode("ascii", "ignore").decode().replace('"', "").replace("\\", "")
            value = f'{disposition}; filename="{ascii_name}"'
            if ascii_name != name:
                value += f"; filename*=UTF-8''{quote(name, safe='')}"
            self.headers["content-disposition"] = value
        self.conditional = conditional
        self.chunk_size = chunk_size
        self.offset = 0
        self.length = -1
        self.file_size = -1

    def prepare(self, request: Any) -> None:
        """Stat the file and answer the request's conditional and range headers.

        Raises:
            NotFound: the file does not exist or is not a regular file.
        """
        prepare_file_response(self, request)
