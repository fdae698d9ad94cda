"""Cross-site request forgery protection: Django's mechanism, plus the browser's own signals.

``CSRF(app)`` installs it. Each client gets a random secret (in a cookie, or in the session with
``CSRF_USE_SESSIONS``). Pages embed a *masked* token (``get_token(request)``, the template tag
``{% csrf_token %}``, or a form's hidden field) that differs on every render, so compression
cannot leak it (BREACH), and every token made from the secret validates.

On an unsafe method (POST, PUT, PATCH, DELETE...) the request must pass, in order:

1. ``Origin``, when sent, is this site or in ``CSRF_TRUSTED_ORIGINS`` (``null`` never is);
   ``Sec-Fetch-Site: cross-site`` is refused unless the origin is trusted. Without ``Origin``,
   an HTTPS request needs a ``Referer`` from this site or a trusted origin.
2. When the browser says both ``Origin: <this site>`` and ``Sec-Fetch-Site: same-origin``, that
   is proof enough: modern browsers need no token.
3. Otherwise the token, from the ``X-CSRFToken`` header or the form field, must match the
   secret (constant-time compare).

Exempt: safe methods, requests no route answers (they get their 404/405), views marked
``@csrf_exempt`` (or blueprints passed to it), and requests carrying an
``Authorization: Bearer`` header and no cookies (stateless API clients: nothing ambient to
forge). Failures are 403 with a short reason from the ``REASON_*`` constants.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import string
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, TypeVar
from urllib.parse import urlsplit

from qiao.extensions import Extension
from qiao.http.exceptions import Forbidden, ImproperlyConfigured

if TYPE_CHECKING:
    from qiao.app import App
    from qiao.http.request import Request
    from qiao.http.response import Response

__all__ = [
    "CSRF",
    "REASON_BAD_ORIGIN",
    "REASON_BAD_REFERER",
    "REASON_CROSS_SITE",
    "REASON_CSRF_TOKEN_INCORRECT",
    "REASON_CSRF_TOKEN_MISSING",
    "REASON_INCORRECT_LENGTH",
    "REASON_INSECURE_REFERER",
    "REASON_INVALID_CHARACTERS",
    "REASON_MALFORMED_REFERER",
    "REASON_NO_CSRF_COOKIE",
    "REASON_NO_REFERER",
    "CSRFError",
    "check_origin",
    "csrf_exempt",
    "csrf_protect",
    "get_token",
    "rotate_token",
]

logger = logging.getLogger("qiao.csrf")
T = TypeVar("T")

# Failure reasons (as data: tests and docs read them).
REASON_BAD_ORIGIN = "Origin checking failed - {} does not match any trusted origins."
REASON_CROSS_SITE = "The browser says this request comes from another site (Sec-Fetch-Site)."
REASON_NO_REFERER = "Referer checking failed - no Referer."
REASON_BAD_REFERER = "Referer checking failed - {} does not match any trusted origins."
REASON_MALFORMED_REFERER = "Referer checking failed - Referer is malformed."
REASON_INSECURE_REFERER = "Referer checking failed - Referer is insecure while host is secure."
REASON_NO_CSRF_COOKIE = "CSRF cookie not set."
REASON_CSRF_TOKEN_MISSING = "CSRF token missing."  # noqa: S105
REASON_CSRF_TOKEN_INCORRECT = "CSRF token incorrect."  # noqa: S105
REASON_INCORRECT_LENGTH = "CSRF token has incorrect length."
REASON_INVALID_CHARACTERS = "CSRF token has invalid characters."

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
SECRET_LENGTH = 32
TOKEN_LENGTH = 2 * SECRET_LENGTH
_CHARS = string.ascii_letters + string.digits
_CHAR_SET = frozenset(_CHARS)
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_SESSION_KEY = "_csrf_secret"
# request.__dict__ keys: a new secret to send; the answer depended on the token
_NEW_SECRET = "_qiao_csrf_new_secret"  # noqa: S105
_USED = "_qiao_csrf_used"
_CHECKED = "_qiao_csrf_checked"
_HELP = (
    " CSRF protection refuses unsafe requests (POST, PUT, PATCH, DELETE) that another site "
    "could have forged. Forms need {% csrf_token %} (or the form's hidden field); JavaScript "
    "sends the token in the X-CSRFToken header; other sites must be listed in "
    "CSRF_TRUSTED_ORIGINS. Views that must take foreign posts can use @csrf_exempt."
)


class CSRFError(Forbidden):
    """403: the request failed CSRF verification; ``reason`` is one of the ``REASON_*``."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"CSRF verification failed: {reason}")
        self.reason = reason


