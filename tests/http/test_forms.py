"""Form bodies: url-encoded and multipart, uploads, file names, spooling and the form limits."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qiao
from qiao import DEFAULTS, UploadFile
from qiao.http.forms import FormParser, safe_filename
from tests.http._support import MULTIPART, NewApp, Serve, multipart, open_files_under, part, problem

LIMITS = qiao.App(__name__, config={"SECRET_KEY": "test"}).limits
needs_proc = pytest.mark.skipif(
    not os.path.isdir("/proc/self/fd"), reason="counts open files through /proc"
)


def form_app(new_app: NewApp, **config: Any) -> qiao.App:
    """``/sync`` and ``/async`` describe the form they receive."""
    app = new_app(**config)

    def describe(form: qiao.FormData) -> dict[str, Any]:
        return {
            "fields": form.fields.multi_items(),
            "files": [
                {
                    "name": name,
                    "filename": upload.filename,
                    "raw_filename": upload.raw_filename,
                    "content_type": upload.content_type,
                    "size": upload.size,
                    "data": upload.read().decode("latin-1"),
                }
                for name, upload in form.files.multi_items()
            ],
        }

    @app.route("/sync", methods=["GET", "POST"])
    def sync_form(request: qiao.Request) -> dict[str, Any]:
        return describe(request.form())

    @app.route("/async", methods=["GET", "POST"])
    async def async_form(request: qiao.Request) -> dict[str, Any]:
        return describe(await request.aform())

    return app


MODES = pytest.mark.parametrize("mode", ["sync", "async"])


# -- parsing -------------------------------------------------------------------------------------


@MODES
def test_urlencoded_fields_are_multi_valued(new_app: NewApp, serve: Serve, mode: str) -> None:
    response = serve(form_app(new_app)).post(
        f"/{mode}", data={"a": ["1", "2"], "b": "ü & =", "empty": ""}
    )
    assert response.json() == {
        "fields": [["a", "1"], ["a", "2"], ["b", "ü & ="], ["empty", ""]],
        "files": [],
    }


@MODES
def test_multipart_fields_and_files(new_app: NewApp, serve: Serve, mode: str) -> None:
    response = serve(form_app(new_app)).post(
        f"/{mode}",
        data={"title": "Grüße", "tag": ["x", "y"]},
        files=[
            ("doc", ("report.pdf", b"%PDF-1.7 \x00\xff", "application/pdf")),
            ("doc", ("notes.txt", b"hello", "text/plain")),
        ],
    )
    assert response.json() == {
        "fields": [["title", "Grüße"], ["tag", "x"], ["tag", "y"]],
        "files": [
            {
                "name": "doc",
                "filename": "report.pdf",
                "raw_filename": "report.pdf",
                "content_type": "application/pdf",
                "size": 11,
                "data": "%PDF-1.7 \x00\xff",
            },
            {
                "name": "doc",
                "filename": "notes.txt",
                "raw_filename": "notes.txt",
                "content_type": "text/plain",
                "size": 5,
                "data": "hello",
            },
        ],
    }


def test_part_without_content_type_is_octet_stream(new_app: NewApp, serve: Serve) -> None:
    body = multipart(part("f", b"data", filename="a.bin"))
    response = serve(form_app(new_app)).post(
        "/sync", content=body, headers={"content-type": MULTIPART}
    )
    assert response.json()["files"][0]["content_type"] == "application/octet-stream"


def test_empty_file_input_is_left_out(new_app: NewApp, serve: Serve) -> None:
    # Browsers send an empty file input as filename="" with no data.
    body = multipart(part("f", b"", filename="", content_type="application/octet-stream"))
    response = serve(form_app(new_app)).post(
        "/sync", content=body, headers={"content-type": MULTIPART}
    )
    assert response.json() == {"fields": [], "files": []}


@MODES
def test_no_body_is_an_empty_form(new_app: NewApp, serve: Serve, mode: str) -> None:
    assert serve(form_app(new_app)).get(f"/{mode}").json() == {"fields": [], "files": []}


@MODES
@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_form_refuses_other_media_types_with_415(
    new_app: NewApp, serve: Serve, mode: str, content_type: str
) -> None:
    client = serve(form_app(new_app))
    response = client.post(f"/{mode}", content=b"a=1", headers={"content-type": content_type})
    assert problem(response, 415) == (
        "Expected a form body (application/x-www-form-urlencoded or multipart/form-data), "
        f"got {content_type!r}."
    )


def test_form_without_content_type_but_with_a_body_is_415(new_app: NewApp, serve: Serve) -> None:
    response = serve(form_app(new_app)).post("/sync", content=b"a=1")
    assert "got 'no content type'" in problem(response, 415)


def test_upload_save_copies_the_file(new_app: NewApp, serve: Serve, tmp_path: Path) -> None:
    app = new_app()

    @app.post("/save")
    def save(request: qiao.Request) -> dict[str, Any]:
        upload = request.form().files["f"]
        target = tmp_path / "saved.bin"
        upload.save(target)
        return {"saved": target.read_bytes().decode(), "still_readable": upload.read().decode()}

    response = serve(app).post("/save", files={"f": ("x.bin", b"payload")})
    assert response.json() == {"saved": "payload", "still_readable": "payload"}


# -- file names ----------------------------------------------------------------------------------

HOSTILE_NAMES = [
    ("../../x", "x"),
    ("../../etc/passwd", "passwd"),
    ("/etc/passwd", "passwd"),
    ("..\\..\\x", "x"),
    ("C:\\x", "x"),
    ("C:\\Users\\me\\report.pdf", "report.pdf"),
    ("\\\\server\\share\\x.txt", "x.txt"),
    ("a\x00b.txt", "ab.txt"),
    ("evil\x00.txt", "evil.txt"),
    (".htaccess", "htaccess"),
    ("..", "upload"),
    ("...", "upload"),
    ("dir/.hidden", "hidden"),
    ("c:x.txt", "cx.txt"),
    ("a\tb\x7f.txt", "ab.txt"),
    ("  spaced.txt  ", "spaced.txt"),
    ("ré sumé.pdf", "ré sumé.pdf"),
    ("中文.txt", "中文.txt"),
]


@pytest.mark.parametrize(("raw", "safe"), HOSTILE_NAMES)
def test_safe_filename(raw: str, safe: str) -> None:
    assert safe_filename(raw) == safe


@given(st.text())
def test_safe_filename_is_always_a_harmless_base_name(name: str) -> None:
    safe = safe_filename(name)
    assert safe
    assert not safe.startswith(".")
    assert not any(c in safe for c in "/\\:\x00\x7f")
    assert all(ord(c) >= 32 for c in safe)
    assert os.path.basename(safe) == safe
    assert safe == safe.strip()


@pytest.mark.parametrize(("raw", "safe"), HOSTILE_NAMES)
def test_uploaded_file_names_are_sanitised(
    new_app: NewApp, serve: Serve, raw: str, safe: str
) -> None:
    body = multipart(part("f", b"data", filename=raw))
    response = serve(form_app(new_app)).post(
        "/sync", content=body, headers={"content-type": MULTIPART}
    )
    [upload] = response.json()["files"]
    assert upload["filename"] == safe


@pytest.mark.parametrize("raw", [raw for raw, _ in HOSTILE_NAMES if "\\" not in raw])
def test_raw_filename_keeps_the_name_the_client_sent(
    new_app: NewApp, serve: Serve, raw: str
) -> None:
    body = multipart(part("f", b"data", filename=raw))
    response = serve(form_app(new_app)).post(
        "/sync", content=body, headers={"content-type": MULTIPART}
    )
    [upload] = response.json()["files"]
    assert upload["raw_filename"] == raw


@pytest.mark.parametrize("raw", [raw for raw, _ in HOSTILE_NAMES if "\\" in raw])
def test_raw_filename_keeps_backslashes_and_drive_letters(
    new_app: NewApp, serve: Serve, raw: str
) -> None:
    # HTML5 form encoding leaves backslashes as they are, and UploadFile documents
    # raw_filename as "the name exactly as the client sent it" (for audit logs, say).
    body = multipart(part("f", b"data", filename=raw))
    response = serve(form_app(new_app)).post(
        "/sync", content=body, headers={"content-type": MULTIPART}
    )
    [upload] = response.json()["files"]
    assert upload["raw_filename"] == raw


def test_quoted_file_name_is_unescaped(new_app: NewApp, serve: Serve) -> None:
    # httpx (like RFC 2616 quoted-string) escapes a quote inside the name; HTML5 uses %22.
    response = serve(form_app(new_app)).post("/sync", files={"f": ('a"b.txt', b"x")})
    [upload] = response.json()["files"]
    assert upload["filename"] in ('a"b.txt', "a%22b.txt")


# -- limits --------------------------------------------------------------------------------------


def test_form_limit_defaults() -> None:
    assert DEFAULTS["MAX_FORM_FIELDS"] == 1000
    assert DEFAULTS["MAX_FORM_FILES"] == 100
    assert DEFAULTS["MAX_FILE_SIZE"] == 10 * 1024 * 1024
    assert DEFAULTS["MAX_FORM_FIELD_SIZE"] == 1024 * 1024
    assert DEFAULTS["FORM_SPOOL_SIZE"] == 1024 * 1024


def test_max_form_fields_default_urlencoded(new_app: NewApp, serve: Serve) -> None:
    client = serve(form_app(new_app))
    ok = client.post("/sync", data={f"f{i}": "v" for i in range(1000)})
    assert len(ok.json()["fields"]) == 1000
    response = client.post("/sync", data={f"f{i}": "v" for i in range(1001)})
    assert problem(response, 400) == "Too many form fields (limit 1000; setting MAX_FORM_FIELDS)."


@MODES
def test_max_form_fields_urlencoded(new_app: NewApp, serve: Serve, mode: str) -> None:
    client = serve(form_app(new_app, MAX_FORM_FIELDS=2))
    assert client.post(f"/{mode}", data={"a": "1", "b": "2"}).status_code == 200
    response = client.post(f"/{mode}", data={"a": "1", "b": "2", "c": "3"})
    assert problem(response, 400) == "Too many form fields (limit 2; setting MAX_FORM_FIELDS)."


@MODES
def test_max_form_fields_multipart(new_app: NewApp, serve: Serve, mode: str) -> None:
    client = serve(form_app(new_app, MAX_FORM_FIELDS=2))
    files = {"f": ("f.txt", b"x")}
    ok = client.post(f"/{mode}", data={"a": "1", "b": "2"}, files=files)
    assert len(ok.json()["fields"]) == 2, "files must not count as fields"
    response = client.post(f"/{mode}", data={"a": "1", "b": "2", "c": "3"}, files=files)
    assert problem(response, 400) == "Too many form fields (limit 2; setting MAX_FORM_FIELDS)."


def test_max_form_fields_default_multipart(new_app: NewApp, serve: Serve) -> None:
    client = serve(form_app(new_app))
    body = multipart(*(part(f"f{i}", "v") for i in range(1001)))
    response = client.post("/sync", content=body, headers={"content-type": MULTIPART})
    problem(response, 400)


@MODES
def test_max_form_files(new_app: NewApp, serve: Serve, mode: str) -> None:
    client = serve(form_app(new_app, MAX_FORM_FILES=2))
    two = [("f", (f"{i}.txt", b"x")) for i in range(2)]
    assert len(client.post(f"/{mode}", files=two).json()["files"]) == 2
    three = [("f", (f"{i}.txt", b"x")) for i in range(3)]
    response = client.post(f"/{mode}", files=three)
    assert problem(response, 400) == "Too many files in the form (limit 2; setting MAX_FORM_FILES)."


def test_max_form_files_default(new_app: NewApp, serve: Serve) -> None:
    client = serve(form_app(new_app))
    body = multipart(*(part("f", "x", filename=f"{i}.txt") for i in range(101)))
    response = client.post("/sync", content=body, headers={"content-type": MULTIPART})
    assert "limit 100" in problem(response, 400)


@MODES
def test_max_file_size(new_app: NewApp, serve: Serve, mode: str) -> None:
    client = serve(form_app(new_app, MAX_FILE_SIZE=10))
    ok = client.post(f"/{mode}", files={"f": ("a.txt", b"x" * 10)})
    assert ok.json()["files"][0]["size"] == 10
    response = client.post(f"/{mode}", files={"f": ("a.txt", b"x" * 11)})
    assert problem(response, 413) == "File 'a.txt' is larger than 10 bytes (setting MAX_FILE_SIZE)."


def test_max_file_size_default(new_app: NewApp, serve: Serve) -> None:
    client = serve(form_app(new_app, MAX_BODY_SIZE=20 * 1024 * 1024))
    response = client.post("/sync", files={"f": ("a.bin", b"x" * (10 * 1024 * 1024 + 1))})
    assert "MAX_FILE_SIZE" in problem(response, 413)


@MODES
def test_max_form_field_size(new_app: NewApp, serve: Serve, mode: str) -> None:
    client = serve(form_app(new_app, MAX_FORM_FIELD_SIZE=10))
    files = {"f": ("a.txt", b"x" * 100)}  # files have their own limit
    assert client.post(f"/{mode}", data={"a": "x" * 10}, files=files).status_code == 200
    response = client.post(f"/{mode}", data={"a": "x" * 11}, files=files)
    assert problem(response, 413) == (
        "Form field 'a' is larger than 10 bytes (setting MAX_FORM_FIELD_SIZE)."
    )


def test_max_form_field_size_default(new_app: NewApp, serve: Serve) -> None:
    client = serve(form_app(new_app))
    body = multipart(part("a", b"x" * (1024 * 1024 + 1)))
    response = client.post("/sync", content=body, headers={"content-type": MULTIPART})
    assert "MAX_FORM_FIELD_SIZE" in problem(response, 413)


def test_max_body_size_applies_to_forms(new_app: NewApp, serve: Serve) -> None:
    client = serve(form_app(new_app, MAX_BODY_SIZE=100))
    response = client.post("/sync", files={"f": ("a.txt", b"x" * 200)})
    assert "MAX_BODY_SIZE" in problem(response, 413)


def test_max_part_header_count(new_app: NewApp, serve: Serve) -> None:
    client = serve(form_app(new_app, MAX_PART_HEADER_COUNT=2))
    headers = "".join(f"X-H{i}: v\r\n" for i in range(5))
    body = multipart(
        b'Content-Disposition: form-data; name="a"\r\n' + headers.encode() + b"\r\nvalue"
    )
    response = client.post("/sync", content=body, headers={"content-type": MULTIPART})
    assert problem(response, 400).startswith("Malformed multipart body")


def test_max_part_header_size(new_app: NewApp, serve: Serve) -> None:
    client = serve(form_app(new_app, MAX_PART_HEADER_SIZE=100))
    body = multipart(part("a", "value", filename="x" * 200))
    response = client.post("/sync", content=body, headers={"content-type": MULTIPART})
    assert problem(response, 400).startswith("Malformed multipart body")


# -- malformed multipart -------------------------------------------------------------------------


@MODES
@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; charset=x"],
)
def test_multipart_without_boundary_is_400(
    new_app: NewApp, serve: Serve, mode: str, content_type: str
) -> None:
    client = serve(form_app(new_app))
    response = client.post(f"/{mode}", content=b"x", headers={"content-type": content_type})
    assert problem(response, 400) == "Multipart form has no boundary in its Content-Type."


@MODES
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(b"garbage", "Malformed multipart body", id="garbage"),
        pytest.param(b"", "ends before its closing boundary", id="empty"),
        pytest.param(
            b"--qiao-test-boundary\r\n" + part("a", "1"),
            "ends before its closing boundary",
            id="truncated",
        ),
        pytest.param(
            multipart(b"Content-Type: text/plain\r\n\r\nx"),
            "a part has no Content-Disposition",
            id="no-disposition",
        ),
        pytest.param(
            multipart(b"Content-Disposition: form-data\r\n\r\nx"),
            "Content-Disposition has no name",
            id="no-name",
        ),
        pytest.param(
            multipart(b"Content-Disposition form-data\r\n\r\nx"),
            "Malformed multipart body",
            id="header-without-colon",
        ),
        pytest.param(
            multipart(part("a", "1"), boundary="other-boundary"),
            "Malformed multipart body",
            id="wrong-boundary",
        ),
    ],
)
def test_malformed_multipart_is_400(
    new_app: NewApp, serve: Serve, mode: str, body: bytes, reason: str
) -> None:
    client = serve(form_app(new_app))
    response = client.post(f"/{mode}", content=body, headers={"content-type": MULTIPART})
    assert reason in problem(response, 400)


def test_malformed_multipart_is_a_client_error_not_a_logged_warning(
    new_app: NewApp, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    # Any client can send a broken body; each one must not write a warning to the server log.
    client = serve(form_app(new_app))
    with caplog.at_level(logging.INFO):
        response = client.post("/sync", content=b"garbage", headers={"content-type": MULTIPART})
    problem(response, 400)
    assert [(r.name, r.getMessage()) for r in caplog.records if r.levelno >= logging.WARNING] == []


# -- spooling and clean-up -----------------------------------------------------------------------


@pytest.fixture
def spool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make uploads that roll over to disk do so in ``tmp_path``."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def upload_app(new_app: NewApp, spool_dir: Path, **config: Any) -> tuple[qiao.App, list[Any]]:
    """A view that records its uploads and which files were open in ``spool_dir``."""
    app = new_app(**config)
    seen: list[Any] = []

    @app.post("/sync")
    def sync_upload(request: qiao.Request) -> dict[str, Any]:
        files = request.form().files
        seen.extend(upload for _, upload in files.multi_items())
        return {"on_disk": len(open_files_under(spool_dir))}

    @app.post("/async")
    async def async_upload(request: qiao.Request) -> dict[str, Any]:
        files = (await request.aform()).files
        seen.extend(upload for _, upload in files.multi_items())
        return {"on_disk": len(open_files_under(spool_dir))}

    @app.post("/fail")
    def fail(request: qiao.Request) -> str:
        seen.extend(upload for _, upload in request.form().files.multi_items())
        raise RuntimeError("view failed after reading the form")

    return app, seen


@needs_proc
@MODES
def test_small_uploads_stay_in_memory(
    new_app: NewApp, serve: Serve, spool_dir: Path, mode: str
) -> None:
    app, seen = upload_app(new_app, spool_dir, FORM_SPOOL_SIZE=100)
    response = serve(app).post(f"/{mode}", files={"f": ("a.txt", b"x" * 100)})
    assert response.json() == {"on_disk": 0}
    assert all(upload.file.closed for upload in seen)


@needs_proc
@MODES
def test_large_uploads_spool_to_disk_and_are_removed_after_the_response(
    new_app: NewApp, serve: Serve, spool_dir: Path, mode: str
) -> None:
    app, seen = upload_app(new_app, spool_dir, FORM_SPOOL_SIZE=100)
    files = [("f", ("a.txt", b"x" * 101)), ("f", ("b.txt", b"y" * 5000))]
    response = serve(app).post(f"/{mode}", files=files)
    assert response.json() == {"on_disk": 2}
    assert [upload.size for upload in seen] == [101, 5000]
    assert all(upload.file.closed for upload in seen)
    assert open_files_under(spool_dir) == []


@needs_proc
def test_uploads_are_removed_when_the_view_fails(
    new_app: NewApp, serve: Serve, spool_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app, seen = upload_app(new_app, spool_dir, FORM_SPOOL_SIZE=10)
    response = serve(app).post("/fail", files={"f": ("a.txt", b"x" * 100)})
    assert response.status_code == 500
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1
    assert len(seen) == 1
    assert seen[0].file.closed
    assert open_files_under(spool_dir) == []


@needs_proc
@MODES
def test_uploads_are_removed_when_a_later_part_breaks_a_limit(
    new_app: NewApp, serve: Serve, spool_dir: Path, mode: str
) -> None:
    app, _ = upload_app(new_app, spool_dir, FORM_SPOOL_SIZE=10, MAX_FILE_SIZE=1000)
    files = [("f", ("a.txt", b"x" * 500)), ("f", ("b.txt", b"y" * 1001))]
    response = serve(app).post(f"/{mode}", files=files)
    problem(response, 413)
    assert open_files_under(spool_dir) == []


@needs_proc
def test_uploads_are_removed_when_the_body_is_malformed(
    new_app: NewApp, serve: Serve, spool_dir: Path
) -> None:
    app, _ = upload_app(new_app, spool_dir, FORM_SPOOL_SIZE=10)
    truncated = b"--qiao-test-boundary\r\n" + part("f", b"x" * 500, filename="a.txt")
    response = serve(app).post("/sync", content=truncated, headers={"content-type": MULTIPART})
    problem(response, 400)
    assert open_files_under(spool_dir) == []


def test_upload_file_repr_names_the_sanitised_file(new_app: NewApp, serve: Serve) -> None:
    app = new_app()

    @app.post("/r")
    def r(request: qiao.Request) -> str:
        upload: UploadFile = request.form().files["f"]
        return repr(upload)

    response = serve(app).post("/r", files={"f": ("../x.txt", b"abc", "text/plain")})
    assert response.text == "UploadFile('x.txt', 'text/plain', size=3)"


# -- the parser on its own -----------------------------------------------------------------------


def parse(content_type: str, body: bytes, splits: Sequence[int] = ()) -> qiao.FormData:
    """Feed ``body`` to a FormParser in pieces cut at ``splits``."""
    parser = FormParser(content_type, LIMITS)
    try:
        start = 0
        for cut in sorted(splits):
            parser.feed(body[start:cut])
            start = max(start, cut)
        parser.feed(body[start:])
        return parser.finish()
    except BaseException:
        parser.abort()
        raise


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=2000), splits=st.lists(st.integers(0, 2000), max_size=5))
def test_multipart_parser_raises_only_http_errors_on_arbitrary_bytes(
    body: bytes, splits: list[int]
) -> None:
    with contextlib.suppress(qiao.HTTPException):
        parse(MULTIPART, body, splits).close()


@st.composite
def mutated_multipart(draw: st.DrawFn) -> bytes:
    """A valid multipart body, then a few bytes inserted, deleted or the end cut off: this
    reaches the part-header and part-data states that random bytes never get past."""
    parts = draw(
        st.lists(
            st.builds(
                lambda name, data, filename: part(name, data, filename=filename),
                st.sampled_from(["a", "b", "", 'x"y', "ü"]),
                st.binary(max_size=60),
                st.none() | st.sampled_from(["f.txt", "", "../x", "a\\b"]),
            ),
            max_size=4,
        )
    )
    body = bytearray(multipart(*parts))
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(body)))
        if draw(st.booleans()):
            body[at:at] = draw(
                st.sampled_from([b"\r", b"\n", b"-", b":", b";", b"\x00", b"x" * 70])
            )
        else:
            del body[at : at + draw(st.integers(1, 8))]
    if draw(st.booleans()):
        body = body[: draw(st.integers(0, len(body)))]
    return bytes(body)


@settings(max_examples=300, deadline=None)
@given(body=mutated_multipart(), splits=st.lists(st.integers(0, 600), max_size=5))
def test_multipart_parser_raises_only_http_errors_on_near_valid_bodies(
    body: bytes, splits: list[int]
) -> None:
    with contextlib.suppress(qiao.HTTPException):
        parse(MULTIPART, body, splits).close()


@settings(max_examples=200, deadline=None)
@given(
    content_type=st.text(alphabet=st.characters(max_codepoint=255), max_size=80),
    body=st.binary(max_size=200),
)
def test_form_parser_raises_only_http_errors_on_any_content_type(
    content_type: str, body: bytes
) -> None:
    with contextlib.suppress(qiao.HTTPException):
        parse(content_type, body).close()


field_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
# httpx percent-escapes quotes, backslashes and control characters in part names (HTML5 rules),
# so only names without them come back byte for byte.
field_name = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters='"\\%'),
    min_size=1,
    max_size=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fields=st.dictionaries(field_name, st.lists(field_text, min_size=1, max_size=3), max_size=6),
    files=st.lists(st.binary(max_size=300), min_size=1, max_size=3),
    splits=st.lists(st.integers(0, 4000), max_size=4),
)
def test_multipart_round_trips_what_httpx_encodes(
    fields: dict[str, list[str]], files: list[bytes], splits: list[int]
) -> None:
    # httpx's encoder is the reference: what it sends, qiao must read back unchanged.
    request = httpx.Request(
        "POST",
        "http://testserver/",
        data=fields,
        files=[("file", (f"n{i}.bin", data)) for i, data in enumerate(files)],
    )
    form = parse(request.headers["content-type"], request.read(), splits)
    try:
        assert form.fields.multi_items() == [(k, v) for k, vs in fields.items() for v in vs]
        assert [upload.read() for upload in form.files.getlist("file")] == files
    finally:
        form.close()


@settings(max_examples=200, deadline=None)
@given(fields=st.lists(st.tuples(field_text, field_text), max_size=10))
def test_urlencoded_round_trips_what_urlencode_encodes(fields: list[tuple[str, str]]) -> None:
    form = parse("application/x-www-form-urlencoded", urlencode(fields).encode("ascii"))
    assert form.fields.multi_items() == fields


def test_urlencoded_plus_and_percent_escapes() -> None:
    form = parse("application/x-www-form-urlencoded", b"a=1+2&b=%C3%BC%26&c&=d")
    assert form.fields.multi_items() == [("a", "1 2"), ("b", "ü&"), ("c", ""), ("", "d")]


def test_urlencoded_invalid_utf8_escapes_are_replaced() -> None:
    form = parse("application/x-www-form-urlencoded", b"a=%FF")
    assert form["a"] == "\ufffd"


def test_urlencoded_fields_obey_max_form_field_size(new_app: Any) -> None:
    app = new_app(MAX_FORM_FIELD_SIZE=10)

    @app.post("/f")
    def form(request: qiao.Request) -> dict[str, str]:
        return dict(request.form().fields)

    with app.test_client() as client:
        assert client.post("/f", data={"a": "x" * 10}).json() == {"a": "x" * 10}
        response = client.post("/f", data={"a": "x" * 11})
        assert response.status_code == 413
        assert "MAX_FORM_FIELD_SIZE" in response.text


def test_a_files_only_form_is_truthy(new_app: NewApp) -> None:
    app = new_app()

    @app.post("/")
    def view(request: qiao.Request) -> str:
        form = request.form()
        return f"{bool(form)} {len(form)} {list(form)}"

    response = app.test_client().post("/", files={"f": ("a.txt", b"x", "text/plain")})
    assert response.text == "True 0 []"
    assert app.test_client().post("/", data={"a": "1"}).text == "True 1 ['a']"


def test_urlencoded_raw_utf8_and_percent_encoded_decode_alike(new_app: NewApp) -> None:
    app = new_app()

    @app.post("/")
    def view(request: qiao.Request) -> dict[str, str]:
        return dict(request.form())

    body = "raw=Zoë 李&pct=%C3%A9+%E6%9D%8E".encode() + b"&bad=Zo\xeb&badpct=%EB"
    response = app.test_client().post(
        "/", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    expected = {"raw": "Zoë 李", "pct": "é 李", "bad": "Zo\ufffd", "badpct": "\ufffd"}
    assert response.json() == expected
