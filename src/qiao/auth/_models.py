"""The auth models: ``Permission``, ``Group``, ``AbstractUser`` and ``AnonymousUser``.

``AbstractUser`` holds the columns and behaviour of a user; the default concrete ``User`` lives
in ``qiao.auth.models`` and is imported only when ``AUTH_USER_MODEL`` names it, so a project
with its own user model has no ``auth_user`` table. Each concrete user class gets its own two
association tables, named after its table: ``<table>_groups`` and ``<table>_permissions``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import Column, DateTime, ForeignKey, String, Table, UniqueConstraint, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import true as sa_true
from sqlalchemy.ext.asyncio import AsyncAttrs, async_object_session
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, object_session, relationship
from sqlalchemy.sql import expression

from qiao.auth._hashers import PasswordHashers, check_password, is_password_usable, make_password
from qiao.db import Model

if TYPE_CHECKING:
    from sqlalchemy.sql import CompoundSelect

__all__ = ["AbstractUser", "AnonymousUser", "Group", "Permission"]

_PERM_CACHE = "_qiao_permissions"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Permission(Model):
    """A permission: ``app_label`` and ``codename`` make ``"blog.add_post"``.

    Rows for ``add_``, ``change_``, ``delete_`` and ``view_`` of every model are created by
    ``qiao db migrate`` and ``db.create_all()`` (see ``create_permissions``).
    """

    __tablename__ = "auth_permission"
    __table_args__ = (UniqueConstraint("app_label", "codename"),)
    __app_label__ = "auth"

    app_label: Mapped[str] = mapped_column(String(100))
    codename: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(255))

    @property
    def key(self) -> str:
        """``"app_label.codename"``, the string ``has_perm`` takes."""
        return f"{self.app_label}.{self.codename}"

    def __repr__(self) -> str:
        return f"<Permission {self.app_label}.{self.codename}>"


group_permissions = Table(
    "auth_group_permissions",
    Model.metadata,
    Column("group_id", ForeignKey("auth_group.id", ondelete="CASCADE"), primary_key=True),
    Column("permission_id", ForeignKey("auth_permission.id", ondelete="CASCADE"), primary_key=True),
)


class Group(Model):
    """A named set of permissions; a user has the permissions of each of its groups."""

    __tablename__ = "auth_group"
    __app_label__ = "auth"

    name: Mapped[str] = mapped_column(String(150), unique=True)
    permissions: Mapped[list[Permission]] = relationship(secondary=group_permissions)

    def __repr__(self) -> str:
        return f"<Group {self.name!r}>"


def _link_table(cls: Any, suffix: str, target: str, column: str) -> Table:
    """The association table between the concrete user class ``cls`` and ``target``."""
    user_table: str = cls.__tablename__
    name = f"{user_table}_{suffix}"
    existing = Model.metadata.tables.get(name)
    if existing is not None:
        return existing
    return Table(
        name,
        Model.metadata,
        Column("user_id", ForeignKey(f"{user_table}.id", ondelete="CASCADE"), primary_key=True),
        Column(column, ForeignKey(f"{target}.id", ondelete="CASCADE"), primary_key=True),
    )


class AbstractUser(AsyncAttrs, Model):
    """The columns and behaviour of a user; subclass it for your own user model.

    ::

        class Member(AbstractUser):
            __tablename__ = "member"
            bio: Mapped[str] = mapped_column(Text, default="")

        app.config["AUTH_USER_MODEL"] = "myapp.models:Member"

    Class attributes:
        USERNAME_FIELD: the column people log in with (``"username"``; ``"email"`` works
            when it is unique).
        EMAIL_FIELD: the column password reset e-mails go to.

    A new user's password is unusable until ``set_password``; ``is_active`` defaults to True.
    """

    __abstract__ = True
    USERNAME_FIELD: ClassVar[str] = "username"
    EMAIL_FIELD: ClassVar[str] = "email"

    username: Mapped[str] = mapped_column(String(150), unique=True)
    email: Mapped[str] = mapped_column(String(254), default="", server_default="", index=True)
    password: Mapped[str] = mapped_column(String(255))
    first_name: Mapped[str] = mapped_column(String(150), default="", server_default="")
    last_name: Mapped[str] = mapped_column(String(150), default="", server_default="")
    is_active: Mapped[bool] = mapped_column(default=True, server_default=sa_true())
    is_staff: Mapped[bool] = mapped_column(default=False, server_default=expression.false())
    is_superuser: Mapped[bool] = mapped_column(default=False, server_default=expression.false())
    last_login: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    date_joined: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_utcnow)

    @declared_attr
    def groups(cls) -> Mapped[list[Group]]:
        """The user's groups (association table ``<table>_groups``)."""
        return relationship(Group, secondary=_link_table(cls, "groups", "auth_group", "group_id"))

    @declared_attr
    def user_permissions(cls) -> Mapped[list[Permission]]:
        """Permissions given to this user directly (table ``<table>_permissions``)."""
        table = _link_table(cls, "permissions", "auth_permission", "permission_id")
        return relationship(Permission, secondary=table)

    def __init__(self, **kwargs: Any) -> None:
        for key, value in (
            ("is_active", True),
            ("is_staff", False),
            ("is_superuser", False),
            ("email", ""),
            ("first_name", ""),
            ("last_name", ""),
        ):
            kwargs.setdefault(key, value)
        if "password" not in kwargs:
            kwargs["password"] = make_password(None)
        kwargs.setdefault("date_joined", _utcnow())
        super().__init__(**kwargs)

    # -- identity -------------------------------------------------------------------------------
    @property
    def is_authenticated(self) -> bool:
        """Always True for a user (False for ``AnonymousUser``): use it in templates."""
        return True

    @property
    def is_anonymous(self) -> bool:
        """Always False for a user."""
        return False

    def get_username(self) -> str:
        """The value of ``USERNAME_FIELD``."""
        return str(getattr(self, self.USERNAME_FIELD))

    def get_full_name(self) -> str:
        """First and last name, or the username when both are empty."""
        full = f"{self.first_name} {self.last_name}".strip()
        return full or self.get_username()

    def __str__(self) -> str:
        return self.get_username()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.__dict__.get('username')!r}>"

    # -- passwords ------------------------------------------------------------------------------
    def set_password(self, password: str | None, hashers: PasswordHashers | None = None) -> None:
        """Hash and set ``password`` (``None``: unusable); saved with the session's commit.

        Changing the password logs the user out of their other sessions.
        """
        self.password = make_password(password, hashers)

    def check_password(self, password: str, hashers: PasswordHashers | None = None) -> bool:
        """Whether ``password`` is this user's; upgrades an outdated hash on the object (saved
        with the session's commit)."""

        def upgrade(encoded: str) -> None:
            self.password = encoded

        return check_password(password, self.password, upgrade, hashers)

    def set_unusable_password(self) -> None:
        """No password will log this user in (accounts that sign in another way)."""
        self.password = make_password(None)

    def has_usable_password(self) -> bool:
        """False after ``set_unusable_password`` (and for a new user without one)."""
        return is_password_usable(self.password)

    # -- permissions ----------------------------------------------------------------------------
    def _permissions_query(self) -> CompoundSelect[str, str]:
        mapper = sa_inspect(type(self))
        direct_table = mapper.relationships["user_permissions"].secondary
        groups_table = mapper.relationships["groups"].secondary
        assert direct_table is not None
        assert groups_table is not None
        columns = (Permission.app_label, Permission.codename)
        direct = (
            select(*columns)
            .join(direct_table, direct_table.c.permission_id == Permission.id)
            .where(direct_table.c.user_id == self.id)
        )
        via_groups = (
            select(*columns)
            .join(group_permissions, group_permissions.c.permission_id == Permission.id)
            .join(groups_table, groups_table.c.group_id == group_permissions.c.group_id)
            .where(groups_table.c.user_id == self.id)
        )
        return direct.union(via_groups)

    def get_all_permissions(self) -> frozenset[str]:
        """Every ``"app_label.codename"`` the user has, directly or through groups; loaded
        with one query on first use and kept on the object.

        Superusers are not given every row here: ``has_perm`` answers True for them.

        Raises:
            RuntimeError: the permissions are not loaded and the user belongs to an async
                session (``await user.aget_all_permissions()`` first) or to none.
        """
        cached: frozenset[str] | None = self.__dict__.get(_PERM_CACHE)
        if cached is not None:
            return cached
        if not self.is_active:
            return frozenset()
        if async_object_session(self) is not None:
            raise RuntimeError(
                "This user was loaded by an async session: load the permissions with "
                "await user.aget_all_permissions() (or use await user.ahas_perm(...))."
            )
        session = object_session(self)
        if session is None:
            raise RuntimeError(
                f"{self!r} is not attached to a database session, so its permissions cannot "
                "be loaded; load the user with request.db (request.user does)."
            )
        rows = session.execute(self._permissions_query())
        perms = frozenset(f"{label}.{codename}" for label, codename in rows)
        self.__dict__[_PERM_CACHE] = perms
        return perms

    async def aget_all_permissions(self) -> frozenset[str]:
        """``get_all_permissions`` for a user loaded by an ``AsyncSession`` (``request.adb``)."""
        cached: frozenset[str] | None = self.__dict__.get(_PERM_CACHE)
        if cached is not None:
            return cached
        if not self.is_active:
            return frozenset()
        session = async_object_session(self)
        if session is None:
            return self.get_all_permissions()
        rows = await session.execute(self._permissions_query())
        perms = frozenset(f"{label}.{codename}" for label, codename in rows)
        self.__dict__[_PERM_CACHE] = perms
        return perms

    def forget_permissions(self) -> None:
        """Drop the loaded permissions (after changing the user's groups or permissions)."""
        self.__dict__.pop(_PERM_CACHE, None)

    def has_perm(self, perm: str) -> bool:
        """Whether the user has ``perm`` (``"blog.add_post"``): always for an active superuser,
        never for an inactive user. See ``get_all_permissions`` for the loading rules."""
        if not self.is_active:
            return False
        if self.is_superuser:
            return True
        return perm in self.get_all_permissions()

    def has_perms(self, perms: list[str] | tuple[str, ...]) -> bool:
        """Whether the user has every permission in ``perms``."""
        return all(self.has_perm(perm) for perm in perms)

    async def ahas_perm(self, perm: str) -> bool:
        """``has_perm`` for a user loaded by an ``AsyncSession``."""
        if self.is_active and not self.is_superuser:
            await self.aget_all_permissions()
        return self.has_perm(perm)


class AnonymousUser:
    """``request.user`` when nobody is logged in: not authenticated, no permissions."""

    id = None
    pk = None
    username = ""
    email = ""
    is_active = False
    is_staff = False
    is_superuser = False
    is_authenticated = False
    is_anonymous = True

    def get_username(self) -> str:
        """``""``."""
        return ""

    def get_all_permissions(self) -> frozenset[str]:
        """No permissions."""
        return frozenset()

    async def aget_all_permissions(self) -> frozenset[str]:
        """No permissions."""
        return frozenset()

    def has_perm(self, perm: str) -> bool:
        """Always False."""
        return False

    def has_perms(self, perms: list[str] | tuple[str, ...]) -> bool:
        """Always False."""
        return False

    async def ahas_perm(self, perm: str) -> bool:
        """Always False."""
        return False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AnonymousUser)

    def __hash__(self) -> int:
        return 1

    def __str__(self) -> str:
        return "AnonymousUser"

    def __repr__(self) -> str:
        return "<AnonymousUser>"