# -- tokens -------------------------------------------------------------------------------------
_INDEX = {c: i for i, c in enumerate(_CHARS)}
_N = len(_CHARS)
#: Random bytes below this map onto the 62 characters without bias (62 * 4 = 248).
_UNBIASED = 256 - 256 % _N


def _new_secret() -> str:
    """32 characters from ``_CHARS``, uniformly random (as Django's ``get_random_string``).

    PERF: one ``os.urandom`` call with rejection sampling instead of 32 ``secrets.choice``
    calls (30 µs to 3 µs per rendered token).
    """
    chars: list[str] = []
    while len(chars) < SECRET_LENGTH:
        chars += [_CHARS[b % _N] for b in secrets.token_bytes(48) if b < _UNBIASED]
    return "".join(chars[:SECRET_LENGTH])


def _mask(secret: str) -> str:
    """A fresh token for ``secret``: a random mask, then the secret shifted by it."""
    mask = _new_secret()
    index = _INDEX
    cipher = "".join(_CHARS[(index[s] + index[m]) % _N] for s, m in zip(secret, mask, strict=True))
    return mask + cipher


def _unmask(token: str) -> str:
    mask, cipher = token[:SECRET_LENGTH], token[SECRET_LENGTH:]
    index = _INDEX
    return "".join(_CHARS[(index[c] - index[m]) % _N] for m, c in zip(mask, cipher, strict=True))


def _token_problem(token: str) -> str | None:
    if len(token) not in (SECRET_LENGTH, TOKEN_LENGTH):
        return REASON_INCORRECT_LENGTH
    if not _CHAR_SET.issuperset(token):
        return REASON_INVALID_CHARACTERS
    return None


def _battery(request: Request) -> CSRF:
    battery: CSRF | None = request.app.extensions.get("csrf")
    if battery is None:
        raise ImproperlyConfigured(
            "CSRF tokens need the CSRF battery: install it with qiao.csrf.CSRF(app)."
        )
    return battery


def get_token(request: Request) -> str:
    """A masked CSRF token for this client, different on every call.

    Creates the client's secret if it has none (the response then sets it), and marks the
    response as varying on ``Cookie``.

    Raises:
        ImproperlyConfigured: the CSRF battery is not installed.
    """
    battery = _battery(request)
    secret = request.__dict__.get(_NEW_SECRET) or battery.read_secret(request)
    if secret is None:
        secret = _new_secret()
        request.__dict__[_NEW_SECRET] = secret
    request.__dict__[_USED] = True
    return _mask(secret)


def rotate_token(request: Request) -> None:
    """Give the client a new secret (on login: a token seen before login stops working)."""
    _battery(request)
    request.__dict__[_NEW_SECRET] = _new_secret()
    request.__dict__[_USED] = True


# -- marks ----------------------------------------------------------------------------------------
def csrf_exempt(target: T) -> T:
    """Turn CSRF checks off for a view, a ``View`` class or a whole ``Blueprint``."""
    target.csrf_exempt = True  # type: ignore[attr-defined]
    return target


def csrf_protect(target: T) -> T:
    """Check this view even where checks are off: in an exempt blueprint, or with
    ``CSRF_PROTECT_ALL = False`` (only marked views checked)."""
    target.csrf_exempt = False  # type: ignore[attr-defined]
    return target


def _is_exempt(request: Request, protect_all: bool) -> bool:
    route = request.route
    if route is None:  # no route: the request gets its 404/405 (nothing to protect)
        return True
    view = route.view
    mark = getattr(view, "csrf_exempt", None)
    if mark is None:
        mark = getattr(getattr(view, "view_class", None), "csrf_exempt", None)
    if mark is not None:
        return bool(mark)
    for blueprint in reversed(route.scaffolds):
        mark = getattr(blueprint, "csrf_exempt", None)
        if mark is not None:
            return bool(mark)
    return not protect_all


