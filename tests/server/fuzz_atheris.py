"""Coverage-guided fuzzing of qiao's HTTP/1.1 connection with atheris (run by hand).

    pip install atheris
    python tests/server/fuzz_atheris.py -max_total_time=60 -max_len=512

Each input is split into up to four reads fed to one ``HTTPProtocol`` (an in-memory
transport, an ASGI echo app): no exception may escape the server, and everything it writes must
parse as HTTP/1.1 with h11. The test suite's fuzzing is hypothesis (``test_fuzz.py``); this
script goes deeper when atheris installs (it needs a libFuzzer-capable build), and is not
collected by pytest.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

import atheris
import h11

with atheris.instrument_imports(include=["qiao"]):
    from qiao.server import ServerConfig
    from qiao.server._http import HTTPProtocol
    from qiao.server._serve import ServerState


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body or b"ok"})


class MemoryTransport(asyncio.Transport):
    """Collects what the server writes; never pushes back."""

    def __init__(self) -> None:
        super().__init__()
        self.out = bytearray()
        self.closing = False

    def write(self, data: Any) -> None:
        self.out += data

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 1), "sockname": ("127.0.0.1", 2)}.get(name, default)


loop = asyncio.new_event_loop()
asyncio.set_event_loop(loop)
config = ServerConfig.build(
    None, max_header_size=2048, max_body_size=1000, timeout_body=0.01, interface="asgi"
)
state = ServerState(echo, config, loop)


def settle() -> None:
    for _ in range(3):
        loop.run_until_complete(asyncio.sleep(0))


def check_http(out: bytes) -> None:
    """Every response the server wrote parses as HTTP/1.1 (h11 raises otherwise)."""
    conn = h11.Connection(h11.CLIENT)
    conn.receive_data(out)
    conn.receive_data(b"")
    while True:
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
        if conn.our_state is not h11.IDLE or not conn.trailing_data[0]:
            return
        conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
        conn.send(h11.EndOfMessage())
        while not isinstance(conn.next_event(), h11.EndOfMessage | h11.ConnectionClosed):
            pass


def one_input(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    reads = provider.ConsumeIntInRange(1, 4)
    raw = provider.ConsumeBytes(provider.remaining_bytes())
    transport = MemoryTransport()
    protocol = HTTPProtocol(state)
    protocol.connection_made(transport)
    step = max(1, len(raw) // reads)
    for start in range(0, len(raw), step):
        protocol.data_received(raw[start : start + step])
        settle()
        if transport.closing:
            break
    if not transport.closing:
        protocol.eof_received()
    settle()
    protocol.connection_lost(None)
    settle()
    for task in asyncio.all_tasks(loop):
        task.cancel()
    settle()
    check_http(bytes(transport.out))


if __name__ == "__main__":
    logging.disable(logging.CRITICAL)
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
