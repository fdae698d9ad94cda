"""E-mail: ``Mail(app)`` and ``send_mail(request, subject, body, to)``.

The backend (``MAIL_BACKEND``) decides where messages go: ``"console"`` prints them (the
default, for development), ``"memory"`` keeps them in ``app.extensions["mail"].outbox`` (tests),
``"smtp"`` sends them through an SMTP server (``MAIL_HOST``, ``MAIL_PORT``...); or give an object
with ``send_messages(messages)``. Messages are standard ``email.message.EmailMessage`` objects.

Sending is blocking I/O: from an async view, ``await asend_mail(...)`` runs it in the app's
thread pool.
"""

from __future__ import annotations

import asyncio
import functools
import smtplib
import ssl
import sys
import threading
from collections.abc import Iterable, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TextIO

from qiao.extensions import Extension
from qiao.http.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from qiao.app import App
    from qiao.http.request import Request

__all__ = [
    "ConsoleBackend",
    "Mail",
    "MailBackend",
    "MemoryBackend",
    "SMTPBackend",
    "asend_mail",
    "build_message",
    "send_mail",
]


class MailBackend(Protocol):
    """Where messages go: anything with ``send_messages``."""

    def send_messages(self, messages: Sequence[EmailMessage]) -> int:
        """Deliver ``messages``; return how many were sent.

        Raises:
            OSError / smtplib.SMTPException: delivery failed (SMTP).
        """
        ...


