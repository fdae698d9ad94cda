"""The sessions battery: ``request.session`` through the public API, under WSGI and ASGI.

Most tests take the ``serve`` fixture and so run twice, once per interface. Time travel is done
by forging cookie-store values with ``qiao.signing.Signer`` (see ``tests/sessions_support.py``),
not by patching the clock. Redis tests talk to the real server at ``QIAO_TEST_REDIS_URL``
(default ``redis://127.0.0.1:6379/0``) under a key prefix unique to each test; without a
reachable server they skip, unless ``QIAO_REQUIRE_SERVICES=1`` makes that a failure.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qiao
from qiao.http.exceptions import ImproperlyConfigured
from qiao.session_stores import CookieStore, MemoryStore, RedisStore, SessionTooLarge
from qiao.sessions import Sessions, flash, get_flashed_messages
from qiao.signing import BadSignature, Signer
from tests._servers import REPO, free_port, running_server, server_env, venv_bin
from tests.http._support import Serve, qiao_errors
from tests.sessions_support import (
    SECRET,
    SESSION_SALT,
    TWO_WEEKS,
    CountingRedis,
    DictStore,
    RecordingMemoryStore,
    RecordingRedisStore,
    RedisEnv,
    SetCookie,
    forge,
    forge_raw,
    redis_url,
    services_required,
    session_app,
    session_cookie,
    unsign,
    vary,
    with_cookie,
)

#: A session id as the server-side stores issue them: 43 URL-safe characters.
SESSION_ID = re.compile(r"[A-Za-z0-9_\-]{43}")


# -- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(params=["wsgi", "asgi"])
def serve(request: pytest.FixtureRequest) -> Iterator[Serve]:
    """Call the app through WSGI, then (second run) through ASGI; see tests/http/conftest.py."""
    with ExitStack() as stack:
        yield Serve(request.param, stack)


@pytest.fixture
def redis_env() -> Iterator[RedisEnv]:
    """The Redis server at ``QIAO_TEST_REDIS_URL``, with a key prefix for this test only.

    Skips when Redis (or redis-py) is missing, or fails under ``QIAO_REQUIRE_SERVICES=1``.
    """
    url = redis_url()

    def unavailable(reason: str) -> None:
        message = (
            f"Redis tests need a Redis server: {reason}. Start one (redis-server) or point "
            "QIAO_TEST_REDIS_URL at one; QIAO_REQUIRE_SERVICES=1 turns this skip into a failure."
        )
        if services_required():
            pytest.fail(message)
        pytest.skip(message)

    try:
        import redis
    except ImportError:
        unavailable("redis-py is not installed (pip install 'qiao[redis]')")
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        unavailable(f"{url} is unreachable ({exc})")
    env = RedisEnv(url, client, f"qiao-test:{secrets.token_hex(8)}:")
    try:
        yield env
    finally:
        env.cleanup()


@pytest.fixture(params=["memory", "redis"])
def server_store(request: pytest.FixtureRequest) -> Iterator[tuple[Any, Any]]:
    """A server-side store and ``holds(session_id) -> bool`` that looks inside it directly."""
    if request.param == "memory":
        store = MemoryStore()
        yield store, lambda session_id: store.load(session_id) is not None
    else:
        env: RedisEnv = request.getfixturevalue("redis_env")
        yield env.store(), env.exists


def cookie_of(response: httpx.Response, name: str = "session") -> SetCookie:
    """The response's session ``Set-Cookie``; fails the test when there is none."""
    cookie = session_cookie(response, name)
    assert cookie is not None, f"no {name} cookie in {response.headers.get_list('set-cookie')}"
    return cookie


# -- laziness, Vary and the cookie's attributes -------------------------------------------------
def test_a_request_that_never_touches_the_session_sets_no_cookie_and_no_vary(
    serve: Serve,
) -> None:
    client = serve(session_app())
    response = client.get("/none")
    assert response.status_code == 200
    assert response.headers.get_list("set-cookie") == []
    assert "cookie" not in vary(response)


def test_an_untouched_session_is_not_saved_even_when_the_client_has_one(serve: Serve) -> None:
    client = serve(session_app())
    response = client.get("/none", headers=with_cookie(forge({"user": "alice"})))
    assert response.headers.get_list("set-cookie") == []
    assert "cookie" not in vary(response)


@pytest.mark.parametrize("path", ["/read", "/has", "/age"])
def test_reading_the_session_varies_on_cookie_but_sets_no_cookie(serve: Serve, path: str) -> None:
    client = serve(session_app())
    response = client.get(path)
    assert response.status_code == 200
    assert "cookie" in vary(response)
    assert response.headers.get_list("set-cookie") == []


def test_reading_an_existing_session_does_not_resend_it(serve: Serve) -> None:
    client = serve(session_app())
    response = client.get("/read", headers=with_cookie(forge({"user": "alice"})))
    assert response.json() == {"user": "alice"}
    assert response.headers.get_list("set-cookie") == []
    assert "cookie" in vary(response)


def test_writing_sets_the_cookie_with_safe_defaults(serve: Serve) -> None:
    client = serve(session_app())
    before = time.time()
    response = client.get("/write", params={"user": "alice"})
    cookie = cookie_of(response)
    assert cookie.value
    assert cookie.attrs["httponly"] is True
    assert cookie.attrs["samesite"] == "Lax"
    assert cookie.attrs["path"] == "/"
    assert cookie.attrs["max-age"] == str(TWO_WEEKS)
    assert "secure" not in cookie.attrs  # plain HTTP
    assert "domain" not in cookie.attrs
    expires = parsedate_to_datetime(str(cookie.attrs["expires"])).timestamp()
    assert before + TWO_WEEKS - 2 <= expires <= time.time() + TWO_WEEKS + 2
    assert "cookie" in vary(response)


def test_vary_cookie_is_added_to_an_existing_vary(serve: Serve) -> None:
    app = session_app()

    @app.get("/negotiated")
    def negotiated(request: Any) -> qiao.Response:
        request.session["seen"] = True
        return qiao.Response("x", headers={"vary": "Accept-Encoding"})

    response = serve(app).get("/negotiated")
    assert vary(response) == {"accept-encoding", "cookie"}


def test_the_cookie_is_secure_on_https(serve: Serve) -> None:
    client = serve(session_app(), base_url="https://testserver")
    cookie = cookie_of(client.get("/write", params={"user": "alice"}))
    assert cookie.attrs["secure"] is True
    # The client's jar sends the secure cookie back over HTTPS.
    assert client.get("/read").json() == {"user": "alice"}


def test_the_cookie_is_secure_behind_a_trusted_proxy_that_terminates_tls(serve: Serve) -> None:
    client = serve(session_app(TRUSTED_PROXIES=["127.0.0.1"]))
    response = client.get(
        "/write", params={"user": "alice"}, headers={"x-forwarded-proto": "https"}
    )
    assert cookie_of(response).attrs["secure"] is True


def test_forwarded_proto_from_an_untrusted_client_does_not_make_the_cookie_secure(
    serve: Serve,
) -> None:
    client = serve(session_app())
    response = client.get(
        "/write", params={"user": "alice"}, headers={"x-forwarded-proto": "https"}
    )
    assert "secure" not in cookie_of(response).attrs


@pytest.mark.parametrize(
    ("setting", "base_url", "secure"),
    [
        (True, "http://testserver", True),
        (False, "https://testserver", False),
        (None, "http://testserver", False),
        (None, "https://testserver", True),
    ],
)
def test_session_cookie_secure_setting(
    serve: Serve, setting: bool | None, base_url: str, secure: bool
) -> None:
    client = serve(session_app(SESSION_COOKIE_SECURE=setting), base_url=base_url)
    cookie = cookie_of(client.get("/write", params={"user": "alice"}))
    assert ("secure" in cookie.attrs) is secure


