"""Finding models: ``models`` modules next to the app and each blueprint (Django's convention)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qiao.app import App

__all__ = ["discover_models"]


def _scaffolds(scaffold: Any) -> list[Any]:
    found = [scaffold]
    for blueprint, _ in scaffold.blueprints:
        found += _scaffolds(blueprint)
    return found


def discover_models(app: App) -> list[str]:
    """Import ``<package>.models`` for the app's package and each blueprint's, where it exists,
    so every model is in ``Model.metadata`` (for migrations and ``create_all``).

    Returns:
        the module names imported.

    Raises:
        ImportError: a ``models`` module exists but fails to import (the error is the user's).
    """
    imported: list[str] = []
    for scaffold in _scaffolds(app):
        name: str = scaffold.import_name
        candidates = [f"{name}.models"]
        if "." in name:
            candidates.append(name.rsplit(".", 1)[0] + ".models")
        else:
            module = sys.modules.get(name)
            file = getattr(module, "__file__", "") or ""
            if file and not file.endswith("__init__.py"):
                candidates.append("models")  # app.py and models.py side by side (qiao new)
        for candidate in candidates:
            if candidate in imported:
                continue
            try:
                spec = importlib.util.find_spec(candidate)
            except (ImportError, ValueError):
                spec = None
            if spec is not None:
                importlib.import_module(candidate)
                imported.append(candidate)
    return imported