class ConsoleBackend:
    """Print each message (headers and body) to ``stream`` (stdout by default)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def send_messages(self, messages: Sequence[EmailMessage]) -> int:
        """See ``MailBackend``."""
        stream = self.stream or sys.stdout
        with self._lock:
            for message in messages:
                stream.write(message.as_string())
                stream.write("\n" + "-" * 79 + "\n")
            stream.flush()
        return len(messages)


class MemoryBackend:
    """Keep messages in ``outbox`` (a list), for tests: ``mail.outbox[-1]["Subject"]``."""

    def __init__(self) -> None:
        self.outbox: list[EmailMessage] = []

    def send_messages(self, messages: Sequence[EmailMessage]) -> int:
        """See ``MailBackend``."""
        self.outbox.extend(messages)
        return len(messages)


class SMTPBackend:
    """Send through an SMTP server, one connection per ``send_messages`` call.

    Args:
        host, port: the server.
        username, password: log in when a username is given (after STARTTLS with ``use_tls``).
        use_tls: upgrade the connection with STARTTLS (port 587).
        use_ssl: connect with TLS from the start (port 465).
        timeout: seconds for connecting and each exchange.
        ssl_context: the TLS settings (default: ``ssl.create_default_context()``, which checks
            the server's certificate).
    """

    def __init__(
        self,
        host: str = "localhost",
        port: int = 25,
        *,
        username: str | None = None,
        password: str | None = None,
        use_tls: bool = False,
        use_ssl: bool = False,
        timeout: float = 10,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if use_tls and use_ssl:
            raise ImproperlyConfigured(
                "qiao.E522: MAIL_USE_TLS (STARTTLS, port 587) and MAIL_USE_SSL (TLS from the "
                "start, port 465) exclude each other; set one."
            )
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.use_tls = use_tls
        self.use_ssl = use_ssl
        self.timeout = timeout
        self.ssl_context = ssl_context

    def _connect(self) -> smtplib.SMTP:
        context = self.ssl_context or ssl.create_default_context()
        connection: smtplib.SMTP
        if self.use_ssl:
            connection = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=context
            )
        else:
            connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.use_tls:
                connection.starttls(context=context)
            if self.username:
                connection.login(self.username, self.password or "")
        except BaseException:
            connection.close()
            raise
        return connection

    def send_messages(self, messages: Sequence[EmailMessage]) -> int:
        """See ``MailBackend``.

        Raises:
            OSError / smtplib.SMTPException: the server is unreachable or refused a message.
        """
        if not messages:
            return 0
        connection = self._connect()
        try:
            for message in messages:
                connection.send_message(message)
        finally:
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()
        return len(messages)


class Mail(Extension):
    """The mail battery: ``Mail(app)``; settings ``MAIL_*``.

    Attributes (after the app compiles):
        backend: the ``MailBackend`` in use.
    """

    name = "mail"
    prefix = "MAIL_"
    middleware = False
    settings: ClassVar[dict[str, Any]] = {
        "MAIL_BACKEND": "console",
        "MAIL_DEFAULT_FROM": "webmaster@localhost",
        "MAIL_HOST": "localhost",
        "MAIL_PORT": 25,
        "MAIL_USERNAME": None,
        "MAIL_PASSWORD": None,
        "MAIL_USE_TLS": False,
        "MAIL_USE_SSL": False,
        "MAIL_TIMEOUT": 10,
    }

    _backend: MailBackend | None = None

    def configure(self, app: App) -> None:
        """Build the backend (when the app compiles).

        Raises:
            ImproperlyConfigured: an unknown backend (``qiao.E521``) or bad SMTP settings
                (``qiao.E522``).
        """
        self.default_from = str(self.setting("MAIL_DEFAULT_FROM"))
        self._backend = self._make_backend(self.setting("MAIL_BACKEND"))

    def _make_backend(self, value: Any) -> MailBackend:
        if value == "console":
            return ConsoleBackend()
        if value == "memory":
            return MemoryBackend()
        if value == "smtp":
            port, timeout = self.setting("MAIL_PORT"), self.setting("MAIL_TIMEOUT")
            if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
                raise ImproperlyConfigured(
                    f"qiao.E522: MAIL_PORT must be a port number (25, 465, 587...), got {port!r}."
                )
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
                raise ImproperlyConfigured(
                    f"qiao.E522: MAIL_TIMEOUT must be a positive number of seconds, got "
                    f"{timeout!r}."
                )
            return SMTPBackend(
                str(self.setting("MAIL_HOST")),
                port,
                username=self.setting("MAIL_USERNAME"),
                password=self.setting("MAIL_PASSWORD"),
                use_tls=bool(self.setting("MAIL_USE_TLS")),
                use_ssl=bool(self.setting("MAIL_USE_SSL")),
                timeout=timeout,
            )
        if isinstance(value, str) or not callable(getattr(value, "send_messages", None)):
            raise ImproperlyConfigured(
                f"qiao.E521: MAIL_BACKEND must be 'console', 'memory', 'smtp' or an object with "
                f"send_messages(messages), got {value!r}."
            )
        return value  # type: ignore[no-any-return]

    @property
    def backend(self) -> MailBackend:
        """The backend (the app is compiled first if it was not).

        Raises:
            ImproperlyConfigured: the battery is not installed on an app.
        """
        if self._backend is None:
            if self.app is None:
                raise ImproperlyConfigured("Mail is not installed on an app: Mail(app).")
            self.app.compile()
            assert self._backend is not None
        return self._backend

    @property
    def outbox(self) -> list[EmailMessage]:
        """The messages sent so far, with ``MAIL_BACKEND = "memory"``.

        Raises:
            AttributeError: another backend is in use.
        """
        outbox = getattr(self.backend, "outbox", None)
        if outbox is None:
            raise AttributeError(
                f"outbox exists with MAIL_BACKEND = 'memory' only; this app uses "
                f"{type(self.backend).__name__}."
            )
        return outbox  # type: ignore[no-any-return]

    def send(self, messages: EmailMessage | Sequence[EmailMessage]) -> int:
        """Send one message or several; return how many were sent."""
        batch = [messages] if isinstance(messages, EmailMessage) else list(messages)
        return self.backend.send_messages(batch)


def build_message(
    subject: str,
    body: str,
    to: str | Iterable[str],
    from_: str,
    html: str | None = None,
    *,
    cc: Iterable[str] = (),
    reply_to: str | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """An ``EmailMessage``: text ``body``, with an HTML alternative when ``html`` is given.

    Raises:
        ValueError: a header value holds a line break (header injection) or no recipient.
    """
    recipients = [to] if isinstance(to, str) else list(to)
    if not recipients:
        raise ValueError("send_mail needs at least one recipient in 'to'.")
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = from_
    message["To"] = ", ".join(recipients)
    if cc:
        message["Cc"] = ", ".join(cc)
    if reply_to:
        message["Reply-To"] = reply_to
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=from_.rpartition("@")[2].strip(">") or None)
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def _mail(app_or_request: App | Request) -> Mail:
    app = getattr(app_or_request, "app", app_or_request)
    battery: Mail | None = app.extensions.get("mail")
    if battery is None:
        raise ImproperlyConfigured("send_mail needs the mail battery: qiao.mail.Mail(app).")
    return battery


def send_mail(
    app_or_request: App | Request,
    subject: str,
    body: str,
    to: str | Iterable[str],
    from_: str | None = None,
    html: str | None = None,
    **options: Any,
) -> EmailMessage:
    """Build and send one message with the app's backend; return it.

    Args:
        from_: the sender; default ``MAIL_DEFAULT_FROM``.
        html: an HTML version of ``body``.
        options: ``cc``, ``reply_to``, ``headers`` (see ``build_message``).

    Raises:
        ImproperlyConfigured: the mail battery is not installed.
        ValueError: a line break in a header value, or no recipient.
        OSError / smtplib.SMTPException: delivery failed (SMTP backend).
    """
    battery = _mail(app_or_request)
    battery.backend  # noqa: B018 - compiles the app if needed, so default_from is read
    message = build_message(subject, body, to, from_ or battery.default_from, html, **options)
    battery.send(message)
    return message


async def asend_mail(
    app_or_request: App | Request,
    subject: str,
    body: str,
    to: str | Iterable[str],
    from_: str | None = None,
    html: str | None = None,
    **options: Any,
) -> EmailMessage:
    """``send_mail`` for async code: the backend runs in the app's thread pool, so a slow SMTP
    server does not block the event loop."""
    app = getattr(app_or_request, "app", app_or_request)
    call = functools.partial(send_mail, app, subject, body, to, from_, html, **options)
    return await asyncio.get_running_loop().run_in_executor(app.executor, call)
