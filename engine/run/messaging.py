"""Messages between instances: delivery by correlation key, a new start, or the buffer.

A message comes from outside (`tourflow message`, the API) or is thrown by an instance
(a message throw event whose message nobody in that instance catches). Either way it is
routed in the caller's transaction, so a step and the messages it sends commit together:

- an instance whose business key is the message's correlation key and that waits for
  the message gets it now;
- else a process that starts with that message starts;
- else, when the message has a correlation key, it waits in the `message` table until
  an instance with that key waits for it (checked at the end of every step of that
  instance, and by the worker's sweep), or until it expires.

Every routed message is a row of the `message` table. A sender may name its message
(`message_ref`): the same name again returns the first outcome and delivers nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from engine.clock import utcnow
from engine.run.message_events import deliver, waited_names, waits_for
from engine.run.model_facts import catches_messages
from engine.run.rows import iso
from engine.run.step import Step
from engine.run.unit import Tx
from engine.run.workflow_data import WALKS
from engine.store import audit
from engine.store.audit import SYSTEM_ACTOR
from engine.store.models import Message, ProcessInstance
from engine.store.states import InstanceStatus, MessageState

CORRELATION_KEY = "correlation_key"
# A message that makes an instance throw another, and so on: a loop in the diagrams. A chain is
# cut at MAX_HOPS deep; one transaction routes at most MAX_MESSAGES (a loop that also fans out).
# A step may throw many messages side by side (QC forwarding each problem it found).
MAX_HOPS = 25
MAX_MESSAGES = 1000
DEPTH, TOTAL = "tourflow_message_depth", "tourflow_message_total"
# How long a message nobody waits for yet stays in the buffer, unless its sender says otherwise.
DEFAULT_TTL = timedelta(days=1)
MAX_TTL = timedelta(days=366)


def message_dict(row: Message, duplicate: bool = False) -> dict[str, Any]:
    return {
        "message_id": row.id,
        "name": row.name,
        "key": row.correlation_key,
        "message_ref": row.message_ref,
        "state": row.state,
        "delivered_to": row.delivered_to,
        "started": row.started,
        "buffered": row.state == MessageState.BUFFERED,
        "expires_at": iso(row.expires_at),
        "created_at": iso(row.created_at),
        "delivered_at": iso(row.delivered_at),
        "sender_instance_id": row.sender_instance_id,
        "duplicate": duplicate,
    }


class MessageRouter:
    """Routes messages inside a command's unit of work; a step calls it back at its end (MessageHooks)."""

    def route(self, tx: Tx, name: str, key: str | None, payload: dict[str, Any], actor: str,
              sender: int | None = None, message_ref: str | None = None,
              ttl: timedelta | None = None) -> dict[str, Any] | None:
        """Deliver, start, or buffer one message; None when nobody takes it and it has no key to wait under."""
        session = tx.session
        if message_ref is not None:
            seen = session.execute(select(Message).where(Message.message_ref == message_ref)).scalar_one_or_none()
            if seen is not None:
                return message_dict(seen, duplicate=True)
        now = utcnow()
        row = Message(name=name, correlation_key=key, message_ref=message_ref, payload=payload, state=MessageState.DELIVERED,
                      sender_instance_id=sender, created_by=actor, created_at=now)
        outcome = self._hand_over(tx, row, actor)
        if outcome is None:
            if key is None:
                return None
            row.state = MessageState.BUFFERED
            row.expires_at = now + (ttl if ttl is not None else DEFAULT_TTL)
        session.add(row)
        session.flush()
        return message_dict(row)

    def _hand_over(self, tx: Tx, row: Message, actor: str) -> int | None:
        record = {"name": row.name, "key": row.correlation_key, "data": row.payload,
                  "from_instance": row.sender_instance_id, "message_ref": row.message_ref}
        if row.correlation_key is not None:
            candidates = tx.session.execute(
                select(ProcessInstance.id).where(ProcessInstance.status == InstanceStatus.RUNNING,
                                                 ProcessInstance.business_key == row.correlation_key,
                                                 ProcessInstance.id != (row.sender_instance_id or 0))
                .order_by(ProcessInstance.id)
            ).scalars().all()
            for candidate in candidates:
                instance = tx.lock_instance(candidate)
                step = tx.open_step(instance, actor, utcnow())
                if not waits_for(step.workflow, row.name):
                    continue
                self._deliver_in(step, row, record)
                return instance.id
        for deployment in tx.current_deployments():
            if row.name in deployment.model.message_starts:
                instance = tx.begin(deployment, row.payload, actor, row.correlation_key, message=record)
                row.delivered_to, row.started, row.delivered_at = instance.id, True, utcnow()
                return instance.id
        return None

    @staticmethod
    def _mark_delivered(row: Message, instance_id: int, now: datetime) -> None:
        row.state, row.delivered_to, row.delivered_at = MessageState.DELIVERED, instance_id, now

    def _deliver_in(self, step: Step, row: Message, record: dict[str, Any]) -> None:
        self._mark_delivered(row, step.instance.id, step.now)
        step.event("message_received", record)
        deliver(step.workflow, row.name, row.payload)
        step.advance()

    def take_buffered(self, tx: Tx, step: Step) -> None:
        """At the end of a step: hand the instance a buffered message it now waits for, oldest first."""
        instance = step.instance
        if instance.status != InstanceStatus.RUNNING or instance.business_key is None:
            return
        if not catches_messages(step.model):  # decided once per model: nothing to look for
            return
        WALKS["messages"] += 1
        names = waited_names(step.workflow)
        if not names:
            return
        query = (
            select(Message)
            .where(Message.state == MessageState.BUFFERED, Message.correlation_key == instance.business_key,
                   Message.name.in_(sorted(names)), Message.expires_at > step.now)
            .order_by(Message.id).limit(1)
        )
        if not tx.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        row = step.session.execute(query).scalar_one_or_none()
        if row is None:
            return
        info = step.session.info
        depth, total = info.get(DEPTH, 0), info.get(TOTAL, 0)
        if depth >= MAX_HOPS or total >= MAX_MESSAGES:
            return
        info[TOTAL], info[DEPTH] = total + 1, depth + 1
        record = {"name": row.name, "key": row.correlation_key, "data": row.payload,
                  "from_instance": row.sender_instance_id, "message_ref": row.message_ref,
                  "buffered_since": iso(row.created_at)}
        try:
            self._deliver_in(step, row, record)
        finally:
            info[DEPTH] = depth

    def send_thrown(self, tx: Tx, step: Step, outgoing: list[tuple[str, dict[str, Any]]]) -> None:
        """Route what a step's instance threw; record each send in the sender's history."""
        info = step.session.info
        depth = info.get(DEPTH, 0)
        for name, payload in outgoing:
            total = info.get(TOTAL, 0)
            if depth >= MAX_HOPS or total >= MAX_MESSAGES:
                why = (f"a chain of more than {MAX_HOPS} messages (a loop?)" if depth >= MAX_HOPS
                       else f"more than {MAX_MESSAGES} messages in one step")
                step.event("message_sent", {"name": name, "delivered_to": None, "error": f"{why}; stopped"})
                continue
            info[TOTAL], info[DEPTH] = total + 1, depth + 1
            data = {k: v for k, v in payload.items() if k != CORRELATION_KEY}
            key = payload.get(CORRELATION_KEY)
            key = None if key is None else str(key)
            try:
                result = self.route(tx, name, key, data, step.actor, sender=step.instance.id)
            finally:
                info[DEPTH] = depth
            step.event("message_sent", {"name": name, "key": key, "data": data,
                                        "delivered_to": result["delivered_to"] if result else None,
                                        "started": bool(result and result["started"]),
                                        "buffered": bool(result and result["buffered"]),
                                        "message_id": result["message_id"] if result else None})

    # ---- housekeeping (the worker runs these) -------------------------------------------
    def expire(self, tx: Tx, now: datetime) -> int:
        """Buffered messages past their expiry are dropped, each with a message_expired event."""
        session = tx.session
        query = select(Message).where(Message.state == MessageState.BUFFERED, Message.expires_at <= now)
        if not tx.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        expired = session.execute(query.order_by(Message.id).limit(500)).scalars().all()
        for row in expired:
            row.state = MessageState.EXPIRED
            audit.append(session, kind="message_expired", actor=SYSTEM_ACTOR, at=now, instance_id=None,
                         payload={"message_id": row.id, "name": row.name, "key": row.correlation_key,
                                  "message_ref": row.message_ref, "from_instance": row.sender_instance_id,
                                  "created_at": iso(row.created_at), "expires_at": iso(row.expires_at)})
        return len(expired)

    def sweep(self, tx: Tx, now: datetime, limit: int = 50) -> int:
        """Deliver buffered messages whose instance waits for them already.

        Closes a race on databases with concurrent writers: a message buffered while the
        instance that will wait for it was being created, each transaction unable to see the
        other's rows. Returns how many were delivered.
        """
        session = tx.session
        keys = session.execute(
            select(Message.correlation_key).where(Message.state == MessageState.BUFFERED, Message.expires_at > now)
            .group_by(Message.correlation_key).limit(limit)
        ).scalars().all()
        if not keys:
            return 0
        instance_ids = session.execute(
            select(ProcessInstance.id).where(ProcessInstance.status == InstanceStatus.RUNNING,
                                             ProcessInstance.business_key.in_(keys))
            .order_by(ProcessInstance.id)
        ).scalars().all()
        delivered = 0
        for instance_id in instance_ids:
            instance = tx.lock_instance(instance_id)
            step = tx.open_step(instance, SYSTEM_ACTOR, now)
            before = session.info.get(TOTAL, 0)
            self.take_buffered(tx, step)
            if session.info.get(TOTAL, 0) > before:
                delivered += 1
        return delivered


__all__ = ["CORRELATION_KEY", "DEFAULT_TTL", "MAX_HOPS", "MAX_MESSAGES", "MAX_TTL", "MessageRouter", "message_dict",
           "waits_for"]
