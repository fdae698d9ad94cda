"""Password validators: length, common passwords, similarity to the user, all digits.

A validator is an object with ``validate(password, user=None)``, which raises
``qiao.forms.ValidationError`` for a weak password, and ``help_text()``.
``AUTH_PASSWORD_VALIDATORS`` lists the ones an app uses; the views, ``createsuperuser`` and
``changepassword`` run them.

The common passwords list (``common-passwords.txt.gz``, 19,640 entries) is the one Django ships
(BSD licence), itself taken from Royce Williams' list of the most common passwords in breaches.
"""

from __future__ import annotations

import functools
import gzip
import re
from collections.abc import Iterable, Sequence
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from qiao.forms import ValidationError

__all__ = [
    "CommonPasswordValidator",
    "MinimumLengthValidator",
    "NumericPasswordValidator",
    "PasswordValidator",
    "UserAttributeSimilarityValidator",
    "default_validators",
    "password_validators_help_texts",
    "validate_password",
]

COMMON_PASSWORDS = Path(__file__).parent / "common-passwords.txt.gz"


@runtime_checkable
class PasswordValidator(Protocol):
    """What ``AUTH_PASSWORD_VALIDATORS`` holds."""

    def validate(self, password: str, user: Any = None) -> None:
        """Raise ``ValidationError`` when ``password`` is too weak (``user`` may be None)."""
        ...

    def help_text(self) -> str:
        """One sentence telling users the rule."""
        ...


class MinimumLengthValidator:
    """At least ``min_length`` characters (8 by default; NIST SP 800-63B asks 8+)."""

    def __init__(self, min_length: int = 8) -> None:
        self.min_length = min_length

    def validate(self, password: str, user: Any = None) -> None:
        """Raises ``ValidationError`` (code ``password_too_short``)."""
        if len(password) < self.min_length:
            raise ValidationError(
                "This password is too short. It must contain at least {min_length} characters.",
                code="password_too_short",
                params={"min_length": self.min_length},
            )

    def help_text(self) -> str:
        """The rule, for the form."""
        return f"Your password must contain at least {self.min_length} characters."


class UserAttributeSimilarityValidator:
    """Not too similar to the username, e-mail address or names (as Django's).

    Args:
        attributes: the user's attributes compared; parts of the e-mail address and names are
            compared too (``ada.lovelace@example.com`` gives ``ada``, ``lovelace``...).
        max_similarity: from 0.1 (strict) to 1.0 (only an exact match is refused).
    """

    def __init__(
        self,
        attributes: Sequence[str] = ("username", "first_name", "last_name", "email"),
        max_similarity: float = 0.7,
    ) -> None:
        if max_similarity < 0.1:
            raise ValueError("max_similarity must be at least 0.1.")
        self.attributes = tuple(attributes)
        self.max_similarity = max_similarity

    def validate(self, password: str, user: Any = None) -> None:
        """Raises ``ValidationError`` (code ``password_too_similar``)."""
        if user is None:
            return
        lowered = password.lower()
        for attribute in self.attributes:
            value = getattr(user, attribute, None)
            if not value or not isinstance(value, str):
                continue
            parts = [value.lower(), *re.split(r"\W+", value.lower())]
            for part in filter(None, parts):
                if _too_similar(lowered, part, self.max_similarity):
                    raise ValidationError(
                        "The password is too similar to the {attribute}.",
                        code="password_too_similar",
                        params={"attribute": attribute.replace("_", " ")},
                    )

    def help_text(self) -> str:
        """The rule, for the form."""
        return "Your password can't be too similar to your other personal information."


def _too_similar(password: str, value: str, max_similarity: float) -> bool:
    # PERF: quick_ratio bounds ratio from above; skip the full comparison when it is low, and
    # a password much longer than the value cannot reach the threshold at all.
    if len(password) >= 10 * len(value) and len(value) < len(password) * max_similarity / 2:
        return False
    matcher = SequenceMatcher(a=password, b=value)
    return matcher.quick_ratio() >= max_similarity and matcher.ratio() >= max_similarity


class CommonPasswordValidator:
    """Not in a list of common passwords (compared lowercased and stripped).

    Args:
        path: a text file, one password a line, gzipped if it ends in ``.gz``; the default is
            the 19,640 most common passwords.
    """

    def __init__(self, path: str | Path = COMMON_PASSWORDS) -> None:
        self.path = Path(path)

    @property
    def passwords(self) -> frozenset[str]:
        """The list, read on first use and kept (about 1 MB in memory)."""
        return _read_list(str(self.path))

    def validate(self, password: str, user: Any = None) -> None:
        """Raises ``ValidationError`` (code ``password_too_common``)."""
        if password.lower().strip() in self.passwords:
            raise ValidationError("This password is too common.", code="password_too_common")

    def help_text(self) -> str:
        """The rule, for the form."""
        return "Your password can't be a commonly used password."


@functools.lru_cache(maxsize=4)
def _read_list(path: str) -> frozenset[str]:
    opener: Any = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip().lower() for line in lines if line.strip())


class NumericPasswordValidator:
    """Not made of digits only."""

    def validate(self, password: str, user: Any = None) -> None:
        """Raises ``ValidationError`` (code ``password_entirely_numeric``)."""
        if password.isdigit():
            raise ValidationError(
                "This password is entirely numeric.", code="password_entirely_numeric"
            )

    def help_text(self) -> str:
        """The rule, for the form."""
        return "Your password can't be entirely numeric."


def default_validators() -> list[PasswordValidator]:
    """The validators used when ``AUTH_PASSWORD_VALIDATORS`` is None: similarity, minimum
    length 8, common passwords, numeric (Django's recommended set)."""
    return [
        UserAttributeSimilarityValidator(),
        MinimumLengthValidator(),
        CommonPasswordValidator(),
        NumericPasswordValidator(),
    ]


def validate_password(
    password: str, user: Any = None, validators: Iterable[PasswordValidator] | None = None
) -> None:
    """Run every validator and raise one ``ValidationError`` with all their messages.

    Args:
        user: the user the password is for (for the similarity check); may be unsaved.
        validators: default: ``default_validators()``; in an app, pass
            ``app.extensions["auth"].validators``.

    Raises:
        ValidationError: the password failed one or more validators.
    """
    messages: list[str] = []
    for validator in default_validators() if validators is None else validators:
        try:
            validator.validate(password, user)
        except ValidationError as exc:
            messages.extend(exc.messages)
    if messages:
        raise ValidationError(messages, code="password_invalid")


def password_validators_help_texts(
    validators: Iterable[PasswordValidator] | None = None,
) -> list[str]:
    """The validators' rules, to show next to a new-password field."""
    chosen = default_validators() if validators is None else validators
    return [validator.help_text() for validator in chosen]
