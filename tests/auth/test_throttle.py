"""Login throttling: per username and per address, memory and the real Redis, the message, the
429 of the login view, and the reset on success."""

from __future__ import annotations

import time
from typing import Any

import pytest

from qiao import ImproperlyConfigured
from qiao.auth import LoginThrottled, MemoryThrottleStore, RedisThrottleStore
from qiao.auth._throttle import username_key
from tests.auth._support import PASSWORD, AuthEnv, post_form
from tests.http._support import Serve


def attempt(client: Any, username: str = "ada", password: str = "wrong") -> Any:
    return post_form(client, "/accounts/login/", {"username": username, "password": password})


def test_five_failures_lock_the_username(env: AuthEnv, serve: Serve) -> None:
    env.user("ada")
    client = serve(env.app())
    for _ in range(5):
        assert attempt(client).status_code == 422
    locked = attempt(client, password=PASSWORD)  # even the right password now
    assert locked.status_code == 429
    assert "Too many failed attempts. Try again in 15 minutes." in locked.text
    assert 890 <= int(locked.headers["retry-after"]) <= 900


def test_a_success_clears_the_username_count(env: AuthEnv, serve: Serve) -> None:
    env.user("ada")
    client = serve(env.app())
    for _ in range(4):
        assert attempt(client).status_code == 422
    assert attempt(client, password=PASSWORD).status_code == 303
    for _ in range(4):
        assert attempt(client).status_code == 422  # counting from zero again


def test_the_address_is_limited_across_usernames(sqlite_env: AuthEnv, serve: Serve) -> None:
    client = serve(sqlite_env.app(AUTH_THROTTLE_IP_FAILURES=3, AUTH_THROTTLE_FAILURES=100))
    for name in ("a1", "a2", "a3"):
        assert attempt(client, name).status_code == 422
    assert attempt(client, "a4").status_code == 429


def test_the_window_ends(sqlite_env: AuthEnv, serve: Serve) -> None:
    sqlite_env.user("ada")
    client = serve(sqlite_env.app(AUTH_THROTTLE_FAILURES=2, AUTH_THROTTLE_WINDOW=1))
    attempt(client)
    attempt(client)
    assert attempt(client).status_code == 429
    time.sleep(1.1)
    assert attempt(client, password=PASSWORD).status_code == 303


def test_zero_turns_a_limit_off(sqlite_env: AuthEnv, serve: Serve) -> None:
    client = serve(sqlite_env.app(AUTH_THROTTLE_FAILURES=0, AUTH_THROTTLE_IP_FAILURES=0))
    for _ in range(8):
        assert attempt(client).status_code == 422


def test_api_callers_get_a_429_problem(sqlite_env: AuthEnv, serve: Serve) -> None:
    from qiao.auth import authenticate
    from qiao.csrf import csrf_exempt

    app = sqlite_env.app(AUTH_THROTTLE_FAILURES=1)

    @app.post("/api/login")
    @csrf_exempt
    def api_login(request: Any) -> dict[str, bool]:
        return {"ok": authenticate(request, username="ada", password="x") is not None}

    client = serve(app)
    assert client.post("/api/login").json() == {"ok": False}
    response = client.post("/api/login")
    assert response.status_code == 429
    assert response.json()["detail"] == "Too many failed attempts. Try again in 15 minutes."


@pytest.mark.parametrize(
    ("seconds", "message"),
    [
        (1, "Try again in 1 minute."),
        (60, "Try again in 1 minute."),
        (61, "Try again in 2 minutes."),
        (899.2, "Try again in 15 minutes."),
    ],
)
def test_the_message_rounds_minutes_up(seconds: float, message: str) -> None:
    error = LoginThrottled(seconds)
    assert error.detail == "Too many failed attempts. " + message
    assert error.status_code == 429


def test_memory_store_counts_and_forgets() -> None:
    store = MemoryThrottleStore()
    assert store.get("k") == (0, 0.0)
    assert store.hit("k", 60)[0] == 1
    count, left = store.hit("k", 60)
    assert count == 2
    assert 59 < left <= 60
    store.reset("k")
    assert store.get("k") == (0, 0.0)


def test_redis_store(redis_url: str, redis_prefix: str) -> None:
    store = RedisThrottleStore(redis_url, prefix=redis_prefix)
    other = RedisThrottleStore(redis_url, prefix=redis_prefix)  # another process
    assert store.get("k") == (0, 0.0)
    store.hit("k", 60)
    count, left = other.hit("k", 60)
    assert count == 2
    assert 59 < left <= 60
    assert store.get("k")[0] == 2
    other.reset("k")
    assert store.get("k") == (0, 0.0)
    store.client.close()
    other.client.close()


def test_redis_throttles_logins_across_apps(
    sqlite_env: AuthEnv, serve: Serve, redis_url: str, redis_prefix: str
) -> None:
    sqlite_env.user("ada")
    stores = [RedisThrottleStore(redis_url, prefix=redis_prefix) for _ in range(2)]
    first = serve(sqlite_env.app(AUTH_THROTTLE_STORE=stores[0], AUTH_THROTTLE_FAILURES=3))
    second = serve(sqlite_env.app(AUTH_THROTTLE_STORE=stores[1], AUTH_THROTTLE_FAILURES=3))
    attempt(first)
    attempt(second)
    attempt(first)
    assert attempt(second, password=PASSWORD).status_code == 429
    stores[0].reset(username_key("ada"))
    assert attempt(second, password=PASSWORD).status_code == 303
    for store in stores:
        store.client.close()


def test_a_redis_url_setting_makes_a_redis_store(sqlite_env: AuthEnv, redis_url: str) -> None:
    app = sqlite_env.app(AUTH_THROTTLE_STORE=redis_url)
    app.compile()
    store = app.extensions["auth"].throttle.store
    assert isinstance(store, RedisThrottleStore)
    store.client.close()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"AUTH_THROTTLE_STORE": "memcached://x"}, "AUTH_THROTTLE_STORE must be"),
        ({"AUTH_THROTTLE_STORE": object()}, "AUTH_THROTTLE_STORE must be"),
        ({"AUTH_THROTTLE_FAILURES": -1}, "AUTH_THROTTLE_FAILURES must be"),
        ({"AUTH_THROTTLE_WINDOW": "900"}, "AUTH_THROTTLE_WINDOW must be"),
        ({"AUTH_PASSWORD_RESET_TIMEOUT": True}, "AUTH_PASSWORD_RESET_TIMEOUT must be"),
    ],
)
def test_bad_throttle_settings(sqlite_env: AuthEnv, config: dict[str, Any], message: str) -> None:
    app = sqlite_env.app(**config)
    with pytest.raises(ImproperlyConfigured, match=f"qiao.E508: {message}"):
        app.compile()
