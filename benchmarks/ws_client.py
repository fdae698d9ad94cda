"""A websocket echo load client for benchmarks/server.py: N connections, each sending a text
message and waiting for its echo in a loop for a fixed time; prints one JSON line.

    python ws_client.py ws://127.0.0.1:8000/ws --connections 16 --duration 8 [--client raw]

Two clients, both on uvloop:

- ``raw`` (default): asyncio protocols that send one pre-built, pre-masked frame and compare
  each answer with the frame the server must send back (no parsing in the common case; pings,
  split frames and closes are handled). It costs far less CPU per round trip than any server
  here, so the server, not the client, is what is measured.
- ``websockets``: the ``websockets`` library's asyncio client (``compression=None``, no
  keepalive pings), the way an application would talk to a server. It spends about as much
  CPU per round trip as a Python server does, so on one core it can be the limit.

Neither offers permessage-deflate: the frames go uncompressed both ways, whatever the server's
default. Round trips are counted from the moment every connection is open until ``duration``
has passed; ``cpu`` is this process's CPU time in that window ÷ the window.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import struct
import sys
import time
from typing import Any
from urllib.parse import urlsplit

MASK = b"\x37\xfa\x21\x3d"  # a fixed masking key: every frame is the same bytes


def make_payload(size: int) -> bytes:
    return (b"0123456789abcdefghijklmnopqrstuvwxyz" * (size // 36 + 1))[:size]


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked, final client frame."""
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, 0x80 | n])
    elif n < 65536:
        head = bytes([0x80 | opcode, 0x80 | 126]) + struct.pack("!H", n)
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + struct.pack("!Q", n)
    masked = bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))
    return head + MASK + masked


def server_frame(opcode: int, payload: bytes) -> bytes:
    """The unmasked final frame a server sends."""
    n = len(payload)
    if n < 126:
        return bytes([0x80 | opcode, n]) + payload
    if n < 65536:
        return bytes([0x80 | opcode, 126]) + struct.pack("!H", n) + payload
    return bytes([0x80 | opcode, 127]) + struct.pack("!Q", n) + payload


class Run:
    """What every connection of one run shares."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.frame = client_frame(0x1, payload)
        self.echo = server_frame(0x1, payload)
        self.measuring = False
        self.stopped = False
        self.round_trips = 0
        self.errors = 0
        self.first_error: str | None = None
        self.cpu: float | None = None

    def error(self, why: str) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = why


class RawEcho(asyncio.Protocol):
    """One connection: the handshake, then send a frame, await its echo, repeat."""

    def __init__(self, run: Run, host: str, target: str) -> None:
        self.run = run
        self.host = host
        self.target = target
        self.transport: Any = None
        self.buffer = b""
        self.open = False
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            (
                f"GET {self.target} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.run.stopped:
            self.run.error(f"connection lost: {exc!r}")
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed before the handshake: {exc!r}"))
        if not self.closed.done():
            self.closed.set_result(None)

    def start(self) -> None:
        self.transport.write(self.run.frame)

    def data_received(self, data: bytes) -> None:
        run = self.run
        if self.open and not self.buffer and data == run.echo:  # the common case
            if run.measuring:
                run.round_trips += 1
            if not run.stopped:
                self.transport.write(run.frame)
            return
        self.buffer += data
        if not self.open:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            status = head.split(b"\r\n", 1)[0]
            if b" 101 " not in status + b" ":
                self.opened.set_exception(ConnectionError(f"handshake answered {status!r}"))
                self.transport.close()
                return
            self.open = True
            self.opened.set_result(None)
        self._frames()

    def _frames(self) -> None:
        run = self.run
        buf = self.buffer
        while len(buf) >= 2:
            opcode, length, start = buf[0] & 0x0F, buf[1] & 0x7F, 2
            if buf[1] & 0x80:
                run.error("the server sent a masked frame")
            if length == 126:
                if len(buf) < 4:
                    break
                length, start = struct.unpack("!H", buf[2:4])[0], 4
            elif length == 127:
                if len(buf) < 10:
                    break
                length, start = struct.unpack("!Q", buf[2:10])[0], 10
            if len(buf) < start + length:
                break
            payload, buf = buf[start : start + length], buf[start + length :]
            if opcode == 0x1:
                if payload != run.payload:
                    run.error(f"wrong echo: {payload[:40]!r}")
                elif run.measuring:
                    run.round_trips += 1
                if not run.stopped:
                    self.transport.write(run.frame)
            elif opcode == 0x9:  # ping: pong with its payload
                self.transport.write(client_frame(0xA, payload))
            elif opcode == 0x8:
                if not run.stopped:
                    run.error(f"the server closed: {payload[:2].hex()} {payload[2:40]!r}")
                self.transport.close()
            elif opcode != 0xA:
                run.error(f"unexpected opcode {opcode}")
        self.buffer = buf

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(0x8, struct.pack("!H", 1000)))
            self.transport.close()


async def run_raw(url: str, connections: int, duration: float, run: Run) -> float:
    loop = asyncio.get_running_loop()
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    protocols = []
    for _ in range(connections):
        _, protocol = await loop.create_connection(
            lambda: RawEcho(run, f"{host}:{port}", target), host, port
        )
        protocols.append(protocol)
    await asyncio.gather(*(p.opened for p in protocols))
    for p in protocols:
        p.start()
    window = await measure_window(run, duration)
    for p in protocols:
        p.close()
    await asyncio.wait([p.closed for p in protocols], timeout=2)
    return window


async def run_websockets(url: str, connections: int, duration: float, run: Run) -> float:
    from websockets.asyncio.client import connect

    message = run.payload.decode()
    clients = [
        await connect(url, compression=None, ping_interval=None, max_queue=None)
        for _ in range(connections)
    ]

    async def loop_one(ws: Any) -> None:
        while not run.stopped:
            await ws.send(message)
            reply = await ws.recv()
            if reply != message:
                run.error(f"wrong echo: {reply[:40]!r}")
            elif run.measuring:
                run.round_trips += 1

    tasks = [asyncio.create_task(loop_one(ws)) for ws in clients]
    window = await measure_window(run, duration)
    done, _ = await asyncio.wait(tasks, timeout=5)
    for task in done:
        if task.exception() is not None:
            run.error(f"{type(task.exception()).__name__}: {task.exception()}")
    await asyncio.gather(*(ws.close() for ws in clients), return_exceptions=True)
    return window


async def measure_window(run: Run, duration: float) -> float:
    """Count round trips for ``duration`` seconds; the window's CPU share goes in run."""
    run.measuring = True
    cpu, start = time.process_time(), time.perf_counter()
    await asyncio.sleep(duration)
    run.measuring = False
    run.stopped = True
    wall = time.perf_counter() - start
    run.cpu = (time.process_time() - cpu) / wall
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--size", type=int, default=32, help="message size in bytes (32)")
    parser.add_argument("--client", choices=["raw", "websockets"], default="raw")
    args = parser.parse_args()
    import uvloop

    run = Run(make_payload(args.size))
    client = run_raw if args.client == "raw" else run_websockets
    result: dict[str, Any] = {"client": args.client, "connections": args.connections}
    try:
        window = uvloop.run(client(args.url, args.connections, args.duration, run))
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"[:300]
        print(json.dumps(result))
        sys.exit(1)
    result.update(
        round_trips=run.round_trips,
        seconds=window,
        rps=run.round_trips / window,
        errors=run.errors,
        cpu=run.cpu,
    )
    if run.first_error:
        result["first_error"] = run.first_error
    print(json.dumps(result))


if __name__ == "__main__":
    main()
