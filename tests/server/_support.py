"""Helpers shared by the server's conformance tests: raw requests read back strictly with h11,
and a gate that fails a test when the server logs an error nobody expected."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import h11
import pytest

#: How long a test waits for something a server thread does after the response is written.
SETTLE_TIMEOUT = 5.0


@dataclass
class Reply:
    """A response as h11 read it: every header kept (in order, names lower-case)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    #: The response ended as its framing said (False: the server closed the connection first).
    complete: bool = True
    #: Interim (1xx) responses seen before it.
    interim: list[int] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        """The value of header ``name``, or None; several are joined with ``, ``."""
        values = self.all(name)
        return ", ".join(values) if values else None

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]


class Reader:
    """Reads responses one after another from one socket with one h11 connection, so bytes of
    a pipelined next response that arrive with this one are kept for it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.conn = h11.Connection(h11.CLIENT)

    def next(self, method: str = "GET") -> Reply:
        """The next response; ``method`` is the request's (h11 must know a HEAD)."""
        conn = self.conn
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
        # NOTE: h11 must believe it sent the request to parse the answer; the bytes went raw.
        conn.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
        conn.send(h11.EndOfMessage())
        return _read(conn, self.sock)


def read_reply(sock: socket.socket, method: str = "GET") -> Reply:
    """Read one response from ``sock`` with h11 (a strict client); ``method`` says HEAD.

    Use a ``Reader`` to read pipelined responses."""
    return Reader(sock).next(method)


def _read(conn: h11.Connection, sock: socket.socket) -> Reply:
    reply = Reply(0, [], b"")
    body = bytearray()
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError:
            reply.complete = False
            break
        if event is h11.NEED_DATA:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                data = b""
            conn.receive_data(data)
            continue
        if isinstance(event, h11.InformationalResponse):
            reply.interim.append(event.status_code)
        elif isinstance(event, h11.Response):
            reply.status = event.status_code
            reply.headers = [(k.decode().lower(), v.decode("latin-1")) for k, v in event.headers]
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            break
        elif isinstance(event, h11.ConnectionClosed):
            reply.complete = reply.status != 0
            break
    reply.body = bytes(body)
    return reply


def request(host: str, port: int, raw: bytes, method: str = "GET", timeout: float = 10.0) -> Reply:
    """Send ``raw`` on a fresh connection and read one response strictly."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(raw)
        return read_reply(sock, method)


def wait_until(predicate: Callable[[], object], what: str, timeout: float = SETTLE_TIMEOUT) -> None:
    """Poll ``predicate`` until true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {timeout}s waiting for {what}.")
        time.sleep(0.01)


class ServerLog:
    """The server's log records; the test says which errors it expects."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog
        self.expected: list[str] = []

    def expect(self, fragment: str) -> None:
        """An error whose message holds ``fragment`` is part of this test."""
        self.expected.append(fragment)

    def unexpected(self) -> list[str]:
        out = []
        for record in self.caplog.records:
            if record.levelno < logging.WARNING or not record.name.startswith("qiao.server"):
                continue
            message = record.getMessage()
            if not any(fragment in message for fragment in self.expected):
                out.append(f"{record.levelname} {message}")
        return out


@pytest.fixture(autouse=True)
def server_log(caplog: pytest.LogCaptureFixture) -> Iterator[ServerLog]:
    """Fails a test whose server logged a warning or an error it did not ``expect``."""
    caplog.set_level(logging.INFO, logger="qiao.server")
    log = ServerLog(caplog)
    yield log
    unexpected = log.unexpected()
    assert not unexpected, f"qiao's server logged: {unexpected}"
