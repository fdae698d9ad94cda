"""Safe HTML strings, escaping, attribute lists and error lists (no markupsafe needed).

``SafeHTML`` is a ``str`` with an ``__html__`` method: Jinja2 (through markupsafe) and any other
template engine that follows that convention inserts it as is, while plain strings are escaped.
Everything in this package that builds HTML escapes what it did not write itself.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

__all__ = ["ErrorList", "SafeHTML", "conditional_escape", "format_attrs"]

# SECURITY: developer-given attribute names are checked once, when a field is declared; a name
# with a quote, ">" or "=" would let the value break out of the tag.
_ATTR_NAME = re.compile(r"[A-Za-z_:][-A-Za-z0-9_:.]*")


class SafeHTML(str):
    """A string of HTML that is already safe to insert: templates do not escape it again.

    It is a ``str`` subclass with ``__html__`` (the markupsafe protocol), so Jinja2 with
    autoescape inserts it unchanged. Concatenating it with a plain ``str`` gives a plain ``str``.
    """

    __slots__ = ()

    def __html__(self) -> SafeHTML:
        """This string, marked safe (the protocol Jinja2 and markupsafe check for)."""
        return self


def escape(value: object) -> str:
    """``html.escape(str(value), quote=True)``: escapes ``& < > " '``."""
    return html.escape(str(value), quote=True)


def conditional_escape(value: object) -> str:
    """Escape ``value`` unless it declares itself safe with ``__html__``."""
    to_html = getattr(value, "__html__", None)
    if to_html is not None:
        return str(to_html())
    return html.escape(str(value), quote=True)


def check_attrs(attrs: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
    """Validate developer-given attribute names once; return a copy.

    Raises:
        ValueError: a name that is not a valid HTML attribute name.
    """
    if not attrs:
        return {}
    for name in attrs:
        if not isinstance(name, str) or _ATTR_NAME.fullmatch(name) is None:
            raise ValueError(
                f"{where}: {name!r} is not a valid HTML attribute name; use letters, digits, "
                "'-', '_', ':' and '.', starting with a letter."
            )
    return dict(attrs)


def attr_value(value: Any) -> str:
    """How a Python value is written in an attribute: dates in ISO form, the rest as ``str``."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def format_attrs(attrs: Mapping[str, Any]) -> str:
    """`` name="value"`` pairs, values escaped; ``True`` gives a bare name, ``False``/``None``
    leaves the attribute out."""
    out = []
    for name, value in attrs.items():
        if value is True:
            out.append(f" {name}")
        elif value is not False and value is not None:
            out.append(f' {name}="{html.escape(attr_value(value), quote=True)}"')
    return "".join(out)


class ErrorList(list[str]):
    """A field's (or the form's) error messages: a ``list[str]`` that renders as HTML.

    ``{{ form.email.errors }}`` gives ``<ul class="errorlist" id="id_email_error">`` with one
    ``<li>`` per message (escaped), or nothing when there are no errors. Compare and iterate it
    as a plain list.
    """

    __slots__ = ("css_class", "html_id")

    def __init__(
        self, messages: Iterable[str] = (), *, html_id: str = "", css_class: str = "errorlist"
    ) -> None:
        super().__init__(messages)
        self.html_id = html_id
        self.css_class = css_class

    def as_ul(self) -> SafeHTML:
        """The messages as ``<ul class="errorlist">``, or an empty string without messages."""
        if not self:
            return SafeHTML("")
        id_attr = f' id="{escape(self.html_id)}"' if self.html_id else ""
        items = "".join(f"<li>{conditional_escape(message)}</li>" for message in self)
        return SafeHTML(f'<ul class="{escape(self.css_class)}"{id_attr}>{items}</ul>')

    def __html__(self) -> SafeHTML:
        """The ``<ul>`` (see ``as_ul``); what Jinja2 inserts for ``{{ errors }}``."""
        return self.as_ul()

    def __str__(self) -> str:
        return self.as_ul()

    def copy(self) -> ErrorList:
        """A copy with the same id and class."""
        return ErrorList(self, html_id=self.html_id, css_class=self.css_class)
