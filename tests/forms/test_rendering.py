"""Rendering: input types and attributes, bound versus initial values, errors, escaping, and
how the HTML behaves in Jinja2."""

from __future__ import annotations

import enum
import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import jinja2
import pytest

from qiao.forms import (
    BooleanField,
    CharField,
    Checkbox,
    CheckboxSelectMultiple,
    ChoiceField,
    DateField,
    DateTimeField,
    DecimalField,
    EmailField,
    ErrorList,
    FileField,
    Form,
    HiddenField,
    Input,
    IntegerField,
    MultipleChoiceField,
    PasswordField,
    RadioSelect,
    RegexField,
    SafeHTML,
    Select,
    Textarea,
    URLField,
    ValidationError,
    Widget,
)

XSS = '"><script>alert(1)</script>'
XSS_ESCAPED = "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"


class Contact(Form):
    name = CharField(max_length=100, help_text="As on your passport.")
    email = EmailField(attrs={"autocomplete": "email", "class": "wide"})
    age = IntegerField(min_value=0, max_value=150, required=False)
    message = CharField(widget=Textarea(attrs={"rows": 4}), min_length=10)


def one(field: Any, data: Any = None, **kwargs: Any) -> Form:
    form_class = type("One", (Form,), {"f": field})
    return form_class(data, **kwargs)  # type: ignore[no-any-return]


def widget(field: Any, data: Any = None, **kwargs: Any) -> str:
    form = one(field, data, **kwargs)
    return str(form["f"])


# -- input types and attributes -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "html"),
    [
        (CharField(), '<input type="text" name="f" id="id_f" required>'),
        (EmailField(), '<input type="email" name="f" id="id_f" required>'),
        (URLField(), '<input type="url" name="f" id="id_f" required>'),
        (RegexField("x"), '<input type="text" name="f" id="id_f" required>'),
        (IntegerField(), '<input type="number" name="f" id="id_f" required>'),
        (DecimalField(), '<input type="number" name="f" id="id_f" required step="any">'),
        (DateField(), '<input type="date" name="f" id="id_f" required>'),
        (DateTimeField(), '<input type="datetime-local" name="f" id="id_f" required>'),
        (BooleanField(), '<input type="checkbox" name="f" id="id_f" required>'),
        (FileField(), '<input type="file" name="f" id="id_f" required>'),
        (PasswordField(), '<input type="password" name="f" id="id_f" required>'),
        (HiddenField(), '<input type="hidden" name="f" id="id_f">'),
        (CharField(required=False), '<input type="text" name="f" id="id_f">'),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, str) else "",
)
def test_each_field_renders_its_input_type(field: Any, html: str) -> None:
    assert widget(field) == html


def test_validators_become_html_attributes() -> None:
    assert widget(CharField(min_length=2, max_length=5)) == (
        '<input type="text" name="f" id="id_f" required minlength="2" maxlength="5">'
    )
    assert widget(IntegerField(min_value=-1, max_value=9, required=False)) == (
        '<input type="number" name="f" id="id_f" min="-1" max="9">'
    )
    assert widget(DecimalField(decimal_places=2, min_value=Decimal("0.5"))) == (
        '<input type="number" name="f" id="id_f" required min="0.5" step="0.01">'
    )
    assert 'step="1"' in widget(DecimalField(decimal_places=0))
    assert widget(DateField(min_value=date(2024, 1, 1), max_value=date(2024, 12, 31))) == (
        '<input type="date" name="f" id="id_f" required min="2024-01-01" max="2024-12-31">'
    )
    assert 'min="2024-01-02T03:04"' in widget(DateTimeField(min_value=datetime(2024, 1, 2, 3, 4)))
    assert widget(FileField(content_types=["image/png", "image/*"], extensions=["PDF"])) == (
        '<input type="file" name="f" id="id_f" required accept="image/png,image/*,.pdf">'
    )


def test_attrs_and_widget_attrs_win_over_computed_ones() -> None:
    html = widget(CharField(max_length=5, attrs={"maxlength": 3, "class": "x", "data-a": True}))
    assert html == '<input type="text" name="f" id="id_f" required maxlength="3" class="x" data-a>'
    html = widget(CharField(widget=Input("search", attrs={"placeholder": "Search"})))
    assert html == '<input type="search" name="f" id="id_f" required placeholder="Search">'
    assert widget(CharField(attrs={"required": False})) == '<input type="text" name="f" id="id_f">'


