"""The `webhook` channel: an HTTP POST of JSON, signed with HMAC-SHA256 (the standard library only).

The request:

    POST <TOURFLOW_WEBHOOK_URL, or the message's payload["webhook_url"]>
    Content-Type: application/json; charset=utf-8
    Idempotency-Key: <the message's idempotency key>      (the same on every attempt)
    X-Tourflow-Timestamp: <unix seconds>
    X-Tourflow-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<unix seconds>." + body bytes)>

The body is the message's payload["webhook"] when the template gave one (the JSON a provider
expects: an SMS gateway's, a WeCom or DingTalk group robot's), else the envelope
{id, kind, recipient, subject, body, payload, idempotency_key, attempt}. A receiver checks the
signature with `verify_signature` (or its own ten lines), refuses a timestamp older than a few
minutes, and applies a key it has seen before only once.

Answers: 2xx sent (the answer's JSON `id` or `message_id`, if any, is kept as provider_ref for
delivery reports); 408, 429, 5xx, timeouts and refused connections are transient; other 4xx
are permanent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from typing import Any

from engine.outbox.channels.base import Outgoing, PermanentError, Sent, TransientError
from engine.outbox.settings import WebhookSettings

SIGNATURE_HEADER = "X-Tourflow-Signature"
TIMESTAMP_HEADER = "X-Tourflow-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
DEFAULT_TOLERANCE_SECONDS = 300
TRANSIENT_STATUSES = frozenset({408, 425, 429})


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(secret: str, header: str | None, body: bytes, *, now: float | None = None,
                     tolerance: float = DEFAULT_TOLERANCE_SECONDS) -> bool:
    """For receivers: does `header` (X-Tourflow-Signature) sign `body` with `secret`, recently enough?"""
    if not header:
        return False
    parts = dict(part.strip().split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).rpartition("v1=")[2]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def request_body(outgoing: Outgoing) -> bytes:
    custom = outgoing.payload.get("webhook")
    document: Any = custom if isinstance(custom, dict | list) else {
        "id": outgoing.id, "kind": outgoing.kind, "recipient": outgoing.recipient, "subject": outgoing.subject,
        "body": outgoing.body, "payload": outgoing.payload, "idempotency_key": outgoing.idempotency_key,
        "attempt": outgoing.attempt}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


class WebhookChannel:
    name = "webhook"

    def __init__(self, settings: WebhookSettings | None = None):
        self.settings = settings or WebhookSettings.from_env()

    def send(self, outgoing: Outgoing) -> Sent:
        url = outgoing.payload.get("webhook_url") or self.settings.url
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise PermanentError(f"no webhook URL (TOURFLOW_WEBHOOK_URL) for message {outgoing.id}: {url!r}")
        body = request_body(outgoing)
        timestamp = int(time.time())
        headers = {"Content-Type": "application/json; charset=utf-8", IDEMPOTENCY_HEADER: outgoing.idempotency_key,
                   TIMESTAMP_HEADER: str(timestamp), "User-Agent": "tourflow-outbox"}
        if self.settings.secret:
            headers[SIGNATURE_HEADER] = sign(self.settings.secret, timestamp, body)
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout) as response:  # noqa: S310
                answer = response.read(65536)
        except urllib.error.HTTPError as exc:
            detail = exc.read(500).decode("utf-8", "replace")
            error = TransientError if exc.code >= 500 or exc.code in TRANSIENT_STATUSES else PermanentError
            raise error(f"HTTP {exc.code}: {detail}".strip()) from None
        except (TimeoutError, urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TransientError(f"{type(exc).__name__}: {reason}") from None
        return Sent(provider_ref=_reference(answer))


def _reference(answer: bytes) -> str | None:
    try:
        document = json.loads(answer or b"null")
    except ValueError:
        return None
    if isinstance(document, dict):
        value = document.get("id") or document.get("message_id")
        if isinstance(value, str | int) and not isinstance(value, bool):
            return str(value)[:200]
    return None


__all__ = ["WebhookChannel", "sign", "verify_signature", "request_body", "SIGNATURE_HEADER", "TIMESTAMP_HEADER",
           "IDEMPOTENCY_HEADER"]
