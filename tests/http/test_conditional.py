"""Conditional requests (RFC 9110 section 13) and byte ranges (section 14) on ``FileResponse``."""

from __future__ import annotations

import os
import re
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

import qiao
from qiao import FileResponse
from qiao.http._conditional import parse_range
from tests.http._support import NewApp, Serve

CONTENT = bytes(range(100))
MTIME = 1_700_000_000
CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")

# -- parse_range ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-3", 10, (0, 4)),
        ("bytes=5-", 10, (5, 5)),
        ("bytes=9-9", 10, (9, 1)),
        ("bytes=0-0", 10, (0, 1)),
        ("bytes=0-100", 10, (0, 10)),
        ("bytes=-3", 10, (7, 3)),
        ("bytes=-10", 10, (0, 10)),
        ("bytes=-20", 10, (0, 10)),
        (" bytes=1-2 ", 10, (1, 2)),
        ("bytes=0-", 1, (0, 1)),
    ],
)
def test_parse_range_satisfiable(header: str, size: int, expected: tuple[int, int]) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(
    "header",
    [
        "bytes=0-1,3-4",
        "bytes=0-1, 3-4",
        "items=0-1",
        "bytes=",
        "bytes=-",
        "bytes=5-3",
        "bytes=+1-2",
        "bytes=1_0-20",
        "bytes=١-٢",
        "bytes=a-b",
        "bytes 0-1",
        "bytes=0-1-2",
        "bytes=" + "9" * 19 + "-",
        "",
    ],
)
def test_parse_range_ignores_what_it_does_not_serve(header: str) -> None:
    assert parse_range(header, 10) is None


@pytest.mark.parametrize(
    ("header", "size"), [("bytes=10-", 10), ("bytes=10-20", 10), ("bytes=-0", 10), ("bytes=0-", 0)]
)
def test_parse_range_unsatisfiable(header: str, size: int) -> None:
    with pytest.raises(ValueError, match="range"):
        parse_range(header, size)


def test_parse_range_never_selects_nothing_from_an_empty_file() -> None:
    # A zero-length selection cannot be written as a Content-Range ("bytes 0--1/0").
    try:
        chosen = parse_range("bytes=-5", 0)
    except ValueError:
        return
    assert chosen is None


@given(header=st.text(max_size=40), size=st.integers(0, 10**6))
def test_parse_range_raises_only_value_error(header: str, size: int) -> None:
    try:
        chosen = parse_range(header, size)
    except ValueError:
        return
    if chosen is not None:
        offset, length = chosen
        assert offset >= 0
        assert offset + length <= size


@given(
    size=st.integers(1, 10_000),
    first=st.integers(0, 20_000),
    last=st.none() | st.integers(0, 20_000),
)
def test_parse_range_selects_within_the_file(size: int, first: int, last: int | None) -> None:
    header = f"bytes={first}-{'' if last is None else last}"
    try:
        chosen = parse_range(header, size)
    except ValueError:
        assert first >= size
        return
    if last is not None and last < first:
        assert chosen is None
        return
    assert chosen is not None
    offset, length = chosen
    end = size - 1 if last is None else min(last, size - 1)
    assert (offset, length) == (first, end - first + 1)
    assert length >= 1


# -- through the app -----------------------------------------------------------------------------


@pytest.fixture
def path(tmp_path: Path) -> Path:
    file = tmp_path / "data.bin"
    file.write_bytes(CONTENT)
    os.utime(file, (MTIME, MTIME))
    return file


def file_app(new_app: NewApp, path: Path, **options: Any) -> qiao.App:
    app = new_app()

    @app.route("/file", methods=["GET", "POST"])
    def send(request: qiao.Request) -> qiao.Response:
        return FileResponse(path, **options)

    return app


def get(serve: Serve, app: qiao.App, **headers: str) -> httpx.Response:
    return serve(app).get("/file", headers={k.replace("_", "-"): v for k, v in headers.items()})


LAST_MODIFIED = formatdate(MTIME, usegmt=True)


