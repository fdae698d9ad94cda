"""Fields that pick from a list or take a file: ``ChoiceField``, ``MultipleChoiceField``,
``FileField``."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from qiao.forms._fields import Field
from qiao.forms._validators import Validator
from qiao.forms._widgets import RenderChoices, Select, Widget
from qiao.http.forms import FormData, UploadFile

__all__ = ["ChoiceField", "FileField", "MultipleChoiceField"]

_MISSING: Any = object()


def choice_key(value: Any) -> str:
    """The string a choice is submitted as: ``str(value)``, or ``str(member.value)`` for an
    ``Enum`` member."""
    if isinstance(value, enum.Enum):
        return str(value.value)
    return "" if value is None else str(value)


def _label(value: Any) -> str:
    if isinstance(value, enum.Enum):
        label = getattr(value, "label", None)
        return str(label) if label is not None else value.name.replace("_", " ").capitalize()
    return str(value)


def _normalise(
    choices: Iterable[Any], where: str
) -> tuple[dict[str, Any], list[tuple[str, str | list[tuple[str, str]]]]]:
    """``(value by submitted key, choices to render)`` from ``[(value, label) | value, ...]``,
    with ``(group label, [(value, label), ...])`` for optgroups."""
    by_key: dict[str, Any] = {}
    rendered: list[tuple[str, str | list[tuple[str, str]]]] = []

    def one(entry: Any) -> tuple[str, str]:
        if isinstance(entry, (tuple, list)):
            if len(entry) != 2:
                raise ValueError(
                    f"{where}: choice {entry!r} should be a value or a (value, label) pair."
                )
            value, label = entry
        else:
            value, label = entry, _label(entry)
        key = choice_key(value)
        by_key[key] = value
        return key, str(label)

    for entry in choices:
        is_group = (
            isinstance(entry, (tuple, list))
            and len(entry) == 2
            and isinstance(entry[1], (list, tuple))
        )
        if is_group:
            rendered.append((str(entry[0]), [one(sub) for sub in entry[1]]))
        else:
            rendered.append(one(entry))
    return by_key, rendered


class ChoiceField(Field[Any]):
    """One value from ``choices``: a ``<select>`` (or ``widget=RadioSelect()``).

    The cleaned value is the choice's own value, with its type: ``choices=[(1, "One")]``
    cleans ``"1"`` to ``1``, and ``choices=Colour`` (an ``Enum``) cleans to the member.

    Args:
        choices: values, ``(value, label)`` pairs, ``(group label, [(value, label), ...])``
            optgroups, or an ``Enum`` class.
        coerce: applied to the chosen value (``coerce=Decimal``); a ``ValueError`` or
            ``TypeError`` it raises is an ``invalid_choice`` error.
        empty_label: the first, empty option of a ``<select>`` for an optional field.
        **options: the ``Field`` options.

    Raises:
        ValueError: a malformed choice.
    """

    default_messages: ClassVar[dict[str, str]] = {
        "invalid_choice": "Select a valid choice. {value} is not one of the available choices."
    }

    def __init__(
        self,
        choices: Iterable[Any],
        *,
        coerce: Callable[[Any], Any] | None = None,
        empty_label: str = "---------",
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.by_key, self.render_choices = _normalise(choices, type(self).__name__)
        self.coerce = coerce
        self.empty_label = empty_label

    def default_widget(self) -> Widget:
        """``Select()``."""
        return Select()

    @property
    def choices(self) -> RenderChoices:
        """The options to render: ``(key, label)`` pairs and optgroups, with the empty option
        first for an optional ``<select>``."""
        if not self.required and isinstance(self.widget, Select) and "" not in self.by_key:
            return [("", self.empty_label), *self.render_choices]
        return self.render_choices

    def prepare(self, text: str) -> str:
        """Keys are matched exactly; no stripping."""
        return text

    def to_python(self, text: str) -> Any:
        """The choice whose key is ``text``, coerced."""
        value = self.by_key.get(text, _MISSING)
        if value is _MISSING:
            raise self.error("invalid_choice", value=text)
        if self.coerce is not None:
            try:
                value = self.coerce(value)
            except (ValueError, TypeError, ArithmeticError):
                raise self.error("invalid_choice", value=text) from None
        return value

    def format_value(self, value: Any) -> str | list[str]:
        """A choice value as its key."""
        return choice_key(value)


class MultipleChoiceField(ChoiceField):
    """Any number of values from ``choices``: ``<select multiple>`` (or
    ``widget=CheckboxSelectMultiple()``); cleans to a ``list`` in submitted order, without
    repeats. Empty and optional cleans to ``[]``.
    """

    multi_valued = True

    @property
    def choices(self) -> RenderChoices:
        """The options; no empty option."""
        return self.render_choices

    def _clean(self, values: list[Any]) -> list[Any]:
        keys = [self.as_text(raw) for raw in values if raw is not None]
        keys = [key for key in keys if key != ""]
        if not keys:
            if self.required:
                raise self.error("required")
            return []
        cleaned: list[Any] = []
        seen: set[str] = set()
        for key in keys:
            if key not in seen:
                seen.add(key)
                cleaned.append(self.to_python(key))
        self.run_validators(cleaned)
        return cleaned

    def format_value(self, value: Any) -> list[str]:
        """Each value as its key."""
        if value is None:
            return []
        if isinstance(value, (str, enum.Enum)) or not isinstance(value, Iterable):
            return [choice_key(value)]
        return [choice_key(v) for v in value]

    def extra_attrs(self) -> dict[str, Any]:
        """``multiple`` for a ``<select>``."""
        return {"multiple": True} if isinstance(self.widget, Select) else {}


class FileField(Field[UploadFile]):
    """An uploaded file: ``<input type="file">``; cleans to an ``UploadFile``.

    The form must be sent with ``enctype="multipart/form-data"`` (``form.is_multipart()``
    says so). A file is never re-rendered: browsers do not allow it.

    SECURITY: ``content_type`` and the file name are chosen by the client; check the bytes
    (``upload.read(16)``) when the type matters, and store files under names you choose.

    Args:
        max_size: most bytes (``"max_size"`` error); the app's ``MAX_FILE_SIZE`` still
            applies first, while the upload streams in.
        content_types: accepted media types (``"image/png"``, ``"image/*"``); also ``accept``.
        extensions: accepted file name endings (``".pdf"``), case-insensitive; also ``accept``.
        allow_empty: accept a file of zero bytes.
        **options: the ``Field`` options.
    """

    input_type = "file"
    renders_value = False
    default_messages: ClassVar[dict[str, str]] = {
        "required": "No file was submitted.",
        "invalid": "No file was submitted. Check the form's encoding type "
        '(enctype="multipart/form-data").',
        "empty": "The submitted file is empty.",
        "max_size": "Ensure this file is at most {max_size} bytes (it is {size}).",
        "content_type": "Files of type {content_type} are not allowed.",
        "extension": "File extension {extension} is not allowed; use one of {allowed}.",
    }

    def __init__(
        self,
        *,
        max_size: int | None = None,
        content_types: Iterable[str] = (),
        extensions: Iterable[str] = (),
        allow_empty: bool = False,
        validators: Iterable[Validator] = (),
        **options: Any,
    ) -> None:
        super().__init__(validators=validators, **options)
        self.max_size = max_size
        self.content_types = tuple(t.lower() for t in content_types)
        self.extensions = tuple("." + e.lower().lstrip(".") for e in extensions)
        self.allow_empty = allow_empty

    def values_from(self, data: Any, html_name: str) -> list[Any]:
        """The uploads under ``html_name`` (``FormData.files``), or what a plain mapping holds."""
        if isinstance(data, FormData):
            uploads: list[Any] = data.files.getlist(html_name)
            # Text under a file field's name: the form was sent without multipart encoding.
            return uploads or [text for text in data.fields.getlist(html_name) if text]
        return [v for v in super().values_from(data, html_name) if v is not None and v != ""]

    def _clean(self, values: list[Any]) -> UploadFile | None:
        if len(values) > 1:
            raise self.error("multiple")
        if not values:
            if self.required:
                raise self.error("required")
            return None
        upload = values[0]
        if not isinstance(upload, UploadFile):
            raise self.error("invalid")
        self._check(upload)
        self.run_validators(upload)
        return upload

    def _check(self, upload: UploadFile) -> None:
        if upload.size == 0 and not self.allow_empty:
            raise self.error("empty")
        if self.max_size is not None and upload.size > self.max_size:
            raise self.error("max_size", max_size=self.max_size, size=upload.size)
        if self.content_types:
            media = upload.content_type.split(";", 1)[0].strip().lower()
            family = media.split("/", 1)[0] + "/*"
            if media not in self.content_types and family not in self.content_types:
                raise self.error("content_type", content_type=media or "(none)")
        if self.extensions:
            name = upload.filename.lower()
            if not name.endswith(self.extensions):
                extension = "." + name.rsplit(".", 1)[1] if "." in name else "(none)"
                raise self.error(
                    "extension", extension=extension, allowed=", ".join(self.extensions)
                )

    def format_value(self, value: Any) -> str:
        """Always ``""``: a file input cannot be given a value."""
        return ""

    def extra_attrs(self) -> dict[str, Any]:
        """``accept`` from ``content_types`` and ``extensions``."""
        accept = ",".join((*self.content_types, *self.extensions))
        return {"accept": accept} if accept else {}
