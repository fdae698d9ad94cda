"""The request: one class whatever the server, decoded lazily.

Headers, query, cookies, body, JSON and forms are decoded on first use and cached. The body has a
sync API (``body()``, ``json()``, ``form()``, ``stream()``) and an async twin (``abody()``,
``ajson()``, ``aform()``, ``astream()``); both work under WSGI and ASGI, and both share one
parser and one set of limits. Only the way chunks arrive differs, and that is the adapter's job.
"""

from __future__ import annotations

import ipaddress
import re
import types
import uuid
from collections.abc import AsyncGenerator, Iterator, Mapping
from contextlib import aclosing
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, quote

import msgspec

from qiao.http.cookies import parse_cookie_header
from qiao.http.datastructures import Headers, MultiDict
from qiao.http.exceptions import (
    BadRequest,
    PayloadTooLarge,
    RequestHeaderFieldsTooLarge,
    UnsupportedMediaType,
)
from qiao.http.forms import EMPTY_FORM, FormData, FormParser

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.orm import Session as SyncSession

    from qiao.app import App
    from qiao.routing import Route
    from qiao.sessions import Session

__all__ = ["Request", "RequestSource", "State"]

_json_decoder = msgspec.json.Decoder()
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,200}$")
_CONTENT_LENGTH = re.compile(r"^[0-9]{1,18}$", re.ASCII)
_UNSET: Any = object()
_PATH_SAFE = "/!$&'()*+,;=:@~"
_BATTERY_ATTRIBUTES = {
    "session": "qiao.sessions.Sessions(app)",
    "user": "qiao.auth.Auth(app)",
    "db": "qiao.db.Database(app)",
    "adb": "qiao.db.Database(app)",
    "csp_nonce": "qiao.security.SecurityHeaders(app) with a nonce in its policy",
}


class RequestSource(Protocol):
    """What an adapter gives a request: raw headers and the body's chunks, sync or async."""

    @property
    def environ(self) -> dict[str, Any] | None:
        """The WSGI environ, or None."""
        ...

    @property
    def scope(self) -> dict[str, Any] | None:
        """The ASGI scope, or None."""
        ...

    def header_pairs(self) -> list[tuple[str, str]]:
        """The header fields, names lower-cased, in arrival order."""
        ...

    def client(self) -> tuple[str, int] | None:
        """The peer's address and port."""
        ...

    def server_host(self) -> str:
        """``host[:port]`` the server answers on, for requests without ``Host``."""
        ...

    def query_string(self) -> str:
        """The raw query string."""
        ...

    def root_path(self) -> str:
        """The mount prefix."""
        ...

    def scheme(self) -> str:
        """``http`` or ``https`` as the server saw it."""
        ...

    def read_sync(self) -> Iterator[bytes]:
        """Yield the body's chunks, blocking."""
        ...

    def read_async(self) -> AsyncGenerator[bytes, None]:
        """Yield the body's chunks without blocking the event loop."""
        ...

    async def is_disconnected(self) -> bool:
        """Whether the client has gone (always False where the server cannot tell)."""
        ...


class State(types.SimpleNamespace):
    """Per-request attributes for middleware and hooks: ``request.state.user = ...``."""


