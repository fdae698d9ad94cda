"""qiao.forms against WTForms and Django forms, in one process: µs per operation.

    pip install wtforms email_validator django     # peers, only for this script
    python benchmarks/forms_bench.py [--rounds 5] [--json]
    python benchmarks/forms_bench.py --check          # which hostile input each one accepts

One six-field form (text, e-mail, integer, decimal, choice, date) per library, each given the
multi-valued mapping it reads natively (qiao ``FormData``, a ``getlist`` mapping for WTForms,
Django's ``MultiValueDict``). Cases:

- ``valid``: bind and validate good data (``is_valid()`` / ``validate()``).
- ``invalid``: bind and validate data where every field is wrong.
- ``render``: render an unbound form with initial values (a GET).
- ``rerender``: render the invalid bound form with its errors (a failed POST).

Each figure is the median over ``--rounds`` interleaved rounds of the best of three calibrated
``timeit`` loops; ratios are peer / qiao, so 3.0 means the peer takes three times as long.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import timeit
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

VALID = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "age": "36",
    "price": "12.50",
    "colour": "green",
    "born": "1815-12-10",
}
INVALID = {
    "name": "",
    "email": "not-an-email",
    "age": "twelve",
    "price": "1,5",
    "colour": "purple",
    "born": "1815-02-30",
}
INITIAL = {"name": "Ada", "age": 36, "price": Decimal("12.50"), "born": date(1815, 12, 10)}
COLOURS = [("red", "Red"), ("green", "Green"), ("blue", "Blue")]


def qiao_cases() -> dict[str, Callable[[], Any]]:
    from qiao import MultiDict
    from qiao.forms import (
        CharField,
        ChoiceField,
        DateField,
        DecimalField,
        EmailField,
        Form,
        IntegerField,
    )
    from qiao.http.forms import FormData

    class Order(Form):
        name = CharField(max_length=100)
        email = EmailField()
        age = IntegerField(min_value=0, max_value=150)
        price = DecimalField(max_digits=8, decimal_places=2)
        colour = ChoiceField(COLOURS)
        born = DateField()

    valid = FormData(MultiDict(VALID), MultiDict())
    invalid = FormData(MultiDict(INVALID), MultiDict())
    assert Order(valid).is_valid()
    assert len(Order(invalid).errors) == 6

    def rerender() -> str:
        form = Order(invalid)
        form.is_valid()
        return form.as_div()

    return {
        "valid": lambda: Order(valid).is_valid(),
        "invalid": lambda: Order(invalid).is_valid(),
        "render": lambda: Order(initial=INITIAL).as_div(),
        "rerender": rerender,
    }


def wtforms_cases() -> dict[str, Callable[[], Any]]:
    import wtforms
    from wtforms import validators as v

    from qiao import MultiDict

    class Order(wtforms.Form):
        name = wtforms.StringField(validators=[v.InputRequired(), v.Length(max=100)])
        email = wtforms.EmailField(validators=[v.InputRequired(), v.Email()])
        age = wtforms.IntegerField(validators=[v.InputRequired(), v.NumberRange(0, 150)])
        price = wtforms.DecimalField(places=2, validators=[v.InputRequired()])
        colour = wtforms.SelectField(choices=COLOURS, validators=[v.InputRequired()])
        born = wtforms.DateField(validators=[v.InputRequired()])

    valid, invalid = MultiDict(VALID), MultiDict(INVALID)  # WTForms reads ``getlist``
    assert Order(valid).validate()
    bad = Order(invalid)
    assert not bad.validate()
    assert len(bad.errors) == 6, bad.errors

    def validate(data: Any) -> bool:
        return Order(data).validate()

    def render() -> str:
        return "".join(f"<div>{f.label()}{f()}</div>" for f in Order(data=INITIAL))

    def rerender() -> str:
        form = Order(invalid)
        form.validate()
        out = []
        for f in form:
            errors = "".join(f"<li>{e}</li>" for e in f.errors)
            out.append(f'<div>{f.label()}<ul class="errorlist">{errors}</ul>{f()}</div>')
        return "".join(out)

    return {
        "valid": lambda: validate(valid),
        "invalid": lambda: validate(invalid),
        "render": render,
        "rerender": rerender,
    }


def django_cases() -> dict[str, Callable[[], Any]]:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(USE_I18N=False)
        django.setup()
    from django import forms
    from django.utils.datastructures import MultiValueDict

    class Order(forms.Form):
        name = forms.CharField(max_length=100)
        email = forms.EmailField()
        age = forms.IntegerField(min_value=0, max_value=150)
        price = forms.DecimalField(max_digits=8, decimal_places=2)
        colour = forms.ChoiceField(choices=COLOURS)
        born = forms.DateField()

    valid = MultiValueDict({k: [v] for k, v in VALID.items()})
    invalid = MultiValueDict({k: [v] for k, v in INVALID.items()})
    assert Order(valid).is_valid()
    assert len(Order(invalid).errors) == 6

    def rerender() -> str:
        form = Order(invalid)
        form.is_valid()
        return str(form.as_div())

    return {
        "valid": lambda: Order(valid).is_valid(),
        "invalid": lambda: Order(invalid).is_valid(),
        "render": lambda: str(Order(initial=INITIAL).as_div()),
        "rerender": rerender,
    }


LIBRARIES = {"qiao": qiao_cases, "wtforms": wtforms_cases, "django": django_cases}

#: Input a number or date field should refuse; ``--check`` shows which library accepts which.
HOSTILE = [
    ("age", "1_0"),
    ("age", "١٢"),
    ("age", "+5"),
    ("price", "NaN"),
    ("price", "Infinity"),
    ("price", "1e999999999"),
    ("price", "1_0"),
    ("born", "２０２４-01-01"),
]


def check_hostile() -> None:
    """Print, for each hostile value, what each library makes of it."""
    from qiao import MultiDict

    available = []
    for library, make in LIBRARIES.items():
        try:
            make()  # also configures Django
        except ImportError:
            continue
        available.append(library)
    print(f"{'input':<22}" + "".join(f"{lib:>26}" for lib in available))
    for field, value in HOSTILE:
        cells = []
        for library in available:
            data = {**VALID, field: value}
            form = _bind(library, data, MultiDict)
            cells.append(f"accepts {form[field]!r}"[:24] if form else "refuses")
        print(f"{field + ' ' + value[:12]:<22}" + "".join(f"{c:>26}" for c in cells))


def _bind(library: str, data: dict[str, str], multidict: Any) -> dict[str, Any] | None:
    """The cleaned data if ``library`` accepts ``data`` for the benchmark form, else None."""
    if library == "qiao":
        import qiao.forms as qf

        class QiaoForm(qf.Form):
            age = qf.IntegerField()
            price = qf.DecimalField()
            born = qf.DateField()

        form = QiaoForm(data)
        return form.cleaned_data if form.is_valid() else None
    if library == "wtforms":
        import wtforms

        class WTForm(wtforms.Form):
            age = wtforms.IntegerField()
            price = wtforms.DecimalField()
            born = wtforms.DateField()

        wt = WTForm(multidict(data))
        return dict(wt.data) if wt.validate() else None
    from django import forms

    class DjangoForm(forms.Form):
        age = forms.IntegerField()
        price = forms.DecimalField()
        born = forms.DateField()

    dj = DjangoForm(data)
    return dj.cleaned_data if dj.is_valid() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median)")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    parser.add_argument("--check", action="store_true", help="show which bad input is accepted")
    args = parser.parse_args()
    if args.check:
        check_hostile()
        return
    timers: dict[str, dict[str, tuple[timeit.Timer, int]]] = {}
    for library, make in LIBRARIES.items():
        try:
            cases = make()
        except ImportError as exc:
            print(f"{library}: skipped ({exc})", file=sys.stderr)
            continue
        timers[library] = {}
        for case, call in cases.items():
            timer = timeit.Timer(call)
            number, _ = timer.autorange()  # a loop of about 0.2 s
            timers[library][case] = (timer, number)
    # NOTE: the machine is shared; libraries alternate within each round (A B C A B C ...) and
    # the median of the rounds is reported, so a burst of load hits every library alike.
    samples: dict[str, dict[str, list[float]]] = {lib: {} for lib in timers}
    for _ in range(args.rounds):
        for library, cases_timers in timers.items():
            for case, (timer, number) in cases_timers.items():
                best = min(timer.repeat(repeat=3, number=number)) / number
                samples[library].setdefault(case, []).append(best * 1e6)
    results = {
        lib: {case: statistics.median(values) for case, values in cases.items()}
        for lib, cases in samples.items()
    }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    base = results["qiao"]
    print(f"{'library':<10}" + "".join(f"{case:>22}" for case in base))
    for library, timings in results.items():
        cells = "".join(
            f"{timings[case]:>10.1f} µs ({timings[case] / base[case]:>4.1f}×)" for case in base
        )
        print(f"{library:<10}{cells}")


if __name__ == "__main__":
    main()
