"""Escalated complaints (P7): filing a complaint a higher authority forwarded, with its reply deadline."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from engine.clock import parse_iso
from engine.plugins.handlers import HandlerContext, handler
from handlers.domain.models import ArchiveRecord

ARCHIVE_KIND = "escalated_complaint"
ARCHIVED_KEYS = ("authority_name", "case_no", "authority_contact", "customer_name", "contact_phone", "complaint_at",
                 "time_class", "kind", "description", "customer_request", "tour_id", "received_at", "reply_deadline",
                 "facts", "responsible_department", "responsible_person", "handling_plan", "compensation_amount",
                 "advance_payment", "serious_problem", "decision", "implementation_note", "reply_content",
                 "reply_channel", "replied_at", "customer_informed", "customer_satisfied", "follow_up_note")


def _moment(value) -> datetime | None:
    if not value:
        return None
    try:
        moment = parse_iso(value, naive_zone=None)
    except ValueError:
        return None
    return moment if moment.tzinfo else None  # no offset: unknown


def deadline_met(data: dict) -> bool | None:
    """Whether the reply to the authority was given by its deadline (None when either time is unknown)."""
    replied, deadline = _moment(data.get("replied_at")), _moment(data.get("reply_deadline"))
    if replied is None or deadline is None:
        return None
    return replied <= deadline


@handler("escalated_archive")
def archive_escalated(ctx: HandlerContext) -> dict:
    """One archive row per case and step (keyed by the idempotency key): the case and whether it was answered in time."""
    existing = ctx.session.execute(
        select(ArchiveRecord).where(ArchiveRecord.idempotency_key == ctx.idempotency_key)
    ).scalar_one_or_none()
    if existing is not None:
        return {"archive_id": existing.id, "deadline_met": existing.payload.get("deadline_met")}
    data = ctx.data
    met = deadline_met(data)
    payload = {key: data[key] for key in ARCHIVED_KEYS if key in data}
    payload["deadline_met"] = met
    record = ArchiveRecord(
        idempotency_key=ctx.idempotency_key,
        instance_id=ctx.instance_id,
        kind=ARCHIVE_KIND,
        ref=str(data.get("case_no") or "")[:60] or None,
        summary=f"{data.get('authority_name', '')} 下转投诉 {data.get('case_no', '')}：{data.get('customer_name', '')}，"
                f"{data.get('kind', '')}；{'按期' if met else '超期' if met is False else '未记录'}答复",
        payload=payload,
        archived_at=ctx.now,
    )
    ctx.session.add(record)
    ctx.session.flush()
    return {"archive_id": record.id, "deadline_met": met}
