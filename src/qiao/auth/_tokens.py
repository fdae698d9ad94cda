"""Password reset tokens: signed, expiring, and spent once the password changes.

A token is ``Signer(salt="qiao.auth.password-reset").dumps([user_id, state])``, where ``state``
is a digest of the user's password hash, last login and e-mail address (as Django's token). Any
change to those (setting the new password, logging in) makes every earlier token invalid; the
signature's timestamp makes it expire after ``AUTH_PASSWORD_RESET_TIMEOUT`` seconds.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC
from typing import TYPE_CHECKING, Any

from qiao.signing import BadSignature, Signer

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from qiao.app import App
    from qiao.auth._models import AbstractUser

__all__ = ["RESET_SALT", "check_reset_token", "make_reset_token"]

#: The signer's salt: a reset token verifies for nothing else.
RESET_SALT = "qiao.auth.password-reset"


def _state(user: AbstractUser) -> str:
    login = user.last_login
    stamp = ""
    if login is not None:
        # NOTE: SQLite gives back naive datetimes and drops nothing else; normalise so the
        # digest is the same before and after a round trip through any database.
        stamp = str(int(login.replace(tzinfo=login.tzinfo or UTC).timestamp()))
    email = str(getattr(user, user.EMAIL_FIELD, "") or "")
    value = f"{user.id}|{user.password}|{stamp}|{email}"
    # A digest, not the hash itself: the token is readable by whoever holds it.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _signer(app: App) -> Signer:
    return Signer.from_app(app, salt=RESET_SALT)


def make_reset_token(app: App, user: AbstractUser) -> str:
    """A URL-safe token that lets ``user`` set a new password, once, for a while."""
    return _signer(app).dumps([user.id if isinstance(user.id, int) else str(user.id), _state(user)])


def check_reset_token(app: App, session: Session, token: str, max_age: int) -> AbstractUser | None:
    """The user ``token`` was made for, if it is authentic, younger than ``max_age`` seconds,
    and the user's password, last login and e-mail have not changed since; else None."""
    from qiao.auth._battery import get_auth
    from qiao.auth._login import _primary_key

    try:
        payload: Any = _signer(app).loads(token, max_age=max_age)
    except BadSignature:
        return None
    if not (isinstance(payload, list) and len(payload) == 2 and isinstance(payload[1], str)):
        return None
    model = get_auth(app).user_model
    pk = _primary_key(model, payload[0])
    user = session.get(model, pk) if pk is not None else None
    if user is None or not user.is_active:
        return None
    return user if hmac.compare_digest(_state(user), payload[1]) else None