def test_bound_field_call_adds_attributes_for_one_rendering() -> None:
    form = Contact()
    assert form.email(class_="narrow", data_role="x") == (
        '<input type="email" name="email" id="id_email" required autocomplete="email" '
        'class="narrow" data-role="x">'
    )
    assert form.email.as_widget({"id": "custom"}).count('id="custom"') == 1


def test_disabled_fields_render_disabled() -> None:
    assert widget(CharField(disabled=True), initial={"f": "x"}) == (
        '<input type="text" name="f" value="x" id="id_f" required disabled>'
    )


# -- values -------------------------------------------------------------------------------------


def test_an_unbound_form_shows_initial_values_formatted_for_inputs() -> None:
    assert 'value="3"' in widget(IntegerField(initial=3))
    assert 'value="1000"' in widget(DecimalField(initial=Decimal("1E+3")))
    assert 'value="0.10"' in widget(DecimalField(initial=Decimal("0.10")))
    assert 'value="0001-02-03"' in widget(DateField(initial=date(1, 2, 3)))
    assert 'value="2024-01-02"' in widget(DateField(initial=datetime(2024, 1, 2, 3, 4)))
    assert 'value="2024-01-02T03:04"' in widget(DateTimeField(initial=datetime(2024, 1, 2, 3, 4)))
    assert 'value="2024-01-02T03:04:05"' in widget(
        DateTimeField(initial=datetime(2024, 1, 2, 3, 4, 5))
    )
    plus2 = timezone(timedelta(hours=2))
    utc_noon = datetime(2024, 1, 2, 12, 0, tzinfo=UTC)
    assert 'value="2024-01-02T14:00"' in widget(DateTimeField(timezone=plus2, initial=utc_noon))
    assert 'value="x"' in widget(CharField(), initial={"f": "x"})
    assert " checked" in widget(BooleanField(initial=True))
    assert " checked" not in widget(BooleanField(initial="false"))
    assert 'value="' not in widget(CharField())


def test_a_bound_form_shows_what_was_submitted_even_when_invalid() -> None:
    assert 'value="12abc"' in widget(IntegerField(), {"f": "12abc"})
    assert 'value="2024-02-30"' in widget(DateField(), {"f": "2024-02-30"})
    assert 'value="  spaced "' in widget(CharField(), {"f": "  spaced "})
    assert 'value="5"' in widget(IntegerField(), {"f": 5})
    assert 'value="2024-01-02"' in widget(DateField(), {"f": date(2024, 1, 2)})
    assert 'value="' not in widget(CharField(initial="x"), {})
    assert " checked" in widget(BooleanField(), {"f": "on"})
    assert " checked" not in widget(BooleanField(initial=True), {})


def test_passwords_and_files_are_never_rendered_with_a_value() -> None:
    assert 'value="' not in widget(PasswordField(), {"f": "hunter2"})
    assert 'value="' not in widget(PasswordField(initial="hunter2"))
    assert 'value="' not in widget(PasswordField(widget=Input("text")), {"f": "hunter2"})
    assert 'value="' not in widget(FileField(), {"f": "name.txt"})


def test_select_marks_the_chosen_option() -> None:
    field = ChoiceField([(1, "One"), (2, "Two")])
    assert widget(field, {"f": "2"}) == (
        '<select name="f" id="id_f" required><option value="1">One</option>'
        '<option value="2" selected>Two</option></select>'
    )
    assert '<option value="1" selected>' in widget(field, initial={"f": 1})


class Colour(enum.Enum):
    RED = "r"
    DARK_GREEN = "g"


