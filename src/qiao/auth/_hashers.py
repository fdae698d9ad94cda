"""Password hashing: argon2id by default, PBKDF2-SHA256 and scrypt for compatibility.

An encoded password names its algorithm and parameters, so a change of policy applies to each
user at their next login (``PasswordHashers.verify`` says when a hash must be upgraded). The
formats are Django's, so hashes copied from a Django database verify unchanged:

- ``argon2$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`` (the PHC string behind ``argon2``);
- ``pbkdf2_sha256$<iterations>$<salt>$<base64 hash>``;
- ``scrypt$<N>$<salt>$<r>$<p>$<base64 hash>``.

An *unusable* password (``make_password(None)``) starts with ``!``: no password matches it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

from qiao.http.exceptions import ImproperlyConfigured

__all__ = [
    "UNUSABLE_PASSWORD_PREFIX",
    "Argon2Hasher",
    "Hasher",
    "PBKDF2SHA256Hasher",
    "PasswordHashers",
    "ScryptHasher",
    "check_password",
    "is_password_usable",
    "make_password",
]

#: An encoded password starting with this never verifies (Django's marker).
UNUSABLE_PASSWORD_PREFIX = "!"  # noqa: S105 - a marker, not a password
_UNUSABLE_SUFFIX_LENGTH = 40
_SALT_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _salt(length: int = 22) -> str:
    """A random salt of letters and digits (about 131 bits for 22 characters)."""
    return "".join(secrets.choice(_SALT_CHARS) for _ in range(length))


@runtime_checkable
class Hasher(Protocol):
    """A password hashing algorithm.

    Attributes:
        algorithm: the name an encoded password starts with (``"argon2"``).
    """

    algorithm: str

    def encode(self, password: str) -> str:
        """Hash ``password`` with a fresh salt; return ``"<algorithm>$..."``."""
        ...

    def verify(self, password: str, encoded: str) -> bool:
        """Whether ``password`` matches ``encoded`` (a constant-time comparison)."""
        ...

    def must_update(self, encoded: str) -> bool:
        """Whether ``encoded`` was made with other parameters than this hasher's."""
        ...


class Argon2Hasher:
    """argon2id (RFC 9106) through argon2-cffi: memory-hard, the default.

    The defaults are OWASP's (2024) first recommendation, m=19 MiB, t=2, p=1: about 20 ms
    per hash on one core of a 2024 server, and 19 MiB of memory per login in progress.

    Args:
        time_cost: passes over the memory.
        memory_cost: memory in KiB.
        parallelism: lanes (threads) used.

    Raises:
        ImproperlyConfigured: argon2-cffi is not installed (``pip install 'qiao[auth]'``).
    """

    algorithm = "argon2"

    def __init__(self, time_cost: int = 2, memory_cost: int = 19456, parallelism: int = 1) -> None:
        try:
            import argon2
        except ImportError:  # pragma: no cover - depends on the install
            raise ImproperlyConfigured(
                "Argon2 password hashing needs argon2-cffi: pip install 'qiao[auth]'."
            ) from None
        self.time_cost = time_cost
        self.memory_cost = memory_cost
        self.parallelism = parallelism
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )
        self._errors: tuple[type[Exception], ...] = (
            argon2.exceptions.VerificationError,
            argon2.exceptions.InvalidHashError,
            ValueError,
        )

    def encode(self, password: str) -> str:
        """``argon2$argon2id$v=19$m=...,t=...,p=...$salt$hash``."""
        return self.algorithm + self._hasher.hash(password)

    def verify(self, password: str, encoded: str) -> bool:
        """Check ``password``; argon2-cffi compares in constant time."""
        algorithm, _, rest = encoded.partition("$")
        if algorithm != self.algorithm:
            return False
        try:
            return bool(self._hasher.verify("$" + rest, password))
        except self._errors:
            return False

    def must_update(self, encoded: str) -> bool:
        """True when the type, version, time, memory or parallelism differ."""
        rest = encoded.partition("$")[2]
        try:
            return bool(self._hasher.check_needs_rehash("$" + rest))
        except self._errors:
            return True

    def __repr__(self) -> str:
        return (
            f"Argon2Hasher(time_cost={self.time_cost}, memory_cost={self.memory_cost}, "
            f"parallelism={self.parallelism})"
        )


