"""The ``qiao`` command, run as a real subprocess: ``routes``, ``run`` and ``shell``."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from tests._servers import (
    DEMO,
    REPO,
    ServerProcess,
    free_port,
    running_server,
    server_env,
    venv_bin,
    wait_for,
)

TIMEOUT = 30


def qiao_cli(
    *args: str, via: str = "script", cwd: Path = REPO, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``qiao ARGS`` (the venv's script, or ``python -m qiao``) and capture its output."""
    command = [venv_bin("qiao")] if via == "script" else [sys.executable, "-m", "qiao"]
    return subprocess.run(
        [*command, *args],
        cwd=cwd,
        env=server_env(**env),
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


SMALL_APP = textwrap.dedent(
    """
    import qiao

    app = qiao.App(__name__, config={"SECRET_KEY": "cli-test"})
    app.config.from_env()


    @app.get("/")
    def index(request):
        return {"version": VERSION, "debug": app.config["DEBUG"]}


    @app.get("/items/<int:id>", name="item")
    def item(request, id):
        return {"id": id}


    VERSION = 1
    """
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with an ``app.py``, as ``qiao`` finds it by default."""
    (tmp_path / "app.py").write_text(SMALL_APP)
    return tmp_path


# -- routes ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("via", ["script", "module"])
def test_routes_prints_methods_path_name_and_view(via: str) -> None:
    result = qiao_cli("routes", "--app", DEMO, via=via)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows[0] == ["METHODS", "PATH", "NAME", "VIEW"]
    assert ["GET", "/hello/<name>", "hello", "examples.demo.app.hello"] in rows
    assert ["GET,PUT", "/api/items/<int:id>", "item", "examples.demo.views.ItemView"] in rows
    assert ["GET", "/blog/<slug:slug>", "blog:post", "examples.demo.blog.show_post"] in rows
    assert [
        "*",
        "/articles/<int:year>/",
        "year_archive",
        "examples.demo.views.year_archive",
    ] in rows
    assert ["POST", "/upload", "upload", "examples.demo.app.upload"] in rows
    assert ["GET,POST", "/guestbook", "guestbook", "examples.demo.app.guestbook"] in rows
    assert ["GET", "/static/<path:filename>", "static", "qiao.static.Static.serve"] in rows
    assert ["GET", "/staff", "staff_only", "examples.demo.app.staff_only"] in rows
    assert ["GET,POST", "/accounts/login/", "auth:login", "qiao.auth._views.login_view"] in rows
    assert len(rows) == 23  # the header, the demo's thirteen routes and nine of the auth battery


def test_routes_columns_are_aligned() -> None:
    lines = qiao_cli("routes", "--app", DEMO).stdout.splitlines()
    header = lines[0]
    for column in ("PATH", "NAME", "VIEW"):
        start = header.index(column)
        assert all(line[start - 2 : start] == "  " for line in lines)
        assert all(line[start] != " " for line in lines)


def test_routes_finds_app_py_in_the_current_folder(project: Path) -> None:
    result = qiao_cli("routes", cwd=project)
    assert result.returncode == 0, result.stderr
    assert ["GET", "/items/<int:id>", "item", "app.item"] in [
        line.split() for line in result.stdout.splitlines()
    ]


def test_routes_reads_the_app_from_qiao_app(tmp_path: Path) -> None:
    result = qiao_cli("routes", cwd=tmp_path, QIAO_APP=DEMO)
    assert result.returncode == 0, result.stderr
    assert "examples.demo.app.hello" in result.stdout


def test_routes_calls_an_app_factory(tmp_path: Path) -> None:
    (tmp_path / "factory.py").write_text(
        "import qiao\n\n"
        "def create_app():\n"
        "    app = qiao.App(__name__, config={'SECRET_KEY': 'x'})\n"
        "    app.get('/made')(lambda request: 'made')\n"
        "    return app\n"
    )
    result = qiao_cli("routes", "--app", "factory:create_app", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "/made" in result.stdout


@pytest.mark.parametrize("via", ["script", "module"])
def test_missing_module_is_a_clear_error(via: str) -> None:
    result = qiao_cli("routes", "--app", "no_such_module:app", via=via)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "qiao: cannot load app 'no_such_module:app': No module named 'no_such_module'\n"
    )


def test_missing_attribute_is_a_clear_error() -> None:
    result = qiao_cli("routes", "--app", "examples.demo.app:nope")
    assert result.returncode == 1
    assert result.stderr == (
        "qiao: cannot load app 'examples.demo.app:nope': "
        "Module 'examples.demo.app' has no attribute 'nope'.\n"
    )


def test_no_app_anywhere_says_how_to_name_one(tmp_path: Path) -> None:
    result = qiao_cli("routes", cwd=tmp_path)
    assert result.returncode == 1
    assert "qiao: no app found. Pass --app module:app, set QIAO_APP" in result.stderr


def test_no_command_prints_usage_and_fails() -> None:
    result = qiao_cli()
    assert result.returncode == 2
    assert result.stderr.startswith("usage: qiao ")


# -- shell -----------------------------------------------------------------------------------------
def test_shell_has_the_app_loaded() -> None:
    result = qiao_cli("shell", "--app", DEMO, stdin="print(app)\nprint(qiao.__version__)\n")
    assert result.returncode == 0, result.stderr
    assert "<qiao.App 'examples.demo.app'>" in result.stdout
    assert "0.1.0" in result.stdout
    assert "'app' is <qiao.App 'examples.demo.app'>" in result.stderr  # the banner


def test_shell_errors_show_only_their_own_traceback() -> None:
    result = qiao_cli("shell", "--app", DEMO, stdin="1/0\nprint('still here')\n")
    assert result.returncode == 0
    assert "ZeroDivisionError: division by zero" in result.stderr
    assert "still here" in result.stdout
    assert "IPython" not in result.stderr


def test_shell_with_a_missing_app_fails() -> None:
    result = qiao_cli("shell", "--app", "no_such_module:app", stdin="print(app)\n")
    assert result.returncode == 1
    assert "cannot load app 'no_such_module:app'" in result.stderr


# -- run -------------------------------------------------------------------------------------------
def test_run_without_reload_serves_the_app() -> None:
    port = free_port()
    argv = [venv_bin("qiao"), "run", "--no-reload", "--port", str(port), "--app", DEMO]
    with running_server("qiao run", argv, port) as server:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            assert client.get("/hello/cli").json() == {"hello": "cli", "url": "/hello/cli"}
            assert client.get("/blog/feed").text == "hello-qiao\ntwo-schools\n"
        assert server.terminate() in (0, -15)
    assert "qiao serving http://127.0.0.1:" in server.output()


def test_run_with_python_m_qiao_serves_the_app(project: Path) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "qiao", "run", "--no-reload", "--port", str(port)]
    with running_server("python -m qiao run", argv, port, cwd=project) as server:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            assert client.get("/items/3").json() == {"id": 3}


def test_run_with_a_missing_app_fails_without_serving(tmp_path: Path) -> None:
    port = free_port()
    result = qiao_cli("run", "--no-reload", "--port", str(port), "--app", "nope:app", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "qiao: cannot load app 'nope:app': No module named 'nope'\n"


def test_run_with_reload_serves_and_reloads_after_an_edit(project: Path) -> None:
    port = free_port()
    argv = [venv_bin("qiao"), "run", "--reload", "--port", str(port)]
    source = project / "app.py"
    edited = SMALL_APP.replace("VERSION = 1", "VERSION = 2")
    with running_server("qiao run --reload", argv, port, cwd=project) as server:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            assert client.get("/").json()["version"] == 1
            last_write = 0.0

            def reloaded() -> bool:
                nonlocal last_write
                # NOTE: the reloader may start watching after the server first answers, so an
                # edit it has not noticed yet is written again (a second later) until it does.
                if "changed; restarting" not in server.output():
                    if time.monotonic() - last_write > 1.0:
                        source.write_text(edited)
                        last_write = time.monotonic()
                    return False
                try:
                    return bool(client.get("/").json()["version"] == 2)
                except httpx.TransportError:  # the server is restarting
                    return False

            wait_for(reloaded, 20, "the reloader to serve the edited app")


@pytest.mark.parametrize("reload", ["--reload", "--no-reload"])
def test_run_turns_debug_on_for_apps_configured_from_the_environment(
    project: Path, reload: str
) -> None:
    # ``qiao run`` is the development server: the app it serves runs with DEBUG on, whether
    # the server imports it in this process or re-imports it in a reloading child.
    port = free_port()
    argv = [venv_bin("qiao"), "run", reload, "--port", str(port)]
    env = server_env()
    env.pop("QIAO_DEBUG", None)
    server = ServerProcess(f"qiao run {reload}", argv, port, cwd=project, env=env)
    try:
        server.wait_until_answers()
        with httpx.Client(base_url=server.url, timeout=10) as client:
            assert client.get("/").json()["debug"] is True
    finally:
        server.stop()


# -- commands an app adds ---------------------------------------------------------------------
COMMAND_APP = textwrap.dedent(
    """
    import argparse
    import qiao

    app = qiao.App(__name__, config={"SECRET_KEY": "cli-test"})


    def greet(app, args):
        parser = argparse.ArgumentParser(prog="qiao greet")
        parser.add_argument("--name", default="world")
        parser.add_argument("--fail", action="store_true")
        options = parser.parse_args(args)
        print(f"hello {options.name} from {app.name}")
        return 3 if options.fail else 0


    app.add_command("greet", greet, help="say hello")
    """
)


@pytest.fixture
def command_project(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(COMMAND_APP)
    return tmp_path


@pytest.mark.parametrize("via", ["script", "module"])
def test_app_command_gets_its_own_arguments(command_project: Path, via: str) -> None:
    result = qiao_cli("greet", "--name", "ada", cwd=command_project, via=via)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello ada from app\n"


def test_app_command_with_app_option_and_exit_status(command_project: Path) -> None:
    result = qiao_cli("greet", "--app", "app:app", "--fail", cwd=command_project)
    assert result.returncode == 3
    assert result.stdout == "hello world from app\n"


def test_unknown_command_lists_the_known_ones(command_project: Path) -> None:
    result = qiao_cli("greeet", cwd=command_project)
    assert result.returncode != 0
    assert "unknown command 'greeet'" in result.stderr
    assert "greet" in result.stderr
    assert "routes" in result.stderr


def test_help_lists_app_commands(command_project: Path) -> None:
    result = qiao_cli("help", cwd=command_project)
    assert result.returncode == 0, result.stderr
    assert "commands of app:app:" in result.stdout
    assert "greet  say hello" in result.stdout


def test_help_without_an_app_still_prints_usage(tmp_path: Path) -> None:
    result = qiao_cli("help", cwd=tmp_path)
    assert result.returncode == 0
    assert "usage: qiao" in result.stdout
    assert "no app commands" in result.stdout


def test_add_command_refuses_taken_names() -> None:
    import qiao

    app = qiao.App(__name__)
    app.add_command("greet", lambda app, args: 0)
    with pytest.raises(ValueError, match="'greet' already exists"):
        app.add_command("greet", lambda app, args: 0)
    with pytest.raises(ValueError, match="'routes' already exists"):
        app.add_command("routes", lambda app, args: 0)


# -- qiao new ------------------------------------------------------------------------------------
def test_new_creates_a_project_whose_own_tests_pass(tmp_path: Path) -> None:
    result = qiao_cli("new", "mysite", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    project = tmp_path / "mysite"
    names = sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file())
    assert names == [
        "app.py",
        "settings.py",
        "static/style.css",
        "templates/base.html",
        "templates/index.html",
        "test_app.py",
    ]
    settings = (project / "settings.py").read_text()
    assert "__SECRET_KEY__" not in settings
    assert 'SECRET_KEY = "dev-' in settings
    assert "<h1>mysite</h1>" in (project / "templates" / "index.html").read_text()
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=server_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "3 passed" in tests.stdout
    routes = qiao_cli("routes", cwd=project)
    assert "GET,POST  /  " in routes.stdout


def test_new_projects_get_their_own_secret_key(tmp_path: Path) -> None:
    qiao_cli("new", "one", cwd=tmp_path)
    qiao_cli("new", "two", cwd=tmp_path)
    assert (tmp_path / "one" / "settings.py").read_text() != (
        tmp_path / "two" / "settings.py"
    ).read_text().replace("two", "one")


@pytest.mark.parametrize("name", ["1site", "my site", "../up", "a" * 70])
def test_new_refuses_bad_names(tmp_path: Path, name: str) -> None:
    result = qiao_cli("new", name, cwd=tmp_path)
    assert result.returncode != 0
    assert "is not a project name" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_new_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    result = qiao_cli("new", "site", "--directory", "taken", cwd=tmp_path)
    assert result.returncode != 0
    assert "is not empty" in result.stderr
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["keep.txt"]