def test_select_with_enum_optgroups_and_an_empty_option() -> None:
    assert widget(ChoiceField(Colour, required=False), initial={"f": Colour.DARK_GREEN}) == (
        '<select name="f" id="id_f"><option value="">---------</option>'
        '<option value="r">Red</option><option value="g" selected>Dark green</option></select>'
    )
    grouped = ChoiceField([("Audio", [("cd", "CD")]), ("other", "Other")], empty_label="Pick")
    assert widget(grouped, {"f": "cd"}) == (
        '<select name="f" id="id_f" required><optgroup label="Audio">'
        '<option value="cd" selected>CD</option></optgroup>'
        '<option value="other">Other</option></select>'
    )
    assert "Pick" in widget(ChoiceField(["a"], required=False, empty_label="Pick"))


def test_multiple_select_and_checkboxes() -> None:
    field = MultipleChoiceField([("a", "A"), ("b", "B"), ("c", "C")])
    html = widget(field, {"f": ["a", "c"]})
    assert html.startswith('<select name="f" id="id_f" required multiple>')
    assert '<option value="a" selected>' in html
    assert '<option value="b">' in html
    assert '<option value="c" selected>' in html
    assert '<option value="b" selected>' in widget(field, initial={"f": ["b"]})
    assert '<option value="b" selected>' in widget(field, initial={"f": "b"})
    boxes = MultipleChoiceField([("a", "A"), ("b", "B")], widget=CheckboxSelectMultiple())
    assert widget(boxes, {"f": ["b"]}) == (
        '<div id="id_f"><div><label for="id_f_0"><input type="checkbox" name="f" value="a" '
        'id="id_f_0"> A</label></div><div><label for="id_f_1"><input type="checkbox" '
        'name="f" value="b" id="id_f_1" checked> B</label></div></div>'
    )


def test_radio_buttons() -> None:
    field = ChoiceField([("s", "Small"), ("l", "Large")], widget=RadioSelect())
    html = widget(field, initial={"f": "l"})
    assert html == (
        '<div id="id_f"><div><label for="id_f_0"><input type="radio" name="f" value="s" '
        'id="id_f_0" required> Small</label></div><div><label for="id_f_1"><input '
        'type="radio" name="f" value="l" id="id_f_1" checked required> Large</label></div></div>'
    )
    assert one(field)["f"].label_tag() == '<label for="id_f_0">F</label>'


def test_textarea_escapes_its_content_and_keeps_a_leading_newline() -> None:
    assert widget(CharField(widget=Textarea()), {"f": "\nline</textarea>"}) == (
        '<textarea name="f" id="id_f" required>\n\nline&lt;/textarea&gt;</textarea>'
    )


# -- labels, help, errors -----------------------------------------------------------------------


def test_labels() -> None:
    form = Contact()
    assert form.name.label == "Name"
    assert form.name.label_tag() == '<label for="id_name">Name</label>'
    assert form.name.label_tag("Full <name>") == '<label for="id_name">Full &lt;name&gt;</label>'
    assert form.name.label_tag(SafeHTML("<b>Name</b>"), attrs={"class": "l"}) == (
        '<label for="id_name" class="l"><b>Name</b></label>'
    )
    assert one(CharField(label="Your e-mail & phone"))["f"].label_tag() == (
        '<label for="id_f">Your e-mail &amp; phone</label>'
    )
    assert type(one(CharField()))(prefix="p")["f"].label_tag() == '<label for="id_p-f">F</label>'


def test_help_text_is_escaped_unless_safe() -> None:
    assert one(CharField(help_text="<i>x</i>"))["f"].help_tag() == (
        '<div class="helptext" id="id_f_helptext">&lt;i&gt;x&lt;/i&gt;</div>'
    )
    assert one(CharField(help_text=SafeHTML("<i>x</i>")))["f"].help_tag("span") == (
        '<span class="helptext" id="id_f_helptext"><i>x</i></span>'
    )
    assert one(CharField())["f"].help_tag() == ""


def test_errors_render_as_a_list_and_mark_the_input() -> None:
    form = Contact({"name": "", "email": "x", "message": "short"})
    assert form.email.errors == ["Enter a valid email address."]
    assert str(form.email.errors) == (
        '<ul class="errorlist" id="id_email_error"><li>Enter a valid email address.</li></ul>'
    )
    assert form.email.errors.__html__() == str(form.email.errors)
    assert str(form.email) == (
        '<input type="email" name="email" value="x" id="id_email" required '
        'autocomplete="email" class="wide" aria-invalid="true" aria-describedby="id_email_error">'
    )
    assert 'aria-describedby="id_name_helptext id_name_error"' in str(form.name)
    assert str(form.age.errors) == ""
    assert form.age.errors == []
    assert "aria-invalid" not in str(form.age)


