"""The channels a message leaves by, each a small adapter with no provider SDK: `email` (SMTP),
`webhook` (an HTTP POST signed with HMAC-SHA256) and `log` (the demo's). Which ones customers'
messages use is a setting: `customer_channels()`."""

from engine.outbox.settings import CHANNELS, customer_channels

__all__ = ["CHANNELS", "customer_channels"]
