"""The ``qiao`` command: ``run``, ``routes``, ``shell``, plus the commands an app adds with
``app.add_command`` (batteries add theirs: ``collectstatic``...). ``python -m qiao`` is the same."""

from __future__ import annotations

import argparse
import code
import importlib
import os
import re
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from qiao.server._cli import add_commands as add_server_commands

if TYPE_CHECKING:
    from qiao.app import App

__all__ = ["BUILTIN_COMMANDS", "main"]

BUILTIN_COMMANDS = frozenset({"run", "serve", "routes", "shell", "help", "new"})
_PROJECT_TEMPLATE = Path(__file__).parent / "_project_template"
_PROJECT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")

_DEFAULT_TARGETS = ("app:app", "wsgi:app", "asgi:app", "main:app")


def find_app(target: str | None) -> tuple[App, str]:
    """Load the app from ``--app``, ``$QIAO_APP``, or ``app.py``/``wsgi.py``/``main.py`` here.

    Raises:
        SystemExit: nothing found, with what was tried.
    """
    from qiao.testing import load_app

    sys.path.insert(0, os.getcwd())
    target = target or os.environ.get("QIAO_APP")
    candidates = (
        [target]
        if target
        else [t for t in _DEFAULT_TARGETS if os.path.exists(t.split(":")[0] + ".py")]
    )
    for candidate in candidates:
        try:
            return load_app(candidate), candidate
        except (ImportError, AttributeError) as exc:
            module = candidate.split(":")[0]
            missing_itself = isinstance(exc, ModuleNotFoundError) and exc.name == module
            if target or not missing_itself:  # an error inside the user's module: show it
                raise SystemExit(f"qiao: cannot load app {candidate!r}: {exc}") from None
    raise SystemExit(
        "qiao: no app found. Pass --app module:app, set QIAO_APP, or add app.py with an 'app'."
    )


def _cmd_routes(args: argparse.Namespace) -> int:
    app, _ = find_app(args.app)
    app.compile()
    rows = [("METHODS", "PATH", "NAME", "VIEW")]
    for route in app.router.routes:
        methods = ",".join(sorted(route.methods)) if route.methods else "*"
        view = f"{getattr(route.view, '__module__', '?')}.{route.view.__qualname__}"
        rows.append((methods, route.pattern, route.name or "", view))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)).rstrip())
    return 0


def _cmd_shell(args: argparse.Namespace) -> int:
    import qiao

    app, _ = find_app(args.app)
    namespace = {"app": app, "qiao": qiao}
    banner = f"qiao {qiao.__version__} shell; 'app' is {app!r}"
    try:
        ipython = importlib.import_module("IPython")
    except ImportError:
        ipython = None  # interact outside the except block: no chained ImportError on errors
    if ipython is None:
        code.interact(banner=banner, local=namespace)
    else:  # pragma: no cover - depends on IPython being installed
        ipython.start_ipython(argv=[], user_ns=namespace)
    return 0


def _cmd_new(args: argparse.Namespace) -> int:
    """``qiao new NAME``: a project folder with the browser-facing batteries installed."""
    name: str = args.name
    if not _PROJECT_NAME.fullmatch(name):
        raise SystemExit(
            f"qiao: {name!r} is not a project name: use letters, digits, '_' and '-', "
            "starting with a letter."
        )
    target = Path(args.directory or name)
    if target.exists() and any(target.iterdir()):
        raise SystemExit(f"qiao: {target} exists and is not empty; choose another name or folder.")
    secret = "dev-" + secrets.token_urlsafe(40)
    for source in sorted(_PROJECT_TEMPLATE.rglob("*.tmpl")):
        relative = source.relative_to(_PROJECT_TEMPLATE).with_suffix("")
        text = source.read_text(encoding="utf-8")
        text = text.replace("__PROJECT__", name).replace("__SECRET_KEY__", secret)
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(text, encoding="utf-8")
        print(f"  created {destination}")
    print(
        f"\nNext: cd {target} && qiao run\n"
        "Needs: pip install 'qiao[dev,web,testing]' (dev server, Jinja2, pytest for the tests)"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qiao", description="The qiao web framework.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve, run = add_server_commands(sub)
    routes = sub.add_parser("routes", help="print the route table")
    routes.set_defaults(func=_cmd_routes)
    shell = sub.add_parser("shell", help="open a Python shell with the app loaded")
    shell.set_defaults(func=_cmd_shell)
    sub.add_parser("help", help="list the commands, the app's own too")
    new = sub.add_parser("new", help="create a project with templates, sessions, CSRF and more")
    new.add_argument("name", help="the project's name (letters, digits, '_', '-')")
    new.add_argument("--directory", help="where to create it (default: ./NAME)")
    new.set_defaults(func=_cmd_new)
    for command in (run, serve, routes, shell):
        command.add_argument("--app", help="the app as module:attribute (default: $QIAO_APP)")
    return parser


def _app_command(argv: list[str]) -> int:
    """``qiao NAME ...`` for a command the app (or one of its batteries) added."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--app")
    known, rest = pre.parse_known_args(argv[1:])
    name = argv[0]
    app, _ = find_app(known.app)
    command = app.commands.get(name)
    if command is None and not app._compiled:
        app.compile()  # batteries may add commands when they read their settings
        command = app.commands.get(name)
    if command is None:
        names = ", ".join(sorted(BUILTIN_COMMANDS | set(app.commands)))
        raise SystemExit(f"qiao: unknown command {name!r}; commands: {names}.")
    return int(command[0](app, rest) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``qiao`` command."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and not args_list[0].startswith("-") and args_list[0] not in BUILTIN_COMMANDS:
        return _app_command(args_list)
    if args_list[:1] == ["help"]:
        return _cmd_help(args_list[1:])
    args = build_parser().parse_args(args_list)
    return int(args.func(args))


def _cmd_help(argv: list[str]) -> int:
    """``qiao help``: the built-in commands, and the app's own when an app can be found."""
    build_parser().print_help()
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--app")
    known, _ = pre.parse_known_args(argv)
    try:
        app, target = find_app(known.app)
    except SystemExit as exc:
        print(f"\n(no app commands: {exc})")
        return 0
    if app.commands:
        print(f"\ncommands of {target}:")
        width = max(len(n) for n in app.commands)
        for name, (_, text) in sorted(app.commands.items()):
            print(f"  {name.ljust(width)}  {text}")
    return 0