def test_errorlist_is_a_list() -> None:
    errors = ErrorList(["a", "<b>"], html_id="e")
    assert errors == ["a", "<b>"]
    assert errors[1] == "<b>"
    assert errors.as_ul() == '<ul class="errorlist" id="e"><li>a</li><li>&lt;b&gt;</li></ul>'
    assert errors.copy().html_id == "e"
    assert str(ErrorList()) == ""


# -- whole forms --------------------------------------------------------------------------------


def test_as_div_renders_every_field_with_label_help_errors_and_input() -> None:
    form = Contact({"name": "Ada", "email": "bad", "message": "Hello there!"})
    assert form.as_div() == (
        '<div><label for="id_name">Name</label>'
        '<div class="helptext" id="id_name_helptext">As on your passport.</div>'
        '<input type="text" name="name" value="Ada" id="id_name" required maxlength="100" '
        'aria-describedby="id_name_helptext"></div>'
        '<div><label for="id_email">Email</label>'
        '<ul class="errorlist" id="id_email_error"><li>Enter a valid email address.</li></ul>'
        '<input type="email" name="email" value="bad" id="id_email" required '
        'autocomplete="email" class="wide" aria-invalid="true" '
        'aria-describedby="id_email_error"></div>'
        '<div><label for="id_age">Age</label>'
        '<input type="number" name="age" id="id_age" min="0" max="150"></div>'
        '<div><label for="id_message">Message</label>'
        '<textarea name="message" id="id_message" required minlength="10" rows="4">\n'
        "Hello there!</textarea></div>"
    )
    assert str(form) == form.as_div() == form.__html__()
    assert isinstance(form.as_div(), SafeHTML)


def test_as_p() -> None:
    form = Contact({"name": "", "email": "a@example.com", "message": "0123456789"})
    html = form.as_p()
    assert html.startswith(
        '<ul class="errorlist" id="id_name_error"><li>This field is required.</li></ul>'
        '<p><label for="id_name">Name</label> <input type="text" name="name" id="id_name" '
    )
    assert '<span class="helptext" id="id_name_helptext">As on your passport.</span></p>' in html
    assert html.count("<p>") == 4


def test_non_field_and_hidden_field_errors_come_first_and_hidden_inputs_last() -> None:
    class Checkout(Form):
        step = HiddenField()
        quantity = IntegerField()

        def clean(self) -> None:
            raise ValidationError("Out of <stock>.")

    form = Checkout({"quantity": "2"})
    html = form.as_div()
    assert html.startswith(
        '<ul class="errorlist nonfield"><li>Out of &lt;stock&gt;.</li>'
        "<li>(Hidden field step) This field is required.</li></ul><div>"
    )
    assert html.endswith(
        '<input type="hidden" name="step" id="id_step" aria-invalid="true" '
        'aria-describedby="id_step_error">'
    )
    assert [b.name for b in form.hidden_fields()] == ["step"]
    assert [b.name for b in form.visible_fields()] == ["quantity"]
    assert str(form.non_field_errors) == (
        '<ul class="errorlist nonfield"><li>Out of &lt;stock&gt;.</li></ul>'
    )


def test_css_classes_for_required_and_invalid_rows() -> None:
    class Styled(Form):
        required_css_class = "required"
        error_css_class = "error"
        name = CharField()
        note = CharField(required=False)

    html = Styled({"note": "x"}).as_div()
    assert '<div class="required error"><label for="id_name">' in html
    assert '<div><label for="id_note">' in html
    assert '<p class="required">' in Styled().as_p()


def test_prefixed_forms_have_distinct_names_and_ids() -> None:
    html = Contact(prefix="a").as_div()
    assert 'name="a-email" id="id_a-email"' in html
    assert 'for="id_a-email"' in html


def test_is_multipart() -> None:
    assert not Contact().is_multipart()
    assert one(FileField()).is_multipart()


# -- escaping -----------------------------------------------------------------------------------


