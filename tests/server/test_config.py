"""``ServerConfig`` (defaults < ``SERVER_*`` app settings < arguments, check ``qiao.E601``) and
the programmatic ways to run the server: ``Server`` start/stop and ``serve_async`` embedded in
an event loop that something else owns."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import qiao
from qiao.server import Server, ServerConfig, serve, serve_async
from qiao.server._serve import BootError
from tests._servers import free_port

E601 = "qiao.E601"


def config_error(**settings: Any) -> str:
    """The E601 message ``ServerConfig.build`` gives for ``settings`` (keyword arguments)."""
    with pytest.raises(qiao.ImproperlyConfigured) as info:
        ServerConfig.build(**settings)
    return str(info.value)


def app_config_error(app_config: dict[str, Any]) -> str:
    """The E601 message ``ServerConfig.build`` gives for these ``SERVER_*`` app settings."""
    with pytest.raises(qiao.ImproperlyConfigured) as info:
        ServerConfig.build(app_config)
    return str(info.value)


# -- precedence ------------------------------------------------------------------------------------
def test_build_without_settings_gives_the_documented_defaults() -> None:
    config = ServerConfig.build()
    assert config == ServerConfig()
    assert (config.host, config.port, config.workers) == ("127.0.0.1", 8000, 1)
    assert config.timeout_graceful == 30.0
    assert config.timeout_keep_alive == 5.0
    assert config.access_log is True
    assert config.proxy_headers is True
    assert config.forwarded_allow_ips == ["127.0.0.1", "::1"]
    assert config.interface == "auto"


def test_default_forwarded_allow_ips_are_not_shared_between_configs() -> None:
    first = ServerConfig.build()
    first.forwarded_allow_ips.append("10.0.0.1")
    assert ServerConfig.build().forwarded_allow_ips == ["127.0.0.1", "::1"]


def test_app_settings_override_the_defaults() -> None:
    config = ServerConfig.build(
        {"SERVER_PORT": 9001, "SERVER_TIMEOUT_KEEP_ALIVE": 1.5, "SERVER_ACCESS_LOG": False}
    )
    assert config.port == 9001
    assert config.timeout_keep_alive == 1.5
    assert config.access_log is False
    assert config.host == "127.0.0.1"  # untouched settings keep their default


def test_arguments_override_app_settings() -> None:
    config = ServerConfig.build(
        {"SERVER_PORT": 9001, "SERVER_WORKERS": 4}, port=9002, access_log=False
    )
    assert config.port == 9002
    assert config.workers == 4
    assert config.access_log is False


def test_none_arguments_leave_the_app_setting_in_place() -> None:
    # ``qiao serve`` passes every flag, None for the ones not given.
    config = ServerConfig.build({"SERVER_PORT": 9001}, port=None, host=None, access_log=None)
    assert config.port == 9001
    assert config.host == "127.0.0.1"
    assert config.access_log is True


def test_app_keys_that_are_not_server_settings_are_ignored() -> None:
    config = ServerConfig.build(
        {"SECRET_KEY": "x", "PORT": 1, "SERVER_NAME": "example.com", "server_port": 1}
    )
    assert config == ServerConfig()


def test_a_qiao_app_config_is_read_from_the_environment_as_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QIAO_SERVER_PORT", "9003")
    monkeypatch.setenv("QIAO_SERVER_ACCESS_LOG", "false")
    monkeypatch.setenv("QIAO_SERVER_FORWARDED_ALLOW_IPS", '["10.0.0.0/8"]')
    app = qiao.App(__name__, config={"SECRET_KEY": "x"})
    app.config.from_env()
    config = ServerConfig.build(app.config)
    assert config.port == 9003
    assert config.access_log is False
    assert config.forwarded_allow_ips == ["10.0.0.0/8"]


def test_float_settings_take_whole_numbers() -> None:
    config = ServerConfig.build({"SERVER_TIMEOUT_GRACEFUL": 3}, timeout_keep_alive=0)
    assert config.timeout_graceful == 3
    assert config.timeout_keep_alive == 0


# -- qiao.E601 -------------------------------------------------------------------------------------
def test_an_unknown_argument_is_refused_by_name() -> None:
    message = config_error(prot=8000)
    assert message == "qiao.E601: unknown server setting 'prot'."


@pytest.mark.parametrize(
    ("key", "value", "kind"),
    [
        ("SERVER_PORT", "8000", "int"),
        ("SERVER_WORKERS", "2", "int"),
        ("SERVER_TIMEOUT_KEEP_ALIVE", "5", "float"),
        ("SERVER_TIMEOUT_GRACEFUL", "1.5", "float"),
        ("SERVER_ACCESS_LOG", "false", "bool"),
        ("SERVER_PROXY_HEADERS", 1, "bool"),
        ("SERVER_BACKLOG", 1.5, "int"),
        ("SERVER_PORT", True, "int"),
        ("SERVER_MAX_REQUESTS", -1, "int"),
        ("SERVER_TIMEOUT_KEEP_ALIVE", -0.5, "float"),
        ("SERVER_TIMEOUT_GRACEFUL", float("nan"), "float"),
    ],
)
def test_an_app_setting_of_the_wrong_type_or_sign_is_refused_by_name(
    key: str, value: Any, kind: str
) -> None:
    message = app_config_error({key: value})
    assert message.startswith(E601)
    assert key in message
    assert f"non-negative {kind}" in message if kind != "bool" else "must be a bool" in message
    assert repr(value) in message


@pytest.mark.parametrize("field", ["workers", "wsgi_threads", "limit_concurrency"])
def test_counts_that_must_be_positive_refuse_zero(field: str) -> None:
    message = config_error(**{field: 0})
    assert message.startswith(E601)
    assert field in message
    assert "at least 1" in message


def test_an_unknown_interface_is_refused() -> None:
    message = config_error(interface="rsgi")
    assert message == (
        "qiao.E601: server setting interface (SERVER_INTERFACE) must be one of auto, native, "
        "asgi, wsgi; got 'rsgi'."
    )


def test_an_unknown_event_loop_is_refused() -> None:
    message = config_error(loop="trio")
    assert message.startswith(E601)
    assert "'trio'" in message


def test_an_unknown_lifespan_mode_is_refused() -> None:
    message = app_config_error({"SERVER_LIFESPAN": "yes"})
    assert message.startswith(E601)
    assert "'yes'" in message


def test_a_port_out_of_range_is_refused() -> None:
    message = config_error(port=70000)
    assert message.startswith(E601)
    assert "70000" in message


def test_a_host_that_is_not_a_string_is_refused() -> None:
    message = app_config_error({"SERVER_HOST": 127})
    assert message.startswith(E601)
    assert "SERVER_HOST" in message


# -- forwarded_allow_ips ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "addresses",
    [
        ["10.0.0.1"],
        ["10.0.0.0/8", "192.168.1.0/24"],
        ["::1", "fd00::/8"],
        ["*"],
        ["10.1.2.3/8"],  # host bits set: taken as its network, as uvicorn does
        [],
    ],
)
def test_forwarded_allow_ips_takes_addresses_networks_and_star(addresses: list[str]) -> None:
    assert ServerConfig.build(forwarded_allow_ips=addresses).forwarded_allow_ips == addresses


@pytest.mark.parametrize("bad", ["proxy.internal", "10.0.0.0/33", "10.0.0.256", "*.example"])
def test_forwarded_allow_ips_refuses_what_is_not_an_address(bad: str) -> None:
    message = config_error(forwarded_allow_ips=["10.0.0.1", bad])
    assert message == (
        f"qiao.E601: forwarded_allow_ips (SERVER_FORWARDED_ALLOW_IPS) has {bad!r}, which is not "
        "an IP address or network; use addresses, CIDR networks or '*'."
    )


def test_forwarded_allow_ips_as_one_string_is_split_or_refused_as_a_whole() -> None:
    value = "10.0.0.1,10.0.0.2"
    error: qiao.ImproperlyConfigured | None = None
    try:
        config = ServerConfig.build({"SERVER_FORWARDED_ALLOW_IPS": value})
    except qiao.ImproperlyConfigured as exc:
        error = exc
    if error is None:
        assert config.forwarded_allow_ips == ["10.0.0.1", "10.0.0.2"]
    else:
        assert str(error).startswith(E601)
        assert "SERVER_FORWARDED_ALLOW_IPS" in str(error)
        assert repr(value) in str(error)


# -- serve() refuses bad settings before it listens ------------------------------------------------
def test_serve_refuses_bad_settings_before_binding() -> None:
    app = qiao.App(__name__, config={"SECRET_KEY": "x", "SERVER_WORKERS": 0})
    port = free_port()
    with pytest.raises(qiao.ImproperlyConfigured, match=r"qiao\.E601"):
        serve(app, port=port)
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # nothing was left listening


def test_serve_refuses_an_unknown_option() -> None:
    app = qiao.App(__name__, config={"SECRET_KEY": "x"})
    with pytest.raises(qiao.ImproperlyConfigured, match="unknown server setting 'wokers'"):
        serve(app, wokers=2)


# -- Server: start, addresses, stop ----------------------------------------------------------------
def make_app(events: list[str] | None = None, **config: Any) -> qiao.App:
    """A qiao app answering ``/`` that records its start-up and shut-down in ``events``."""
    app = qiao.App(__name__, config={"SECRET_KEY": "x", **config})

    @app.get("/")
    def index(request: qiao.Request) -> str:
        return "embedded"

    if events is not None:

        @app.on_startup
        def started() -> None:
            events.append("startup")

        @app.on_shutdown
        def stopped() -> None:
            events.append("shutdown")

    return app


def refuses_connections(host: str, port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((host, port)) != 0


def test_server_start_listens_and_stop_lets_go() -> None:
    events: list[str] = []
    app = make_app(events)

    async def main() -> tuple[str, int]:
        server = Server(app, ServerConfig.build(app.config, port=0, access_log=False))
        await server.start()
        assert events == ["startup"]
        [(host, port)] = [address[:2] for address in server.addresses]
        try:
            async with httpx.AsyncClient() as client:
                response = await client.get(f"http://{host}:{port}/")
            assert (response.status_code, response.text) == (200, "embedded")
            assert response.headers["server"] == "qiao"
        finally:
            await server.stop()
        return host, port

    host, port = asyncio.run(main())
    assert host == "127.0.0.1"
    assert port != 0  # port=0 picked a free port, and addresses says which
    assert events == ["startup", "shutdown"]
    assert refuses_connections(host, port)


def test_server_uses_app_settings_for_its_address() -> None:
    port = free_port()
    app = make_app(SERVER_PORT=port, SERVER_ACCESS_LOG=False)

    async def main() -> list[Any]:
        server = Server(app, ServerConfig.build(app.config))
        await server.start()
        try:
            return server.addresses
        finally:
            await server.stop()

    assert asyncio.run(main()) == [("127.0.0.1", port)]


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A folder with a short path: a Unix socket path must fit in about 100 bytes."""
    with tempfile.TemporaryDirectory(prefix="qiao-", dir="/tmp") as path:
        yield Path(path)


