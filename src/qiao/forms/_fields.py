"""``Field``, the base of every field, and the text fields: ``CharField``, ``EmailField``,
``URLField``, ``RegexField``, ``PasswordField``, ``HiddenField``.

A field is declared once, as a class attribute of a form, and shared by every instance of that
form: it holds configuration only (its validators, widget, HTML attributes and messages are
built when it is declared). Cleaning turns the submitted strings into a Python value:

    raw strings -> (one value?) -> text -> strip -> required check -> to_python -> validators
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, overload

from qiao.forms._html import check_attrs
from qiao.forms._validators import URL, Email, Length, Regex, ValidationError, Validator
from qiao.forms._widgets import Input, Widget
from qiao.http.forms import FormData

if TYPE_CHECKING:
    from typing import Self

    from qiao.forms._bound import BoundField
    from qiao.forms._form import Form

__all__ = [
    "CharField",
    "EmailField",
    "Field",
    "HiddenField",
    "PasswordField",
    "RegexField",
    "URLField",
]

T = TypeVar("T")

#: The messages every field can produce, by code; fields add their own in ``default_messages``.
MESSAGES = {
    "required": "This field is required.",
    "invalid": "Enter a valid value.",
    "multiple": "Enter a single value.",
    "null_characters": "Null characters are not allowed.",
}


def submitted_values(data: Any, name: str) -> list[Any]:
    """Every value submitted under ``name``: from ``FormData`` text fields, anything with
    ``getlist`` (``MultiDict``, Werkzeug, Django's ``QueryDict``) or a plain mapping whose value
    may be a list."""
    if isinstance(data, FormData):
        return data.fields.getlist(name)
    getlist = getattr(data, "getlist", None)
    if getlist is not None:
        return list(getlist(name))
    if name not in data:
        return []
    value = data[name]
    return list(value) if isinstance(value, (list, tuple)) else [value]


class Field(Generic[T]):
    """A form field: how one input is parsed, validated and rendered.

    Args:
        required: an empty or missing value is an error (``"required"``). When False an empty
            value cleans to the field's ``empty_value`` (``None``; ``""`` for text, ``False``
            for checkboxes, ``[]`` for multiple choices).
        label: the ``<label>`` text; default: the attribute name, ``first_name`` → "First name".
        help_text: shown under the field (escaped unless it is ``SafeHTML``).
        initial: the value an unbound form shows (a Python value, or a callable returning one).
        validators: callables run on the cleaned value, after the built-in checks.
        widget: how to render the field (default depends on the field: ``Input("email")``...).
        attrs: extra HTML attributes (``{"class": "wide", "autocomplete": "email"}``).
        error_messages: replace messages by code (``{"required": "We need your name."}``).
            Messages may use the error's ``{params}``.
        disabled: render the input ``disabled`` and ignore what is submitted: the cleaned
            value is the initial value.

    Raises:
        ValueError: an invalid HTML attribute name in ``attrs``.
    """

    #: the ``<input type>`` of the default widget
    input_type: ClassVar[str] = "text"
    #: True for fields that take every value submitted under their name
    multi_valued: ClassVar[bool] = False
    #: False for fields whose value must never be sent back to the browser (passwords, files)
    renders_value: ClassVar[bool] = True
    #: messages by code that this class adds to ``MESSAGES``
    default_messages: ClassVar[dict[str, str]] = {}
    #: the cleaned value of an empty, optional field
    empty_value: Any = None
    #: the attribute name, set when the field is declared on a form class
    name: str = ""

    def __init__(
        self,
        *,
        required: bool = True,
        label: str | None = None,
        help_text: str = "",
        initial: Any = None,
        validators: Iterable[Validator] = (),
        widget: Widget | None = None,
        attrs: Mapping[str, Any] | None = None,
        error_messages: Mapping[str, str] | None = None,
        disabled: bool = False,
    ) -> None:
        self.required = required
        self.label = label
        self.help_text = help_text
        self.initial = initial
        self.validators: list[Validator] = list(validators)
        self.widget = widget if widget is not None else self.default_widget()
        self.attrs = check_attrs(attrs, f"{type(self).__name__}(attrs=...)")
        self.disabled = disabled
        messages: dict[str, str] = dict(MESSAGES)
        for klass in reversed(type(self).__mro__):
            messages.update(vars(klass).get("default_messages", {}))
        self._overrides = dict(error_messages or {})
        self.error_messages = {**messages, **self._overrides}

    # -- declaration --------------------------------------------------------------------------
    def __set_name__(self, owner: type[Any], name: str) -> None:
        # NOTE: the first name sticks: a field object reused under another name (on this form
        # or another) would otherwise rename the first; ``Form`` refuses such reuse.
        if not self.name:
            self.name = name

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, instance: Form, owner: type[Any]) -> BoundField: ...
    def __get__(self, instance: Form | None, owner: type[Any]) -> Self | BoundField:
        """On the class, the field; on a form, its ``BoundField`` (``form.email``)."""
        if instance is None:
            return self
        return instance[self.name]

    def default_widget(self) -> Widget:
        """The widget used when none is given: ``Input(self.input_type)``."""
        return Input(self.input_type)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name or '(unnamed)'}>"

    # -- cleaning -----------------------------------------------------------------------------
    def error(self, code: str, **params: Any) -> ValidationError:
        """A ``ValidationError`` with this field's message for ``code``."""
        return ValidationError(self.error_messages[code], code=code, params=params)

    def values_from(self, data: Any, html_name: str) -> list[Any]:
        """What was submitted for this field (several values if the name repeats)."""
        return submitted_values(data, html_name)

    def as_text(self, raw: Any) -> str:
        """One submitted value as a string; numbers and dates from a plain dict are accepted.

        Raises:
            ValidationError: ``invalid`` for other types, ``null_characters`` for NUL.
        """
        if isinstance(raw, str):
            text = raw
        elif isinstance(raw, (int, float, Decimal, date)):
            text = raw.isoformat() if isinstance(raw, date) else str(raw)
        else:
            raise self.error("invalid")
        if "\x00" in text:
            # SECURITY: PostgreSQL refuses NUL in text; it would surface as a 500 later.
            raise self.error("null_characters")
        return text

    def clean(self, values: list[Any]) -> T | None:
        """Parse and validate the submitted values; return the Python value.

        Raises:
            ValidationError: the messages to show; ``error_messages`` overrides applied.
        """
        try:
            return self._clean(values)
        except ValidationError as exc:
            raise self._override(exc) from None

    def _clean(self, values: list[Any]) -> T | None:
        if len(values) > 1:
            raise self.error("multiple")
        text = self.prepare(self.as_text(values[0])) if values and values[0] is not None else ""
        if not text:
            if self.required:
                raise self.error("required")
            return self.empty_value  # type: ignore[no-any-return]
        value = self.to_python(text)
        self.run_validators(value)
        return value

    def prepare(self, text: str) -> str:
        """Normalise the text before parsing (fields strip surrounding whitespace)."""
        return text.strip()

    def to_python(self, text: str) -> T:
        """Parse non-empty text into the field's type.

        Raises:
            ValidationError: usually code ``invalid``.
        """
        return text  # type: ignore[return-value]

    def run_validators(self, value: Any) -> None:
        """Run every validator; collect all their errors into one ``ValidationError``."""
        errors: list[ValidationError] = []
        for validator in self.validators:
            try:
                validator(value)
            except ValidationError as exc:
                errors.append(self._override(exc))
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise ValidationError([m for exc in errors for m in exc.messages], code=errors[0].code)

    def _override(self, exc: ValidationError) -> ValidationError:
        template = self._overrides.get(exc.code or "")
        if template is None:
            return exc
        return ValidationError(template, code=exc.code, params=exc.params)

    # -- rendering ----------------------------------------------------------------------------
    def format_value(self, value: Any) -> str | list[str]:
        """A Python value (``initial``) as the string the widget shows."""
        return "" if value is None else str(value)

    def extra_attrs(self) -> dict[str, Any]:
        """Attributes this kind of field adds (``step``, ``accept``...)."""
        return {}

    @cached_property
    def html_attrs(self) -> dict[str, Any]:
        """Every attribute the input gets from the field, computed once: ``required``,
        ``disabled``, the validators' (``maxlength``, ``min``...), the field's own, then the
        widget's and ``attrs`` (which win)."""
        attrs: dict[str, Any] = {}
        if self.required and self.widget.input_type != "hidden":
            attrs["required"] = True
        if self.disabled:
            attrs["disabled"] = True
        for validator in self.validators:
            html_attrs: Callable[[], dict[str, Any]] | None = getattr(validator, "html_attrs", None)
            if html_attrs is not None:
                attrs.update({k: v for k, v in html_attrs().items() if v is not None})
        attrs.update(self.extra_attrs())
        attrs.update(self.widget.attrs)
        attrs.update(self.attrs)
        return attrs


