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
