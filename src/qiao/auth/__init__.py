"""The auth battery: users, groups and permissions, password hashing, login and logout.

```python
import qiao
from qiao.auth import Auth, login_required
from qiao.db import Database
from qiao.sessions import Sessions

app = qiao.App(__name__, config={"SECRET_KEY": "x", "AUTH_VIEWS": False})
Database(app)
Sessions(app)
Auth(app)

@app.get("/me")
@login_required
def me(request):
    return {"username": request.user.username}
```

``request.user`` is the logged-in user (``AnonymousUser`` otherwise); async views use
``await aget_user(request)``. Needs ``pip install 'qiao[db,auth]'``. See ``docs/auth.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qiao.auth._battery import Auth, get_user_model
from qiao.auth._decorators import login_required, permission_required, staff_required
from qiao.auth._forms import (
    LoginForm,
    PasswordChangeForm,
    PasswordResetForm,
    SetPasswordForm,
    SignupForm,
)
from qiao.auth._hashers import (
    Argon2Hasher,
    Hasher,
    PasswordHashers,
    PBKDF2SHA256Hasher,
    ScryptHasher,
    check_password,
    is_password_usable,
    make_password,
)
from qiao.auth._login import (
    aauthenticate,
    aget_user,
    alogin,
    alogout,
    authenticate,
    get_user,
    login,
    logout,
    update_session_auth_hash,
)
from qiao.auth._models import AbstractUser, AnonymousUser, Group, Permission
from qiao.auth._permissions import create_permissions
from qiao.auth._throttle import LoginThrottled, MemoryThrottleStore, RedisThrottleStore
from qiao.auth._tokens import check_reset_token, make_reset_token
from qiao.auth._validators import (
    CommonPasswordValidator,
    MinimumLengthValidator,
    NumericPasswordValidator,
    PasswordValidator,
    UserAttributeSimilarityValidator,
    validate_password,
)
from qiao.auth._views import is_safe_redirect

if TYPE_CHECKING:
    from qiao.auth.models import User

__all__ = [
    "AbstractUser",
    "AnonymousUser",
    "Argon2Hasher",
    "Auth",
    "CommonPasswordValidator",
    "Group",
    "Hasher",
    "LoginForm",
    "LoginThrottled",
    "MemoryThrottleStore",
    "MinimumLengthValidator",
    "NumericPasswordValidator",
    "PBKDF2SHA256Hasher",
    "PasswordChangeForm",
    "PasswordHashers",
    "PasswordResetForm",
    "PasswordValidator",
    "Permission",
    "RedisThrottleStore",
    "ScryptHasher",
    "SetPasswordForm",
    "SignupForm",
    "User",
    "UserAttributeSimilarityValidator",
    "aauthenticate",
    "aget_user",
    "alogin",
    "alogout",
    "authenticate",
    "check_password",
    "check_reset_token",
    "create_permissions",
    "get_user",
    "get_user_model",
    "is_password_usable",
    "is_safe_redirect",
    "login",
    "login_required",
    "logout",
    "make_password",
    "make_reset_token",
    "permission_required",
    "staff_required",
    "update_session_auth_hash",
    "validate_password",
]


def __getattr__(name: str) -> Any:
    # NOTE: the default User is imported on first use only, so a project whose
    # AUTH_USER_MODEL is its own class never gets an ``auth_user`` table in its metadata.
    if name == "User":
        from qiao.auth.models import User

        return User
    raise AttributeError(f"module 'qiao.auth' has no attribute {name!r}")
