"""App configuration: defaults, loading from mappings, objects, modules and the environment."""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qiao.http.exceptions import ImproperlyConfigured

__all__ = ["DEFAULTS", "Config", "Limits"]

#: Every setting qiao itself reads, with its default. Batteries add their own.
DEFAULTS: dict[str, Any] = {
    "DEBUG": False,
    "SECRET_KEY": None,
    # Old keys that still verify signed values (newest first), for rotating SECRET_KEY.
    "SECRET_KEY_FALLBACKS": [],
    # Routing
    "APPEND_SLASH": True,
    # Proxies: peers whose X-Forwarded-* / Forwarded headers are believed ("*" for any).
    "TRUSTED_PROXIES": [],
    # Request limits (bytes unless named otherwise)
    "MAX_BODY_SIZE": 10 * 1024 * 1024,
    "MAX_FORM_FIELDS": 1000,
    "MAX_FORM_FIELD_SIZE": 1024 * 1024,
    "MAX_FORM_FILES": 100,
    "MAX_FILE_SIZE": 10 * 1024 * 1024,
    "FORM_SPOOL_SIZE": 1024 * 1024,
    "MAX_PART_HEADER_COUNT": 16,
    "MAX_PART_HEADER_SIZE": 8 * 1024,
    "MAX_JSON_DEPTH": 64,
    "MAX_HEADER_COUNT": 100,
    "MAX_HEADER_SIZE": 64 * 1024,
    "MAX_QUERY_FIELDS": 1000,
    # Sync views under ASGI run in this many threads at most.
    "THREADPOOL_WORKERS": 40,
}


@dataclass(frozen=True, slots=True)
class Limits:
    """The request limits, read from config once at start-up (see ``DEFAULTS`` for meanings)."""

    max_body_size: int
    max_form_fields: int
    max_form_field_size: int
    max_form_files: int
    max_file_size: int
    form_spool_size: int
    max_part_header_count: int
    max_part_header_size: int
    max_json_depth: int
    max_header_count: int
    max_header_size: int
    max_query_fields: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Limits:
        """Read the limits from ``config``.

        Raises:
            ImproperlyConfigured: a limit is not a non-negative whole number (``qiao.E007``).
        """
        values: dict[str, int] = {}
        for name in cls.__dataclass_fields__:
            value = config[name.upper()]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ImproperlyConfigured(
                    f"qiao.E007: Setting {name.upper()} must be a non-negative whole number, "
                    f"got {value!r}."
                )
            values[name] = value
        return cls(**values)


class Config(dict[str, Any]):
    """A dict of settings with loaders. Keys are upper-case by convention.

    Later loads override earlier ones. Settings are read once when the app starts; change them
    before the first request.
    """

    def __init__(self, defaults: Mapping[str, Any] | None = None) -> None:
        super().__init__(DEFAULTS)
        if defaults:
            self.update(defaults)

    def from_mapping(self, mapping: Mapping[str, Any] | None = None, **kwargs: Any) -> Config:
        """Load the upper-case keys of ``mapping`` and ``kwargs``."""
        for key, value in {**(mapping or {}), **kwargs}.items():
            if key.isupper():
                self[key] = value
        return self

    def from_object(self, obj: object | str) -> Config:
        """Load the upper-case attributes of a class, instance or module (or its dotted path).

        Raises:
            ImportError: a dotted path that does not import.
        """
        if isinstance(obj, str):
            module_name, _, attr = obj.partition(":")
            obj = importlib.import_module(module_name)
            if attr:
                obj = getattr(obj, attr)
        for key in dir(obj):
            if key.isupper():
                self[key] = getattr(obj, key)
        return self

    def from_env(self, prefix: str = "QIAO_", environ: Mapping[str, str] | None = None) -> Config:
        """Load ``{prefix}NAME`` environment variables as ``NAME``.

        Values are parsed as JSON when they parse (``true``, ``42``, ``["a", "b"]``), and kept
        as strings otherwise, so ``QIAO_DEBUG=true`` gives ``True`` and ``QIAO_SECRET_KEY=abc``
        gives ``"abc"``.
        """
        source = os.environ if environ is None else environ
        for key, raw in source.items():
            if key.startswith(prefix) and len(key) > len(prefix):
                try:
                    value: Any = json.loads(raw)
                except ValueError:
                    value = raw
                self[key[len(prefix) :]] = value
        return self
