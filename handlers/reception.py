"""Walk-in reception (P4 walk_in_reception): report a complaint, look up records, archive the visit.

The system steps of the 上门客户接待工作流程 (doc 000): 立即报告质检培训部 when the customer
complains (the diagram then throws `complaint_received`, which starts complaint_handling under
the key this handler gives), 查询记录 in the agency's tables by phone or name, and 接待记录存档:
one `contact_record` row (channel `walk_in`) per visit, written once per step
(keyed by `ctx.idempotency_key`). The two read-only handlers are declared `writes=False`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import select

from engine.plugins.handlers import HandlerContext, handler
from handlers.domain.lookup import customer_bookings, desk_products
from handlers.domain.models import DESKS, ContactRecord, Customer
from handlers.timefmt import china_iso, parse_time

CHANNEL = "walk_in"
MAX_LIST = 20
QC = "质检培训部"
WRAP_UP_TASK = "wrap_up_visit"

# Form answers kept in the record's details: what QC inspects (etiquette of key nodes 1-3 and 7)
# and what a later follow-up needs (the matter, the solution, the promise).
ETIQUETTE_KEYS = (
    "greeted_warmly", "materials_ready", "offered_help",           # 1 主动问好
    "chair_pulled_out", "seated_after_customer", "water_served",   # 2 引导入座
    "attentive_listening",                                          # 3 与客户交谈
    "documents_handed_over", "gift_reminder", "seen_to_door",      # 7 接待收尾
    "special_weather", "taxi_help",
)
MATTER_KEYS = (
    "visitor_count", "customer_name", "business_line", "matter", "real_need", "records_note",
    "uncertain_question", "specialist_answer", "product_code", "service_item", "solution",
    "recommended_products", "customer_response", "rejection_reason", "resolution", "booking_code",
    "contract_signed", "customer_satisfied", "supervisor_solution", "promised_at", "promise_resolution",
)


def _normalise_phone(value: Any) -> str:
    digits = re.sub(r"[^0-9]", "", str(value or ""))
    return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits


def _desk(value: Any) -> str | None:
    return value if isinstance(value, str) and value in DESKS else None


def visit_ref(instance_id: int) -> str:
    return f"WI-{instance_id}"


def complaint_key(instance_id: int) -> str:
    """The business key of the complaint_handling instance a walk-in complaint starts."""
    return f"complaint-{visit_ref(instance_id)}"


def _find_customer(ctx: HandlerContext, phone: Any, name: Any) -> tuple[Customer | None, str | None]:
    """By phone first; else by name when exactly one customer has it."""
    number = _normalise_phone(phone)
    if number:
        customer = ctx.session.execute(
            select(Customer).where(Customer.phone == number).order_by(Customer.id).limit(1)
        ).scalar_one_or_none()
        if customer is not None:
            return customer, "phone"
    wanted = str(name or "").strip()
    if wanted:
        matches = ctx.session.execute(select(Customer).where(Customer.name == wanted).limit(2)).scalars().all()
        if len(matches) == 1:
            return matches[0], "name"
    return None, None


# ---- 3. 客户投诉时：立即报告质检培训部 ---------------------------------------------------------

@handler("report_walk_in_complaint", writes=False)
def report_walk_in_complaint(ctx: HandlerContext, phone: str | None = None, name: str | None = None) -> dict:
    """立即报告质检培训部: timestamp the report and give the complaint its key.

    The report itself is the `complaint_received` message the diagram throws next (it starts
    complaint_handling under `correlation_key`, with what the customer said); this step's
    `handler_called` event is the record of when it was reported.
    """
    customer, _matched_by = _find_customer(ctx, phone, name)
    now = china_iso(ctx.now)
    return {
        "visit_ref": visit_ref(ctx.instance_id),
        "correlation_key": complaint_key(ctx.instance_id),
        "complaint_at": now,
        "reported_at": now,
        "reported_to": QC,
        "customer_id": customer.id if customer else None,
    }


# ---- 4. 查询记录 ---------------------------------------------------------------------------

@handler("lookup_customer_records", writes=False)
def lookup_customer_records(ctx: HandlerContext, phone: str | None = None, name: str | None = None,
                            business_line: str | None = None) -> dict:
    """查询记录: the customer (by phone, else by a unique name), their bookings, the products asked about."""
    customer, matched_by = _find_customer(ctx, phone, name)
    bookings = customer_bookings(ctx.session, customer.id, MAX_LIST) if customer is not None else []
    products = desk_products(ctx.session, _desk(business_line), MAX_LIST)
    return {
        "found": customer is not None,
        "matched_by": matched_by,
        "customer": None if customer is None else {
            "id": customer.id, "name": customer.name, "phone": customer.phone, "city": customer.city,
            "level": customer.level, "branch_code": customer.branch_code,
        },
        "bookings": bookings,
        "products": products,
    }


# ---- 接待记录存档 --------------------------------------------------------------------------

def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _outcome(data: dict[str, Any], now: datetime) -> tuple[str, dict[str, Any]]:
    """The visit's outcome and what it adds to the details."""
    if data.get("request_type") == "投诉":
        report = _dict(data.get("qc_report"))
        return "escalated", {"escalated_to": QC, "complaint": {
            "complaint_key": report.get("correlation_key"), "reported_at": report.get("reported_at"),
            "time_class": data.get("time_class"), "kind": data.get("kind"),
            "customer_request": data.get("customer_request"), "tour_id": data.get("tour_id") or None,
        }}
    if data.get("customer_response") == "经努力仍不接受":
        promised = parse_time(data.get("promised_at"))
        late = bool(promised and now > promised)
        return ("promise_late" if late else "promise_kept"), {
            "supervisor_assisted": True, "promise_kept_at": china_iso(now), "promise_breached": late}
    if data.get("customer_response") == "接受":
        return "resolved", {}
    return "unresolved", {}


