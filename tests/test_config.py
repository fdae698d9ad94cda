"""Configuration: defaults, mappings, objects, modules, environment."""

from __future__ import annotations

import sys
import types

import pytest

import qiao
from qiao import Config


def test_defaults_are_safe_and_complete():
    config = Config()
    assert config["DEBUG"] is False
    assert config["SECRET_KEY"] is None
    assert config["APPEND_SLASH"] is True
    assert config["TRUSTED_PROXIES"] == []
    assert config["MAX_BODY_SIZE"] == 10 * 1024 * 1024
    assert set(qiao.DEFAULTS) <= set(config)


def test_from_mapping_takes_only_upper_case_keys():
    config = Config().from_mapping({"DEBUG": True, "lower": 1}, SECRET_KEY="k")
    assert config["DEBUG"] is True
    assert config["SECRET_KEY"] == "k"
    assert "lower" not in config


def test_from_object_class_and_module_path(monkeypatch):
    class Settings:
        DEBUG = True
        MAX_BODY_SIZE = 5
        _private = 1
        lower = 2

    config = Config().from_object(Settings)
    assert config["MAX_BODY_SIZE"] == 5
    assert "lower" not in config
    assert "_private" not in config

    module = types.ModuleType("my_settings")
    module.SECRET_KEY = "from-module"
    monkeypatch.setitem(sys.modules, "my_settings", module)
    assert Config().from_object("my_settings")["SECRET_KEY"] == "from-module"


def test_from_env_parses_json_values_and_keeps_strings():
    env = {
        "QIAO_DEBUG": "true",
        "QIAO_MAX_BODY_SIZE": "2048",
        "QIAO_TRUSTED_PROXIES": '["10.0.0.1"]',
        "QIAO_SECRET_KEY": "plain-text-key",
        "OTHER": "ignored",
        "QIAO_": "empty name ignored",
    }
    config = Config().from_env(environ=env)
    assert config["DEBUG"] is True
    assert config["MAX_BODY_SIZE"] == 2048
    assert config["TRUSTED_PROXIES"] == ["10.0.0.1"]
    assert config["SECRET_KEY"] == "plain-text-key"
    assert "OTHER" not in config
    assert "" not in config


def test_from_env_reads_the_process_environment(monkeypatch):
    monkeypatch.setenv("QIAO_SECRET_KEY", "from-env")
    app = qiao.App(__name__)
    app.config.from_env()
    app.compile()
    assert app.config["SECRET_KEY"] == "from-env"


def test_limits_are_read_once_when_the_app_compiles():
    app = qiao.App(__name__, config={"DEBUG": True})
    app.config["MAX_BODY_SIZE"] = 123
    app.compile()
    assert app.limits.max_body_size == 123


def test_a_non_numeric_limit_fails_clearly():
    app = qiao.App(__name__, config={"DEBUG": True, "MAX_BODY_SIZE": "lots"})
    with pytest.raises(qiao.ImproperlyConfigured, match=r"qiao\.E007: Setting MAX_BODY_SIZE"):
        app.compile()