class PBKDF2SHA256Hasher:
    """PBKDF2-HMAC-SHA256 in Django's format, for passwords carried over from Django.

    Args:
        iterations: for new hashes (Django 5.2's 1,000,000 by default; OWASP asks 600,000+).
    """

    algorithm = "pbkdf2_sha256"

    def __init__(self, iterations: int = 1_000_000) -> None:
        self.iterations = iterations

    def _derive(self, password: str, salt: str, iterations: int) -> str:
        digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
        return base64.b64encode(digest).decode("ascii").strip()

    def encode(self, password: str, salt: str | None = None) -> str:
        """``pbkdf2_sha256$iterations$salt$hash`` (``salt`` only for test vectors)."""
        salt = salt or _salt()
        derived = self._derive(password, salt, self.iterations)
        return f"{self.algorithm}${self.iterations}${salt}${derived}"

    def _decode(self, encoded: str) -> tuple[int, str, str] | None:
        parts = encoded.split("$")
        if len(parts) != 4 or parts[0] != self.algorithm or not parts[1].isdigit():
            return None
        return int(parts[1]), parts[2], parts[3]

    def verify(self, password: str, encoded: str) -> bool:
        """Recompute with the stored salt and iterations; compare in constant time."""
        decoded = self._decode(encoded)
        if decoded is None or decoded[0] < 1:
            return False
        iterations, salt, expected = decoded
        return hmac.compare_digest(self._derive(password, salt, iterations), expected)

    def must_update(self, encoded: str) -> bool:
        """True when the iterations differ (or the salt is short, as Django's check)."""
        decoded = self._decode(encoded)
        return decoded is None or decoded[0] != self.iterations or len(decoded[1]) < 16

    def __repr__(self) -> str:
        return f"PBKDF2SHA256Hasher(iterations={self.iterations})"


class ScryptHasher:
    """scrypt (``hashlib.scrypt``) in Django's format; N=2**14, r=8, p=1 as Django.

    Args:
        work_factor: N, a power of two; memory is ``128 * N * r`` bytes.
        block_size: r.
        parallelism: p.
    """

    algorithm = "scrypt"

    def __init__(self, work_factor: int = 2**14, block_size: int = 8, parallelism: int = 1) -> None:
        self.work_factor = work_factor
        self.block_size = block_size
        self.parallelism = parallelism

    @staticmethod
    def _derive(password: str, salt: str, n: int, r: int, p: int) -> str:
        digest = hashlib.scrypt(
            password.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=256 * n * r, dklen=64
        )
        return base64.b64encode(digest).decode("ascii").strip()

    def encode(self, password: str, salt: str | None = None) -> str:
        """``scrypt$N$salt$r$p$hash`` (``salt`` only for test vectors)."""
        salt = salt or _salt()
        n, r, p = self.work_factor, self.block_size, self.parallelism
        return f"{self.algorithm}${n}${salt}${r}${p}${self._derive(password, salt, n, r, p)}"

    def _decode(self, encoded: str) -> tuple[int, str, int, int, str] | None:
        parts = encoded.split("$")
        if len(parts) != 6 or parts[0] != self.algorithm:
            return None
        if not (parts[1].isdigit() and parts[3].isdigit() and parts[4].isdigit()):
            return None
        return int(parts[1]), parts[2], int(parts[3]), int(parts[4]), parts[5]

    def verify(self, password: str, encoded: str) -> bool:
        """Recompute with the stored parameters; compare in constant time."""
        decoded = self._decode(encoded)
        if decoded is None:
            return False
        n, salt, r, p, expected = decoded
        try:
            derived = self._derive(password, salt, n, r, p)
        except ValueError:  # parameters hashlib refuses (N not a power of two...)
            return False
        return hmac.compare_digest(derived, expected)

    def must_update(self, encoded: str) -> bool:
        """True when N, r or p differ."""
        decoded = self._decode(encoded)
        if decoded is None:
            return True
        n, _, r, p, _ = decoded
        return (n, r, p) != (self.work_factor, self.block_size, self.parallelism)

    def __repr__(self) -> str:
        return (
            f"ScryptHasher(work_factor={self.work_factor}, block_size={self.block_size}, "
            f"parallelism={self.parallelism})"
        )


#: The names ``AUTH_PASSWORD_HASHERS`` accepts, each with its default parameters.
HASHER_NAMES: dict[str, Callable[[], Hasher]] = {
    "argon2": Argon2Hasher,
    "pbkdf2_sha256": PBKDF2SHA256Hasher,
    "scrypt": ScryptHasher,
}


