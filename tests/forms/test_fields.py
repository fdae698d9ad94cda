"""Each field type's parsing: what it accepts, what it cleans to, which bad input is an error."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from qiao import MultiDict
from qiao.forms import (
    BooleanField,
    CharField,
    ChoiceField,
    DateField,
    DateTimeField,
    DecimalField,
    EmailField,
    Field,
    Form,
    HiddenField,
    IntegerField,
    MultipleChoiceField,
    PasswordField,
    RegexField,
    URLField,
)


def clean(field: Field[Any], value: Any = None, **data: Any) -> tuple[Any, list[str]]:
    """Bind a one-field form to ``{"f": value}`` (no key for ``None``); return the cleaned
    value (or None) and the field's errors."""

    class OneField(Form):
        f = field

    payload = dict(data) if value is None else {"f": value, **data}
    form = OneField(payload)
    assert form.is_bound
    form.is_valid()
    return form.cleaned_data.get("f"), list(form.errors.get("f", []))


def ok(field: Field[Any], value: Any) -> Any:
    cleaned, errors = clean(field, value)
    assert errors == [], errors
    return cleaned


def error(field: Field[Any], value: Any = None) -> str:
    cleaned, errors = clean(field, value)
    assert cleaned is None, cleaned
    assert len(errors) == 1, errors
    return errors[0]


# -- every field --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field",
    [
        CharField(),
        EmailField(),
        URLField(),
        IntegerField(),
        DecimalField(),
        DateField(),
        DateTimeField(),
        ChoiceField(["a"]),
        MultipleChoiceField(["a"]),
        BooleanField(),
        PasswordField(),
        HiddenField(),
        RegexField(r"x"),
    ],
    ids=lambda f: type(f).__name__,
)
def test_a_required_field_that_is_missing_or_empty_is_required(field: Field[Any]) -> None:
    assert error(field) == "This field is required."
    assert error(field, "") == "This field is required."


@pytest.mark.parametrize(
    ("field", "empty"),
    [
        (CharField(required=False), ""),
        (CharField(required=False, empty_value=None), None),
        (EmailField(required=False), ""),
        (IntegerField(required=False), None),
        (DecimalField(required=False), None),
        (DateField(required=False), None),
        (DateTimeField(required=False), None),
        (ChoiceField(["a"], required=False), None),
        (MultipleChoiceField(["a"], required=False), []),
        (BooleanField(required=False), False),
    ],
    ids=lambda f: type(f).__name__,
)
def test_an_optional_empty_field_cleans_to_its_empty_value(field: Field[Any], empty: Any) -> None:
    class OneField(Form):
        f = field

    for data in ({}, {"f": ""}):
        form = OneField(data)
        assert form.is_valid(), form.errors
        assert form.cleaned_data == {"f": empty}


@pytest.mark.parametrize(
    "field",
    [CharField(), IntegerField(), DecimalField(), DateField(), BooleanField(), ChoiceField(["a"])],
    ids=lambda f: type(f).__name__,
)
def test_several_values_for_a_single_valued_field_is_an_error(field: Field[Any]) -> None:
    assert error(field, ["1", "1"]) == "Enter a single value."
    form_data = MultiDict([("f", "1"), ("f", "2")])

    class OneField(Form):
        f = field

    assert OneField(form_data).errors == {"f": ["Enter a single value."]}


@pytest.mark.parametrize("bad", [{"a": 1}, object(), b"bytes", ["x", {"y": 1}]])
def test_values_of_the_wrong_type_are_invalid_not_exceptions(bad: Any) -> None:
    for field in (CharField(), IntegerField(), DateField(), ChoiceField(["x"])):
        _, errors = clean(field, bad)
        assert errors, (field, bad)


def test_nul_characters_are_refused() -> None:
    assert error(CharField(), "a\x00b") == "Null characters are not allowed."
    assert error(IntegerField(), "1\x00") == "Null characters are not allowed."


# -- text ---------------------------------------------------------------------------------------


def test_charfield_strips_and_checks_length() -> None:
    field = CharField(min_length=2, max_length=4)
    assert ok(field, "  abc ") == "abc"
    assert error(field, " a ") == "Ensure this value has at least 2 characters (it has 1)."
    assert error(field, "abcde") == "Ensure this value has at most 4 characters (it has 5)."
    assert error(CharField(), "   ") == "This field is required."
    assert ok(CharField(strip=False), "  a ") == "  a "


