"""CORS: let chosen web origins read this app's responses from the browser.

Browsers refuse a page's script the responses of other origins unless the response says the page's
origin may read it. ``CORS`` says so for the origins you list, answers preflight requests
(``OPTIONS`` with ``Access-Control-Request-Method``) before routing, and marks every answer that
depends on ``Origin`` with ``Vary: Origin`` so shared caches keep them apart::

    CORS(app, allow_origins=["https://app.example.com"], allow_credentials=True, paths=["/api/"])

See ``docs/security.md`` for the threat model and each setting.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from qiao.extensions import Extension
from qiao.http.exceptions import ImproperlyConfigured
from qiao.http.response import Response

if TYPE_CHECKING:
    from qiao.app import App
    from qiao.http.datastructures import Headers
    from qiao.http.request import Request

__all__ = ["CORS"]

#: The methods a preflight may ask for by default (django-cors-headers' list).
DEFAULT_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
#: The request headers a preflight may ask for by default (the CORS-safelisted ones are always
#: allowed by browsers; these are the usual extras of JSON APIs and CSRF-protected forms).
DEFAULT_HEADERS = (
    "accept",
    "accept-language",
    "authorization",
    "content-language",
    "content-type",
    "x-csrftoken",
    "x-requested-with",
)
#: Status of an accepted preflight (any 2xx will do; 204 says there is no body).
PREFLIGHT_STATUS = 204
#: Status of a refused preflight: it carries no CORS headers, so the browser blocks the request.
REFUSED_STATUS = 400
#: Longer origins never match a regex: a scheme, a 253-character host and a port fit well within.
MAX_ORIGIN_LENGTH = 300
REASON_ORIGIN = "Disallowed CORS origin {origin!r}."
REASON_METHOD = "Disallowed CORS method {method!r}."
REASON_HEADERS = "Disallowed CORS request header(s) {headers}."

_TEXT = "text/plain; charset=utf-8"
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", re.ASCII)


class _PreflightResponse(Response):
    """The answer to a preflight: ``after_request`` leaves it as it is."""


def _string_list(value: Any, setting: str) -> list[str]:
    """A list-of-strings setting; a string is split on commas (handy from the environment)."""
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, (list, tuple, set, frozenset)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ImproperlyConfigured(f"qiao.E112: {setting} must be a list of strings, got {value!r}.")


def _origin(entry: str) -> str:
    """A configured origin, normalised (``HTTPS://Example.com`` -> ``https://example.com``).

    Raises:
        ImproperlyConfigured: not ``scheme://host[:port]`` (``qiao.E112``).
    """
    parts = urlsplit(entry.strip())
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise ImproperlyConfigured(
            f"qiao.E112: CORS_ALLOW_ORIGINS entry {entry!r} is not an origin: write "
            "scheme://host[:port], without a path or trailing slash ('https://example.com'), "
            "or '*' for any origin."
        )
    return f"{parts.scheme}://{parts.netloc.lower()}"


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


class CORS(Extension):
    """Cross-origin resource sharing for the origins, methods and headers you allow.

    - Preflights (``OPTIONS`` + ``Origin`` + ``Access-Control-Request-Method``) under
      ``CORS_PATHS`` are answered here with 204, for any path, routed or not (as Starlette and
      django-cors-headers do): the real request still gets its own 404 or 405, readable by an
      allowed origin. A preflight asking for an origin, method or header that is not allowed
      gets a 400 without CORS headers, which the browser treats as a refusal.
    - Other requests get ``Access-Control-Allow-Origin`` (and ``-Allow-Credentials``,
      ``-Expose-Headers``) when their ``Origin`` is allowed, and ``Vary: Origin`` whether or not
      it is, unless the answer is ``*`` for everyone.
    - ``*`` with ``CORS_ALLOW_CREDENTIALS`` is refused at start-up (``qiao.E111``): it would let
      every site read every user's data. List the origins, or use ``CORS_ALLOW_ORIGIN_REGEXES``.

    A response on which the view set ``Access-Control-Allow-Origin`` itself is left alone.

    PERF: everything is rendered in ``configure``; a request without ``Origin`` costs a header
    lookup and, outside ``*`` mode, one ``Vary`` update.
    """

    name = "cors"
    settings: ClassVar[dict[str, Any]] = {
        "CORS_ALLOW_ORIGINS": [],
        "CORS_ALLOW_ORIGIN_REGEXES": [],
        "CORS_ALLOW_METHODS": list(DEFAULT_METHODS),
        "CORS_ALLOW_HEADERS": list(DEFAULT_HEADERS),
        "CORS_EXPOSE_HEADERS": [],
        "CORS_ALLOW_CREDENTIALS": False,
        "CORS_MAX_AGE": 600,
        "CORS_PATHS": ["/"],
    }

    _any_origin = False
    _origins: frozenset[str] = frozenset()
    _regex: re.Pattern[str] | None = None
    _methods: frozenset[str] = frozenset()
    _any_header = False
    _headers: frozenset[str] = frozenset()
    _allow_headers = ""
    _credentials = False
    _paths: tuple[str, ...] = ("/",)
    _preflight: tuple[tuple[str, str], ...] = ()
    _simple: tuple[tuple[str, str], ...] = ()

    def configure(self, app: App) -> None:
        """Check and render the settings.

        Raises:
            ImproperlyConfigured: ``qiao.E111`` (``*`` with credentials), ``qiao.E112`` (an
                origin, regex or other setting that is malformed).
        """
        origins = _string_list(self.setting("CORS_ALLOW_ORIGINS"), "CORS_ALLOW_ORIGINS")
        self._any_origin = "*" in origins
        self._origins = frozenset(_origin(o) for o in origins if o != "*")
        regexes = _string_list(
            self.setting("CORS_ALLOW_ORIGIN_REGEXES"), "CORS_ALLOW_ORIGIN_REGEXES"
        )
        try:
            self._regex = re.compile("|".join(f"(?:{r})" for r in regexes)) if regexes else None
        except re.error as exc:
            raise ImproperlyConfigured(
                f"qiao.E112: CORS_ALLOW_ORIGIN_REGEXES does not compile: {exc}."
            ) from None
        self._credentials = bool(self.setting("CORS_ALLOW_CREDENTIALS"))
        if self._any_origin and self._credentials:
            raise ImproperlyConfigured(
                "qiao.E111: CORS_ALLOW_ORIGINS is '*' and CORS_ALLOW_CREDENTIALS is on, which "
                "would let any website read your users' data with their cookies. List the "
                "origins you trust (or match them with CORS_ALLOW_ORIGIN_REGEXES)."
            )
        methods = [
            m.upper()
            for m in _string_list(self.setting("CORS_ALLOW_METHODS"), "CORS_ALLOW_METHODS")
        ]
        headers = [
            h.lower()
            for h in _string_list(self.setting("CORS_ALLOW_HEADERS"), "CORS_ALLOW_HEADERS")
        ]
        expose = _string_list(self.setting("CORS_EXPOSE_HEADERS"), "CORS_EXPOSE_HEADERS")
        for value in (*methods, *(h for h in headers if h != "*"), *expose):
            if not _TOKEN.fullmatch(value):
                raise ImproperlyConfigured(
                    f"qiao.E112: {value!r} is not an HTTP method or header name (CORS settings)."
                )
        self._methods = frozenset(methods)
        self._any_header = "*" in headers
        self._headers = frozenset(headers)
        self._allow_headers = ", ".join(sorted(self._headers))
        max_age = self.setting("CORS_MAX_AGE")
        if max_age is not None and (
            isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0
        ):
            raise ImproperlyConfigured(
                f"qiao.E112: CORS_MAX_AGE must be a whole number of seconds or None, got "
                f"{max_age!r}."
            )
        paths = _string_list(self.setting("CORS_PATHS"), "CORS_PATHS")
        self._paths = tuple(paths)
        preflight = [("access-control-allow-methods", ", ".join(methods))]
        if max_age is not None:
            preflight.append(("access-control-max-age", str(max_age)))
        simple = []
        if self._credentials:
            simple.append(("access-control-allow-credentials", "true"))
        if expose:
            simple.append(("access-control-expose-headers", ", ".join(expose)))
        self._simple = tuple(simple)
        self._preflight = (*preflight, *(p for p in simple if p[0].endswith("credentials")))

    def _allowed(self, origin: str) -> bool:
        if origin in self._origins:
            return True
        regex = self._regex
        # SECURITY: a bound on what a configured regex must scan (a client picks the Origin).
        return (
            regex is not None and len(origin) <= MAX_ORIGIN_LENGTH and bool(regex.fullmatch(origin))
        )

    def before_request(self, request: Request) -> Response | None:
        """Answer a preflight request (204 if allowed, 400 if not); let others through."""
        if request.method != "OPTIONS":
            return None
        headers = request.headers
        origin = headers.get("origin")
        method = headers.get("access-control-request-method")
        if origin is None or method is None or not request.path.startswith(self._paths):
            return None  # a plain OPTIONS request: the app answers it
        return self._preflight_response(
            origin, method, headers.get("access-control-request-headers")
        )

    def _preflight_response(self, origin: str, method: str, requested: str | None) -> Response:
        """The 204 for an allowed preflight, or a 400 without CORS headers."""
        names = [h.strip().lower() for h in (requested or "").split(",") if h.strip()]
        problem = None
        if not (self._any_origin or self._allowed(origin)):
            problem = REASON_ORIGIN.format(origin=origin)
        elif method not in self._methods:
            problem = REASON_METHOD.format(method=method)
        elif not self._any_header:
            refused = [n for n in names if n not in self._headers]
            if refused:
                problem = REASON_HEADERS.format(headers=", ".join(map(repr, refused)))
        elif not all(_TOKEN.fullmatch(n) for n in names):
            problem = REASON_HEADERS.format(headers=repr(requested))
        if problem is not None:
            refusal = _PreflightResponse(problem, REFUSED_STATUS, content_type=_TEXT)
            if not self._any_origin:
                refusal.headers.add("vary", "origin")
            return refusal
        response = _PreflightResponse(b"", PREFLIGHT_STATUS, self._preflight)
        del response.headers["content-type"]
        headers = response.headers
        if self._any_origin:
            headers.add("access-control-allow-origin", "*")
        else:
            headers.add("access-control-allow-origin", origin)
            headers.add("vary", "origin")
        if names:
            allowed = ", ".join(names) if self._any_header else self._allow_headers
            headers.add("access-control-allow-headers", allowed)
        return response

    def after_request(self, request: Request, response: Response) -> None:
        """Add ``Access-Control-Allow-*`` for an allowed ``Origin``, and ``Vary: Origin``."""
        headers = response.headers
        if (
            type(response) is _PreflightResponse
            or "access-control-allow-origin" in headers
            or not request.path.startswith(self._paths)
        ):
            return
        if self._any_origin:
            # NOTE: the same answer for every origin (and for none), so no Vary is needed.
            headers.add("access-control-allow-origin", "*")
            for name, value in self._simple:
                headers.add(name, value)
            return
        _add_vary(headers, "origin")
        origin = request.headers.get("origin")
        if origin is not None and self._allowed(origin):
            headers.add("access-control-allow-origin", origin)
            for name, value in self._simple:
                headers.add(name, value)
