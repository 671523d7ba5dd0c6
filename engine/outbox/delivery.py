"""Delivering due messages: lease, send outside any transaction, record the result.

1. **Lease** (a short write transaction): due messages (`queued` with `next_attempt_at` passed,
   or `sending` whose lease ran out: their worker died mid-send) become `sending`, leased to this
   worker, their attempt counted (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's write lock
   makes leasing single-writer).
2. **Send**, holding no transaction and no lock: the channel may take seconds.
3. **Record** (a second write transaction), if the message is still this worker's: `sent`
   (`delivered` for the log channel), or back to `queued` after a backoff, or `failed` after the
   last attempt or a permanent error: a delivery incident for the message's lane
   (engine/outbox/resolution.py).

A worker killed during 2 leaves a `sending` row whose lease runs out; another worker sends it
again with the same idempotency key (Message-ID, Idempotency-Key header): delivery is
at-least-once and the receiver drops the duplicate. Leases use the wall clock.

A batch is leased at once, so slow sends (an SMTP server near its timeouts) could outlast the
lease of the batch's last messages while their worker is alive; another worker would then send
them too (still at-least-once, but wasted). Before each send, once a quarter of the lease has
passed, the worker renews the lease of every message of the batch it has not sent yet (one
UPDATE); one that is no longer its own (its lease ran out and another worker took it) is skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update

from engine.clock import iso_z
from engine.outbox import events, staff_alerts
from engine.outbox.channels import channel_for
from engine.outbox.channels.base import Channel, DeliveryError, Outgoing, Sent
from engine.outbox.settings import RetryPolicy
from engine.store.db import Database
from engine.store.models import OutboxMessage
from engine.store.states import OutboxStatus

log = logging.getLogger("tourflow.outbox")
ERROR_LIMIT = 2000


def wall_clock() -> datetime:
    return datetime.now(UTC)


def due_condition(now: datetime, due_by: datetime):
    """Queued and due, or sending with a lease that ran out (its worker died)."""
    return or_(
        and_(OutboxMessage.status == OutboxStatus.QUEUED, OutboxMessage.next_attempt_at <= due_by),
        and_(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.lease_until < now),
    )


@dataclass
class Deliverer:
    db: Database
    owner: str
    policy: RetryPolicy = field(default_factory=RetryPolicy.from_env)
    channels: Mapping[str, Channel] | None = None  # tests may pass adapters; else built from the settings
    clock: Callable[[], datetime] = wall_clock  # tests inject time

    def channel(self, name: str) -> Channel:
        if self.channels is not None and name in self.channels:
            return self.channels[name]
        return channel_for(name)

    # ---- 1. lease ------------------------------------------------------------------------
    def anything_due(self, due_by: datetime, skip: set[int] | None = None) -> bool:
        """A read first: an idle outbox costs each poll no write transaction (SQLite's write lock)."""
        query = select(OutboxMessage.id).where(due_condition(self.clock(), due_by)).limit(1)
        if skip:
            query = query.where(OutboxMessage.id.not_in(skip))
        with self.db.read() as session:
            return session.execute(query).first() is not None

    def lease(self, due_by: datetime, limit: int = 20, skip: set[int] | None = None) -> list[Outgoing]:
        if not self.anything_due(due_by, skip):
            return []
        now = self.clock()
        with self.db.write() as session, session.begin():
            query = (select(OutboxMessage).where(due_condition(now, due_by))
                     .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit))
            if skip:
                query = query.where(OutboxMessage.id.not_in(skip))
            if not self.db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            rows = list(session.execute(query).scalars())
            taken = []
            for row in rows:
                row.status, row.locked_by = OutboxStatus.SENDING, self.owner
                row.lease_until = now + timedelta(seconds=self.policy.lease)
                row.attempts += 1
                taken.append(Outgoing(id=row.id, kind=row.kind, channel=row.channel, recipient=row.recipient,
                                      subject=row.subject, body=row.body, payload=dict(row.payload or {}),
                                      idempotency_key=row.idempotency_key, attempt=row.attempts))
        return taken

    def release(self, ids: list[int]) -> None:
        """Give back leases not started (a worker told to stop): their attempt is not counted."""
        if not ids:
            return
        with self.db.write() as session, session.begin():
            session.execute(update(OutboxMessage).where(
                OutboxMessage.id.in_(ids), OutboxMessage.locked_by == self.owner,
                OutboxMessage.status == OutboxStatus.SENDING,
            ).values(status=OutboxStatus.QUEUED, locked_by=None, lease_until=None,
                     attempts=OutboxMessage.attempts - 1))

    def renew(self, outgoing: list[Outgoing]) -> set[int]:
        """Extend the lease of these messages, still this worker's; answers the ids it renewed."""
        if not outgoing:
            return set()
        still = or_(*(and_(OutboxMessage.id == o.id, OutboxMessage.attempts == o.attempt) for o in outgoing))
        with self.db.write() as session, session.begin():
            renewed = session.execute(update(OutboxMessage).where(
                still, OutboxMessage.locked_by == self.owner, OutboxMessage.status == OutboxStatus.SENDING,
            ).values(lease_until=self.clock() + timedelta(seconds=self.policy.lease)).returning(OutboxMessage.id))
            return set(renewed.scalars())

    # ---- 2. send, 3. record --------------------------------------------------------------
    def deliver(self, outgoing: Outgoing, moment: datetime | None = None) -> dict[str, Any]:
        try:
            result: Sent | DeliveryError = self.channel(outgoing.channel).send(outgoing)
        except DeliveryError as exc:
            result = exc
        except Exception as exc:  # noqa: BLE001 - an adapter's bug: counted as a transient failure
            log.exception("outbox channel %s failed on message %s", outgoing.channel, outgoing.id)
            result = DeliveryError(f"{type(exc).__name__}: {exc}")
        return self.record(outgoing, result, moment or self.clock())

    def record(self, outgoing: Outgoing, result: Sent | DeliveryError, moment: datetime) -> dict[str, Any]:
        with self.db.write() as session, session.begin():
            row = session.execute(select(OutboxMessage).where(OutboxMessage.id == outgoing.id).with_for_update()
                                  .execution_options(populate_existing=True)).scalar_one_or_none()
            if row is None or not self._still_ours(row, outgoing):
                return {"id": outgoing.id, "status": "skipped", "attempt": outgoing.attempt}
            row.locked_by, row.lease_until = None, None
            if isinstance(result, Sent):
                self._sent(session, row, result, moment)
            else:
                self._failed(session, row, result, moment)
            return {"id": row.id, "status": str(row.status), "attempt": outgoing.attempt,
                    "error": row.last_error if not isinstance(result, Sent) else None}

    def _still_ours(self, row: OutboxMessage, outgoing: Outgoing) -> bool:
        """Ours, or another worker's whose lease ran out before it could record (it died)."""
        if row.status != OutboxStatus.SENDING:
            return False
        if row.locked_by == self.owner and row.attempts == outgoing.attempt:
            return True
        return row.lease_until is None or row.lease_until < self.clock()

    @staticmethod
    def _sent(session, row: OutboxMessage, sent: Sent, moment: datetime) -> None:
        row.status, row.sent_at, row.last_error = OutboxStatus.SENT, moment, None
        row.provider_ref = sent.provider_ref or row.provider_ref
        events.record(session, row, events.SENT, at=moment, attempt=row.attempts, provider_ref=row.provider_ref)
        if sent.delivered:
            row.status, row.delivered_at = OutboxStatus.DELIVERED, moment
            events.record(session, row, events.DELIVERED, at=moment, by="channel")

    def _failed(self, session, row: OutboxMessage, error: DeliveryError, moment: datetime) -> None:
        row.last_error = str(error)[:ERROR_LIMIT] or type(error).__name__
        final = error.permanent or row.attempts >= self.policy.max_attempts
        if final:
            row.status, row.failed_at, row.next_attempt_at = OutboxStatus.FAILED, moment, None
        else:
            row.status = OutboxStatus.QUEUED
            row.next_attempt_at = moment + timedelta(seconds=self.policy.delay_after(row.attempts))
        events.record(session, row, events.FAILED, at=moment, attempt=row.attempts, error=row.last_error,
                      permanent=error.permanent, final=final,
                      retry_at=None if final else iso_z(row.next_attempt_at), lane=row.lane)
        if final:
            log.warning("outbox message %s failed for good after %d attempt(s): %s", row.id, row.attempts,
                        row.last_error)
            if row.instance_id is not None and row.kind != "staff.alert":  # a failed alert alerts nobody
                staff_alerts.note_incident(session, instance_id=row.instance_id, lane=row.lane,
                                           name=f"消息发送失败 {row.kind}", error=row.last_error, now=moment,
                                           ref=f"message-{row.id}")

    # ---- a pass ----------------------------------------------------------------------------
    def send_due(self, due_by: datetime | None = None, *, limit: int | None = None,
                 should_stop: Callable[[], bool] = lambda: False) -> list[dict[str, Any]]:
        """Lease and deliver due messages until none is left (each message once per call), or `should_stop`.
        `due_by` set (`send-due --at`): messages due by then, recorded as at that moment."""
        results: list[dict[str, Any]] = []
        tried: set[int] = set()
        renew_after = timedelta(seconds=self.policy.lease / 4)
        while not should_stop() and (limit is None or len(results) < limit):
            leased_at = self.clock()
            pending = self.lease(due_by or leased_at, limit=10 if limit is None else min(10, limit - len(results)),
                                 skip=tried)
            if not pending:
                break
            while pending:
                if should_stop():
                    self.release([o.id for o in pending])
                    break
                if self.clock() - leased_at > renew_after:
                    leased_at = self.clock()
                    ours = self.renew(pending)
                    for lost in (o for o in pending if o.id not in ours):
                        tried.add(lost.id)
                        results.append({"id": lost.id, "status": "skipped", "attempt": lost.attempt})
                    pending = [o for o in pending if o.id in ours]
                    if not pending:
                        break
                outgoing = pending.pop(0)
                tried.add(outgoing.id)
                results.append(self.deliver(outgoing, due_by))
        return results


__all__ = ["Deliverer", "due_condition", "wall_clock"]
