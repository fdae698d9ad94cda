"""Compression: gzip, and brotli when it is installed, for responses that compress well.

The client's ``Accept-Encoding`` (with q-values) picks the coding; responses that are small, of a
type that is already compressed (images, video, archives), partial, not modified, already encoded
or marked ``Cache-Control: no-transform`` are sent as they are. Streamed bodies are compressed
chunk by chunk and flushed after each chunk, so event streams keep streaming::

    Compression(app)                      # gzip; br too with pip install 'qiao[brotli]'
    Compression(app, min_size=1024, brotli=False)

Files (``FileResponse``) are not compressed: they answer range requests, which a compressed
body cannot, and static files are best compressed ahead of time. See ``docs/security.md`` for
BREACH and ``compression_exempt``.
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from qiao.extensions import Extension
from qiao.http.exceptions import ImproperlyConfigured
from qiao.http.response import BODY, FILE

if TYPE_CHECKING:
    from qiao.app import App
    from qiao.http.datastructures import Headers
    from qiao.http.request import Request
    from qiao.http.response import Response, StreamingResponse

__all__ = ["Compression", "compression_exempt"]

F = TypeVar("F", bound=Callable[..., Any])

#: Media types worth compressing: ``type/*``, ``type/*+suffix`` or exact. Images other than SVG,
#: audio, video, fonts in WOFF and archives are compressed already; gzip would only cost CPU.
DEFAULT_TYPES = (
    "text/*",
    "application/json",
    "application/*+json",
    "application/x-ndjson",
    "application/javascript",
    "application/xml",
    "application/*+xml",
    "application/wasm",
    "image/svg+xml",
)
#: Statuses never compressed: no content (204, 304) or a byte range of the identity body (206).
SKIPPED_STATUSES = frozenset({204, 206, 304})
#: Bounded memo sizes for per-value decisions (Content-Type, Accept-Encoding): browsers send a
#: handful of distinct values, and a bound keeps a hostile client from growing them.
MEMO_SIZE = 256

_EXEMPT_ATTR = "__qiao_compression_exempt__"


def compression_exempt(view: F) -> F:
    """Decorate a view (function or ``View`` class) whose responses must never be compressed.

    Use it for pages that echo request input next to a secret (BREACH), when the secret is not
    masked per response. ``Cache-Control: no-transform`` on a response does the same for one
    response.
    """
    setattr(view, _EXEMPT_ATTR, True)
    return view


def _exempt(request: Request) -> bool:
    route = request.route
    if route is None:
        return False
    view = route.view
    if getattr(view, _EXEMPT_ATTR, False):
        return True
    return bool(getattr(getattr(view, "view_class", None), _EXEMPT_ATTR, False))


class _Gzip:
    """A gzip stream: each ``compress`` returns bytes a client can decode now (sync flush)."""

    __slots__ = ("_z",)

    def __init__(self, level: int) -> None:
        # NOTE: wbits 31 writes the gzip container, with mtime 0, so output is reproducible.
        self._z = zlib.compressobj(level, zlib.DEFLATED, 31)

    def compress(self, data: bytes) -> bytes:
        return self._z.compress(data) + self._z.flush(zlib.Z_SYNC_FLUSH)

    def finish(self) -> bytes:
        return self._z.flush(zlib.Z_FINISH)


class _Brotli:
    """A brotli stream with the same interface as ``_Gzip``."""

    __slots__ = ("_c",)

    def __init__(self, module: Any, level: int) -> None:
        self._c = module.Compressor(quality=level)

    def compress(self, data: bytes) -> bytes:
        return bytes(self._c.process(data) + self._c.flush())

    def finish(self) -> bytes:
        return bytes(self._c.finish())


Compressor = _Gzip | _Brotli


def _sync_stream(content: Iterable[bytes | str], compressor: Compressor) -> Iterator[bytes]:
    iterator = iter(content)
    try:
        for chunk in iterator:
            data = chunk.encode() if isinstance(chunk, str) else chunk
            if data:
                yield compressor.compress(data)
        yield compressor.finish()
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


async def _async_stream(
    content: AsyncIterable[bytes | str], compressor: Compressor
) -> AsyncIterator[bytes]:
    iterator = content.__aiter__()
    try:
        async for chunk in iterator:
            data = chunk.encode() if isinstance(chunk, str) else chunk
            if data:
                yield compressor.compress(data)
        yield compressor.finish()
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()


def parse_accept_encoding(value: str) -> dict[str, float]:
    """``Accept-Encoding`` as ``{coding: q}``, codings lower-cased, ``x-gzip`` read as ``gzip``.

    A coding with a malformed or out-of-range q-value gets 0 (not acceptable).
    """
    weights: dict[str, float] = {}
    for item in value.split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        if not coding:
            continue
        weight = 1.0
        for param in params.split(";"):
            key, _, number = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(number.strip())
                except ValueError:
                    weight = 0.0
                if not 0.0 <= weight <= 1.0:  # also false for NaN
                    weight = 0.0
        weights["gzip" if coding == "x-gzip" else coding] = weight
    return weights


def _add_vary(headers: Headers, field: str) -> None:
    """Add ``field`` to ``Vary``, keeping every ``Vary`` line the response already has.

    NOTE: ``Headers.add_vary`` merges into the first line only and drops the others, so it is
    used only when there is exactly one; no line (the usual case) is a plain append.
    """
    lines = headers.getlist("vary")
    if len(lines) == 1:
        headers.add_vary(field)
    elif not any(field in (f.strip().lower() for f in line.split(",")) for line in lines):
        headers.add("vary", field)


class Compression(Extension):
    """Compress responses with the best coding the client accepts (br, then gzip).

    A compressed response gets ``Content-Encoding``, a new length, a weak ``ETag`` (``W/``: the
    bytes differ from the identity body) and ``Vary: Accept-Encoding``; ``Vary`` is added to
    every response whose form depends on ``Accept-Encoding``, compressed or not, so caches keep
    the forms apart. Settings: see ``docs/security.md``.

    PERF: the size and status checks come first, so small and uncompressible responses cost a
    few comparisons; content-type and ``Accept-Encoding`` decisions are memoised.
    """

    name = "compression"
    settings: ClassVar[dict[str, Any]] = {
        "COMPRESSION_MIN_SIZE": 500,
        "COMPRESSION_GZIP_LEVEL": 6,
        "COMPRESSION_BROTLI": None,
        "COMPRESSION_BROTLI_LEVEL": 4,
        "COMPRESSION_TYPES": list(DEFAULT_TYPES),
        "COMPRESSION_STREAMS": True,
    }

    _min_size = 500
    _gzip_level = 6
    _brotli: Any = None
    _brotli_level = 4
    _streams = True
    _exact: frozenset[str] = frozenset()
    _prefixes: tuple[str, ...] = ()
    _suffixed: tuple[tuple[str, str], ...] = ()

    def configure(self, app: App) -> None:
        """Check the settings; import brotli if it is wanted.

        Raises:
            ImproperlyConfigured: ``qiao.E121``: a level or size out of range, a malformed
                type, or ``COMPRESSION_BROTLI = True`` without the ``brotli`` package.
        """
        self._min_size = _int_setting(self, "COMPRESSION_MIN_SIZE", 0, None)
        self._gzip_level = _int_setting(self, "COMPRESSION_GZIP_LEVEL", 1, 9)
        self._brotli_level = _int_setting(self, "COMPRESSION_BROTLI_LEVEL", 0, 11)
        self._streams = bool(self.setting("COMPRESSION_STREAMS"))
        wanted = self.setting("COMPRESSION_BROTLI")
        self._brotli = None
        if wanted is None or wanted:
            try:
                self._brotli = importlib.import_module("brotli")
            except ImportError:
                if wanted:
                    raise ImproperlyConfigured(
                        "qiao.E121: COMPRESSION_BROTLI is True but the brotli package is not "
                        "installed: pip install 'qiao[brotli]' (or set it to None to use "
                        "brotli only when installed)."
                    ) from None
        types = self.setting("COMPRESSION_TYPES")
        if isinstance(types, str) or not all(isinstance(t, str) and "/" in t for t in types):
            raise ImproperlyConfigured(
                f"qiao.E121: COMPRESSION_TYPES must be a list of media types ('text/*', "
                f"'application/json', 'application/*+json'), got {types!r}."
            )
        lowered = [t.strip().lower() for t in types]
        self._exact = frozenset(t for t in lowered if "*" not in t)
        self._prefixes = tuple(t[:-1] for t in lowered if t.endswith("/*"))
        self._suffixed = tuple(
            (t.split("*", 1)[0], t.split("*", 1)[1]) for t in lowered if "/*+" in t
        )
        self._types_memo: dict[str, bool] = {}
        self._coding_memo: dict[str, str | None] = {}

    def compressible(self, content_type: str | None) -> bool:
        """Whether ``content_type`` is in ``COMPRESSION_TYPES`` (memoised)."""
        if content_type is None:
            return False
        known = self._types_memo.get(content_type)
        if known is not None:
            return known
        media = content_type.split(";", 1)[0].strip().lower()
        result = (
            media in self._exact
            or media.startswith(self._prefixes)
            or any(media.startswith(p) and media.endswith(s) for p, s in self._suffixed)
        )
        if len(self._types_memo) < MEMO_SIZE:
            self._types_memo[content_type] = result
        return result

    def choose_coding(self, accept_encoding: str | None) -> str | None:
        """``"br"``, ``"gzip"`` or None (send identity) for an ``Accept-Encoding`` value.

        The highest q-value wins; on a tie brotli does (smaller output). ``*`` stands for
        codings the header does not name; q=0 refuses a coding.
        """
        if not accept_encoding:
            return None
        if accept_encoding in self._coding_memo:
            return self._coding_memo[accept_encoding]
        weights = parse_accept_encoding(accept_encoding)
        star = weights.get("*", 0.0)
        best, best_weight = None, 0.0
        for coding in ("br", "gzip") if self._brotli is not None else ("gzip",):
            weight = weights.get(coding, star)
            if weight > best_weight:
                best, best_weight = coding, weight
        if len(self._coding_memo) < MEMO_SIZE:
            self._coding_memo[accept_encoding] = best
        return best

    def _compress_body(self, coding: str, body: bytes) -> bytes:
        if coding == "br":
            return bytes(self._brotli.compress(body, quality=self._brotli_level))
        z = zlib.compressobj(self._gzip_level, zlib.DEFLATED, 31)
        return z.compress(body) + z.flush()

    def _compressor(self, coding: str) -> Compressor:
        if coding == "br":
            return _Brotli(self._brotli, self._brotli_level)
        return _Gzip(self._gzip_level)

    def _wanted(self, request: Request, response: Response) -> bool:
        """Whether ``response`` may be compressed at all, whatever the client accepts."""
        # NOTE: HEAD is compressed like GET (the adapter drops the body), so both answer with
        # the same headers, as RFC 9110 asks.
        if response.status_code in SKIPPED_STATUSES:
            return False
        headers = response.headers
        if not self.compressible(headers.get("content-type")) or "content-encoding" in headers:
            return False
        cache_control = headers.get("cache-control")
        if cache_control is not None and "no-transform" in cache_control.lower():
            return False
        if response.body_kind != BODY:  # a stream that declared a small length
            length = headers.get("content-length")
            if length is not None and length.isdigit() and int(length) < self._min_size:
                return False
        return not _exempt(request)

    def after_request(self, request: Request, response: Response) -> None:
        """Compress ``response`` in place when it and the client allow it."""
        kind = response.body_kind
        if kind == BODY:
            if len(response.body) < self._min_size:
                return
        elif kind == FILE or not self._streams:
            return
        if not self._wanted(request, response):
            return
        headers = response.headers
        _add_vary(headers, "accept-encoding")
        coding = self.choose_coding(request.headers.get("accept-encoding"))
        if coding is None:
            return
        if kind == BODY:
            body = self._compress_body(coding, response.body)
            if len(body) >= len(response.body):
                return  # PERF: incompressible after all; send the original
            response.body = body
        else:
            compressor = self._compressor(coding)
            stream: StreamingResponse = response  # type: ignore[assignment]
            content = stream.content
            if isinstance(content, AsyncIterable):
                stream.content = _async_stream(content, compressor)
            else:
                stream.content = _sync_stream(content, compressor)
        if "content-length" in headers:
            del headers["content-length"]
        headers.add("content-encoding", coding)
        etag = headers.get("etag")
        if etag is not None and not etag.startswith("W/"):
            headers["etag"] = "W/" + etag


def _int_setting(ext: Extension, key: str, low: int, high: int | None) -> int:
    value = ext.setting(key)
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise ImproperlyConfigured(
            f"qiao.E121: {key} must be a whole number {bounds}, got {value!r}."
        )
    return value
