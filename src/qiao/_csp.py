"""Content Security Policy: ``ContentSecurityPolicy`` and the ``SECURITY_CSP`` setting.

Holds the policy class (directives checked and rendered once, a per-request nonce slotted in
when rendering), its source and directive checks, and ``policies_from_setting``, which turns
``SECURITY_CSP`` into policies. ``qiao.security`` re-exports ``ContentSecurityPolicy`` and its
``SecurityHeaders`` battery sends the headers; see ``docs/security.md``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from qiao.http.exceptions import ImproperlyConfigured

_DIRECTIVE = re.compile(r"[a-z][a-z0-9-]*", re.ASCII)
_CSP_KEYWORDS = frozenset(
    [
        "self",
        "none",
        "unsafe-inline",
        "unsafe-eval",
        "unsafe-hashes",
        "strict-dynamic",
        "report-sample",
        "wasm-unsafe-eval",
        "inline-speculation-rules",
    ]
)
_CSP_HASH_OR_NONCE = ("nonce-", "sha256-", "sha384-", "sha512-")
# NOTE: a placeholder no real policy contains; replaced by the request's nonce when rendering.
_NONCE_SLOT = "\x00nonce\x00"


class ContentSecurityPolicy:
    """A Content Security Policy, built once and rendered per response.

    Directives come from a mapping and/or keywords (``script_src`` stands for ``script-src``).
    A value is a string of space-separated sources, a list of sources, or ``True`` for a
    directive without value (``upgrade_insecure_requests=True``); ``None``/``False`` leaves it
    out. Keywords may be written without their quotes: ``self`` becomes ``'self'``.

    Args:
        directives: ``{"default-src": "'self'", "img-src": ["'self'", "data:"]}``.
        report_only: send ``Content-Security-Policy-Report-Only`` (the browser reports but
            does not block), to try a policy out.
        nonce: add a per-request ``'nonce-…'`` source to ``script-src`` and ``style-src`` (or
            to the directives named). ``SecurityHeaders`` then sets ``request.csp_nonce`` for
            templates: ``<script nonce="{{ request.csp_nonce }}">``. A directive that is not
            set starts from ``default-src``'s sources.

    Raises:
        ValueError: a directive name or source that would break the header (``;``, ``,``,
            whitespace inside a source, control characters).
    """

    def __init__(
        self,
        directives: Mapping[str, str | Iterable[str] | bool | None] | None = None,
        /,
        *,
        report_only: bool = False,
        nonce: bool | Iterable[str] = False,
        **more: str | Iterable[str] | bool | None,
    ) -> None:
        merged = {**(directives or {}), **{k.replace("_", "-"): v for k, v in more.items()}}
        policy: dict[str, list[str]] = {}
        for name, value in merged.items():
            key = name.strip().lower()
            if not _DIRECTIVE.fullmatch(key):
                raise ValueError(f"Invalid CSP directive name {name!r}.")
            if value is None or value is False:
                continue
            policy[key] = [] if value is True else _sources(key, value)
        self.report_only = report_only
        if isinstance(nonce, bool):
            self.nonce_directives: tuple[str, ...] = ("script-src", "style-src") if nonce else ()
        else:
            self.nonce_directives = tuple(d.lower() for d in nonce)
        self.directives = policy
        self.value = _render(policy)
        with_nonce = {k: list(v) for k, v in policy.items()}
        for key in self.nonce_directives:
            sources = with_nonce.get(key, policy.get("default-src", []))
            with_nonce[key] = [s for s in sources if s != "'none'"] + [f"'nonce-{_NONCE_SLOT}'"]
        self._template = _render(with_nonce)

    @property
    def header_name(self) -> str:
        """``content-security-policy``, or its ``-report-only`` twin."""
        if self.report_only:
            return "content-security-policy-report-only"
        return "content-security-policy"

    @property
    def uses_nonce(self) -> bool:
        """Whether the policy carries a per-request nonce."""
        return bool(self.nonce_directives)

    def render(self, nonce: str | None = None) -> str:
        """The header value; with ``nonce`` for a nonce policy (else the policy without it)."""
        if nonce is None or not self.nonce_directives:
            return self.value
        return self._template.replace(_NONCE_SLOT, nonce)

    def __repr__(self) -> str:
        return f"<ContentSecurityPolicy {self.header_name}: {self.value!r}>"


def _sources(directive: str, value: str | Iterable[str]) -> list[str]:
    tokens = value.split() if isinstance(value, str) else [str(v) for v in value]
    out = []
    for token in tokens:
        lowered = token.lower()
        if lowered in _CSP_KEYWORDS:
            token = f"'{lowered}'"
        elif lowered.startswith(_CSP_HASH_OR_NONCE):
            token = f"'{token}'"
        # SECURITY: a ``;`` or ``,`` would start another directive or policy.
        inner = token[1:-1] if len(token) > 2 and token[0] == token[-1] == "'" else token
        if not token or any(c in inner for c in ";,'\" \t\r\n\x00"):
            raise ValueError(f"Invalid source {token!r} in CSP directive {directive!r}.")
        out.append(token)
    return out


def _render(policy: Mapping[str, list[str]]) -> str:
    return "; ".join(" ".join([name, *sources]) for name, sources in policy.items())


def policies_from_setting(value: Any) -> list[ContentSecurityPolicy]:
    """``SECURITY_CSP``: None, a policy, a mapping, or a list of them (enforced + report-only)."""
    if value is None:
        return []
    if isinstance(value, ContentSecurityPolicy):
        return [value]
    if isinstance(value, Mapping):
        return [ContentSecurityPolicy(value)]
    if isinstance(value, (list, tuple)):
        return [p for item in value for p in policies_from_setting(item)]
    raise ImproperlyConfigured(
        f"qiao.E103: SECURITY_CSP must be a ContentSecurityPolicy, a mapping of directives or a "
        f"list of them, got {value!r}."
    )