class CharField(Field[str]):
    """Text: ``<input type="text">`` (or ``widget=Textarea()``); cleans to ``str``.

    Args:
        min_length / max_length: bounds on the length (after stripping); also rendered as
            ``minlength`` / ``maxlength``.
        strip: remove surrounding whitespace (default True).
        empty_value: the cleaned value of an empty optional field (default ``""``).
        **options: the ``Field`` options.
    """

    empty_value: Any = ""

    def __init__(
        self,
        *,
        min_length: int | None = None,
        max_length: int | None = None,
        strip: bool = True,
        empty_value: Any = "",
        validators: Iterable[Validator] = (),
        **options: Any,
    ) -> None:
        own: list[Validator] = []
        if min_length is not None or max_length is not None:
            own.append(Length(min_length, max_length))
        super().__init__(validators=[*own, *validators], **options)
        self.min_length = min_length
        self.max_length = max_length
        self.strip = strip
        self.empty_value = empty_value

    def prepare(self, text: str) -> str:
        """Strip whitespace if ``strip`` is set."""
        return text.strip() if self.strip else text


class EmailField(CharField):
    """An e-mail address: ``<input type="email">``, checked by ``Email()``; cleans to ``str``."""

    input_type = "email"

    def __init__(self, *, validators: Iterable[Validator] = (), **options: Any) -> None:
        super().__init__(validators=[Email(), *validators], **options)


