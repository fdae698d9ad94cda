"""The forms of the auth views (``qiao.forms``); reuse them in your own views."""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from qiao import forms
from qiao.auth._validators import validate_password

if TYPE_CHECKING:
    from qiao.auth._battery import Auth

__all__ = [
    "LoginForm",
    "PasswordChangeForm",
    "PasswordResetForm",
    "SetPasswordForm",
    "SignupForm",
]

#: The error of a failed login (it never says which of the two was wrong).
INVALID_LOGIN = (
    "Please enter a correct username and password. Note that both fields may be case-sensitive."
)
PASSWORD_MISMATCH = "The two password fields didn't match."  # noqa: S105 - a message


class LoginForm(forms.Form):
    """Username and password."""

    username = forms.CharField(
        max_length=254, attrs={"autocomplete": "username", "autofocus": True}
    )
    password = forms.PasswordField(attrs={"autocomplete": "current-password"})


class SetPasswordForm(forms.Form):
    """A new password, twice, checked by the app's password validators.

    Args:
        user: the user whose password it is (for the similarity check).
        auth: the app's ``Auth`` battery (its validators).
    """

    new_password1 = forms.PasswordField(
        label="New password", attrs={"autocomplete": "new-password"}
    )
    new_password2 = forms.PasswordField(
        label="New password confirmation", attrs={"autocomplete": "new-password"}
    )

    def __init__(self, data: Any = None, *, user: Any, auth: Auth, **options: Any) -> None:
        super().__init__(data, **options)
        self.user = user
        self.auth = auth

    def clean(self) -> None:
        """The two entries match and the password passes the validators."""
        first = self.cleaned_data.get("new_password1")
        second = self.cleaned_data.get("new_password2")
        if first and second and first != second:
            self.add_error("new_password2", PASSWORD_MISMATCH)
        elif first and second:
            try:
                validate_password(first, self.user, self.auth.validators)
            except forms.ValidationError as exc:
                self.add_error("new_password2", exc)


class PasswordChangeForm(SetPasswordForm):
    """The current password, then a new one twice."""

    old_password = forms.PasswordField(
        label="Old password", attrs={"autocomplete": "current-password", "autofocus": True}
    )

    def clean_old_password(self, value: str) -> str:
        """The current password must be right."""
        if not self.user.check_password(value, self.auth.hashers):
            raise forms.ValidationError(
                "Your old password was entered incorrectly. Please enter it again.",
                code="password_incorrect",
            )
        return value


class PasswordResetForm(forms.Form):
    """The e-mail address to send a reset link to."""

    email = forms.EmailField(max_length=254, attrs={"autocomplete": "email"})


class SignupForm(forms.Form):
    """Username, e-mail and password (twice); the view checks the username is free."""

    username = forms.RegexField(
        r"^[\w.@+-]+\Z",
        max_length=150,
        help_text="150 characters or fewer. Letters, digits and @/./+/-/_ only.",
        attrs={"autocomplete": "username", "autofocus": True},
    )
    email = forms.EmailField(max_length=254, attrs={"autocomplete": "email"})
    password1 = forms.PasswordField(label="Password", attrs={"autocomplete": "new-password"})
    password2 = forms.PasswordField(
        label="Password confirmation", attrs={"autocomplete": "new-password"}
    )

    def __init__(self, data: Any = None, *, auth: Auth, **options: Any) -> None:
        super().__init__(data, **options)
        self.auth = auth

    def clean(self) -> None:
        """The passwords match and pass the validators (compared with the username and
        e-mail address)."""
        first = self.cleaned_data.get("password1")
        second = self.cleaned_data.get("password2")
        if first and second and first != second:
            self.add_error("password2", PASSWORD_MISMATCH)
        elif first and second:
            candidate = SimpleNamespace(
                username=self.cleaned_data.get("username", ""),
                email=self.cleaned_data.get("email", ""),
            )
            try:
                validate_password(first, candidate, self.auth.validators)
            except forms.ValidationError as exc:
                self.add_error("password2", exc)
