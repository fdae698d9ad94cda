"""qiao's pytest plugin: the ``app`` and ``client`` fixtures (registered by entry point)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from qiao.app import App
    from qiao.testing import TestClient


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("qiao_app", "The qiao app for the `app` fixture, as 'module:attribute'.")


@pytest.fixture
def app(request: pytest.FixtureRequest) -> App:
    """The app under test: override this fixture, or set ``qiao_app`` in the ini options."""
    from qiao.testing import load_app

    target = request.config.getini("qiao_app")
    if not target:
        raise pytest.UsageError(
            "The 'client' fixture needs an app: define an 'app' fixture in conftest.py, or set "
            "qiao_app = 'module:app' under [tool.pytest.ini_options]."
        )
    return load_app(str(target))


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    """A ``TestClient`` (an ``httpx.Client``) for the ``app`` fixture."""
    from qiao.testing import TestClient

    with TestClient(app) as test_client:
        yield test_client