def test_charfield_accepts_numbers_and_dates_from_a_plain_dict() -> None:
    assert ok(CharField(), 5) == "5"
    assert ok(CharField(), Decimal("1.5")) == "1.5"
    assert ok(CharField(), date(2024, 1, 2)) == "2024-01-02"


def test_charfield_keeps_unicode() -> None:
    assert ok(CharField(max_length=3), "桥梁 ") == "桥梁"


@pytest.mark.parametrize(
    "address",
    [
        "ada@example.com",
        "first.last+tag@sub.example.co.uk",
        "o'brien@example.ie",
        "x@bücher.de",
        "x@xn--bcher-kva.de",
        "UPPER@EXAMPLE.COM",
    ],
)
def test_emailfield_accepts_addresses(address: str) -> None:
    assert ok(EmailField(), f" {address} ") == address


@pytest.mark.parametrize(
    "address",
    [
        "plain",
        "@example.com",
        "a@",
        "a@b",
        "a@b.c",
        "a b@example.com",
        "a@exa mple.com",
        "a..b@example.com",
        ".a@example.com",
        "a@-example.com",
        "a@example..com",
        "a@exam\nple.com",
        '"><script>@x.com',
        "ü@example.com",
        "a@" + "x" * 64 + ".com",
        "a" * 65 + "@example.com",
        "a@" + ".".join(["abcdefgh"] * 40) + ".com",
        "a@b@example.com",
        "a@example.123",
        "a@\udcff.com",
    ],
)
def test_emailfield_refuses_non_addresses(address: str) -> None:
    assert error(EmailField(), address) == "Enter a valid email address."


@pytest.mark.parametrize(
    ("typed", "cleaned"),
    [
        ("https://example.com/a?b=c#d", "https://example.com/a?b=c#d"),
        ("http://localhost:8000/", "http://localhost:8000/"),
        ("http://127.0.0.1/x", "http://127.0.0.1/x"),
        ("http://[::1]:8080/", "http://[::1]:8080/"),
        ("example.com/path", "https://example.com/path"),
        ("https://bücher.de", "https://bücher.de"),
    ],
)
def test_urlfield_accepts_urls_and_assumes_https(typed: str, cleaned: str) -> None:
    assert ok(URLField(), typed) == cleaned


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "javascript://example.com/%0aalert(1)",
        "ftp://example.com",
        "https://",
        "https://exa mple.com",
        "https://example.com:99999/",
        "https://example.com:port/",
        "http://[::1/",
        "http://[::zz]/",
        "http://999.1.1.1/",
        "https://-bad-.com",
        "https://example",
        "http://example.com/\x07",
        "https://" + "a" * 2100 + ".com",
    ],
)
def test_urlfield_refuses_bad_urls(url: str) -> None:
    assert error(URLField(), url) == "Enter a valid URL."


def test_urlfield_does_not_prefix_text_that_has_an_accepted_scheme() -> None:
    assert error(URLField(schemes=["https", "mailto"]), "mailto:x@y.com") == "Enter a valid URL."
    assert ok(URLField(), "javascript:1@evil.com") == "https://javascript:1@evil.com"
    assert error(URLField(), "javascript:alert(1)") == "Enter a valid URL."


def test_urlfield_schemes_are_configurable() -> None:
    assert ok(URLField(schemes=["ftp"]), "ftp://example.com/f") == "ftp://example.com/f"
    assert error(URLField(schemes=["ftp"]), "https://example.com") == "Enter a valid URL."


def test_regexfield() -> None:
    field = RegexField(r"^[A-Z]{3}-[0-9]{2}$", message="Use a code like ABC-12.")
    assert ok(field, "ABC-12") == "ABC-12"
    assert error(field, "abc-12") == "Use a code like ABC-12."
    assert error(RegexField(r"^x$"), "y") == "Enter a valid value."


def test_passwordfield_keeps_spaces() -> None:
    assert ok(PasswordField(), " secret ") == " secret "


