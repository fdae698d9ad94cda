"""One ASGI 3 app for the conformance corpus, served both by qiao's server (in a thread) and by
uvicorn (a subprocess, ``tests.server.corpus_app:app``): the same object answers both, so every
difference in what comes back is the server's.

Routes (under any ``root_path``): HTTP ``/echo...`` (the scope and the body as JSON),
``/stream``, ``/stream-length``, ``/empty``, ``/no-body-key``, ``/status/<code>``,
``/large/<size>``, ``/large-stream/<size>``, ``/cookies``, ``/headers``, ``/pathsend``,
``/raise-before``, ``/raise-after``, ``/raise-after-start``, ``/no-response``, ``/wait-disconnect``;
websocket ``/ws/echo``, ``/ws/subprotocol``, ``/ws/reject``, ``/ws/http-response``,
``/ws/scope``, ``/ws/raise-before-accept``, ``/ws/raise-after-accept``, ``/ws/app-close``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: What the app saw that a client cannot: lifespan events, websocket disconnects (in-process).
EVENTS: list[Any] = []
#: A file to append lifespan events to, for a server in another process.
LOG_ENV = "CORPUS_APP_LOG"
PATTERN = b"0123456789abcdef"
THIS_FILE = os.path.abspath(__file__)


def record(event: Any) -> None:
    EVENTS.append(event)
    log = os.environ.get(LOG_ENV)
    if log:
        with open(log, "a") as out:
            out.write(json.dumps(event) + "\n")


def pattern(size: int) -> bytes:
    """``size`` bytes of a fixed pattern (so a client can check them without a copy)."""
    return (PATTERN * (size // len(PATTERN) + 1))[:size]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    kind = scope["type"]
    if kind == "lifespan":
        await lifespan(scope, receive, send)
    elif kind == "http":
        await http(scope, receive, send)
    elif kind == "websocket":
        await websocket(scope, receive, send)


async def lifespan(scope: Scope, receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if "state" in scope:
                scope["state"]["started"] = "yes"
            record("startup")
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            record("shutdown")
            await send({"type": "lifespan.shutdown.complete"})
            return


def route(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


async def read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise RuntimeError(f"the body ended with {message['type']}")
        chunk: bytes = message.get("body", b"")
        body += chunk
        if not message.get("more_body", False):
            return body


async def respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers or []})
    await send({"type": "http.response.body", "body": body})


def scope_summary(scope: Scope) -> dict[str, Any]:
    """The scope's fields as JSON (the client and server addresses only as present or not)."""
    return {
        "type": scope["type"],
        "asgi": scope["asgi"].get("version"),
        "http_version": scope["http_version"],
        "method": scope.get("method"),
        "scheme": scope["scheme"],
        "path": scope["path"],
        "raw_path": scope["raw_path"].decode("latin-1") if scope.get("raw_path") else None,
        "query_string": scope["query_string"].decode("latin-1"),
        "root_path": scope.get("root_path"),
        "headers": [[n.decode("latin-1"), v.decode("latin-1")] for n, v in scope["headers"]],
        "client": isinstance(scope.get("client"), list | tuple) and len(scope["client"]) == 2,
        "server": isinstance(scope.get("server"), list | tuple) and len(scope["server"]) == 2,
        "state": (scope.get("state") or {}).get("started"),
        "subprotocols": scope.get("subprotocols"),
    }


