"""``ValidationError`` and the built-in validators: length, range, regex, email, URL.

A validator is any callable that takes a field's cleaned Python value and raises
``ValidationError`` when it is wrong. Validators never see empty values (the field's
``required`` check handles those). A validator may also offer ``html_attrs()``: attributes that
let the browser check the same thing before submitting (``maxlength``, ``min``, ``max``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

__all__ = ["URL", "Email", "Length", "Range", "Regex", "ValidationError", "Validator"]


class Validator(Protocol):
    """What ``validators=[...]`` accepts: a callable that raises ``ValidationError``."""

    def __call__(self, value: Any, /) -> None:
        """Check ``value``; raise ``ValidationError`` if it is invalid."""


class _LenientParams(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def format_message(template: str, params: Mapping[str, Any] | None) -> str:
    """``template.format(**params)``, leaving unknown ``{placeholders}`` as written.

    NOTE: a mistyped placeholder in an ``error_messages`` override must not turn a user's
    invalid input into a 500, so formatting never raises.
    """
    if not params:
        return template
    try:
        return template.format_map(_LenientParams(params))
    except (ValueError, IndexError, AttributeError, KeyError, TypeError):
        return template


class ValidationError(Exception):
    """An invalid value: raised by validators, ``clean_<field>`` hooks and ``Form.clean``.

    Args:
        message: the message shown to the user, or a list of them. May contain
            ``{placeholders}`` filled from ``params``.
        code: a stable name for the kind of error (``"required"``, ``"max_length"``...); a
            field's ``error_messages={code: "..."}`` replaces the message of that code.
        params: values for the message's placeholders (also used by overrides).

    Attributes:
        messages: the messages with their placeholders filled in, a list.
        templates: the messages as given.
    """

    def __init__(
        self,
        message: str | Sequence[str],
        code: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        self.templates = [message] if isinstance(message, str) else [str(m) for m in message]
        self.code = code
        self.params = dict(params) if params else {}
        self.messages = [format_message(t, self.params) for t in self.templates]
        super().__init__(*self.messages)

    def __repr__(self) -> str:
        return f"ValidationError({self.messages!r}, code={self.code!r})"


class Length:
    """The value's ``len()`` is between ``min`` and ``max`` (both optional, inclusive).

    Error codes: ``min_length``, ``max_length`` (params ``min``/``max`` and ``length``).
    """

    def __init__(self, min: int | None = None, max: int | None = None) -> None:
        if min is not None and max is not None and min > max:
            raise ValueError(f"Length(min={min}, max={max}): min is larger than max.")
        self.min = min
        self.max = max

    def __call__(self, value: Any) -> None:
        """Raise ``ValidationError`` if ``len(value)`` is out of bounds."""
        length = len(value)
        if self.min is not None and length < self.min:
            raise ValidationError(
                "Ensure this value has at least {min} characters (it has {length}).",
                code="min_length",
                params={"min": self.min, "length": length},
            )
        if self.max is not None and length > self.max:
            raise ValidationError(
                "Ensure this value has at most {max} characters (it has {length}).",
                code="max_length",
                params={"max": self.max, "length": length},
            )

    def html_attrs(self) -> dict[str, Any]:
        """``minlength`` and ``maxlength``."""
        return {"minlength": self.min, "maxlength": self.max}

    def __repr__(self) -> str:
        return f"Length(min={self.min!r}, max={self.max!r})"


class Range:
    """The value is between ``min`` and ``max`` (both optional, inclusive): numbers or dates.

    Error codes: ``min_value``, ``max_value`` (params ``min``/``max``).
    """

    def __init__(self, min: Any = None, max: Any = None) -> None:
        if min is not None and max is not None and min > max:
            raise ValueError(f"Range(min={min!r}, max={max!r}): min is larger than max.")
        self.min = min
        self.max = max

    def __call__(self, value: Any) -> None:
        """Raise ``ValidationError`` if ``value`` is out of bounds."""
        if self.min is not None and value < self.min:
            raise ValidationError(
                "Ensure this value is greater than or equal to {min}.",
                code="min_value",
                params={"min": self.min},
            )
        if self.max is not None and value > self.max:
            raise ValidationError(
                "Ensure this value is less than or equal to {max}.",
                code="max_value",
                params={"max": self.max},
            )

    def html_attrs(self) -> dict[str, Any]:
        """``min`` and ``max``."""
        return {"min": self.min, "max": self.max}

    def __repr__(self) -> str:
        return f"Range(min={self.min!r}, max={self.max!r})"


class Regex:
    """The value matches ``pattern`` (``re.search``; anchor it with ``^...$`` or ``\\A...\\Z``).

    Args:
        pattern: a pattern string or compiled pattern.
        message: the error message.
        code: the error code (default ``"invalid"``).
        inverse: fail when the pattern *does* match instead.
    """

    def __init__(
        self,
        pattern: str | re.Pattern[str],
        message: str = "Enter a valid value.",
        code: str = "invalid",
        *,
        inverse: bool = False,
    ) -> None:
        self.pattern = re.compile(pattern) if isinstance(pattern, str) else pattern
        self.message = message
        self.code = code
        self.inverse = inverse

    def __call__(self, value: Any) -> None:
        """Raise ``ValidationError`` if ``value`` does not match (or does, with ``inverse``)."""
        if (self.pattern.search(str(value)) is None) != self.inverse:
            raise ValidationError(self.message, code=self.code)

    def __repr__(self) -> str:
        return f"Regex({self.pattern.pattern!r}, inverse={self.inverse})"


# The dot-atom local part of RFC 5322 (ASCII), as browsers' type=email and Django accept it.
_EMAIL_USER = re.compile(r"[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]+(?:\.[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]+)*")
_DOMAIN_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_TLD = re.compile(r"(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})")


def _valid_hostname(host: str) -> bool:
    """A DNS name with a dot and an alphabetic TLD; IDNA (non-ASCII) names are encoded first."""
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return False
    host = host.removesuffix(".")
    if len(host) > 253:
        return False
    labels = host.split(".")
    if len(labels) < 2 or _TLD.fullmatch(labels[-1]) is None:
        return False
    return all(_DOMAIN_LABEL.fullmatch(label) for label in labels)


class Email:
    """A plausible e-mail address: an ASCII dot-atom local part, ``@`` and a DNS domain.

    Error code: ``invalid``. It does not check that the domain or mailbox exists.
    """

    message = "Enter a valid email address."

    def __call__(self, value: Any) -> None:
        """Raise ``ValidationError`` if ``value`` is not an e-mail address."""
        text = str(value)
        user, at, domain = text.rpartition("@")
        if (
            not at
            or len(text) > 320
            or len(user) > 64
            or _EMAIL_USER.fullmatch(user) is None
            or not _valid_hostname(domain)
        ):
            raise ValidationError(self.message, code="invalid")

    def __repr__(self) -> str:
        return "Email()"


class URL:
    """An absolute URL with one of ``schemes`` and a valid host (DNS name, IPv4, [IPv6]).

    Error code: ``invalid``.
    """

    message = "Enter a valid URL."

    def __init__(self, schemes: Sequence[str] = ("http", "https")) -> None:
        self.schemes = tuple(s.lower() for s in schemes)

    def __call__(self, value: Any) -> None:
        """Raise ``ValidationError`` if ``value`` is not such a URL."""
        text = str(value)
        if not self._valid(text):
            raise ValidationError(self.message, code="invalid")

    def _valid(self, text: str) -> bool:
        if len(text) > 2048 or any(c.isspace() or ord(c) < 32 for c in text):
            return False
        try:
            parts = urlsplit(text)
            host = parts.hostname
            parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
        except ValueError:
            return False
        if parts.scheme.lower() not in self.schemes or not host:
            return False
        if "[" in parts.netloc:
            return _is_ip(host, ipaddress.IPv6Address)
        if host.replace(".", "").isdigit():
            return _is_ip(host, ipaddress.IPv4Address)
        return host == "localhost" or _valid_hostname(host)

    def __repr__(self) -> str:
        return f"URL(schemes={self.schemes!r})"


def _is_ip(host: str, kind: Callable[[str], object]) -> bool:
    try:
        kind(host)
    except ValueError:
        return False
    return True