class URLField(CharField):
    """An absolute http(s) URL: ``<input type="url">``; cleans to ``str``.

    Args:
        schemes: the accepted schemes.
        assume_scheme: prepended (``"https://"``) when the user typed no scheme.
        **options: the ``CharField`` options.
    """

    input_type = "url"

    def __init__(
        self,
        *,
        schemes: Iterable[str] = ("http", "https"),
        assume_scheme: str = "https",
        validators: Iterable[Validator] = (),
        **options: Any,
    ) -> None:
        check = URL(tuple(schemes))
        super().__init__(validators=[check, *validators], **options)
        self.assume_scheme = assume_scheme
        self._scheme_prefixes = tuple(scheme + ":" for scheme in check.schemes)

    def to_python(self, text: str) -> str:
        """Add ``assume_scheme://`` to a URL typed without a scheme (``example.com/a``)."""
        if "://" not in text and not text.lower().startswith(self._scheme_prefixes):
            text = f"{self.assume_scheme}://{text}"
        return text


class RegexField(CharField):
    """Text that must match ``regex`` (``re.search``; anchor it yourself).

    Args:
        regex: the pattern.
        message: the error message (code ``invalid``), default "Enter a valid value.".
        **options: the ``CharField`` options.
    """

    def __init__(
        self,
        regex: str | re.Pattern[str],
        *,
        message: str | None = None,
        validators: Iterable[Validator] = (),
        **options: Any,
    ) -> None:
        check = Regex(regex, message or MESSAGES["invalid"])
        super().__init__(validators=[check, *validators], **options)


class PasswordField(CharField):
    """A password: ``<input type="password">``, never rendered with a value (not even after a
    failed submission); not stripped."""

    input_type = "password"
    renders_value = False

    def __init__(self, *, strip: bool = False, **options: Any) -> None:
        super().__init__(strip=strip, **options)


class HiddenField(CharField):
    """``<input type="hidden">``; rendered after the visible fields, and its errors are shown
    with the form's own errors."""

    input_type = "hidden"
