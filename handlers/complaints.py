"""Complaint handling (P6): filing a finished complaint for statistics (doc 001 8.1.7, 8.2.5)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from engine.clock import parse_iso_utc
from engine.plugins.handlers import HandlerContext, handler
from handlers.domain.models import Complaint


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


@handler("complaint_archive")
def archive_complaint(ctx: HandlerContext) -> dict:
    """Write the complaint into the `complaint` table once per step (keyed by the idempotency key)."""
    existing = ctx.session.execute(
        select(Complaint).where(Complaint.idempotency_key == ctx.idempotency_key)
    ).scalar_one_or_none()
    if existing is not None:
        return {"complaint_id": existing.id, "archived": True}
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
    return {"complaint_id": complaint.id, "archived": True}
