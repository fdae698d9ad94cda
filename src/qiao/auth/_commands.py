"""``qiao createsuperuser`` and ``qiao changepassword USERNAME``.

Passwords are read with ``getpass`` on a terminal, or line by line from standard input when it
is a pipe (``printf 'pw\\npw\\n' | qiao changepassword ada``). For scripts and containers,
``qiao createsuperuser --no-input --username admin --email a@example.com`` takes the password
from ``QIAO_SUPERUSER_PASSWORD``. The app's password validators apply in every case.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import TYPE_CHECKING

from sqlalchemy import select

from qiao.auth._battery import Auth, get_auth
from qiao.auth._validators import validate_password
from qiao.forms import ValidationError

if TYPE_CHECKING:
    from qiao.app import App

__all__ = ["PASSWORD_ENV", "changepassword", "createsuperuser"]

#: Where ``createsuperuser --no-input`` reads the password.
PASSWORD_ENV = "QIAO_SUPERUSER_PASSWORD"  # noqa: S105 - a variable name, not a password
_ATTEMPTS = 3


class _Abort(Exception):
    """End the command with this message and status 1."""


def _ask(prompt: str) -> str:
    print(prompt, end="", flush=True)
    line = sys.stdin.readline()
    if not line:
        raise _Abort("\nNo input; cancelled.")
    return line.rstrip("\r\n")


def _ask_password(prompt: str) -> str:
    if sys.stdin.isatty():
        try:
            return getpass.getpass(prompt)
        except EOFError:
            raise _Abort("\nNo input; cancelled.") from None
    return _ask(prompt)


def _new_password(auth: Auth, user: object) -> str:
    """Ask twice until the two match and pass the validators (3 attempts)."""
    for _ in range(_ATTEMPTS):
        first = _ask_password("Password: ")
        second = _ask_password("Password (again): ")
        if first != second:
            print("Error: your passwords didn't match.", file=sys.stderr)
            continue
        try:
            validate_password(first, user, auth.validators)
        except ValidationError as exc:
            for message in exc.messages:
                print(f"Error: {message}", file=sys.stderr)
            continue
        return first
    raise _Abort(f"Too many attempts ({_ATTEMPTS}); the password was not changed.")


def _run(app: App, body: str, argv: list[str]) -> int:
    try:
        if body == "create":
            return _createsuperuser(app, argv)
        return _changepassword(app, argv)
    except _Abort as exc:
        print(str(exc).lstrip("\n") if str(exc).startswith("\n") else exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nCancelled.", file=sys.stderr)
        return 1


def createsuperuser(app: App, argv: list[str]) -> int:
    """``qiao createsuperuser [--username U] [--email E] [--no-input]``."""
    return _run(app, "create", argv)


def changepassword(app: App, argv: list[str]) -> int:
    """``qiao changepassword USERNAME``."""
    return _run(app, "change", argv)


def _createsuperuser(app: App, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="qiao createsuperuser", description="Create a user with every permission."
    )
    parser.add_argument("--username", help="the new user's username")
    parser.add_argument("--email", default=None, help="the new user's e-mail address")
    parser.add_argument(
        "--no-input",
        action="store_true",
        help=f"ask nothing: needs --username, reads the password from ${PASSWORD_ENV}",
    )
    args = parser.parse_args(argv)
    auth = get_auth(app)
    model = auth.user_model
    db = app.extensions["db"]
    username_field = getattr(model, model.USERNAME_FIELD)
    with db.session() as session:
        username = args.username
        while True:
            if not username:
                if args.no_input:
                    raise _Abort("Error: --no-input needs --username.")
                username = _ask("Username: ").strip()
                if not username:
                    print("Error: the username cannot be blank.", file=sys.stderr)
                    continue
            if session.scalars(select(model.id).where(username_field == username)).first():
                if args.no_input or args.username:
                    raise _Abort(f"Error: the username {username!r} is already taken.")
                print(f"Error: the username {username!r} is already taken.", file=sys.stderr)
                username = None
                continue
            break
        email = args.email
        if email is None and not args.no_input:
            email = _ask("Email address: ").strip()
        user = model(
            username=username, email=email or "", is_staff=True, is_superuser=True, is_active=True
        )
        if args.no_input:
            password = os.environ.get(PASSWORD_ENV)
            if password:
                try:
                    validate_password(password, user, auth.validators)
                except ValidationError as exc:
                    raise _Abort("Error: " + " ".join(exc.messages)) from None
            else:
                print(f"No ${PASSWORD_ENV}: the password is unusable until set.")
        else:
            password = _new_password(auth, user)
        user.set_password(password or None, auth.hashers)
        session.add(user)
    print(f"Superuser {username!r} created.")
    return 0


def _changepassword(app: App, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="qiao changepassword", description="Set a user's password (logs out their sessions)."
    )
    parser.add_argument("username", help="whose password to change")
    args = parser.parse_args(argv)
    auth = get_auth(app)
    model = auth.user_model
    db = app.extensions["db"]
    with db.session() as session:
        query = select(model).where(getattr(model, model.USERNAME_FIELD) == args.username)
        user = session.scalars(query).first()
        if user is None:
            raise _Abort(f"Error: no user {args.username!r}.")
        print(f"Changing the password of {args.username!r}")
        user.set_password(_new_password(auth, user), auth.hashers)
    print(f"Password changed for {args.username!r}.")
    return 0