def test_server_on_a_unix_socket_removes_it_when_stopped(short_dir: Path) -> None:
    path = str(short_dir / "app.sock")
    app = make_app()

    async def main() -> tuple[list[Any], int, str]:
        server = Server(app, ServerConfig.build(uds=path, access_log=False))
        await server.start()
        try:
            mode = os.stat(path).st_mode & 0o777
            transport = httpx.AsyncHTTPTransport(uds=path)
            async with httpx.AsyncClient(transport=transport) as client:
                response = await client.get("http://qiao/")
            return server.addresses, mode, response.text
        finally:
            await server.stop()

    addresses, mode, text = asyncio.run(main())
    assert addresses == [path]
    assert mode == 0o660
    assert text == "embedded"
    assert not os.path.exists(path)


def test_server_stop_before_start_does_nothing() -> None:
    server = Server(make_app(), ServerConfig.build(port=0))
    asyncio.run(server.stop())
    assert server.addresses == []


def test_server_start_raises_when_a_start_up_hook_fails() -> None:
    app = make_app()

    @app.on_startup
    def fail() -> None:
        raise RuntimeError("the database is unreachable")

    async def main() -> None:
        server = Server(app, ServerConfig.build(port=0, access_log=False))
        await server.start()

    with pytest.raises(RuntimeError, match="the database is unreachable"):
        asyncio.run(main())


