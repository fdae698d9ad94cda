"""Shared fixtures. Tests build small apps through the public API; see ``new_app``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import qiao

pytest_plugins = ["pytester"]


@pytest.fixture
def new_app() -> Callable[..., qiao.App]:
    """Make an app with a test SECRET_KEY: ``app = new_app(DEBUG=True)``."""

    def make(**config: Any) -> qiao.App:
        return qiao.App(__name__, config={"SECRET_KEY": "test-secret", **config})

    return make
