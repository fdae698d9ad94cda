"""The declarative base: ``Model`` (table names, an ``id`` key, constraint names) and mixins."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, TypeDecorator, func
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

__all__ = ["Model", "TimestampMixin", "UTCDateTime", "table_name"]

#: Constraint names Alembic can find again, so SQLite batch migrations can alter them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def table_name(class_name: str) -> str:
    """``BlogPost`` -> ``blog_post``; ``HTTPLog`` -> ``http_log``."""
    return _CAMEL.sub("_", class_name).lower()


def _utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that reads back timezone-aware on every database.

    PostgreSQL keeps the zone (``timestamptz``); SQLite has no datetime type and SQLAlchemy
    stores the text without it, so there an aware value is stored as naive UTC and read back
    as UTC. The schema is that of ``DateTime(timezone=True)`` (migrations write it so).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None and dialect.name == "sqlite":
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if isinstance(value, datetime) and value.tzinfo is None and dialect.name == "sqlite":
            return value.replace(tzinfo=UTC)
        return value  # type: ignore[no-any-return]


class Model(DeclarativeBase):
    """The base of your models: plain SQLAlchemy 2 declarative classes, with conventions.

    - the table is named after the class in snake case (``BlogPost`` -> ``blog_post``; set
      ``__tablename__`` to choose);
    - an integer ``id`` primary key (declare your own ``id`` to change it);
    - constraint names follow a convention, so migrations can alter them on SQLite too.

    ::

        class Post(Model, TimestampMixin):
            title: Mapped[str] = mapped_column(String(200))
    """

    __abstract__ = True
    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    id: Mapped[int] = mapped_column(primary_key=True)

    @declared_attr.directive
    def __tablename__(cls) -> str:
        return table_name(cls.__name__)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={self.__dict__.get('id')!r}>"


class TimestampMixin:
    """``created_at`` and ``updated_at`` columns (timezone-aware, UTC), kept by SQLAlchemy."""

    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=_utcnow, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=_utcnow, onupdate=_utcnow, server_default=func.now()
    )
