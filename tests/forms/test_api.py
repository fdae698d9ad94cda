"""The public API of ``qiao.forms``: exactly the intended names, each documented."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import qiao.forms

EXPECTED = {
    "NON_FIELD_ERRORS", "URL", "BooleanField", "BoundField", "CharField", "Checkbox",
    "CheckboxSelectMultiple", "ChoiceField", "DateField", "DateTimeField", "DecimalField",
    "Email", "EmailField", "ErrorList", "Field", "FileField", "Form", "HiddenField", "Input",
    "IntegerField", "Length", "MultipleChoiceField", "PasswordField", "RadioSelect", "Range",
    "Regex", "RegexField", "SafeHTML", "Select", "Textarea", "URLField", "ValidationError",
    "Validator", "Widget",
}  # fmt: skip

DOCS = Path(__file__).resolve().parents[2] / "docs" / "forms.md"


def test_exported_names_are_exactly_the_intended_ones() -> None:
    assert set(qiao.forms.__all__) == EXPECTED
    for name in qiao.forms.__all__:
        assert hasattr(qiao.forms, name), name


def test_every_public_object_and_method_has_a_docstring() -> None:
    for name in qiao.forms.__all__:
        obj = getattr(qiao.forms, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        assert inspect.getdoc(obj), f"qiao.forms.{name} has no docstring"
        for attr, member in vars(obj).items():
            if attr.startswith("_") and attr not in ("__html__", "__call__", "__get__"):
                continue
            function = member.fget if isinstance(member, property) else member
            if inspect.isfunction(function):
                assert inspect.getdoc(function), f"qiao.forms.{name}.{attr} has no docstring"


def test_every_public_name_is_in_the_guide() -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = [n for n in qiao.forms.__all__ if not re.search(rf"\b{re.escape(n)}\b", text)]
    assert not missing, f"names docs/forms.md never mentions: {missing}"


def test_importing_forms_does_not_import_optional_dependencies() -> None:
    # qiao.render is re-exported from qiao.templating, which imports Jinja2 only when used.
    import subprocess
    import sys

    code = (
        "import sys, qiao.forms; "
        "print(sorted(m for m in ('jinja2', 'markupsafe', 'qiao.csrf', 'qiao.sessions') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