def _handled_by(ctx: HandlerContext) -> str | None:
    """Who wrapped the visit up (the task row), else who started it."""
    return ctx.completed_by(WRAP_UP_TASK) or ctx.started_by


@handler("archive_walk_in_visit")
def archive_walk_in_visit(ctx: HandlerContext) -> dict:
    """接待记录存档: one `contact_record` (channel walk_in) per visit, written once."""
    existing = ctx.session.execute(
        select(ContactRecord).where(ContactRecord.idempotency_key == ctx.idempotency_key)
    ).scalar_one_or_none()
    if existing is not None:
        return {"contact_record_id": existing.id, "outcome": existing.outcome, "visit_ref": existing.details.get("visit_ref")}
    data = ctx.data
    records = _dict(data.get("records"))
    customer = _dict(records.get("customer"))
    customer_id = customer.get("id") or _dict(data.get("qc_report")).get("customer_id")
    outcome, extra = _outcome(data, ctx.now)
    details: dict[str, Any] = {"visit_ref": visit_ref(ctx.instance_id)}
    details["etiquette"] = {key: data[key] for key in ETIQUETTE_KEYS if key in data}
    details.update({key: data[key] for key in MATTER_KEYS if data.get(key) not in (None, "", [])})
    if records:
        details["records"] = {"found": records.get("found"), "matched_by": records.get("matched_by"),
                              "bookings": [b.get("code") for b in records.get("bookings") or []]}
    details.update(extra)
    record = ContactRecord(
        idempotency_key=ctx.idempotency_key,
        instance_id=ctx.instance_id,
        channel=CHANNEL,
        customer_id=customer_id,
        contact=str(data.get("contact_phone") or "")[:60] or None,
        desk=_desk(data.get("business_line")),
        request_type=data.get("request_type"),
        summary=data.get("visit_summary") or data.get("matter") or "",
        outcome=outcome,
        handled_by=_handled_by(ctx),
        started_at=ctx.started_at,
        archived_at=ctx.now,
        details=details,
    )
    ctx.session.add(record)
    ctx.session.flush()
    return {"contact_record_id": record.id, "outcome": outcome, "visit_ref": details["visit_ref"]}