def test_hiddenfield_is_text() -> None:
    assert ok(HiddenField(), "token") == "token"


# -- numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [("0", 0), ("-5", -5), ("007", 7), (" 42 ", 42), ("-0", 0), ("9" * 100, int("9" * 100))],
)
def test_integerfield_parses_ascii_integers(text: str, value: int) -> None:
    cleaned = ok(IntegerField(), text)
    assert cleaned == value
    assert type(cleaned) is int


@pytest.mark.parametrize(
    "text",
    [
        "+5",
        "1_0",
        "١٢",
        "１２",
        "๑",
        "1.0",
        "1e3",
        "0x10",
        "1 2",
        "--1",
        "-",
        "9" * 101,
        "9" * 5000,
        "NaN",
        "inf",
        "1,000",
        "¹",
        "½",
    ],
)
def test_integerfield_refuses_everything_else(text: str) -> None:
    assert error(IntegerField(), text) == "Enter a whole number."


def test_integerfield_accepts_ints_from_a_plain_dict() -> None:
    assert ok(IntegerField(), 7) == 7
    assert error(IntegerField(), 7.5) == "Enter a whole number."
    assert ok(BooleanField(), True) is True


def test_integerfield_range() -> None:
    field = IntegerField(min_value=1, max_value=10)
    assert ok(field, "1") == 1
    assert ok(field, "10") == 10
    assert error(field, "0") == "Ensure this value is greater than or equal to 1."
    assert error(field, "11") == "Ensure this value is less than or equal to 10."
    assert error(field, "9" * 50) == "Ensure this value is less than or equal to 10."


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1.50", Decimal("1.50")),
        ("-0.5", Decimal("-0.5")),
        (".5", Decimal("0.5")),
        ("5.", Decimal("5")),
        ("2e3", Decimal("2000")),
        ("1E-2", Decimal("0.01")),
        ("1e+2", Decimal("100")),
        ("12", Decimal("12")),
    ],
)
def test_decimalfield_parses_number_input_values(text: str, value: Decimal) -> None:
    cleaned = ok(DecimalField(), text)
    assert cleaned == value
    assert type(cleaned) is Decimal


@pytest.mark.parametrize(
    "text",
    [
        "NaN",
        "nan",
        "sNaN",
        "Infinity",
        "-Infinity",
        "inf",
        "1e999",
        "1e999999999",
        "1,5",
        "1_0.0",
        "١٫٥",
        "١",
        "+1",
        "1.2.3",
        ".",
        "-",
        "e5",
        "1e",
        "0x1p3",
        "1" * 101,
    ],
)
def test_decimalfield_refuses_nan_infinity_and_oddities(text: str) -> None:
    assert error(DecimalField(), text) == "Enter a number."


def test_decimalfield_digits_and_places() -> None:
    field = DecimalField(max_digits=5, decimal_places=2)
    assert ok(field, "123.45") == Decimal("123.45")
    assert ok(field, "0.01") == Decimal("0.01")
    assert (
        error(field, "1234.5")
        == "Ensure that there are no more than 3 digits before the decimal point."
    )
    assert error(field, "1.234") == "Ensure that there are no more than 2 decimal places."
    assert error(field, "123456") == "Ensure that there are no more than 5 digits in total."
    assert error(field, "1e10") == "Ensure that there are no more than 5 digits in total."
    assert error(DecimalField(decimal_places=1), "1.50") == (
        "Ensure that there are no more than 1 decimal places."
    )
    assert ok(DecimalField(max_digits=2), "0") == Decimal("0")
    assert ok(DecimalField(max_digits=3, decimal_places=3), "0.001") == Decimal("0.001")


def test_decimalfield_range() -> None:
    field = DecimalField(min_value=Decimal("0.5"), max_value=10)
    assert error(field, "0.49") == "Ensure this value is greater than or equal to 0.5."
    assert error(field, "10.01") == "Ensure this value is less than or equal to 10."
    assert ok(field, "10.00") == Decimal("10")


