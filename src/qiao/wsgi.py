"""The WSGI adapter (PEP 3333): environ in, ``start_response`` and an iterable out.

``App.__call__(environ, start_response)`` lands here; nothing in the core knows about WSGI.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from qiao._concurrency import SYNC_READ_IN_ASYNC, run_coroutine_blocking
from qiao._status import NO_BODY_STATUSES, STATUS_LINES, status_line
from qiao.http.exceptions import BadRequest, HTTPException
from qiao.http.request import Request, too_many_headers
from qiao.http.response import FILE, STREAM, FileResponse, Response, StreamingResponse

if TYPE_CHECKING:
    from qiao.app import App

__all__ = ["wsgi_app"]

logger = logging.getLogger("qiao")
_CONTENT_LENGTH = re.compile(r"^[0-9]{1,18}$", re.ASCII)
StartResponse = Callable[..., Any]


class WSGISource:
    """Reads headers and the body from a WSGI environ."""

    __slots__ = ("environ",)
    scope = None

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ

    def header_pairs(self) -> list[tuple[str, str]]:
        environ = self.environ
        pairs = [
            (key[5:].replace("_", "-").lower(), value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        ]
        if environ.get("CONTENT_TYPE"):
            pairs.append(("content-type", environ["CONTENT_TYPE"]))
        if environ.get("CONTENT_LENGTH"):
            pairs.append(("content-length", environ["CONTENT_LENGTH"]))
        return pairs

    def query_string(self) -> str:
        return self.environ.get("QUERY_STRING", "")  # type: ignore[no-any-return]

    def root_path(self) -> str:
        return self.environ.get("SCRIPT_NAME", "")  # type: ignore[no-any-return]

    def scheme(self) -> str:
        return self.environ.get("wsgi.url_scheme", "http")  # type: ignore[no-any-return]

    def client(self) -> tuple[str, int] | None:
        addr = self.environ.get("REMOTE_ADDR")
        if not addr:
            return None
        port = self.environ.get("REMOTE_PORT", "0")
        return addr, int(port) if str(port).isdigit() else 0

    def server_host(self) -> str:
        environ = self.environ
        host, port = environ.get("SERVER_NAME", "localhost"), str(environ.get("SERVER_PORT", ""))
        default = "443" if environ.get("wsgi.url_scheme") == "https" else "80"
        return host if port in ("", default) else f"{host}:{port}"

    def read_sync(self) -> Iterator[bytes]:
        # NOTE: under ASGI a sync read from a coroutine would block the event loop, and qiao
        # refuses it there; refuse it here too, so an app behaves alike on every server.
        if asyncio._get_running_loop() is not None:
            raise RuntimeError(SYNC_READ_IN_ASYNC)
        return self._read_blocking()

    def _read_blocking(self) -> Iterator[bytes]:
        environ = self.environ
        stream = environ["wsgi.input"]
        declared = environ.get("CONTENT_LENGTH") or ""
        if _CONTENT_LENGTH.fullmatch(declared):
            remaining = int(declared)
            while remaining > 0:
                chunk = stream.read(min(65536, remaining))
                if not chunk:
                    return
                remaining -= len(chunk)
                yield chunk
        elif environ.get("wsgi.input_terminated"):  # chunked request bodies (gunicorn, granian)
            while chunk := stream.read(65536):
                yield chunk

    async def read_async(self) -> AsyncGenerator[bytes, None]:
        # NOTE: under WSGI each request owns its thread, so blocking reads are the right thing.
        for chunk in self._read_blocking():
            yield chunk

    async def is_disconnected(self) -> bool:
        return False


def wsgi_app(app: App, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """Answer one WSGI request with ``app``."""
    if not app._started:
        app._ensure_started()
    path = environ.get("PATH_INFO") or "/"
    bad_path: HTTPException | None = None
    if not path.isascii():
        try:  # PEP 3333 hands the path over as latin-1; it was UTF-8 on the wire.
            path = path.encode("latin-1").decode("utf-8")
        except UnicodeEncodeError:
            pass  # a server that already decoded it (not PEP 3333, but harmless)
        except UnicodeDecodeError:
            bad_path = BadRequest("The request path is not valid UTF-8.")
    request = Request(app, environ["REQUEST_METHOD"], path, WSGISource(environ))
    rejection = bad_path
    limit = app.limits.max_header_count
    if len(environ) > limit:  # PERF: the environ's size bounds its header count for free
        count = sum(1 for key in environ if key.startswith("HTTP_"))
        if count > limit:
            rejection = rejection or too_many_headers(count, limit)
    # NOTE: MAX_HEADER_SIZE is checked when the headers are first read: summing the environ
    # on every request would cost more than the rest of the request path, and every WSGI
    # server already bounds header bytes (gunicorn's limit_request_field_size, granian's and
    # waitress's own limits) before the app runs.
    response = app.dispatch(request, rejection)
    status = response.status_code
    headers = response.headers._list
    no_body = status in NO_BODY_STATUSES or request.method == "HEAD"
    kind = response.body_kind
    if kind == FILE:
        return _send_file(response, request, environ, start_response, no_body)  # type: ignore[arg-type]
    if kind == STREAM:
        start_response(STATUS_LINES.get(status) or status_line(status), headers[:])
        return _Closing(_iter_stream(response, no_body), request, response)  # type: ignore[arg-type]
    body = response.body
    if status not in NO_BODY_STATUSES:
        headers = [*headers, ("content-length", str(len(body)))]
    elif not body:  # RFC 9110: a 204/304 describes no content of its own
        headers = [h for h in headers if h[0] != "content-type"]
    start_response(STATUS_LINES.get(status) or status_line(status), headers)
    if request._form is None and response._on_close is None:
        return [] if no_body else [body]
    return _Closing(iter([] if no_body else [body]), request, response)


def _iter_stream(response: StreamingResponse, no_body: bool) -> Iterator[bytes]:
    content: Any = response.content
    if no_body:
        close = getattr(content, "close", None) or getattr(content, "aclose", None)
        if close is not None:
            result = close()
            if hasattr(result, "__await__"):
                run_coroutine_blocking(result)
        return
    if response.is_async:
        iterator = content.__aiter__()
        try:
            while True:
                try:
                    chunk = run_coroutine_blocking(iterator.__anext__())
                except StopAsyncIteration:
                    return
                yield chunk.encode() if isinstance(chunk, str) else chunk
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                run_coroutine_blocking(aclose())
    iterator = iter(content)
    try:
        for chunk in iterator:
            yield chunk.encode() if isinstance(chunk, str) else chunk
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


def _send_file(
    response: FileResponse,
    request: Request,
    environ: dict[str, Any],
    start_response: StartResponse,
    no_body: bool,
) -> Iterable[bytes]:
    headers = response.headers._list
    if response.status_code != 304:
        headers = [*headers, ("content-length", str(max(response.length, 0)))]
    start_response(status_line(response.status_code), headers)
    if no_body or response.length <= 0:
        return _Closing(iter(()), request, response)
    file = open(response.path, "rb")  # noqa: SIM115 - closed by the server via close()
    whole = response.offset == 0 and response.length == response.file_size
    wrapper = environ.get("wsgi.file_wrapper")
    if whole and wrapper is not None and request._form is None and response._on_close is None:
        # PERF: the server may send the file with sendfile(2), without copying it through Python.
        return wrapper(file, response.chunk_size)  # type: ignore[no-any-return]
    return _Closing(_iter_file(file, response), request, response)


def _iter_file(file: Any, response: FileResponse) -> Iterator[bytes]:
    with file:
        file.seek(response.offset)
        remaining = response.length
        while remaining > 0:
            chunk = file.read(min(response.chunk_size, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk


class _Closing:
    """A response iterable whose ``close()`` (PEP 3333) releases the request and response."""

    __slots__ = ("_iterator", "_request", "_response")

    def __init__(self, iterator: Iterator[bytes], request: Request, response: Response) -> None:
        self._iterator = iterator
        self._request = request
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        return self._iterator

    def close(self) -> None:
        try:
            close = getattr(self._iterator, "close", None)
            if close is not None:
                close()
        finally:
            finish(self._request, self._response)


def finish(request: Request, response: Response) -> None:
    """Run the response's close callbacks and release the request (temp files)."""
    try:
        for callback in response._on_close or ():
            try:
                result = callback()
                if hasattr(result, "__await__"):
                    run_coroutine_blocking(result)
            except Exception:
                logger.exception("Response close callback %r failed", callback)
    finally:
        request.close()
