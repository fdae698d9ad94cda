"""``qiao createsuperuser`` and ``qiao changepassword`` as real subprocesses, on a project
whose tables come from ``qiao db migrate`` (which also creates the permission rows)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from qiao.auth import Argon2Hasher, PasswordHashers
from tests._servers import server_env

APP = """
import qiao
from qiao.auth import Argon2Hasher, Auth
from qiao.db import Database
from qiao.sessions import Sessions

app = qiao.App(__name__, config={
    "SECRET_KEY": "x",
    "DATABASE_URL": "sqlite:///app.db",
    "AUTH_VIEWS": False,
    "AUTH_PASSWORD_HASHERS": [Argon2Hasher(time_cost=1, memory_cost=8, parallelism=1)],
})
Database(app)
Sessions(app)
Auth(app)
"""
HASHERS = PasswordHashers([Argon2Hasher(time_cost=1, memory_cost=8, parallelism=1)])
GOOD = "correct-horse-battery"
TIMEOUT = 60


def qiao(
    project: Path, *args: str, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qiao", *args],
        cwd=project,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=server_env(**env),
        check=False,
    )


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project migrated once; each test works on a copy of its database."""
    project = tmp_path_factory.mktemp("project")
    (project / "app.py").write_text(APP)
    for args in (("db", "init"), ("db", "makemigrations", "-m", "auth"), ("db", "migrate")):
        result = qiao(project, *args)
        assert result.returncode == 0, result.stdout + result.stderr
    return project


@pytest.fixture
def project(migrated: Path, tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "app.db").write_bytes((migrated / "app.db").read_bytes())
    return tmp_path


def rows(project: Path, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(f"sqlite:///{project / 'app.db'}")
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


def password_of(project: Path, username: str) -> str:
    found = rows(project, f"SELECT password FROM auth_user WHERE username = '{username}'")
    assert found, f"no user {username}"
    return str(found[0][0])


def test_migrate_creates_the_tables_and_permissions(project: Path) -> None:
    perms = {
        f"{a}.{c}" for a, c in rows(project, "SELECT app_label, codename FROM auth_permission")
    }
    assert {"auth.add_user", "auth.view_group", "auth.delete_permission"} <= perms


def test_createsuperuser_without_input(project: Path) -> None:
    result = qiao(
        project,
        "createsuperuser",
        "--no-input",
        "--username",
        "admin",
        "--email",
        "admin@example.com",
        QIAO_SUPERUSER_PASSWORD=GOOD,
    )
    assert result.returncode == 0, result.stderr
    assert "Superuser 'admin' created." in result.stdout
    flags = rows(project, "SELECT is_staff, is_superuser, is_active, email FROM auth_user")
    assert flags == [(1, 1, 1, "admin@example.com")]
    assert HASHERS.verify(GOOD, password_of(project, "admin"))[0]
    again = qiao(project, "createsuperuser", "--no-input", "--username", "admin")
    assert again.returncode == 1
    assert "already taken" in again.stderr


def test_createsuperuser_without_input_checks_the_password(project: Path) -> None:
    weak = qiao(
        project, "createsuperuser", "--no-input", "--username", "a", QIAO_SUPERUSER_PASSWORD="123"
    )
    assert weak.returncode == 1
    assert "too short" in weak.stderr
    missing = qiao(project, "createsuperuser", "--no-input")
    assert missing.returncode == 1
    assert "--no-input needs --username" in missing.stderr
    unusable = qiao(project, "createsuperuser", "--no-input", "--username", "ops")
    assert unusable.returncode == 0
    assert password_of(project, "ops").startswith("!")


def test_createsuperuser_reads_piped_answers(project: Path) -> None:
    answers = f"root\nroot@example.com\n{GOOD}\nnot the same\n12345678\n12345678\n{GOOD}\n{GOOD}\n"
    result = qiao(project, "createsuperuser", stdin=answers)
    assert result.returncode == 0, result.stderr
    assert "didn't match" in result.stderr
    assert "too common" in result.stderr
    assert HASHERS.verify(GOOD, password_of(project, "root"))[0]


def test_changepassword(project: Path) -> None:
    qiao(
        project, "createsuperuser", "--no-input", "--username", "ada", QIAO_SUPERUSER_PASSWORD=GOOD
    )
    new = "another-fine-passphrase"
    result = qiao(project, "changepassword", "ada", stdin=f"{new}\n{new}\n")
    assert result.returncode == 0, result.stderr
    assert "Password changed for 'ada'." in result.stdout
    assert HASHERS.verify(new, password_of(project, "ada"))[0]
    missing = qiao(project, "changepassword", "nobody", stdin="")
    assert missing.returncode == 1
    assert "no user 'nobody'" in missing.stderr
    tries = "x\ny\n" * 3
    failed = qiao(project, "changepassword", "ada", stdin=tries)
    assert failed.returncode == 1
    assert "Too many attempts" in failed.stderr
    assert HASHERS.verify(new, password_of(project, "ada"))[0]
    eof = qiao(project, "changepassword", "ada", stdin="only-one-line\n")
    assert eof.returncode == 1
    assert "cancelled" in eof.stderr


# A session leader that takes the pty as its controlling terminal, then becomes `qiao`: getpass
# then reads /dev/tty with echo off, as for a person at a terminal.
_IN_A_TERMINAL = (
    "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "os.execv(sys.executable, [sys.executable, '-m', 'qiao', *sys.argv[1:]])"
)


def run_in_terminal(project: Path, args: list[str], answers: list[tuple[str, str]]) -> str:
    """Run ``qiao ARGS`` on a pseudo-terminal, typing each answer after its prompt."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-c", _IN_A_TERMINAL, *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=project,
        env=server_env(),
        start_new_session=True,
    )
    os.close(slave)
    output = b""
    deadline = time.monotonic() + TIMEOUT
    pending = list(answers)
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            if pending and output.decode(errors="replace").endswith(pending[0][0]):
                os.write(master, pending.pop(0)[1].encode() + b"\n")
            elif process.poll() is not None and not ready:
                break
        assert process.wait(timeout=TIMEOUT) == 0, output.decode(errors="replace")
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
            process.wait()
    return output.decode(errors="replace")


def test_createsuperuser_on_a_terminal_uses_getpass(project: Path) -> None:
    screen = run_in_terminal(
        project,
        ["createsuperuser"],
        [
            ("Username: ", "term"),
            ("Email address: ", "term@example.com"),
            ("Password: ", GOOD),
            ("Password (again): ", GOOD),
        ],
    )
    assert "Superuser 'term' created." in screen
    assert GOOD not in screen  # getpass turned echo off
    assert "term@example.com" in screen  # the e-mail address was echoed
    assert HASHERS.verify(GOOD, password_of(project, "term"))[0]
