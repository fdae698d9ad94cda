"""The mail battery: console, memory and SMTP backends, custom backends, message building, and
sending from sync and async views under WSGI and ASGI.

SMTP is tested against ``SMTPStub``, a small SMTP server on a real socket written here (plain,
AUTH PLAIN, STARTTLS and implicit TLS), so what smtplib sends is what a server receives.
"""

from __future__ import annotations

import base64
import email
import email.policy
import io
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

import qiao
from qiao import ImproperlyConfigured
from qiao.mail import (
    ConsoleBackend,
    Mail,
    MemoryBackend,
    SMTPBackend,
    asend_mail,
    build_message,
    send_mail,
)
from tests.http._support import Serve


@pytest.fixture(params=["wsgi", "asgi"])
def serve(request: pytest.FixtureRequest) -> Iterator[Serve]:
    """Call the app through WSGI, then (second run) through ASGI."""
    with ExitStack() as stack:
        yield Serve(request.param, stack)


def mail_app(**config: Any) -> qiao.App:
    app = qiao.App(__name__, config={"SECRET_KEY": "x", **config})
    Mail(app)
    return app


# -- an SMTP server on a real socket ------------------------------------------------------------
@dataclass
class Received:
    mail_from: str
    rcpt_to: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class SMTPStub:
    """Accepts connections on 127.0.0.1 and records what clients send."""

    credentials: tuple[str, str] | None = None
    tls: ssl.SSLContext | None = None  # offered with STARTTLS
    implicit_tls: bool = False  # TLS from the first byte (SMTP_SSL)
    received: list[Received] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket) -> None:
        opened = [conn]
        try:
            conn.settimeout(10)
            if self.implicit_tls:
                assert self.tls is not None
                opened.append(self.tls.wrap_socket(conn, server_side=True))
            self._session(opened)
        except (OSError, ssl.SSLError):
            return  # a client that gave up (a refused certificate): nothing to record
        finally:
            for sock in reversed(opened):
                sock.close()

    def _session(self, opened: list[socket.socket]) -> None:
        conn = opened[-1]
        reader = conn.makefile("rb")
        send = conn.sendall
        send(b"220 stub ESMTP\r\n")
        mail_from, rcpt, secure = "", [], self.implicit_tls
        while True:
            line = reader.readline()
            if not line:
                return
            command = line.decode().rstrip("\r\n")
            self.commands.append(command.split(" ", 1)[0].upper())
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO"):
                lines = ["stub"]
                if self.credentials:
                    lines.append("AUTH PLAIN")
                if self.tls is not None and not secure:
                    lines.append("STARTTLS")
                lines.append("8BITMIME")
                body = "".join(f"250-{x}\r\n" for x in lines[:-1]) + f"250 {lines[-1]}\r\n"
                send(body.encode())
            elif verb == "STAR":
                send(b"220 ready\r\n")
                assert self.tls is not None
                conn = self.tls.wrap_socket(conn, server_side=True)
                opened.append(conn)
                reader, send, secure = conn.makefile("rb"), conn.sendall, True
            elif verb == "AUTH":
                _, mechanism, payload = command.split(" ", 2)
                _, user, password = base64.b64decode(payload).decode().split("\0")
                ok = mechanism.upper() == "PLAIN" and (user, password) == self.credentials
                self.logins.append(user)
                send(b"235 ok\r\n" if ok else b"535 no\r\n")
            elif verb == "MAIL":
                mail_from, rcpt = command.split(":", 1)[1].split()[0].strip("<>"), []
                send(b"250 ok\r\n")
            elif verb == "RCPT":
                rcpt.append(command.split(":", 1)[1].strip().strip("<>"))
                send(b"250 ok\r\n")
            elif verb == "DATA":
                send(b"354 go on\r\n")
                data = b""
                while (chunk := reader.readline()) not in (b".\r\n", b""):
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                self.received.append(Received(mail_from, rcpt, data))
                send(b"250 queued\r\n")
            elif verb == "QUIT":
                send(b"221 bye\r\n")
                return
            else:
                send(b"250 ok\r\n")

    def close(self) -> None:
        self.sock.close()
        for thread in self._threads:
            thread.join(timeout=5)


