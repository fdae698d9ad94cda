"""``qiao collectstatic``: copy the static files into ``STATIC_ROOT`` for production.

Holds ``collectstatic`` and ``CollectResult``, the function of the ``qiao collectstatic`` command
(``command``), and what only they use: content hashing, the rewriting of CSS ``url(...)``,
``@import`` and ``sourceMappingURL`` references to hashed names, the ``.gz``/``.br`` siblings of
``--compress`` and the writing of the ``staticfiles.json`` manifest (its name and version are
defined here, and read back by ``qiao.static``).

``qiao.static`` re-exports the public names (``from qiao.static import collectstatic``) and
registers ``command``. NOTE: ``qiao.static`` imports this module, so this module imports the
battery's helpers (its folders, ``STATIC_ROOT`` and ``STATIC_URL``) inside the functions that use
them: there is no import cycle at import time.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import importlib
import json
import os
import posixpath
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from qiao.http.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from qiao.app import App
    from qiao.static import Static

#: The manifest ``collectstatic`` writes into ``STATIC_ROOT``: original name -> hashed name.
MANIFEST_NAME = "staticfiles.json"
MANIFEST_VERSION = 1
#: File types ``--compress`` compresses (others are compressed already, or rarely text).
COMPRESSIBLE = frozenset(
    {".css", ".js", ".mjs", ".json", ".map", ".svg", ".html", ".htm", ".txt", ".xml", ".csv"}
    | {".ico", ".wasm", ".ttf", ".otf", ".eot", ".md"}
)


@dataclass(slots=True)
class CollectResult:
    """What ``collectstatic`` did (or, with ``dry_run``, would do)."""

    root: str
    #: the manifest: original name -> hashed name, for every file collected
    paths: dict[str, str]
    #: names found again in a later folder, and so not collected from there (first wins)
    shadowed: list[str]
    #: CSS references that were left as they are (not a static file, outside the folders)
    warnings: list[str]
    compressed: int = 0
    removed: int = 0


def collectstatic(
    app: App,
    *,
    clear: bool = False,
    dry_run: bool = False,
    compress: bool = False,
    echo: Callable[[str], Any] = lambda line: None,
) -> CollectResult:
    """Copy the static files of ``app`` into ``STATIC_ROOT`` (the ``collectstatic`` command).

    Each file is copied under its own name and under a hashed name (content hash in the name);
    CSS ``url(...)``, ``@import`` and ``sourceMappingURL`` references to other static files are
    rewritten to hashed names in the hashed copy. ``staticfiles.json`` maps each name to its
    hashed name.

    Args:
        clear: delete everything in ``STATIC_ROOT`` first.
        dry_run: compute and report, write nothing.
        compress: write ``.gz`` (and ``.br`` with ``brotli`` installed) siblings of text files.
        echo: called with each line of the report.

    Raises:
        ImproperlyConfigured: the static battery is not installed, ``STATIC_ROOT`` is unset or
            overlaps a static folder or the app, or CSS files reference each other in a cycle.
    """
    # NOTE: imported here, not at the top: qiao.static imports this module.
    from qiao.static import _folders, _static_root, _static_url

    battery: Static | None = app.extensions.get("static")
    if battery is None:
        raise ImproperlyConfigured("collectstatic needs qiao.static.Static(app) installed.")
    root = _static_root(app, battery.setting("STATIC_ROOT"))
    if root is None:
        raise ImproperlyConfigured(
            "STATIC_ROOT is not set; set it to the folder to collect static files into, e.g. "
            "app.config['STATIC_ROOT'] = 'staticfiles' (relative to the app's root_path)."
        )
    folders = [os.path.realpath(f) for f in _folders(app)]
    _check_overlap(app, root, folders)
    collector = _Collector(_static_url(app, battery.setting("STATIC_URL")))
    collector.gather(folders)
    paths = {name: collector.hash(name) for name in collector.sources}
    result = CollectResult(root, paths, collector.shadowed, collector.warnings)
    if dry_run:
        result.removed = len(os.listdir(root)) if clear and os.path.isdir(root) else 0
        for name, hashed in paths.items():
            echo(f"  {name} -> {hashed}")
    else:
        if clear:
            result.removed = _clear(root)
        for name, hashed in paths.items():
            source = collector.sources[name]
            # a CSS file's hashed copy has hashed references: collector.contents
            written = [
                _copy(source, root, name),
                _copy(source, root, hashed, collector.contents.get(name)),
            ]
            if compress:
                result.compressed += sum(_compress(path, result.warnings) for path in written)
        _write_manifest(root, paths)
    for warning in result.warnings:
        echo(f"warning: {warning}")
    echo(_summary(result, dry_run))
    return result


def _summary(result: CollectResult, dry_run: bool) -> str:
    would = "would be " if dry_run else ""
    parts = [f"{len(result.paths)} static files {would}collected into {result.root}"]
    if result.removed:
        parts.append(f"{result.removed} old entries {would}removed")
    if result.shadowed:
        parts.append(f"{len(result.shadowed)} skipped (an earlier folder has the same name)")
    if result.compressed:
        parts.append(f"{result.compressed} compressed files written")
    return "; ".join(parts) + (" (dry run: nothing written)." if dry_run else ".")


def command(app: App, argv: list[str]) -> int:
    """The ``qiao collectstatic [--clear] [--dry-run] [--compress]`` command: run
    ``collectstatic`` and report; return the exit status (1 when it is not configured)."""
    parser = argparse.ArgumentParser(
        prog="qiao collectstatic",
        description="Copy static files into STATIC_ROOT, with hashed copies and a manifest.",
    )
    parser.add_argument("--clear", action="store_true", help="empty STATIC_ROOT first")
    parser.add_argument("--dry-run", action="store_true", help="show, do not write")
    parser.add_argument("--compress", action="store_true", help="also write .gz (and .br) siblings")
    args = parser.parse_args(argv)
    try:
        collectstatic(
            app, clear=args.clear, dry_run=args.dry_run, compress=args.compress, echo=print
        )
    except ImproperlyConfigured as exc:
        print(f"qiao collectstatic: {exc}", file=sys.stderr)
        return 1
    return 0


def _check_overlap(app: App, root: str, folders: list[str]) -> None:
    from qiao.static import _inside  # NOTE: here, not at the top: qiao.static imports us

    real_root = os.path.realpath(root)
    for folder in folders:
        if real_root == folder or _inside(real_root, folder) or _inside(folder, real_root):
            raise ImproperlyConfigured(
                f"STATIC_ROOT ({root}) overlaps the static folder {folder}; collect into a "
                "folder of its own, such as 'staticfiles' next to the app."
            )
    app_root = os.path.realpath(app.root_path)
    if real_root == app_root or _inside(app_root, real_root):
        raise ImproperlyConfigured(
            f"STATIC_ROOT ({root}) holds the app's own folder ({app.root_path}); collect into a "
            "folder of its own, such as 'staticfiles' next to the app."
        )


def _clear(root: str) -> int:
    if not os.path.isdir(root):
        return 0
    removed = 0
    for entry in os.scandir(root):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)
        removed += 1
    return removed


def _copy(source: str, root: str, name: str, content: bytes | None = None) -> str:
    """Copy ``source`` (or write ``content``) to ``root/name``; return the path written."""
    target = os.path.join(root, *name.split("/"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if content is None:
        shutil.copy2(source, target)
    else:
        with open(target, "wb") as file:
            file.write(content)
    for suffix in (".gz", ".br"):  # a compressed sibling of older content must not be served
        with contextlib.suppress(FileNotFoundError):
            os.unlink(target + suffix)
    return target


def _compress(path: str, warnings: list[str]) -> int:
    """Write ``path.gz`` and ``path.br`` when they are smaller; return how many were written."""
    if os.path.splitext(path)[1].lower() not in COMPRESSIBLE:
        return 0
    with open(path, "rb") as file:
        data = file.read()
    encoders: list[tuple[str, Callable[[bytes], bytes]]] = [
        (".gz", lambda d: gzip.compress(d, compresslevel=9, mtime=0))
    ]
    try:
        brotli = importlib.import_module("brotli")  # optional: pip install 'qiao[brotli]'
    except ImportError:
        if not any("brotli" in w for w in warnings):
            warnings.append("brotli is not installed, so no .br files: pip install 'qiao[brotli]'.")
    else:
        encoders.append((".br", brotli.compress))
    written = 0
    for suffix, encode in encoders:
        packed = encode(data)
        if len(packed) < len(data) * 0.95:  # not worth a second file otherwise
            with open(path + suffix, "wb") as file:
                file.write(packed)
            written += 1
    return written


def _write_manifest(root: str, paths: dict[str, str]) -> None:
    os.makedirs(root, exist_ok=True)
    path = os.path.join(root, MANIFEST_NAME)
    with open(path + ".tmp", "w", encoding="utf-8") as file:
        json.dump({"version": MANIFEST_VERSION, "paths": paths}, file, indent=1, sort_keys=True)
    os.replace(path + ".tmp", path)  # NOTE: a running app never reads half a manifest


def _hashed_name(name: str, content: bytes) -> str:
    digest = hashlib.sha256(content).hexdigest()[:12]
    head, base = posixpath.split(name)
    stem, ext = posixpath.splitext(base)
    return posixpath.join(head, f"{stem}.{digest}{ext}")


#: What CSS references another file with. Comments are matched (and kept) so that a ``url(``
#: inside one is not rewritten; ``sourceMappingURL`` comments are the exception.
_CSS_REFERENCE = re.compile(
    r"""/\*[#@]\s*sourceMappingURL=(?P<map>[^\s*]+)\s*\*/
    | /\*.*?\*/
    | url\(\s*(?:"(?P<dq>[^"\n]*)"|'(?P<sq>[^'\n]*)'|(?P<bare>[^"'()\s]+))\s*\)
    | @import\s+(?:"(?P<idq>[^"\n]*)"|'(?P<isq>[^'\n]*)')""",
    re.VERBOSE | re.DOTALL | re.IGNORECASE,
)
_URL_GROUPS = ("map", "dq", "sq", "bare", "idq", "isq")
_SCHEME = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.\-]*:|//)")


