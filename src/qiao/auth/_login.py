"""Who is logged in: ``authenticate``, ``login``, ``logout``, ``request.user``, ``aget_user``.

The session holds the user's id and a *verifier*: an HMAC of the user's password hash keyed with
``SECRET_KEY`` (Django's ``HASH_SESSION_KEY``). When the password changes, every other session's
verifier stops matching and that session is logged out; ``update_session_auth_hash`` keeps the
current one logged in.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.orm import object_session

from qiao.auth._battery import Auth, get_auth
from qiao.auth._models import AbstractUser, AnonymousUser

if TYPE_CHECKING:
    from qiao.http.request import Request

__all__ = [
    "HASH_SESSION_KEY",
    "SESSION_KEY",
    "aauthenticate",
    "aget_user",
    "alogin",
    "alogout",
    "authenticate",
    "get_user",
    "login",
    "logout",
    "update_session_auth_hash",
]

#: The session key of the logged-in user's id.
SESSION_KEY = "_auth_user_id"
#: The session key of the password-derived verifier.
HASH_SESSION_KEY = "_auth_user_hash"
_VERIFIER_SALT = b"qiao.auth.session-verifier"
T = TypeVar("T")


# -- the session verifier -------------------------------------------------------------------------
def _verifier(secret: str | bytes, password: str) -> str:
    key = hashlib.sha256(_VERIFIER_SALT + (secret.encode() if isinstance(secret, str) else secret))
    return hmac.new(key.digest(), password.encode(), hashlib.sha256).hexdigest()


def session_auth_hash(request: Request, user: AbstractUser) -> str:
    """The verifier of ``user``'s sessions: it changes when the password does."""
    return _verifier(request.app.config["SECRET_KEY"] or "", user.password)


def _verify(request: Request, stored: Any, user: AbstractUser) -> bool | None:
    """True: matches the current key; None: matches an old key (``SECRET_KEY_FALLBACKS``);
    False: does not match."""
    if not isinstance(stored, str):
        return False
    if hmac.compare_digest(stored, session_auth_hash(request, user)):
        return True
    for old in request.app.config.get("SECRET_KEY_FALLBACKS") or ():
        if hmac.compare_digest(stored, _verifier(old, user.password)):
            return None
    return False


def _session_id(user: AbstractUser) -> Any:
    pk = user.id
    return pk if isinstance(pk, (int, str)) else str(pk)


def _primary_key(model: type[AbstractUser], raw: Any) -> Any:
    try:
        python_type = sa_inspect(model).primary_key[0].type.python_type
        return raw if isinstance(raw, python_type) else python_type(raw)
    except (TypeError, ValueError, NotImplementedError, AttributeError):
        return None


def _checked(request: Request, user: AbstractUser | None) -> AbstractUser | AnonymousUser:
    """``user`` if it may stay logged in; else ``AnonymousUser`` (flushing a stale session)."""
    if user is None or not user.is_active:
        return AnonymousUser()
    session = request.session
    match = _verify(request, session.get(HASH_SESSION_KEY), user)
    if match is False:
        # SECURITY: the password changed since this session logged in (or the verifier was
        # tampered with): end the session, as Django does.
        session.flush()
        return AnonymousUser()
    if match is None:  # verified with an old SECRET_KEY: re-sign with the current one
        session[HASH_SESSION_KEY] = session_auth_hash(request, user)
    return user


# -- request.user ---------------------------------------------------------------------------------
def get_user(request: Request) -> AbstractUser | AnonymousUser:
    """The logged-in user, loaded with ``request.db`` (``request.user`` calls it once per
    request); ``AnonymousUser`` when nobody is, or the session is no longer valid.

    Raises:
        RuntimeError: called on the event loop under ASGI (an async view): use
            ``await aget_user(request)`` there, which does not block the loop.
    """
    if request.scope is not None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError(
                "request.user loads the user with a blocking database query, and this code runs "
                "on the event loop (an async view or hook under ASGI). Call "
                "user = await qiao.auth.aget_user(request) first (request.user is then set), "
                "or mark a sync hook with qiao.extensions.blocking."
            )
    auth = get_auth(request.app)
    raw = request.session.get(SESSION_KEY)
    if raw is None:
        return AnonymousUser()
    pk = _primary_key(auth.user_model, raw)
    user = request.db.get(auth.user_model, pk) if pk is not None else None
    return _checked(request, user)


async def aget_user(request: Request) -> AbstractUser | AnonymousUser:
    """The logged-in user for async views, loaded with ``request.adb``; sets ``request.user``
    so later reads (templates) cost nothing."""
    cached = vars(request).get("user")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    auth = get_auth(request.app)
    await request.session.aload()
    raw = request.session.get(SESSION_KEY)
    user: AbstractUser | AnonymousUser = AnonymousUser()
    if raw is not None:
        pk = _primary_key(auth.user_model, raw)
        found = await request.adb.get(auth.user_model, pk) if pk is not None else None
        user = _checked(request, found)
    setattr(request, "user", user)  # noqa: B010 - the lazy attribute's cache slot
    return user


