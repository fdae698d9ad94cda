"""Security batteries: response headers that harden browsers, and ``Host`` header validation.

``SecurityHeaders`` adds ``X-Content-Type-Options``, ``Referrer-Policy``, ``X-Frame-Options``,
``Cross-Origin-Opener-Policy``, HSTS (on HTTPS only) and an optional Content Security Policy, and
can redirect plain HTTP to HTTPS. ``AllowedHosts`` answers 400 to requests for a host the app does
not serve, before anything builds a URL from it. Install ``AllowedHosts`` first::

    AllowedHosts(app, hosts=["example.com", ".example.org"])
    SecurityHeaders(app, ssl_redirect=True, csp=ContentSecurityPolicy(default_src="'self'"))

This module holds ``security_exempt``, ``SecurityHeaders`` and ``AllowedHosts`` with the ``Host``
parsing they share; ``ContentSecurityPolicy`` lives in ``qiao._csp`` and is re-exported here.
See ``docs/security.md`` for the threats each defends against.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from qiao._csp import ContentSecurityPolicy, policies_from_setting
from qiao.extensions import Extension
from qiao.http.exceptions import BadRequest, ImproperlyConfigured
from qiao.http.response import RedirectResponse

if TYPE_CHECKING:
    from qiao.app import App
    from qiao.http.request import Request
    from qiao.http.response import Response

__all__ = ["AllowedHosts", "ContentSecurityPolicy", "SecurityHeaders", "security_exempt"]

F = TypeVar("F", bound=Callable[..., Any])

#: The headers ``SecurityHeaders`` manages (lower-case), the names ``security_exempt`` takes.
MANAGED_HEADERS = frozenset(
    [
        "x-content-type-options",
        "referrer-policy",
        "x-frame-options",
        "cross-origin-opener-policy",
        "strict-transport-security",
        "content-security-policy",
        "content-security-policy-report-only",
    ]
)
REFERRER_POLICIES = frozenset(
    [
        "no-referrer",
        "no-referrer-when-downgrade",
        "origin",
        "origin-when-cross-origin",
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
        "unsafe-url",
    ]
)
FRAME_OPTIONS = frozenset({"DENY", "SAMEORIGIN"})
OPENER_POLICIES = frozenset(
    {"same-origin", "same-origin-allow-popups", "noopener-allow-popups", "unsafe-none"}
)
#: The HSTS preload list accepts only max-age of at least a year with includeSubDomains.
HSTS_PRELOAD_MIN_SECONDS = 31536000
#: A DNS name is at most 253 characters (254 with the root dot), plus ``:65535``.
MAX_HOST_LENGTH = 260
#: Hosts accepted by ``ALLOWED_HOSTS``, remembered so repeat requests skip parsing (bounded:
#: with ``.example.com`` patterns the set of valid names is unbounded).
ACCEPTED_CACHE_SIZE = 1024
#: What ``ALLOWED_HOSTS = []`` means with ``DEBUG`` on (Django's list, plus the test client).
DEBUG_HOSTS = (".localhost", "127.0.0.1", "[::1]", "testserver")

REASON_HOST_TOO_LONG = f"Invalid Host header: longer than {MAX_HOST_LENGTH} characters."
REASON_HOST_MALFORMED = (
    "Invalid Host header {host!r}: not a host name or IP address with an optional port."
)
REASON_HOST_DISALLOWED = "Invalid Host header {host!r}: this server does not serve that host."
REASON_HOST_DISALLOWED_DEBUG = "Invalid Host header {host!r}: add {name!r} to ALLOWED_HOSTS."

_EXEMPT_ATTR = "__qiao_security_exempt__"
# SECURITY: Django's host grammar: a DNS-ish name or a bracketed IPv6 literal, then a port. No
# userinfo (``@``), path, spaces or control characters get through to URL building.
_HOST = re.compile(r"(?P<name>[a-z0-9.-]+|\[[a-f0-9:.]+\])(?::(?P<port>[0-9]{1,5}))?", re.ASCII)


def security_exempt(*headers: str) -> Callable[[F], F]:
    """Decorate a view so ``SecurityHeaders`` leaves out ``headers`` (all of them if none given).

    ``@security_exempt("x-frame-options")`` lets a page be framed; works on view functions and
    ``View`` classes. To send a different value instead, set the header in the view: a header
    the view set is never overwritten.

    Raises:
        ValueError: a name that ``SecurityHeaders`` does not manage.
    """
    names = frozenset(h.lower() for h in headers) or MANAGED_HEADERS
    unknown = names - MANAGED_HEADERS
    if unknown:
        raise ValueError(
            f"security_exempt got {', '.join(sorted(unknown))}; it takes header names from "
            f"{', '.join(sorted(MANAGED_HEADERS))}."
        )

    def decorator(view: F) -> F:
        setattr(view, _EXEMPT_ATTR, names)
        return view

    return decorator


def _view_exemptions(request: Request) -> frozenset[str] | None:
    route = request.route
    if route is None:
        return None
    view = route.view
    found: frozenset[str] | None = getattr(view, _EXEMPT_ATTR, None)
    if found is None and hasattr(view, "view_class"):
        found = getattr(view.view_class, _EXEMPT_ATTR, None)
    return found


def _string_list(value: Any, setting: str, check: str) -> list[str]:
    """A list-of-strings setting; a string is split on commas (handy from the environment)."""
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, (list, tuple, set, frozenset)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ImproperlyConfigured(f"{check}: {setting} must be a list of strings, got {value!r}.")


class SecurityHeaders(Extension):
    """Add browser-hardening headers to every response; optionally redirect HTTP to HTTPS.

    A header the view (or an error handler) already set is kept as it is; ``security_exempt``
    leaves headers out for one view. ``Strict-Transport-Security`` is sent only on HTTPS
    requests (``request.is_secure``, which believes ``X-Forwarded-Proto`` from
    ``TRUSTED_PROXIES`` only). Settings: see ``docs/security.md``.

    PERF: headers are rendered in ``configure``; per response this is a few lookups and appends.
    """

    name = "security_headers"
    prefix = "SECURITY_"
    settings: ClassVar[dict[str, Any]] = {
        "SECURITY_CONTENT_TYPE_NOSNIFF": True,
        "SECURITY_REFERRER_POLICY": "strict-origin-when-cross-origin",
        "SECURITY_FRAME_OPTIONS": "DENY",
        "SECURITY_CROSS_ORIGIN_OPENER_POLICY": "same-origin",
        "SECURITY_HSTS_SECONDS": 31536000,
        "SECURITY_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURITY_HSTS_PRELOAD": False,
        "SECURITY_SSL_REDIRECT": False,
        "SECURITY_SSL_HOST": None,
        "SECURITY_SSL_REDIRECT_EXEMPT": [],
        "SECURITY_CSP": None,
    }

    _static: tuple[tuple[str, str], ...] = ()
    _hsts: str | None = None
    _nonce_policies: tuple[ContentSecurityPolicy, ...] = ()
    _redirect = False
    _ssl_host: str | None = None
    _exempt_paths: tuple[str, ...] = ()

    def configure(self, app: App) -> None:
        """Check the settings and render the headers once.

        Raises:
            ImproperlyConfigured: ``qiao.E103``, naming the setting and its allowed values.
        """
        static: list[tuple[str, str]] = []
        if self.setting("SECURITY_CONTENT_TYPE_NOSNIFF"):
            static.append(("x-content-type-options", "nosniff"))
        referrer = self.setting("SECURITY_REFERRER_POLICY")
        if referrer:
            tokens = _string_list(referrer, "SECURITY_REFERRER_POLICY", "qiao.E103")
            _check_choice("SECURITY_REFERRER_POLICY", tokens, REFERRER_POLICIES)
            static.append(("referrer-policy", ", ".join(tokens)))
        frame = self.setting("SECURITY_FRAME_OPTIONS")
        if frame:
            _check_choice("SECURITY_FRAME_OPTIONS", [str(frame).upper()], FRAME_OPTIONS)
            static.append(("x-frame-options", str(frame).upper()))
        opener = self.setting("SECURITY_CROSS_ORIGIN_OPENER_POLICY")
        if opener:
            _check_choice("SECURITY_CROSS_ORIGIN_OPENER_POLICY", [opener], OPENER_POLICIES)
            static.append(("cross-origin-opener-policy", opener))
        policies = policies_from_setting(self.setting("SECURITY_CSP"))
        static += [(p.header_name, p.value) for p in policies if not p.uses_nonce]
        self._nonce_policies = tuple(p for p in policies if p.uses_nonce)
        self._static = tuple(static)
        self._hsts = self._hsts_value()
        self._redirect = bool(self.setting("SECURITY_SSL_REDIRECT"))
        self._ssl_host = self.setting("SECURITY_SSL_HOST") or None
        installed = list(app.extensions)
        if (
            self._redirect
            and self._ssl_host is None
            and (
                "allowed_hosts" not in installed
                or installed.index("allowed_hosts") > installed.index(self.name)
            )
        ):
            # SECURITY: the redirect is built from the Host header; unchecked, any host would
            # do, and the app would redirect to https://evil.test/ (an open redirect).
            raise ImproperlyConfigured(
                "qiao.E104: SECURITY_SSL_REDIRECT builds its redirect from the Host header, so "
                "install AllowedHosts(app) before SecurityHeaders(app), or set "
                "SECURITY_SSL_HOST."
            )
        self._exempt_paths = tuple(
            _string_list(
                self.setting("SECURITY_SSL_REDIRECT_EXEMPT"),
                "SECURITY_SSL_REDIRECT_EXEMPT",
                "qiao.E103",
            )
        )

    def _hsts_value(self) -> str | None:
        seconds = self.setting("SECURITY_HSTS_SECONDS")
        if seconds is None:
            return None
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
            raise ImproperlyConfigured(
                f"qiao.E103: SECURITY_HSTS_SECONDS must be a whole number of seconds or None "
                f"(no header), got {seconds!r}."
            )
        value = f"max-age={seconds}"
        subdomains = bool(self.setting("SECURITY_HSTS_INCLUDE_SUBDOMAINS"))
        if subdomains:
            value += "; includeSubDomains"
        if self.setting("SECURITY_HSTS_PRELOAD"):
            if not subdomains or seconds < HSTS_PRELOAD_MIN_SECONDS:
                raise ImproperlyConfigured(
                    "qiao.E103: SECURITY_HSTS_PRELOAD needs SECURITY_HSTS_INCLUDE_SUBDOMAINS and "
                    f"SECURITY_HSTS_SECONDS >= {HSTS_PRELOAD_MIN_SECONDS} (a year), or browsers' "
                    "preload list will refuse the site."
                )
            value += "; preload"
        return value

    def before_request(self, request: Request) -> Response | None:
        """Set ``request.csp_nonce`` (nonce policies); redirect HTTP to HTTPS (SSL redirect)."""
        if self._nonce_policies:
            request.csp_nonce = secrets.token_urlsafe(16)  # type: ignore[attr-defined]
        if (
            self._redirect
            and not request.is_secure
            and not (self._exempt_paths and request.path.startswith(self._exempt_paths))
        ):
            return self._https_redirect(request)
        return None

    def _https_redirect(self, request: Request) -> Response:
        host = request.host
        # SECURITY: the target is built from Host; refuse a host that could smuggle in a
        # different authority or path (install AllowedHosts to refuse hosts you don't serve).
        if self._ssl_host is None and _split_host(host) is None:
            raise BadRequest(REASON_HOST_MALFORMED.format(host=host[:100]))
        tail = request.url[len(request.scheme) + 3 + len(host) :]
        status = 301 if request.method in ("GET", "HEAD") else 308
        return RedirectResponse(f"https://{self._ssl_host or host}{tail}", status)

    def after_request(self, request: Request, response: Response) -> None:
        """Add the headers the response does not have yet (minus the view's exemptions)."""
        headers = response.headers
        # PERF: one pass over the response's fields instead of one scan per header we add.
        present = set(headers)
        skip = _view_exemptions(request)
        if skip is not None:
            present |= skip
        for name, value in self._static:
            if name not in present:
                headers.add(name, value)
        name = "strict-transport-security"
        if self._hsts is not None and name not in present and request.is_secure:
            headers.add(name, self._hsts)
        if self._nonce_policies:
            nonce = getattr(request, "csp_nonce", None) or secrets.token_urlsafe(16)
            for policy in self._nonce_policies:
                if policy.header_name not in present:
                    headers.add(policy.header_name, policy.render(nonce))


def _check_choice(setting: str, values: Iterable[str], allowed: frozenset[str]) -> None:
    bad = [v for v in values if v not in allowed]
    if bad:
        raise ImproperlyConfigured(
            f"qiao.E103: {setting} got {', '.join(map(repr, bad))}; use one of "
            f"{', '.join(sorted(allowed))} (or None to send no header)."
        )


def _split_host(host: str) -> tuple[str, str | None] | None:
    """``(name, port)`` of a Host value, lower-cased and canonical; None if it is malformed.

    ``Example.COM.:80`` -> ``("example.com", "80")``; ``[0::1]`` -> ``("[::1]", None)``.
    """
    match = _HOST.fullmatch(host.lower())
    if match is None:
        return None
    name, port = match.group("name"), match.group("port")
    if name[0] == "[":
        try:
            name = f"[{ipaddress.IPv6Address(name[1:-1]).compressed}]"
        except ValueError:
            return None
    elif name[-1] == ".":
        name = name[:-1]
    if not name or name[0] == "." or ".." in name:
        return None
    return name, port


class AllowedHosts(Extension):
    """Answer 400 to requests whose ``Host`` is not in ``ALLOWED_HOSTS``.

    Defends against Host header poisoning: password-reset links, redirects and cache keys built
    from a forged ``Host``. Entries are exact names (``example.com``), ``.example.com`` (the
    domain and all its subdomains), IP addresses (``203.0.113.7``, ``[2001:db8::1]``) or ``*``.
    Ports are ignored and matching is case-insensitive. The host checked is ``request.host``,
    so behind a trusted proxy it is ``X-Forwarded-Host``. Malformed hosts are always refused.

    An empty list means ``.localhost``, ``127.0.0.1``, ``[::1]`` and ``testserver`` when
    ``DEBUG`` is on, and is a start-up error (``qiao.E101``) otherwise. Install it first.

    PERF: accepted hosts are remembered (up to ``ACCEPTED_CACHE_SIZE``), so the usual request
    costs one set lookup.
    """

    name = "allowed_hosts"
    prefix = "ALLOWED_"
    settings: ClassVar[dict[str, Any]] = {"ALLOWED_HOSTS": []}

    _allow_all = False
    _debug = False
    _exact: frozenset[str] = frozenset()
    _suffixes: tuple[str, ...] = ()
    _accepted: set[str]

    def configure(self, app: App) -> None:
        """Parse ``ALLOWED_HOSTS``.

        Raises:
            ImproperlyConfigured: ``qiao.E101`` (empty and ``DEBUG`` off), ``qiao.E102`` (an
                entry that is not a host pattern).
        """
        self._debug = bool(app.config["DEBUG"])
        hosts = _string_list(self.setting("ALLOWED_HOSTS"), "ALLOWED_HOSTS", "qiao.E102")
        if not hosts:
            if not self._debug:
                raise ImproperlyConfigured(
                    "qiao.E101: ALLOWED_HOSTS is empty and DEBUG is off, so every request would "
                    "be refused. List the host names this app serves: ALLOWED_HOSTS = "
                    "['example.com', '.example.com'] (QIAO_ALLOWED_HOSTS='[\"example.com\"]' "
                    "from the environment)."
                )
            hosts = list(DEBUG_HOSTS)
        exact: set[str] = set()
        suffixes: list[str] = []
        for entry in hosts:
            pattern = entry.strip().lower()
            if pattern == "*":
                self._allow_all = True
                continue
            name = _host_pattern(pattern, entry)
            if pattern.startswith("."):
                suffixes.append("." + name)
            exact.add(name)
        self._exact = frozenset(exact)
        self._suffixes = tuple(suffixes)
        self._accepted = set()

    def before_request(self, request: Request) -> None:
        """Raise ``BadRequest`` (400) unless ``request.host`` is allowed."""
        host = request.host
        if host in self._accepted:
            return
        if len(host) > MAX_HOST_LENGTH:
            raise BadRequest(REASON_HOST_TOO_LONG)
        split = _split_host(host)
        if split is None:
            raise BadRequest(REASON_HOST_MALFORMED.format(host=host))
        if not self._matches(split[0]):
            reason = REASON_HOST_DISALLOWED_DEBUG if self._debug else REASON_HOST_DISALLOWED
            raise BadRequest(reason.format(host=host, name=split[0]))
        if len(self._accepted) < ACCEPTED_CACHE_SIZE:
            self._accepted.add(host)

    def _matches(self, name: str) -> bool:
        return self._allow_all or name in self._exact or name.endswith(self._suffixes)

    def is_allowed(self, host: str) -> bool:
        """Whether ``host`` (a ``Host`` value, port allowed) is well-formed and allowed: use it
        to check a host before redirecting to it."""
        split = _split_host(host) if len(host) <= MAX_HOST_LENGTH else None
        return split is not None and self._matches(split[0])


def _host_pattern(pattern: str, entry: str) -> str:
    """An ``ALLOWED_HOSTS`` entry as the canonical name it matches (without a leading dot)."""
    body = pattern[1:] if pattern.startswith(".") else pattern
    if body.count(":") >= 2 and not body.startswith("["):
        body = f"[{body}]"  # a bare IPv6 address
    split = _split_host(body)
    if split is None or split[1] is not None or (pattern.startswith(".") and body[0] == "["):
        hint = "; for subdomains write '.example.com'" if pattern.startswith("*.") else ""
        raise ImproperlyConfigured(
            f"qiao.E102: ALLOWED_HOSTS entry {entry!r} is not a host name, '.domain', IP address "
            f"or '*'; ports are not part of it{hint}."
        )
    return split[0]
