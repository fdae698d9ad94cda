"""``Form``: declared fields, binding, validation, errors and whole-form rendering."""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from qiao.forms._bound import BoundField
from qiao.forms._fields import Field
from qiao.forms._html import ErrorList, SafeHTML, escape
from qiao.forms._validators import ValidationError
from qiao.http.forms import FormData

if TYPE_CHECKING:
    from qiao.http.request import Request

__all__ = ["NON_FIELD_ERRORS", "Form"]

#: The key of the form-wide errors in ``form.errors``.
NON_FIELD_ERRORS = "__all__"


class Form:
    """A declarative HTML form: declare fields as class attributes, bind submitted data,
    validate, and render.

    .. code-block:: python

        class ContactForm(Form):
            name = CharField(max_length=100)
            email = EmailField()

        form = ContactForm(request.form(), request=request)
        if form.is_valid():
            send(form.cleaned_data["email"])

    Args:
        data: the submitted data: ``request.form()`` / ``await request.aform()`` (a
            ``FormData``, files included), a ``MultiDict`` or any mapping (a value may be a
            list). ``None`` makes an unbound form, which shows initial values. An empty
            ``FormData`` is still bound (a POST with every checkbox unticked).
        initial: initial values by field name for an unbound form (values or callables);
            they win over the fields' own ``initial``.
        prefix: put ``"<prefix>-"`` before every input name, so two forms share a page.
        request: the current request; with the CSRF battery installed the form renders its
            hidden token input.

    Class attributes:
        required_css_class / error_css_class: classes for the row of a required field and of
            a field with errors.

    Raises:
        TypeError: ``data`` is not a mapping (passing the request itself, say).

    Validation runs once, on first use of ``is_valid()``, ``errors`` or ``cleaned_data``.
    A form instance serves one request; it is not thread-safe and need not be.
    """

    #: every field, by name, in declaration order (base classes' fields first)
    declared_fields: ClassVar[dict[str, Field[Any]]] = {}
    required_css_class: ClassVar[str] = ""
    error_css_class: ClassVar[str] = ""
    _hooks: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields: dict[str, Field[Any]] = {}
        for base in reversed(cls.__mro__[1:]):
            own = vars(base)
            if "declared_fields" in own:
                fields.update(own["declared_fields"])
            else:  # a plain mixin class: its Field attributes count too
                fields.update({k: v for k, v in own.items() if isinstance(v, Field)})
            _drop_removed(fields, base)
        for name, value in vars(cls).items():
            if isinstance(value, Field):
                _check_name(cls, name, value)
                fields[name] = value
        _drop_removed(fields, cls)
        cls.declared_fields = fields
        cls._hooks = frozenset(name for name in fields if _hook(cls, name) is not None)

    def __init__(
        self,
        data: FormData | Mapping[str, Any] | None = None,
        *,
        initial: Mapping[str, Any] | None = None,
        prefix: str | None = None,
        request: Request | None = None,
    ) -> None:
        if data is not None and not isinstance(data, (FormData, Mapping)):
            raise TypeError(
                f"{type(self).__name__}(data) takes the submitted form, not "
                f"{type(data).__name__}: pass request.form() (or await request.aform())."
            )
        self.data = data
        self.initial: dict[str, Any] = dict(initial) if initial else {}
        self.prefix = prefix
        self.request = request
        #: this instance's fields: replace one to change it for this form only (choices...)
        self.fields: dict[str, Field[Any]] = dict(self.declared_fields)
        self._errors: dict[str, ErrorList] | None = None
        self._cleaned: dict[str, Any] = {}
        self._bound: dict[str, BoundField] = {}

    # -- state --------------------------------------------------------------------------------
    @property
    def is_bound(self) -> bool:
        """Whether the form holds submitted data (``data`` was not None)."""
        return self.data is not None

    def is_valid(self) -> bool:
        """Validate (once) and say whether the form is bound and has no errors."""
        return self.data is not None and not self.errors

    @property
    def errors(self) -> dict[str, ErrorList]:
        """Error messages by field name (``NON_FIELD_ERRORS`` for the form's own); each an
        ``ErrorList`` (a ``list[str]``). Empty for an unbound form. Validates on first use."""
        if self._errors is None:
            self.full_clean()
            assert self._errors is not None
        return self._errors

    @property
    def cleaned_data(self) -> dict[str, Any]:
        """The typed values of the fields that validated (all of them if ``is_valid()``).
        Empty for an unbound form. Validates on first use."""
        if self._errors is None:
            self.full_clean()
        return self._cleaned

    @property
    def non_field_errors(self) -> ErrorList:
        """The form-wide errors (from ``clean()`` or ``add_error(None, ...)``)."""
        errors = self.errors.get(NON_FIELD_ERRORS)
        return errors if errors is not None else ErrorList(css_class="errorlist nonfield")

    # -- validation ---------------------------------------------------------------------------
    def full_clean(self) -> None:
        """Clean every field, run its ``clean_<name>`` hook, then ``clean()``. Called for you."""
        self._errors = {}
        self._cleaned = {}
        data = self.data
        if data is None:
            return
        hooks = self._hooks
        for name, field in self.fields.items():
            try:
                if field.disabled:
                    value = self.get_initial(name)
                else:
                    value = field.clean(field.values_from(data, self.add_prefix(name)))
                if name in hooks:
                    value = getattr(self, "clean_" + name)(value)
            except ValidationError as exc:
                self.add_error(name, exc)
            else:
                self._cleaned[name] = value
        try:
            self.clean()
        except ValidationError as exc:
            self.add_error(None, exc)

    def clean(self) -> None:
        """Form-wide validation, after every field: override it to check fields together.

        Read ``self.cleaned_data`` (it holds only the fields that validated), change it if
        needed, call ``self.add_error(field, message)``, or raise ``ValidationError`` for a
        form-wide error.
        """

    def add_error(self, field: str | None, error: str | ValidationError) -> None:
        """Record an error on ``field`` (``None``: on the form) and drop the field from
        ``cleaned_data``. Works in ``clean()`` and after ``is_valid()`` (a view that finds the
        e-mail address taken).

        Raises:
            ValueError: the form has no field ``field``.
        """
        if self._errors is None:
            self.full_clean()
            assert self._errors is not None
        if field is not None and field not in self.fields:
            raise ValueError(
                f"{type(self).__name__} has no field {field!r} to add an error to; its fields "
                f"are {', '.join(self.fields) or 'none'}. Use None for a form-wide error."
            )
        messages = [error] if isinstance(error, str) else error.messages
        key = NON_FIELD_ERRORS if field is None else field
        errors = self._errors.get(key)
        if errors is None:
            if field is None:
                errors = ErrorList(css_class="errorlist nonfield")
            else:
                errors = ErrorList(html_id=f"id_{self.add_prefix(field)}_error")
            self._errors[key] = errors
        errors.extend(messages)
        if field is not None:
            self._cleaned.pop(field, None)

    def has_error(self, field: str | None) -> bool:
        """Whether ``field`` (``None``: the form itself) has an error."""
        return (NON_FIELD_ERRORS if field is None else field) in self.errors

    # -- fields -------------------------------------------------------------------------------
    def add_prefix(self, name: str) -> str:
        """The input name of field ``name``: ``"<prefix>-<name>"`` with a prefix."""
        return f"{self.prefix}-{name}" if self.prefix else name

    def get_initial(self, name: str) -> Any:
        """The initial value of field ``name``: the form's ``initial``, else the field's;
        a callable is called."""
        value = self.initial.get(name, self.fields[name].initial)
        return value() if callable(value) else value

    def __getitem__(self, name: str) -> BoundField:
        """The ``BoundField`` for ``name`` (``form["email"]``).

        Raises:
            KeyError: no such field; the message lists the fields.
        """
        bound = self._bound.get(name)
        if bound is None:
            field = self.fields.get(name)
            if field is None:
                raise KeyError(
                    f"{type(self).__name__} has no field {name!r}; its fields are "
                    f"{', '.join(self.fields) or 'none'}."
                )
            bound = self._bound[name] = BoundField(self, field, name)
        return bound

    def __iter__(self) -> Iterator[BoundField]:
        """Every ``BoundField``, in declaration order."""
        return (self[name] for name in self.fields)

    def hidden_fields(self) -> list[BoundField]:
        """The fields rendered as hidden inputs."""
        return [bound for bound in self if bound.is_hidden]

    def visible_fields(self) -> list[BoundField]:
        """The fields that are not hidden."""
        return [bound for bound in self if not bound.is_hidden]

    def is_multipart(self) -> bool:
        """Whether the ``<form>`` needs ``enctype="multipart/form-data"`` (it has a file)."""
        return any(field.widget.input_type == "file" for field in self.fields.values())

    # -- rendering ----------------------------------------------------------------------------
    def csrf_field(self) -> SafeHTML:
        """The hidden CSRF token input, when the form has a ``request`` and the app has the
        CSRF battery; else an empty string. The token is checked by the CSRF middleware."""
        request = self.request
        if request is None:
            return SafeHTML("")
        extension = request.app.extensions.get("csrf")
        if extension is None:
            return SafeHTML("")
        from qiao.csrf import get_token  # a battery: imported only when it is installed

        token = get_token(request)
        return SafeHTML(
            f'<input type="hidden" name="{escape(extension.field_name)}" value="{escape(token)}">'
        )

    def _top_errors(self) -> ErrorList:
        errors = self.non_field_errors.copy()
        for bound in self.hidden_fields():
            errors.extend(f"(Hidden field {bound.name}) {message}" for message in bound.errors)
        return errors

    def _render(self, row: str) -> SafeHTML:
        parts = [self._top_errors().as_ul()]
        hidden = []
        for bound in self:
            if bound.is_hidden:
                hidden.append(bound.as_widget())
            else:
                parts.append(bound.as_div() if row == "div" else bound.as_p())
        parts.extend(hidden)
        parts.append(self.csrf_field())
        return SafeHTML("".join(parts))

    def as_div(self) -> SafeHTML:
        """Every field in a ``<div>`` (label, help text, errors, input), form errors first,
        hidden inputs and the CSRF input last. No ``<form>`` tag or submit button."""
        return self._render("div")

    def as_p(self) -> SafeHTML:
        """As ``as_div``, each field in a ``<p>``."""
        return self._render("p")

    def __html__(self) -> SafeHTML:
        """``as_div()``: what ``{{ form }}`` inserts."""
        return self._render("div")

    def __str__(self) -> str:
        return self._render("div")

    def __repr__(self) -> str:
        state = "unbound" if self.data is None else f"bound, {len(self.errors)} error(s)"
        return f"<{type(self).__name__} {state}>"