def test_hostile_submitted_values_are_escaped_everywhere() -> None:
    class Everything(Form):
        text = CharField()
        area = CharField(widget=Textarea())
        number = IntegerField()
        day = DateField()
        pick = ChoiceField(["a"])
        picks = MultipleChoiceField(["a"])
        hidden = HiddenField()
        agree = BooleanField()

    data = {name: XSS for name in Everything.declared_fields}
    data["picks"] = [XSS, "a"]  # type: ignore[assignment]
    html = Everything(data).as_div()
    assert "<script>" not in html
    assert XSS_ESCAPED in html
    assert f"Select a valid choice. {XSS_ESCAPED} is not one of the available choices." in html
    for tag in re.findall(r"<[^>]*>", html):
        assert tag.count('"') % 2 == 0, tag


def test_hostile_choice_labels_initial_values_and_prefixes_are_escaped() -> None:
    field = ChoiceField([(XSS, XSS)], widget=RadioSelect(), label=XSS, help_text=XSS)
    form = one(field, prefix='x"y', initial={"f": XSS})
    html = form.as_div()
    assert "<script>" not in html
    assert 'x"y' not in html
    assert html.count(XSS_ESCAPED) == 4
    select = one(ChoiceField([("Grp" + XSS, [(XSS, XSS)])]))
    assert "<script>" not in str(select)


def test_single_quotes_are_escaped_too() -> None:
    assert "&#x27;" in widget(CharField(), {"f": "' onmouseover='x"})


# -- Jinja2 -------------------------------------------------------------------------------------


def test_jinja2_autoescape_inserts_the_html_once_and_escapes_user_values_once() -> None:
    env = jinja2.Environment(autoescape=True)
    template = env.from_string(
        "<form method=post>{{ form.name.label_tag() }}{{ form.name }}{{ form.name.errors }}"
        "{{ form.email(class_='big') }}{% for field in form %}[{{ field.label }}]{% endfor %}"
        "{{ form.message.help_text }}</form>|{{ form }}"
    )
    form = Contact({"name": XSS, "email": "", "message": "x"})
    html = template.render(form=form)
    assert "<script>" not in html
    assert f'value="{XSS_ESCAPED}"' in html
    assert "&amp;quot;" not in html  # not escaped twice
    assert '<label for="id_name">Name</label><input type="text"' in html
    assert (
        '<input type="email" name="email" id="id_email" required autocomplete="email" class="big"'
        in html
    )
    assert "[Name][Email][Age][Message]" in html
    assert html.split("|", 1)[1] == form.as_div()


def test_jinja2_without_autoescape_still_gets_escaped_values() -> None:
    env = jinja2.Environment(autoescape=False)
    html = env.from_string("{{ form.name }}{{ form.name.errors }}").render(
        form=Contact({"name": XSS * 5})
    )
    assert "<script>" not in html
    assert '<ul class="errorlist" id="id_name_error">' in html


# -- custom widgets -----------------------------------------------------------------------------


class Stars(Widget):
    """A custom widget: one radio per star."""

    def render(
        self, name: str, value: str | list[str], attrs: dict[str, Any], choices: Any = ()
    ) -> SafeHTML:
        stars = "".join(
            f'<input type="radio" name="{name}" value="{n}"{" checked" if str(n) == value else ""}>'
            for n in range(1, 4)
        )
        return SafeHTML(f'<span class="stars" id="{attrs["id"]}">{stars}</span>')


def test_a_custom_widget() -> None:
    html = widget(IntegerField(widget=Stars()), {"f": "2"})
    assert html.startswith('<span class="stars" id="id_f">')
    assert '<input type="radio" name="f" value="2" checked>' in html
    assert repr(Stars()) == "Stars(attrs={})"
    assert repr(Input("date")) == "Input('date', attrs={})"
    with pytest.raises(NotImplementedError):
        Widget().render("f", "", {})


def test_checkbox_widget_alone() -> None:
    assert Checkbox(attrs={"class": "c"}).render("x", "on", {}) == (
        '<input type="checkbox" name="x" checked>'
    )
    assert Select().render("s", ["b"], {}, [("a", "A"), ("b", "B")]).count("selected") == 1
