"""Password hashing: argon2id by default, Django's formats and test vectors, upgrades, unusable
passwords, and the hasher run for unknown usernames."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qiao import ImproperlyConfigured
from qiao.auth import (
    Argon2Hasher,
    Hasher,
    PasswordHashers,
    PBKDF2SHA256Hasher,
    ScryptHasher,
    authenticate,
    check_password,
    is_password_usable,
    make_password,
)
from tests.auth._support import FAST, PASSWORD, AuthEnv, log_in, post_form
from tests.http._support import Serve

# Django's own test vectors (tests/auth_tests/test_hashers.py).
DJANGO_PBKDF2 = "pbkdf2_sha256$390000$seasalt$8xBlGd3jVgvJ+92hWPxi5ww0uuAuAnKgC45eudxro7c="
DJANGO_PBKDF2_2 = "pbkdf2_sha256$390000$seasalt2$geC/uZ92nRXDSjSxeoiBqYyRcrLzMm8xK3ro1QS1uo8="
DJANGO_SCRYPT = (
    "scrypt$16384$seasalt$8$1$Qj3+9PPyRjSJIebHnG81TMjsqtaIGxNQG/aEB/NY"
    "afTJ7tibgfYz71m0ldQESkXFRkdVCBhhY8mx7rQwite/Pw=="
)
DJANGO_ARGON2I_NO_VERSION = (
    "argon2$argon2i$m=8,t=1,p=1$c29tZXNhbHQ$gwQOXSNhxiOxPOA0+PY10P9QFO"
    "4NAYysnqRt1GSQLE55m+2GYDt9FEjPMHhP2Cuf0nOEXXMocVrsJAtNSsKyfg"
)
DJANGO_ARGON2I = "argon2$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q"
DJANGO_ARGON2ID = "argon2$argon2id$v=19$m=102400,t=2,p=8$Y041dExhNkljRUUy$TMa6A8fPJhCAUXRhJXCXdw"


def test_argon2id_with_owasp_parameters_is_the_default() -> None:
    encoded = make_password("lètmein")
    assert encoded.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert check_password("lètmein", encoded)
    assert not check_password("lètmeinz", encoded)
    assert make_password("lètmein") != encoded  # a fresh salt each time


def test_blank_passwords_hash_and_check() -> None:
    encoded = make_password("", FAST)
    assert check_password("", encoded, hashers=FAST)
    assert not check_password(" ", encoded, hashers=FAST)


@pytest.mark.parametrize(
    ("encoded", "password"),
    [
        (DJANGO_PBKDF2, "lètmein"),
        (DJANGO_PBKDF2_2, "lètmein"),
        (DJANGO_SCRYPT, "lètmein"),
        (DJANGO_ARGON2I_NO_VERSION, "secret"),
        (DJANGO_ARGON2I, "secret"),
        (DJANGO_ARGON2ID, "secret"),
    ],
)
def test_django_hashes_verify(encoded: str, password: str) -> None:
    assert check_password(password, encoded, hashers=FAST)
    assert not check_password(password + "z", encoded, hashers=FAST)


def test_pbkdf2_and_scrypt_encode_exactly_as_django() -> None:
    assert PBKDF2SHA256Hasher(iterations=390000).encode("lètmein", "seasalt") == DJANGO_PBKDF2
    assert PBKDF2SHA256Hasher(iterations=390000).encode("lètmein", "seasalt2") == DJANGO_PBKDF2_2
    assert ScryptHasher().encode("lètmein", "seasalt") == DJANGO_SCRYPT


def test_a_django_hash_is_upgraded_to_the_preferred_hasher() -> None:
    upgraded: list[str] = []
    assert check_password("lètmein", DJANGO_PBKDF2, upgraded.append, FAST)
    assert len(upgraded) == 1
    assert upgraded[0].startswith("argon2$argon2id$v=19$m=8,t=1,p=1$")
    assert check_password("lètmein", upgraded[0], hashers=FAST)


def test_outdated_parameters_are_upgraded_and_current_ones_are_not() -> None:
    cheap = PasswordHashers([Argon2Hasher(time_cost=1, memory_cost=8, parallelism=1)])
    stronger = PasswordHashers([Argon2Hasher(time_cost=2, memory_cost=16, parallelism=1)])
    encoded = cheap.make("pw")
    upgraded: list[str] = []
    assert check_password("pw", encoded, upgraded.append, cheap)
    assert upgraded == []
    assert check_password("pw", encoded, upgraded.append, stronger)
    assert "$m=16,t=2,p=1$" in upgraded[0]
    assert not check_password("wrong", encoded, upgraded.append, stronger)
    assert len(upgraded) == 1  # never on a wrong password


@pytest.mark.parametrize(
    ("hasher", "outdated"),
    [
        (PBKDF2SHA256Hasher(iterations=1000), PBKDF2SHA256Hasher(iterations=999)),
        (ScryptHasher(work_factor=32), ScryptHasher(work_factor=16)),
        (ScryptHasher(work_factor=16, block_size=4), ScryptHasher(work_factor=16)),
    ],
)
def test_pbkdf2_and_scrypt_parameter_changes_need_an_update(hasher: Any, outdated: Any) -> None:
    policy = PasswordHashers([hasher])
    assert policy.verify("pw", outdated.encode("pw")) == (True, True)
    assert policy.verify("pw", hasher.encode("pw")) == (True, False)


def test_a_short_pbkdf2_salt_needs_an_update() -> None:
    policy = PasswordHashers([PBKDF2SHA256Hasher(iterations=1000)])
    assert policy.verify("pw", PBKDF2SHA256Hasher(1000).encode("pw", "short")) == (True, True)


def test_unusable_passwords() -> None:
    encoded = make_password(None)
    assert encoded.startswith("!")
    assert len(encoded) == 41
    assert not is_password_usable(encoded)
    assert not is_password_usable(None)
    assert is_password_usable(make_password("x", FAST))
    assert not check_password(encoded, encoded)
    assert not check_password("!", encoded)
    assert not check_password(None, make_password("x", FAST))
    assert make_password(None) != encoded


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "lolcat$salt$hash",
        "pbkdf2_sha256$0$salt$hash",
        "pbkdf2_sha256$x$salt$hash",
        "pbkdf2_sha256$1000$salt",
        "scrypt$15$salt$8$1$hash",
        "scrypt$16$salt$8$1",
        "argon2$argon2id$v=19$m=8,t=1,p=1$bad",
        "argon2",
        "md5$seasalt$3f86d0d3d465b7b458c231bf3555c0e3",
    ],
)
def test_unknown_or_malformed_hashes_never_match(encoded: str) -> None:
    assert not check_password("lètmein", encoded, hashers=FAST)


def test_make_password_refuses_non_strings() -> None:
    with pytest.raises(TypeError, match="must be a string"):
        make_password(1, FAST)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("hashers", "message"),
    [
        (["bcrypt"], "unknown hasher 'bcrypt'"),
        ([], "is empty"),
        ([object()], "is not a hasher"),
        (["argon2", Argon2Hasher(1, 8, 1)], "lists an algorithm twice"),
    ],
)
def test_bad_hasher_settings_are_refused(hashers: list[Any], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=f"qiao.E506: .*{message}"):
        PasswordHashers(hashers)


def test_hasher_objects_follow_the_protocol() -> None:
    for hasher in (Argon2Hasher(1, 8, 1), PBKDF2SHA256Hasher(), ScryptHasher()):
        assert isinstance(hasher, Hasher)
        assert type(hasher).__name__ in repr(hasher)


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=64))
def test_any_text_round_trips(password: str) -> None:
    encoded = FAST.make(password)
    assert FAST.verify(password, encoded) == (True, False)
    assert FAST.verify(password + "x", encoded) == (False, False)


class CountingHasher(Argon2Hasher):
    """Counts ``verify`` calls: proof the hasher ran, without measuring time."""

    calls = 0

    def verify(self, password: str, encoded: str) -> bool:
        type(self).calls += 1
        return super().verify(password, encoded)


def test_authenticate_runs_the_hasher_for_unknown_users(env: AuthEnv, serve: Serve) -> None:
    env.user("ada")
    env.user("nopass", password=None)
    app = env.app(AUTH_PASSWORD_HASHERS=[CountingHasher(1, 8, 1)])
    seen: list[Any] = []

    @app.get("/try/<name>")
    def attempt(request: Any, name: str) -> str:
        seen.append(authenticate(request, username=name, password="guess"))
        return "done"

    client = serve(app)
    for name in ("nobody", "ada", "nopass"):
        CountingHasher.calls = 0
        assert client.get(f"/try/{name}").text == "done"
        assert CountingHasher.calls == 1, name  # the same work for every kind of failure
    assert seen == [None, None, None]


def test_the_login_view_hashes_for_unknown_users_too(env: AuthEnv, serve: Serve) -> None:
    env.user("ada")
    client = serve(env.app(AUTH_PASSWORD_HASHERS=[CountingHasher(1, 8, 1)]))
    CountingHasher.calls = 0
    response = post_form(client, "/accounts/login/", {"username": "ghost", "password": "x"})
    assert response.status_code == 422
    assert CountingHasher.calls == 1
    log_in(client, "ada", PASSWORD)
