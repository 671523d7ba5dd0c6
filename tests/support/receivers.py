"""Real receivers for the outbox tests, started by the tests themselves on 127.0.0.1:

* `SmtpReceiver`: an aiosmtpd server (optionally STARTTLS or implicit TLS with a throwaway self-signed
  certificate, and AUTH) keeping every mail it accepts;
* `WebhookReceiver`: an http.server in a thread that answers from a script (500 three times, then 200;
  or hold the request open) and applies each Idempotency-Key once, as a provider would.
"""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import subprocess
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made by the openssl command."""
    cert, key = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return cert, key


class _Keeper:
    def __init__(self):
        self.mails: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.mails.append(email.message_from_bytes(envelope.original_content or envelope.content,
                                                   policy=email.policy.default))
        return "250 OK"


class SmtpReceiver:
    def __init__(self, tls_folder: Path | None = None, user: str = "", password: str = "", implicit_tls: bool = False):
        self.keeper = _Keeper()
        self.port = free_port()
        self.user, self.password = user, password
        self.cafile: Path | None = None
        kwargs: dict[str, Any] = {}
        if tls_folder is not None:
            cert, key = self_signed(tls_folder)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
            self.cafile = cert
            if implicit_tls:  # TLS from the first byte, as on port 465
                kwargs.update(ssl_context=context)
            else:
                kwargs.update(tls_context=context, require_starttls=True)
        if user:
            kwargs.update(auth_required=True, authenticator=self._authenticate, auth_require_tls=not implicit_tls)
        self.controller = Controller(self.keeper, hostname="127.0.0.1", port=self.port, **kwargs)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == self.user \
            and auth_data.password.decode() == self.password
        return AuthResult(success=ok, handled=False)

    @property
    def mails(self) -> list[email.message.EmailMessage]:
        return self.keeper.mails

    def __enter__(self) -> SmtpReceiver:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


@dataclass
class Request:
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class WebhookReceiver:
    """`statuses`: the answers, in order, to the requests it gets (then 200 for ever). A `hold` event:
    the first request is applied but its answer waits until the event is set (a slow provider)."""

    statuses: list[int] = field(default_factory=list)
    always: int | None = None
    hold: threading.Event | None = None
    requests: list[Request] = field(default_factory=list)
    applied: Counter = field(default_factory=Counter)  # idempotency key -> effects applied (at most 1)
    seen: Counter = field(default_factory=Counter)  # idempotency key -> requests received
    arrived: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self):
        receiver = self
        self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's hook name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = self.headers.get("Idempotency-Key", "")
                with receiver.lock:
                    first = not receiver.requests
                    status = receiver._next_status()
                    receiver.seen[key] += 1
                    receiver.requests.append(Request(dict(self.headers.items()), body, status))
                if 200 <= status < 300:
                    with receiver.lock:
                        if not receiver.applied[key]:
                            receiver.applied[key] += 1  # a key seen before is answered, not applied again
                receiver.arrived.set()
                if first and receiver.hold is not None:
                    receiver.hold.wait(60)  # applied, but the answer is held until the sender is gone
                    return
                answer = b'{"id": "prov-%d"}' % len(receiver.requests) if status < 300 else b"busy"
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def _next_status(self) -> int:
        if self.always is not None:
            return self.always
        return self.statuses.pop(0) if self.statuses else 200

    def __enter__(self) -> WebhookReceiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()
