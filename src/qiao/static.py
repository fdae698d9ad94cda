"""Static files: serving, the ``static()`` URL helper and serving what ``collectstatic`` collected.

``Static(app)`` serves ``GET``/``HEAD`` ``{STATIC_URL}<path:filename>`` (``/static/`` by default)
from the app's ``static_folder``, then each blueprint's (one merged namespace, first match wins,
as Django's finders do), with ``ETag``, 304 and byte ranges.

``qiao collectstatic`` copies every static file into ``STATIC_ROOT``, next to a copy whose name
holds a hash of its content (``css/app.3f2a9c1b0d4e.css``), rewrites the ``url(...)``
references of CSS files to those names and writes the ``staticfiles.json`` manifest. Outside
``DEBUG``, when that manifest exists, ``static("css/app.css")`` gives the hashed URL and the
battery serves ``STATIC_ROOT`` itself: hashed names are cached for a year, and ``.gz``/``.br``
siblings (``collectstatic --compress``) are sent to clients that accept them.

This module holds the battery (settings, finding and serving files, URLs, reading the
manifest). ``collectstatic``, ``CollectResult``, ``COMPRESSIBLE``, ``MANIFEST_NAME`` and the
command live in ``qiao._collectstatic`` and are re-exported here.
"""

from __future__ import annotations

import json
import mimetypes
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from qiao._collectstatic import (
    COMPRESSIBLE,
    MANIFEST_NAME,
    MANIFEST_VERSION,
    CollectResult,
    collectstatic,
)
from qiao._collectstatic import command as _collectstatic_command
from qiao.extensions import Extension
from qiao.http.exceptions import ImproperlyConfigured, NotFound
from qiao.http.response import FileResponse

if TYPE_CHECKING:
    from qiao._scaffold import Scaffold
    from qiao.app import App
    from qiao.http.request import Request

__all__ = [
    "COMPRESSIBLE",
    "IMMUTABLE",
    "MANIFEST_NAME",
    "CollectResult",
    "Static",
    "accepted_encodings",
    "collectstatic",
    "safe_parts",
    "static",
]

#: ``Cache-Control`` of a hashed name: its content never changes, so caches keep it a year.
IMMUTABLE = "public, max-age=31536000, immutable"
_ABSOLUTE_URL = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.\-]*:)?//")


def _folders(app: App) -> list[str]:
    """The static folders, in lookup order: the app's, then each blueprint's (depth first, in
    registration order; a folder shared by two blueprints is listed once)."""
    folders: list[str] = []

    def visit(scaffold: Scaffold) -> None:
        folder = scaffold.static_folder
        if folder and folder not in folders:
            folders.append(folder)
        for blueprint, _ in scaffold.blueprints:
            visit(blueprint)

    visit(app)
    return folders


def safe_parts(filename: str) -> list[str] | None:
    """Split a requested name into path segments, or None when it must not reach the disk.

    SECURITY: refuses ``..`` and ``.`` segments, empty segments (``a//b``, a leading ``/``),
    dotfiles (``.env``, ``.git/``), NUL, backslashes and colons (separators and drive letters
    on Windows). Symlinks are checked separately, against the real path.
    """
    if not filename or "\x00" in filename or "\\" in filename or ":" in filename:
        return None
    parts = filename.split("/")
    if any(not part or part.startswith(".") for part in parts):
        return None
    return parts


def _inside(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip(os.sep) + os.sep)


def accepted_encodings(header: str) -> set[str]:
    """The content codings an ``Accept-Encoding`` value allows (``q=0`` refuses one; ``*``
    stands for the codings not named)."""
    weights: dict[str, float] = {}
    for item in header.split(","):
        coding, _, params = item.partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if coding.strip():
            weights[coding.strip().lower()] = q
    star = weights.get("*", 0.0)
    return {c for c in ("br", "gzip") if weights.get(c, star) > 0}


def _content_type(name: str) -> str:
    """The ``Content-Type`` ``FileResponse`` would pick for ``name``."""
    guessed, encoding = mimetypes.guess_type(name)
    if encoding or guessed is None:
        return "application/octet-stream"
    return guessed + "; charset=utf-8" if guessed.startswith("text/") else guessed


