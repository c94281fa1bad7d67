"""Real peers on loopback for the alert tests: an SMTP server (aiosmtpd) that keeps what it receives, and an HTTP
receiver for webhooks that checks each request's signature the way a receiver is told to in the README."""

from __future__ import annotations

import email
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from data_access import delivery


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Mailbox:
    messages: list[Message] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))  # type: ignore[attr-defined]
        self.recipients.append(list(envelope.rcpt_tos))  # type: ignore[attr-defined]
        return "250 Message accepted"

    def parts(self, i: int) -> dict[str, str]:
        """The text/plain and text/html parts of message ``i``, decoded."""
        out = {}
        for part in self.messages[i].walk():
            if part.get_content_maintype() == "text":
                out[part.get_content_subtype()] = part.get_payload(decode=True).decode(part.get_content_charset())
        return out


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, signed by itself: (cert.pem, key.pem) in ``folder``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@contextmanager
def smtp_server(
    port: int | None = None, login: tuple[str, str] | None = None, tls: tuple[Path, Path] | None = None
) -> Iterator[tuple[Mailbox, int]]:
    """An SMTP server on loopback; with ``login`` (user, password) it requires AUTH; with ``tls`` (cert, key) it
    requires STARTTLS first."""
    box, port = Mailbox(), port or free_port()
    extra: dict[str, object] = {}
    if tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*tls)
        extra |= {"tls_context": context, "require_starttls": True}
    if login:

        def authenticator(server: object, session: object, envelope: object, mechanism: str, data: object) -> object:
            ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == login
            return AuthResult(success=ok, handled=False)  # not handled: the server answers 535 itself

        extra |= {"authenticator": authenticator, "auth_required": True, "auth_require_tls": tls is not None}
    controller = Controller(box, hostname="127.0.0.1", port=port, **extra)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@dataclass
class Received:
    body: bytes
    signature: str | None
    valid: bool  # the alerts' X-CJM-Signature checks out
    headers: dict[str, str] = field(default_factory=dict)
    standard: bool = False  # the Standard Webhooks signature checks out

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    secret: str
    url: str = ""
    received: list[Received] = field(default_factory=list)
    replies: list[int | tuple[int, dict[str, str]]] = field(default_factory=list)  # in turn (then 204), with headers


@contextmanager
def webhook_receiver(secret: str) -> Iterator[Receiver]:
    state = Receiver(secret)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            header = self.headers.get(delivery.SIGNATURE_HEADER)
            headers = {k.lower(): v for k, v in self.headers.items()}
            standard = delivery.verify_standard(state.secret, headers, body)
            state.received.append(
                Received(body, header, delivery.verify(state.secret, body, header), headers, standard)
            )
            reply = state.replies.pop(0) if state.replies else 204
            code, extra = reply if isinstance(reply, tuple) else (reply, {})
            self.send_response(code)
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
