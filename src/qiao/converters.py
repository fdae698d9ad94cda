"""Path converters: ``<int:id>``, ``<uuid:key>``, ... and the protocol for your own."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

__all__ = [
    "Converter",
    "FloatConverter",
    "IntConverter",
    "PathConverter",
    "SlugConverter",
    "StringConverter",
    "UUIDConverter",
    "make_converter",
]


class Converter:
    """Turns one path segment into a Python value and back.

    Subclass it and set ``regex`` (matched against the segment, without anchors); override
    ``to_python`` (raise ``ValueError`` to say "this route does not match") and ``to_url``
    (raise ``ValueError`` or ``TypeError`` for values that cannot be written in a URL).
    """

    regex: str = "[^/]+"

    def to_python(self, value: str) -> Any:
        """Convert the matched text; raising ``ValueError`` makes the route not match."""
        return value

    def to_url(self, value: Any) -> str:
        """Convert a value for ``url_for``; the result is percent-encoded afterwards."""
        if not isinstance(value, str):
            raise TypeError(f"expected a str, got {type(value).__name__}")
        return value


def _is_ascii_digits(segment: str) -> bool:
    return segment.isdigit() and segment.isascii()


#: PERF: tests equivalent to ``re.fullmatch(regex, segment)`` for a whole path segment, by
#: regex, so any converter with one of these regexes matches without the regex engine.
FAST_MATCHES: dict[str, Callable[[str], Any]] = {
    "[^/]+": bool,  # a path segment never holds "/": any non-empty one matches
    "[0-9]+": _is_ascii_digits,
}


class StringConverter(Converter):
    """Any text without a slash (the default)."""


class IntConverter(Converter):
    """A non-negative decimal integer (``[0-9]+``)."""

    regex = "[0-9]+"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise TypeError(f"expected a non-negative int, got {value!r}")
        return str(value)


class FloatConverter(Converter):
    """A non-negative decimal number, ``3`` or ``3.14``."""

    regex = r"[0-9]+(?:\.[0-9]+)?"

    def to_python(self, value: str) -> float:
        return float(value)

    def to_url(self, value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise TypeError(f"expected a non-negative number, got {value!r}")
        return repr(float(value)) if isinstance(value, float) else str(value)


class PathConverter(Converter):
    """The rest of the path, slashes included."""

    regex = ".+"


class SlugConverter(Converter):
    """ASCII letters, digits, hyphens and underscores."""

    regex = "[-a-zA-Z0-9_]+"


class UUIDConverter(Converter):
    """A UUID in its hyphenated form, converted to ``uuid.UUID``."""

    regex = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

    def to_python(self, value: str) -> uuid.UUID:
        return uuid.UUID(value)

    def to_url(self, value: Any) -> str:
        if isinstance(value, str):
            value = uuid.UUID(value)
        if not isinstance(value, uuid.UUID):
            raise TypeError(f"expected a UUID, got {value!r}")
        return str(value)


DEFAULT_CONVERTERS: dict[str, Converter] = {
    "str": StringConverter(),
    "int": IntConverter(),
    "float": FloatConverter(),
    "path": PathConverter(),
    "slug": SlugConverter(),
    "uuid": UUIDConverter(),
}


def make_converter(
    regex: str,
    to_python: Callable[[str], Any] = str,
    to_url: Callable[[Any], str] = str,
) -> Converter:
    """Build a converter from a regex and two functions (``app.add_converter`` uses this)."""

    class _FunctionConverter(Converter):
        def to_python(self, value: str) -> Any:
            return to_python(value)

        def to_url(self, value: Any) -> str:
            return to_url(value)

    converter = _FunctionConverter()
    converter.regex = regex
    return converter
