"""What every channel adapter takes and answers, and the two kinds of failure.

A channel's `send(outgoing)` returns a `Sent` when the provider accepted the message, raises
`TransientError` when trying again later may work (a timeout, a refused connection, HTTP 5xx,
408 or 429, SMTP 4xx) and `PermanentError` when it will not (HTTP 4xx, SMTP 5xx, a bad address):
the message then fails at once, without the remaining attempts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Outgoing:
    """A message as a channel sees it: read from its row when a worker leases it."""

    id: int
    kind: str
    channel: str
    recipient: str
    subject: str
    body: str
    payload: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str = ""
    attempt: int = 1

    @property
    def key_digest(self) -> str:
        """A short stable digest of the idempotency key, for ids a provider may limit (Message-ID)."""
        return hashlib.sha256(self.idempotency_key.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Sent:
    provider_ref: str | None = None
    delivered: bool = False  # the channel itself is the destination (log): nothing more to hear of


class DeliveryError(Exception):
    permanent = False


class TransientError(DeliveryError):
    """Try again after the backoff."""


class PermanentError(DeliveryError):
    """Trying again will not help: the message fails now."""

    permanent = True


class Channel(Protocol):
    name: str

    def send(self, outgoing: Outgoing) -> Sent: ...


__all__ = ["Outgoing", "Sent", "DeliveryError", "TransientError", "PermanentError", "Channel"]
