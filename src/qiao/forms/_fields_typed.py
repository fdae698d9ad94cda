"""Fields that parse text into numbers, dates and booleans: ``IntegerField``,
``DecimalField``, ``DateField``, ``DateTimeField``, ``BooleanField``.

SECURITY: every parser matches a strict ASCII pattern before converting. ``int()`` alone
accepts ``"1_0"``, ``" 1 "``, Arabic-Indic digits (``"١٢"``) and raises on 5,000-digit strings;
``Decimal()`` accepts ``"NaN"``, ``"Infinity"`` and ``"1e999999999"``; ``strptime`` matches
non-ASCII digits. Each of those is an ``invalid`` error here, never an exception.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any, ClassVar

from qiao.forms._fields import Field
from qiao.forms._validators import Range, Validator
from qiao.forms._widgets import FALSE_STRINGS, Checkbox, Widget

__all__ = ["BooleanField", "DateField", "DateTimeField", "DecimalField", "IntegerField"]

#: Longest integer accepted: far past any database column, far below Python's 4,300-digit limit.
MAX_INTEGER_DIGITS = 100
#: Longest decimal text accepted (sign, digits, point and exponent).
MAX_DECIMAL_LENGTH = 100
#: Longest date or date-time text tried against ``input_formats``.
MAX_DATE_LENGTH = 64

_INTEGER = re.compile(rf"-?[0-9]{{1,{MAX_INTEGER_DIGITS}}}")
# NOTE: what <input type="number"> submits (a "valid floating-point number"), with the exponent
# bounded so a value can never be astronomically large.
_DECIMAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]{1,2})?")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# What <input type="datetime-local"> submits, with optional seconds, fraction and offset.
_ISO_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})?"
)


def _strptime(field: Field[Any], text: str, formats: Sequence[str]) -> datetime:
    """The first of ``formats`` that parses ``text``; ASCII text only (``strptime`` reads
    ``%d`` with ``\\d``, which matches every script's digits)."""
    if len(text) <= MAX_DATE_LENGTH and text.isascii():
        for fmt in formats:
            try:
                return datetime.strptime(text, fmt)
            except ValueError:
                continue
    raise field.error("invalid")


def _range(validators: Iterable[Validator], low: Any, high: Any) -> list[Validator]:
    own: list[Validator] = [Range(low, high)] if low is not None or high is not None else []
    return [*own, *validators]


class IntegerField(Field[int]):
    """A whole number: ``<input type="number">``; cleans to ``int``.

    Accepts an optional ``-`` and up to ``MAX_INTEGER_DIGITS`` ASCII digits, nothing else.

    Args:
        min_value / max_value: inclusive bounds; also rendered as ``min`` / ``max``.
        **options: the ``Field`` options.
    """

    input_type = "number"
    default_messages: ClassVar[dict[str, str]] = {"invalid": "Enter a whole number."}

    def __init__(
        self,
        *,
        min_value: int | None = None,
        max_value: int | None = None,
        validators: Iterable[Validator] = (),
        **options: Any,
    ) -> None:
        super().__init__(validators=_range(validators, min_value, max_value), **options)
        self.min_value = min_value
        self.max_value = max_value

    def to_python(self, text: str) -> int:
        """Parse ``-?[0-9]+``."""
        if _INTEGER.fullmatch(text) is None:
            raise self.error("invalid")
        return int(text)


class DecimalField(Field[Decimal]):
    """A decimal number: ``<input type="number" step=...>``; cleans to ``Decimal``.

    Accepts what a number input submits (``-1.5``, ``.5``, ``2e3``); never NaN or infinities.

    Args:
        max_digits: most digits in total.
        decimal_places: most digits after the point (``"1.50"`` has two); sets ``step``.
        min_value / max_value: inclusive bounds; also rendered as ``min`` / ``max``.
        **options: the ``Field`` options.
    """

    input_type = "number"
    default_messages: ClassVar[dict[str, str]] = {
        "invalid": "Enter a number.",
        "max_digits": "Ensure that there are no more than {max} digits in total.",
        "max_decimal_places": "Ensure that there are no more than {max} decimal places.",
        "max_whole_digits": "Ensure that there are no more than {max} digits before the "
        "decimal point.",
    }

    def __init__(
        self,
        *,
        max_digits: int | None = None,
        decimal_places: int | None = None,
        min_value: Decimal | int | None = None,
        max_value: Decimal | int | None = None,
        validators: Iterable[Validator] = (),
        **options: Any,
    ) -> None:
        super().__init__(validators=_range(validators, min_value, max_value), **options)
        self.max_digits = max_digits
        self.decimal_places = decimal_places
        self.min_value = min_value
        self.max_value = max_value

    def to_python(self, text: str) -> Decimal:
        """Parse the number, then check ``max_digits`` and ``decimal_places``."""
        if len(text) > MAX_DECIMAL_LENGTH or _DECIMAL.fullmatch(text) is None:
            raise self.error("invalid")
        value = Decimal(text)
        self._check_digits(value)
        return value

    def _check_digits(self, value: Decimal) -> None:
        _, digit_tuple, exponent = value.as_tuple()
        assert isinstance(exponent, int)  # the pattern admits no NaN or infinity
        if exponent >= 0:
            digits = 0 if digit_tuple == (0,) else len(digit_tuple) + exponent
            decimals = 0
        else:
            digits = max(len(digit_tuple), -exponent)
            decimals = -exponent
        if self.max_digits is not None and digits > self.max_digits:
            raise self.error("max_digits", max=self.max_digits)
        if self.decimal_places is not None and decimals > self.decimal_places:
            raise self.error("max_decimal_places", max=self.decimal_places)
        if (
            self.max_digits is not None
            and self.decimal_places is not None
            and digits - decimals > self.max_digits - self.decimal_places
        ):
            raise self.error("max_whole_digits", max=self.max_digits - self.decimal_places)

    def format_value(self, value: Any) -> str:
        """Decimals in fixed-point notation (never ``1E+3``)."""
        if isinstance(value, Decimal):
            return format(value, "f")
        return super().format_value(value)  # type: ignore[return-value]

    def extra_attrs(self) -> dict[str, Any]:
        """``step``: ``0.01`` for two decimal places, ``any`` when unlimited."""
        if self.decimal_places is None:
            return {"step": "any"}
        return {"step": format(Decimal(1).scaleb(-self.decimal_places), "f")}


class DateField(Field[date]):
    """A date: ``<input type="date">``; cleans to ``datetime.date``.

    Accepts ISO ``YYYY-MM-DD`` (what date inputs submit), then each of ``input_formats``.

    Args:
        input_formats: extra ``strptime`` formats (``["%d/%m/%Y"]``), tried in order; only
            ASCII text is tried.
        min_value / max_value: inclusive bounds; also rendered as ``min`` / ``max``.
        **options: the ``Field`` options.
    """

    input_type = "date"
    default_messages: ClassVar[dict[str, str]] = {"invalid": "Enter a valid date."}

    def __init__(
        self,
        *,
        input_formats: Sequence[str] = (),
        min_value: date | None = None,
        max_value: date | None = None,
        validators: Iterable[Validator] = (),
        **options: Any,
    ) -> None:
        if isinstance(min_value, datetime) or isinstance(max_value, datetime):
            raise ValueError(
                "DateField: min_value/max_value must be dates, not datetimes (a date never "
                "compares with a datetime); use .date()."
            )
        super().__init__(validators=_range(validators, min_value, max_value), **options)
        self.input_formats = tuple(input_formats)
        self.min_value = min_value
        self.max_value = max_value

    def to_python(self, text: str) -> date:
        """Parse ISO, then ``input_formats``."""
        if _ISO_DATE.fullmatch(text) is not None:
            try:
                return date.fromisoformat(text)
            except ValueError:
                raise self.error("invalid") from None
        return _strptime(self, text, self.input_formats).date()

    def format_value(self, value: Any) -> str:
        """Dates as ``YYYY-MM-DD`` (what a date input shows)."""
        if isinstance(value, date):
            return value.isoformat()[:10]
        return super().format_value(value)  # type: ignore[return-value]


class DateTimeField(Field[datetime]):
    """A date and time: ``<input type="datetime-local">``; cleans to ``datetime.datetime``.

    Accepts ``YYYY-MM-DDTHH:MM[:SS[.ffffff]]`` (a space instead of ``T`` too), then each of
    ``input_formats``.

    Without ``timezone`` values are naive and text with an offset (``Z``, ``+02:00``) is
    ``invalid``. With ``timezone`` values are aware: naive text is read as wall time in that
    zone, and text with an offset is converted to it. So cleaned values are never a mix, and
    comparing them never raises.

    Args:
        timezone: a ``tzinfo`` (``zoneinfo.ZoneInfo("Europe/Paris")``, ``datetime.UTC``).
        input_formats: extra ``strptime`` formats, tried in order on ASCII text.
        min_value / max_value: inclusive bounds; naive without ``timezone``, aware with it.
        **options: the ``Field`` options.

    Raises:
        ValueError: ``min_value``/``max_value`` awareness does not match ``timezone``.
    """

    input_type = "datetime-local"
    default_messages: ClassVar[dict[str, str]] = {"invalid": "Enter a valid date and time."}

    def __init__(
        self,
        *,
        timezone: tzinfo | None = None,
        input_formats: Sequence[str] = (),
        min_value: datetime | None = None,
        max_value: datetime | None = None,
        validators: Iterable[Validator] = (),
        **options: Any,
    ) -> None:
        for bound in (min_value, max_value):
            if bound is not None and not isinstance(bound, datetime):
                raise ValueError(f"DateTimeField: min_value/max_value {bound!r} is not a datetime.")
            if bound is not None and (bound.tzinfo is None) != (timezone is None):
                raise ValueError(
                    f"DateTimeField: min_value/max_value {bound!r} must be "
                    f"{'aware' if timezone else 'naive'} to compare with the cleaned values; "
                    "give both bounds and timezone=, or neither."
                )
        super().__init__(validators=_range(validators, min_value, max_value), **options)
        self.timezone = timezone
        self.input_formats = tuple(input_formats)
        self.min_value = min_value
        self.max_value = max_value

    def to_python(self, text: str) -> datetime:
        """Parse ISO, then ``input_formats``; apply ``timezone``."""
        if _ISO_DATETIME.fullmatch(text) is not None:
            try:
                value = datetime.fromisoformat(text)
            except ValueError:
                raise self.error("invalid") from None
        else:
            value = _strptime(self, text, self.input_formats)
        return self._localise(value)

    def _localise(self, value: datetime) -> datetime:
        if self.timezone is None:
            if value.tzinfo is not None:
                raise self.error("invalid")
            return value
        if value.tzinfo is None:
            return value.replace(tzinfo=self.timezone)
        try:
            return value.astimezone(self.timezone)
        except OverflowError:  # 0001-01-01T00:00+01:00 has no UTC equivalent
            raise self.error("invalid") from None

    def format_value(self, value: Any) -> str:
        """``YYYY-MM-DDTHH:MM`` (plus seconds when not zero), in ``timezone``."""
        if isinstance(value, datetime):
            moment: datetime = value
            if moment.tzinfo is not None and self.timezone is not None:
                moment = moment.astimezone(self.timezone)
            timespec = "seconds" if moment.second or moment.microsecond else "minutes"
            return moment.replace(tzinfo=None).isoformat(timespec=timespec)
        return super().format_value(value)  # type: ignore[return-value]


class BooleanField(Field[bool]):
    """A checkbox; cleans to ``bool``.

    A missing value, ``""``, ``"0"``, ``"false"`` and ``"off"`` are False; anything else is
    True. As in Django, ``required=True`` (the default) means the box must be ticked; use
    ``required=False`` for an optional checkbox, where unticked cleans to False.
    """

    input_type = "checkbox"
    empty_value: Any = False

    def default_widget(self) -> Widget:
        """``Checkbox()``."""
        return Checkbox()

    def _clean(self, values: list[Any]) -> bool | None:
        if len(values) > 1:
            raise self.error("multiple")
        text = self.as_text(values[0]) if values and values[0] is not None else ""
        value = text.strip().lower() not in FALSE_STRINGS
        if not value and self.required:
            raise self.error("required")
        self.run_validators(value)
        return value

    def format_value(self, value: Any) -> str:
        """``"on"`` for a true value, else ``""``."""
        return "on" if value and str(value).lower() not in FALSE_STRINGS else ""
