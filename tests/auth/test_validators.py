"""Password validators: each rule, the default set, and the setting."""

from __future__ import annotations

import gzip
from pathlib import Path
from types import SimpleNamespace

import pytest

from qiao import ImproperlyConfigured
from qiao.auth import (
    CommonPasswordValidator,
    MinimumLengthValidator,
    NumericPasswordValidator,
    UserAttributeSimilarityValidator,
    validate_password,
)
from qiao.auth._validators import COMMON_PASSWORDS, password_validators_help_texts
from qiao.forms import ValidationError
from tests.auth._support import AuthEnv


def messages(
    password: str, user: object = None, validators: list[object] | None = None
) -> list[str]:
    try:
        validate_password(password, user, validators)  # type: ignore[arg-type]
    except ValidationError as exc:
        return exc.messages
    return []


def test_a_good_password_passes_the_default_set() -> None:
    assert messages("correct-horse-battery") == []


def test_minimum_length() -> None:
    validator = MinimumLengthValidator(12)
    with pytest.raises(ValidationError) as caught:
        validator.validate("short-pw")
    assert caught.value.code == "password_too_short"
    assert caught.value.messages == [
        "This password is too short. It must contain at least 12 characters."
    ]
    validator.validate("twelve-chars")
    assert "12 characters" in validator.help_text()


def test_common_passwords_are_refused_whatever_the_case() -> None:
    validator = CommonPasswordValidator()
    for password in ("password", "PassWord", " qwerty123 ", "iloveyou"):
        with pytest.raises(ValidationError, match="too common"):
            validator.validate(password)
    validator.validate("correct-horse-battery")


def test_the_shipped_list_has_the_20k_most_common() -> None:
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as lines:
        entries = [line.strip() for line in lines if line.strip()]
    assert 19_000 < len(entries) < 21_000
    assert entries[:3] == ["123456", "123456789", "qwerty"]
    assert COMMON_PASSWORDS.stat().st_size < 100_000


def test_a_custom_list(tmp_path: Path) -> None:
    plain = tmp_path / "words.txt"
    plain.write_text("Hunter2\nswordfish\n", encoding="utf-8")
    validator = CommonPasswordValidator(plain)
    with pytest.raises(ValidationError):
        validator.validate("hunter2")
    validator.validate("password")  # not in this list


def test_numeric_passwords() -> None:
    with pytest.raises(ValidationError, match="entirely numeric"):
        NumericPasswordValidator().validate("20240917123")
    NumericPasswordValidator().validate("2024-09-17")


def test_similarity_to_the_username_and_email_parts() -> None:
    user = SimpleNamespace(
        username="adalovelace", email="ada.byron@example.com", first_name="", last_name=""
    )
    validator = UserAttributeSimilarityValidator()
    with pytest.raises(ValidationError, match="too similar to the username"):
        validator.validate("adalovelace1", user)
    with pytest.raises(ValidationError, match="too similar to the email"):
        validator.validate("byron", user)
    validator.validate("correct-horse-battery", user)
    validator.validate("adalovelace1", None)  # no user, nothing to compare
    with pytest.raises(ValueError, match=r"at least 0\.1"):
        UserAttributeSimilarityValidator(max_similarity=0.01)


def test_a_long_password_is_not_similar_to_a_short_attribute() -> None:
    user = SimpleNamespace(username="al")
    UserAttributeSimilarityValidator(["username"]).validate("al" + "x" * 30, user)


def test_validate_password_reports_every_failure() -> None:
    assert messages("123") == [
        "This password is too short. It must contain at least 8 characters.",
        "This password is too common.",
        "This password is entirely numeric.",
    ]
    assert messages("123", validators=[NumericPasswordValidator()]) == [
        "This password is entirely numeric."
    ]


def test_help_texts() -> None:
    texts = password_validators_help_texts()
    assert len(texts) == 4
    assert "commonly used" in " ".join(texts)


def test_the_setting_chooses_the_validators(sqlite_env: AuthEnv) -> None:
    app = sqlite_env.app(AUTH_PASSWORD_VALIDATORS=[MinimumLengthValidator(20)])
    app.compile()
    validators = app.extensions["auth"].validators
    assert [type(v) for v in validators] == [MinimumLengthValidator]


def test_a_bad_validators_setting_fails_at_start_up(sqlite_env: AuthEnv) -> None:
    app = sqlite_env.app(AUTH_PASSWORD_VALIDATORS=["MinimumLengthValidator"])
    with pytest.raises(ImproperlyConfigured, match=r"qiao\.E509"):
        app.compile()
