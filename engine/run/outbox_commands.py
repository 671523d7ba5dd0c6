"""Commands on the outbox: a delivery pass, resolving a delivery incident, providers' delivery reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from engine.access import policy
from engine.access.roles import Capability
from engine.clock import parse_iso_utc, utcnow
from engine.errors import FormInvalid, NotFound, TaskConflict, TourflowError
from engine.limits import check_reason
from engine.outbox import resolution
from engine.outbox.delivery import Deliverer
from engine.outbox.queue import message_row, timeline
from engine.run.core import EngineCore
from engine.run.delivery_incidents import delivery_incident_of
from engine.run.jobs import worker_name
from engine.run.outbox_list import newest_messages
from engine.run.rows import viewer_named
from engine.store.models import OutboxMessage
from engine.store.states import OutboxStatus

RESOLUTIONS = ("retry", "give_up")
REPORT_STATUSES = ("delivered", "failed")
REPORT_ITEMS_MAX = 500


def _report_invalid(index: int, field: str, message: str) -> FormInvalid:
    where = f"items[{index}].{field}"
    return FormInvalid(f"{where}: {message}", field=where, errors=[{"field": where, "message": message}],
                       key="outbox.report_item", params={"field": where})


class OutboxCommands(EngineCore):
    def send_due_messages(self, due_by: datetime | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """One delivery pass over the outbox (`tourflow outbox send-due`): each due message once."""
        return Deliverer(self.db, owner=worker_name("send-due")).send_due(due_by, limit=limit)

    def outbox_list(self, status: str | None = None, kind: str | None = None, limit: int = 100,
                    masked: bool = True) -> list[dict[str, Any]]:
        with self.reading() as session:
            query = newest_messages(status, kind, limit)
            return [message_row(m, masked) for m in session.execute(query).scalars()]

    def outbox_show(self, message_id: int, masked: bool = True) -> dict[str, Any]:
        with self.reading() as session:
            found = timeline(session, message_id, masked)
        if found is None:
            raise NotFound(f"message {message_id} does not exist", key="outbox.missing", params={"id": message_id})
        return found

    def resolve_delivery(self, message_id: int, actor: str, action: str, reason: str,
                         trusted: bool = False) -> dict[str, Any]:
        """Send a failed message again (`retry`) or give it up (`give_up`), with a reason, from the incident
        page, the outgoing-messages page or the API (policy.delivery_refusal); `trusted`: the command line."""
        if action not in RESOLUTIONS:
            raise TourflowError(f"action must be one of {', '.join(RESOLUTIONS)}", key="outbox.action")
        now = utcnow()
        with self.transaction() as tx:
            session = tx.session
            message = resolution.locked(session, message_id)
            if not trusted:  # who may, before what they sent is judged
                viewer = viewer_named(session, actor)
                incident = delivery_incident_of(session, message)
                policy.refuse_if(policy.delivery_refusal(viewer, incident["lane"], incident["routing"]))
            if not isinstance(reason, str) or not reason.strip():
                raise FormInvalid("a reason is required to resolve an incident", field="reason",
                                  errors=[{"field": "reason", "message": "a reason is required"}],
                                  key="reason.resolve")
            reason = check_reason(reason)
            if action == "retry":
                resolution.retry(session, message, actor=actor, reason=reason, now=now)
            else:
                resolution.give_up(session, message, actor=actor, reason=reason, now=now)
            return message_row(message)

    def retry_failed_messages(self, actor: str, reason: str) -> list[int]:
        """Queue every failed message again (`tourflow outbox retry --failed`)."""
        with self.reading() as session:
            ids = list(session.execute(select(OutboxMessage.id).where(OutboxMessage.status == OutboxStatus.FAILED)
                                       .order_by(OutboxMessage.id)).scalars())
        done = []
        for message_id in ids:
            try:
                self.resolve_delivery(message_id, actor, "retry", reason, trusted=True)
            except TaskConflict:
                continue  # someone else resolved it meanwhile
            done.append(message_id)
        return done

    def report_deliveries(self, items: Any, actor: str) -> list[dict[str, Any]]:
        """Providers' delivery reports, all or none: each item {id or provider_ref, status, at, error}.
        Answers one result per item; an unknown message is a result `not_found`, not an error."""
        if not isinstance(items, list) or not items:
            raise FormInvalid("items must be a non-empty list", field="items",
                              errors=[{"field": "items", "message": "must be a non-empty list"}],
                              key="outbox.report_items", params={"limit": REPORT_ITEMS_MAX})
        if len(items) > REPORT_ITEMS_MAX:
            raise FormInvalid(f"at most {REPORT_ITEMS_MAX} items", field="items",
                              errors=[{"field": "items", "message": f"at most {REPORT_ITEMS_MAX} items"}],
                              key="outbox.report_items", params={"limit": REPORT_ITEMS_MAX})
        reports = [_checked(index, item) for index, item in enumerate(items)]
        with self.transaction() as tx:
            session = tx.session
            viewer = viewer_named(session, actor)
            policy.require_capability(viewer, Capability.REPORT_DELIVERIES)
            # lock the rows in id order, so two concurrent batches never wait on each other in a circle
            ids = [_find(session, report) for report in reports]
            rows = session.execute(select(OutboxMessage).where(OutboxMessage.id.in_({i for i in ids if i}))
                                   .order_by(OutboxMessage.id).with_for_update()
                                   .execution_options(populate_existing=True)).scalars()
            locked = {row.id: row for row in rows}
            results = []
            for report, message_id in zip(reports, ids, strict=True):
                message = locked.get(message_id) if message_id else None
                if message is None:
                    results.append({**report["ref"], "result": "not_found"})
                    continue
                try:
                    outcome = resolution.report(session, message, status=report["status"], at=report["at"],
                                                error=report["error"], actor=actor)
                except TaskConflict:
                    results.append({**report["ref"], "id": message.id, "result": "refused",
                                    "status": str(message.status)})
                    continue
                results.append({**report["ref"], "id": message.id, "status": outcome["status"],
                                "result": "updated" if outcome["changed"] else "unchanged"})
            return results


def _checked(index: int, item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise _report_invalid(index, "item", "must be an object")
    unknown = sorted(set(item) - {"id", "provider_ref", "status", "at", "error"})
    if unknown:
        raise _report_invalid(index, unknown[0], "unknown field (expected: id, provider_ref, status, at, error)")
    message_id, ref = item.get("id"), item.get("provider_ref")
    if (message_id is None) == (ref is None):
        raise _report_invalid(index, "id", "give either id or provider_ref")
    if message_id is not None and (isinstance(message_id, bool) or not isinstance(message_id, int)
                                   or not 0 < message_id < 2**31):
        raise _report_invalid(index, "id", "must be a positive integer")
    if ref is not None and (not isinstance(ref, str) or not 0 < len(ref) <= 200):
        raise _report_invalid(index, "provider_ref", "must be a string of 1 to 200 characters")
    if item.get("status") not in REPORT_STATUSES:
        raise _report_invalid(index, "status", "must be delivered or failed")
    error = item.get("error")
    if error is not None and (not isinstance(error, str) or len(error) > 2000):
        raise _report_invalid(index, "error", "must be a string of at most 2000 characters")
    try:
        at = parse_iso_utc(item["at"]) if item.get("at") is not None else utcnow()
    except (TypeError, ValueError, TourflowError):
        raise _report_invalid(index, "at", "must be an ISO 8601 date-time") from None
    return {"ref": {"id": message_id} if message_id is not None else {"provider_ref": ref},
            "message_id": message_id, "provider_ref": ref, "status": item["status"], "at": at, "error": error}


def _find(session, report: dict[str, Any]) -> int | None:
    """The id of the message a report names (by provider_ref: the newest with it), or None."""
    if report["message_id"] is not None:
        query = select(OutboxMessage.id).where(OutboxMessage.id == report["message_id"])
    else:
        query = select(OutboxMessage.id).where(OutboxMessage.provider_ref == report["provider_ref"]) \
            .order_by(OutboxMessage.id.desc()).limit(1)
    return session.execute(query).scalar()


__all__ = ["OutboxCommands", "RESOLUTIONS", "REPORT_STATUSES"]