class _Collector:
    """Finds the files to collect and computes their hashed names, CSS references first."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.sources: dict[str, str] = {}
        self.shadowed: list[str] = []
        self.hashed: dict[str, str] = {}
        #: the hashed copies' content of CSS files (their references rewritten)
        self.contents: dict[str, bytes] = {}
        self.warnings: list[str] = []
        self._stack: list[str] = []

    def gather(self, folders: list[str]) -> None:
        for folder in folders:
            for dirpath, dirnames, filenames in os.walk(folder):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for filename in sorted(filenames):
                    if filename.startswith("."):
                        continue
                    path = os.path.join(dirpath, filename)
                    name = os.path.relpath(path, folder).replace(os.sep, "/")
                    if name in self.sources:
                        self.shadowed.append(name)
                    else:
                        self.sources[name] = path

    def hash(self, name: str) -> str:
        hashed = self.hashed.get(name)
        if hashed is not None:
            return hashed
        if name in self._stack:
            cycle = " -> ".join([*self._stack[self._stack.index(name) :], name])
            raise ImproperlyConfigured(
                f"CSS files reference each other in a cycle ({cycle}), so their hashed names "
                "cannot be computed; remove one of the references."
            )
        with open(self.sources[name], "rb") as file:
            content = file.read()
        if name.lower().endswith(".css"):
            self._stack.append(name)
            try:
                text = self._rewrite(name, content.decode("utf-8", "surrogateescape"))
            finally:
                self._stack.pop()
            content = self.contents[name] = text.encode("utf-8", "surrogateescape")
        hashed = self.hashed[name] = _hashed_name(name, content)
        return hashed

    def _rewrite(self, css: str, text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            whole = match.group(0)
            group = next((g for g in _URL_GROUPS if match.group(g) is not None), None)
            if group is None:
                return whole  # a plain comment
            new = self._resolve(css, match.group(group))
            if new is None:
                return whole
            start, end = match.start(group) - match.start(), match.end(group) - match.start()
            return whole[:start] + new + whole[end:]

        return _CSS_REFERENCE.sub(replace, text)

    def _resolve(self, css: str, url: str) -> str | None:
        """The reference ``url`` of ``css`` with a hashed file name, or None to keep it."""
        if not url or url.startswith("#") or _SCHEME.match(url):
            return None  # data:, https://, //cdn..., fragments: not ours
        cut = min((i for i in (url.find("?"), url.find("#")) if i >= 0), default=len(url))
        path, suffix = url[:cut], url[cut:]
        if not path or path.endswith("/"):
            return None
        if path.startswith("/"):
            if not path.startswith(self.base_url):
                return None  # an absolute path outside STATIC_URL: not a static file
            target = posixpath.normpath(unquote(path[len(self.base_url) :]))
        else:
            target = posixpath.normpath(posixpath.join(posixpath.dirname(css), unquote(path)))
        if target not in self.sources:
            self.warnings.append(f"{css} references {url!r}, which is not a static file; kept.")
            return None
        hashed = posixpath.basename(self.hash(target))
        return path[: path.rfind("/") + 1] + quote(hashed, safe="!$&*+,;=:@~") + suffix
