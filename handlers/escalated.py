"""Escalated complaints (P7): filing a complaint a higher authority forwarded, with its reply deadline,
and the supervisor's optional reminder before that deadline.

The documents give the authority's reply deadline only. A reminder to the supervisor once a share of
the time has passed is the setting `escalated_complaint.reply_warning_percent` (e.g. 75); by default
(None) there is none: the warning boundary is then set to NO_WARNING, a moment after any deadline, so
it never fires while the case is open (the subprocess ending cancels it).
"""

from __future__ import annotations

from datetime import UTC, datetime

from engine.clock import parse_iso
from engine.plugins.handlers import HandlerContext, handler
from handlers.domain.lookup import existing_archive
from handlers.domain.models import ArchiveRecord, Setting

ARCHIVE_KIND = "escalated_complaint"
ARCHIVED_KEYS = ("authority_name", "case_no", "authority_contact", "customer_name", "contact_phone", "complaint_at",
                 "time_class", "kind", "description", "customer_request", "tour_id", "received_at", "reply_deadline",
                 "facts", "responsible_department", "responsible_person", "handling_plan", "compensation_amount",
                 "advance_payment", "serious_problem", "decision", "implementation_note", "reply_content",
                 "reply_channel", "replied_at", "customer_informed", "customer_satisfied", "follow_up_note",
                 "involves_multiple_departments", "involved_departments", "coordination_note")
SETTINGS_KEY = "escalated_complaint"
DEFAULTS: dict = {"reply_warning_percent": None}
NO_WARNING = datetime(2999, 12, 31, tzinfo=UTC).isoformat()


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


def reply_warning_percent(session) -> float | None:
    row = session.get(Setting, SETTINGS_KEY)
    value = {**DEFAULTS, **(row.value if row else {})}["reply_warning_percent"]
    return float(value) if value is not None else None


@handler("escalated_reply_warning", writes=False)
def plan_reply_warning(ctx: HandlerContext) -> dict:
    """When the supervisor is reminded: received + percent of the time to the deadline, or never (the default)."""
    percent = reply_warning_percent(ctx.session)
    received, deadline = _moment(ctx.data.get("received_at")), _moment(ctx.data.get("reply_deadline"))
    if percent is None or received is None or deadline is None:
        return {"percent": None, "warning_at": NO_WARNING}
    return {"percent": percent, "warning_at": (received + (deadline - received) * (percent / 100)).isoformat()}


@handler("escalated_archive")
def archive_escalated(ctx: HandlerContext) -> dict:
    """One archive row per case and step (keyed by the idempotency key): the case and whether it was answered in time."""
    existing = existing_archive(ctx)
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