# -- origins --------------------------------------------------------------------------------------
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _normalize_origin(origin: str, *, url: bool = False) -> str | None:
    """``scheme://host[:port]``, lower-case, IDNA host, default port dropped; None if it is
    not an origin (user info, a bad port, or, unless ``url``, a path, query or fragment).

    Raises:
        UnicodeError: a host IDNA cannot encode.
    """
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if not parts.scheme or not host or "@" in parts.netloc:
        return None
    if not url and (parts.path or parts.query or parts.fragment or origin.endswith(("?", "#"))):
        return None
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    scheme = parts.scheme.lower()
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}:{port}"
    return f"{scheme}://{host}"


def _safe_origin(origin: str, *, url: bool = False) -> str | None:
    try:
        return _normalize_origin(origin, url=url)
    except UnicodeError:
        return None


def _own_origin(request: Request) -> str | None:
    return _safe_origin(f"{request.scheme}://{request.host}")


def _origin_of(url: str) -> str | None:
    """The origin of a ``Referer`` URL (its path and query dropped); a URL with user info
    gives its raw ``scheme://netloc``, which matches no origin."""
    origin = _safe_origin(url, url=True)
    if origin is None and "@" in url:
        parts = urlsplit(url)
        if parts.scheme and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}".lower()
    return origin


def check_origin(request: Request) -> str | None:
    """The reason to refuse ``request`` by its ``Origin`` / ``Sec-Fetch-Site`` / ``Referer``, or
    None when they are fine (or absent over plain HTTP). Websocket handshakes use it too.

    Raises:
        ImproperlyConfigured: the CSRF battery is not installed.
    """
    return _battery(request).origin_problem(request)[0]


