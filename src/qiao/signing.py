"""Signed, timestamped values: tamper-proof data handed to clients (session cookies, reset links).

Built on itsdangerous (HMAC-SHA256), with qiao's key rotation: values are signed with
``SECRET_KEY`` and still verify with any key in ``SECRET_KEY_FALLBACKS``, so a key can be
replaced without logging everyone out::

    signer = Signer.from_app(app, salt="password-reset")
    token = signer.dumps({"user": 42})
    signer.loads(token, max_age=3600)   # {"user": 42}, or BadSignature / SignatureExpired

Payloads are JSON (msgspec). A ``salt`` separates uses: a value signed for one purpose never
verifies for another.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from qiao.http.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from qiao.app import App

__all__ = ["BadSignature", "SignatureExpired", "Signer"]


class _Json:
    """The serializer interface itsdangerous expects, backed by msgspec."""

    _decoder = msgspec.json.Decoder()

    @staticmethod
    def dumps(obj: Any) -> str:
        return msgspec.json.encode(obj).decode()

    @classmethod
    def loads(cls, data: str | bytes) -> Any:
        return cls._decoder.decode(data)


class Signer:
    """Sign and verify JSON-able values.

    Args:
        secret_key: the key new values are signed with.
        fallbacks: older keys that still verify (newest first).
        salt: separates purposes (``"qiao.sessions"``, ``"password-reset"``).

    Raises:
        ImproperlyConfigured: no secret key.
    """

    def __init__(
        self, secret_key: str | bytes, *, fallbacks: Sequence[str | bytes] = (), salt: str
    ) -> None:
        if not secret_key:
            raise ImproperlyConfigured(
                "Signing needs SECRET_KEY; set it (see qiao.E001 in docs/configuration.md)."
            )
        if isinstance(fallbacks, (str, bytes)):
            # SECURITY: a string is a sequence of one-letter keys; refuse it rather than trust "o".
            raise ImproperlyConfigured(
                "SECRET_KEY_FALLBACKS must be a list of keys, got a string; write "
                "['old-key'] (from the environment: QIAO_SECRET_KEY_FALLBACKS='[\"old-key\"]')."
            )
        # itsdangerous signs with the last key and verifies with all of them.
        keys = [_bytes(k) for k in (*reversed(list(fallbacks)), secret_key)]
        self._serializer = URLSafeTimedSerializer(
            keys,
            salt=salt,
            serializer=_Json,
            signer_kwargs={"digest_method": hashlib.sha256},
        )

    @classmethod
    def from_app(cls, app: App, *, salt: str) -> Signer:
        """A signer with the app's ``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS``."""
        return cls(
            app.config["SECRET_KEY"] or "",
            fallbacks=app.config.get("SECRET_KEY_FALLBACKS") or (),
            salt=salt,
        )

    def dumps(self, value: Any) -> str:
        """Serialize, compress when it helps, timestamp and sign ``value``: a URL-safe string."""
        token: str = self._serializer.dumps(value)
        return token

    def loads(self, token: str | bytes, max_age: int | None = None) -> Any:
        """Verify and decode ``token``.

        Raises:
            SignatureExpired: the signature is valid but older than ``max_age`` seconds.
            BadSignature: anything else wrong (tampered, truncated, wrong key or salt, not
                JSON); ``SignatureExpired`` is a subclass, so catching this catches both.
        """
        try:
            return self._serializer.loads(token, max_age=max_age)
        except BadSignature:
            raise
        except Exception as exc:  # a malformed payload that passed the signature check
            raise BadSignature(f"undecodable payload: {exc}") from exc


def _bytes(key: str | bytes) -> bytes:
    return key.encode() if isinstance(key, str) else key