async def http(scope: Scope, receive: Receive, send: Send) -> None:
    path = route(scope)
    text = [(b"content-type", b"text/plain; charset=utf-8")]
    if path.startswith("/echo"):
        body = await read_body(receive)
        answer = scope_summary(scope)
        answer["body"] = (
            body.decode("latin-1") if len(body) < 1000 else hashlib.sha256(body).hexdigest()
        )
        answer["body_size"] = len(body)
        data = json.dumps(answer).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))]
        await respond(send, 200, data, headers)
    elif path == "/stream":
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [*text, (b"x-custom", b"streamed")],
            }
        )
        for piece in (b"one\n", b"", b"two\n", b"three\n"):
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    elif path == "/stream-length":
        headers = [*text, (b"content-length", b"12")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for piece in (b"abcd", b"efgh", b"ijkl"):
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/empty":
        await respond(send, 200, b"", [(b"content-length", b"0")])
    elif path == "/no-body-key":
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]}
        )
        await send({"type": "http.response.body"})
    elif path.startswith("/status/"):
        status = int(path.rsplit("/", 1)[1])
        await respond(send, status, b"", [(b"x-status", str(status).encode())])
    elif path.startswith("/large/"):
        data = pattern(int(path.rsplit("/", 1)[1]))
        await respond(send, 200, data, [(b"content-length", b"%d" % len(data))])
    elif path.startswith("/large-stream/"):
        size = int(path.rsplit("/", 1)[1])
        await send({"type": "http.response.start", "status": 200, "headers": text})
        data = pattern(size)
        for start in range(0, size, 65536):
            await send(
                {
                    "type": "http.response.body",
                    "body": data[start : start + 65536],
                    "more_body": True,
                }
            )
        await send({"type": "http.response.body", "body": b""})
    elif path == "/cookies":
        headers = [
            *text,
            (b"content-length", b"2"),
            (b"set-cookie", b"a=1; Path=/"),
            (b"set-cookie", b"b=2; HttpOnly"),
            (b"set-cookie", b"c=3; Max-Age=60; SameSite=Lax"),
        ]
        await respond(send, 200, b"ok", headers)
    elif path == "/headers":
        headers = [
            (b"content-length", b"2"),
            (b"X-Mixed-Case", b"Value"),
            (b"x-repeated", b"1"),
            (b"x-repeated", b"2"),
            (b"x-empty", b""),
            (b"x-latin", "café".encode("latin-1")),
        ]
        await respond(send, 201, b"ok", headers)
    elif path == "/pathsend":
        size = os.path.getsize(THIS_FILE)
        headers = [*text, (b"content-length", b"%d" % size)]
        if "http.response.pathsend" in scope.get("extensions", {}):
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.pathsend", "path": THIS_FILE})
        else:
            with open(THIS_FILE, "rb") as file:
                await respond(send, 200, file.read(), headers)
    elif path == "/raise-before":
        raise RuntimeError("the app failed before its response")
    elif path == "/raise-after":
        await send({"type": "http.response.start", "status": 200, "headers": text})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise RuntimeError("the app failed in its response")
    elif path == "/raise-after-start":
        await send({"type": "http.response.start", "status": 200, "headers": text})
        raise RuntimeError("the app failed after starting its response")
    elif path == "/no-response":
        return
    elif path == "/wait-disconnect":
        started = time.monotonic()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                record(("http.disconnect", round(time.monotonic() - started, 3)))
                return
    else:
        await respond(send, 404, b"not found", text)


async def websocket(scope: Scope, receive: Receive, send: Send) -> None:
    path = route(scope)
    message = await receive()
    assert message["type"] == "websocket.connect"
    if path == "/ws/echo":
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                record(("websocket.disconnect", message.get("code"), message.get("reason", "")))
                return
            if message.get("text") == "close-1001":
                await send({"type": "websocket.close", "code": 1001, "reason": "going away"})
                return
            if message.get("text") is not None:
                await send({"type": "websocket.send", "text": message["text"]})
            else:
                await send({"type": "websocket.send", "bytes": message["bytes"]})
    elif path == "/ws/subprotocol":
        offered = scope.get("subprotocols") or []
        chosen = offered[-1] if offered else None
        await send({"type": "websocket.accept", "subprotocol": chosen})
        await send({"type": "websocket.send", "text": json.dumps(offered)})
        await send({"type": "websocket.close", "code": 1000})
    elif path == "/ws/reject":
        await send({"type": "websocket.close", "code": 1008})
    elif path == "/ws/http-response":
        headers = [(b"content-type", b"text/plain"), (b"x-custom", b"teapot")]
        await send({"type": "websocket.http.response.start", "status": 418, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": b"short ", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"and stout"})
    elif path == "/ws/scope":
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": json.dumps(scope_summary(scope))})
        await send({"type": "websocket.close", "code": 1000})
    elif path == "/ws/raise-before-accept":
        raise RuntimeError("the websocket app failed before accepting")
    elif path == "/ws/raise-after-accept":
        await send({"type": "websocket.accept"})
        raise RuntimeError("the websocket app failed after accepting")
    elif path == "/ws/app-close":
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 4002, "reason": "app done"})
    else:
        await send({"type": "websocket.close", "code": 1000})