class CSRF(Extension):
    """The CSRF battery: ``CSRF(app)``; settings ``CSRF_*`` (see docs/csrf.md).

    Install it after ``Sessions`` when ``CSRF_USE_SESSIONS`` is on.
    """

    name = "csrf"
    settings: ClassVar[dict[str, Any]] = {
        "CSRF_COOKIE_NAME": "csrftoken",
        "CSRF_COOKIE_AGE": 31449600,
        "CSRF_COOKIE_DOMAIN": None,
        "CSRF_COOKIE_PATH": "/",
        "CSRF_COOKIE_SECURE": None,
        "CSRF_COOKIE_HTTPONLY": True,
        "CSRF_COOKIE_SAMESITE": "Lax",
        "CSRF_HEADER_NAME": "X-CSRFToken",
        "CSRF_FIELD_NAME": "csrfmiddlewaretoken",
        "CSRF_TRUSTED_ORIGINS": [],
        "CSRF_USE_SESSIONS": False,
        "CSRF_PROTECT_ALL": True,
        "CSRF_STATELESS_AUTH_SCHEMES": ["Bearer"],
    }

    def configure(self, app: App) -> None:
        """Read the settings (when the app compiles).

        Raises:
            ImproperlyConfigured: ``CSRF_USE_SESSIONS`` without the sessions battery installed
                before this one (``qiao.E301``), or a malformed trusted origin (``qiao.E302``).
        """
        self.cookie_name = str(self.setting("CSRF_COOKIE_NAME"))
        age = self.setting("CSRF_COOKIE_AGE")
        if age is not None and (isinstance(age, bool) or not isinstance(age, int) or age < 0):
            raise ImproperlyConfigured(
                f"qiao.E303: CSRF_COOKIE_AGE must be a number of seconds or None (a cookie "
                f"that lasts until the browser closes), got {age!r}."
            )
        self.cookie_age: int | None = age
        self.cookie_domain = self.setting("CSRF_COOKIE_DOMAIN")
        self.cookie_path = self.setting("CSRF_COOKIE_PATH")
        self.cookie_secure = self.setting("CSRF_COOKIE_SECURE")
        self.cookie_httponly = bool(self.setting("CSRF_COOKIE_HTTPONLY"))
        samesite = self.setting("CSRF_COOKIE_SAMESITE")
        self.cookie_samesite = str(samesite).lower() if samesite else None
        if self.cookie_samesite not in (None, "lax", "strict", "none") or (
            self.cookie_samesite == "none" and self.cookie_secure is False
        ):
            raise ImproperlyConfigured(
                f"qiao.E303: CSRF_COOKIE_SAMESITE must be 'Lax', 'Strict', 'None' or None "
                f"('None' needs a Secure cookie: browsers drop it otherwise), got {samesite!r}."
            )
        self.header_name = str(self.setting("CSRF_HEADER_NAME")).lower()
        #: the hidden input's name in forms (Django's ``csrfmiddlewaretoken``)
        self.field_name = str(self.setting("CSRF_FIELD_NAME"))
        self.use_sessions = bool(self.setting("CSRF_USE_SESSIONS"))
        self.protect_all = bool(self.setting("CSRF_PROTECT_ALL"))
        installed = list(app.extensions)
        if self.use_sessions and (
            "sessions" not in installed or installed.index("sessions") > installed.index("csrf")
        ):
            raise ImproperlyConfigured(
                "qiao.E301: CSRF_USE_SESSIONS is on, so the sessions battery must be installed "
                "before this one: qiao.sessions.Sessions(app), then qiao.csrf.CSRF(app)."
            )
        schemes = self.setting("CSRF_STATELESS_AUTH_SCHEMES")
        self.stateless_schemes = frozenset(str(s).lower() for s in schemes)
        self.exact_origins: set[str] = set()
        self.wildcard_origins: list[tuple[str, str]] = []  # (scheme, ".domain")
        trusted = self.setting("CSRF_TRUSTED_ORIGINS")
        if isinstance(trusted, str):
            raise ImproperlyConfigured(
                f"qiao.E302: CSRF_TRUSTED_ORIGINS must be a list of origins, got the string "
                f"{trusted!r}; write [{trusted!r}]."
            )
        for origin in trusted:
            self._add_trusted(str(origin))

    def _add_trusted(self, origin: str) -> None:
        scheme, sep, rest = origin.partition("://")
        wildcard = rest.startswith("*.")
        host = rest[2:] if wildcard else rest
        try:
            normalized = _normalize_origin(f"{scheme}://{host}") if sep and host else None
        except UnicodeError:
            normalized = None
        if (
            normalized is None
            or scheme.lower() not in ("http", "https")
            or "/" in host
            or "*" in host
            or host.startswith(".")
        ):
            raise ImproperlyConfigured(
                f"qiao.E302: CSRF_TRUSTED_ORIGINS entry {origin!r} must be an origin like "
                "'https://example.com' or 'https://*.example.com' (http or https, a host, no "
                "path)."
            )
        if wildcard:
            scheme_part, _, host_part = normalized.partition("://")
            self.wildcard_origins.append((scheme_part, "." + host_part))
        else:
            self.exact_origins.add(normalized)

    def is_trusted(self, origin: str) -> bool:
        """Whether ``origin`` (``scheme://host[:port]``) is in ``CSRF_TRUSTED_ORIGINS``."""
        if origin in self.exact_origins:
            return True
        scheme, _, host = origin.partition("://")
        return any(
            scheme == s and (host.endswith(domain) or host == domain[1:])
            for s, domain in self.wildcard_origins
        )

    # -- the secret -----------------------------------------------------------------------------
    def read_secret(self, request: Request) -> str | None:
        """The client's current secret, or None (none yet, or malformed)."""
        if self.use_sessions:
            secret = request.session.get(_SESSION_KEY)
        else:
            secret = request.cookies.get(self.cookie_name)
        if not isinstance(secret, str):
            return None
        # Django 4.0 and older stored masked tokens in the cookie: accept and unmask them.
        if len(secret) == TOKEN_LENGTH and _CHAR_SET.issuperset(secret):
            return _unmask(secret)
        if len(secret) == SECRET_LENGTH and _CHAR_SET.issuperset(secret):
            return secret
        return None

    # -- the checks -----------------------------------------------------------------------------
    def origin_problem(self, request: Request) -> tuple[str | None, bool]:
        """(reason to refuse or None, whether the browser vouched for same-origin)."""
        headers = request.headers
        origin = headers.get("origin")
        fetch_site = headers.get("sec-fetch-site")
        if origin is not None:
            normalized = _safe_origin(origin.strip()) if origin.strip() != "null" else None
            own = normalized is not None and normalized == _own_origin(request)
            if not own and (normalized is None or not self.is_trusted(normalized)):
                return REASON_BAD_ORIGIN.format(origin), False
            if fetch_site == "cross-site" and own:
                return REASON_CROSS_SITE, False
            return None, own and fetch_site == "same-origin"
        if fetch_site == "cross-site":
            return REASON_CROSS_SITE, False
        if request.is_secure:
            return self._referer_problem(request), False
        return None, False

    def _referer_problem(self, request: Request) -> str | None:
        referer = request.headers.get("referer")
        if referer is None:
            return REASON_NO_REFERER
        origin = _origin_of(referer)
        if origin is None:
            return REASON_MALFORMED_REFERER
        if not origin.startswith("https://"):
            return REASON_INSECURE_REFERER
        if origin != _own_origin(request) and not self.is_trusted(origin):
            return REASON_BAD_REFERER.format(origin)
        return None

    def before_request(self, request: Request) -> Coroutine[Any, Any, None] | None:
        """Check unsafe requests; may return a coroutine when the token is in a form body
        under ASGI (the dispatcher awaits it)."""
        if request.method in SAFE_METHODS or _is_exempt(request, self.protect_all):
            return None
        headers = request.headers
        authorization = headers.get("authorization")
        if (
            authorization is not None
            and "cookie" not in headers
            and authorization.partition(" ")[0].strip().lower() in self.stateless_schemes
        ):
            # SECURITY: a bearer token is never attached by the browser on its own, so there is
            # no ambient credential to forge with. Basic, Digest and Negotiate are: not exempt.
            return None
        request.__dict__[_CHECKED] = True  # the answer depends on Cookie and Origin: Vary
        problem, vouched = self.origin_problem(request)
        if problem is not None:
            self._reject(request, problem)
        if vouched:
            return None
        secret = self.read_secret(request)
        if secret is None:
            self._reject(request, REASON_NO_CSRF_COOKIE)
        token = headers.get(self.header_name)
        if token is None and request.content_type.split(";", 1)[0].strip().lower() in _FORM_TYPES:
            if request.scope is not None:  # ASGI: read the body without blocking the loop
                return self._check_form_async(request, secret)
            token = self._field(request.form().get(self.field_name))
        self._check_token(request, secret, token)
        return None

    async def _check_form_async(self, request: Request, secret: str) -> None:
        form = await request.aform()
        self._check_token(request, secret, self._field(form.get(self.field_name)))

    @staticmethod
    def _field(value: Any) -> str | None:
        return value if isinstance(value, str) else None

    def _check_token(self, request: Request, secret: str, token: str | None) -> None:
        if not token:
            self._reject(request, REASON_CSRF_TOKEN_MISSING)
        token = token.strip()
        problem = _token_problem(token)
        if problem is not None:
            self._reject(request, problem)
        if len(token) == TOKEN_LENGTH:
            token = _unmask(token)
        if not hmac.compare_digest(token, secret):
            self._reject(request, REASON_CSRF_TOKEN_INCORRECT)

    def _reject(self, request: Request, reason: str) -> NoReturn:
        logger.warning("Forbidden (%s): %s %s", reason, request.method, request.path)
        error = CSRFError(reason)
        if request.app.config["DEBUG"]:
            error.detail += _HELP
        raise error

    def after_request(self, request: Request, response: Response) -> None:
        """Send a new secret when one was made, and ``Vary`` when the answer depended on it."""
        state = request.__dict__
        used = state.get(_USED)
        if not (used or state.get(_CHECKED)):
            return
        response.headers.add_vary("cookie", "origin", "sec-fetch-site")
        if not used:  # checked, but no token rendered: nothing to (re)send
            return
        # The token was rendered or checked: (re)send the secret, so the cookie's expiry is
        # renewed while the client keeps using the site (Django does the same).
        secret = state.get(_NEW_SECRET) or self.read_secret(request)
        if secret is None:
            return
        if self.use_sessions:
            if request.session.get(_SESSION_KEY) != secret:  # the session renews itself
                request.session[_SESSION_KEY] = secret
            return
        secure = request.is_secure if self.cookie_secure is None else bool(self.cookie_secure)
        if self.cookie_samesite == "none":
            secure = True  # SameSite=None cookies must be Secure (over HTTP the browser drops it)
        response.set_cookie(
            self.cookie_name,
            secret,
            max_age=self.cookie_age,
            path=self.cookie_path,
            domain=self.cookie_domain,
            secure=secure,
            httponly=self.cookie_httponly,
            samesite=self.cookie_samesite,  # type: ignore[arg-type]
        )
