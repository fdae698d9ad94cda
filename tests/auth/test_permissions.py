"""Permissions: rows made by create_all and the after-migrate hook, has_perm through users,
groups and superusers, async loading, and custom user models."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import String, Uuid, select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Mapped, Session, mapped_column

from qiao import ImproperlyConfigured
from qiao.auth import AbstractUser, Group, Permission, create_permissions, get_user_model
from qiao.auth.models import User
from qiao.db import Model
from tests.auth._support import FAST, PASSWORD, AuthEnv, log_in
from tests.http._support import Serve


class AuthTestArticle(Model):
    """A model of a "blog" app, with a permission of its own."""

    __app_label__ = "blog"
    __permissions__ = (("publish_authtestarticle", "Can publish articles"),)
    title: Mapped[str] = mapped_column(String(100))


class AuthTestMember(AbstractUser):
    """A custom user model: a UUID key and an extra column."""

    __tablename__ = "auth_test_member"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    nickname: Mapped[str] = mapped_column(String(50), default="")


MEMBER_MODEL = f"{__name__}:AuthTestMember"


def codenames(session: Session) -> set[str]:
    rows = session.execute(select(Permission.app_label, Permission.codename))
    return {f"{label}.{codename}" for label, codename in rows}


def test_create_all_makes_permissions_for_every_model(env: AuthEnv) -> None:
    app = env.app()
    db = app.extensions["db"]
    db.create_all()  # compiles the app, registering the hook
    with db.session() as session:
        perms = codenames(session)
        assert {
            "blog.add_authtestarticle",
            "blog.change_authtestarticle",
            "blog.delete_authtestarticle",
            "blog.view_authtestarticle",
            "blog.publish_authtestarticle",
            "auth.add_user",
            "auth.view_group",
            "auth.change_permission",
            "tests.add_authtestmember",  # a model's top package is its app label
        } <= perms
        names = {p.codename: p.name for p in session.scalars(select(Permission))}
        assert names["add_authtestarticle"] == "Can add auth test article"
        assert names["publish_authtestarticle"] == "Can publish articles"
        assert create_permissions(session) == 0  # only missing rows are added


def test_the_hook_runs_after_migrate(env: AuthEnv) -> None:
    app = env.app()
    db = app.extensions["db"]
    app.compile()
    with db.session() as session:
        session.execute(Permission.__table__.delete())
    db.run_after_migrate()  # what `qiao db migrate` calls after upgrading
    with db.session() as session:
        assert "auth.add_user" in codenames(session)


def grant(env: AuthEnv, username: str, *perms: str, group: str | None = None) -> None:
    with env.session() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        rows = []
        for perm in perms:
            label, codename = perm.split(".")
            rows.append(
                session.scalars(
                    select(Permission).where(
                        Permission.app_label == label, Permission.codename == codename
                    )
                ).one()
            )
        if group is None:
            user.user_permissions.extend(rows)
        else:
            user.groups.append(Group(name=group, permissions=rows))


def load(session: Session, username: str) -> User:
    return session.scalars(select(User).where(User.username == username)).one()


def test_direct_group_and_superuser_permissions(env: AuthEnv) -> None:
    env.user("ada")
    env.user("bob")
    env.user("root", is_superuser=True)
    env.user("gone", is_superuser=True, is_active=False)
    grant(env, "ada", "blog.add_authtestarticle")
    grant(env, "bob", "blog.change_authtestarticle", "blog.view_authtestarticle", group="editors")
    with env.session() as session:
        ada, bob = load(session, "ada"), load(session, "bob")
        assert ada.has_perm("blog.add_authtestarticle")
        assert not ada.has_perm("blog.change_authtestarticle")
        assert ada.get_all_permissions() == {"blog.add_authtestarticle"}
        assert bob.has_perms(["blog.change_authtestarticle", "blog.view_authtestarticle"])
        assert not bob.has_perms(["blog.change_authtestarticle", "blog.add_authtestarticle"])
        assert load(session, "root").has_perm("anything.at_all")
        assert not load(session, "gone").has_perm("blog.view_authtestarticle")
        assert load(session, "gone").get_all_permissions() == frozenset()


def test_permissions_are_cached_until_forgotten(env: AuthEnv) -> None:
    env.user("ada")
    with env.session() as session:
        ada = load(session, "ada")
        assert not ada.has_perm("blog.add_authtestarticle")
        grant(env, "ada", "blog.add_authtestarticle")
        assert not ada.has_perm("blog.add_authtestarticle")  # cached
        ada.forget_permissions()
        assert ada.has_perm("blog.add_authtestarticle")


def test_a_detached_user_cannot_load_permissions(env: AuthEnv) -> None:
    user = env.user("ada")
    with pytest.raises(RuntimeError, match="not attached"):
        user.has_perm("blog.add_authtestarticle")


def async_url(env: AuthEnv) -> str:
    if env.kind == "sqlite":
        return env.url.replace("sqlite://", "sqlite+aiosqlite://")
    return env.url.replace("postgresql://", "postgresql+psycopg://")


def test_async_loading(env: AuthEnv) -> None:
    env.user("ada")
    grant(env, "ada", "blog.view_authtestarticle", group="readers")

    async def check() -> None:
        engine = create_async_engine(async_url(env))
        try:
            async with AsyncSession(engine) as session:
                ada = (await session.scalars(select(User).where(User.username == "ada"))).one()
                with pytest.raises(RuntimeError, match="aget_all_permissions"):
                    ada.has_perm("blog.view_authtestarticle")
                assert await ada.ahas_perm("blog.view_authtestarticle")
                assert await ada.aget_all_permissions() == {"blog.view_authtestarticle"}
                assert ada.has_perm("blog.view_authtestarticle")  # loaded now
                groups = await ada.awaitable_attrs.groups
                assert [g.name for g in groups] == ["readers"]
        finally:
            await engine.dispose()

    asyncio.run(check())


def test_permission_and_group_reprs() -> None:
    permission = Permission(app_label="blog", codename="add_post", name="Can add post")
    assert permission.key == "blog.add_post"
    assert repr(permission) == "<Permission blog.add_post>"
    assert repr(Group(name="editors")) == "<Group 'editors'>"


def test_user_defaults_and_names() -> None:
    user = User(username="ada", first_name="Ada", last_name="Lovelace")
    assert user.is_active
    assert not user.is_staff
    assert not user.is_superuser
    assert not user.has_usable_password()
    assert user.get_full_name() == "Ada Lovelace"
    assert User(username="bob").get_full_name() == "bob"
    assert str(user) == "ada"
    assert repr(user) == "<User 'ada'>"
    assert user.is_authenticated
    assert not user.is_anonymous
    user.set_password("pw", FAST)
    assert user.check_password("pw", FAST)
    user.set_unusable_password()
    assert not user.check_password("pw", FAST)


def test_custom_user_models_get_their_own_association_tables(env: AuthEnv) -> None:
    tables = Model.metadata.tables
    assert {"auth_test_member_groups", "auth_test_member_permissions"} <= set(tables)
    foreign = {fk.column.table.name for fk in tables["auth_test_member_groups"].foreign_keys}
    assert foreign == {"auth_test_member", "auth_group"}
    app = env.app(AUTH_USER_MODEL=MEMBER_MODEL)
    assert get_user_model(app) is AuthTestMember


def test_a_custom_user_model_logs_in(env: AuthEnv, serve: Serve) -> None:
    with env.session() as session:
        member = AuthTestMember(username="mia", nickname="M")
        member.set_password(PASSWORD, FAST)
        session.add(member)
        session.flush()
        permission = session.scalars(
            select(Permission).where(Permission.codename == "view_authtestarticle")
        ).one()
        member.user_permissions.append(permission)
    app = env.app(AUTH_USER_MODEL=MEMBER_MODEL)

    @app.get("/me")
    def me(request: Any) -> dict[str, Any]:
        user = request.user
        return {"nick": user.nickname, "view": user.has_perm("blog.view_authtestarticle")}

    client = serve(app)
    log_in(client, "mia")
    assert client.get("/me").json() == {"nick": "M", "view": True}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("no.such.module:User", "cannot be imported"),
        (f"{__name__}:Nope", "cannot be imported"),
        (f"{__name__}:AuthTestArticle", "is not a subclass"),
        ("qiao.auth:AbstractUser", "is abstract"),
    ],
)
def test_bad_user_model_settings(sqlite_env: AuthEnv, value: str, message: str) -> None:
    app = sqlite_env.app(AUTH_USER_MODEL=value)
    with pytest.raises(ImproperlyConfigured, match=f"qiao.E507: .*{message}"):
        app.compile()


def test_the_user_class_is_given_directly_too(sqlite_env: AuthEnv) -> None:
    app = sqlite_env.app(AUTH_USER_MODEL=AuthTestMember)
    assert get_user_model(app) is AuthTestMember