@pytest.fixture
def smtp() -> Iterator[SMTPStub]:
    stub = SMTPStub()
    yield stub
    stub.close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl command)."""
    if shutil.which("openssl") is None:
        pytest.skip("the TLS tests make a certificate with the openssl command; install openssl")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


def tls_contexts(certificate: tuple[Path, Path]) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(*certificate)
    client = ssl.create_default_context(cafile=str(certificate[0]))
    return server, client


# -- backends ---------------------------------------------------------------------------------
def test_console_is_the_default_and_prints(capsys: pytest.CaptureFixture[str]) -> None:
    app = mail_app()
    send_mail(app, "Hello", "Body text", "ada@example.com")
    out = capsys.readouterr().out
    assert "Subject: Hello" in out
    assert "From: webmaster@localhost" in out
    assert "To: ada@example.com" in out
    assert "Body text" in out
    assert "-" * 79 in out


def test_console_to_a_stream() -> None:
    stream = io.StringIO()
    app = mail_app(MAIL_BACKEND=ConsoleBackend(stream))
    send_mail(app, "Hi", "there", ["a@example.com", "b@example.com"])
    assert "To: a@example.com, b@example.com" in stream.getvalue()


def test_memory_outbox() -> None:
    app = mail_app(MAIL_BACKEND="memory", MAIL_DEFAULT_FROM="Site <noreply@example.com>")
    outbox = app.extensions["mail"].outbox
    assert outbox == []
    message = send_mail(app, "One", "Body", "ada@example.com", html="<p>Body</p>")
    assert outbox == [message]
    assert message["From"] == "Site <noreply@example.com>"
    assert message.get_body(("plain",)).get_content().strip() == "Body"  # type: ignore[union-attr]
    assert message.get_body(("html",)).get_content().strip() == "<p>Body</p>"  # type: ignore[union-attr]
    assert message["Message-ID"].endswith("@example.com>")
    assert message["Date"]


def test_outbox_exists_only_for_memory() -> None:
    app = mail_app()
    with pytest.raises(AttributeError, match="MAIL_BACKEND = 'memory'"):
        app.extensions["mail"].outbox  # noqa: B018


def test_a_custom_backend_object() -> None:
    class Recorder:
        def __init__(self) -> None:
            self.batches: list[list[EmailMessage]] = []

        def send_messages(self, messages: Any) -> int:
            self.batches.append(list(messages))
            return len(messages)

    recorder = Recorder()
    app = mail_app(MAIL_BACKEND=recorder)
    send_mail(app, "s", "b", "x@example.com", from_="me@example.com")
    assert recorder.batches[0][0]["From"] == "me@example.com"
    assert app.extensions["mail"].send([build_message("a", "b", "c@d.e", "f@g.h")] * 2) == 2


def test_smtp_delivers(smtp: SMTPStub) -> None:
    app = mail_app(MAIL_BACKEND="smtp", MAIL_HOST="127.0.0.1", MAIL_PORT=smtp.port)
    send_mail(
        app,
        "Über",
        "Grüße,\n.leading dot line\n",
        ["ada@example.com", "bob@example.com"],
        from_="site@example.com",
        html="<p>Grüße</p>",
        cc=["cc@example.com"],
        reply_to="help@example.com",
        headers={"X-Campaign": "reset"},
    )
    (received,) = smtp.received
    assert received.mail_from == "site@example.com"
    assert received.rcpt_to == ["ada@example.com", "bob@example.com", "cc@example.com"]
    message = received.message
    assert message["Subject"] == "Über"
    assert message["Reply-To"] == "help@example.com"
    assert message["X-Campaign"] == "reset"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert text.replace("\r\n", "\n") == "Grüße,\n.leading dot line\n"
    assert smtp.commands[-1] == "QUIT"


def test_smtp_logs_in(smtp: SMTPStub) -> None:
    smtp.credentials = ("mailer", "s3cret")
    app = mail_app(
        MAIL_BACKEND="smtp",
        MAIL_HOST="127.0.0.1",
        MAIL_PORT=smtp.port,
        MAIL_USERNAME="mailer",
        MAIL_PASSWORD="s3cret",
    )
    send_mail(app, "s", "b", "ada@example.com")
    assert smtp.logins == ["mailer"]
    assert len(smtp.received) == 1


def test_smtp_wrong_password_raises(smtp: SMTPStub) -> None:
    import smtplib

    smtp.credentials = ("mailer", "s3cret")
    backend = SMTPBackend("127.0.0.1", smtp.port, username="mailer", password="nope")
    with pytest.raises(smtplib.SMTPAuthenticationError):
        backend.send_messages([build_message("s", "b", "a@b.c", "d@e.f")])
    assert smtp.received == []


def test_smtp_starttls(certificate: tuple[Path, Path]) -> None:
    server, client = tls_contexts(certificate)
    stub = SMTPStub(tls=server, credentials=("mailer", "pw"))
    try:
        backend = SMTPBackend(
            "127.0.0.1", stub.port, use_tls=True, username="mailer", password="pw",
            ssl_context=client,
        )  # fmt: skip
        assert backend.send_messages([build_message("s", "b", "a@b.c", "d@e.f")]) == 1
        assert stub.commands[:3] == ["EHLO", "STARTTLS", "EHLO"]
        assert stub.logins == ["mailer"]
        assert len(stub.received) == 1
    finally:
        stub.close()


def test_smtp_implicit_tls(certificate: tuple[Path, Path]) -> None:
    server, client = tls_contexts(certificate)
    stub = SMTPStub(tls=server, implicit_tls=True)
    try:
        backend = SMTPBackend("127.0.0.1", stub.port, use_ssl=True, ssl_context=client)
        assert backend.send_messages([build_message("s", "b", "a@b.c", "d@e.f")]) == 1
        assert len(stub.received) == 1
    finally:
        stub.close()


def test_smtp_checks_the_certificate(certificate: tuple[Path, Path]) -> None:
    server, _ = tls_contexts(certificate)
    stub = SMTPStub(tls=server)
    try:
        backend = SMTPBackend("127.0.0.1", stub.port, use_tls=True)  # the default trust store
        with pytest.raises(ssl.SSLError):
            backend.send_messages([build_message("s", "b", "a@b.c", "d@e.f")])
        assert stub.received == []
    finally:
        stub.close()


def test_smtp_unreachable_server_raises() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = SMTPBackend("127.0.0.1", port, timeout=2)
    with pytest.raises(ConnectionRefusedError):
        backend.send_messages([build_message("s", "b", "a@b.c", "d@e.f")])
    assert backend.send_messages([]) == 0  # nothing to send: no connection


# -- messages -----------------------------------------------------------------------------------
@pytest.mark.parametrize("field_name", ["subject", "to", "from_"])
def test_header_injection_is_refused(field_name: str) -> None:
    values = {"subject": "s", "to": "a@example.com", "from_": "b@example.com"}
    values[field_name] = "x@example.com\r\nBcc: victim@example.com"
    with pytest.raises(ValueError, match=r"linefeed|carriage return"):
        build_message(values["subject"], "body", values["to"], values["from_"])


def test_a_recipient_is_required() -> None:
    with pytest.raises(ValueError, match="at least one recipient"):
        build_message("s", "b", [], "a@b.c")


# -- configuration ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("config", "check"),
    [
        ({"MAIL_BACKEND": "sendmail"}, "qiao.E521"),
        ({"MAIL_BACKEND": object()}, "qiao.E521"),
        ({"MAIL_BACKEND": "smtp", "MAIL_PORT": "25"}, "qiao.E522"),
        ({"MAIL_BACKEND": "smtp", "MAIL_PORT": 70000}, "qiao.E522"),
        ({"MAIL_BACKEND": "smtp", "MAIL_TIMEOUT": 0}, "qiao.E522"),
        ({"MAIL_BACKEND": "smtp", "MAIL_USE_TLS": True, "MAIL_USE_SSL": True}, "qiao.E522"),
    ],
)
def test_bad_settings_fail_at_start_up(config: dict[str, Any], check: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=check):
        mail_app(**config).compile()


def test_options_override_settings() -> None:
    app = qiao.App(__name__, config={"SECRET_KEY": "x"})
    mail = Mail(app, backend="memory", default_from="a@example.com")
    send_mail(app, "s", "b", "c@example.com")
    assert mail.outbox[0]["From"] == "a@example.com"
    assert isinstance(mail.backend, MemoryBackend)


def test_send_mail_needs_the_battery() -> None:
    app = qiao.App(__name__, config={"SECRET_KEY": "x"})
    with pytest.raises(ImproperlyConfigured, match="Mail"):
        send_mail(app, "s", "b", "a@example.com")
    with pytest.raises(ImproperlyConfigured, match="not installed"):
        Mail().backend  # noqa: B018


# -- from views ---------------------------------------------------------------------------------
def test_sending_from_sync_and_async_views(serve: Serve) -> None:
    app = mail_app(MAIL_BACKEND="memory")
    threads: list[str] = []

    class Recording(MemoryBackend):
        def send_messages(self, messages: Any) -> int:
            threads.append(threading.current_thread().name)
            return super().send_messages(messages)

    app.config["MAIL_BACKEND"] = Recording()

    @app.post("/sync")
    def sync_view(request: Any) -> str:
        send_mail(request, "sync", "b", "a@example.com")
        return "sent"

    @app.post("/async")
    async def async_view(request: Any) -> str:
        await asend_mail(request, "async", "b", "a@example.com")
        return "sent"

    client = serve(app)
    assert client.post("/sync").text == "sent"
    assert client.post("/async").text == "sent"
    assert [m["Subject"] for m in app.extensions["mail"].outbox] == ["sync", "async"]
    assert threads[1] != threading.main_thread().name  # the async send ran in the pool