def test_server_serve_reports_a_failed_start_up_as_a_boot_error() -> None:
    app = make_app()

    @app.on_startup
    def fail() -> None:
        raise RuntimeError("the database is unreachable")

    async def main() -> None:
        await Server(app, ServerConfig.build(port=0, access_log=False)).serve()

    with pytest.raises(BootError, match=r"^RuntimeError: the database is unreachable$"):
        asyncio.run(main())


def test_server_serve_reports_an_address_in_use_as_a_boot_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        async def main() -> None:
            await Server(make_app(), ServerConfig.build(port=port, access_log=False)).serve()

        with pytest.raises(BootError) as info:
            asyncio.run(main())
    message = str(info.value)
    assert f"cannot listen on 127.0.0.1:{port}" in message
    assert "in use" in message


def test_server_serve_returns_after_request_stop() -> None:
    events: list[str] = []
    app = make_app(events)

    async def main() -> None:
        server = Server(app, ServerConfig.build(port=0, access_log=False))
        task = asyncio.create_task(server.serve())
        while not server.servers:
            await asyncio.sleep(0.01)
        server.request_stop()
        await asyncio.wait_for(task, 5)

    asyncio.run(main())
    assert events == ["startup", "shutdown"]


# -- serve_async: embedded in someone else's event loop --------------------------------------------
async def first_answer(task: asyncio.Task[None], url: str) -> httpx.Response:
    """The first answer from the server ``task`` starts; then cancel the task and check that
    it ended by cancellation."""
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            for _ in range(500):
                try:
                    return await client.get(url)
                except httpx.TransportError:
                    assert not task.done(), task
                    await asyncio.sleep(0.02)
        raise AssertionError("never answered")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_serve_async_serves_until_its_task_is_cancelled() -> None:
    events: list[str] = []
    app = make_app(events)
    port = free_port()

    async def get(client: httpx.AsyncClient) -> httpx.Response | None:
        try:
            return await client.get(f"http://127.0.0.1:{port}/")
        except httpx.TransportError:
            return None

    async def main() -> tuple[list[str], bool]:
        task = asyncio.create_task(serve_async(app, port=port, access_log=False))
        other_work = asyncio.create_task(asyncio.sleep(0.01, "done"))  # the loop is shared
        async with httpx.AsyncClient(timeout=2) as client:
            deadline = asyncio.get_running_loop().time() + 10
            while (response := await get(client)) is None:
                assert not task.done(), task
                assert asyncio.get_running_loop().time() < deadline, "never answered"
                await asyncio.sleep(0.02)
        assert response.text == "embedded"
        assert await other_work == "done"
        seen = list(events)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        return seen, task.cancelled()

    seen, cancelled = asyncio.run(main())
    assert seen == ["startup"]
    assert cancelled
    assert events == ["startup", "shutdown"]
    assert refuses_connections("127.0.0.1", port)


def test_serve_async_serves_an_asgi_app() -> None:
    port = free_port()

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["path"].encode()})

    async def main() -> str:
        task = asyncio.create_task(serve_async(asgi, port=port, access_log=False))
        return (await first_answer(task, f"http://127.0.0.1:{port}/asgi")).text

    assert asyncio.run(main()) == "/asgi"
    assert refuses_connections("127.0.0.1", port)


def test_serve_async_options_override_app_settings() -> None:
    port = free_port()
    app = make_app(SERVER_PORT=1, SERVER_ACCESS_LOG=True)

    async def main() -> int:
        task = asyncio.create_task(serve_async(app, port=port, access_log=False))
        return (await first_answer(task, f"http://127.0.0.1:{port}/")).status_code

    assert asyncio.run(main()) == 200


def test_server_config_fields_all_have_defaults() -> None:
    # Every field can be left out, so ``SERVER_*`` settings and flags are all optional.
    for field in dataclasses.fields(ServerConfig):
        assert (
            field.default is not dataclasses.MISSING
            or field.default_factory is not dataclasses.MISSING
        ), field.name