@dataclass(slots=True)
class _Collected:
    """A file of ``STATIC_ROOT``, indexed at start-up."""

    path: str
    cache_control: str
    content_type: str
    br: str | None = None
    gzip: str | None = None

    def response(self, request: Request) -> FileResponse:
        headers = [("cache-control", self.cache_control)]
        if self.br is None and self.gzip is None:
            return FileResponse(self.path, headers=headers)
        headers.append(("vary", "accept-encoding"))
        accepted = accepted_encodings(request.headers.get("accept-encoding", ""))
        for coding, path in (("br", self.br), ("gzip", self.gzip)):
            if path is not None and coding in accepted:
                headers.append(("content-encoding", coding))
                return FileResponse(path, headers=headers, content_type=self.content_type)
        return FileResponse(self.path, headers=headers, content_type=self.content_type)


class Static(Extension):
    """The static-files battery.

    Options (each overrides the setting in brackets):
        url: the URL prefix (``STATIC_URL``; default: the app's ``static_url_path`` + ``/``).
            A full URL (``https://cdn.example.com/static/``) only builds URLs: nothing is served.
        root: where ``collectstatic`` collects to (``STATIC_ROOT``; relative to the app's
            ``root_path``; default None).
        use_manifest: hashed URLs and serving from ``STATIC_ROOT`` when its manifest exists
            (``STATIC_USE_MANIFEST``; default: when ``DEBUG`` is off).
        manifest_strict: ``static()`` of a name missing from the manifest raises
            (``STATIC_MANIFEST_STRICT``, True); in ``DEBUG`` it gives the plain URL.
        cache_control: ``Cache-Control`` of names without a hash (``STATIC_CACHE_CONTROL``,
            ``"no-cache"``: browsers revalidate, and get a 304 when nothing changed).
    """

    name = "static"
    middleware = False
    settings: ClassVar[dict[str, Any]] = {
        "STATIC_URL": None,
        "STATIC_ROOT": None,
        "STATIC_USE_MANIFEST": None,
        "STATIC_MANIFEST_STRICT": True,
        "STATIC_CACHE_CONTROL": "no-cache",
    }

    _configured = False

    def init_app(self, app: App) -> None:
        """Install on ``app`` and add the ``collectstatic`` command (see ``Extension.init_app``)."""
        super().init_app(app)
        app.add_command(
            "collectstatic",
            _collectstatic_command,
            "copy static files into STATIC_ROOT with hashed names and a manifest",
        )

    def configure(self, app: App) -> None:
        """When the app compiles: read the settings, load the manifest and index
        ``STATIC_ROOT`` when serving from it, and add the ``static`` route.

        Raises:
            ImproperlyConfigured: ``STATIC_URL`` is malformed or the manifest is unreadable.
        """
        self.base_url = _static_url(app, self.setting("STATIC_URL"))
        self.root = _static_root(app, self.setting("STATIC_ROOT"))
        self.folders = [os.path.realpath(f) for f in _folders(app)]
        self.debug = bool(app.config["DEBUG"])
        self.strict = bool(self.setting("STATIC_MANIFEST_STRICT"))
        self.cache_control = str(self.setting("STATIC_CACHE_CONTROL"))
        use_manifest = self.setting("STATIC_USE_MANIFEST")
        if use_manifest is None:
            use_manifest = not self.debug
        #: original name -> hashed name, when URLs are fingerprinted; else None
        self.manifest: dict[str, str] | None = None
        self._index: dict[str, _Collected] | None = None
        if use_manifest and self.root is not None:
            self.manifest = _read_manifest(self.root)
            if self.manifest is not None:
                self._index = self._index_root(self.root, set(self.manifest.values()))
        self._configured = True
        if not _ABSOLUTE_URL.match(self.base_url):
            app.add_route(self.base_url + "<path:filename>", self.serve, ["GET"], name="static")

    def _index_root(self, root: str, hashed: set[str]) -> dict[str, _Collected]:
        # PERF: production serves collected files from a dictionary built once, not the disk.
        real_root = os.path.realpath(root)
        names: dict[str, str] = {}
        for dirpath, dirnames, filenames in os.walk(real_root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for filename in filenames:
                path = os.path.join(dirpath, filename)
                name = os.path.relpath(path, real_root).replace(os.sep, "/")
                if filename.startswith(".") or name == MANIFEST_NAME:
                    continue
                if _inside(os.path.realpath(path), real_root):  # SECURITY: no symlinks out
                    names[name] = path
        index = {}
        for name, path in names.items():
            index[name] = _Collected(
                path,
                IMMUTABLE if name in hashed else self.cache_control,
                _content_type(name),
                names.get(name + ".br"),
                names.get(name + ".gz"),
            )
        return index

    def _ensure_configured(self) -> None:
        if not self._configured:
            if self.app is None:
                raise RuntimeError("Static is not installed on an app; call init_app(app).")
            self.app.compile()  # runs configure

    def find(self, filename: str) -> str | None:
        """The file ``filename`` (``"css/app.css"``) names in the static folders, first match
        first; None when there is none or the name is unsafe (see ``safe_parts``)."""
        self._ensure_configured()
        parts = safe_parts(filename)
        if parts is None:
            return None
        for folder in self.folders:
            path = os.path.realpath(os.path.join(folder, *parts))
            # SECURITY: the real path, so a symlink cannot lead outside the folder.
            if _inside(path, folder) and os.path.isfile(path):
                return path
        return None

    def serve(self, request: Request, filename: str) -> FileResponse:
        """The view of ``GET {STATIC_URL}<path:filename>``.

        Raises:
            NotFound: no such file, a directory, or an unsafe name.
        """
        if self._index is not None:
            entry = self._index.get(filename)
            if entry is None:
                raise NotFound()
            return entry.response(request)
        path = self.find(filename)
        if path is None:
            raise NotFound()
        return FileResponse(path, headers=[("cache-control", self.cache_control)])

    def url(self, filename: str, request: Request | None = None) -> str:
        """The URL of static file ``filename``: hashed when the manifest is in use.

        With ``request``, a path-only ``STATIC_URL`` is prefixed with the request's
        ``root_path`` (the app mounted under a sub-path).

        Raises:
            ValueError: the manifest is in use and ``filename`` is not in it, with
                ``STATIC_MANIFEST_STRICT`` on and ``DEBUG`` off (run ``qiao collectstatic``
                again, or fix the name).
        """
        self._ensure_configured()
        name = filename.lstrip("/")
        if self.manifest is not None:
            hashed = self.manifest.get(name)
            if hashed is not None:
                name = hashed
            elif self.strict and not self.debug:
                raise ValueError(
                    f"Static file {name!r} is not in the manifest {self.root}{os.sep}"
                    f"{MANIFEST_NAME}; run 'qiao collectstatic' after adding it, or fix the name."
                )
        prefix = self.base_url
        if request is not None and prefix.startswith("/") and not prefix.startswith("//"):
            prefix = request.root_path + prefix
        return prefix + quote(name)


def _static_url(app: App, setting: Any) -> str:
    """``STATIC_URL``, checked: a path or a full URL that ends with ``/``.

    Raises:
        ImproperlyConfigured: it does not end with ``/``, or is neither a path nor a URL.
    """
    if setting is None:
        return "/" + (app.static_url_path or "/static").strip("/") + "/"
    url = str(setting)
    if not url.endswith("/") or not (url.startswith("/") or _ABSOLUTE_URL.match(url)):
        raise ImproperlyConfigured(
            f"STATIC_URL must be a path or a URL ending with '/' (like '/static/' or "
            f"'https://cdn.example.com/static/'), got {url!r}."
        )
    return url


def _static_root(app: App, setting: Any) -> str | None:
    """``STATIC_ROOT`` as an absolute path (a relative one is relative to ``app.root_path``)."""
    if setting is None or setting == "":
        return None
    return os.path.abspath(os.path.join(app.root_path, os.fspath(setting)))


def _read_manifest(root: str) -> dict[str, str] | None:
    """The ``paths`` of ``root``'s manifest, or None when there is no manifest.

    Raises:
        ImproperlyConfigured: the manifest is not one ``collectstatic`` wrote.
    """
    path = os.path.join(root, MANIFEST_NAME)
    try:
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ImproperlyConfigured(
            f"The static manifest {path} cannot be read ({exc}); run 'qiao collectstatic'."
        ) from None
    if (
        not isinstance(data, dict)
        or data.get("version") != MANIFEST_VERSION
        or not isinstance(data.get("paths"), dict)
    ):
        raise ImproperlyConfigured(
            f"The static manifest {path} is not one this version of qiao wrote; run "
            "'qiao collectstatic --clear'."
        )
    return {str(k): str(v) for k, v in data["paths"].items()}


def static(request: Request, filename: str) -> str:
    """The URL of static file ``filename`` for ``request`` (``Static.url``).

    Raises:
        ImproperlyConfigured: the static battery is not installed.
        ValueError: see ``Static.url``.
    """
    battery: Static | None = request.app.extensions.get("static")
    if battery is None:
        raise ImproperlyConfigured(
            "static() needs the static battery; install it with qiao.static.Static(app)."
        )
    return battery.url(filename, request)
