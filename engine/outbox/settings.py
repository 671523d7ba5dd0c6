"""The outbox's settings, from the environment (README "Sending messages to real providers", docs/outbox.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from engine.errors import TourflowError

CHANNELS = ("email", "webhook", "log")
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_BACKOFF_SECONDS = 30.0
DEFAULT_BACKOFF_CAP_SECONDS = 3600.0
DEFAULT_LEASE_SECONDS = 120.0
DEFAULT_TIMEOUT_SECONDS = 10.0


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _number(name: str, default: float) -> float:
    value = _env(name)
    try:
        number = float(value) if value else default
    except ValueError:
        raise TourflowError(f"{name} must be a number, not {value!r}", key="outbox.setting_number",
                            params={"name": name, "value": value}) from None
    if number <= 0:
        raise TourflowError(f"{name} must be a number, not {value!r}", key="outbox.setting_number",
                            params={"name": name, "value": value})
    return number


def _flag(name: str, default: str) -> bool:
    return _env(name, default).lower() not in ("0", "false", "no", "off", "")


def customer_channels() -> list[str]:
    """TOURFLOW_CUSTOMER_CHANNELS: the channels a customer message goes out on (comma list, default `log`)."""
    names = [name.strip().lower() for name in _env("TOURFLOW_CUSTOMER_CHANNELS", "log").split(",") if name.strip()]
    unknown = [name for name in names if name not in CHANNELS]
    if unknown:
        raise TourflowError(f"TOURFLOW_CUSTOMER_CHANNELS names unknown channels: {', '.join(unknown)}",
                            key="outbox.unknown_channel", params={"channel": ", ".join(unknown)})
    return list(dict.fromkeys(names)) or ["log"]


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    user: str
    password: str
    starttls: bool
    sender: str
    timeout: float
    cafile: str = ""  # a private CA's certificates (PEM) to trust, instead of the system's
    ssl: bool = False  # TLS from the first byte (port 465) rather than STARTTLS

    @classmethod
    def from_env(cls) -> SmtpSettings:
        implicit = _flag("TOURFLOW_SMTP_SSL", "0")
        starttls = _flag("TOURFLOW_SMTP_STARTTLS", "1") and not implicit
        port = int(_number("TOURFLOW_SMTP_PORT", 465 if implicit else 587))
        return cls(host=_env("TOURFLOW_SMTP_HOST", "localhost"), port=port, ssl=implicit,
                   user=_env("TOURFLOW_SMTP_USER"), password=os.environ.get("TOURFLOW_SMTP_PASSWORD", ""),
                   starttls=starttls, sender=_env("TOURFLOW_SMTP_FROM", "tourflow@localhost"),
                   timeout=_number("TOURFLOW_OUTBOX_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS),
                   cafile=_env("TOURFLOW_SMTP_CAFILE"))


@dataclass(frozen=True)
class WebhookSettings:
    url: str
    secret: str
    timeout: float

    @classmethod
    def from_env(cls) -> WebhookSettings:
        return cls(url=_env("TOURFLOW_WEBHOOK_URL"), secret=os.environ.get("TOURFLOW_WEBHOOK_SECRET", ""),
                   timeout=_number("TOURFLOW_OUTBOX_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS))


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts and backoff: attempt n (1-based) failing waits base * 2^(n-1) seconds, at most cap."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff: float = DEFAULT_BACKOFF_SECONDS
    cap: float = DEFAULT_BACKOFF_CAP_SECONDS
    lease: float = DEFAULT_LEASE_SECONDS

    @classmethod
    def from_env(cls) -> RetryPolicy:
        return cls(max_attempts=int(_number("TOURFLOW_OUTBOX_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS)),
                   backoff=_number("TOURFLOW_OUTBOX_BACKOFF_SECONDS", DEFAULT_BACKOFF_SECONDS),
                   cap=_number("TOURFLOW_OUTBOX_BACKOFF_CAP_SECONDS", DEFAULT_BACKOFF_CAP_SECONDS),
                   lease=_number("TOURFLOW_OUTBOX_LEASE_SECONDS", DEFAULT_LEASE_SECONDS))

    def delay_after(self, attempt: int) -> float:
        return min(self.backoff * 2 ** max(attempt - 1, 0), self.cap)


__all__ = ["CHANNELS", "customer_channels", "SmtpSettings", "WebhookSettings", "RetryPolicy"]