# -- authenticate ---------------------------------------------------------------------------------
def _lookup(auth: Auth, username: str) -> Any:
    model = auth.user_model
    return select(model).where(getattr(model, model.USERNAME_FIELD) == username).limit(1)


def _check(auth: Auth, user: AbstractUser | None, password: str) -> tuple[bool, str | None]:
    """Run the hasher (always: unknown users too) and say ``(ok, new_hash_or_None)``."""
    if user is None or not user.has_usable_password():
        auth.hashers.verify_dummy(password)
        return False, None
    ok, must_update = auth.hashers.verify(password, user.password)
    return ok and user.is_active, auth.hashers.make(password) if ok and must_update else None


def authenticate(
    request: Request, username: str | None = None, password: str | None = None
) -> AbstractUser | None:
    """The user whose credentials these are, or None; does not log them in.

    Runs the password hasher even for an unknown username (no timing difference tells which
    accounts exist), refuses inactive users, upgrades an outdated password hash (saved when
    the request commits), and counts failures for throttling.

    Raises:
        LoginThrottled: too many failures for this username or client address (a 429).
    """
    if username is None or password is None:
        return None
    auth = get_auth(request.app)
    address = request.remote_addr
    auth.throttle.check(username, address)
    user = request.db.scalars(_lookup(auth, username)).first()
    ok, new_hash = _check(auth, user, password)
    return _conclude(auth, user, username, address, ok, new_hash)


def _conclude(
    auth: Auth,
    user: AbstractUser | None,
    username: str,
    address: str | None,
    ok: bool,
    new_hash: str | None,
) -> AbstractUser | None:
    if not ok or user is None:
        auth.throttle.failed(username, address)
        return None
    if new_hash is not None:
        user.password = new_hash
    auth.throttle.succeeded(username)
    return user


async def _off_loop(request: Request, blocking: bool, func: Callable[..., T], *args: Any) -> T:
    if not blocking:
        return func(*args)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(request.app.executor, func, *args)


async def aauthenticate(
    request: Request, username: str | None = None, password: str | None = None
) -> AbstractUser | None:
    """``authenticate`` for async views: the user is loaded with ``request.adb`` and the
    hasher (CPU-bound, tens of milliseconds) runs in the app's thread pool.

    Raises:
        LoginThrottled: too many failures for this username or client address (a 429).
    """
    if username is None or password is None:
        return None
    auth = get_auth(request.app)
    address = request.remote_addr
    blocking = bool(getattr(auth.throttle.store, "blocking", False))
    await _off_loop(request, blocking, auth.throttle.check, username, address)
    user = (await request.adb.scalars(_lookup(auth, username))).first()
    ok, new_hash = await _off_loop(request, True, _check, auth, user, password)
    return await _off_loop(
        request, blocking, _conclude, auth, user, username, address, ok, new_hash
    )


# -- login / logout -------------------------------------------------------------------------------
def _start_session(request: Request, user: AbstractUser) -> None:
    session = request.session
    verifier = session_auth_hash(request, user)
    current = session.get(SESSION_KEY)
    if current is not None and (
        current != _session_id(user) or not _verify(request, session.get(HASH_SESSION_KEY), user)
    ):
        session.flush()  # another user's session: keep nothing of it
    else:
        # SECURITY: a new session id on login, so an id planted before login (session
        # fixation) is worthless afterwards.
        session.cycle_key()
    session[SESSION_KEY] = _session_id(user)
    session[HASH_SESSION_KEY] = verifier
    if "csrf" in request.app.extensions:
        from qiao.csrf import rotate_token

        rotate_token(request)  # SECURITY: a CSRF token seen before login stops working
    user.last_login = datetime.now(UTC)
    setattr(request, "user", user)  # noqa: B010 - the lazy attribute's cache slot


def login(request: Request, user: AbstractUser) -> None:
    """Log ``user`` in: a new session id, the user's id and verifier in the session, a new
    CSRF secret (when the CSRF battery is installed), and ``last_login`` set (saved when the
    request commits). ``request.user`` is ``user`` afterwards.

    ``user`` should come from ``authenticate`` or ``request.db``; a detached user is merged
    into ``request.db``.
    """
    if object_session(user) is None:
        user = request.db.merge(user)
    _start_session(request, user)


async def alogin(request: Request, user: AbstractUser) -> None:
    """``login`` for async views (loads a server-side session without blocking; a detached
    user is merged into ``request.adb``)."""
    await request.session.aload()
    if object_session(user) is None:
        user = await request.adb.merge(user)
    _start_session(request, user)


def logout(request: Request) -> None:
    """Log out: the session's data is removed and its id retired; ``request.user`` becomes
    ``AnonymousUser``."""
    request.session.flush()
    setattr(request, "user", AnonymousUser())  # noqa: B010


async def alogout(request: Request) -> None:
    """``logout`` for async views."""
    await request.session.aload()
    logout(request)


def update_session_auth_hash(request: Request, user: AbstractUser) -> None:
    """Keep this session logged in after ``user`` changed their password (other sessions are
    logged out); also gives the session a new id."""
    session = request.session
    if session.get(SESSION_KEY) == _session_id(user):
        session.cycle_key()
        session[HASH_SESSION_KEY] = session_auth_hash(request, user)
