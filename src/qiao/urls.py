"""Django-style URLconf: ``path``, ``re_path`` and ``include``, mounted with ``app.add_urls``.

```python
from qiao.urls import include, path, re_path

urlpatterns = [
    path("articles/<int:year>/", views.year_archive, name="year"),
    re_path(r"^archive/(?P<year>[0-9]{4})/$", views.archive),
    path("blog/", include("blog.urls", namespace="blog")),
]
app.add_urls(urlpatterns, prefix="/")
```

Routes accept any method unless ``methods=`` is given (as in Django, the view decides) — except
class-based views, which answer the methods they define and 405 for the rest.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from qiao._scaffold import RouteRecord, _as_view, _location
from qiao.http.exceptions import ImproperlyConfigured

__all__ = ["Included", "URLPattern", "include", "path", "re_path"]


@dataclass(frozen=True, slots=True)
class Included:
    """The result of ``include()``: a list of patterns and an optional namespace."""

    patterns: tuple[Any, ...]
    namespace: str | None


@dataclass(frozen=True, slots=True)
class URLPattern:
    """One URLconf entry (built by ``path`` or ``re_path``)."""

    route: str
    target: Callable[..., Any] | Included
    name: str | None = None
    is_regex: bool = False
    methods: frozenset[str] | None = None
    kwargs: Mapping[str, Any] = field(default_factory=dict)


def path(
    route: str,
    view: Callable[..., Any] | Included,
    kwargs: Mapping[str, Any] | None = None,
    name: str | None = None,
    methods: Iterable[str] | None = None,
) -> URLPattern:
    """A route with ``<converter:name>`` parameters (no leading slash, as in Django).

    Args:
        route: ``"articles/<int:year>/"``.
        view: a view function, a ``View`` class (or its ``as_view()``), or an ``include()``.
        kwargs: extra keyword arguments for the view.
        name: the name for ``url_for``.
        methods: restrict the methods; by default any method reaches a function view.
    """
    return URLPattern(route, view, name, False, _frozen(methods), kwargs or {})


def re_path(
    route: str,
    view: Callable[..., Any],
    kwargs: Mapping[str, Any] | None = None,
    name: str | None = None,
    methods: Iterable[str] | None = None,
) -> URLPattern:
    """A route matched by a regular expression; named groups become keyword arguments (as
    strings), or unnamed groups positional ones when there are no named groups."""
    if isinstance(view, Included):
        raise ImproperlyConfigured(
            f"qiao.E003: re_path({route!r}, include(...)) is not supported; mount includes "
            "with path()."
        )
    return URLPattern(route, view, name, True, _frozen(methods), kwargs or {})


def include(arg: str | ModuleType | Iterable[Any], namespace: str | None = None) -> Included:
    """Include another URLconf: a list of patterns, a module, or a module's dotted path.

    A module gives its ``urlpatterns``, and its ``app_name`` as the default namespace.
    """
    default_namespace = None
    module = importlib.import_module(arg) if isinstance(arg, str) else arg
    if isinstance(module, ModuleType):
        default_namespace = getattr(module, "app_name", None)
        try:
            patterns: Iterable[Any] = module.urlpatterns
        except AttributeError:
            raise ImproperlyConfigured(
                f"qiao.E003: Module {module.__name__!r} has no 'urlpatterns' list to include."
            ) from None
    else:
        patterns = module
    return Included(tuple(patterns), namespace or default_namespace)


def _frozen(methods: Iterable[str] | None) -> frozenset[str] | None:
    if methods is None:
        return None
    if isinstance(methods, str):
        raise TypeError(f"methods must be a list of strings, not the string {methods!r}.")
    return frozenset(m.upper() for m in methods)


def flatten(patterns: Iterable[Any], prefix: str = "/", namespace: str = "") -> list[RouteRecord]:
    """Turn a URLconf into route records with full patterns and namespaced names."""
    if not prefix.startswith("/"):
        prefix = "/" + prefix
    if not prefix.endswith("/"):
        prefix += "/"
    records: list[RouteRecord] = []
    for entry in patterns:
        if not isinstance(entry, URLPattern):
            raise ImproperlyConfigured(
                f"qiao.E003: URLconf entry {entry!r} is not a path() or re_path()."
            )
        target = entry.target
        if isinstance(target, Included):
            inner = ":".join(n for n in (namespace, target.namespace) if n)
            records += flatten(target.patterns, prefix + entry.route.lstrip("/"), inner)
            continue
        view = _as_view(target)
        methods = entry.methods
        if methods is None and getattr(view, "methods", None):
            methods = frozenset(view.methods)  # type: ignore[attr-defined]
        name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
        if entry.is_regex:
            if "<" in prefix:
                raise ImproperlyConfigured(
                    f"qiao.E003: re_path({entry.route!r}) cannot sit under the parameterised "
                    f"prefix {prefix!r}; use path() for both."
                )
            pattern = entry.route.removeprefix("^").removeprefix("/")
        else:
            pattern = prefix + entry.route.lstrip("/")
        records.append(
            RouteRecord(
                pattern,
                view,
                methods,
                name,
                entry.is_regex,
                dict(entry.kwargs),
                _location(view),
                regex_prefix=prefix if entry.is_regex else "",
            )
        )
    return records
