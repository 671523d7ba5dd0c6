"""The audit log: append-only events, hash-chained per stream, and their verification.

hash = sha256(prev_hash + canonical JSON of {stream, instance_id, seq, at, actor, kind, payload})
where payload is the stored canonical JSON text itself, so verification never depends on
how a database round-trips JSON. `audit_head` keeps each stream's last seq and hash, so
deleting the newest events is caught as well.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .clock import to_db
from .models import AuditEvent, AuditHead

GENESIS = "0" * 64
SYSTEM_STREAM = "system"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def instance_stream(instance_id: int) -> str:
    return f"instance:{instance_id}"


def _digest(prev_hash: str, event: AuditEvent) -> str:
    body = {
        "stream": event.stream,
        "instance_id": event.instance_id,
        "seq": event.seq,
        "at": event.at.isoformat(timespec="microseconds"),
        "actor": event.actor,
        "kind": event.kind,
        "payload": event.payload,
    }
    return hashlib.sha256((prev_hash + canonical_json(body)).encode()).hexdigest()


def append(
    session: Session,
    *,
    kind: str,
    actor: str,
    at: datetime,
    payload: dict[str, Any],
    instance_id: int | None = None,
) -> AuditEvent:
    """Append one event to its stream inside the caller's transaction."""
    stream = instance_stream(instance_id) if instance_id is not None else SYSTEM_STREAM
    # The head row is read (and locked) once per session: a step appends several events.
    heads = session.info.setdefault("tourflow_audit_heads", {})
    head = heads.get(stream)
    if head is None or head not in session:
        with session.no_autoflush:
            head = session.execute(
                select(AuditHead).where(AuditHead.stream == stream).with_for_update()
            ).scalar_one_or_none()
        if head is None:
            head = AuditHead(stream=stream, seq=0, hash=GENESIS)
            session.add(head)
        heads[stream] = head
    event = AuditEvent(
        stream=stream,
        instance_id=instance_id,
        seq=head.seq + 1,
        at=to_db(at),
        actor=actor,
        kind=kind,
        payload=canonical_json(payload),
        prev_hash=head.hash,
    )
    event.hash = _digest(head.hash, event)
    head.seq, head.hash = event.seq, event.hash
    session.add(event)
    return event


@dataclass(frozen=True)
class ChainBreak:
    stream: str
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"{self.stream} seq {self.seq}: {self.reason}"


def verify_stream(session: Session, stream: str) -> ChainBreak | None:
    """Walk one stream from its first event; return the first broken link, or None."""
    expected_prev = GENESIS
    expected_seq = 1
    events = session.execute(
        select(AuditEvent).where(AuditEvent.stream == stream).order_by(AuditEvent.seq, AuditEvent.id)
    ).scalars()
    for event in events:
        if event.seq != expected_seq:
            return ChainBreak(stream, expected_seq, f"event missing or out of order (found seq {event.seq})")
        if event.prev_hash != expected_prev:
            return ChainBreak(stream, event.seq, "prev_hash does not match the previous event's hash")
        if _digest(event.prev_hash, event) != event.hash:
            return ChainBreak(stream, event.seq, "event content does not match its hash (altered)")
        expected_prev, expected_seq = event.hash, expected_seq + 1
    head = session.get(AuditHead, stream)
    last_seq = expected_seq - 1
    if head is not None and (head.seq != last_seq or head.hash != expected_prev):
        return ChainBreak(stream, last_seq + 1, f"events after seq {last_seq} are missing (head is seq {head.seq})")
    return None


def all_streams(session: Session) -> list[str]:
    heads = set(session.execute(select(AuditHead.stream)).scalars())
    heads |= set(session.execute(select(AuditEvent.stream).distinct()).scalars())
    return sorted(heads)


def verify(session: Session, streams: list[str] | None = None) -> list[ChainBreak]:
    return [b for s in (streams or all_streams(session)) if (b := verify_stream(session, s)) is not None]


def events_of(session: Session, instance_id: int) -> list[AuditEvent]:
    return list(
        session.execute(
            select(AuditEvent).where(AuditEvent.stream == instance_stream(instance_id)).order_by(AuditEvent.seq)
        ).scalars()
    )


def event_dict(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "at": event.at.isoformat(timespec="microseconds") + "Z",
        "actor": event.actor,
        "kind": event.kind,
        "payload": json.loads(event.payload),
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }
