"""Real SMTP servers for the tests (aiosmtpd), with a test CA for STARTTLS and implicit TLS,
AUTH, and handlers that defer, refuse or drop the connection on demand."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.harness import free_port

USER, PASSWORD = "failover", "smtp-test-password-1"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        msg = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass
class Sink:
    """The handler: records accepted messages; faults are switched by the test."""

    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # address -> "550 ..." / "450 ..."
    defer_data: int = 0  # answer "451" at DATA this many times
    drop_data: int = 0  # close the connection at DATA this many times, without answering
    connections: int = 0
    peak_connections: int = 0
    _open: int = 0

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]) -> list[str]:  # fmt: skip
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:  # fmt: skip
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.drop_data > 0:
            self.drop_data -= 1
            server.transport.close()
            return "250 never seen"
        if self.defer_data > 0:
            self.defer_data -= 1
            return "451 4.3.0 try again later"
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
        )
        return "250 2.0.0 queued"

    def rcpts(self) -> list[str]:
        return [r for m in self.received for r in m.rcpt_tos]


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:  # fmt: skip
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


class _Counting(Controller):
    """Counts connections at once so tests can check the client's connection bound."""

    def factory(self) -> Any:
        smtp = super().factory()
        sink: Sink = self.handler
        original_made, original_lost = smtp.connection_made, smtp.connection_lost

        def made(transport: Any) -> None:
            sink.connections += 1
            sink._open += 1
            sink.peak_connections = max(sink.peak_connections, sink._open)
            original_made(transport)

        def lost(exc: BaseException | None) -> None:
            sink._open -= 1
            original_lost(exc)

        smtp.connection_made, smtp.connection_lost = made, lost
        return smtp


@dataclass
class Tls:
    ca_file: Path
    server_context: ssl.SSLContext


@contextmanager
def throwaway_ca(tmp_path: Path) -> Iterator[Tls]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    ca_file = tmp_path / "test-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    yield Tls(ca_file, ctx)


@contextmanager
def smtp_server(
    sink: Sink, *, starttls: Tls | None = None, implicit_tls: Tls | None = None, auth: bool = False
) -> Iterator[int]:
    """Run an aiosmtpd server on a free port; yields the port."""
    port = free_port()
    kwargs: dict[str, Any] = {}
    if starttls is not None:
        kwargs.update(tls_context=starttls.server_context, require_starttls=True)
    if auth:
        kwargs.update(
            authenticator=_authenticator,
            auth_require_tls=starttls is not None or implicit_tls is not None,
        )
    controller = _Counting(
        sink, hostname="127.0.0.1", port=port,
        ssl_context=implicit_tls.server_context if implicit_tls else None,
        server_hostname="127.0.0.1", **kwargs,
    )  # fmt: skip
    controller.start()
    sink.connections = sink.peak_connections = 0  # forget the controller's own readiness check
    try:
        yield port
    finally:
        controller.stop()