def test_validators_are_sent(new_app: NewApp, serve: Serve, path: Path) -> None:
    response = get(serve, file_app(new_app, path))
    assert response.status_code == 200
    assert response.content == CONTENT
    assert re.fullmatch(r'"[0-9a-f]+-64"', response.headers["etag"])
    assert response.headers["last-modified"] == LAST_MODIFIED == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert response.headers["accept-ranges"] == "bytes"


def test_etag_changes_with_the_file(new_app: NewApp, serve: Serve, path: Path) -> None:
    client = serve(file_app(new_app, path))
    before = client.get("/file").headers["etag"]
    path.write_bytes(CONTENT + b"!")
    os.utime(path, (MTIME + 5, MTIME + 5))
    after = client.get("/file")
    assert after.headers["etag"] != before
    assert after.content == CONTENT + b"!"


def etag_of(serve: Serve, app: qiao.App) -> str:
    return str(get(serve, app).headers["etag"])


def assert_not_modified(response: httpx.Response, etag: str) -> None:
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    assert response.headers["last-modified"] == LAST_MODIFIED
    assert "content-type" not in response.headers
    assert "content-disposition" not in response.headers


@pytest.mark.parametrize(
    "template", ["{etag}", "W/{etag}", '"other", {etag}', "*", '"other" , W/{etag} ']
)
def test_if_none_match_gives_304(new_app: NewApp, serve: Serve, path: Path, template: str) -> None:
    app = file_app(new_app, path, filename="d.bin")
    etag = etag_of(serve, app)
    response = get(serve, app, if_none_match=template.format(etag=etag))
    assert_not_modified(response, etag)


def test_if_none_match_without_a_match_gives_the_file(
    new_app: NewApp, serve: Serve, path: Path
) -> None:
    response = get(serve, file_app(new_app, path), if_none_match='"nope", W/"nope2"')
    assert response.status_code == 200
    assert response.content == CONTENT


@pytest.mark.parametrize(
    "since",
    [LAST_MODIFIED, formatdate(MTIME + 3600, usegmt=True), "Tue, 14 Nov 2023 22:13:20 +0000"],
)
def test_if_modified_since_gives_304(new_app: NewApp, serve: Serve, path: Path, since: str) -> None:
    app = file_app(new_app, path)
    response = get(serve, app, if_modified_since=since)
    assert_not_modified(response, etag_of(serve, app))


@pytest.mark.parametrize(
    "since", [formatdate(MTIME - 1, usegmt=True), "yesterday", "", "Tue, 99 Nov 2023 99:99:99 GMT"]
)
def test_if_modified_since_earlier_or_invalid_gives_the_file(
    new_app: NewApp, serve: Serve, path: Path, since: str
) -> None:
    response = get(serve, file_app(new_app, path), if_modified_since=since)
    assert response.status_code == 200
    assert response.content == CONTENT


def test_if_none_match_wins_over_if_modified_since(
    new_app: NewApp, serve: Serve, path: Path
) -> None:
    response = get(
        serve, file_app(new_app, path), if_none_match='"nope"', if_modified_since=LAST_MODIFIED
    )
    assert response.status_code == 200


def test_head_with_a_validator_gives_304(new_app: NewApp, serve: Serve, path: Path) -> None:
    client = serve(file_app(new_app, path))
    response = client.head("/file", headers={"if-modified-since": LAST_MODIFIED})
    assert response.status_code == 304
    assert response.content == b""


def test_validators_do_not_apply_to_post(new_app: NewApp, serve: Serve, path: Path) -> None:
    client = serve(file_app(new_app, path))
    response = client.post("/file", headers={"if-none-match": "*", "range": "bytes=0-1"})
    assert response.status_code == 200
    assert response.content == CONTENT


def test_conditional_false_ignores_validators_and_ranges(
    new_app: NewApp, serve: Serve, path: Path
) -> None:
    app = file_app(new_app, path, conditional=False)
    for headers in ({"if_none_match": "*"}, {"range": "bytes=0-1"}):
        response = get(serve, app, **headers)
        assert response.status_code == 200
        assert response.content == CONTENT


def test_a_file_sent_with_another_status_ignores_validators_and_ranges(
    new_app: NewApp, serve: Serve, path: Path
) -> None:
    app = file_app(new_app, path, status=404)
    response = get(serve, app, if_none_match="*", range="bytes=0-1")
    assert response.status_code == 404
    assert response.content == CONTENT


