"""Password hashing: ms per hash and per check, qiao.auth against Django's hashers, in one process
(``benchmarks/database.py`` runs it pinned to the server CPU and reports it).

    python benchmarks/hashing.py            # best of 5, a table
    python benchmarks/hashing.py --json --repeat 1

Rows: each framework's default (``make_password`` / ``check_password``: qiao argon2id, Django
PBKDF2-SHA256), then the same three algorithms in both (argon2id, PBKDF2-SHA256, scrypt), each
with the framework's default parameters, shown as they appear in the encoded hash. Both are
correct only if a hash verifies and a wrong password does not (checked once per row).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

PASSWORD = "correct horse battery staple"
WRONG = "Tr0ub4dor&3"


def _qiao() -> dict[str, tuple[Callable[[str], str], Callable[[str, str], bool]]]:
    """qiao's hashers (``qiao.auth``; its ``_hashers`` module while the package has no
    ``__init__``). Raises ImportError when qiao.auth is not there."""
    try:
        from qiao.auth import (
            Argon2Hasher,
            PBKDF2SHA256Hasher,
            ScryptHasher,
            check_password,
            make_password,
        )
    except ImportError:
        from qiao.auth._hashers import (
            Argon2Hasher,
            PBKDF2SHA256Hasher,
            ScryptHasher,
            check_password,
            make_password,
        )
    rows: dict[str, tuple[Callable[[str], str], Callable[[str, str], bool]]] = {
        "default": (make_password, check_password)
    }
    for name, hasher in [
        ("argon2id", Argon2Hasher()),
        ("pbkdf2_sha256", PBKDF2SHA256Hasher()),
        ("scrypt", ScryptHasher()),
    ]:
        rows[name] = (hasher.encode, hasher.verify)
    return rows


def _django() -> dict[str, tuple[Callable[[str], str], Callable[[str, str], bool]]]:
    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY="benchmark-not-a-secret",
        INSTALLED_APPS=[],
        # Django 5.2's default list (make_password uses the first)
        PASSWORD_HASHERS=[
            "django.contrib.auth.hashers.PBKDF2PasswordHasher",
            "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
            "django.contrib.auth.hashers.Argon2PasswordHasher",
            "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
            "django.contrib.auth.hashers.ScryptPasswordHasher",
        ],
    )
    django.setup()
    from django.contrib.auth import hashers

    rows: dict[str, tuple[Callable[[str], str], Callable[[str, str], bool]]] = {
        "default": (hashers.make_password, hashers.check_password)
    }
    for name, hasher in [
        ("argon2id", hashers.Argon2PasswordHasher()),
        ("pbkdf2_sha256", hashers.PBKDF2PasswordHasher()),
        ("scrypt", hashers.ScryptPasswordHasher()),
    ]:
        rows[name] = (
            lambda password, h=hasher: h.encode(password, h.salt()),
            lambda password, encoded, h=hasher: h.verify(password, encoded),
        )
    return rows


def parameters(encoded: str) -> str:
    """The algorithm and cost parameters of an encoded hash, without salt and digest."""
    parts = encoded.split("$")
    if parts[0] == "argon2":
        return f"argon2id {parts[3]}" if len(parts) > 3 else parts[0]
    if parts[0] == "pbkdf2_sha256":
        return f"pbkdf2_sha256 {int(parts[1]):,} iterations"
    if parts[0] == "scrypt" and len(parts) == 6:
        return f"scrypt N={parts[1]}, r={parts[3]}, p={parts[4]}"
    return parts[0]


def best_ms(func: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def measure(repeat: int) -> dict[str, Any]:
    """``{"rows": {row: {framework: {...}}}}``, or ``{"skipped": why}`` without qiao.auth."""
    try:
        qiao = _qiao()
    except ImportError as exc:
        return {"skipped": f"qiao.auth is not importable here ({exc})"}
    frameworks = {"qiao": qiao, "django": _django()}
    rows: dict[str, dict[str, Any]] = {}
    for row in qiao:
        rows[row] = {}
        for framework, table in frameworks.items():
            make, check = table[row]
            try:
                encoded = make(PASSWORD)  # also the warm-up
                ok = check(PASSWORD, encoded) and not check(WRONG, encoded)
                rows[row][framework] = {
                    "parameters": parameters(encoded),
                    "hash_ms": best_ms(lambda make=make: make(PASSWORD), repeat),
                    "verify_ms": best_ms(
                        lambda check=check, encoded=encoded: check(PASSWORD, encoded), repeat
                    ),
                    "verifies": bool(ok),
                }
            except Exception as exc:  # a hasher that is missing or broken: say so, go on
                rows[row][framework] = {"error": f"{type(exc).__name__}: {exc}"[:160]}
    return {"rows": rows, "repeat": repeat}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed calls per cell (best of)")
    parser.add_argument("--json", action="store_true", help="print JSON (for database.py)")
    args = parser.parse_args()
    result = measure(args.repeat)
    if args.json:
        print(json.dumps(result))
        return
    if "skipped" in result:
        sys.exit(result["skipped"])
    for row, cells in result["rows"].items():
        for framework, c in cells.items():
            if "error" in c:
                print(f"{row:14} {framework:7} {c['error']}")
                continue
            print(
                f"{row:14} {framework:7} {c['parameters']:40} hash {c['hash_ms']:7.1f} ms  "
                f"verify {c['verify_ms']:7.1f} ms  {'ok' if c['verifies'] else 'WRONG'}"
            )


if __name__ == "__main__":
    main()
