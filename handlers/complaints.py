"""Complaint handling (P6): filing a finished complaint for statistics (doc 001 8.1.7, 8.2.5).

A complaint the customer already took to an authority is filed too, with the key of the
escalated_complaint (P7) case it is handed to: an `archive_record` of kind `complaint_to_authority`
links the two instances (P6 instance and complaint row -> P7 business key)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from engine.clock import parse_iso_utc
from engine.plugins.handlers import HandlerContext, handler
from handlers.domain.models import ArchiveRecord, Complaint

HANDOFF_KIND = "complaint_to_authority"


def _handled_by(data: dict) -> str:
    if data.get("resolved_locally"):
        return "local"
    if data.get("escalated_to_authority"):
        return "authority"
    return "qc"


def _parse_time(value) -> datetime | None:
    if not value:
        return None
    try:
        return parse_iso_utc(value)  # no offset: UTC, as stored before
    except ValueError:
        return None


def authority_case_key(instance_id: int) -> str:
    """The business key of the escalated_complaint case a complaint_handling instance hands over."""
    return f"complaint_handling-{instance_id}"


def _result(ctx: HandlerContext, complaint_id: int) -> dict:
    result = {"complaint_id": complaint_id, "archived": True}
    if ctx.data.get("escalated_to_authority"):
        result |= {"source_instance_id": ctx.instance_id, "authority_case_key": authority_case_key(ctx.instance_id)}
    return result


def _file_handoff(ctx: HandlerContext, complaint: Complaint) -> None:
    data = ctx.data
    ctx.session.add(ArchiveRecord(
        idempotency_key=f"{ctx.idempotency_key}:handoff",
        instance_id=ctx.instance_id,
        kind=HANDOFF_KIND,
        ref=authority_case_key(ctx.instance_id),
        summary=f"转{data.get('authority_name', '上级部门')}下转投诉处理流程：{complaint.customer_name}",
        payload={"complaint_id": complaint.id, "source_instance_id": ctx.instance_id,
                 "authority_case_key": authority_case_key(ctx.instance_id),
                 "authority_name": data.get("authority_name"), "case_no": data.get("case_no") or None,
                 "reply_deadline": data.get("reply_deadline")},
        archived_at=ctx.now,
    ))


@handler("complaint_archive")
def archive_complaint(ctx: HandlerContext) -> dict:
    """Write the complaint into the `complaint` table once per step (keyed by the idempotency key);
    a complaint handed to an authority also gets its link to the escalated_complaint case."""
    existing = ctx.session.execute(
        select(Complaint).where(Complaint.idempotency_key == ctx.idempotency_key)
    ).scalar_one_or_none()
    if existing is not None:
        return _result(ctx, existing.id)
    data = ctx.data
    complaint = Complaint(
        idempotency_key=ctx.idempotency_key,
        instance_id=ctx.instance_id,
        customer_name=data["customer_name"],
        contact_phone=data["contact_phone"],
        complaint_at=_parse_time(data.get("complaint_at")),
        time_class=data["time_class"],
        kind=data["kind"],
        description=data.get("description", ""),
        customer_request=data.get("customer_request", ""),
        tour_id=data.get("tour_id") or None,
        handled_by=_handled_by(data),
        responsible_department=data.get("responsible_department"),
        compensation_amount=Decimal(str(data.get("compensation_amount") or 0)),
        advance_payment=bool(data.get("advance_payment")),
        resolution=data.get("feedback") or data.get("local_action"),
        customer_satisfied=data.get("customer_satisfied"),
        archived_at=ctx.now,
    )
    ctx.session.add(complaint)
    ctx.session.flush()
    if data.get("escalated_to_authority"):
        _file_handoff(ctx, complaint)
        ctx.session.flush()
    return _result(ctx, complaint.id)


TOUR_PROCESS = "tour_operation"


@handler("complaint_tour_guide", writes=False)
def find_tour_guide(ctx: HandlerContext) -> dict:
    """The guide of the tour a complaint is about (doc 000: a complaint during the tour is solved
    locally first): the data's own `guide_user`, else the running tour_operation of `tour_id`
    (its dispatch plan names the guide's account), else the tour's archive; None: the guide lane."""
    data = ctx.data
    if data.get("guide_user"):
        return {"guide_user": str(data["guide_user"]), "found_in": "complaint"}
    tour_id = data.get("tour_id")
    if not tour_id:
        return {"guide_user": None, "found_in": None}
    running = ctx.running_instance_data(TOUR_PROCESS, "tour_id", str(tour_id)) or {}
    if running.get("guide_user"):
        return {"guide_user": str(running["guide_user"]), "found_in": TOUR_PROCESS}
    archived = ctx.session.execute(
        select(ArchiveRecord.payload).where(ArchiveRecord.kind == "tour", ArchiveRecord.ref == str(tour_id))
        .order_by(ArchiveRecord.id.desc()).limit(1)).scalar_one_or_none() or {}
    if archived.get("guide_user"):
        return {"guide_user": str(archived["guide_user"]), "found_in": "tour_archive"}
    return {"guide_user": None, "found_in": None}
