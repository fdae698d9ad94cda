"""The server's settings: defaults, the app's ``SERVER_*`` config, then explicit arguments.

Every limit and timeout is named here once; the protocol, the CLI and the docs read them.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from qiao.http.exceptions import ImproperlyConfigured

__all__ = ["ServerConfig"]

Interface = Literal["auto", "native", "asgi", "wsgi"]
#: The settings that take one of a few words.
_CHOICES: dict[str, tuple[str, ...]] = {
    "interface": ("auto", "native", "asgi", "wsgi"),
    "loop": ("auto", "asyncio", "uvloop"),
    "lifespan": ("auto", "on", "off"),
}


@dataclass(slots=True)
class ServerConfig:
    """How ``qiao serve`` listens, limits and times out. Field ``x`` is ``SERVER_X`` in
    ``app.config`` and ``--x`` (dashes for underscores) on the command line.

    Raises:
        ImproperlyConfigured: a value of the wrong type or out of range (``qiao.E601``).
    """

    # -- where to listen
    host: str = "127.0.0.1"
    port: int = 8000
    uds: str | None = None  # a Unix domain socket path instead of host/port
    fd: int | None = None  # an already-bound listening socket (systemd, a supervisor)
    backlog: int = 2048
    reuse_port: bool = False
    # -- processes and threads
    workers: int = 1
    wsgi_threads: int = 32  # threads that run a WSGI app, per worker
    max_requests: int = 0  # recycle a worker after this many requests (0: never)
    max_requests_jitter: int = 0  # plus random 0..jitter: workers do not all restart at once
    timeout_graceful: float = 30.0  # SIGTERM: let in-flight requests finish this long
    # -- HTTP limits (bytes unless named otherwise)
    max_request_line: int = 8 * 1024  # -> 414
    max_header_size: int = 64 * 1024  # the whole head, counted as it arrives -> 431
    max_header_count: int = 100  # -> 431
    max_body_size: int = 10 * 1024 * 1024  # ASGI and WSGI apps; qiao apps use MAX_BODY_SIZE -> 413
    limit_concurrency: int = 10_000  # open connections per worker; more get a 503
    max_keep_alive_requests: int = 10_000  # requests on one connection before it closes
    max_pipeline: int = 32  # requests read ahead of the one being answered
    # -- timeouts (seconds)
    timeout_keep_alive: float = 5.0  # idle between requests
    timeout_header: float = 10.0  # from a request's first byte to the end of its head (slowloris)
    timeout_body: float = 30.0  # the longest wait for the next piece of a body the app reads
    timeout_write: float = 30.0  # the longest a client may leave a response unread
    # -- behaviour
    interface: Interface = "auto"  # native for qiao apps; else ASGI or WSGI by the callable's shape
    access_log: bool = True
    proxy_headers: bool = True  # trust X-Forwarded-For/-Proto from forwarded_allow_ips
    forwarded_allow_ips: list[str] = field(default_factory=lambda: ["127.0.0.1", "::1"])
    root_path: str = ""
    server_header: bool = True
    loop: Literal["auto", "asyncio", "uvloop"] = "auto"
    lifespan: Literal["auto", "on", "off"] = "auto"
    # -- websockets
    ws_max_size: int = 16 * 1024 * 1024
    ws_ping_interval: float = 20.0  # 0: never
    ws_ping_timeout: float = 20.0
    ws_per_message_deflate: bool = True

    @classmethod
    def build(cls, app_config: Mapping[str, Any] | None = None, **overrides: Any) -> ServerConfig:
        """Defaults, then ``SERVER_*`` keys of ``app_config``, then ``overrides`` (None skipped).

        Raises:
            ImproperlyConfigured: an unknown override or a bad value (``qiao.E601``).
        """
        values: dict[str, Any] = {}
        names = {f.name for f in dataclasses.fields(cls)}
        for key, value in (app_config or {}).items():
            if key.startswith("SERVER_") and key[7:].lower() in names:
                values[key[7:].lower()] = value
        for name, value in overrides.items():
            if name not in names:
                raise ImproperlyConfigured(f"qiao.E601: unknown server setting {name!r}.")
            if value is not None:
                values[name] = value
        ips = values.get("forwarded_allow_ips")
        if isinstance(ips, str):  # "10.0.0.1, 10.0.0.2" from the environment or a flag
            values["forwarded_allow_ips"] = [ip.strip() for ip in ips.split(",") if ip.strip()]
        config = cls(**values)
        config.check()
        return config

    def check(self) -> None:
        """Raise ``ImproperlyConfigured`` (``qiao.E601``) for the first bad value."""
        self._check_types()
        if self.workers < 1 or self.wsgi_threads < 1 or self.limit_concurrency < 1:
            raise ImproperlyConfigured(
                "qiao.E601: workers, wsgi_threads and limit_concurrency must be at least 1."
            )
        if self.port > 65535:
            raise ImproperlyConfigured(f"qiao.E601: port must be 0 to 65535, got {self.port}.")
        for name, allowed in _CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ImproperlyConfigured(
                    f"qiao.E601: server setting {name} (SERVER_{name.upper()}) must be one of "
                    f"{', '.join(allowed)}; got {value!r}."
                )
        self._check_addresses()

    def _check_types(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            default = f.default if f.default is not dataclasses.MISSING else None
            if isinstance(default, bool):
                ok = isinstance(value, bool)
            elif isinstance(default, int) and f.name != "fd":
                ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
            elif isinstance(default, float):
                ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
            elif isinstance(default, str):
                ok = isinstance(value, str)
            elif f.name in ("uds", "fd"):  # None, or a path / a descriptor
                kind = str if f.name == "uds" else int
                ok = value is None or (isinstance(value, kind) and not isinstance(value, bool))
            else:
                ok = True
            if not ok:
                kind_name = type(default).__name__ if default is not None else "value"
                raise ImproperlyConfigured(
                    f"qiao.E601: server setting {f.name} (SERVER_{f.name.upper()}) must be a "
                    f"non-negative {kind_name}, got {value!r}."
                    if kind_name in ("int", "float")
                    else f"qiao.E601: server setting {f.name} (SERVER_{f.name.upper()}) must be "
                    f"a {kind_name}, got {value!r}."
                )

    def _check_addresses(self) -> None:
        if not isinstance(self.forwarded_allow_ips, list | tuple):
            raise ImproperlyConfigured(
                "qiao.E601: forwarded_allow_ips (SERVER_FORWARDED_ALLOW_IPS) must be a list of "
                f"addresses or a comma-separated string, got {self.forwarded_allow_ips!r}."
            )
        for address in self.forwarded_allow_ips:
            if address == "*":
                continue
            try:
                ipaddress.ip_network(address, strict=False)
            except (ValueError, TypeError):
                raise ImproperlyConfigured(
                    f"qiao.E601: forwarded_allow_ips (SERVER_FORWARDED_ALLOW_IPS) has "
                    f"{address!r}, which is not an IP address or network; use addresses, "
                    "CIDR networks or '*'."
                ) from None
