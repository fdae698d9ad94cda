"""Declarative HTML forms: parse, validate and render what a browser submits.

```python
import qiao
from qiao import forms

class ContactForm(forms.Form):
    name = forms.CharField(max_length=100)
    email = forms.EmailField()
    age = forms.IntegerField(min_value=0, required=False)

app = qiao.App(__name__, config={"SECRET_KEY": "x"})

@app.route("/contact", methods=["GET", "POST"])
def contact(request):
    form = ContactForm(request.form() if request.method == "POST" else None, request=request)
    if form.is_valid():
        return qiao.redirect("/thanks")
    return f'<form method="post">{form}<button>Send</button></form>', 422 if form.is_bound else 200
```

Cleaned values are typed (``int``, ``Decimal``, ``date``, ``bool``, ``UploadFile``...); bad input
of any kind becomes an entry in ``form.errors``, never an exception. Rendering escapes every
value and returns ``SafeHTML`` (a ``str`` with ``__html__``), which Jinja2 inserts unescaped.
See ``docs/forms.md``.
"""

from qiao.forms._bound import BoundField
from qiao.forms._fields import (
    CharField,
    EmailField,
    Field,
    HiddenField,
    PasswordField,
    RegexField,
    URLField,
)
from qiao.forms._fields_choice import ChoiceField, FileField, MultipleChoiceField
from qiao.forms._fields_typed import (
    BooleanField,
    DateField,
    DateTimeField,
    DecimalField,
    IntegerField,
)
from qiao.forms._form import NON_FIELD_ERRORS, Form
from qiao.forms._html import ErrorList, SafeHTML
from qiao.forms._validators import URL, Email, Length, Range, Regex, ValidationError, Validator
from qiao.forms._widgets import (
    Checkbox,
    CheckboxSelectMultiple,
    Input,
    RadioSelect,
    Select,
    Textarea,
    Widget,
)

__all__ = [
    "NON_FIELD_ERRORS",
    "URL",
    "BooleanField",
    "BoundField",
    "CharField",
    "Checkbox",
    "CheckboxSelectMultiple",
    "ChoiceField",
    "DateField",
    "DateTimeField",
    "DecimalField",
    "Email",
    "EmailField",
    "ErrorList",
    "Field",
    "FileField",
    "Form",
    "HiddenField",
    "Input",
    "IntegerField",
    "Length",
    "MultipleChoiceField",
    "PasswordField",
    "RadioSelect",
    "Range",
    "Regex",
    "RegexField",
    "SafeHTML",
    "Select",
    "Textarea",
    "URLField",
    "ValidationError",
    "Validator",
    "Widget",
]
