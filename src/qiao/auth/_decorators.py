"""``@login_required``, ``@permission_required``, ``@staff_required``: for sync and async view
functions and for ``qiao.View`` classes.

Nobody logged in: a browser (``Accept`` has ``text/html``) is redirected to the login page with
``?next=<this path>``; any other client gets a 401 problem+json answer. Logged in without the
permission (or not staff): 403. Async views load the user with ``aget_user`` (``request.adb``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload
from urllib.parse import urlencode

from qiao.auth._battery import get_auth
from qiao.auth._login import aget_user
from qiao.http.exceptions import Forbidden, Unauthorized
from qiao.http.response import RedirectResponse

if TYPE_CHECKING:
    from qiao.http.request import Request

__all__ = [
    "LOGIN_REQUIRED_MESSAGE",
    "login_required",
    "login_url",
    "permission_required",
    "staff_required",
]

F = TypeVar("F", bound=Callable[..., Any])
Test = Callable[[Any], bool]

#: The detail of the 401 answer to API clients.
LOGIN_REQUIRED_MESSAGE = "Authentication is required: log in first."


def login_url(request: Request, override: str | None = None) -> str:
    """The login page: ``override``, else ``AUTH_LOGIN_URL``, else the login view.

    A value starting with ``/`` or a scheme is a URL; anything else a route name
    (``"accounts:signin"``).
    """
    value = override or get_auth(request.app).setting("AUTH_LOGIN_URL") or "auth:login"
    if value.startswith("/") or "://" in value:
        return str(value)
    return request.url_for(value)


def _denied(request: Request, override: str | None) -> RedirectResponse:
    if "text/html" not in request.headers.get("accept", ""):
        raise Unauthorized(LOGIN_REQUIRED_MESSAGE, headers={"www-authenticate": "Session"})
    here = request.root_path + request.path
    if request.query_string:
        here += "?" + request.query_string
    target = login_url(request, override)
    separator = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{separator}{urlencode({'next': here})}", 302)


def _guard(test: Test | None, override: str | None, perms: bool) -> Callable[[F], F]:
    """A decorator: log-in required, then ``test(user)`` must pass (else 403)."""

    def decorate(view: F) -> F:
        if inspect.isclass(view) and hasattr(view, "as_view"):
            return _decorate_class(view, decorate)  # type: ignore[return-value]
        if inspect.iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_wrapper(request: Request, *args: Any, **kwargs: Any) -> Any:
                user = await aget_user(request)
                if not user.is_authenticated:
                    return _denied(request, override)
                if perms:
                    await user.aget_all_permissions()
                if test is not None and not test(user):
                    raise Forbidden("You do not have permission to access this page.")
                return await view(request, *args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(view)
        def wrapper(request: Request, *args: Any, **kwargs: Any) -> Any:
            user = request.user
            if not user.is_authenticated:
                return _denied(request, override)
            if test is not None and not test(user):
                raise Forbidden("You do not have permission to access this page.")
            return view(request, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def _decorate_class(cls: type[Any], decorate: Callable[[Any], Any]) -> type[Any]:
    """Wrap the view ``cls.as_view()`` builds (subclasses inherit the requirement)."""
    parent = cls.as_view.__func__

    def as_view(klass: type[Any], /, **initkwargs: Any) -> Callable[..., Any]:
        return decorate(parent(klass, **initkwargs))  # type: ignore[no-any-return]

    as_view.__doc__ = parent.__doc__
    cls.as_view = classmethod(as_view)
    return cls


@overload
def login_required(view: F, /) -> F: ...
@overload
def login_required(*, login_url: str | None = None) -> Callable[[F], F]: ...
def login_required(view: Any = None, /, *, login_url: str | None = None) -> Any:
    """Require a logged-in user: ``@login_required`` or ``@login_required(login_url=...)``.

    Works on sync and async view functions and on ``qiao.View`` classes. Browsers are
    redirected to the login page with ``?next=``; API clients get 401.
    """
    decorate = _guard(None, login_url, perms=False)
    return decorate(view) if view is not None else decorate


def permission_required(*perms: str, login_url: str | None = None) -> Callable[[F], F]:
    """Require every one of ``perms`` (``"blog.add_post"``): 403 without them (superusers
    have all); nobody logged in is handled as by ``login_required``.

    Raises:
        TypeError: no permission named, or used bare (``@permission_required``).
    """
    if not perms or not all(isinstance(p, str) for p in perms):
        raise TypeError(
            "permission_required takes permission names: @permission_required('blog.add_post')."
        )
    return _guard(lambda user: user.has_perms(perms), login_url, perms=True)


@overload
def staff_required(view: F, /) -> F: ...
@overload
def staff_required(*, login_url: str | None = None) -> Callable[[F], F]: ...
def staff_required(view: Any = None, /, *, login_url: str | None = None) -> Any:
    """Require an active staff user (``is_staff``): 403 for other users."""
    decorate = _guard(lambda user: bool(user.is_active and user.is_staff), login_url, False)
    return decorate(view) if view is not None else decorate
