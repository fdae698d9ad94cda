"""Form bodies: ``application/x-www-form-urlencoded`` and ``multipart/form-data``.

The parser is sans-I/O: ``feed(chunk)`` as the body arrives, ``finish()`` at the end. The request
drives it from ``form()`` (sync) or ``aform()`` (async) with the same chunks, so limits are checked
while the body streams in, never after buffering it.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from qiao.http.datastructures import Headers, MultiDict
from qiao.http.exceptions import BadRequest, PayloadTooLarge, UnsupportedMediaType

if TYPE_CHECKING:
    from qiao._config import Limits

__all__ = ["FormData", "UploadFile", "safe_filename"]

# NOTE: python-multipart logs a WARNING for every malformed body before raising; a client's
# broken upload is not the server's news, so its parser logs to a quiet logger of ours.
_MULTIPART_LOG = logging.getLogger("qiao.multipart")
_MULTIPART_LOG.setLevel(logging.ERROR)

_UNSAFE_NAME_CHARS: dict[int, None] = {c: None for c in (*range(32), 0x7F, ord(":"))}


def safe_filename(name: str) -> str:
    """Reduce a client-supplied file name to a bare, harmless base name.

    SECURITY: the client chooses the name; ``../../etc/passwd``, ``C:\\x``, NUL bytes and leading
    dots must never reach a path. Directory parts (``/`` and ``\\``), control characters and colons
    are dropped; an empty result becomes ``"upload"``.
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = base.translate(_UNSAFE_NAME_CHARS).strip().lstrip(".").strip()
    return base or "upload"


_FILENAME_PARAM = re.compile(r""";\s*filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))""", re.I)


def _raw_filename(disposition: str) -> str | None:
    """The ``filename`` parameter as sent: quotes removed and ``\\"`` unescaped, nothing else
    (python-multipart also strips Windows paths, which raw_filename promises to keep)."""
    match = _FILENAME_PARAM.search(disposition)
    if match is None:
        return None
    quoted, bare = match.groups()
    value = bare.strip() if quoted is None else quoted.replace('\\"', '"')
    return value.encode("latin-1").decode("utf-8", "replace")


class UploadFile:
    """A file from a multipart form, spooled to disk past ``FORM_SPOOL_SIZE``.

    Attributes:
        filename: the sanitised base name (see ``safe_filename``); safe to join to a directory.
        raw_filename: the name exactly as the client sent it; never use it as a path.
        content_type: the part's ``Content-Type``.
        headers: all of the part's headers.
        size: bytes received.
        file: the underlying ``SpooledTemporaryFile``, positioned at the start.
    """

    def __init__(
        self, raw_filename: str, content_type: str, headers: Headers, spool_size: int
    ) -> None:
        self.raw_filename = raw_filename
        self.filename = safe_filename(raw_filename)
        self.content_type = content_type
        self.headers = headers
        self.size = 0
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=spool_size)  # noqa: SIM115

    def read(self, size: int = -1) -> bytes:
        """Read from the file (from the start, the first time)."""
        return self.file.read(size)

    def seek(self, offset: int) -> None:
        """Move the read position."""
        self.file.seek(offset)

    def save(self, destination: str | os.PathLike[str]) -> None:
        """Copy the upload to ``destination`` (a path you chose, not ``raw_filename``)."""
        self.file.seek(0)
        with open(destination, "wb") as out:
            shutil.copyfileobj(self.file, out)
        self.file.seek(0)

    def close(self) -> None:
        """Delete the temporary file (qiao does this when the request ends)."""
        self.file.close()

    def __repr__(self) -> str:
        return f"UploadFile({self.filename!r}, {self.content_type!r}, size={self.size})"


@dataclass(frozen=True)
class FormData:
    """A parsed form: text ``fields`` and uploaded ``files``, both multi-valued by name."""

    fields: MultiDict[str]
    files: MultiDict[UploadFile]

    def __getitem__(self, name: str) -> str:
        return self.fields[name]

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of a text field, or ``default``."""
        return self.fields.get(name, default)

    def getlist(self, name: str) -> list[str]:
        """Every value of a text field."""
        return self.fields.getlist(name)

    def __contains__(self, name: object) -> bool:
        return name in self.fields or name in self.files

    def keys(self) -> list[str]:
        """The text fields' names (so ``dict(form)`` gives each text field's first value)."""
        return list(self.fields)

    def __iter__(self) -> Iterator[str]:
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)

    def __bool__(self) -> bool:
        # NOTE: a files-only upload is a submitted form too (``request.form() or None``).
        return bool(self.fields) or bool(self.files)

    def close(self) -> None:
        """Delete every uploaded file's temporary file."""
        for _, upload in self.files.multi_items():
            upload.close()


EMPTY_FORM = FormData(MultiDict(), MultiDict())


def _utf8(text: str) -> str:
    return text.encode("latin-1").decode("utf-8", "replace")


