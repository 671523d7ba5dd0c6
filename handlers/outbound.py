"""Outbound calls (P2 呼出业务): the call list of a plan, one archived record per call, the campaign summary.

A plan is made by an agent, or started by the message `follow_up_requested` (handlers/follow_ups.py):
a follow-up call to one customer, linked to the contact it follows up (`source_instance_id`).
Unanswered calls: the documents give no redial rule, so the agent decides to dial again or give up;
the setting `outbound_call.redial_after_minutes` (default 0 = no automatic wait) adds a wait."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.plugins.handlers import HandlerContext, handler
from handlers.domain.models import Booking, ContactRecord, Customer, Product, Setting
from handlers.timefmt import china_iso

CHANNEL = "outbound_call"
OUTCOME_LABELS = {
    "achieved": "目标达成",
    "not_interested": "最终不满意服务方案",
    "no_intention": "无需求和意向",
    "no_answer": "未接通",
    "not_called": "沟通时间窗结束时仍未呼出",
}
RECENT_BOOKINGS = 3
SETTING_KEY = "outbound_call"
DEFAULTS: dict[str, Any] = {"redial_after_minutes": 0}  # 0: the documents' behaviour, no automatic wait
SOURCE_KEYS = ("source_process", "source_instance_id", "matter")  # a follow-up's link to its contact


def settings(session: Session) -> dict[str, Any]:
    row = session.get(Setting, SETTING_KEY)
    return {**DEFAULTS, **(row.value if row else {})}


def find_customer(session: Session, token: str) -> Customer | None:
    """A target given as a customer number or as an 11-digit mobile number."""
    token = str(token).strip()
    if len(token) == 11 and token.startswith("1"):
        return session.execute(
            select(Customer).where(Customer.phone == token).order_by(Customer.id).limit(1)
        ).scalar_one_or_none()
    if token.isdigit():
        return session.get(Customer, int(token))
    return None


def _recent_bookings(session: Session, customer_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Booking, Product).join(Product, Product.id == Booking.product_id)
        .where(Booking.customer_id == customer_id)
        .order_by(Booking.depart_on.desc()).limit(RECENT_BOOKINGS)
    ).all()
    return [{"code": b.code, "product": p.name, "desk": p.desk, "depart_on": b.depart_on.isoformat(),
             "status": b.status} for b, p in rows]


@handler("outbound_load_targets", writes=False)
def load_targets(ctx: HandlerContext) -> dict:
    """The plan's target customers with their details, keyed by customer id: one call each.

    Targets that match no customer are left out (the summary lists them); a customer named
    twice (by number and by phone) is called once.
    """
    targets: dict[str, dict[str, Any]] = {}
    for token in ctx.data.get("target_customers") or []:
        customer = find_customer(ctx.session, token)
        if customer is None or str(customer.id) in targets:
            continue
        targets[str(customer.id)] = {
            "customer_id": customer.id,
            "customer_name": customer.name,
            "phone": customer.phone,
            "level": customer.level,
            "city": customer.city,
            "branch_code": customer.branch_code,
            "bookings": _recent_bookings(ctx.session, customer.id),
        }
    return targets


@handler("outbound_follow_up_target", writes=False)
def follow_up_target(ctx: HandlerContext) -> dict:
    """The one customer a follow-up calls: the known customer (by id, else by the contact's
    phone), else the contact as the closed contact gave it."""
    data = ctx.data
    customer = ctx.session.get(Customer, int(data["customer_id"])) if data.get("customer_id") else None
    if customer is None and data.get("contact_phone"):
        customer = find_customer(ctx.session, data["contact_phone"])
    if customer is None:
        return {"contact": {"customer_id": None, "customer_name": data.get("customer_name") or "",
                            "phone": data.get("contact_phone") or "", "bookings": []}}
    return {str(customer.id): {
        "customer_id": customer.id, "customer_name": customer.name, "phone": customer.phone, "level": customer.level,
        "city": customer.city, "branch_code": customer.branch_code,
        "bookings": _recent_bookings(ctx.session, customer.id)}}


@handler("outbound_redial_interval", writes=False)
def redial_interval(ctx: HandlerContext) -> dict:
    """稍后重拨: the wait the setting asks for before the call is offered again (0 = none)."""
    minutes = max(int(settings(ctx.session)["redial_after_minutes"] or 0), 0)
    return {"minutes": minutes, "due_at": china_iso(ctx.now + timedelta(minutes=minutes))}


def call_outcome(data: dict[str, Any]) -> str:
    if "answered" not in data:  # the time window closed before the agent dialled
        return "not_called"
    if not data.get("answered"):
        return "no_answer"
    if not data.get("has_intention"):
        return "no_intention"
    if data.get("customer_interested"):
        return "achieved"
    return "not_interested"


@handler("outbound_archive_call")
def archive_call(ctx: HandlerContext) -> dict:
    """Archive one outbound call as a contact record (channel outbound_call), once per step.

    A customer the agent never dialled (the time window closed first) had no contact: nothing
    is archived, and the outcome says so.
    """
    data = ctx.data
    target = data.get("target") or {}
    outcome = call_outcome(data)
    if outcome == "not_called":
        return {"contact_record_id": None, "customer_id": target.get("customer_id"),
                "customer_name": target.get("customer_name"), "outcome": outcome,
                "outcome_label": OUTCOME_LABELS[outcome]}
    existing = ctx.session.execute(
        select(ContactRecord).where(ContactRecord.idempotency_key == ctx.idempotency_key)
    ).scalar_one_or_none()
    if existing is None:
        details = {
            "campaign_goal": data.get("campaign_goal"),
            "outcome_label": OUTCOME_LABELS[outcome],
            "customer_name": target.get("customer_name"),
        }
        for key in ("customer_needs", "service_plan", "offered_product_code", "plan_quote", "reason_category",
                    "reason_detail", "follow_up_needed", "next_contact_at", "window_start", "window_end",
                    "product_code", *SOURCE_KEYS):
            if data.get(key) not in (None, ""):
                details[key] = data[key]
        summary = data.get("call_summary") or ("未接通" if outcome == "no_answer" else "")
        existing = ContactRecord(
            idempotency_key=ctx.idempotency_key,
            instance_id=ctx.instance_id,
            channel=CHANNEL,
            customer_id=target.get("customer_id"),
            contact=target.get("phone"),
            desk=data.get("desk") or None,
            request_type=data.get("purpose"),
            summary=summary,
            outcome=outcome,
            handled_by=ctx.step_completed_by,
            started_at=ctx.now,
            archived_at=ctx.now,
            details=details,
        )
        ctx.session.add(existing)
        ctx.session.flush()
    return {"contact_record_id": existing.id, "customer_id": existing.customer_id,
            "customer_name": target.get("customer_name"), "outcome": existing.outcome,
            "outcome_label": OUTCOME_LABELS.get(existing.outcome, existing.outcome)}


@handler("outbound_gather_outcomes", writes=False)
def gather_outcomes(ctx: HandlerContext) -> dict:
    """This plan's calls as archived: counts by outcome, each call, and the targets not called."""
    data = ctx.data
    records = ctx.session.execute(
        select(ContactRecord).where(ContactRecord.instance_id == ctx.instance_id,
                                    ContactRecord.channel == CHANNEL).order_by(ContactRecord.id)
    ).scalars().all()
    targets: dict[str, dict[str, Any]] = data.get("call_targets") or {}
    called = {str(r.customer_id) for r in records}
    by_outcome = dict.fromkeys(OUTCOME_LABELS, 0)
    by_outcome["not_called"] = len([key for key in targets if key not in called])
    calls = []
    for record in records:
        by_outcome[record.outcome] = by_outcome.get(record.outcome, 0) + 1
        details = record.details or {}
        calls.append({
            "customer_id": record.customer_id,
            "customer_name": details.get("customer_name"),
            "contact": record.contact,
            "outcome": record.outcome,
            "outcome_label": OUTCOME_LABELS.get(record.outcome, record.outcome),
            "handled_by": record.handled_by,
            "summary": record.summary,
            "service_plan": details.get("service_plan"),
            "reason": details.get("reason_detail"),
            "follow_up_needed": bool(details.get("follow_up_needed")),
            "next_contact_at": details.get("next_contact_at"),
        })
    not_called = [{"customer_id": t["customer_id"], "customer_name": t["customer_name"], "phone": t["phone"]}
                  for key, t in targets.items() if key not in called]
    unknown = [token for token in data.get("target_customers") or []
               if find_customer(ctx.session, token) is None]
    total = len(targets)
    return {
        "goal": data.get("campaign_goal"),
        "period": {"start": data.get("window_start"), "end": data.get("window_end")},
        "total_targets": total,
        "called": len(records),
        "by_outcome": by_outcome,
        "success_rate": round(by_outcome["achieved"] / total, 4) if total else 0.0,
        "calls": calls,
        "not_called": not_called,
        "unknown_targets": unknown,
        **({"source": {key: data.get(key) for key in SOURCE_KEYS}} if data.get("source_instance_id") else {}),
    }