# -- booleans -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "value"),
    [
        ({}, False),
        ({"f": ""}, False),
        ({"f": "on"}, True),
        ({"f": "1"}, True),
        ({"f": "true"}, True),
        ({"f": "anything"}, True),
        ({"f": "0"}, False),
        ({"f": "false"}, False),
        ({"f": "False"}, False),
        ({"f": "off"}, False),
        ({"f": False}, False),
    ],
)
def test_booleanfield_reads_a_checkbox(data: dict[str, Any], value: bool) -> None:
    class Agree(Form):
        f = BooleanField(required=False)

    form = Agree(data)
    assert form.is_valid()
    assert form.cleaned_data["f"] is value


def test_a_required_booleanfield_must_be_ticked() -> None:
    assert ok(BooleanField(), "on") is True
    assert error(BooleanField(), "false") == "This field is required."


# -- choices ------------------------------------------------------------------------------------


class Colour(enum.Enum):
    RED = "r"
    DARK_GREEN = "g"


class Size(enum.IntEnum):
    S = 1
    M = 2


def test_choicefield_returns_the_choice_value_with_its_type() -> None:
    assert ok(ChoiceField(["a", "b"]), "b") == "b"
    assert ok(ChoiceField([(1, "One"), (2, "Two")]), "2") == 2
    assert ok(ChoiceField([(True, "Yes"), (False, "No")]), "False") is False
    assert ok(ChoiceField(Colour), "g") is Colour.DARK_GREEN
    assert ok(ChoiceField(Size), "1") is Size.S
    assert ok(ChoiceField([Decimal("1.5")]), "1.5") == Decimal("1.5")


def test_choicefield_with_optgroups() -> None:
    field = ChoiceField([("Audio", [("vinyl", "Vinyl"), ("cd", "CD")]), ("unknown", "Unknown")])
    assert ok(field, "cd") == "cd"
    assert ok(field, "unknown") == "unknown"
    assert error(field, "Audio").startswith("Select a valid choice.")


def test_choicefield_refuses_unknown_values_without_stripping() -> None:
    field = ChoiceField(["a"])
    assert error(field, "b") == "Select a valid choice. b is not one of the available choices."
    assert error(field, " a") == "Select a valid choice.  a is not one of the available choices."


def test_choicefield_coerce() -> None:
    field = ChoiceField(["1", "x"], coerce=int)
    assert ok(field, "1") == 1
    assert error(field, "x") == "Select a valid choice. x is not one of the available choices."
    assert error(ChoiceField(["x"], coerce=Decimal), "x").startswith("Select a valid choice.")


def test_choicefield_rejects_malformed_choices_at_declaration() -> None:
    with pytest.raises(ValueError, match=r"\(value, label\) pair"):
        ChoiceField([("a", "b", "c")])


def test_multiplechoicefield_cleans_to_a_list_in_order_without_repeats() -> None:
    field = MultipleChoiceField([(1, "One"), (2, "Two"), (3, "Three")])
    assert ok(field, ["3", "1", "3"]) == [3, 1]
    assert ok(field, "2") == [2]
    assert error(field, ["1", "9"]) == (
        "Select a valid choice. 9 is not one of the available choices."
    )
    assert error(field, [""]) == "This field is required."
    form_data = MultiDict([("f", "1"), ("f", "2")])

    class Pick(Form):
        f = MultipleChoiceField([(1, "One"), (2, "Two")])

    assert Pick(form_data).cleaned_data == {"f": [1, 2]}


def test_multiplechoicefield_validators_see_the_list() -> None:
    def at_most_two(values: list[Any]) -> None:
        if len(values) > 2:
            from qiao.forms import ValidationError

            raise ValidationError("Pick at most two.")

    field = MultipleChoiceField(["a", "b", "c"], validators=[at_most_two])
    assert error(field, ["a", "b", "c"]) == "Pick at most two."


# -- dates --------------------------------------------------------------------------------------


def test_datefield_parses_iso_dates() -> None:
    assert ok(DateField(), "2024-02-29") == date(2024, 2, 29)
    assert ok(DateField(), " 0001-01-01 ") == date(1, 1, 1)
    assert ok(DateField(), date(2020, 5, 6)) == date(2020, 5, 6)


