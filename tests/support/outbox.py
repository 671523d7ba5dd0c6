"""Helpers of the outbox tests: the notify process deployed, messages and their events read back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from engine.outbox import events
from engine.run.runtime import Runtime
from engine.store.models import AuditEvent, OutboxMessage
from tests.support.world import deploy

OUTBOX_NOTIFY = Path(__file__).resolve().parents[1] / "fixtures" / "runtime" / "outbox_notify.bpmn"


def deploy_notify(rt: Runtime) -> None:
    import tests.fixtures.outbox_handlers  # noqa: F401 - registers test_outbox_notify

    deploy(rt, OUTBOX_NOTIFY)


def start_notify(rt: Runtime, channel: str = "log", recipient: str = "zhang@example.com", times: int = 1,
                 lane: str = "agent") -> int:
    return rt.start("outbox_notify", {"channel": channel, "recipient": recipient, "times": times, "lane": lane})


def messages(rt: Runtime) -> list[OutboxMessage]:
    with rt.db.read() as session:
        return list(session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars())


def outbox_events(rt: Runtime, kind: str | None = None) -> list[tuple[str, int | None, dict[str, Any]]]:
    """(kind, instance id, payload) of every outbox event, in order of writing."""
    with rt.db.read() as session:
        query = select(AuditEvent).where(AuditEvent.kind.in_([kind] if kind else events.KINDS)).order_by(AuditEvent.id)
        return [(e.kind, e.instance_id, json.loads(e.payload)) for e in session.execute(query).scalars()]


def failed_message(rt: Runtime, lane: str | None = "agent", instance_id: int | None = None,
                   recipient: str = "13812345678") -> int:
    """A webhook message queued, then refused for good by its provider (a 400): a delivery incident."""
    from datetime import UTC, datetime

    from engine.outbox.channels.base import PermanentError
    from engine.outbox.delivery import Deliverer
    from engine.outbox.queue import enqueue

    now = datetime.now(UTC)
    with rt.db.write() as session, session.begin():
        message = enqueue(session, kind="booking.payment_reminder", channel="webhook", recipient=recipient,
                          subject="付款提醒", body="请在三日内付清尾款", payload={}, now=now, lane=lane,
                          idempotency_key=f"failed-{lane}-{instance_id}-{recipient}", instance_id=instance_id)
    deliverer = Deliverer(rt.db, owner="test")
    [outgoing] = [o for o in deliverer.lease(now) if o.id == message.id]
    deliverer.record(outgoing, PermanentError("HTTP 400: bad phone"), now)
    return message.id
