"""HTTP exceptions: raise one anywhere in a request and qiao answers with its status.

Every class carries a status code, a human-readable ``detail`` and optional response ``headers``.
``abort(status)`` raises the matching class. Error handlers registered by status code or class turn
them into responses; without one, qiao renders a problem-details JSON body or a small HTML page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import NoReturn

__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "Gone",
    "HTTPException",
    "ImproperlyConfigured",
    "InternalServerError",
    "MethodNotAllowed",
    "NotAcceptable",
    "NotFound",
    "PayloadTooLarge",
    "RangeNotSatisfiable",
    "RequestHeaderFieldsTooLarge",
    "ServiceUnavailable",
    "TooManyRequests",
    "URITooLong",
    "Unauthorized",
    "UnprocessableEntity",
    "UnsupportedMediaType",
    "abort",
]


def status_phrase(status: int) -> str:
    """Return the reason phrase of ``status`` (``"Not Found"`` for 404), or ``"Unknown"``."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class HTTPException(Exception):
    """An exception that becomes an HTTP error response.

    Args:
        status_code: the response status; defaults to the class's ``status_code``.
        detail: a message for the client; defaults to the status phrase.
        headers: extra response headers (``WWW-Authenticate``, ``Retry-After``...).
    """

    status_code: int = 500

    def __init__(
        self,
        status_code: int | None = None,
        detail: str | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> None:
        if status_code is not None:
            self.status_code = status_code
        self.detail = detail if detail is not None else status_phrase(self.status_code)
        self.headers: list[tuple[str, str]] = (
            list(headers.items()) if isinstance(headers, Mapping) else list(headers or ())
        )
        super().__init__(self.detail)

    @property
    def title(self) -> str:
        """The reason phrase of the status code."""
        return status_phrase(self.status_code)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status_code}, {self.detail!r})"


class _StatusError(HTTPException):
    """An ``HTTPException`` with a fixed status: ``NotFound("no such user")``."""

    def __init__(
        self,
        detail: str | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(None, detail, headers)


class BadRequest(_StatusError):
    """400: the request is malformed (bad JSON, bad multipart, bad header...)."""

    status_code = 400


class Unauthorized(_StatusError):
    """401: authentication is required."""

    status_code = 401


class Forbidden(_StatusError):
    """403: the client may not do this."""

    status_code = 403


class NotFound(_StatusError):
    """404: nothing lives at this URL."""

    status_code = 404


class MethodNotAllowed(HTTPException):
    """405: the URL exists but not for this method; ``allowed`` fills the ``Allow`` header."""

    status_code = 405

    def __init__(self, allowed: Iterable[str], detail: str | None = None) -> None:
        self.allowed = sorted(set(allowed))
        super().__init__(detail=detail, headers=[("allow", ", ".join(self.allowed))])


class NotAcceptable(_StatusError):
    """406: no representation matches the ``Accept`` header."""

    status_code = 406


class Conflict(_StatusError):
    """409: the request conflicts with the current state."""

    status_code = 409


class Gone(_StatusError):
    """410: the resource is gone for good."""

    status_code = 410


class PayloadTooLarge(_StatusError):
    """413: the body (or a file, or a form part) is larger than the configured limit."""

    status_code = 413


class URITooLong(_StatusError):
    """414: the request target is longer than the configured limit."""

    status_code = 414


class UnsupportedMediaType(_StatusError):
    """415: the body's ``Content-Type`` is not one this endpoint reads."""

    status_code = 415


class RangeNotSatisfiable(_StatusError):
    """416: the ``Range`` header asks for bytes the resource does not have."""

    status_code = 416


class UnprocessableEntity(_StatusError):
    """422: the body is well-formed but its content is invalid."""

    status_code = 422


class TooManyRequests(_StatusError):
    """429: the client is being rate limited."""

    status_code = 429


class RequestHeaderFieldsTooLarge(_StatusError):
    """431: too many header fields, or header fields too large."""

    status_code = 431


class InternalServerError(_StatusError):
    """500: the server failed; the detail never carries a traceback."""

    status_code = 500


class ServiceUnavailable(_StatusError):
    """503: the server cannot answer right now."""

    status_code = 503


_BY_STATUS: dict[int, type[HTTPException]] = {
    cls.status_code: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        NotAcceptable,
        Conflict,
        Gone,
        PayloadTooLarge,
        URITooLong,
        UnsupportedMediaType,
        RangeNotSatisfiable,
        UnprocessableEntity,
        TooManyRequests,
        RequestHeaderFieldsTooLarge,
        InternalServerError,
        ServiceUnavailable,
    )
}


def abort(
    status: int,
    detail: str | None = None,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
) -> NoReturn:
    """Stop the request now and answer with ``status``.

    Raises:
        HTTPException: the subclass registered for ``status`` (``NotFound`` for 404...), or
            ``HTTPException`` itself for other codes.
    """
    cls = _BY_STATUS.get(status)
    if cls is None:
        raise HTTPException(status, detail, headers)
    raise cls(detail=detail, headers=headers)


class ImproperlyConfigured(Exception):
    """The app's configuration or routes are wrong; raised at start-up with a check id and a fix."""