#: Names a field cannot have: the form's methods, properties and instance attributes.
_RESERVED = frozenset(name for name in dir(Form) if not name.startswith("__")) | {
    "data",
    "initial",
    "prefix",
    "request",
    "fields",
}


def _drop_removed(fields: dict[str, Field[Any]], cls: type) -> None:
    """``field = None`` in a subclass removes an inherited field, as in Django."""
    for name, value in vars(cls).items():
        if value is None and name in fields:
            del fields[name]


def _hook(cls: type[Form], name: str) -> Any:
    hook = getattr(cls, "clean_" + name, None)
    if hook is None or not callable(hook):
        return None
    try:
        parameters = list(inspect.signature(hook).parameters.values())
    except (TypeError, ValueError):  # a builtin or C callable: trust it
        return hook
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) != 2 and not any(p.kind is p.VAR_POSITIONAL for p in parameters):
        raise TypeError(
            f"{cls.__qualname__}.clean_{name} must take the field's value and return the "
            f"cleaned value: def clean_{name}(self, value): ..."
        )
    return hook


def _check_name(cls: type, name: str, field: Field[Any]) -> None:
    if name in _RESERVED:
        raise TypeError(
            f"{cls.__qualname__}.{name}: a field cannot be called {name!r}, which is a Form "
            "attribute; rename the field."
        )
    if field.name != name:
        raise TypeError(
            f"{cls.__qualname__}.{name}: this {type(field).__name__} object is already declared "
            f"as {field.name!r}; declare a new field for each name."
        )