def test_custom_cookie_name_domain_and_path(serve: Serve) -> None:
    app = session_app(
        prefix="/app",
        SESSION_COOKIE_NAME="sid",
        SESSION_COOKIE_DOMAIN="example.test",
        SESSION_COOKIE_PATH="/app",
    )
    client = serve(app)
    response = client.get("/app/write", params={"user": "alice"})
    assert session_cookie(response) is None
    cookie = cookie_of(response, "sid")
    assert cookie.attrs["domain"] == "example.test"
    assert cookie.attrs["path"] == "/app"
    # The custom name is the one read back, and clearing deletes it with the same scope.
    fresh = serve(app)
    assert fresh.get("/app/read", headers=with_cookie(cookie.value, "sid")).json() == {
        "user": "alice"
    }
    assert fresh.get("/app/read", headers=with_cookie(cookie.value, "session")).json() == {}
    cleared = cookie_of(fresh.get("/app/clear", headers=with_cookie(cookie.value, "sid")), "sid")
    assert cleared.deletes
    assert cleared.attrs["domain"] == "example.test"
    assert cleared.attrs["path"] == "/app"


def test_options_override_settings(serve: Serve) -> None:
    app = qiao.App(__name__, config={"SECRET_KEY": SECRET, "SESSION_COOKIE_NAME": "from-config"})
    Sessions(app, cookie_name="sid", cookie_age=60, cookie_samesite="Strict")

    @app.get("/")
    def index(request: Any) -> str:
        request.session["n"] = 1
        return "ok"

    cookie = cookie_of(serve(app).get("/"), "sid")
    assert cookie.attrs["max-age"] == "60"
    assert cookie.attrs["samesite"] == "Strict"


def test_settings_are_read_when_the_app_compiles_not_at_install(serve: Serve) -> None:
    app = session_app()
    app.config.from_mapping(SESSION_COOKIE_NAME="late", SESSION_COOKIE_AGE=90)
    cookie = cookie_of(serve(app).get("/write", params={"a": "1"}), "late")
    assert cookie.attrs["max-age"] == "90"


@pytest.mark.parametrize(
    ("setting", "attribute"),
    [("Lax", "Lax"), ("lax", "Lax"), ("Strict", "Strict"), ("STRICT", "Strict"), (None, None)],
)
def test_samesite_setting(serve: Serve, setting: str | None, attribute: str | None) -> None:
    client = serve(session_app(SESSION_COOKIE_SAMESITE=setting))
    cookie = cookie_of(client.get("/write", params={"a": "1"}))
    assert cookie.attrs.get("samesite") == attribute


def test_samesite_none_on_https_is_sent_with_secure(serve: Serve) -> None:
    client = serve(session_app(SESSION_COOKIE_SAMESITE="None"), base_url="https://testserver")
    cookie = cookie_of(client.get("/write", params={"a": "1"}))
    assert cookie.attrs["samesite"] == "None"
    assert cookie.attrs["secure"] is True


def test_samesite_none_over_plain_http_does_not_break_the_response(serve: Serve) -> None:
    client = serve(session_app(SESSION_COOKIE_SAMESITE="None"))
    response = client.get("/write", params={"a": "1"})
    assert response.status_code == 200
    cookie = cookie_of(response)
    assert cookie.attrs["samesite"] == "None"
    assert cookie.attrs["secure"] is True


def test_samesite_none_with_secure_off_fails_at_compile() -> None:
    app = session_app(SESSION_COOKIE_SAMESITE="None", SESSION_COOKIE_SECURE=False)
    with pytest.raises(ImproperlyConfigured, match=r"qiao\.E202"):
        app.compile()


def test_httponly_can_be_turned_off(serve: Serve) -> None:
    client = serve(session_app(SESSION_COOKIE_HTTPONLY=False))
    cookie = cookie_of(client.get("/write", params={"a": "1"}))
    assert "httponly" not in cookie.attrs


# -- saving -------------------------------------------------------------------------------------
def test_the_session_is_saved_only_when_modified(serve: Serve) -> None:
    client = serve(session_app())
    assert session_cookie(client.get("/write", params={"user": "alice"})) is not None
    response = client.get("/read")
    assert response.json() == {"user": "alice"}
    assert session_cookie(response) is None
    assert session_cookie(client.get("/write", params={"user": "bob"})) is not None
    assert client.get("/read").json() == {"user": "bob"}


def test_mutating_a_nested_value_in_place_is_not_noticed_unless_marked_modified(
    serve: Serve,
) -> None:
    app = session_app()

    @app.get("/append/<mark>")
    def append(request: Any, mark: str) -> dict[str, Any]:
        request.session["items"].append(1)
        if mark == "mark":
            request.session.modified = True
        return dict(request.session)

    client = serve(app)
    client.post("/set", json={"items": []})
    assert session_cookie(client.get("/append/nomark")) is None
    assert client.get("/read").json() == {"items": []}
    assert session_cookie(client.get("/append/mark")) is not None
    assert client.get("/read").json() == {"items": [1]}


def test_save_every_request_resends_a_session_that_was_only_read(serve: Serve) -> None:
    client = serve(session_app(SESSION_SAVE_EVERY_REQUEST=True))
    client.get("/write", params={"user": "alice"})
    response = client.get("/read")
    cookie = cookie_of(response)
    assert cookie.attrs["max-age"] == str(TWO_WEEKS)
    assert unsign(cookie.value)["d"] == {"user": "alice"}


def test_save_every_request_does_not_create_empty_sessions(serve: Serve) -> None:
    client = serve(session_app(SESSION_SAVE_EVERY_REQUEST=True))
    assert client.get("/read").headers.get_list("set-cookie") == []
    assert client.get("/none").headers.get_list("set-cookie") == []


def test_save_every_request_refreshes_on_requests_that_never_touch_the_session(
    serve: Serve,
) -> None:
    client = serve(session_app(SESSION_SAVE_EVERY_REQUEST=True))
    client.get("/write", params={"user": "alice"})
    assert session_cookie(client.get("/none")) is not None


def test_clear_deletes_the_cookie(serve: Serve) -> None:
    client = serve(session_app())
    client.get("/write", params={"user": "alice"})
    response = client.get("/clear")
    cookie = cookie_of(response)
    assert cookie.deletes
    assert cookie.attrs["path"] == "/"
    assert "cookie" in vary(response)
    assert client.get("/read").json() == {}


def test_clear_without_a_cookie_sends_nothing(serve: Serve) -> None:
    client = serve(session_app())
    assert client.get("/clear").headers.get_list("set-cookie") == []


def test_clear_then_write_in_one_request_keeps_only_the_new_data(serve: Serve) -> None:
    app = session_app()

    @app.get("/relogin")
    def relogin(request: Any) -> str:
        request.session.clear()
        request.session["user"] = "bob"
        return "ok"

    client = serve(app)
    client.get("/write", params={"user": "alice", "cart": "3"})
    assert session_cookie(client.get("/relogin")) is not None
    assert client.get("/read").json() == {"user": "bob"}


def test_clearing_a_host_prefixed_cookie_deletes_it_with_secure(serve: Serve) -> None:
    client = serve(session_app(SESSION_COOKIE_NAME="__Host-session"), base_url="https://testserver")
    set_ = cookie_of(client.get("/write", params={"user": "alice"}), "__Host-session")
    assert set_.attrs["secure"] is True
    deleted = cookie_of(client.get("/clear"), "__Host-session")
    assert deleted.deletes
    assert deleted.attrs.get("secure") is True


ROUND_TRIP = {
    "str": "text",
    "empty": "",
    "int": 42,
    "negative": -7,
    "big": 2**53,
    "float": 0.1,
    "tiny": 1e-300,
    "true": True,
    "false": False,
    "none": None,
    "list": [1, "two", [3.5, None]],
    "empty_list": [],
    "dict": {"nested": {"deep": [{"k": "v"}]}},
    "empty_dict": {},
    "unicode": 'héllo wörld 世界 🎉 \u0000 "quotes" ; , \\',
    "ключ": "значение",
}


