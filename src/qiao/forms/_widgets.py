"""Widgets: how a field becomes HTML (``<input>``, ``<textarea>``, ``<select>``, radio groups).

A widget gets the field's name, the value to show (already a string, or a list of strings for
multi-valued fields), the attributes the field computed (``id``, ``required``, ``maxlength``,
``aria-*``...) and, for choice widgets, the choices. It escapes everything it writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from qiao.forms._html import SafeHTML, check_attrs, escape, format_attrs

__all__ = [
    "Checkbox",
    "CheckboxSelectMultiple",
    "Input",
    "RadioSelect",
    "Select",
    "Textarea",
    "Widget",
]

#: ``(value, label)`` for an option, or ``(group label, [(value, label), ...])`` for an optgroup.
RenderChoices = Sequence[tuple[str, "str | Sequence[tuple[str, str]]"]]

#: Submitted strings a checkbox reads as unchecked (``"on"`` and anything else is checked).
FALSE_STRINGS = frozenset({"", "0", "false", "off"})


class Widget:
    """Base class: ``render`` returns ``SafeHTML``.

    Args:
        attrs: extra attributes for the element (``{"class": "wide", "rows": 4}``); they win
            over the ones the field computes. ``True`` gives a bare attribute.

    Raises:
        ValueError: an attribute name that is not a valid HTML name.
    """

    #: the ``type`` of the ``<input>`` (``"hidden"`` makes a field hidden); ``""`` if none
    input_type: str = ""

    def __init__(self, attrs: Mapping[str, Any] | None = None) -> None:
        self.attrs = check_attrs(attrs, type(self).__name__)

    def render(
        self, name: str, value: str | list[str], attrs: dict[str, Any], choices: RenderChoices = ()
    ) -> SafeHTML:
        """The element for field ``name`` showing ``value``.

        Args:
            name: the ``name`` attribute (with the form's prefix).
            value: what to show: the submitted string(s) of a bound form, or the initial value
                formatted as a string.
            attrs: attributes computed by the field (``id``, ``required``, ``aria-invalid``...).
            choices: for choice widgets, the options.
        """
        raise NotImplementedError

    def id_for_label(self, html_id: str) -> str:
        """The id a ``<label for=...>`` should point at: the element's own ``html_id``."""
        return html_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}(attrs={self.attrs!r})"


class Input(Widget):
    """``<input type="...">``: text, email, number, date, datetime-local, url, password, hidden,
    file...

    Args:
        input_type: the ``type`` attribute.
        attrs: extra attributes.
    """

    def __init__(self, input_type: str = "text", attrs: Mapping[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.input_type = input_type

    def render(
        self, name: str, value: str | list[str], attrs: dict[str, Any], choices: RenderChoices = ()
    ) -> SafeHTML:
        """``<input type=... name=... value=...>``; no ``value`` when it is empty."""
        shown = value[0] if isinstance(value, list) and value else value
        value_attr = f' value="{escape(shown)}"' if shown else ""
        return SafeHTML(
            f'<input type="{escape(self.input_type)}" name="{escape(name)}"{value_attr}'
            f"{format_attrs(attrs)}>"
        )

    def __repr__(self) -> str:
        return f"Input({self.input_type!r}, attrs={self.attrs!r})"


class Checkbox(Widget):
    """``<input type="checkbox">``, ``checked`` unless the value is empty, ``0``, ``false`` or
    ``off``."""

    input_type = "checkbox"

    def render(
        self, name: str, value: str | list[str], attrs: dict[str, Any], choices: RenderChoices = ()
    ) -> SafeHTML:
        """The checkbox, checked or not."""
        shown = value[0] if isinstance(value, list) and value else value
        checked = " checked" if str(shown).lower() not in FALSE_STRINGS else ""
        return SafeHTML(
            f'<input type="checkbox" name="{escape(name)}"{checked}{format_attrs(attrs)}>'
        )


class Textarea(Widget):
    """``<textarea>``; the value is escaped text content."""

    def render(
        self, name: str, value: str | list[str], attrs: dict[str, Any], choices: RenderChoices = ()
    ) -> SafeHTML:
        """The textarea with ``value`` inside."""
        shown = value[0] if isinstance(value, list) and value else value
        # NOTE: browsers drop one newline right after <textarea>; this one keeps a value that
        # starts with a newline intact.
        return SafeHTML(
            f'<textarea name="{escape(name)}"{format_attrs(attrs)}>\n{escape(shown)}</textarea>'
        )


def _selected(value: str | list[str]) -> set[str]:
    return set(value) if isinstance(value, list) else {value}


def _flat(choices: RenderChoices) -> list[tuple[str, str]]:
    flat: list[tuple[str, str]] = []
    for key, label in choices:
        if isinstance(label, str):
            flat.append((key, label))
        else:
            flat.extend(label)
    return flat


class Select(Widget):
    """``<select>`` with ``<option>`` and ``<optgroup>``; ``multiple`` for multi-valued fields."""

    def render(
        self, name: str, value: str | list[str], attrs: dict[str, Any], choices: RenderChoices = ()
    ) -> SafeHTML:
        """The select with the shown value(s) ``selected``."""
        selected = _selected(value)

        def option(key: str, label: str) -> str:
            mark = " selected" if key in selected else ""
            return f'<option value="{escape(key)}"{mark}>{escape(label)}</option>'

        parts = [f'<select name="{escape(name)}"{format_attrs(attrs)}>']
        for key, label in choices:
            if isinstance(label, str):
                parts.append(option(key, label))
            else:
                parts.append(f'<optgroup label="{escape(key)}">')
                parts.extend(option(k, v) for k, v in label)
                parts.append("</optgroup>")
        parts.append("</select>")
        return SafeHTML("".join(parts))


class RadioSelect(Widget):
    """A ``<div>`` of radio buttons, each inside its ``<label>``; ids ``<id>_0``, ``<id>_1``..."""

    _type: ClassVar[str] = "radio"

    def id_for_label(self, html_id: str) -> str:
        """The first option's id: the field's label then focuses the first choice."""
        return f"{html_id}_0" if html_id else ""

    def render(
        self, name: str, value: str | list[str], attrs: dict[str, Any], choices: RenderChoices = ()
    ) -> SafeHTML:
        """The group; the shown value(s) ``checked``."""
        selected = _selected(value)
        attrs = dict(attrs)
        base_id = str(attrs.pop("id", "") or "")
        if self._type == "checkbox":
            attrs.pop("required", None)  # required on each box would demand every box
        group_id = f' id="{escape(base_id)}"' if base_id else ""
        parts = [f"<div{group_id}>"]
        for index, (key, label) in enumerate(_flat(choices)):
            item_id = f"{base_id}_{index}" if base_id else ""
            id_attr = f' id="{escape(item_id)}"' if item_id else ""
            for_attr = f' for="{escape(item_id)}"' if item_id else ""
            checked = " checked" if key in selected else ""
            parts.append(
                f'<div><label{for_attr}><input type="{self._type}" name="{escape(name)}" '
                f'value="{escape(key)}"{id_attr}{checked}{format_attrs(attrs)}> '
                f"{escape(label)}</label></div>"
            )
        parts.append("</div>")
        return SafeHTML("".join(parts))


class CheckboxSelectMultiple(RadioSelect):
    """A ``<div>`` of checkboxes for a ``MultipleChoiceField``."""

    _type = "checkbox"
