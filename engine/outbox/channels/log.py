"""The `log` channel: the message is written to the log (logger `tourflow.outbox`) and counts as delivered."""

from __future__ import annotations

import logging

from engine.outbox.channels.base import Outgoing, Sent

log = logging.getLogger("tourflow.outbox")


class LogChannel:
    name = "log"

    def send(self, outgoing: Outgoing) -> Sent:
        log.info("outbox message %s (%s) to %s: %s\n%s", outgoing.id, outgoing.kind, outgoing.recipient,
                 outgoing.subject, outgoing.body)
        return Sent(provider_ref=f"log-{outgoing.id}", delivered=True)


__all__ = ["LogChannel"]