class FormParser:
    """Parse a form body chunk by chunk under the app's limits.

    Raises (from ``feed`` and ``finish``):
        UnsupportedMediaType: the content type is not a form type.
        BadRequest: malformed multipart, too many fields, too many files, no boundary.
        PayloadTooLarge: a file or a text field is larger than its limit.
    """

    def __init__(self, content_type: str, limits: Limits) -> None:
        self.limits = limits
        media, options = parse_options_header(content_type)
        self.media = media.decode("latin-1").lower()
        self._buffer = bytearray()
        self._parser: MultipartParser | None = None
        if self.media == "multipart/form-data":
            boundary = options.get(b"boundary")
            if not boundary:
                raise BadRequest("Multipart form has no boundary in its Content-Type.")
            self._multipart = _MultipartState(limits)
            try:
                self._parser = MultipartParser(
                    boundary,
                    self._multipart.callbacks(),
                    max_header_count=limits.max_part_header_count,
                    max_header_size=limits.max_part_header_size,
                )
            except (MultipartParseError, ValueError) as exc:
                raise BadRequest(f"Malformed multipart boundary: {exc}") from None
            self._parser.logger = _MULTIPART_LOG
        elif self.media != "application/x-www-form-urlencoded":
            raise UnsupportedMediaType(
                f"Expected a form body (application/x-www-form-urlencoded or "
                f"multipart/form-data), got {self.media or 'no content type'!r}."
            )

    def feed(self, chunk: bytes) -> None:
        """Parse the next chunk of the body."""
        if self._parser is None:
            self._buffer += chunk
            return
        try:
            self._parser.write(chunk)
        except MultipartParseError as exc:
            self._multipart.close()
            raise BadRequest(f"Malformed multipart body: {exc}") from None
        except BaseException:
            self._multipart.close()
            raise

    def finish(self) -> FormData:
        """Return the form once the whole body has been fed."""
        if self._parser is None:
            return self._parse_urlencoded()
        try:
            self._parser.finalize()
        except MultipartParseError as exc:
            self._multipart.close()
            raise BadRequest(f"Malformed multipart body: {exc}") from None
        if not self._multipart.ended:
            self._multipart.close()
            raise BadRequest("Malformed multipart body: it ends before its closing boundary.")
        return FormData(MultiDict(self._multipart.fields), MultiDict(self._multipart.files))

    def abort(self) -> None:
        """Release temporary files after a failure."""
        if self._parser is not None:
            self._multipart.close()

    def _parse_urlencoded(self) -> FormData:
        try:
            # NOTE: latin-1 keeps every byte as one character, through percent-decoding too,
            # so raw UTF-8 (curl -d 'name=Zoë') and percent-encoded UTF-8 (browsers) decode
            # alike below; invalid bytes become U+FFFD in both.
            raw_pairs = parse_qsl(
                self._buffer.decode("latin-1"),
                keep_blank_values=True,
                max_num_fields=self.limits.max_form_fields,
                encoding="latin-1",
            )
            pairs = [(_utf8(k), _utf8(v)) for k, v in raw_pairs]
        except ValueError:
            raise BadRequest(
                f"Too many form fields (limit {self.limits.max_form_fields}; "
                "setting MAX_FORM_FIELDS)."
            ) from None
        limit = self.limits.max_form_field_size
        for name, value in pairs:
            if len(value) > limit:
                raise PayloadTooLarge(
                    f"Form field {name!r} is larger than {limit} bytes "
                    "(setting MAX_FORM_FIELD_SIZE)."
                )
        return FormData(MultiDict(pairs), MultiDict())


class _MultipartState:
    """Collects parts from python-multipart's callbacks, enforcing the limits as bytes arrive."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.fields: list[tuple[str, str]] = []
        self.files: list[tuple[str, UploadFile]] = []
        self.ended = False
        self._header_field = b""
        self._header_value = b""
        self._headers: list[tuple[str, str]] = []
        self._name = ""
        self._data = bytearray()
        self._upload: UploadFile | None = None
        self._skip = False

    def callbacks(self) -> Any:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_end": self.on_end,
        }

    def on_part_begin(self) -> None:
        self._headers = []
        self._data = bytearray()
        self._upload = None
        self._skip = False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers.append(
            (self._header_field.decode("latin-1").lower(), self._header_value.decode("latin-1"))
        )
        self._header_field = self._header_value = b""

    def on_headers_finished(self) -> None:
        headers = Headers._trusted(self._headers)
        disposition = headers.get("content-disposition")
        if disposition is None:
            raise BadRequest("Malformed multipart body: a part has no Content-Disposition.")
        _, options = parse_options_header(disposition)
        if b"name" not in options:
            raise BadRequest("Malformed multipart body: a part's Content-Disposition has no name.")
        self._name = options[b"name"].decode("utf-8", "replace")
        if b"filename" in options:
            raw_filename = _raw_filename(disposition) or ""
            if not raw_filename:  # an empty file input: browsers send filename="" and no data
                self._skip = True
                return
            if len(self.files) >= self.limits.max_form_files:
                raise BadRequest(
                    f"Too many files in the form (limit {self.limits.max_form_files}; "
                    "setting MAX_FORM_FILES)."
                )
            self._upload = UploadFile(
                raw_filename,
                headers.get("content-type", "application/octet-stream"),
                headers,
                self.limits.form_spool_size,
            )
            self.files.append((self._name, self._upload))
        elif len(self.fields) >= self.limits.max_form_fields:
            raise BadRequest(
                f"Too many form fields (limit {self.limits.max_form_fields}; "
                "setting MAX_FORM_FIELDS)."
            )

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._skip:
            return
        upload = self._upload
        if upload is not None:
            upload.size += end - start
            if upload.size > self.limits.max_file_size:
                raise PayloadTooLarge(
                    f"File {upload.filename!r} is larger than {self.limits.max_file_size} bytes "
                    "(setting MAX_FILE_SIZE)."
                )
            upload.file.write(data[start:end])
            return
        self._data += data[start:end]
        if len(self._data) > self.limits.max_form_field_size:
            raise PayloadTooLarge(
                f"Form field {self._name!r} is larger than {self.limits.max_form_field_size} "
                "bytes (setting MAX_FORM_FIELD_SIZE)."
            )

    def on_part_end(self) -> None:
        if self._skip:
            return
        if self._upload is not None:
            self._upload.file.seek(0)
        else:
            self.fields.append((self._name, self._data.decode("utf-8", "replace")))

    def on_end(self) -> None:
        self.ended = True

    def close(self) -> None:
        for _, upload in self.files:
            upload.close()
