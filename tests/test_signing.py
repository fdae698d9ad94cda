"""``qiao.signing.Signer``: signed, timestamped JSON values with salts and key rotation.

itsdangerous with the standard library's ``json`` is the reference implementation: tokens go
both ways between it and ``Signer``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeTimedSerializer

import qiao
from qiao.http.exceptions import ImproperlyConfigured
from qiao.signing import BadSignature, SignatureExpired, Signer

KEY = "test-secret"
SALT = "tests"
#: The characters a token may hold: URL-safe base64 and the dots between its parts.
TOKEN = re.compile(r"^\.?[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+$")
#: URL-safe base64; a character 32 places on flips the top bit of its 6 bits, which every
#: position uses (a flip of the lowest bits of the last character may land in padding bits).
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def flip(token: str, index: int) -> str:
    """``token`` with the character at ``index`` changed to one that decodes differently."""
    char = token[index]
    replacement = _B64[(_B64.index(char) + 32) % 64] if char in _B64 else "A"
    return token[:index] + replacement + token[index + 1 :]


def reference(key: str = KEY, salt: str = SALT) -> URLSafeTimedSerializer:
    """Plain itsdangerous, configured as qiao documents: SHA-256, JSON payloads."""
    return URLSafeTimedSerializer(key, salt=salt, signer_kwargs={"digest_method": hashlib.sha256})


def signed_at(when: float, signer: Signer, value: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """``signer.dumps(value)`` as if the clock read ``when``."""
    with monkeypatch.context() as patched:
        patched.setattr(time, "time", lambda: when)
        return signer.dumps(value)


# -- dumps and loads ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        {"user": 42},
        [1, "two", 3.5, None, True, False],
        "text",
        "héllo 世界 🎉",
        0,
        -1,
        2**63 - 1,
        1.5,
        None,
        True,
        {},
        [],
        {"nested": {"deep": [{"k": ["v"]}]}},
    ],
    ids=repr,
)
def test_dumps_and_loads_round_trip(value: Any) -> None:
    signer = Signer(KEY, salt=SALT)
    token = signer.dumps(value)
    assert isinstance(token, str)
    assert TOKEN.match(token), token
    assert signer.loads(token) == value
    assert signer.loads(token.encode()) == value


def test_loads_with_max_age_accepts_a_fresh_token() -> None:
    signer = Signer(KEY, salt=SALT)
    assert signer.loads(signer.dumps({"a": 1}), max_age=60) == {"a": 1}


def test_a_token_older_than_max_age_is_signature_expired(monkeypatch: pytest.MonkeyPatch) -> None:
    signer = Signer(KEY, salt=SALT)
    token = signed_at(time.time() - 7200, signer, {"a": 1}, monkeypatch)
    assert signer.loads(token, max_age=10_000) == {"a": 1}
    with pytest.raises(SignatureExpired, match=r"Signature age \d+ > 3600 seconds"):
        signer.loads(token, max_age=3600)
    # Without max_age the age is not checked.
    assert signer.loads(token) == {"a": 1}


def test_signature_expired_is_a_bad_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    """Catching BadSignature catches both, as the docstring promises."""
    assert issubclass(SignatureExpired, BadSignature)
    signer = Signer(KEY, salt=SALT)
    token = signed_at(time.time() - 100, signer, "x", monkeypatch)
    with pytest.raises(BadSignature):
        signer.loads(token, max_age=10)


def test_a_token_from_the_future_is_refused_with_max_age(monkeypatch: pytest.MonkeyPatch) -> None:
    signer = Signer(KEY, salt=SALT)
    token = signed_at(time.time() + 3600, signer, "x", monkeypatch)
    with pytest.raises(BadSignature):
        signer.loads(token, max_age=60)


def test_large_repetitive_payloads_are_compressed() -> None:
    signer = Signer(KEY, salt=SALT)
    value = {"text": "abc" * 1000}
    token = signer.dumps(value)
    assert token.startswith(".")  # itsdangerous marks a compressed payload with a dot
    assert len(token) < 200
    assert signer.loads(token) == value


def test_a_value_that_is_not_json_cannot_be_signed() -> None:
    with pytest.raises(TypeError):
        Signer(KEY, salt=SALT).dumps({"when": object()})


# -- salts --------------------------------------------------------------------------------------
def test_a_salt_separates_purposes() -> None:
    reset = Signer(KEY, salt="password-reset")
    session = Signer(KEY, salt="qiao.sessions")
    token = reset.dumps({"user": 1})
    assert reset.loads(token) == {"user": 1}
    with pytest.raises(BadSignature):
        session.loads(token)
    with pytest.raises(BadSignature):
        Signer(KEY, salt="password-reset ").loads(token)


def test_the_salt_is_required() -> None:
    with pytest.raises(TypeError):
        Signer(KEY)  # type: ignore[call-arg]


# -- keys and rotation --------------------------------------------------------------------------
def test_a_token_does_not_verify_with_another_key() -> None:
    token = Signer(KEY, salt=SALT).dumps("x")
    with pytest.raises(BadSignature):
        Signer("another-key", salt=SALT).loads(token)


def test_fallback_keys_verify_but_never_sign() -> None:
    old_token = Signer("old", salt=SALT).dumps({"v": "old"})
    older_token = Signer("older", salt=SALT).dumps({"v": "older"})
    rotated = Signer("new", fallbacks=["old", "older"], salt=SALT)
    assert rotated.loads(old_token) == {"v": "old"}
    assert rotated.loads(older_token) == {"v": "older"}
    new_token = rotated.dumps({"v": "new"})
    assert Signer("new", salt=SALT).loads(new_token) == {"v": "new"}
    for key in ("old", "older"):
        with pytest.raises(BadSignature):
            Signer(key, salt=SALT).loads(new_token)
    # A dropped key no longer verifies.
    with pytest.raises(BadSignature):
        Signer("new", fallbacks=["old"], salt=SALT).loads(older_token)


def test_fallbacks_respect_max_age(monkeypatch: pytest.MonkeyPatch) -> None:
    token = signed_at(time.time() - 7200, Signer("old", salt=SALT), "x", monkeypatch)
    with pytest.raises(SignatureExpired):
        Signer("new", fallbacks=["old"], salt=SALT).loads(token, max_age=60)


def test_fallbacks_may_be_any_sequence() -> None:
    token = Signer("old", salt=SALT).dumps("x")
    assert Signer("new", fallbacks=("old",), salt=SALT).loads(token) == "x"
    assert Signer("new", fallbacks=[b"old"], salt=SALT).loads(token) == "x"


def test_str_and_bytes_keys_are_the_same_key() -> None:
    token = Signer(KEY, salt=SALT).dumps("x")
    assert Signer(KEY.encode(), salt=SALT).loads(token) == "x"


@pytest.mark.parametrize("fallbacks", ["old-key", b"old-key"], ids=["str", "bytes"])
def test_a_string_of_fallbacks_is_refused(fallbacks: Any) -> None:
    """SECURITY: iterated, "old-key" would be seven one-letter keys, and a token signed with
    "o" would verify."""
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY_FALLBACKS must be a list"):
        Signer("new", fallbacks=fallbacks, salt=SALT)


@pytest.mark.parametrize("key", ["", b"", None])
def test_a_signer_needs_a_secret_key(key: Any) -> None:
    with pytest.raises(ImproperlyConfigured, match="Signing needs SECRET_KEY"):
        Signer(key, salt=SALT)


# -- from_app -----------------------------------------------------------------------------------
def test_from_app_uses_the_apps_keys() -> None:
    app = qiao.App(__name__, config={"SECRET_KEY": "new", "SECRET_KEY_FALLBACKS": ["old"]})
    signer = Signer.from_app(app, salt=SALT)
    token = signer.dumps({"a": 1})
    assert Signer("new", salt=SALT).loads(token) == {"a": 1}
    assert signer.loads(Signer("old", salt=SALT).dumps("x")) == "x"
    with pytest.raises(BadSignature):
        Signer.from_app(app, salt="other").loads(token)


def test_from_app_without_fallbacks() -> None:
    for fallbacks in (None, [], ()):
        app = qiao.App(__name__, config={"SECRET_KEY": "k", "SECRET_KEY_FALLBACKS": fallbacks})
        signer = Signer.from_app(app, salt=SALT)
        assert signer.loads(signer.dumps(1)) == 1


def test_from_app_without_a_secret_key_is_improperly_configured() -> None:
    app = qiao.App(__name__, config={"DEBUG": True})
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        Signer.from_app(app, salt=SALT)


# -- tampering ----------------------------------------------------------------------------------
def _token() -> str:
    return Signer(KEY, salt=SALT).dumps({"user": "alice", "admin": False})


@pytest.mark.parametrize("index", range(len(_token())))
def test_changing_any_character_breaks_the_signature(index: int) -> None:
    token = _token()
    tampered = flip(token, index)
    assert tampered != token
    with pytest.raises(BadSignature):
        Signer(KEY, salt=SALT).loads(tampered)


@pytest.mark.parametrize(
    "token",
    [
        "",
        ".",
        "..",
        "a.b.c",
        "a.b",
        "not-a-token",
        ".eJzLSM3JyVcozy_KSQEAGgQEXQ.AAAAAA.AAAA",  # compressed marker, junk signature
        "\x00\xff",
        "é.é.é",
    ],
    ids=repr,
)
def test_junk_is_a_bad_signature(token: str) -> None:
    with pytest.raises(BadSignature):
        Signer(KEY, salt=SALT).loads(token)


def test_truncations_are_bad_signatures() -> None:
    token = _token()
    signer = Signer(KEY, salt=SALT)
    for end in range(len(token)):
        with pytest.raises(BadSignature):
            signer.loads(token[:end])


def test_a_validly_signed_payload_that_is_not_json_is_a_bad_signature() -> None:
    class Raw:
        @staticmethod
        def dumps(obj: Any) -> str:
            return str(obj)

        @staticmethod
        def loads(data: Any) -> Any:
            return data

    forged = URLSafeTimedSerializer(
        KEY, salt=SALT, serializer=Raw, signer_kwargs={"digest_method": hashlib.sha256}
    ).dumps("{not json")
    with pytest.raises(BadSignature, match="undecodable payload"):
        Signer(KEY, salt=SALT).loads(forged)


@settings(max_examples=300, deadline=None)
@given(token=st.text() | st.binary())
def test_loads_raises_only_bad_signature(token: str | bytes) -> None:
    with contextlib.suppress(BadSignature):  # and nothing else escapes
        Signer(KEY, salt=SALT).loads(token)


# -- against the reference implementation -------------------------------------------------------
def test_tokens_interoperate_with_itsdangerous_and_json() -> None:
    value = {"user": 42, "name": "héllo", "tags": ["a", "b"], "ok": True, "none": None}
    ours = Signer(KEY, salt=SALT).dumps(value)
    assert reference().loads(ours) == value
    theirs = reference().dumps(value)
    assert Signer(KEY, salt=SALT).loads(theirs) == value


def test_signer_uses_sha256() -> None:
    sha1 = URLSafeTimedSerializer(KEY, salt=SALT)  # itsdangerous's default digest
    with pytest.raises(BadSignature):
        Signer(KEY, salt=SALT).loads(sha1.dumps("x"))


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(value=JSON)
def test_any_json_value_round_trips_and_matches_the_reference(value: Any) -> None:
    token = Signer(KEY, salt=SALT).dumps(value)
    assert Signer(KEY, salt=SALT).loads(token) == value
    assert reference().loads(token) == json.loads(json.dumps(value))
