"""The static-files battery: serving, URLs, ``collectstatic`` and serving what it collected.

Serving tests run under WSGI and ASGI (the ``serve`` fixture); ``collectstatic`` runs in-process
through its command function and once through the real ``qiao`` command in a subprocess.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
import types
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

import qiao
from qiao.static import (
    IMMUTABLE,
    MANIFEST_NAME,
    CollectResult,
    Static,
    accepted_encodings,
    collectstatic,
    safe_parts,
    static,
)
from tests.http._support import Serve

CSS = "body { color: #333; }\n" * 40  # long enough for compression to pay


@pytest.fixture(params=["wsgi", "asgi"])
def serve(request: pytest.FixtureRequest) -> Iterator[Serve]:
    """Call the app through WSGI, then (second run) through ASGI."""
    with ExitStack() as stack:
        yield Serve(request.param, stack)


def write(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def make_app(
    tmp_path: Path, files: dict[str, str | bytes] | None = None, **config: Any
) -> qiao.App:
    write(tmp_path, files or {})
    return qiao.App(
        __name__, config={"SECRET_KEY": "test-secret", **config}, root_path=str(tmp_path)
    )


def digest(content: bytes | str) -> str:
    data = content.encode() if isinstance(content, str) else content
    return hashlib.sha256(data).hexdigest()[:12]


def collect(app: qiao.App, *args: str) -> int:
    """Run ``qiao collectstatic ARGS`` in-process, through the command the battery added."""
    func, _ = app.commands["collectstatic"]
    return int(func(app, list(args)) or 0)


# -- serving from the static folders ------------------------------------------------------------
def test_serves_a_file_with_validators_and_a_revalidating_cache_policy(
    tmp_path: Path, serve: Serve
) -> None:
    app = make_app(tmp_path, {"static/css/app.css": CSS})
    Static(app)
    response = serve(app).get("/static/css/app.css")
    assert response.status_code == 200
    assert response.text == CSS
    assert response.headers["content-type"] == "text/css; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["etag"].startswith('"')
    assert response.headers["accept-ranges"] == "bytes"
    assert "vary" not in response.headers


def test_head_sends_headers_only(tmp_path: Path, serve: Serve) -> None:
    app = make_app(tmp_path, {"static/app.js": "let x = 1;"})
    Static(app)
    response = serve(app).head("/static/app.js")
    assert response.status_code == 200
    assert response.headers["content-length"] == "10"
    assert response.content == b""


def test_if_none_match_gets_304(tmp_path: Path, serve: Serve) -> None:
    app = make_app(tmp_path, {"static/app.js": "let x = 1;"})
    Static(app)
    client = serve(app)
    etag = client.get("/static/app.js").headers["etag"]
    response = client.get("/static/app.js", headers={"if-none-match": etag})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["cache-control"] == "no-cache"


def test_range_gets_206_and_an_unsatisfiable_one_416(tmp_path: Path, serve: Serve) -> None:
    app = make_app(tmp_path, {"static/data.bin": bytes(range(100))})
    Static(app)
    client = serve(app)
    partial = client.get("/static/data.bin", headers={"range": "bytes=10-19"})
    assert partial.status_code == 206
    assert partial.content == bytes(range(10, 20))
    assert partial.headers["content-range"] == "bytes 10-19/100"
    assert client.get("/static/data.bin", headers={"range": "bytes=200-"}).status_code == 416


def test_only_get_and_head(tmp_path: Path, serve: Serve) -> None:
    app = make_app(tmp_path, {"static/app.js": "1"})
    Static(app)
    assert serve(app).post("/static/app.js").status_code == 405


TRAVERSALS = [
    "/static/%2e%2e/secret.txt",
    "/static/%2E%2E/%2E%2E/secret.txt",
    "/static/..%2fsecret.txt",
    "/static/css/..%2f..%2fsecret.txt",
    "/static/css/%2e%2e%2f%2e%2e%2fsecret.txt",
    "/static/..%5csecret.txt",
    "/static/css%5c..%5c..%5csecret.txt",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/%2Fetc/passwd",
    "/static/C:%5cWindows%5cwin.ini",
    "/static/C:/Windows/win.ini",
    "/static/app.css%00.png",
    "/static/%00",
    "/static/%2e/app.css",
    "/static/css//app.css",
    "/static/.env",
    "/static/css/.secret",
    "/static/.git/config",
    "/static/escape.txt",
    "/static/escape-dir/secret.txt",
    "/static/css",
    "/static/css/",
    "/static/missing.css",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_unsafe_and_missing_names_are_404(tmp_path: Path, serve: Serve, path: str) -> None:
    app = make_app(
        tmp_path,
        {
            "secret.txt": "SECRET",
            "outside/secret.txt": "SECRET",
            "static/app.css": "ok",
            "static/css/app.css": "ok",
            "static/.env": "SECRET",
            "static/css/.secret": "SECRET",
            "static/.git/config": "SECRET",
        },
    )
    (tmp_path / "static" / "escape.txt").symlink_to(tmp_path / "secret.txt")
    (tmp_path / "static" / "escape-dir").symlink_to(tmp_path / "outside")
    Static(app)
    response = serve(app).get(path)
    assert response.status_code == 404
    assert "SECRET" not in response.text


def test_a_symlink_inside_the_folder_is_served(tmp_path: Path, serve: Serve) -> None:
    app = make_app(tmp_path, {"static/real.css": "real"})
    (tmp_path / "static" / "alias.css").symlink_to(tmp_path / "static" / "real.css")
    Static(app)
    assert serve(app).get("/static/alias.css").text == "real"


@pytest.mark.parametrize(
    "name",
    ["", "..", "a/../b", "/etc/passwd", "a//b", "a\\b", "C:x", "a\x00b", ".env", "a/.b"],
)
def test_safe_parts_refuses(name: str) -> None:
    assert safe_parts(name) is None


def test_safe_parts_accepts_ordinary_names() -> None:
    assert safe_parts("css/app.min.css") == ["css", "app.min.css"]
    assert safe_parts("fonts/my font..woff2") == ["fonts", "my font..woff2"]


def test_blueprint_folders_merge_after_the_app(tmp_path: Path, serve: Serve) -> None:
    app = make_app(
        tmp_path,
        {
            "static/shared.css": "app",
            "blog/static/shared.css": "blog",
            "blog/static/blog/blog.css": "blog css",
            "blog/comments/static/comments/c.css": "comments css",
        },
    )
    blog = qiao.Blueprint(
        "blog", __name__, static_folder="static", root_path=str(tmp_path / "blog")
    )
    comments = qiao.Blueprint(
        "comments",
        __name__,
        static_folder="static",
        root_path=str(tmp_path / "blog" / "comments"),
    )
    blog.register_blueprint(comments)
    app.register_blueprint(blog, url_prefix="/blog")
    Static(app)
    client = serve(app)
    assert client.get("/static/shared.css").text == "app"
    assert client.get("/static/blog/blog.css").text == "blog css"
    assert client.get("/static/comments/c.css").text == "comments css"


def test_a_hash_looking_name_is_not_immutable_without_a_manifest(
    tmp_path: Path, serve: Serve
) -> None:
    app = make_app(tmp_path, {"static/app.0123456789ab.css": "x"})
    Static(app)
    response = serve(app).get("/static/app.0123456789ab.css")
    assert response.headers["cache-control"] == "no-cache"


def test_cache_control_setting(tmp_path: Path, serve: Serve) -> None:
    app = make_app(tmp_path, {"static/a.css": "x"}, STATIC_CACHE_CONTROL="public, max-age=60")
    Static(app)
    assert serve(app).get("/static/a.css").headers["cache-control"] == "public, max-age=60"


# -- URLs ---------------------------------------------------------------------------------------
def test_static_url_follows_static_url_path_and_the_setting(tmp_path: Path, serve: Serve) -> None:
    first = qiao.App(
        __name__, config={"DEBUG": True}, root_path=str(tmp_path), static_url_path="/assets"
    )
    write(tmp_path, {"static/a.css": "a"})
    Static(first)
    assert first.extensions["static"].url("a.css") == "/assets/a.css"
    assert serve(first).get("/assets/a.css").text == "a"

    second = make_app(tmp_path)
    Static(second)
    second.config["STATIC_URL"] = "/s/"  # read when the app compiles, not at install
    assert second.extensions["static"].url("a.css") == "/s/a.css"
    assert second.url_for("static", filename="a.css") == "/s/a.css"


def test_a_cdn_static_url_builds_urls_and_serves_nothing(tmp_path: Path, serve: Serve) -> None:
    app = make_app(tmp_path, {"static/a.css": "a"}, STATIC_URL="https://cdn.example.com/s/")
    Static(app)
    assert app.extensions["static"].url("a b.css") == "https://cdn.example.com/s/a%20b.css"
    assert serve(app).get("/static/a.css").status_code == 404


@pytest.mark.parametrize("url", ["/static", "static/", "ftp:/x/", ""])
def test_a_malformed_static_url_fails_at_start_up(tmp_path: Path, url: str) -> None:
    app = make_app(tmp_path, STATIC_URL=url)
    Static(app)
    with pytest.raises(qiao.ImproperlyConfigured, match="STATIC_URL"):
        app.compile()


def test_url_is_prefixed_with_the_mount_point_of_the_request(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    Static(app)
    mounted: Any = types.SimpleNamespace(root_path="/shop", app=app)
    assert app.extensions["static"].url("css/app.css", mounted) == "/shop/static/css/app.css"
    assert static(mounted, "/css/app.css") == "/shop/static/css/app.css"


def test_static_helper_without_the_battery_says_what_to_install(tmp_path: Path) -> None:
    request: Any = types.SimpleNamespace(root_path="", app=make_app(tmp_path))
    with pytest.raises(qiao.ImproperlyConfigured, match=r"qiao\.static\.Static\(app\)"):
        static(request, "a.css")


def _collected(tmp_path: Path, **config: Any) -> qiao.App:
    app = make_app(
        tmp_path,
        {"static/css/app.css": CSS, "static/img/logo.png": b"\x89PNG"},
        STATIC_ROOT="collected",
        **config,
    )
    Static(app)
    assert collect(app) == 0
    return app


def test_url_is_hashed_from_the_manifest_outside_debug(tmp_path: Path) -> None:
    app = _collected(tmp_path)
    battery = app.extensions["static"]
    assert battery.url("css/app.css") == f"/static/css/app.{digest(CSS)}.css"
    with pytest.raises(ValueError, match=r"'css/typo\.css' is not in the manifest"):
        battery.url("css/typo.css")


def test_debug_ignores_the_manifest(tmp_path: Path) -> None:
    app = _collected(tmp_path, DEBUG=True)
    assert app.extensions["static"].url("css/app.css") == "/static/css/app.css"


def test_forced_manifest_in_debug_falls_back_to_the_plain_url(tmp_path: Path) -> None:
    app = _collected(tmp_path, DEBUG=True, STATIC_USE_MANIFEST=True)
    battery = app.extensions["static"]
    assert battery.url("css/app.css") == f"/static/css/app.{digest(CSS)}.css"
    assert battery.url("css/typo.css") == "/static/css/typo.css"


def test_lenient_manifest_falls_back_to_the_plain_url(tmp_path: Path) -> None:
    app = _collected(tmp_path, STATIC_MANIFEST_STRICT=False)
    assert app.extensions["static"].url("css/typo.css") == "/static/css/typo.css"


def test_without_a_manifest_urls_are_plain(tmp_path: Path) -> None:
    app = make_app(tmp_path, STATIC_ROOT="collected")
    Static(app)
    assert app.extensions["static"].url("css/app.css") == "/static/css/app.css"


@pytest.mark.parametrize(
    "content", ["not json", "[]", '{"version": 99, "paths": {}}', '{"version": 1}']
)
def test_an_unreadable_manifest_fails_at_start_up(tmp_path: Path, content: str) -> None:
    app = make_app(tmp_path, {f"collected/{MANIFEST_NAME}": content}, STATIC_ROOT="collected")
    Static(app)
    with pytest.raises(qiao.ImproperlyConfigured, match="collectstatic"):
        app.compile()


# -- collectstatic ------------------------------------------------------------------------------
def test_collectstatic_copies_hashes_and_writes_the_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = _collected(tmp_path)
    root = tmp_path / "collected"
    css_name = f"css/app.{digest(CSS)}.css"
    png_name = "img/logo." + digest(b"\x89PNG") + ".png"
    manifest = json.loads((root / MANIFEST_NAME).read_text())
    assert manifest == {"paths": {"css/app.css": css_name, "img/logo.png": png_name}, "version": 1}
    assert (root / "css/app.css").read_text() == CSS
    assert (root / css_name).read_text() == CSS
    assert (root / png_name).read_bytes() == b"\x89PNG"
    assert "2 static files collected into" in capsys.readouterr().out
    assert app.extensions["static"].setting("STATIC_ROOT") == "collected"


def test_collectstatic_skips_dotfiles_and_reports_shadowed_names(tmp_path: Path) -> None:
    app = make_app(
        tmp_path,
        {
            "static/a.css": "app",
            "static/.DS_Store": "x",
            "static/.git/HEAD": "x",
            "bp/static/a.css": "blueprint",
            "bp/static/b.css": "b",
        },
        STATIC_ROOT="out",
    )
    app.register_blueprint(
        qiao.Blueprint("bp", __name__, static_folder="static", root_path=str(tmp_path / "bp"))
    )
    Static(app)
    result = collectstatic(app)
    assert isinstance(result, CollectResult)
    assert sorted(result.paths) == ["a.css", "b.css"]
    assert result.shadowed == ["a.css"]
    assert (tmp_path / "out/a.css").read_text() == "app"
    assert not (tmp_path / "out/.DS_Store").exists()


def _css_project(tmp_path: Path, css: str, **files: str | bytes) -> tuple[qiao.App, dict[str, str]]:
    app = make_app(
        tmp_path,
        {
            "static/css/app.css": css,
            "static/img/a.png": b"A",
            "static/img/my icon.png": b"ICON",
            "static/fonts/f.woff2": b"F",
            "static/css/b.css": ".b{}",
            "static/css/app.css.map": "{}",
            **files,
        },
        STATIC_ROOT="out",
    )
    Static(app)
    result = collectstatic(app)
    return app, result.paths


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('url("../img/a.png")', 'url("../img/a.{A}.png")'),
        ("url('../img/a.png')", "url('../img/a.{A}.png')"),
        ("url(../img/a.png)", "url(../img/a.{A}.png)"),
        ("url(  ../img/a.png  )", "url(  ../img/a.{A}.png  )"),
        ("URL(../img/a.png)", "URL(../img/a.{A}.png)"),
        ("url(../img/./a.png)", "url(../img/./a.{A}.png)"),
        ("url(../fonts/f.woff2?v=3#iefix)", "url(../fonts/f.{F}.woff2?v=3#iefix)"),
        ("url(../fonts/f.woff2#x)", "url(../fonts/f.{F}.woff2#x)"),
        ('url("../img/my%20icon.png")', 'url("../img/my%20icon.{ICON}.png")'),
        ("url(/static/img/a.png)", "url(/static/img/a.{A}.png)"),
        ('@import "b.css";', '@import "b.{B}.css";'),
        ("@import 'b.css';", "@import 'b.{B}.css';"),
        ("@import url(b.css);", "@import url(b.{B}.css);"),
        ("/*# sourceMappingURL=app.css.map */", "/*# sourceMappingURL=app.css.{MAP}.map */"),
        # left alone: not a file of ours
        ("url(data:image/png;base64,iVBORw0KGgo=)", None),
        ("url(\"data:image/svg+xml;utf8,<svg fill='url(%23g)'></svg>\")", None),
        ("url(https://example.com/a.png)", None),
        ("url(//cdn.example.com/a.png)", None),
        ("url(#gradient)", None),
        ("url(/elsewhere/a.png)", None),
        ("url(../img/)", None),
        ("/* url(../img/a.png) */", None),
        ("url(../../secret.png)", None),
        ("url(../img/missing.png)", None),
    ],
)
def test_collectstatic_rewrites_css_references(
    tmp_path: Path, source: str, expected: str | None
) -> None:
    css = f".x {{ background: {source}; }}\n"
    _, paths = _css_project(tmp_path, css)
    hashes = {
        "A": digest(b"A"),
        "F": digest(b"F"),
        "ICON": digest(b"ICON"),
        "B": digest(".b{}"),
        "MAP": digest("{}"),
    }
    want = css if expected is None else css.replace(source, expected.format(**hashes))
    hashed = (tmp_path / "out" / paths["css/app.css"]).read_text()
    assert hashed == want
    assert paths["css/app.css"] == f"css/app.{digest(want)}.css"
    assert (tmp_path / "out/css/app.css").read_text() == css  # the plain copy is untouched


def test_collectstatic_warns_about_references_it_cannot_resolve(tmp_path: Path) -> None:
    app = make_app(
        tmp_path,
        {"static/css/app.css": "a{background:url(../img/missing.png)}"},
        STATIC_ROOT="out",
    )
    Static(app)
    lines: list[str] = []
    result = collectstatic(app, echo=lines.append)
    assert result.warnings == [
        "css/app.css references '../img/missing.png', which is not a static file; kept."
    ]
    assert f"warning: {result.warnings[0]}" in lines


def test_a_changed_image_changes_the_hash_of_the_css_that_uses_it(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {
        "static/css/app.css": '@import "theme.css";',
        "static/css/theme.css": "a{background:url(../img/a.png)}",
    }
    _, first = _css_project(tmp_path, "", **files)
    _, second = _css_project(tmp_path, "", **files, **{"static/img/a.png": b"changed"})
    assert first["img/a.png"] != second["img/a.png"]
    assert first["css/theme.css"] != second["css/theme.css"]
    assert first["css/app.css"] != second["css/app.css"]
    assert first["css/b.css"] == second["css/b.css"]


def test_css_files_in_a_cycle_are_refused(tmp_path: Path) -> None:
    app = make_app(
        tmp_path,
        {"static/a.css": '@import "b.css";', "static/b.css": '@import "a.css";'},
        STATIC_ROOT="out",
    )
    Static(app)
    with pytest.raises(qiao.ImproperlyConfigured, match=r"cycle \(a\.css -> b\.css -> a\.css\)"):
        collectstatic(app)


def test_clear_removes_what_was_there(tmp_path: Path) -> None:
    app = _collected(tmp_path)
    write(tmp_path, {"collected/stale.css": "old", "collected/old/dir.css": "old"})
    assert collect(app, "--clear") == 0
    root = tmp_path / "collected"
    assert not (root / "stale.css").exists()
    assert not (root / "old").exists()
    assert (root / "css/app.css").exists()


def test_without_clear_old_files_stay(tmp_path: Path) -> None:
    app = _collected(tmp_path)
    write(tmp_path, {"collected/old.abcdefabcdef.css": "old"})
    assert collect(app) == 0
    assert (tmp_path / "collected/old.abcdefabcdef.css").exists()


def test_dry_run_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = make_app(tmp_path, {"static/css/app.css": CSS}, STATIC_ROOT="collected")
    Static(app)
    assert collect(app, "--dry-run", "--compress") == 0
    assert not (tmp_path / "collected").exists()
    out = capsys.readouterr().out
    assert f"css/app.css -> css/app.{digest(CSS)}.css" in out
    assert "1 static files would be collected into" in out
    assert "dry run: nothing written" in out


def test_dry_run_with_clear_reports_and_keeps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = _collected(tmp_path)
    capsys.readouterr()
    assert collect(app, "--dry-run", "--clear") == 0
    assert "3 old entries would be removed" in capsys.readouterr().out
    assert (tmp_path / "collected" / MANIFEST_NAME).exists()


def test_compress_writes_smaller_siblings_of_text_files(tmp_path: Path) -> None:
    app = make_app(
        tmp_path,
        {"static/app.css": CSS, "static/tiny.css": "a{}", "static/logo.png": b"P" * 4000},
        STATIC_ROOT="out",
    )
    Static(app)
    result = collectstatic(app, compress=True)
    out = tmp_path / "out"
    hashed = result.paths["app.css"]
    for name in ("app.css", hashed):
        assert gzip.decompress((out / f"{name}.gz").read_bytes()).decode() == CSS
        assert (out / f"{name}.br").exists()
    assert not (out / "tiny.css.gz").exists()  # compressing would not make it smaller
    assert not (out / "logo.png.gz").exists()  # not a text type
    assert result.compressed == 4


def test_recollecting_without_compress_drops_stale_siblings(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"static/app.css": CSS}, STATIC_ROOT="out")
    Static(app)
    collectstatic(app, compress=True)
    write(tmp_path, {"static/app.css": CSS + "a{}"})
    collectstatic(app)
    assert not (tmp_path / "out/app.css.gz").exists()
    assert not (tmp_path / "out/app.css.br").exists()


def test_collectstatic_needs_static_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(tmp_path, {"static/a.css": "a"})
    Static(app)
    assert collect(app) == 1
    assert "STATIC_ROOT is not set" in capsys.readouterr().err


@pytest.mark.parametrize("root", ["static", "static/dist", ".", "..", "/"])
def test_collectstatic_refuses_a_root_that_overlaps(tmp_path: Path, root: str) -> None:
    app = make_app(tmp_path, {"static/a.css": "a", "keep.py": "x"}, STATIC_ROOT=root)
    Static(app)
    with pytest.raises(qiao.ImproperlyConfigured, match="STATIC_ROOT"):
        collectstatic(app, clear=True)
    assert (tmp_path / "keep.py").exists()


def test_collectstatic_through_the_qiao_command(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "shop.py": (
                "import qiao\n"
                "from qiao.static import Static\n"
                "app = qiao.App(__name__, config={'STATIC_ROOT': 'public'})\n"
                "Static(app)\n"
            ),
            "static/css/app.css": "a{background:url(../img/x.png)}" + CSS,
            "static/img/x.png": b"X",
        },
    )
    env = {k: v for k, v in os.environ.items() if k != "QIAO_APP"}
    result = subprocess.run(
        [sys.executable, "-m", "qiao", "collectstatic", "--app", "shop:app", "--compress"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "2 static files collected into" in result.stdout
    manifest = json.loads((tmp_path / "public" / MANIFEST_NAME).read_text())
    hashed_css = (tmp_path / "public" / manifest["paths"]["css/app.css"]).read_text()
    assert f"url(../img/x.{digest(b'X')}.png)" in hashed_css
    assert (tmp_path / "public" / (manifest["paths"]["css/app.css"] + ".gz")).exists()

    helped = subprocess.run(
        [sys.executable, "-m", "qiao", "collectstatic", "--app", "shop:app", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert helped.returncode == 0
    for flag in ("--clear", "--dry-run", "--compress"):
        assert flag in helped.stdout


# -- serving what collectstatic collected -------------------------------------------------------
def _production(tmp_path: Path, compress: bool = True) -> tuple[qiao.App, dict[str, str]]:
    app = make_app(
        tmp_path,
        {"static/css/app.css": CSS, "static/img/logo.png": b"\x89PNG"},
        STATIC_ROOT="collected",
    )
    Static(app)
    paths = collectstatic(app, compress=compress).paths
    return app, paths


def test_hashed_names_are_cached_for_a_year(tmp_path: Path, serve: Serve) -> None:
    app, paths = _production(tmp_path)
    client = serve(app)
    hashed = client.get("/static/" + paths["img/logo.png"])
    assert hashed.status_code == 200
    assert hashed.headers["cache-control"] == IMMUTABLE == "public, max-age=31536000, immutable"
    plain = client.get("/static/img/logo.png")
    assert plain.headers["cache-control"] == "no-cache"


def test_production_serves_static_root_not_the_source_folders(tmp_path: Path, serve: Serve) -> None:
    app, _ = _production(tmp_path)
    write(tmp_path, {"static/css/app.css": "edited after collecting", "static/new.css": "new"})
    client = serve(app)
    assert client.get("/static/css/app.css", headers={"accept-encoding": "identity"}).text == CSS
    assert client.get("/static/new.css").status_code == 404
    assert client.get("/static/" + MANIFEST_NAME).status_code == 404


def test_production_index_refuses_traversal_and_escaping_symlinks(
    tmp_path: Path, serve: Serve
) -> None:
    app, _ = _production(tmp_path)
    write(tmp_path, {"secret.txt": "SECRET"})
    (tmp_path / "collected" / "escape.txt").symlink_to(tmp_path / "secret.txt")
    client = serve(app)
    for path in ("/static/escape.txt", "/static/%2e%2e/secret.txt", "/static/..%2fsecret.txt"):
        assert client.get(path).status_code == 404, path


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        ("gzip, deflate, br", "br"),
        ("gzip", "gzip"),
        ("br;q=0, gzip", "gzip"),
        ("*", "br"),
        ("*;q=0", None),
        ("identity", None),
        ("gzip;q=0", None),
    ],
)
def test_precompressed_files_follow_accept_encoding(
    tmp_path: Path, serve: Serve, accept: str, coding: str | None
) -> None:
    app, paths = _production(tmp_path)
    client = serve(app)
    for name in ("css/app.css", paths["css/app.css"]):
        response = client.get("/static/" + name, headers={"accept-encoding": accept})
        assert response.status_code == 200
        assert response.headers.get("content-encoding") == coding
        assert response.headers["vary"] == "accept-encoding"
        assert response.headers["content-type"] == "text/css; charset=utf-8"
        assert response.text == CSS  # httpx decodes gzip and br


def test_precompressed_answers_head_and_304(tmp_path: Path, serve: Serve) -> None:
    app, paths = _production(tmp_path)
    client = serve(app)
    url = "/static/" + paths["css/app.css"]
    head = client.head(url, headers={"accept-encoding": "gzip"})
    assert head.headers["content-encoding"] == "gzip"
    size = (tmp_path / "collected" / (paths["css/app.css"] + ".gz")).stat().st_size
    assert head.headers["content-length"] == str(size)
    etag = head.headers["etag"]
    again = client.get(url, headers={"accept-encoding": "gzip", "if-none-match": etag})
    assert again.status_code == 304
    plain = client.get(url, headers={"accept-encoding": "identity"})
    assert plain.headers["etag"] != etag  # each encoding is its own representation


def test_files_without_siblings_have_no_vary(tmp_path: Path, serve: Serve) -> None:
    app, paths = _production(tmp_path)
    response = serve(app).get("/static/" + paths["img/logo.png"])
    assert "vary" not in response.headers
    assert response.content == b"\x89PNG"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", set()),
        ("gzip", {"gzip"}),
        ("GZIP, BR", {"gzip", "br"}),
        ("br;q=0.5, gzip;q=0", {"br"}),
        ("*", {"gzip", "br"}),
        ("*, br;q=0", {"gzip"}),
        ("gzip;q=bogus", set()),
        ("deflate, identity", set()),
    ],
)
def test_accepted_encodings(header: str, expected: set[str]) -> None:
    assert accepted_encodings(header) == expected
