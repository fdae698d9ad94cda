"""Blueprints: Flask's blueprints and Django's apps in one.

A blueprint holds routes, hooks, middleware, error handlers and template/static folders, and is
mounted under a prefix with ``app.register_blueprint(bp, url_prefix="/blog")``. Its route names
are namespaced by its name (``"blog:detail"``); nested blueprints nest the namespace
(``"admin:users:list"``). Its hooks and error handlers apply only to its own routes (and its
children's); the app's apply to every route.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from qiao._scaffold import Scaffold
from qiao.http.exceptions import ImproperlyConfigured
from qiao.routing import Route

if TYPE_CHECKING:
    from qiao.app import App

__all__ = ["Blueprint"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


class Blueprint(Scaffold):
    """A group of routes with its own prefix, namespace, hooks and folders.

    Args:
        name: the namespace of its route names; unique among its siblings.
        import_name: the module it lives in (``__name__``); folders are relative to it.
        url_prefix: mounted under this path (``"/blog"``); ``register_blueprint`` may override.
        template_folder, static_folder, static_url_path: for the template and static batteries.
    """

    def __init__(
        self,
        name: str,
        import_name: str,
        *,
        url_prefix: str | None = None,
        template_folder: str | None = None,
        static_folder: str | None = None,
        static_url_path: str | None = None,
        root_path: str | None = None,
    ) -> None:
        if not _NAME.match(name):
            raise ValueError(
                f"Blueprint name {name!r} must be an identifier-like word (no ':' or '.')."
            )
        super().__init__(
            import_name,
            root_path=root_path,
            template_folder=template_folder,
            static_folder=static_folder,
            static_url_path=static_url_path,
        )
        self.name = name
        self.url_prefix = url_prefix
        self._mounted = False

    def _setup_guard(self, what: str) -> None:
        if self._mounted:
            raise RuntimeError(
                f"{what} was called on blueprint {self.name!r} after an app compiled its routes; "
                "set up blueprints before serving."
            )

    def __repr__(self) -> str:
        return f"<Blueprint {self.name!r}>"


def join_paths(prefix: str, pattern: str) -> str:
    """Join a mount prefix and a route pattern: ``("/blog", "/<int:id>")`` -> ``/blog/<int:id>``."""
    if not prefix or prefix == "/":
        return pattern
    return "/" + prefix.strip("/") + pattern


def collect_routes(app: App) -> list[Route]:
    """Every route of the app and its blueprints, with prefixes and namespaces applied.

    Raises:
        ImproperlyConfigured: two blueprints mounted under the same name (``qiao.E006``).
    """
    routes: list[Route] = []
    _collect(app, "", "", (), routes, set())
    return routes


def _collect(
    scaffold: Scaffold,
    prefix: str,
    namespace: str,
    chain: tuple[Scaffold, ...],
    out: list[Route],
    seen: set[str],
) -> None:
    for rec in scaffold.records:
        name = f"{namespace}:{rec.name}" if namespace and rec.name else rec.name
        if rec.is_regex:
            pattern = "^" + re.escape(join_paths(prefix, rec.regex_prefix)) + rec.pattern
        else:
            pattern = join_paths(prefix, rec.pattern)
        out.append(
            Route(
                pattern,
                rec.view,
                rec.methods,
                name,
                rec.is_regex,
                chain,
                dict(rec.defaults),
                rec.location,
            )
        )
    for blueprint, options in scaffold.blueprints:
        blueprint._mounted = True
        bp_name = options.get("name") or blueprint.name
        full_name = f"{namespace}:{bp_name}" if namespace else bp_name
        if full_name in seen:
            raise ImproperlyConfigured(
                f"qiao.E006: A blueprint is already registered under the name {full_name!r}; "
                "pass name='...' to register_blueprint to mount it twice."
            )
        seen.add(full_name)
        bp_prefix = (options.get("url_prefix", blueprint.url_prefix) or "").strip("/")
        _collect(
            blueprint,
            join_paths(prefix, "/" + bp_prefix) if bp_prefix else prefix,
            full_name,
            (*chain, blueprint),
            out,
            seen,
        )
