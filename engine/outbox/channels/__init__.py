"""The channels a message leaves by, each a small adapter with no provider SDK: `email` (SMTP,
channels/smtp.py), `webhook` (an HTTP POST signed with HMAC-SHA256, channels/webhook.py) and `log`
(the demo's). Which ones customers' messages use is a setting: `customer_channels()`."""

from __future__ import annotations

from engine.outbox.channels.base import Channel
from engine.outbox.channels.log import LogChannel
from engine.outbox.channels.smtp import EmailChannel
from engine.outbox.channels.webhook import WebhookChannel
from engine.outbox.settings import CHANNELS, customer_channels

ADAPTERS: dict[str, type] = {"email": EmailChannel, "webhook": WebhookChannel, "log": LogChannel}


def channel_for(name: str) -> Channel:
    """The adapter of channel `name`, configured from the environment as it is now."""
    return ADAPTERS[name]()


__all__ = ["CHANNELS", "customer_channels", "channel_for"]
