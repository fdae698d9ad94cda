"""The server answers qiao, ASGI and WSGI apps over a real socket."""

from __future__ import annotations

from typing import Any

import httpx

import qiao

from .conftest import ResponseReader


def test_qiao_app_answers_natively(serve: Any, qiao_app: qiao.App) -> None:
    with serve(qiao_app) as running:
        assert running.server.state.interface == "native"
        with httpx.Client(base_url=running.url) as client:
            assert client.get("/").text == "hello"
            assert client.post("/echo", content=b"abc").content == b"abc"
            assert client.post("/sync-echo", content=b"xyz").content == b"xyz"
            assert client.get("/json").json() == {"a": 1}
            assert client.get("/missing").status_code == 404


def test_pipelined_requests_are_answered_in_order(serve: Any, qiao_app: qiao.App) -> None:
    with serve(qiao_app) as running, running.connect() as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none"
            b"GET /json HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nthree"
        )
        reader = ResponseReader(sock)
        assert reader.next()[2] == b"one"
        assert reader.next()[2] == b'{"a":1}'
        assert reader.next()[2] == b"three"
