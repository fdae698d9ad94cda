"""Helpers shared by the HTTP-layer tests: bodies, WSGI shims, multipart builders."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal

import qiao

NewApp = Callable[..., qiao.App]

BOUNDARY = "qiao-test-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


async def _aiter(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


class PortalClient:
    """The synchronous face of an ``AsyncTestClient``: each call runs on the portal's loop.

    A sync iterable passed as ``content=`` is turned into an async one, so a test can send the
    same chunked (``Transfer-Encoding: chunked``) body to both servers.
    """

    kind = "asgi"

    def __init__(self, portal: BlockingPortal, client: httpx.AsyncClient) -> None:
        self._portal = portal
        self._client = client

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        content = kwargs.get("content")
        if content is not None and not isinstance(content, (bytes, str)):
            kwargs["content"] = _aiter(content)
        call = functools.partial(self._client.request, method, url, **kwargs)
        return self._portal.call(call)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("HEAD", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)


class Serve:
    """``serve(app)``: a client for ``app`` through this test's server (``serve.kind``)."""

    def __init__(self, kind: str, stack: ExitStack) -> None:
        self.kind = kind
        self._stack = stack
        self._portal: BlockingPortal | None = None

    def __call__(self, app: qiao.App, **kwargs: Any) -> Any:
        if self.kind == "wsgi":
            return self._stack.enter_context(app.test_client(**kwargs))
        if self._portal is None:
            self._portal = self._stack.enter_context(start_blocking_portal("asyncio"))
        client = self._stack.enter_context(
            self._portal.wrap_async_context_manager(app.async_test_client(**kwargs))
        )
        return PortalClient(self._portal, client)


def problem(response: httpx.Response, status: int) -> str:
    """Assert ``response`` is a problem+json error with ``status``; return its detail."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    return str(body["detail"])


def qiao_errors(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    """The records of errors qiao logged (``caplog.records``)."""
    return [r for r in records if r.name == "qiao" and r.levelno >= logging.ERROR]


def like_gunicorn(wsgi_app: Callable[..., Any]) -> Callable[..., Any]:
    """WSGI middleware that marks ``wsgi.input`` as terminated, as gunicorn and granian do.

    httpx's WSGI transport buffers the whole body, so its input *is* terminated; without the
    flag a PEP 3333 app must not read past ``CONTENT_LENGTH``, which a chunked body lacks.
    """

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        environ["wsgi.input_terminated"] = True
        return wsgi_app(environ, start_response)

    return app


def chunks(*parts: bytes) -> Iterator[bytes]:
    """A generator body: httpx sends it with ``Transfer-Encoding: chunked`` and no length."""
    yield from parts


def part(
    name: str,
    data: bytes | str,
    *,
    filename: str | None = None,
    content_type: str | None = None,
) -> bytes:
    """One multipart part, exactly as given (no escaping: tests control every byte)."""
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    head = f"Content-Disposition: {disposition}\r\n"
    if content_type is not None:
        head += f"Content-Type: {content_type}\r\n"
    body = data.encode() if isinstance(data, str) else data
    return head.encode("utf-8") + b"\r\n" + body


def multipart(*parts: bytes, boundary: str = BOUNDARY) -> bytes:
    """A ``multipart/form-data`` body of ``parts``, closed properly."""
    delimiter = f"--{boundary}".encode()
    out = b"".join(delimiter + b"\r\n" + p + b"\r\n" for p in parts)
    return out + delimiter + b"--\r\n"


def open_files_under(directory: Path) -> list[str]:
    """The paths this process holds open inside ``directory`` (Linux ``/proc``).

    Anonymous temporary files (``O_TMPFILE``) show as ``<dir>/#<inode> (deleted)``, so this
    sees spooled uploads that have no name in the directory listing.
    """
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(directory)):
            found.append(target)
    return found
