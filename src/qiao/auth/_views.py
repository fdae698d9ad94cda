"""The auth views, routes of the ``auth`` blueprint (under ``AUTH_URL_PREFIX``, ``/accounts``).

Each route is named ``auth:<name>`` and renders ``auth/<name>.html``:

- ``/login/`` (GET, POST): ``login``;
- ``/logout/`` (POST only): ``logout``, redirects;
- ``/password/change/`` (GET, POST) and ``/password/change/done/``: ``password_change``,
  ``password_change_done``;
- ``/password/reset/`` (GET, POST), ``/password/reset/done/``, ``/password/reset/<token>/``
  (GET, POST) and ``/password/reset/complete/``: ``password_reset``, ``password_reset_done``,
  ``password_reset_confirm``, ``password_reset_complete``;
- ``/signup/`` (GET, POST), with ``AUTH_ALLOW_SIGNUP``: ``signup``.

Every template extends ``auth/base.html``; an app overrides any of them by putting a file of the
same name in its own ``templates/auth/`` (the app's folder is searched first).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import func, select

from qiao.auth._battery import Auth, get_auth
from qiao.auth._decorators import login_required
from qiao.auth._forms import (
    INVALID_LOGIN,
    LoginForm,
    PasswordChangeForm,
    PasswordResetForm,
    SetPasswordForm,
    SignupForm,
)
from qiao.auth._login import authenticate, login, logout, update_session_auth_hash
from qiao.auth._throttle import LoginThrottled
from qiao.auth._tokens import check_reset_token, make_reset_token
from qiao.http.response import RedirectResponse, Response
from qiao.templating import render, render_to_string

if TYPE_CHECKING:
    from qiao.blueprints import Blueprint
    from qiao.http.request import Request

__all__ = ["add_routes", "is_safe_redirect"]

_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")
#: Headers of pages whose URL holds a reset token: no Referer leaks it, no cache keeps it.
_TOKEN_PAGE_HEADERS = {"referrer-policy": "no-referrer", "cache-control": "no-store"}


def is_safe_redirect(url: str | None) -> bool:
    """Whether ``url`` is a path on this site, safe to redirect to after login.

    SECURITY: refuses absolute URLs, scheme-relative ``//host``, backslashes (``/\\host``, which
    browsers read as ``//host``), and whitespace or control characters (browsers drop tabs and
    newlines, so ``/\\t/host`` would become ``//host``): an open redirect lets a phishing link
    borrow this site's name.
    """
    if not url or not url.startswith("/") or url.startswith("//") or _UNSAFE.search(url):
        return False
    parts = urlsplit(url)
    return not parts.scheme and not parts.netloc


def _resolve(request: Request, value: str) -> str:
    """A setting that is a path (``/``), a URL, or a route name (``"blog:index"``)."""
    if value.startswith("/") or "://" in value:
        return value
    return request.url_for(value)


def _next(request: Request, form: Any = None) -> str | None:
    candidate = request.query.get("next")
    if form is not None and form.get("next"):
        candidate = form.get("next")
    return candidate if is_safe_redirect(candidate) else None


def _see_other(request: Request, target: str) -> RedirectResponse:
    return RedirectResponse(_resolve(request, target), 303)


def _password_help(auth: Auth) -> list[str]:
    return [validator.help_text() for validator in auth.validators]


# -- login and logout -----------------------------------------------------------------------------
def login_view(request: Request) -> Response:
    """Show the login form; on a valid POST log in and redirect to ``next`` (a local path) or
    ``AUTH_LOGIN_REDIRECT_URL``. Wrong credentials: 422; throttled: 429."""
    auth = get_auth(request.app)
    status, headers = 200, None
    if request.method == "POST":
        data = request.form()
        form = LoginForm(data)
        status = 422
        if form.is_valid():
            try:
                user = authenticate(
                    request, form.cleaned_data["username"], form.cleaned_data["password"]
                )
            except LoginThrottled as exc:
                form.add_error(None, exc.detail)
                status, headers = 429, dict(exc.headers)
            else:
                if user is not None:
                    login(request, user)
                    target = _next(request, data) or auth.setting("AUTH_LOGIN_REDIRECT_URL")
                    return _see_other(request, target)
                form.add_error(None, INVALID_LOGIN)
        next_url = _next(request, data)
    else:
        form, next_url = LoginForm(), _next(request)
    signup = bool(auth.setting("AUTH_ALLOW_SIGNUP"))
    return render(
        request,
        "auth/login.html",
        status=status,
        headers=headers,
        form=form,
        next=next_url,
        password_reset=auth.password_reset,
        signup=signup,
    )


def logout_view(request: Request) -> Response:
    """Log out (POST only: a GET from an ``<img>`` on another site must not log anyone out)
    and redirect to ``next`` or ``AUTH_LOGOUT_REDIRECT_URL``."""
    logout(request)
    target = _next(request, request.form()) or get_auth(request.app).setting(
        "AUTH_LOGOUT_REDIRECT_URL"
    )
    return _see_other(request, target)


# -- password change ------------------------------------------------------------------------------
@login_required
def password_change(request: Request) -> Response:
    """Change the logged-in user's password; this session stays logged in, the user's other
    sessions are logged out."""
    auth = get_auth(request.app)
    user = request.user
    status = 200
    if request.method == "POST":
        form = PasswordChangeForm(request.form(), user=user, auth=auth)
        if form.is_valid():
            user.set_password(form.cleaned_data["new_password1"], auth.hashers)
            update_session_auth_hash(request, user)
            return _see_other(request, "auth:password_change_done")
        status = 422
    else:
        form = PasswordChangeForm(user=user, auth=auth)
    return render(
        request,
        "auth/password_change.html",
        status=status,
        form=form,
        password_help=_password_help(auth),
    )


@login_required
def password_change_done(request: Request) -> Response:
    """The page after a password change."""
    return render(request, "auth/password_change_done.html")


# -- password reset -------------------------------------------------------------------------------
def password_reset(request: Request) -> Response:
    """Ask for an e-mail address and send each active user with that address a reset link.

    SECURITY: the answer is the same redirect whether or not an account has that address, so
    the form cannot be used to find out who has an account.
    """
    auth = get_auth(request.app)
    if request.method == "POST":
        form = PasswordResetForm(request.form())
        if form.is_valid():
            _send_reset_emails(request, auth, form.cleaned_data["email"])
            return _see_other(request, "auth:password_reset_done")
        return render(request, "auth/password_reset.html", status=422, form=form)
    return render(request, "auth/password_reset.html", form=PasswordResetForm())


def _send_reset_emails(request: Request, auth: Auth, email: str) -> None:
    from qiao.mail import send_mail

    model = auth.user_model
    column = getattr(model, model.EMAIL_FIELD)
    query = select(model).where(func.lower(column) == email.lower(), model.is_active.is_(True))
    site = auth.setting("AUTH_SITE_URL") or f"{request.scheme}://{request.host}"
    for user in request.db.scalars(query):
        if not user.has_usable_password():
            continue
        token = make_reset_token(request.app, user)
        path = request.url_for("auth:password_reset_confirm", token=token)
        context = {"user": user, "reset_url": site.rstrip("/") + path, "site_url": site}
        subject = render_to_string(request, "auth/password_reset_subject.txt", **context)
        body = render_to_string(request, "auth/password_reset_email.txt", **context)
        send_mail(request, " ".join(subject.split()), body, getattr(user, model.EMAIL_FIELD))


def password_reset_done(request: Request) -> Response:
    """The page after a reset request: "if an account has this address, we sent a link"."""
    return render(request, "auth/password_reset_done.html")


def password_reset_confirm(request: Request, token: str) -> Response:
    """Set a new password from a reset link; the link works once, until it expires."""
    auth = get_auth(request.app)
    user = check_reset_token(request.app, request.db, token, auth.reset_timeout)
    if user is None:
        return render(
            request,
            "auth/password_reset_confirm.html",
            status=400,
            headers=_TOKEN_PAGE_HEADERS,
            validlink=False,
            form=None,
        )
    status = 200
    if request.method == "POST":
        form = SetPasswordForm(request.form(), user=user, auth=auth)
        if form.is_valid():
            user.set_password(form.cleaned_data["new_password1"], auth.hashers)
            auth.throttle.succeeded(user.get_username())  # the owner proved who they are
            return _see_other(request, "auth:password_reset_complete")
        status = 422
    else:
        form = SetPasswordForm(user=user, auth=auth)
    return render(
        request,
        "auth/password_reset_confirm.html",
        status=status,
        headers=_TOKEN_PAGE_HEADERS,
        validlink=True,
        form=form,
        password_help=_password_help(auth),
    )


def password_reset_complete(request: Request) -> Response:
    """The page after a new password was set from a reset link."""
    return render(request, "auth/password_reset_complete.html")


# -- sign-up --------------------------------------------------------------------------------------
def signup(request: Request) -> Response:
    """Create an account and log it in (``AUTH_ALLOW_SIGNUP``)."""
    auth = get_auth(request.app)
    status = 200
    if request.method == "POST":
        form = SignupForm(request.form(), auth=auth)
        if form.is_valid():
            model = auth.user_model
            username = form.cleaned_data["username"]
            taken = request.db.scalars(
                select(model.id).where(getattr(model, model.USERNAME_FIELD) == username)
            ).first()
            if taken is None:
                user = model(username=username, email=form.cleaned_data["email"])
                user.set_password(form.cleaned_data["password1"], auth.hashers)
                request.db.add(user)
                request.db.flush()  # the id, for the session
                login(request, user)
                return _see_other(request, auth.setting("AUTH_LOGIN_REDIRECT_URL"))
            form.add_error("username", "A user with that username already exists.")
        status = 422
    else:
        form = SignupForm(auth=auth)
    return render(
        request,
        "auth/signup.html",
        status=status,
        form=form,
        password_help=_password_help(auth),
    )


def add_routes(blueprint: Blueprint, *, with_reset: bool, with_signup: bool) -> None:
    """Add the views to the ``auth`` blueprint (when the app compiles)."""
    both = ["GET", "POST"]
    blueprint.add_route("/login/", login_view, both, name="login")
    blueprint.add_route("/logout/", logout_view, ["POST"], name="logout")
    blueprint.add_route("/password/change/", password_change, both, name="password_change")
    blueprint.add_route("/password/change/done/", password_change_done)
    if with_reset:
        blueprint.add_route("/password/reset/", password_reset, both)
        blueprint.add_route("/password/reset/done/", password_reset_done)
        blueprint.add_route("/password/reset/complete/", password_reset_complete)
        blueprint.add_route("/password/reset/<token>/", password_reset_confirm, both)
    if with_signup:
        blueprint.add_route("/signup/", signup, both)
