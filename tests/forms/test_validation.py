"""Binding, validators, clean hooks, errors, prefixes, initial values and declaring forms."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from werkzeug.datastructures import MultiDict as WerkzeugMultiDict

from qiao import FormData, MultiDict
from qiao.forms import (
    NON_FIELD_ERRORS,
    URL,
    BooleanField,
    CharField,
    ChoiceField,
    DateField,
    DecimalField,
    Email,
    EmailField,
    Form,
    IntegerField,
    Length,
    MultipleChoiceField,
    PasswordField,
    Range,
    Regex,
    ValidationError,
)


class Signup(Form):
    username = CharField(max_length=20)
    email = EmailField()
    age = IntegerField(min_value=13, required=False)
    password = PasswordField(min_length=8)
    confirm = PasswordField()

    def clean_username(self, value: str) -> str:
        if value.lower() == "admin":
            raise ValidationError("That name is reserved.", code="reserved")
        return value.lower()

    def clean(self) -> None:
        data = self.cleaned_data
        if "password" in data and data["password"] != data.get("confirm"):
            self.add_error("confirm", "The passwords do not match.")


GOOD = {
    "username": "Ada",
    "email": "ada@example.com",
    "age": "36",
    "password": "correct horse",
    "confirm": "correct horse",
}


def form_data(**fields: Any) -> FormData:
    pairs = [(k, v) for k, vs in fields.items() for v in (vs if isinstance(vs, list) else [vs])]
    return FormData(MultiDict(pairs), MultiDict())


# -- binding ------------------------------------------------------------------------------------


def test_a_valid_form_has_typed_cleaned_data() -> None:
    form = Signup(form_data(**GOOD))
    assert form.is_bound
    assert form.is_valid()
    assert form.errors == {}
    assert form.cleaned_data == {
        "username": "ada",
        "email": "ada@example.com",
        "age": 36,
        "password": "correct horse",
        "confirm": "correct horse",
    }


@pytest.mark.parametrize(
    "data",
    [
        form_data(**GOOD),
        MultiDict(GOOD),
        dict(GOOD),
        {k: [v] for k, v in GOOD.items()},
        WerkzeugMultiDict(GOOD),
    ],
    ids=["FormData", "MultiDict", "dict", "dict-of-lists", "werkzeug"],
)
def test_any_mapping_binds(data: Any) -> None:
    assert Signup(data).is_valid()


def test_an_unbound_form_is_not_valid_and_has_no_errors() -> None:
    form = Signup()
    assert not form.is_bound
    assert not form.is_valid()
    assert form.errors == {}
    assert form.cleaned_data == {}
    assert form.non_field_errors == []
    assert repr(form) == "<Signup unbound>"


def test_an_empty_form_is_bound() -> None:
    form = Signup(form_data())
    assert form.is_bound
    assert not form.is_valid()
    assert set(form.errors) == {"username", "email", "password", "confirm"}
    assert repr(form) == "<Signup bound, 4 error(s)>"


def test_passing_something_that_is_not_a_mapping_says_what_to_pass() -> None:
    with pytest.raises(TypeError, match=r"pass request.form\(\)"):
        Signup("username=ada")  # type: ignore[arg-type]


def test_missing_and_unknown_keys() -> None:
    form = Signup({"unexpected": "x", "email": "ada@example.com"})
    assert form.errors["username"] == ["This field is required."]
    assert "unexpected" not in form.cleaned_data
    assert form.cleaned_data == {"email": "ada@example.com", "age": None}


def test_validation_runs_once() -> None:
    calls = []

    class Counted(Form):
        name = CharField()

        def clean_name(self, value: str) -> str:
            calls.append(value)
            return value

    form = Counted({"name": "x"})
    assert form.is_valid()
    assert form.is_valid()
    assert form.errors == {}
    assert form.cleaned_data == {"name": "x"}
    assert calls == ["x"]


# -- hooks and errors ---------------------------------------------------------------------------


def test_a_field_hook_transforms_the_value() -> None:
    assert Signup(dict(GOOD, username="GRACE")).cleaned_data["username"] == "grace"


def test_a_field_hook_error_removes_the_field() -> None:
    form = Signup(dict(GOOD, username="Admin"))
    assert form.errors == {"username": ["That name is reserved."]}
    assert "username" not in form.cleaned_data


def test_a_hook_runs_only_when_the_field_is_valid() -> None:
    form = Signup(dict(GOOD, username="x" * 21))
    assert form.errors == {"username": ["Ensure this value has at most 20 characters (it has 21)."]}


def test_form_clean_can_add_errors_to_a_field() -> None:
    form = Signup(dict(GOOD, confirm="other"))
    assert form.errors == {"confirm": ["The passwords do not match."]}
    assert "confirm" not in form.cleaned_data
    assert form.has_error("confirm")
    assert not form.has_error(None)


def test_form_clean_raising_is_a_non_field_error() -> None:
    class Booking(Form):
        start = DateField()
        end = DateField()

        def clean(self) -> None:
            data = self.cleaned_data
            if "start" in data and "end" in data and data["end"] < data["start"]:
                raise ValidationError("The stay must end after it starts.")

    form = Booking({"start": "2024-05-02", "end": "2024-05-01"})
    assert not form.is_valid()
    assert form.non_field_errors == ["The stay must end after it starts."]
    assert form.errors == {NON_FIELD_ERRORS: ["The stay must end after it starts."]}
    assert form.has_error(None)
    assert Booking({"start": "2024-05-01", "end": "2024-05-02"}).is_valid()


def test_form_clean_can_change_cleaned_data() -> None:
    class Named(Form):
        first = CharField()
        last = CharField()

        def clean(self) -> None:
            self.cleaned_data["full"] = f"{self.cleaned_data['first']} {self.cleaned_data['last']}"

    assert Named({"first": "Ada", "last": "L"}).cleaned_data["full"] == "Ada L"


def test_add_error_after_validation_from_a_view() -> None:
    form = Signup(GOOD)
    assert form.is_valid()
    form.add_error("email", "This address is taken.")
    form.add_error(None, ValidationError(["One.", "Two."]))
    assert not form.is_valid()
    assert form.errors["email"] == ["This address is taken."]
    assert form.non_field_errors == ["One.", "Two."]
    assert "email" not in form.cleaned_data


def test_add_error_before_validation_keeps_the_error() -> None:
    form = Signup(GOOD)
    form.add_error("email", "Taken.")
    assert form.errors == {"email": ["Taken."]}


def test_add_error_to_an_unknown_field_names_the_fields() -> None:
    form = Signup(GOOD)
    with pytest.raises(ValueError, match=r"no field 'emial'.*username, email"):
        form.add_error("emial", "x")


def test_several_errors_on_one_field_accumulate() -> None:
    def no_digits(value: str) -> None:
        if any(c.isdigit() for c in value):
            raise ValidationError("No digits.", code="digits")

    def no_x(value: str) -> None:
        if "x" in value:
            raise ValidationError("No x.")

    class Strict(Form):
        word = CharField(max_length=3, validators=[no_digits, no_x])

    assert Strict({"word": "x1234"}).errors == {
        "word": ["Ensure this value has at most 3 characters (it has 5).", "No digits.", "No x."]
    }


def test_clean_hook_signature_is_checked_when_the_form_is_declared() -> None:
    with pytest.raises(TypeError, match=r"def clean_name\(self, value\)"):

        class DjangoStyle(Form):
            name = CharField()

            def clean_name(self) -> str:
                return "x"


def test_a_clean_hook_with_varargs_is_accepted() -> None:
    class Loose(Form):
        name = CharField()

        def clean_name(self, *args: Any) -> str:
            return str(args[0]).upper()

    assert Loose({"name": "a"}).cleaned_data == {"name": "A"}


# -- validators ---------------------------------------------------------------------------------


def test_builtin_validators_can_be_called_directly() -> None:
    Length(1, 3)("ab")
    Range(1, 3)(2)
    Regex(r"^a")("abc")
    Email()("a@example.com")
    URL()("https://example.com")
    with pytest.raises(ValidationError) as info:
        Length(max=1)("ab")
    assert info.value.code == "max_length"
    assert info.value.params == {"max": 1, "length": 2}
    with pytest.raises(ValidationError) as info:
        Range(min=date(2024, 1, 1))(date(2023, 1, 1))
    assert info.value.code == "min_value"
    with pytest.raises(ValidationError):
        Regex(r"\d", inverse=True)("a1")
    with pytest.raises(ValueError, match="min is larger than max"):
        Length(3, 1)
    with pytest.raises(ValueError, match="min is larger than max"):
        Range(3, 1)
    assert repr(Length(1, 3)) == "Length(min=1, max=3)"
    assert repr(Range(1, 2)) == "Range(min=1, max=2)"
    assert repr(Email()) == "Email()"
    assert "https" in repr(URL())
    assert "inverse=True" in repr(Regex("x", inverse=True))


def test_validators_on_any_field() -> None:
    class Order(Form):
        quantity = IntegerField(validators=[Range(1, 5)])
        code = CharField(validators=[Regex(r"^[A-Z]+$", "Capitals only.", code="caps")])
        site = CharField(validators=[URL(schemes=["https"])], required=False)

    form = Order({"quantity": "6", "code": "abc", "site": "http://x.com"})
    assert form.errors == {
        "quantity": ["Ensure this value is less than or equal to 5."],
        "code": ["Capitals only."],
        "site": ["Enter a valid URL."],
    }


def test_validationerror_messages_and_params() -> None:
    exc = ValidationError("Too big: {size} > {max}.", code="big", params={"size": 5, "max": 3})
    assert exc.messages == ["Too big: 5 > 3."]
    assert str(exc) == "Too big: 5 > 3."
    assert repr(exc) == "ValidationError(['Too big: 5 > 3.'], code='big')"
    assert ValidationError("Braces {kept} without params.").messages == [
        "Braces {kept} without params."
    ]
    assert ValidationError(["a", "b"]).messages == ["a", "b"]


def test_error_messages_override_by_code_with_params() -> None:
    class Custom(Form):
        name = CharField(
            max_length=3,
            error_messages={
                "required": "We need your name.",
                "max_length": "At most {max}, please (you typed {length}).",
            },
        )
        age = IntegerField(error_messages={"invalid": "Digits only."})
        pick = ChoiceField(["a"], error_messages={"invalid_choice": "No {value} here."})

    assert Custom({}).errors["name"] == ["We need your name."]
    form = Custom({"name": "abcd", "age": "x", "pick": "<b>"})
    assert form.errors == {
        "name": ["At most 3, please (you typed 4)."],
        "age": ["Digits only."],
        "pick": ["No <b> here."],
    }


def test_error_message_overrides_from_custom_validators_too() -> None:
    def even(value: int) -> None:
        if value % 2:
            raise ValidationError("Odd.", code="odd")

    class Even(Form):
        n = IntegerField(validators=[even], error_messages={"odd": "{n} is odd", "x": "y"})

    assert Even({"n": "3"}).errors == {"n": ["{n} is odd"]}


@pytest.mark.parametrize("template", ["{", "{0}", "{length.real.x}", "{max:s}", "{max!z}"])
def test_a_broken_message_template_never_raises(template: str) -> None:
    class Broken(Form):
        name = CharField(max_length=1, error_messages={"max_length": template})

    form = Broken({"name": "abc"})
    assert form.errors == {"name": [template]}


# -- prefix, initial, disabled, dynamic fields --------------------------------------------------


class Address(Form):
    city = CharField()
    zip = CharField(max_length=5)


def test_prefix_lets_two_forms_share_one_submission() -> None:
    data = form_data(**{"billing-city": "Paris", "billing-zip": "75001", "shipping-city": "Lyon"})
    billing = Address(data, prefix="billing")
    shipping = Address(data, prefix="shipping")
    assert billing.is_valid()
    assert billing.cleaned_data == {"city": "Paris", "zip": "75001"}
    assert shipping.errors == {"zip": ["This field is required."]}
    assert shipping["zip"].html_name == "shipping-zip"
    assert billing.add_prefix("city") == "billing-city"


def test_initial_values_come_from_the_form_then_the_field() -> None:
    class Settings(Form):
        theme = CharField(initial="light")
        since = DateField(initial=lambda: date(2024, 1, 1))
        count = IntegerField(initial=3)

    form = Settings(initial={"count": 5})
    assert form.get_initial("theme") == "light"
    assert form.get_initial("since") == date(2024, 1, 1)
    assert form.get_initial("count") == 5
    assert form["since"].initial == date(2024, 1, 1)
    assert Settings(initial={"theme": lambda: "dark"}).get_initial("theme") == "dark"


def test_initial_values_do_not_fill_a_bound_form() -> None:
    class Settings(Form):
        theme = CharField(initial="light")

    assert Settings({}, initial={"theme": "dark"}).errors == {"theme": ["This field is required."]}


def test_a_disabled_field_ignores_what_is_submitted() -> None:
    class Profile(Form):
        username = CharField(disabled=True)
        bio = CharField(required=False)

    form = Profile({"username": "attacker", "bio": "hi"}, initial={"username": "ada"})
    assert form.is_valid()
    assert form.cleaned_data == {"username": "ada", "bio": "hi"}


def test_fields_can_be_replaced_per_instance() -> None:
    class Assign(Form):
        project = ChoiceField([])

        def __init__(self, data: Any = None, *, projects: list[str]) -> None:
            super().__init__(data)
            self.fields["project"] = ChoiceField(projects)

    assert Assign({"project": "b"}, projects=["a", "b"]).cleaned_data == {"project": "b"}
    assert not Assign({"project": "b"}, projects=["a"]).is_valid()
    assert Assign.declared_fields["project"].by_key == {}  # type: ignore[attr-defined]


# -- declaring ----------------------------------------------------------------------------------


def test_fields_are_inherited_in_order_and_can_be_removed() -> None:
    class Base(Form):
        name = CharField()
        email = EmailField()

    class Child(Base):
        email = None  # type: ignore[assignment]
        phone = CharField()

    class Grandchild(Child):
        name = IntegerField()  # type: ignore[assignment]

    assert list(Base.declared_fields) == ["name", "email"]
    assert list(Child.declared_fields) == ["name", "phone"]
    assert list(Grandchild.declared_fields) == ["name", "phone"]
    assert isinstance(Grandchild.declared_fields["name"], IntegerField)


def test_fields_from_a_plain_mixin_class_count() -> None:
    class Timestamps:
        created = DateField(required=False)

    class Note(Timestamps, Form):
        text = CharField()

    assert list(Note.declared_fields) == ["created", "text"]
    form = Note({"text": "x", "created": "2024-01-01"})
    assert form.cleaned_data == {"created": date(2024, 1, 1), "text": "x"}
    assert form.created.html_name == "created"


@pytest.mark.parametrize("name", ["errors", "data", "clean", "fields", "is_valid", "as_div"])
def test_a_field_named_like_a_form_attribute_is_refused(name: str) -> None:
    with pytest.raises(TypeError, match=f"cannot be called '{name}'"):
        type("Bad", (Form,), {name: CharField()})


def test_one_field_object_under_two_names_is_refused() -> None:
    shared = CharField()
    with pytest.raises(TypeError, match="already declared as 'a'; declare a new field"):
        type("Bad", (Form,), {"a": shared, "b": shared})
    reused = EmailField()
    first = type("First", (Form,), {"email": reused})
    with pytest.raises(TypeError, match=r"Second.contact: this EmailField object is already"):
        type("Second", (Form,), {"contact": reused})
    second = type("Second", (Form,), {"email": reused})  # the same name is fine
    assert first().email.field is second().email.field is reused


def test_class_attribute_access_gives_the_field_and_instance_access_the_bound_field() -> None:
    assert isinstance(Signup.email, EmailField)
    assert repr(Signup.email) == "<EmailField email>"
    form = Signup()
    assert form.email is form["email"]
    assert form.email.field is Signup.email
    assert [bound.name for bound in form] == list(Signup.declared_fields)
    with pytest.raises(KeyError, match="no field 'nope'; its fields are username"):
        form["nope"]


def test_a_bad_attribute_name_fails_at_declaration() -> None:
    with pytest.raises(ValueError, match="not a valid HTML attribute name"):
        CharField(attrs={'onclick="x"': "y"})
    with pytest.raises(ValueError, match="not a valid HTML attribute name"):
        CharField(attrs={"a b": "y"})


# -- the mixed bad-input battery ----------------------------------------------------------------


class Everything(Form):
    text = CharField(max_length=10, required=False)
    number = IntegerField(required=False)
    amount = DecimalField(max_digits=6, decimal_places=2, required=False)
    day = DateField(required=False)
    agree = BooleanField(required=False)
    colour = ChoiceField(["red"], required=False)
    tags = MultipleChoiceField(["a"], required=False)


HOSTILE = [
    "",
    " ",
    "\x00",
    "١٢",
    "+5",
    "1_0",
    "NaN",
    "-Infinity",
    "1e999999",
    "9" * 5000,
    "2024-02-30",
    "0000-00-00",
    '"><script>alert(1)</script>',
    "\ud800",
    "{0}{value}%s",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_no_hostile_value_raises_for_any_field(value: str) -> None:
    data = {name: value for name in Everything.declared_fields}
    form = Everything(data)
    form.is_valid()
    str(form)
    lists = {name: [value, value] for name in Everything.declared_fields}
    form = Everything(lists)
    assert not form.is_valid() or value in ("",)
    str(form)


def test_money_amounts_stay_exact() -> None:
    form = Everything({"amount": "0.10"})
    assert form.is_valid()
    assert form.cleaned_data["amount"] + Decimal("0.20") == Decimal("0.30")
