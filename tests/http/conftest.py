"""Fixtures for the HTTP-layer tests: one app, called through WSGI or through ASGI.

``serve(app)`` returns a client for ``app``. The fixture is parametrized, so a test that uses it
runs twice: once with ``app.test_client()`` (WSGI) and once with ``app.async_test_client()``
(ASGI). The ASGI client runs inside an anyio blocking portal, so the same synchronous test body
drives both; the WSGI client runs on the test's own thread, as a WSGI server would run it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from tests.http._support import Serve


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["wsgi", "asgi"])
def serve(request: pytest.FixtureRequest) -> Iterator[Serve]:
    """Call the app through WSGI, then (second run) through ASGI."""
    with ExitStack() as stack:
        yield Serve(request.param, stack)