# -- ranges --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=10-19", 10, 19),
        ("bytes=90-", 90, 99),
        ("bytes=-5", 95, 99),
        ("bytes=-500", 0, 99),
        ("bytes=50-5000", 50, 99),
        ("bytes=99-99", 99, 99),
    ],
)
@pytest.mark.parametrize("chunk_size", [64 * 1024, 7])
def test_range_gives_206_with_content_range(
    new_app: NewApp, serve: Serve, path: Path, header: str, start: int, end: int, chunk_size: int
) -> None:
    response = get(serve, file_app(new_app, path, chunk_size=chunk_size), range=header)
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {start}-{end}/100"
    assert response.headers["content-length"] == str(end - start + 1)
    assert response.content == CONTENT[start : end + 1]
    assert response.headers["content-type"] == "application/octet-stream"


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=100-200", "bytes=-0", "bytes=1000-1"])
def test_unsatisfiable_range_gives_416(
    new_app: NewApp, serve: Serve, path: Path, header: str
) -> None:
    response = get(serve, file_app(new_app, path), range=header)
    if header == "bytes=1000-1":  # last < first: invalid, so ignored
        assert response.status_code == 200
        return
    assert response.status_code == 416
    assert response.headers["content-range"] == "bytes */100"
    assert response.content == b""


@pytest.mark.parametrize(
    "header", ["bytes=0-1,5-6", "bytes=0-1, 5-6", "lines=1-2", "bytes=x-y", "bytes=5-3"]
)
def test_multiple_or_unusable_ranges_give_the_whole_file(
    new_app: NewApp, serve: Serve, path: Path, header: str
) -> None:
    response = get(serve, file_app(new_app, path), range=header)
    assert response.status_code == 200
    assert response.content == CONTENT
    assert "content-range" not in response.headers


def test_if_range_with_the_current_etag_gives_the_range(
    new_app: NewApp, serve: Serve, path: Path
) -> None:
    app = file_app(new_app, path)
    response = get(serve, app, range="bytes=0-1", if_range=etag_of(serve, app))
    assert response.status_code == 206
    assert response.content == CONTENT[:2]


@pytest.mark.parametrize("if_range", ['"stale"', "W/{etag}", formatdate(MTIME - 60, usegmt=True)])
def test_if_range_that_does_not_match_gives_the_whole_file(
    new_app: NewApp, serve: Serve, path: Path, if_range: str
) -> None:
    app = file_app(new_app, path)
    response = get(
        serve, app, range="bytes=0-1", if_range=if_range.format(etag=etag_of(serve, app))
    )
    assert response.status_code == 200
    assert response.content == CONTENT


def test_if_range_with_the_last_modified_date_gives_the_range(
    new_app: NewApp, serve: Serve, path: Path
) -> None:
    response = get(serve, file_app(new_app, path), range="bytes=-2", if_range=LAST_MODIFIED)
    assert response.status_code == 206
    assert response.content == CONTENT[-2:]


def test_head_with_a_range_gives_the_whole_length(
    new_app: NewApp, serve: Serve, path: Path
) -> None:
    response = serve(file_app(new_app, path)).head("/file", headers={"range": "bytes=0-1"})
    assert response.status_code == 200
    assert response.headers["content-length"] == "100"
    assert response.content == b""


@pytest.mark.parametrize("header", ["bytes=0-", "bytes=-5", "bytes=0-0"])
def test_ranges_of_an_empty_file_never_give_an_invalid_content_range(
    new_app: NewApp, serve: Serve, tmp_path: Path, header: str
) -> None:
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    response = get(serve, file_app(new_app, empty), range=header)
    assert response.content == b""
    if response.status_code == 206:
        match = CONTENT_RANGE.match(response.headers["content-range"])
        assert match is not None, response.headers["content-range"]
    else:
        assert response.status_code in (200, 416)


def test_a_file_removed_after_the_view_returns_is_404(
    new_app: NewApp, serve: Serve, path: Path
) -> None:
    app = new_app()

    @app.get("/gone")
    def gone(request: qiao.Request) -> qiao.Response:
        response = FileResponse(path)
        path.unlink()
        return response

    assert serve(app).get("/gone").status_code == 404
