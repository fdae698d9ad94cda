"""Test clients and the pytest plugin.

``app.test_client()`` is an ``httpx.Client`` that calls the app through WSGI, in-process; the
``async_test_client()`` is an ``httpx.AsyncClient`` that calls it through ASGI and runs the
lifespan start-up and shut-down around the ``async with`` block. Cookies persist between
requests; pass ``follow_redirects=True`` to follow redirects.

The pytest plugin (``qiao.pytest_plugin``, registered automatically) offers two fixtures:
``app`` (override it in your ``conftest.py``, or set ``qiao_app = "module:app"`` in the pytest
ini options) and ``client``, a ``TestClient`` for that app.
"""

from __future__ import annotations

import asyncio
import importlib
from types import TracebackType
from typing import TYPE_CHECKING, Any

try:
    import httpx
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("qiao's test client needs httpx: pip install 'qiao[testing]'") from exc

if TYPE_CHECKING:
    from qiao.app import App

__all__ = ["AsyncTestClient", "TestClient", "load_app"]


class TestClient(httpx.Client):
    """A synchronous httpx client bound to ``app`` through WSGI (no sockets).

    Args:
        app: the qiao app (or any WSGI app).
        base_url: the origin requests appear to come to.
        kwargs: anything ``httpx.Client`` takes (``headers``, ``cookies``,
            ``follow_redirects``...).
    """

    __test__ = False  # not a pytest test class

    def __init__(self, app: Any, base_url: str = "http://testserver", **kwargs: Any) -> None:
        self.app = app
        super().__init__(
            transport=httpx.WSGITransport(app=_Pep3333Path(app)), base_url=base_url, **kwargs
        )


class _Pep3333Path:
    """httpx's WSGI transport puts the decoded path in ``PATH_INFO``; PEP 3333 (and every real
    server) gives the raw bytes as latin-1. Restore that so tests see what servers send."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        environ["PATH_INFO"] = environ["PATH_INFO"].encode("utf-8").decode("latin-1")
        environ["wsgi.input_terminated"] = True  # httpx buffers the whole body, chunked or not
        return self.app(environ, start_response)


class AsyncTestClient(httpx.AsyncClient):
    """An async httpx client bound to ``app`` through ASGI; ``async with`` runs the lifespan."""

    __test__ = False

    def __init__(self, app: Any, base_url: str = "http://testserver", **kwargs: Any) -> None:
        self.app = app
        self._lifespan: asyncio.Task[None] | None = None
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        super().__init__(transport=httpx.ASGITransport(app=app), base_url=base_url, **kwargs)

    async def __aenter__(self) -> AsyncTestClient:
        await super().__aenter__()
        self._lifespan = asyncio.ensure_future(
            self.app(
                {"type": "lifespan", "asgi": {"version": "3.0"}},
                self._to_app.get,
                self._from_app.put,
            )
        )
        await self._to_app.put({"type": "lifespan.startup"})
        message = await self._from_app.get()
        if message["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"App start-up failed: {message.get('message', message)}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        if self._lifespan is not None:
            await self._to_app.put({"type": "lifespan.shutdown"})
            await self._from_app.get()
            await self._lifespan
        await super().__aexit__(exc_type, exc, tb)


def load_app(target: str) -> App:
    """Import ``"package.module:app"`` (``:app`` may be omitted) and return the app.

    Raises:
        ImportError / AttributeError: with the target named.
    """
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    try:
        app = getattr(module, attr or "app")
    except AttributeError:
        raise AttributeError(
            f"Module {module_name!r} has no attribute {attr or 'app'!r}."
        ) from None
    if callable(app) and not hasattr(app, "router"):
        app = app()  # an app factory
    return app  # type: ignore[no-any-return]