class PasswordHashers:
    """The hashing policy: the first hasher makes new hashes, all of them verify.

    Args:
        hashers: ``Hasher`` objects or names from ``HASHER_NAMES`` (``"argon2"``,
            ``"pbkdf2_sha256"``, ``"scrypt"``), preferred first.

    Raises:
        ImproperlyConfigured: an unknown name, an object that is not a hasher, two hashers
            for one algorithm, or an empty list (``qiao.E506``).
    """

    def __init__(self, hashers: Iterable[Hasher | str]) -> None:
        built: list[Hasher] = []
        for entry in hashers:
            if isinstance(entry, str):
                factory = HASHER_NAMES.get(entry)
                if factory is None:
                    raise ImproperlyConfigured(
                        f"qiao.E506: AUTH_PASSWORD_HASHERS names an unknown hasher {entry!r}; "
                        f"use {', '.join(map(repr, HASHER_NAMES))} or a Hasher object."
                    )
                built.append(factory())
            elif isinstance(entry, Hasher):
                built.append(entry)
            else:
                raise ImproperlyConfigured(
                    f"qiao.E506: AUTH_PASSWORD_HASHERS entry {entry!r} is not a hasher (an "
                    "object with algorithm, encode, verify and must_update) or a name."
                )
        if not built:
            raise ImproperlyConfigured(
                "qiao.E506: AUTH_PASSWORD_HASHERS is empty; list at least one, e.g. ['argon2']."
            )
        algorithms = [h.algorithm for h in built]
        if len(set(algorithms)) != len(algorithms):
            raise ImproperlyConfigured(
                f"qiao.E506: AUTH_PASSWORD_HASHERS lists an algorithm twice ({algorithms}); "
                "keep one hasher per algorithm."
            )
        self.hashers: Sequence[Hasher] = tuple(built)
        self.default = built[0]
        self._by_algorithm = {h.algorithm: h for h in built}
        self._dummy: str | None = None

    def make(self, password: str | None) -> str:
        """Hash ``password`` with the preferred hasher; ``None`` gives an unusable password."""
        if password is None:
            return UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(30)[:_UNUSABLE_SUFFIX_LENGTH]
        if not isinstance(password, str):
            raise TypeError(f"A password must be a string, got {type(password).__name__}.")
        return self.default.encode(password)

    def verify(self, password: str | None, encoded: str | None) -> tuple[bool, bool]:
        """Check ``password`` against ``encoded``: ``(matches, must_update)``.

        ``must_update`` is true for a match made with another algorithm than the preferred
        one, or with outdated parameters: hash the password again and save it.
        """
        if password is None or not encoded or not is_password_usable(encoded):
            return False, False
        hasher = self._by_algorithm.get(encoded.partition("$")[0])
        if hasher is None:
            return False, False
        if not hasher.verify(password, encoded):
            return False, False
        return True, hasher is not self.default or hasher.must_update(encoded)

    def verify_dummy(self, password: str) -> None:
        """Spend the time of a real check, for a username that does not exist.

        SECURITY: without it, a login for an unknown user answers faster than one for a known
        user with a wrong password, and the difference tells which accounts exist.
        """
        if self._dummy is None:
            self._dummy = self.default.encode(secrets.token_urlsafe(16))
        self.default.verify(password, self._dummy)

    def __repr__(self) -> str:
        return f"PasswordHashers({list(self.hashers)!r})"


_default_hashers: PasswordHashers | None = None


def default_hashers() -> PasswordHashers:
    """The default policy (argon2id with OWASP parameters, then PBKDF2 and scrypt), made
    once; apps configure theirs with ``AUTH_PASSWORD_HASHERS``."""
    global _default_hashers
    if _default_hashers is None:
        _default_hashers = PasswordHashers(HASHER_NAMES)
    return _default_hashers


def make_password(password: str | None, hashers: PasswordHashers | None = None) -> str:
    """Hash ``password`` for storage (``None``: an unusable password).

    Args:
        hashers: the policy; default: the default policy. In an app, pass
            ``app.extensions["auth"].hashers`` to follow ``AUTH_PASSWORD_HASHERS`` (hashes made
            otherwise are upgraded at the user's next login anyway).
    """
    return (hashers or default_hashers()).make(password)


def check_password(
    password: str | None,
    encoded: str | None,
    setter: Callable[[str], Any] | None = None,
    hashers: PasswordHashers | None = None,
) -> bool:
    """Whether ``password`` matches ``encoded`` (constant-time comparison).

    Args:
        setter: called with a new hash when the password matched but its hash is outdated
            (another algorithm or other parameters), to save it.
        hashers: the policy (see ``make_password``).
    """
    policy = hashers or default_hashers()
    ok, must_update = policy.verify(password, encoded)
    if ok and must_update and setter is not None and password is not None:
        setter(policy.make(password))
    return ok


def is_password_usable(encoded: str | None) -> bool:
    """False for ``None`` and for unusable passwords (``make_password(None)``)."""
    return encoded is not None and not encoded.startswith(UNUSABLE_PASSWORD_PREFIX)