@pytest.mark.parametrize(
    "text",
    [
        "2023-02-29",
        "2024-13-01",
        "2024-00-10",
        "0000-01-01",
        "2024-1-1",
        "24-01-01",
        "20240101",
        "2024-01-01T00:00",
        "١٩٩٠-٠١-٠١",
        "２０２４-01-01",
        "10000-01-01",
        "yesterday",
        "2024-01-01" * 1000,
        "31/12/2024",
    ],
)
def test_datefield_refuses_nonsense(text: str) -> None:
    assert error(DateField(), text) == "Enter a valid date."


def test_datefield_input_formats_are_ascii_only() -> None:
    field = DateField(input_formats=["%d/%m/%Y", "%d %b %Y"])
    assert ok(field, "31/12/2024") == date(2024, 12, 31)
    assert ok(field, "1 Mar 2024") == date(2024, 3, 1)
    assert ok(field, "2024-03-01") == date(2024, 3, 1)
    assert error(field, "٣١/١٢/٢٠٢٤") == "Enter a valid date."
    assert error(field, "31/02/2024") == "Enter a valid date."
    assert error(field, "3" * 100) == "Enter a valid date."


def test_datefield_range_and_its_bounds() -> None:
    field = DateField(min_value=date(2024, 1, 1), max_value=date(2024, 12, 31))
    assert error(field, "2023-12-31") == "Ensure this value is greater than or equal to 2024-01-01."
    assert ok(field, "2024-06-01") == date(2024, 6, 1)
    with pytest.raises(ValueError, match="not datetimes"):
        DateField(min_value=datetime(2024, 1, 1))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2024-01-02T03:04", datetime(2024, 1, 2, 3, 4)),
        ("2024-01-02 03:04", datetime(2024, 1, 2, 3, 4)),
        ("2024-01-02T03:04:05", datetime(2024, 1, 2, 3, 4, 5)),
        ("2024-01-02T03:04:05.123", datetime(2024, 1, 2, 3, 4, 5, 123000)),
    ],
)
def test_datetimefield_parses_datetime_local_values(text: str, value: datetime) -> None:
    assert ok(DateTimeField(), text) == value


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-02T24:00",
        "2024-01-02T03:60",
        "2024-01-02T03:04:60",
        "2024-02-30T03:04",
        "2024-01-02",
        "2024-01-02T3:04",
        "2024-01-02T03:04Z",
        "2024-01-02T03:04+02:00",
        "2024-01-02T03:04:05.1234567",
        "٢٠٢٤-01-02T03:04",
        "now",
    ],
)
def test_datetimefield_refuses_nonsense_and_offsets_without_a_timezone(text: str) -> None:
    assert error(DateTimeField(), text) == "Enter a valid date and time."


def test_datetimefield_with_a_timezone_is_always_aware() -> None:
    plus2 = timezone(timedelta(hours=2))
    field = DateTimeField(timezone=plus2)
    assert ok(field, "2024-01-02T03:04") == datetime(2024, 1, 2, 3, 4, tzinfo=plus2)
    converted = ok(field, "2024-01-02T03:04Z")
    assert converted == datetime(2024, 1, 2, 3, 4, tzinfo=UTC)
    assert converted.utcoffset() == timedelta(hours=2)
    assert ok(field, "2024-01-02T03:04-01:00").hour == 6
    assert error(field, "2024-01-02T03:04+24:00") == "Enter a valid date and time."
    assert error(DateTimeField(timezone=UTC), "0001-01-01T00:00+01:00") == (
        "Enter a valid date and time."
    )


def test_datetimefield_bounds_must_match_the_timezone() -> None:
    with pytest.raises(ValueError, match="naive"):
        DateTimeField(min_value=datetime(2024, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="aware"):
        DateTimeField(timezone=UTC, max_value=datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="not a datetime"):
        DateTimeField(min_value=date(2024, 1, 1))  # type: ignore[arg-type]
    field = DateTimeField(timezone=UTC, min_value=datetime(2024, 1, 1, tzinfo=UTC))
    assert error(field, "2023-12-31T23:59").startswith("Ensure this value is greater")


def test_datetimefield_input_formats() -> None:
    field = DateTimeField(input_formats=["%d/%m/%Y %H:%M"])
    assert ok(field, "31/12/2024 23:59") == datetime(2024, 12, 31, 23, 59)
    assert error(field, "31/12/2024 24:59") == "Enter a valid date and time."
