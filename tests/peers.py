"""Real peers on loopback for the alert tests: an SMTP server (aiosmtpd) that keeps what it receives, and an HTTP
receiver for webhooks that checks each request's signature the way a receiver is told to in the README."""

from __future__ import annotations

import email
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from data_access import notify


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


@contextmanager
def smtp_server(port: int | None = None, login: tuple[str, str] | None = None) -> Iterator[tuple[Mailbox, int]]:
    """An SMTP server on loopback; with ``login`` (user, password) it requires AUTH (without TLS, on loopback)."""
    box, port = Mailbox(), port or free_port()
    extra: dict[str, object] = {}
    if login:

        def authenticator(server: object, session: object, envelope: object, mechanism: str, data: object) -> object:
            ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == login
            return AuthResult(success=ok, handled=False)  # not handled: the server answers 535 itself

        extra = {"authenticator": authenticator, "auth_required": True, "auth_require_tls": False}
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
    valid: bool

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    secret: str
    url: str = ""
    received: list[Received] = field(default_factory=list)
    replies: list[int] = field(default_factory=list)  # status codes to answer with, in turn (then 204)


@contextmanager
def webhook_receiver(secret: str) -> Iterator[Receiver]:
    state = Receiver(secret)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            header = self.headers.get(notify.SIGNATURE_HEADER)
            state.received.append(Received(body, header, notify.verify(state.secret, body, header)))
            code = state.replies.pop(0) if state.replies else 204
            self.send_response(code)
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
