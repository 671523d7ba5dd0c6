"""Commands for what runs without a person: messages, the message buffer, due jobs, housekeeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from engine.clock import frozen_at, utcnow
from engine.errors import FormInvalid, NotFound, TourflowError
from engine.limits import KEY_MAX, MESSAGE_NAME_MAX, check_data, check_text
from engine.outbox import staff_alerts
from engine.run.core import EngineCore
from engine.run.jobs import JobRunner, worker_name
from engine.run.messaging import MAX_TTL as MAX_MESSAGE_TTL
from engine.run.messaging import message_dict
from engine.run.rows import job_dict
from engine.sandbox.outcomes import lets_go_of_the_lock
from engine.store.audit import SYSTEM_ACTOR
from engine.store.models import Job, Message
from engine.store.states import JobState


def _ttl(ttl_seconds: float | None) -> timedelta | None:
    """A sender's time to live for a buffered message, checked."""
    if ttl_seconds is None:
        return None
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int | float) or ttl_seconds <= 0:
        raise TourflowError("ttl_seconds must be a positive number", key="message.ttl")
    if not ttl_seconds <= MAX_MESSAGE_TTL.total_seconds():  # also NaN; timedelta(1e308) overflows
        most = f"ttl_seconds may be at most {int(MAX_MESSAGE_TTL.total_seconds())} seconds"
        raise FormInvalid(most, field="ttl_seconds", errors=[{"field": "ttl_seconds", "message": most}], key="message.ttl")
    return timedelta(seconds=ttl_seconds)


class MessageCommands(EngineCore):
    def tick(self, at: datetime | None = None) -> list[dict[str, Any]]:
        """Fire every job due up to `at` (now by default), each in its own transaction."""
        moment = at or utcnow()
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return JobRunner(self, owner=worker_name("tick")).run_due(moment)

    @lets_go_of_the_lock
    def message(self, name: str, key: str | None, data: dict[str, Any] | None = None,
                actor: str = SYSTEM_ACTOR, message_ref: str | None = None,
                ttl_seconds: float | None = None) -> dict[str, Any]:
        """Deliver a message to the instance waiting for it under `key`, start a process that
        catches it, or buffer it under `key` until one waits (for `ttl_seconds`, default a day)."""
        payload = data if data is not None else {}
        if not isinstance(payload, dict):
            raise TourflowError("message data must be a JSON object", key="data.not_object")
        if not isinstance(name, str) or not name.strip() or len(name) > MESSAGE_NAME_MAX:
            raise TourflowError(f"a message needs a name of 1 to {MESSAGE_NAME_MAX} characters", key="message.name",
                                params={"limit": MESSAGE_NAME_MAX})
        for label, value in (("correlation key", key), ("message_ref", message_ref)):
            if value is not None and (not isinstance(value, str) or not value or len(value) > KEY_MAX):
                raise TourflowError(f"the {label} must be a string of 1 to {KEY_MAX} characters", key="message.key",
                                    params={"limit": KEY_MAX})
        check_text("name", name, MESSAGE_NAME_MAX)
        check_text("correlation_key", key, KEY_MAX, required=False)
        check_text("message_ref", message_ref, KEY_MAX, required=False)
        check_data(payload, "data")
        ttl = _ttl(ttl_seconds)
        try:
            with self.transaction() as tx:
                result = self.router.route(tx, name, key, payload, actor, message_ref=message_ref, ttl=ttl)
        except IntegrityError:
            # Another sender used the same message_ref at the same moment; theirs won.
            return self.message(name, key, payload, actor, message_ref, ttl_seconds)
        if result is None:
            raise NotFound(f"no instance waits for message {name!r} and no process starts with it; "
                           "without a correlation key it cannot wait in the buffer", key="message.nobody",
                           params={"name": name})
        return result

    def messages(self, state: str | None = None, name: str | None = None, key: str | None = None,
                 limit: int = 200) -> list[dict[str, Any]]:
        """Routed messages, newest first (the buffer is state "buffered")."""
        with self.reading() as session:
            query = select(Message).order_by(Message.id.desc()).limit(limit)
            if state:
                query = query.where(Message.state == state)
            if name:
                query = query.where(Message.name == name)
            if key:
                query = query.where(Message.correlation_key == key)
            return [message_dict(row) for row in session.execute(query).scalars()]

    def jobs(self, state: str | None = JobState.PENDING, limit: int = 200) -> list[dict[str, Any]]:
        """Jobs by due time (state None: all), with their lease and last error."""
        with self.reading() as session:
            query = select(Job).order_by(Job.due_at, Job.id).limit(limit)
            if state:
                query = query.where(Job.state == state)
            return [job_dict(j) for j in session.execute(query).scalars()]

    @lets_go_of_the_lock
    def housekeeping(self, now: datetime | None = None) -> dict[str, int]:
        """Expire old buffered messages, deliver buffered ones whose instance waits already, alert staff of
        tasks that fell overdue and send the staff alert digests that are due (engine/outbox/staff_alerts.py)."""
        moment = now or utcnow()
        with frozen_at(moment), self.transaction() as tx:
            expired = self.router.expire(tx, moment)
        with frozen_at(moment), self.transaction() as tx:
            delivered = self.router.sweep(tx, moment)
        with frozen_at(moment), self.transaction() as tx:
            overdue = staff_alerts.note_overdue(tx.session, moment)
        with frozen_at(moment), self.transaction() as tx:
            digests = staff_alerts.send_digests(tx.session, moment, staff_alerts.link_base())
        return {"expired": expired, "delivered": delivered, "overdue_alerts": overdue, "alert_digests": digests}


__all__ = ["MessageCommands"]