@pytest.mark.parametrize("store", ["cookie", "memory"])
def test_data_round_trips(serve: Serve, store: str) -> None:
    client = serve(session_app(store=store))
    assert client.post("/set", json=ROUND_TRIP).status_code == 200
    loaded = client.get("/read").json()
    assert loaded == ROUND_TRIP
    assert [type(v) for v in loaded.values()] == [type(v) for v in ROUND_TRIP.values()]


def test_values_come_back_as_json_types(serve: Serve) -> None:
    """The session keeps JSON: tuples come back as lists; say so in the docs."""
    app = session_app()

    @app.get("/tuple")
    def put_tuple(request: Any) -> str:
        request.session["pair"] = (1, 2)
        return "ok"

    client = serve(app)
    client.get("/tuple")
    assert client.get("/read").json() == {"pair": [1, 2]}


def test_the_session_is_a_mutable_mapping(serve: Serve) -> None:
    app = session_app()

    @app.get("/mapping")
    def mapping(request: Any) -> dict[str, Any]:
        session = request.session
        session["a"] = 1
        session.update(b=2, c=3)
        assert session.setdefault("a", 99) == 1
        assert session.pop("b") == 2
        assert session.pop("missing", "default") == "default"
        del session["c"]
        session.set_expiry(60)  # kept under a reserved key that the mapping hides
        assert "_qiao_expiry" not in session
        with pytest.raises(KeyError):
            session["_qiao_expiry"]
        return {
            "len": len(session),
            "keys": sorted(session),
            "items": sorted(session.items()),
            "get": session.get("a"),
            "missing": session.get("zzz", "fallback"),
            "repr": repr(session),
            "key": session.key,
        }

    body = serve(app).get("/mapping").json()
    assert body == {
        "len": 1,
        "keys": ["a"],
        "items": [["a", 1]],
        "get": 1,
        "missing": "fallback",
        "repr": "<Session {'a': 1}>",
        "key": None,  # the cookie store keeps no server-side id
    }


def test_a_cookie_session_has_no_server_side_key(serve: Serve) -> None:
    client = serve(session_app())
    client.get("/write", params={"user": "alice"})
    assert client.get("/key").text == "None"


def test_the_cookie_store_payload_is_the_signed_data_and_its_expiry(serve: Serve) -> None:
    """Pins the format the tests forge: ``{"d": data, "x": expires_at}``, salt qiao.sessions.

    It also shows the threat model: anyone holding the cookie can read the data (signed, not
    encrypted); without the key nobody can change it.
    """
    client = serve(session_app())
    cookie = cookie_of(client.get("/write", params={"user": "alice"}))
    payload = unsign(cookie.value)
    assert payload["d"] == {"user": "alice"}
    assert abs(payload["x"] - (time.time() + TWO_WEEKS)) <= 2
    # Readable without any key (base64 JSON): never put secrets in a cookie session.
    encoded = cookie.value.split(".")[0]
    decoded = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    assert json.loads(decoded) == payload


# -- tampering ----------------------------------------------------------------------------------
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _flip(value: str, index: int) -> str:
    """Change one base64 character so that it decodes differently: 32 places on flips its top
    bit (a change to the low bits of a final character may only touch padding bits)."""
    replacement = _B64[(_B64.index(value[index]) + 32) % 64]
    return value[:index] + replacement + value[index + 1 :]


GOOD = {"user": "alice", "role": "admin"}


