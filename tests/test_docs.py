"""Every documentation example runs.

The convention (stated in ``docs/testing.md``): each fenced block tagged ``python`` in
``README.md`` and ``docs/*.md`` is one test, executed in a fresh module namespace inside a temporary
working directory. Blocks that are deliberately not runnable are tagged ``python-skip`` (Python
shown for reading) or ``text``; shell commands are ``bash`` and config files ``toml``.

Blocks in ``docs/testing.md`` whose first line is ``# file: NAME`` together form a small project
that is also run under pytest, so the pytest plugin examples are checked for real.
"""

from __future__ import annotations

import re
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

import qiao

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted([ROOT / "README.md", *DOCS.glob("*.md")])

#: Info strings a fence may carry; anything else is probably a typo that would hide an example.
KNOWN_LANGUAGES = {
    "python",
    "python-skip",
    "text",
    "bash",
    "toml",
    "ini",
    "json",
    "http",
    "html",
    "jinja",
    "nginx",
    "",
}
#: Pages other engineers write; links to them may exist before the page does.
EXTERNAL_PAGES = {DOCS / "benchmarks.md"}

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_LINK = re.compile(r"\[[^\]]*\]\((?P<target>[^)\s]+)\)")
_FILE_MARKER = re.compile(r"^# file: (?P<name>\S+)$")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    language: str
    source: str

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def fenced_blocks(page: Path) -> list[Block]:
    """The fenced code blocks of a Markdown page, with the line each starts on."""
    blocks: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    opening: tuple[int, str, str] | None = None
    body: list[str] = []
    for number, line in enumerate(lines, start=1):
        match = _FENCE.match(line)
        if opening is None:
            if match:
                info = match.group("info").strip().split(" ", 1)[0]
                opening = (number, match.group("fence"), info)
                body = []
            continue
        fence = opening[1]
        if match and match.group("fence").startswith(fence) and not match.group("info").strip():
            blocks.append(Block(page, opening[0], opening[2], "\n".join(body) + "\n"))
            opening = None
        else:
            body.append(line)
    assert opening is None, f"{page.relative_to(ROOT)}:{opening[0]}: unclosed code fence"
    return blocks


ALL_BLOCKS = [block for page in PAGES for block in fenced_blocks(page)]
PYTHON_BLOCKS = [block for block in ALL_BLOCKS if block.language == "python"]


def test_the_docs_exist() -> None:
    names = {page.name for page in PAGES}
    expected = {
        "README.md",
        "quickstart.md",
        "routing.md",
        "blueprints.md",
        "views.md",
        "request-response.md",
        "middleware.md",
        "configuration.md",
        "errors.md",
        "deployment.md",
        "testing.md",
        "cli.md",
        "lifecycle.md",
        "design.md",
    }
    assert expected <= names
    assert len(PYTHON_BLOCKS) > 50


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=lambda block: block.id)
def test_code_fences_use_a_known_language(block: Block) -> None:
    assert block.language in KNOWN_LANGUAGES, (
        f"{block.id}: unknown fence language {block.language!r}; use python (runs as a test), "
        "python-skip (shown, not run), text, bash or toml."
    )


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=lambda block: block.id)
def test_python_example_runs(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    name = "qiao_docs_example_" + re.sub(r"\W", "_", block.id)
    module = types.ModuleType(name)
    sys.modules[name] = module  # dataclasses and pickling look the module up
    try:
        code = compile(block.source, block.id, "exec")
        exec(code, module.__dict__)
    finally:
        del sys.modules[name]


def _links(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"^(```|~~~).*?^\1", "", text, flags=re.MULTILINE | re.DOTALL)
    return [m.group("target") for m in _LINK.finditer(text)]


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"^(```|~~~).*?^\1", "", text, flags=re.MULTILINE | re.DOTALL)
    headings = re.findall(r"^#{1,6} (.+)$", text, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    for target in _links(page):
        if re.match(r"^[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        path = (page.parent / file).resolve() if file else page
        if path in EXTERNAL_PAGES:
            continue
        assert path.exists(), f"{page.relative_to(ROOT)} links to missing {target!r}"
        if anchor and path.suffix == ".md":
            assert anchor in _anchors(path), f"{page.relative_to(ROOT)}: no heading for {target!r}"


def test_every_public_name_is_documented() -> None:
    text = "\n".join(page.read_text(encoding="utf-8") for page in PAGES)
    missing = [name for name in qiao.__all__ if not re.search(rf"\b{re.escape(name)}\b", text)]
    assert not missing, f"public names the docs never mention: {missing}"


def test_every_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    missing = [key for key in qiao.DEFAULTS if f"`{key}`" not in text]
    assert not missing, f"settings docs/configuration.md does not describe: {missing}"


def test_every_check_id_is_documented() -> None:
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "src").rglob("*.py"))
    ids = set(re.findall(r"qiao\.[EW][0-9]{3}", source))
    assert ids, "no check ids found in the source"
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    missing = sorted(i for i in ids if f"`{i}`" not in text)
    assert not missing, f"check ids docs/configuration.md does not list: {missing}"


def test_the_pytest_example_project_passes(tmp_path: Path) -> None:
    """The ``# file:`` blocks of docs/testing.md, run by pytest with qiao's plugin."""
    files = 0
    for block in fenced_blocks(DOCS / "testing.md"):
        first, _, rest = block.source.partition("\n")
        match = _FILE_MARKER.match(first)
        if match is None:
            continue
        target = tmp_path / match.group("name")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(rest, encoding="utf-8")
        files += 1
    assert files >= 4, "docs/testing.md should show a whole example project"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " failed" not in result.stdout
    assert " passed" in result.stdout
