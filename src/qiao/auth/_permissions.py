"""Permission rows for every model, created after migrations (Django's ``post_migrate``).

Each mapped ``Model`` subclass gets ``add_``, ``change_``, ``delete_`` and ``view_``
permissions, named ``"<app_label>.<action>_<model>"``: the app label is the class's
``__app_label__`` or the top package of its module (``blog.models.Post`` -> ``blog``), the model
name its class name in lower case (``BlogPost`` -> ``blogpost``, as Django). A model adds its
own with ``__permissions__ = [("publish_post", "Can publish posts")]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qiao.auth._models import Permission
from qiao.db import Model
from qiao.db._model import table_name

__all__ = ["DEFAULT_ACTIONS", "app_label", "create_permissions", "model_permissions"]

#: The permissions every model gets.
DEFAULT_ACTIONS = ("add", "change", "delete", "view")


def app_label(model: type[Any]) -> str:
    """The app label of ``model``: ``__app_label__``, else its module's top package."""
    label = getattr(model, "__app_label__", None)
    return str(label) if label else model.__module__.split(".", 1)[0]


def model_permissions(model: type[Any]) -> Iterator[tuple[str, str, str]]:
    """``(app_label, codename, name)`` for each permission of ``model``."""
    label = app_label(model)
    model_name = model.__name__.lower()
    verbose = table_name(model.__name__).replace("_", " ")
    for action in DEFAULT_ACTIONS:
        yield label, f"{action}_{model_name}", f"Can {action} {verbose}"
    for codename, name in getattr(model, "__permissions__", ()):
        yield label, codename, name


def create_permissions(session: Session) -> int:
    """Insert the permission rows that are missing for every mapped model; the database
    battery runs it after ``qiao db migrate`` and ``db.create_all()``.

    Returns:
        how many rows were inserted.
    """
    wanted: dict[tuple[str, str], str] = {}
    for mapper in Model.registry.mappers:
        for label, codename, name in model_permissions(mapper.class_):
            wanted.setdefault((label, codename), name)
    rows = session.execute(select(Permission.app_label, Permission.codename))
    existing = {(label, codename) for label, codename in rows}
    missing = [key for key in wanted if key not in existing]
    session.add_all(
        Permission(app_label=label, codename=codename, name=wanted[label, codename])
        for label, codename in sorted(missing)
    )
    session.flush()
    return len(missing)