def _tampered_cases() -> list[Any]:
    valid = forge(GOOD)
    payload, timestamp, signature = valid.split(".")
    now = int(time.time())
    huge = forge({"pad": secrets.token_urlsafe(9000)})  # random: it does not compress
    assert len(huge) > 8192
    cases: list[tuple[str, str]] = [
        ("flipped-payload-byte", _flip(valid, 3)),
        ("flipped-payload-last-byte", _flip(valid, len(payload) - 1)),
        ("flipped-timestamp", f"{payload}.{_flip(timestamp, 0)}.{signature}"),
        ("flipped-signature-byte", _flip(valid, len(valid) - 5)),
        ("flipped-signature-last-byte", _flip(valid, len(valid) - 1)),
        ("truncated-half", valid[: len(valid) // 2]),
        ("truncated-one", valid[:-1]),
        ("signature-dropped", f"{payload}.{timestamp}"),
        ("payload-only", payload),
        ("swapped-parts", f"{signature}.{timestamp}.{payload}"),
        ("empty", ""),
        ("garbage", "garbage"),
        ("dots", "...."),
        ("three-dots", "a.b.c"),
        ("percent-junk", "%FF%FE%00"),
        ("quoted", '"abc"'),
        ("unicode", "%E4%B8%96%E7%95%8C"),
        ("huge-junk", "A" * 9000),
        ("huge-but-validly-signed", huge),
        ("wrong-key", forge(GOOD, key="not-the-key")),
        ("other-salt", forge(GOOD, salt="other")),
        ("payload-list", forge(None, payload=[1, 2])),
        ("payload-string", forge(None, payload="alice")),
        ("payload-int", forge(None, payload=42)),
        ("payload-null", forge(None, payload=None)),
        ("payload-data-not-dict", forge(None, payload={"d": ["user"], "x": now + 60})),
        ("payload-data-missing", forge(None, payload={"x": now + 60})),
        ("payload-expiry-missing", forge(None, payload={"d": GOOD})),
        ("payload-expiry-string", forge(None, payload={"d": GOOD, "x": str(now + 60)})),
        ("payload-expiry-float", forge(None, payload={"d": GOOD, "x": now + 60.5})),
        ("payload-expiry-null", forge(None, payload={"d": GOOD, "x": None})),
        ("payload-expiry-true", forge(None, payload={"d": GOOD, "x": True})),
        ("payload-expired", forge(GOOD, expires_at=now - 1)),
        ("payload-expired-long-ago", forge(GOOD, expires_at=0)),
        ("payload-not-json", forge_raw("{not json")),
        ("payload-json-with-trailing-junk", forge_raw('{"d": {}, "x": 1}}}')),
    ]
    return [pytest.param(value, id=name) for name, value in cases]


def test_the_untampered_cookie_is_accepted(serve: Serve) -> None:
    """The control for the tampering tests: the cookie they start from does load."""
    response = serve(session_app()).get("/read", headers=with_cookie(forge(GOOD)))
    assert response.json() == GOOD


@pytest.mark.parametrize("value", _tampered_cases())
def test_a_bad_cookie_gives_an_empty_session_never_an_error(
    serve: Serve, value: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = serve(session_app())
    response = client.get("/read", headers=with_cookie(value))
    assert response.status_code == 200
    assert response.json() == {}
    assert not qiao_errors(caplog.records)


@pytest.mark.parametrize("value", _tampered_cases()[:6])
def test_writing_over_a_bad_cookie_issues_a_fresh_valid_one(serve: Serve, value: str) -> None:
    client = serve(session_app())
    response = client.get("/write", params={"n": "1"}, headers=with_cookie(value))
    assert response.json() == {"n": "1"}
    assert unsign(cookie_of(response).value)["d"] == {"n": "1"}


def test_a_bad_cookie_in_an_async_view_gives_an_empty_session(serve: Serve) -> None:
    client = serve(session_app())
    response = client.get("/async/read", headers=with_cookie(forge(GOOD, key="wrong")))
    assert response.status_code == 200
    assert response.json() == {}


@settings(max_examples=300, deadline=None)
@given(cookie=st.text())
def test_any_cookie_value_loads_as_an_empty_session_without_raising(cookie: str) -> None:
    for store in ("cookie", "memory"):
        app = qiao.App(__name__, config={"SECRET_KEY": SECRET})
        battery = Sessions(app, store=store)
        app.compile()
        data, key = battery.load(cookie)
        assert data == {}
        assert key is None


_COOKIE_CHARS = st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=";,\\")


@settings(max_examples=100, deadline=None)
@given(cookie=st.text(alphabet=_COOKIE_CHARS, max_size=300))
def test_any_cookie_header_is_answered_without_error(cookie: str) -> None:
    app = session_app()
    with app.test_client() as client:
        response = client.get("/read", headers=with_cookie(cookie))
    assert response.status_code == 200
    assert response.json() == {}


# -- expiry -------------------------------------------------------------------------------------
def test_session_cookie_age_sets_max_age_and_the_signed_expiry(serve: Serve) -> None:
    client = serve(session_app(SESSION_COOKIE_AGE=60))
    cookie = cookie_of(client.get("/write", params={"user": "alice"}))
    assert cookie.attrs["max-age"] == "60"
    assert abs(unsign(cookie.value)["x"] - (time.time() + 60)) <= 2
    assert client.get("/age").text == "60"


def test_a_cookie_past_its_signed_expiry_is_ignored(serve: Serve) -> None:
    """A tiny SESSION_COOKIE_AGE, then travel past it by re-signing the issued payload."""
    app = session_app(SESSION_COOKIE_AGE=1)
    client = serve(app)
    issued = unsign(cookie_of(client.get("/write", params={"user": "alice"})).value)
    still_valid = forge(None, payload={**issued, "x": int(time.time()) + 1})
    expired = forge(None, payload={**issued, "x": issued["x"] - 2})
    fresh = serve(app)
    assert fresh.get("/read", headers=with_cookie(still_valid)).json() == {"user": "alice"}
    assert fresh.get("/read", headers=with_cookie(expired)).json() == {}


def test_the_signature_age_alone_does_not_expire_a_session(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Expiry lives in the signed payload: a value signed in 2001 whose payload says it is
    valid for ten more minutes still loads (set_expiry can lengthen a session)."""
    valid_until = int(time.time()) + 600
    with monkeypatch.context() as patched:
        patched.setattr(time, "time", lambda: 1_000_000_000.0)  # itsdangerous's clock
        value = forge({"u": 1}, expires_at=valid_until)
    client = serve(session_app(SESSION_COOKIE_AGE=1))
    assert client.get("/read", headers=with_cookie(value)).json() == {"u": 1}


def test_set_expiry_seconds(serve: Serve) -> None:
    client = serve(session_app())
    response = client.get("/expiry/300")
    assert response.text == "300"
    cookie = cookie_of(response)
    assert cookie.attrs["max-age"] == "300"
    assert abs(unsign(cookie.value)["x"] - (time.time() + 300)) <= 2
    # The lifetime is kept with the session, and hidden from its keys.
    assert client.get("/age").text == "300"
    assert client.get("/read").json() == {"user": "alice"}
    # Saving again keeps the per-session lifetime.
    assert cookie_of(client.get("/write", params={"n": "1"})).attrs["max-age"] == "300"


def test_set_expiry_zero_makes_a_browser_session_cookie(serve: Serve) -> None:
    client = serve(session_app(SESSION_COOKIE_AGE=600))
    response = client.get("/expiry/0")
    assert response.text == "None"
    cookie = cookie_of(response)
    assert "max-age" not in cookie.attrs
    assert "expires" not in cookie.attrs
    # The server still bounds it: the signed expiry is SESSION_COOKIE_AGE away.
    assert abs(unsign(cookie.value)["x"] - (time.time() + 600)) <= 2
    assert client.get("/age").text == "None"


def test_set_expiry_none_goes_back_to_the_default(serve: Serve) -> None:
    client = serve(session_app(SESSION_COOKIE_AGE=600))
    client.get("/expiry/0")
    response = client.get("/expiry/default")
    assert response.text == "600"
    assert cookie_of(response).attrs["max-age"] == "600"


def test_set_expiry_rejects_negative_seconds(serve: Serve) -> None:
    app = session_app()

    @app.get("/negative")
    def negative(request: Any) -> str:
        with pytest.raises(ValueError, match=r"Session expiry must be >= 0 seconds, got -1"):
            request.session.set_expiry(-1)
        return "checked"

    assert serve(app).get("/negative").text == "checked"


def test_set_expiry_with_a_float_rounds_down_to_whole_seconds(serve: Serve) -> None:
    app = session_app()

    @app.get("/float")
    def float_expiry(request: Any) -> str:
        request.session["user"] = "alice"
        request.session.set_expiry(90.9)  # timedelta(...).total_seconds()
        return str(request.session.get_expiry_age())

    client = serve(app)
    response = client.get("/float")
    assert response.text == "90"
    assert cookie_of(response).attrs["max-age"] == "90"
    assert client.get("/read").json() == {"user": "alice"}


def test_expire_at_browser_close(serve: Serve) -> None:
    client = serve(session_app(SESSION_EXPIRE_AT_BROWSER_CLOSE=True, SESSION_COOKIE_AGE=600))
    cookie = cookie_of(client.get("/write", params={"user": "alice"}))
    assert "max-age" not in cookie.attrs
    assert "expires" not in cookie.attrs
    assert abs(unsign(cookie.value)["x"] - (time.time() + 600)) <= 2
    assert client.get("/age").text == "None"
    # A per-session lifetime still wins.
    assert cookie_of(client.get("/expiry/120")).attrs["max-age"] == "120"


def test_get_expiry_age_defaults_to_session_cookie_age(serve: Serve) -> None:
    assert serve(session_app()).get("/age").text == str(TWO_WEEKS)
    assert serve(session_app(SESSION_COOKIE_AGE=5)).get("/age").text == "5"


def test_memory_store_forgets_a_session_after_its_age(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MemoryStore keeps no signed expiry to forge, so its clock is moved instead."""
    import qiao.session_stores as stores

    offset = [0.0]

    class Clock:
        @staticmethod
        def time() -> float:
            return time.time() + offset[0]

        @staticmethod
        def monotonic() -> float:
            return time.monotonic() + offset[0]

    monkeypatch.setattr(stores, "time", Clock)
    client = serve(session_app(store="memory", SESSION_COOKIE_AGE=60))
    client.get("/write", params={"user": "alice"})
    offset[0] = 59
    assert client.get("/read").json() == {"user": "alice"}
    offset[0] = 61
    assert client.get("/read").json() == {}


# -- key rotation -------------------------------------------------------------------------------
def test_a_cookie_signed_with_an_old_key_verifies_while_the_key_is_a_fallback(
    serve: Serve,
) -> None:
    old = serve(session_app(SECRET_KEY="old-key"))
    value = cookie_of(old.get("/write", params={"user": "alice"})).value

    rotated = session_app(SECRET_KEY="new-key", SECRET_KEY_FALLBACKS=["old-key"])
    client = serve(rotated)
    response = client.get("/read", headers=with_cookie(value))
    assert response.json() == {"user": "alice"}
    assert session_cookie(response) is None  # reading alone does not re-sign

    # The next save re-signs with the new key.
    resigned = cookie_of(client.get("/write", params={"n": "1"}, headers=with_cookie(value))).value
    assert unsign(resigned, key="new-key")["d"] == {"user": "alice", "n": "1"}
    with pytest.raises(BadSignature):
        unsign(resigned, key="old-key")

    # Once the old key is dropped, its cookies stop working; the re-signed one still does.
    dropped = serve(session_app(SECRET_KEY="new-key"))
    assert dropped.get("/read", headers=with_cookie(value)).json() == {}
    assert dropped.get("/read", headers=with_cookie(resigned)).json() == {
        "user": "alice",
        "n": "1",
    }


def test_every_fallback_key_verifies(serve: Serve) -> None:
    client = serve(session_app(SECRET_KEY="k3", SECRET_KEY_FALLBACKS=["k2", "k1"]))
    for key in ("k3", "k2", "k1"):
        assert client.get("/read", headers=with_cookie(forge({"by": key}, key=key))).json() == {
            "by": key
        }
    assert client.get("/read", headers=with_cookie(forge({"by": "k0"}, key="k0"))).json() == {}


def test_a_string_of_fallbacks_is_refused_at_compile() -> None:
    """SECURITY: ``QIAO_SECRET_KEY_FALLBACKS=old-key`` loads a str; split into letters, it would
    make a cookie signed with the one-letter key ``"o"`` verify. The string is refused instead."""
    app = session_app(SECRET_KEY="new-key", SECRET_KEY_FALLBACKS="old-key")
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY_FALLBACKS must be a list"):
        app.compile()


def test_a_one_letter_prefix_of_a_fallback_key_does_not_verify(serve: Serve) -> None:
    client = serve(session_app(SECRET_KEY="new-key", SECRET_KEY_FALLBACKS=["old-key"]))
    assert client.get("/read", headers=with_cookie(forge({"u": 1}, key="old-key"))).json() == {
        "u": 1
    }
    assert client.get("/read", headers=with_cookie(forge({"u": 1}, key="o"))).json() == {}


# -- size limit ---------------------------------------------------------------------------------
def test_a_session_over_the_size_limit_is_a_clear_server_error(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    client = serve(session_app(SESSION_MAX_SIZE=200))
    response = client.get("/write", params={"blob": secrets.token_urlsafe(300)})
    assert response.status_code == 500
    assert response.headers.get_list("set-cookie") == []
    errors = qiao_errors(caplog.records)
    assert len(errors) == 1
    assert errors[0].exc_info is not None
    exc = errors[0].exc_info[1]
    assert isinstance(exc, SessionTooLarge)
    message = str(exc)
    assert re.search(
        r"The session cookie would be \d+ bytes, over SESSION_MAX_SIZE \(200\)", message
    )
    assert "browsers drop such cookies" in message
    assert "SESSION_STORE='redis://" in message  # names the way out
    # The secret key is nowhere in what the client sees.
    assert SECRET not in response.text


def test_a_session_within_the_size_limit_is_saved(serve: Serve) -> None:
    client = serve(session_app(SESSION_MAX_SIZE=400))
    response = client.get("/write", params={"blob": "x" * 50})
    assert response.status_code == 200
    assert len(cookie_of(response).value) <= 400


def test_the_size_limit_can_be_an_option(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    app = qiao.App(__name__, config={"SECRET_KEY": SECRET})
    Sessions(app, max_size=100)

    @app.get("/")
    def index(request: Any) -> str:
        request.session["blob"] = secrets.token_urlsafe(200)
        return "ok"

    assert serve(app).get("/").status_code == 500
    assert "SESSION_MAX_SIZE (100)" in caplog.text


def test_session_too_large_is_a_value_error() -> None:
    assert issubclass(SessionTooLarge, ValueError)


def test_a_cookie_the_app_sends_fits_the_browser_limit(serve: Serve) -> None:
    blob = secrets.token_urlsafe(6000)
    signer = Signer(SECRET, salt=SESSION_SALT)
    expires = int(time.time()) + TWO_WEEKS
    size = next(
        n
        for n in range(2000, 6000)
        if 4089 <= len(signer.dumps({"d": {"b": blob[:n]}, "x": expires})) <= 4093
    )
    app = session_app()
    response = serve(app).post("/set", json={"b": blob[:size]})
    if response.status_code == 200:
        cookie = cookie_of(response)
        assert len(cookie.name) + 1 + len(cookie.value) <= 4096


# -- fixation: server-side ids ------------------------------------------------------------------
def test_a_server_side_session_cookie_holds_only_a_fresh_id(
    serve: Serve, server_store: tuple[Any, Any]
) -> None:
    store, holds = server_store
    client = serve(session_app(store=store))
    response = client.get("/write", params={"user": "alice"})
    session_id = cookie_of(response).value
    assert SESSION_ID.fullmatch(session_id)
    assert "alice" not in session_id
    assert holds(session_id)
    assert client.get("/key").text == session_id
    assert client.get("/read").json() == {"user": "alice"}


def test_cycle_key_keeps_the_data_under_a_new_id_and_retires_the_old(
    serve: Serve, server_store: tuple[Any, Any]
) -> None:
    store, holds = server_store
    app = session_app(store=store)
    client = serve(app)
    old_id = cookie_of(client.get("/write", params={"cart": "3"})).value
    response = client.get("/login", params={"user": "alice"})
    new_id = cookie_of(response).value
    assert SESSION_ID.fullmatch(new_id)
    assert new_id != old_id
    assert response.json() == {"cart": "3", "user": "alice"}
    assert holds(new_id)
    assert not holds(old_id)
    assert client.get("/read").json() == {"cart": "3", "user": "alice"}
    # Whoever kept the old id holds a dead session.
    attacker = serve(app)
    assert attacker.get("/read", headers=with_cookie(old_id)).json() == {}


def test_cycle_key_on_a_new_session_just_issues_an_id(
    serve: Serve, server_store: tuple[Any, Any]
) -> None:
    store, holds = server_store
    client = serve(session_app(store=store))
    session_id = cookie_of(client.get("/login")).value
    assert holds(session_id)
    assert client.get("/read").json() == {"user": "alice"}


def test_flush_empties_the_session_and_retires_the_id(
    serve: Serve, server_store: tuple[Any, Any]
) -> None:
    store, holds = server_store
    app = session_app(store=store)
    client = serve(app)
    session_id = cookie_of(client.get("/write", params={"user": "alice"})).value
    response = client.get("/flush")
    assert cookie_of(response).deletes
    assert not holds(session_id)
    assert client.get("/read").json() == {}
    assert serve(app).get("/read", headers=with_cookie(session_id)).json() == {}


def test_clear_deletes_the_stored_data_and_the_cookie(
    serve: Serve, server_store: tuple[Any, Any]
) -> None:
    store, holds = server_store
    client = serve(session_app(store=store))
    session_id = cookie_of(client.get("/write", params={"user": "alice"})).value
    assert cookie_of(client.get("/clear")).deletes
    assert not holds(session_id)


def test_an_unknown_id_is_never_adopted(serve: Serve, server_store: tuple[Any, Any]) -> None:
    store, holds = server_store
    client = serve(session_app(store=store))
    planted = secrets.token_urlsafe(32)  # the right shape, but the server never issued it
    response = client.get("/write", params={"user": "victim"}, headers=with_cookie(planted))
    issued = cookie_of(response).value
    assert issued != planted
    assert SESSION_ID.fullmatch(issued)
    assert holds(issued)
    assert not holds(planted)


def test_a_modified_session_keeps_its_id(serve: Serve, server_store: tuple[Any, Any]) -> None:
    store, _ = server_store
    client = serve(session_app(store=store))
    first = cookie_of(client.get("/write", params={"a": "1"})).value
    second = cookie_of(client.get("/write", params={"b": "2"})).value
    assert first == second
    assert client.get("/read").json() == {"a": "1", "b": "2"}


def test_cycle_key_with_the_cookie_store_keeps_the_data(serve: Serve) -> None:
    client = serve(session_app())
    client.get("/write", params={"cart": "3"})
    response = client.get("/login", params={"user": "alice"})
    assert unsign(cookie_of(response).value)["d"] == {"cart": "3", "user": "alice"}
    assert client.get("/read").json() == {"cart": "3", "user": "alice"}


def test_with_the_cookie_store_a_copied_cookie_outlives_logout_until_it_expires(
    serve: Serve,
) -> None:
    """The threat model the docs state: a cookie session cannot be revoked on the server."""
    app = session_app()
    client = serve(app)
    copied = cookie_of(client.get("/write", params={"user": "alice"})).value
    assert cookie_of(client.get("/flush")).deletes
    assert client.get("/read").json() == {}
    assert serve(app).get("/read", headers=with_cookie(copied)).json() == {"user": "alice"}


# -- Redis --------------------------------------------------------------------------------------
WRONG_SHAPES = [
    "short",
    "A" * 42,
    "A" * 44,
    "A" * 42 + "=",
    "A" * 42 + ".",
    "A" * 40 + "../",
    "A" * 42 + "*",
    "*",
    "A" * 42 + "%20",
    "%00" + "A" * 42,
    "qiao:session:" + "A" * 30,
]


@pytest.mark.parametrize("value", WRONG_SHAPES)
def test_ids_of_the_wrong_shape_are_never_looked_up(
    serve: Serve, redis_env: RedisEnv, value: str
) -> None:
    spy = CountingRedis(redis_env.client)
    client = serve(session_app(store=RedisStore(client=spy, prefix=redis_env.prefix)))
    response = client.get("/read", headers=with_cookie(value))
    assert response.json() == {}
    assert spy.gets == []
    # The control: an id of the right shape is looked up.
    right = secrets.token_urlsafe(32)
    client.get("/read", headers=with_cookie(right))
    assert spy.gets == [redis_env.prefix + right]


def test_an_id_with_a_trailing_newline_is_never_looked_up(
    serve: Serve, redis_env: RedisEnv
) -> None:
    spy = CountingRedis(redis_env.client)
    client = serve(session_app(store=RedisStore(client=spy, prefix=redis_env.prefix)))
    client.get("/read", headers=with_cookie("A" * 43 + "%0A"))
    assert spy.gets == []


def test_redis_sessions_have_a_ttl(serve: Serve, redis_env: RedisEnv) -> None:
    client = serve(session_app(store=redis_env.store(), SESSION_COOKIE_AGE=600))
    session_id = cookie_of(client.get("/write", params={"user": "alice"})).value
    assert redis_env.raw(session_id) == {"user": "alice"}
    assert 590 <= redis_env.ttl(session_id) <= 600


def test_set_expiry_sets_the_redis_ttl(serve: Serve, redis_env: RedisEnv) -> None:
    client = serve(session_app(store=redis_env.store(), SESSION_COOKIE_AGE=600))
    session_id = cookie_of(client.get("/expiry/120")).value
    assert 110 <= redis_env.ttl(session_id) <= 120
    # A browser-session cookie is still bounded on the server by SESSION_COOKIE_AGE.
    client.get("/expiry/0")
    assert 590 <= redis_env.ttl(session_id) <= 600


def test_an_expired_redis_session_is_empty_and_a_new_id_is_issued(
    serve: Serve, redis_env: RedisEnv
) -> None:
    client = serve(session_app(store=redis_env.store()))
    session_id = cookie_of(client.get("/write", params={"user": "alice"})).value
    redis_env.client.expire(redis_env.prefix + session_id, 0)  # the TTL runs out
    assert client.get("/read").json() == {}
    new_id = cookie_of(client.get("/write", params={"user": "bob"})).value
    assert new_id != session_id


def test_redis_data_round_trips_without_a_cookie_size_limit(
    serve: Serve, redis_env: RedisEnv
) -> None:
    client = serve(session_app(store=redis_env.store()))
    data = {**ROUND_TRIP, "blob": secrets.token_urlsafe(20_000)}
    response = client.post("/set", json=data)
    assert response.status_code == 200
    assert len(cookie_of(response).value) == 43
    assert client.get("/read").json() == data


def test_redis_sessions_are_shared_between_app_instances(serve: Serve, redis_env: RedisEnv) -> None:
    """Two apps, each with its own connection: two processes behind one load balancer."""
    first = serve(session_app(store=redis_env.store()))
    second = serve(session_app(store=redis_env.store()))
    session_id = cookie_of(first.get("/write", params={"user": "alice"})).value
    assert second.get("/read", headers=with_cookie(session_id)).json() == {"user": "alice"}
    second.get("/write", params={"cart": "2"}, headers=with_cookie(session_id))
    assert first.get("/read").json() == {"user": "alice", "cart": "2"}
    # A logout on one instance is a logout everywhere.
    second.get("/flush", headers=with_cookie(session_id))
    assert first.get("/read").json() == {}
    assert redis_env.keys() == []


def test_async_views_load_redis_sessions_with_aload(serve: Serve, redis_env: RedisEnv) -> None:
    store = redis_env.store(RecordingRedisStore)
    client = serve(session_app(store=store))
    written = client.get("/async/write", params={"user": "alice"})
    assert written.json() == {"user": "alice"}
    session_id = cookie_of(written).value
    assert redis_env.raw(session_id) == {"user": "alice"}
    assert client.get("/async/read").json() == {"user": "alice"}
    assert [op for op, _ in store.threads] == ["save", "load"]
    if serve.kind == "asgi":
        # Neither the load (aload) nor the save ran on the event loop.
        assert all(name.startswith("qiao-sync") for _, name in store.threads), store.threads


def test_the_redis_save_hook_runs_in_the_thread_pool_under_asgi(
    serve: Serve, redis_env: RedisEnv
) -> None:
    store = redis_env.store(RecordingRedisStore)
    client = serve(session_app(store=store))
    client.get("/write", params={"user": "alice"})
    client.get("/read")
    saves = [name for op, name in store.threads if op == "save"]
    loads = [name for op, name in store.threads if op == "load"]
    assert len(saves) == 1
    assert len(loads) == 1
    if serve.kind == "asgi":
        assert saves[0].startswith("qiao-sync"), store.threads
        assert loads[0].startswith("qiao-sync"), store.threads  # in the sync view's thread
    else:
        assert saves == [threading.current_thread().name]  # WSGI: the caller's thread


def test_a_cookie_store_saves_on_the_event_loop_under_asgi(serve: Serve) -> None:
    """The thread hop is paid only by stores that block (``store.blocking``)."""
    store = RecordingMemoryStore()
    client = serve(session_app(store=store))
    client.get("/write", params={"user": "alice"})
    assert len(store.threads) == 1
    assert not store.threads[0].startswith("qiao-sync")


def test_session_store_setting_accepts_a_redis_url(redis_env: RedisEnv) -> None:
    app = session_app(SESSION_STORE=redis_env.url)
    battery = app.extensions["sessions"]
    app.compile()
    store = battery.store
    assert isinstance(store, RedisStore)
    assert store.prefix == "qiao:session:"
    issued: list[str] = []
    try:
        with app.test_client() as client:
            issued.append(cookie_of(client.get("/write", params={"user": "alice"})).value)
        assert redis_env.client.get("qiao:session:" + issued[0]) is not None
    finally:
        for session_id in issued:  # the default prefix is shared: remove what this test made
            store.delete(session_id)
        store.client.close()


def test_redis_store_without_redis_py_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(ImproperlyConfigured, match=r"pip install 'qiao\[redis\]'"):
        RedisStore("redis://127.0.0.1:6379/0")
    app = session_app(SESSION_STORE="redis://127.0.0.1:6379/0")
    with pytest.raises(ImproperlyConfigured, match=r"qiao\[redis\]"):
        app.compile()


def test_redis_store_needs_a_url_or_a_client() -> None:
    with pytest.raises(TypeError, match="needs a url or a client"):
        RedisStore()


# -- custom stores ------------------------------------------------------------------------------
def test_a_custom_store_plugs_in(serve: Serve) -> None:
    store = DictStore()
    app = session_app(store=store, SESSION_COOKIE_AGE=600)
    client = serve(app)
    response = client.get("/write", params={"user": "alice"})
    assert cookie_of(response).value == "row1"
    assert store.rows == {"row1": ({"user": "alice"}, 600)}
    assert client.get("/read").json() == {"user": "alice"}
    assert client.get("/key").text == "row1"

    assert cookie_of(client.get("/login", params={"user": "bob"})).value == "row2"
    assert store.deleted == ["row1"]
    assert store.rows["row2"][0] == {"user": "bob"}

    assert cookie_of(client.get("/flush")).deletes
    assert store.deleted == ["row1", "row2"]
    assert store.rows == {}

    # Unknown ids are the store's to refuse; the battery then starts a new session.
    fresh = serve(app)
    response = fresh.get("/write", params={"n": "1"}, headers=with_cookie("row999"))
    assert cookie_of(response).value == "row3"


def test_a_custom_blocking_store_saves_in_the_thread_pool_under_asgi(serve: Serve) -> None:
    class BlockingStore(RecordingMemoryStore):
        blocking = True

    store = BlockingStore()
    client = serve(session_app(store=store))
    client.get("/write", params={"user": "alice"})
    if serve.kind == "asgi":
        assert store.threads[0].startswith("qiao-sync")
    else:
        assert store.threads == [threading.current_thread().name]


def test_a_custom_store_given_as_the_session_store_setting(serve: Serve) -> None:
    store = DictStore()
    client = serve(session_app(SESSION_STORE=store))
    client.get("/write", params={"user": "alice"})
    assert list(store.rows) == ["row1"]


def test_a_store_without_a_blocking_attribute_is_not_blocking(serve: Serve) -> None:
    class Minimal:
        def __init__(self) -> None:
            self.rows: dict[str, dict[str, Any]] = {}

        def load(self, cookie: str) -> tuple[dict[str, Any], str | None] | None:
            return (dict(self.rows[cookie]), cookie) if cookie in self.rows else None

        def save(self, key: str | None, data: dict[str, Any], max_age: int) -> str:
            key = key or secrets.token_urlsafe(32)
            self.rows[key] = dict(data)
            return key

        def delete(self, key: str) -> None:
            self.rows.pop(key, None)

    client = serve(session_app(store=Minimal()))
    client.get("/async/write", params={"user": "alice"})
    assert client.get("/async/read").json() == {"user": "alice"}
    assert client.get("/read").json() == {"user": "alice"}


def test_a_store_with_bind_is_bound_to_the_app_at_compile() -> None:
    bound: list[Any] = []

    class BindingStore(DictStore):
        def bind(self, app: qiao.App) -> None:
            bound.append(app)

    app = session_app(store=BindingStore())
    assert bound == []
    app.compile()
    assert bound == [app]


def test_an_unbound_cookie_store_says_to_install_sessions() -> None:
    with pytest.raises(ImproperlyConfigured, match="install Sessions"):
        CookieStore().load("x")


# -- flash messages -----------------------------------------------------------------------------
def test_a_flashed_message_is_shown_on_the_next_request_once(serve: Serve) -> None:
    client = serve(session_app())
    assert client.get("/flash", params={"m": "Saved."}).text == "flashed"
    assert client.get("/messages").json() == ["Saved."]
    assert client.get("/messages").json() == []


def test_flashed_messages_keep_their_order_and_categories(serve: Serve) -> None:
    client = serve(session_app())
    client.get("/flash", params={"m": "Name is required.", "c": "error"})
    client.get("/flash", params={"m": "Draft kept."})
    assert client.get("/flashes").json() == [
        ["error", "Name is required."],
        ["info", "Draft kept."],
    ]
    assert client.get("/flashes").json() == []


def test_taking_the_last_flashed_message_deletes_an_otherwise_empty_session(
    serve: Serve,
) -> None:
    client = serve(session_app())
    client.get("/flash", params={"m": "Hi"})
    response = client.get("/messages")
    assert response.json() == ["Hi"]
    assert cookie_of(response).deletes


def test_flashes_live_beside_other_session_data(serve: Serve) -> None:
    client = serve(session_app())
    client.get("/write", params={"user": "alice"})
    client.get("/flash", params={"m": "Welcome back."})
    assert client.get("/messages").json() == ["Welcome back."]
    assert client.get("/read").json() == {"user": "alice"}


def test_flash_and_read_in_one_request(serve: Serve) -> None:
    app = session_app()

    @app.get("/both")
    def both(request: Any) -> list[Any]:
        flash(request, "one")
        flash(request, "two", "warning")
        return get_flashed_messages(request, with_categories=True)

    assert serve(app).get("/both").json() == [["info", "one"], ["warning", "two"]]


def test_reading_flashes_without_any_touches_no_cookie(serve: Serve) -> None:
    response = serve(session_app()).get("/messages")
    assert response.json() == []
    assert response.headers.get_list("set-cookie") == []


# -- configuration errors -----------------------------------------------------------------------
@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("key", [None, ""])
def test_no_secret_key_is_e201_at_compile(debug: bool, key: str | None) -> None:
    app = session_app(SECRET_KEY=key, DEBUG=debug)
    with pytest.raises(ImproperlyConfigured, match=r"^qiao\.E201: Sessions need SECRET_KEY"):
        app.compile()


def test_e201_reaches_the_first_request() -> None:
    app = session_app(SECRET_KEY=None, DEBUG=True)
    with pytest.raises(ImproperlyConfigured, match=r"qiao\.E201"), app.test_client() as client:
        client.get("/none")


@pytest.mark.parametrize("samesite", ["sometimes", "", "true", True])
def test_a_bad_samesite_is_e202(samesite: Any) -> None:
    app = session_app(SESSION_COOKIE_SAMESITE=samesite)
    with pytest.raises(ImproperlyConfigured, match=r"^qiao\.E202: SESSION_COOKIE_SAMESITE") as info:
        app.compile()
    assert repr(samesite) in str(info.value)


@pytest.mark.parametrize(
    "store", ["memcached://localhost", "redis", "Cookie", "", "file:///sessions"]
)
def test_a_bad_store_string_is_e203(store: str) -> None:
    app = session_app(store=store)
    with pytest.raises(ImproperlyConfigured, match=r"^qiao\.E203: SESSION_STORE must be") as info:
        app.compile()
    assert repr(store) in str(info.value)


@pytest.mark.parametrize("store", [42, object(), MemoryStore], ids=["int", "object", "class"])
def test_a_bad_store_object_is_e203(store: Any) -> None:
    app = session_app(store=store)
    with pytest.raises(ImproperlyConfigured, match=r"qiao\.E203"):
        app.compile()


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("SESSION_COOKIE_AGE", -1),
        ("SESSION_COOKIE_AGE", "3600"),
        ("SESSION_COOKIE_AGE", 1.5),
        ("SESSION_COOKIE_AGE", True),
        ("SESSION_MAX_SIZE", None),
        ("SESSION_MAX_SIZE", -5),
    ],
)
def test_a_bad_number_setting_names_the_setting(setting: str, value: Any) -> None:
    app = session_app(**{setting: value})
    with pytest.raises(ImproperlyConfigured, match=rf"^{setting} must be a non-negative whole"):
        app.compile()


def test_an_unknown_option_is_a_type_error_that_lists_the_known_ones() -> None:
    app = qiao.App(__name__, config={"SECRET_KEY": SECRET})
    with pytest.raises(TypeError, match=r"Sessions got unknown option\(s\) cookie_nmae; known: "):
        Sessions(app, cookie_nmae="sid")
    with pytest.raises(TypeError, match=r"cookie_age, cookie_domain"):
        Sessions(app, SESSION_COOKIE_NAME="sid")


def test_installing_twice_is_refused() -> None:
    app = qiao.App(__name__, config={"SECRET_KEY": SECRET})
    Sessions(app)
    with pytest.raises(ImproperlyConfigured, match="Sessions is installed twice"):
        Sessions(app)


def test_init_app_later() -> None:
    sessions = Sessions(cookie_name="sid")
    app = qiao.App(__name__, config={"SECRET_KEY": SECRET})
    sessions.init_app(app)
    assert app.extensions["sessions"] is sessions

    @app.get("/")
    def index(request: Any) -> str:
        request.session["a"] = 1
        return "ok"

    with app.test_client() as client:
        assert session_cookie(client.get("/"), "sid") is not None


def test_request_session_without_the_battery_says_how_to_install_it(serve: Serve) -> None:
    app = qiao.App(__name__, config={"SECRET_KEY": SECRET})

    @app.get("/")
    def index(request: Any) -> str:
        try:
            request.session  # noqa: B018
        except AttributeError as exc:
            return str(exc)
        return "no error"

    message = serve(app).get("/").text
    assert "request.session" in message
    assert "qiao.sessions.Sessions(app)" in message


def test_the_settings_are_the_documented_ones() -> None:
    assert Sessions.settings == {
        "SESSION_STORE": "cookie",
        "SESSION_COOKIE_NAME": "session",
        "SESSION_COOKIE_AGE": TWO_WEEKS,
        "SESSION_EXPIRE_AT_BROWSER_CLOSE": False,
        "SESSION_COOKIE_DOMAIN": None,
        "SESSION_COOKIE_PATH": "/",
        "SESSION_COOKIE_SECURE": None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_SAVE_EVERY_REQUEST": False,
        "SESSION_MAX_SIZE": 4093,
    }


def test_docs_sessions_md_describes_every_setting_and_check() -> None:
    text = (REPO / "docs" / "sessions.md").read_text(encoding="utf-8")
    missing = [key for key in Sessions.settings if f"`{key}`" not in text]
    assert not missing, f"docs/sessions.md does not describe: {missing}"
    for check in ("qiao.E201", "qiao.E202", "qiao.E203"):
        assert f"`{check}`" in text, check


# -- real servers -------------------------------------------------------------------------------
def _uvicorn(port: int) -> list[str]:
    return [
        venv_bin("uvicorn"),
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "tests.sessions_support:server_app",
    ]


def _gunicorn(port: int) -> list[str]:
    return [
        venv_bin("gunicorn"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--graceful-timeout",
        "5",
        "tests.sessions_support:server_app()",
    ]


def _check_login_logout(client: httpx.Client, base: str) -> None:
    response = client.get(f"{base}/read")
    assert response.json() == {}
    assert response.headers.get_list("set-cookie") == []
    response = client.get(f"{base}/write", params={"cart": "3"})
    cookie = cookie_of(response)
    assert cookie.attrs["httponly"] is True
    assert cookie.attrs["samesite"] == "Lax"
    assert "cookie" in vary(response)
    before = client.cookies["session"]
    assert client.get(f"{base}/login", params={"user": "alice"}).json() == {
        "cart": "3",
        "user": "alice",
    }
    assert client.get(f"{base}/read").json() == {"cart": "3", "user": "alice"}
    client.get(f"{base}/flash", params={"m": "Welcome!"})
    assert client.get(f"{base}/messages").json() == ["Welcome!"]
    assert client.get(f"{base}/messages").json() == []
    assert cookie_of(client.get(f"{base}/flush")).deletes
    assert "session" not in client.cookies
    assert client.get(f"{base}/read").json() == {}
    assert before  # the jar did carry a cookie between requests


def test_a_browser_like_client_logs_in_and_out_through_uvicorn() -> None:
    port = free_port()
    with running_server("uvicorn", _uvicorn(port), port, ready_path="/none") as server:
        with httpx.Client(timeout=10) as client:
            _check_login_logout(client, server.url)
        # A tampered cookie over a real socket: an empty session, not an error.
        with httpx.Client(timeout=10) as client:
            response = client.get(f"{server.url}/read", headers=with_cookie("x" * 5000))
            assert response.status_code == 200
            assert response.json() == {}
    assert "Traceback" not in server.output()


def test_redis_sessions_are_shared_between_real_uvicorn_and_gunicorn_processes(
    redis_env: RedisEnv,
) -> None:
    env = server_env(
        QIAO_SESSIONS_TEST_STORE=redis_env.url, QIAO_SESSIONS_TEST_PREFIX=redis_env.prefix
    )
    asgi_port, wsgi_port = free_port(), free_port()
    with (
        running_server(
            "uvicorn", _uvicorn(asgi_port), asgi_port, env=env, ready_path="/none"
        ) as asgi,
        running_server(
            "gunicorn", _gunicorn(wsgi_port), wsgi_port, env=env, ready_path="/none"
        ) as wsgi,
        httpx.Client(timeout=10) as client,  # cookies are per host, not per port: one jar
    ):
        _check_login_logout(client, asgi.url)
        client.get(f"{asgi.url}/write", params={"user": "alice"})
        session_id = client.cookies["session"]
        assert redis_env.raw(session_id) == {"user": "alice"}
        assert redis_env.ttl(session_id) > TWO_WEEKS - 60
        seen = client.get(f"{wsgi.url}/pid").json()
        assert seen["session"] == {"user": "alice"}
        client.get(f"{wsgi.url}/write", params={"cart": "1"})
        assert client.get(f"{asgi.url}/read").json() == {"user": "alice", "cart": "1"}
        client.get(f"{wsgi.url}/login")
        assert client.cookies["session"] != session_id
        assert not redis_env.exists(session_id)
        client.get(f"{asgi.url}/flush")
        assert redis_env.keys() == []
    assert "Traceback" not in asgi.output() + wsgi.output()


# -- the database store ---------------------------------------------------------------------------
def _database_url(kind: str, tmp_path: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'sessions.db'}"
    url = os.environ.get("QIAO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        import psycopg

        psycopg.connect(url, connect_timeout=3).close()
    except Exception as exc:
        message = (
            f"PostgreSQL tests need a server at QIAO_TEST_POSTGRES_URL ({url}): {exc}. "
            "QIAO_REQUIRE_SERVICES=1 turns this skip into a failure."
        )
        if services_required():
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[qiao.App]:
    from qiao.db import Database

    app = qiao.App(
        __name__,
        config={
            "SECRET_KEY": "test-secret",
            "DATABASE_URL": _database_url(request.param, tmp_path),
            "SESSION_STORE": "database",
        },
    )
    db = Database(app)
    Sessions(app)

    @app.get("/count")
    def count(request: qiao.Request) -> dict[str, Any]:
        request.session["n"] = request.session.get("n", 0) + 1
        return {"n": request.session["n"], "key": request.session.key}

    @app.post("/login")
    def login(request: qiao.Request) -> dict[str, Any]:
        request.session.cycle_key()
        return {"key": request.session.key}

    @app.post("/logout")
    def logout(request: qiao.Request) -> str:
        request.session.flush()
        return "bye"

    app.compile()
    db.drop_all()
    db.create_all()
    yield app
    db.drop_all()
    db.engine.dispose()


def _rows(app: qiao.App) -> list[Any]:
    from sqlalchemy import select

    from qiao.db._session_store import SessionRecord

    with app.extensions["db"].session() as session:
        return list(session.scalars(select(SessionRecord)))


def test_database_store_keeps_data_on_the_server(database_app: qiao.App) -> None:
    client = database_app.test_client()
    assert client.get("/count").json()["n"] == 1
    second = client.get("/count").json()
    assert second["n"] == 2
    [row] = _rows(database_app)
    assert row.id == second["key"]
    assert client.cookies["session"] == second["key"]  # the cookie holds only the id
    assert '"n":2' in row.data


def test_database_store_cycle_key_and_flush_retire_the_old_row(database_app: qiao.App) -> None:
    client = database_app.test_client()
    client.get("/count")
    old = client.get("/count").json()["key"]
    client.post("/login")
    new = client.cookies["session"]
    assert new != old
    assert [r.id for r in _rows(database_app)] == [new]
    assert client.get("/count").json()["n"] == 3  # same data, new id
    client.post("/logout")
    assert _rows(database_app) == []
    assert client.get("/count").json()["n"] == 1


def test_database_store_ignores_unknown_forged_and_expired_ids(database_app: qiao.App) -> None:
    from datetime import UTC, datetime, timedelta

    from qiao.db._session_store import SessionRecord

    db = database_app.extensions["db"]
    with db.session() as session:
        session.add(
            SessionRecord(
                id="e" * 43, data='{"n": 41}', expires_at=datetime.now(UTC) - timedelta(1)
            )
        )
    for cookie in ["e" * 43, "x" * 43, "short", "e" * 43 + "\n"]:
        response = database_app.test_client(cookies={"session": cookie}).get("/count")
        assert response.json()["n"] == 1, cookie
        assert response.json()["key"] != cookie
    assert database_app.extensions["sessions"].store.clear_expired() == 1


def test_database_store_needs_the_database_battery() -> None:
    app = qiao.App(__name__, config={"SECRET_KEY": "x", "SESSION_STORE": "database"})
    Sessions(app)
    with pytest.raises(ImproperlyConfigured, match=r"qiao\.E204"):
        app.compile()