class Request:
    """An HTTP request.

    Attributes:
        app: the ``App`` handling the request.
        method: upper-case method.
        path: the decoded path, without ``root_path``.
        path_params: the converted path parameters of the matched route.
        route: the matched ``Route`` (its ``view``, ``name``, ``scaffolds``: the blueprints
            it belongs to), or None before routing and for 404/405 answers.
        exception: what a before hook or the view raised, or None (read it in after hooks).

    Batteries add attributes, such as ``request.session`` (``qiao.sessions``).
    """

    # PERF: no __slots__: the lazily-filled fields default to these class attributes, so a
    # request costs seven attribute stores instead of eighteen.
    path_params: Mapping[str, Any] = MappingProxyType({})
    route: Route | None = None
    #: The exception a before hook or the view raised (its error response is being sent), for
    #: after hooks that must know: the database battery rolls back instead of committing.
    exception: Exception | None = None
    #: Set by the sessions battery (``qiao.sessions.Sessions``); annotation only.
    session: Session
    #: Set by the auth battery (``qiao.auth.Auth``): the user, or an ``AnonymousUser``.
    user: Any
    #: Set by the database battery (``qiao.db.Database``): the request's sessions.
    db: SyncSession
    adb: AsyncSession
    _headers: Headers | None = None
    _query: MultiDict[str] | None = None
    _cookies: dict[str, str] | None = None
    _body: bytes | None = None
    _json: Any = _UNSET
    _form: FormData | None = None
    _consumed = False
    _state: State | None = None
    _id: str | None = None
    _trusted: bool | None = None

    def __init__(
        self,
        app: App,
        method: str,
        path: str,
        source: RequestSource,
    ) -> None:
        self.app = app
        self.method = method
        self.path = path
        self._source = source

    @property
    def endpoint(self) -> str | None:
        """The matched route's name (``"blog:detail"``), or None."""
        route = self.route
        return route.name if route is not None else None

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: a battery's lazy attribute (made on first use,
        # whatever hooks have or have not run), or an explanation of a missing battery.
        app = self.__dict__.get("app")
        factory = app.request_attributes.get(name) if app is not None else None
        if factory is not None:
            value = factory(self)
            self.__dict__[name] = value
            return value
        battery = _BATTERY_ATTRIBUTES.get(name)
        if battery is not None:
            raise AttributeError(
                f"request.{name} is provided by a battery that is not installed on this app; "
                f"install it with {battery}."
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # PERF: read from the source on use; most requests never ask.
    @property
    def query_string(self) -> str:
        """The raw query string (``a=1&b=2``), without the ``?``."""
        return self._source.query_string()

    @property
    def root_path(self) -> str:
        """Where the app is mounted (``SCRIPT_NAME`` / ASGI ``root_path``); ``""`` at the root."""
        return self._source.root_path()

    @property
    def raw_scheme(self) -> str:
        """The scheme the server saw, whatever proxy headers say."""
        return self._source.scheme()

    # -- metadata -------------------------------------------------------------------------------
    @property
    def environ(self) -> dict[str, Any] | None:
        """The WSGI environ, under a WSGI server; else None."""
        return self._source.environ

    @property
    def scope(self) -> dict[str, Any] | None:
        """The ASGI scope, under an ASGI server; else None."""
        return self._source.scope

    @property
    def headers(self) -> Headers:
        """Request headers (case-insensitive, multi-valued).

        Raises:
            RequestHeaderFieldsTooLarge: more than ``MAX_HEADER_COUNT`` fields or more than
                ``MAX_HEADER_SIZE`` bytes of them.
        """
        if self._headers is None:
            pairs = self._source.header_pairs()
            limits = self.app.limits
            if len(pairs) > limits.max_header_count:
                raise too_many_headers(len(pairs), limits.max_header_count)
            if sum(len(k) + len(v) for k, v in pairs) > limits.max_header_size:
                raise headers_too_large(limits.max_header_size)
            self._headers = Headers._trusted(pairs)
        return self._headers

    @property
    def query(self) -> MultiDict[str]:
        """Query parameters, multi-valued: ``request.query["q"]``, ``request.query.getlist("tag")``.

        Raises:
            BadRequest: more than ``MAX_QUERY_FIELDS`` parameters.
        """
        if self._query is None:
            try:
                self._query = MultiDict(
                    parse_qsl(
                        self.query_string,
                        keep_blank_values=True,
                        max_num_fields=self.app.limits.max_query_fields,
                    )
                )
            except ValueError:
                raise BadRequest(
                    f"Too many query parameters (limit {self.app.limits.max_query_fields}; "
                    "setting MAX_QUERY_FIELDS)."
                ) from None
        return self._query

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies sent by the client."""
        if self._cookies is None:
            self._cookies = parse_cookie_header("; ".join(self.headers.getlist("cookie")))
        return self._cookies

    @property
    def state(self) -> State:
        """Per-request attributes for middleware, hooks and views."""
        if self._state is None:
            self._state = State()
        return self._state

    @property
    def id(self) -> str:
        """The request id: ``X-Request-ID`` when it is a sane token, else a new random id."""
        if self._id is None:
            given = self.headers.get("x-request-id")
            self._id = given if given and _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        return self._id

    @property
    def client(self) -> tuple[str, int] | None:
        """The direct peer's ``(host, port)``; see ``remote_addr`` for the client behind proxies."""
        return self._source.client()

    def _from_trusted_proxy(self) -> bool:
        if self._trusted is None:
            app = self.app
            # PERF: with no trusted proxies (the default) there is no address to parse.
            self._trusted = bool(app._trusted_any or app._trusted_networks) and (
                app._is_trusted_proxy(self.client)
            )
        return self._trusted

    def _forwarded(self, key: str) -> str | None:
        """The value of ``key`` (``for``, ``proto``, ``host``) set by the nearest proxy that is
        not trusted, from ``Forwarded`` or else ``X-Forwarded-<key>``.

        SECURITY: clients can send these headers too; reading from the right and skipping our
        own trusted proxies takes the value our edge proxy saw, never one the client made up.
        """
        values: list[str] = []
        forwarded = ",".join(self.headers.getlist("forwarded"))
        if forwarded:
            for element in forwarded.split(","):
                for pair in element.split(";"):
                    name, _, value = pair.strip().partition("=")
                    if name.lower() == key:
                        values.append(value.strip().strip('"'))
        else:
            joined = ",".join(self.headers.getlist(f"x-forwarded-{key}"))
            values = [v.strip() for v in joined.split(",") if v.strip()]
        if key != "for":
            return values[-1] if values else None
        hosts = [_node_address(value) for value in values]
        for host in reversed(hosts):
            # SECURITY: "*" trusts the connecting peer, never the addresses it relays.
            if not is_trusted((host, 0), self.app._trusted_networks, False):
                return host
        return hosts[0] if hosts else None

    @property
    def scheme(self) -> str:
        """``http`` or ``https``; ``Forwarded``/``X-Forwarded-Proto`` count only from a trusted
        proxy."""
        if self._from_trusted_proxy():
            proto = self._forwarded("proto")
            if proto in ("http", "https"):
                return proto
        return self.raw_scheme

    @property
    def is_secure(self) -> bool:
        """True for HTTPS requests."""
        return self.scheme == "https"

    @property
    def host(self) -> str:
        """``host[:port]`` the client asked for; from ``Forwarded``/``X-Forwarded-Host`` only via a
        trusted proxy. Validate it (``ALLOWED_HOSTS``) before building absolute URLs from it."""
        if self._from_trusted_proxy():
            forwarded = self._forwarded("host")
            if forwarded:
                return forwarded
        if self._headers is None:
            environ = self._source.environ
            if environ is not None:
                # PERF: under WSGI, Host is one environ key (the value request.headers would
                # give, as it is built from the environ); building every header costs 3 µs,
                # and host checks run on every request.
                return environ.get("HTTP_HOST") or self._source.server_host()
        return self.headers.get("host") or self._source.server_host()

    @property
    def remote_addr(self) -> str | None:
        """The client's IP: from ``Forwarded``/``X-Forwarded-For`` only via a trusted proxy."""
        if self._from_trusted_proxy():
            forwarded_for = self._forwarded("for")
            if forwarded_for:
                return forwarded_for
        client = self.client
        return client[0] if client else None

    @property
    def url(self) -> str:
        """The full URL: scheme, host, root path, path and query."""
        query = f"?{self.query_string}" if self.query_string else ""
        return f"{self.base_url}{quote(self.path, safe=_PATH_SAFE)}{query}"

    @property
    def base_url(self) -> str:
        """Scheme, host and root path, without a trailing slash."""
        return f"{self.scheme}://{self.host}{quote(self.root_path, safe=_PATH_SAFE)}"

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` header, or ``""``."""
        return self.headers.get("content-type", "")

    @property
    def content_length(self) -> int | None:
        """The declared body length; None when absent.

        Raises:
            BadRequest: the header is not a plain decimal number.
        """
        value = self.headers.get("content-length")
        if value is None:
            return None
        if not _CONTENT_LENGTH.fullmatch(value):
            raise BadRequest(f"Invalid Content-Length {value!r}.")
        return int(value)

    def url_for(self, name: str, /, **params: Any) -> str:
        """Build a path for the route ``name``; ``".detail"`` is relative to this route's
        namespace (its blueprint). See ``App.url_for``."""
        if name.startswith(".") and self.endpoint and ":" in self.endpoint:
            name = self.endpoint.rsplit(":", 1)[0] + ":" + name[1:]
        elif name.startswith("."):
            name = name[1:]
        return self.root_path + self.app.url_for(name, **params)

    def absolute_url_for(self, name: str, /, **params: Any) -> str:
        """``url_for`` with this request's scheme and host: ``https://example.com/blog/7``
        (links in e-mails, ``Location`` for other hosts). Validate the host first
        (``AllowedHosts``): it comes from the request."""
        return f"{self.scheme}://{self.host}{self.url_for(name, **params)}"

    async def is_disconnected(self) -> bool:
        """Whether the client has gone away (under WSGI, always False: servers do not tell)."""
        return await self._source.is_disconnected()

    # -- body -----------------------------------------------------------------------------------
    def _start_reading(self) -> int:
        if self._consumed:
            raise RuntimeError(
                "The request body was already consumed by stream()/astream() or by parsing a "
                "multipart form (uploads stream to disk); read it once, or call body() first."
            )
        self._consumed = True
        limit = self.app.limits.max_body_size
        length = self.content_length
        if length is not None and length > limit:
            raise PayloadTooLarge(
                f"Body of {length} bytes exceeds the limit of {limit} bytes "
                "(setting MAX_BODY_SIZE)."
            )
        return limit

    @staticmethod
    def _too_large(limit: int) -> PayloadTooLarge:
        return PayloadTooLarge(f"Body exceeds the limit of {limit} bytes (setting MAX_BODY_SIZE).")

    def stream(self) -> Iterator[bytes]:
        """Yield the body's chunks as they arrive, without buffering (sync).

        Raises:
            PayloadTooLarge: past ``MAX_BODY_SIZE``, even if ``Content-Length`` understated it.
            RuntimeError: the body was already streamed.
        """
        limit = self._start_reading()
        received = 0
        for chunk in self._source.read_sync():
            received += len(chunk)
            if received > limit:
                raise self._too_large(limit)
            yield chunk

    async def astream(self) -> AsyncGenerator[bytes, None]:
        """Async twin of ``stream()``."""
        limit = self._start_reading()
        received = 0
        # NOTE: aclosing: an async generator left suspended (a limit hit mid-body) would be
        # finalised later on whatever loop is current, or on none at all.
        async with aclosing(self._source.read_async()) as chunks:
            async for chunk in chunks:
                received += len(chunk)
                if received > limit:
                    raise self._too_large(limit)
                yield chunk

    def body(self) -> bytes:
        """The whole body, read once and cached (sync)."""
        if self._body is None:
            self._body = b"".join(self.stream())
        return self._body

    async def abody(self) -> bytes:
        """Async twin of ``body()``."""
        if self._body is None:
            self._body = b"".join([chunk async for chunk in self.astream()])
        return self._body

    def json(self) -> Any:
        """The body decoded as JSON (sync).

        Raises:
            UnsupportedMediaType: the ``Content-Type`` is not JSON (``application/json`` or
                ``application/*+json``).
            BadRequest: malformed JSON, NaN/Infinity, numbers out of range, or nesting deeper
                than ``MAX_JSON_DEPTH``.
        """
        if self._json is _UNSET:
            self._check_json_type()
            self._json = self._decode_json(self.body())
        return self._json

    async def ajson(self) -> Any:
        """Async twin of ``json()``."""
        if self._json is _UNSET:
            self._check_json_type()
            self._json = self._decode_json(await self.abody())
        return self._json

    def _check_json_type(self) -> None:
        media = self.content_type.split(";", 1)[0].strip().lower()
        if media != "application/json" and not (
            media.startswith("application/") and media.endswith("+json")
        ):
            raise UnsupportedMediaType(
                f"Expected Content-Type application/json, got {media or 'none'!r}."
            )

    def _decode_json(self, body: bytes) -> Any:
        if not body:
            raise BadRequest("Malformed JSON: the body is empty.")
        depth = self.app.limits.max_json_depth
        try:
            value = _json_decoder.decode(body)
        except RecursionError:
            raise BadRequest(
                f"JSON nests deeper than the decoder allows (limit {depth} levels; "
                "setting MAX_JSON_DEPTH)."
            ) from None
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
            raise BadRequest(f"Malformed JSON: {exc}.") from None
        # PERF: the depth walk runs only if the body has more brackets than the depth limit.
        if body.count(b"[") + body.count(b"{") > depth and _json_depth(value) > depth:
            raise BadRequest(f"JSON nests deeper than {depth} levels (setting MAX_JSON_DEPTH).")
        return value

    def form(self) -> FormData:
        """The body as a form: url-encoded or multipart with files (sync).

        Files past ``FORM_SPOOL_SIZE`` are spooled to disk and deleted when the request ends.

        Raises:
            UnsupportedMediaType: the body is not a form.
            BadRequest / PayloadTooLarge: malformed, or past a limit (see ``FormParser``).
        """
        if self._form is None:
            parser = self._form_parser()
            if parser is None:
                return EMPTY_FORM
            try:
                if self._body is None and parser.media == "multipart/form-data":
                    for chunk in self.stream():  # uploads stream to disk, never all in memory
                        parser.feed(chunk)
                else:
                    # NOTE: a url-encoded body is small and kept, so request.body() still works
                    # after a middleware (CSRF) read the form.
                    parser.feed(self.body())
                self._form = parser.finish()
            except BaseException:
                parser.abort()
                raise
        return self._form

    async def aform(self) -> FormData:
        """Async twin of ``form()``."""
        if self._form is None:
            parser = self._form_parser()
            if parser is None:
                return EMPTY_FORM
            try:
                if self._body is None and parser.media == "multipart/form-data":
                    async with aclosing(self.astream()) as chunks:
                        async for chunk in chunks:
                            parser.feed(chunk)
                else:
                    parser.feed(await self.abody())
                self._form = parser.finish()
            except BaseException:
                parser.abort()
                raise
        return self._form

    def _form_parser(self) -> FormParser | None:
        content_type = self.content_type
        if not content_type and not self.content_length:
            return None
        return FormParser(content_type, self.app.limits)

    def close(self) -> None:
        """Release what the request holds (upload temp files). Adapters call it at the end."""
        if self._form is not None:
            self._form.close()

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path!r}>"


def headers_too_large(limit: int) -> RequestHeaderFieldsTooLarge:
    """The 431 for header fields over ``limit`` bytes in all."""
    return RequestHeaderFieldsTooLarge(
        f"Header fields exceed {limit} bytes (setting MAX_HEADER_SIZE)."
    )


def too_many_headers(count: int, limit: int) -> RequestHeaderFieldsTooLarge:
    """The 431 for a request with ``count`` header fields over ``limit``."""
    return RequestHeaderFieldsTooLarge(
        f"{count} header fields; the limit is {limit} (setting MAX_HEADER_COUNT)."
    )


def _node_address(node: str) -> str:
    """The address of an RFC 7239 node: '[2001:db8::1]:4711' -> '2001:db8::1',
    '192.0.2.1:80' -> '192.0.2.1'."""
    if node.startswith("["):
        return node[1:].split("]", 1)[0]
    if node.count(":") == 1:
        return node.split(":", 1)[0]
    return node


def _json_depth(value: Any) -> int:
    """The nesting depth of decoded JSON, iteratively (no recursion on hostile input)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = node.values()
        elif not isinstance(node, list):
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node if isinstance(child, (dict, list)))
    return deepest


def is_trusted(client: tuple[str, int] | None, networks: list[Any], any_peer: bool) -> bool:
    """Whether ``client`` is one of the trusted proxy ``networks``."""
    if any_peer:
        return True
    if client is None or not networks:
        return False
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:
        return False
    return any(address in network for network in networks)
