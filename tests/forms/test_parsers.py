"""Property tests: no text makes a number or date field raise anything but a validation error,
and every value the field can produce survives a round trip through its own rendering."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from qiao.forms import (
    BooleanField,
    CharField,
    ChoiceField,
    DateField,
    DateTimeField,
    DecimalField,
    EmailField,
    Form,
    IntegerField,
    MultipleChoiceField,
    URLField,
)


class Parsers(Form):
    integer = IntegerField(required=False, min_value=-(10**6))
    decimal = DecimalField(required=False, max_digits=12, decimal_places=4)
    plain_decimal = DecimalField(required=False)
    day = DateField(required=False, input_formats=["%d/%m/%Y"])
    moment = DateTimeField(required=False)
    aware = DateTimeField(required=False, timezone=UTC, min_value=datetime(2000, 1, 1, tzinfo=UTC))
    email = EmailField(required=False)
    url = URLField(required=False)
    text = CharField(required=False, max_length=5)
    choice = ChoiceField([(1, "One"), (Decimal("2.5"), "Two and a half")], required=False)
    choices = MultipleChoiceField(["a", "b"], required=False)
    flag = BooleanField(required=False)


TYPES: dict[str, tuple[type, ...]] = {
    "integer": (int,),
    "decimal": (Decimal,),
    "plain_decimal": (Decimal,),
    "day": (date,),
    "moment": (datetime,),
    "aware": (datetime,),
    "email": (str,),
    "url": (str,),
    "text": (str,),
    "choice": (int, Decimal),
    "choices": (list,),
    "flag": (bool,),
}

#: Text that looks a little like numbers and dates, plus anything at all.
NUMBERISH = st.text(alphabet="0123456789+-._eE,: TZ٠١٢٣٤٥٦٧٨٩１２NaInfy\x00 /", max_size=40)
TEXT = st.one_of(NUMBERISH, st.text(max_size=60))


def check(form: Parsers) -> None:
    valid = form.is_valid()
    for name, value in form.cleaned_data.items():
        assert value is None or value == "" or isinstance(value, TYPES[name]), (name, value)
    assert valid == (not form.errors)
    str(form)  # rendering a bound form never raises either


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(TYPES)), TEXT))
def test_no_text_makes_any_field_raise(data: dict[str, str]) -> None:
    check(Parsers(data))


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(TYPES)), st.lists(TEXT, max_size=3)))
def test_no_list_of_text_makes_any_field_raise(data: dict[str, list[str]]) -> None:
    check(Parsers(data))


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(sorted(TYPES)),
        st.one_of(
            st.integers(),
            st.floats(),
            st.decimals(),
            st.dates(),
            st.datetimes(),
            st.booleans(),
            st.none(),
            st.binary(max_size=5),
        ),
    )
)
def test_no_python_value_from_a_plain_dict_makes_any_field_raise(data: dict[str, Any]) -> None:
    check(Parsers(data))


def roundtrip(field_name: str, value: Any) -> Any:
    """Render ``value`` as the initial value, submit the rendered text, clean it again."""
    shown = Parsers(initial={field_name: value})[field_name].value
    form = Parsers({field_name: shown})
    assert form.is_valid(), (shown, form.errors)
    return form.cleaned_data[field_name]


@given(st.integers(min_value=-(10**6), max_value=10**100 - 1))
def test_integers_round_trip(value: int) -> None:
    assert roundtrip("integer", value) == value
    assert roundtrip("integer", str(value)) == value


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=4, max_value=10**7, min_value=-(10**7)
    )
)
def test_decimals_round_trip(value: Decimal) -> None:
    assert roundtrip("decimal", value) == value


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_any_finite_decimal_renders_as_plain_digits(value: Decimal) -> None:
    shown = Parsers(initial={"plain_decimal": value})["plain_decimal"].value
    assert isinstance(shown, str)
    assert "E" not in shown
    assert "e" not in shown


@given(st.dates())
def test_dates_round_trip(value: date) -> None:
    assert roundtrip("day", value) == value


@given(st.datetimes())
def test_datetimes_round_trip_to_the_second(value: datetime) -> None:
    assert roundtrip("moment", value) == value.replace(microsecond=0)


@given(st.datetimes(min_value=datetime(2000, 1, 1), timezones=st.just(UTC)))
def test_aware_datetimes_round_trip(value: datetime) -> None:
    assert roundtrip("aware", value) == value.replace(microsecond=0)
