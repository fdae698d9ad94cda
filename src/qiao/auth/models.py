"""The default user model, ``User`` (table ``auth_user``).

Imported only when ``AUTH_USER_MODEL`` names it (the default, ``"qiao.auth.models:User"``), so
a project with its own user model (a subclass of ``qiao.auth.AbstractUser``) has no
``auth_user`` table in its migrations.
"""

from __future__ import annotations

from qiao.auth._models import AbstractUser

__all__ = ["User"]


class User(AbstractUser):
    """A user: username, e-mail, password hash, names, flags, groups and permissions."""

    __tablename__ = "auth_user"
    __app_label__ = "auth"
