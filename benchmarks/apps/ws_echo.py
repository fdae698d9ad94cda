"""A bare ASGI 3 websocket echo app (benchmarks/server.py): every text or binary message is
sent straight back; ``GET /plaintext`` answers over HTTP so a runner can see the server is up.
No framework, so what is measured is the server's websocket protocol. A message that crosses
the client's close is dropped (the ASGI spec lets a server refuse that send with an OSError)."""

from apps import TEXT

_TEXT = TEXT.encode()
_PLAIN_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(_TEXT)).encode()),
    ],
}
_PLAIN_BODY = {"type": "http.response.body", "body": _TEXT}
_NOT_FOUND_START = {
    "type": "http.response.start",
    "status": 404,
    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"9")],
}
_NOT_FOUND_BODY = {"type": "http.response.body", "body": b"Not Found"}
_ACCEPT = {"type": "websocket.accept"}


async def _echo(receive, send):
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send(_ACCEPT)
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "websocket.receive":
            text = message.get("text")
            reply = (
                {"type": "websocket.send", "text": text}
                if text is not None
                else {"type": "websocket.send", "bytes": message.get("bytes") or b""}
            )
            try:
                await send(reply)
            except OSError:  # ASGI: a send after the client closed raises an IOError
                return
        elif kind == "websocket.disconnect":
            return


async def _lifespan(receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope, receive, send):
    kind = scope["type"]
    if kind == "websocket":
        await _echo(receive, send)
    elif kind == "http":
        if scope["path"] == "/plaintext":
            await send(_PLAIN_START)
            await send(_PLAIN_BODY)
        else:
            await send(_NOT_FOUND_START)
            await send(_NOT_FOUND_BODY)
    elif kind == "lifespan":
        await _lifespan(receive, send)
