"""``BoundField``: one field of one form instance, as a template sees it.

``{{ form.email }}`` renders the input with what the user submitted (or the initial value),
``{{ form.email.label_tag() }}`` its label, ``{{ form.email.errors }}`` its error list.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from qiao.forms._html import ErrorList, SafeHTML, conditional_escape, escape, format_attrs

if TYPE_CHECKING:
    from collections.abc import Mapping

    from qiao.forms._fields import Field
    from qiao.forms._form import Form

__all__ = ["BoundField", "pretty_name"]


def pretty_name(name: str) -> str:
    """The default label of a field: ``first_name`` → ``First name``."""
    return name.replace("_", " ").strip().capitalize()


def _shown(raw: Any) -> str:
    """A submitted value as text for re-display (a plain dict may hold numbers or dates)."""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, date):
        return raw.isoformat()
    if isinstance(raw, (int, float, Decimal)):
        return str(raw)
    return ""


class BoundField:
    """A field of a form instance: its value, errors and HTML.

    Attributes:
        form: the form.
        field: the ``Field`` (shared by every instance of the form class).
        name: the field's name in ``cleaned_data`` and ``errors``.
        html_name: the input's ``name``, with the form's prefix (``"billing-city"``).
        auto_id: the input's ``id``: ``"id_" + html_name``.
    """

    __slots__ = ("auto_id", "field", "form", "html_name", "name")

    def __init__(self, form: Form, field: Field[Any], name: str) -> None:
        self.form = form
        self.field = field
        self.name = name
        self.html_name = form.add_prefix(name)
        self.auto_id = "id_" + self.html_name

    # -- data ---------------------------------------------------------------------------------
    @property
    def label(self) -> str:
        """The label text: the field's ``label``, or one made from the name."""
        label = self.field.label
        return pretty_name(self.name) if label is None else label

    @property
    def help_text(self) -> str:
        """The field's help text."""
        return self.field.help_text

    @property
    def errors(self) -> ErrorList:
        """This field's error messages (empty for an unbound or valid form); renders as
        ``<ul class="errorlist">``."""
        errors = self.form.errors.get(self.name)
        if errors is None:
            return ErrorList(html_id=self.auto_id + "_error")
        return errors

    @property
    def value(self) -> str | list[str]:
        """What the input shows: the submitted text of a bound form (even if invalid), else
        the initial value as text. Always empty for passwords and files."""
        field = self.field
        if not field.renders_value:
            return ""
        form = self.form
        if form.is_bound and not field.disabled:
            raws = field.values_from(form.data, self.html_name)
            if field.multi_valued:
                return [_shown(raw) for raw in raws]
            return _shown(raws[0]) if raws else ""
        return field.format_value(form.get_initial(self.name))

    @property
    def initial(self) -> Any:
        """The initial Python value (the form's ``initial``, else the field's)."""
        return self.form.get_initial(self.name)

    @property
    def is_hidden(self) -> bool:
        """Whether the widget is a hidden input."""
        return self.field.widget.input_type == "hidden"

    @property
    def id_for_label(self) -> str:
        """The id the label points at (the first option's, for radio groups)."""
        return self.field.widget.id_for_label(self.auto_id)

    # -- HTML ---------------------------------------------------------------------------------
    def build_attrs(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The input's attributes: ``id``, the field's, ``aria-invalid`` and
        ``aria-describedby`` (help text, errors), then ``extra``."""
        attrs: dict[str, Any] = {"id": self.auto_id}
        attrs.update(self.field.html_attrs)
        described = []
        if self.field.help_text:
            described.append(self.auto_id + "_helptext")
        if self.form.is_bound and self.name in self.form.errors:
            attrs["aria-invalid"] = "true"
            described.append(self.auto_id + "_error")
        if described:
            attrs["aria-describedby"] = " ".join(described)
        if extra:
            attrs.update(extra)
        return attrs

    def as_widget(self, attrs: Mapping[str, Any] | None = None) -> SafeHTML:
        """The input element; ``attrs`` adds or overrides attributes for this rendering."""
        field = self.field
        choices = getattr(field, "choices", ())
        return field.widget.render(self.html_name, self.value, self.build_attrs(attrs), choices)

    def __html__(self) -> SafeHTML:
        """The input element (what ``{{ form.email }}`` inserts)."""
        return self.as_widget()

    def __str__(self) -> str:
        return self.as_widget()

    def __call__(self, **attrs: Any) -> SafeHTML:
        """The input with extra attributes: ``{{ form.email(class_="wide") }}``; a trailing
        ``_`` is dropped and other ``_`` become ``-`` (``data_role`` → ``data-role``)."""
        return self.as_widget({k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()})

    def label_tag(
        self, contents: str | None = None, attrs: Mapping[str, Any] | None = None
    ) -> SafeHTML:
        """``<label for="id_...">Label</label>``; ``contents`` replaces the text (escaped
        unless ``SafeHTML``)."""
        text = conditional_escape(self.label if contents is None else contents)
        label_for = self.id_for_label
        all_attrs = {"for": label_for or None, **(attrs or {})}
        return SafeHTML(f"<label{format_attrs(all_attrs)}>{text}</label>")

    def help_tag(self, tag: str = "div") -> SafeHTML:
        """``<div class="helptext" id="id_..._helptext">``, or nothing without help text."""
        if not self.field.help_text:
            return SafeHTML("")
        help_html = conditional_escape(self.field.help_text)
        return SafeHTML(
            f'<{tag} class="helptext" id="{escape(self.auto_id)}_helptext">{help_html}</{tag}>'
        )

    def css_classes(self) -> str:
        """The form's ``required_css_class`` and ``error_css_class`` that apply."""
        form = self.form
        classes = []
        if self.field.required and form.required_css_class:
            classes.append(form.required_css_class)
        if form.error_css_class and form.is_bound and self.name in form.errors:
            classes.append(form.error_css_class)
        return " ".join(classes)

    def as_div(self) -> SafeHTML:
        """The field's row: ``<div>`` with label, help text, errors and input."""
        css = self.css_classes()
        open_tag = f'<div class="{escape(css)}">' if css else "<div>"
        errors = self.form.errors.get(self.name)
        errors_html = errors.as_ul() if errors else ""
        return SafeHTML(
            f"{open_tag}{self.label_tag()}{self.help_tag()}{errors_html}{self.as_widget()}</div>"
        )

    def as_p(self) -> SafeHTML:
        """The field's errors, then ``<p>`` with label, input and help text."""
        css = self.css_classes()
        open_tag = f'<p class="{escape(css)}">' if css else "<p>"
        errors = self.form.errors.get(self.name)
        errors_html = errors.as_ul() if errors else ""
        return SafeHTML(
            f"{errors_html}{open_tag}{self.label_tag()} {self.as_widget()}"
            f"{self.help_tag('span')}</p>"
        )

    def __repr__(self) -> str:
        return f"<BoundField {self.html_name!r} of {type(self.form).__name__}>"
