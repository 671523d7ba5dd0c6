"""Customer itinerary management (P9, doc 002): bookings with capacity, the confirmation letter,
fee adjustments only with the customer's recorded consent, and the itinerary file."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from engine.plugins.handlers import BusinessError, HandlerContext, handler
from handlers.customer_messages import notify_customer
from handlers.domain.lookup import existing_archive
from handlers.domain.models import ArchiveRecord, Resource, ResourceBooking

NO_TRANSPORT = "无"


def _file(ctx: HandlerContext, kind: str, ref: str | None, summary: str, payload: dict) -> ArchiveRecord:
    record = ArchiveRecord(idempotency_key=ctx.idempotency_key, instance_id=ctx.instance_id, kind=kind,
                           ref=(ref or None) and str(ref)[:60], summary=summary, payload=payload,
                           archived_at=ctx.now)
    ctx.session.add(record)
    ctx.session.flush()
    return record


def current_total(data: dict) -> float:
    """The contract price after the fee adjustments made so far."""
    adjusted = (data.get("fee_adjustment") or {}).get("new_total")
    return float(adjusted if adjusted is not None else data.get("total_price") or 0)


# ---- 预订交通与住宿 ---------------------------------------------------------------------------

def _wanted(data: dict) -> list[tuple[str, date, int]]:
    """(resource code, date, units): the rooms for every night, the group tickets on the departure day."""
    depart, back = date.fromisoformat(data["depart_on"]), date.fromisoformat(data["return_on"])
    if back < depart:
        raise BusinessError(f"返回日期 {back} 早于出发日期 {depart}", lane="operator")
    nights = max((back - depart).days, 1)
    wanted = [(data["hotel_code"], depart + timedelta(days=i), int(data["rooms"])) for i in range(nights)]
    if data.get("transport_code") and data["transport_code"] != NO_TRANSPORT:
        wanted.append((data["transport_code"], depart, int(data.get("party_size") or 1)))
    return wanted


@handler("itinerary_book")
def book_services(ctx: HandlerContext) -> dict:
    """Hold rooms and tickets for the itinerary, never beyond a resource's capacity on a date.

    A re-entered itinerary (after a change) releases the holds of earlier bookings first.
    Keyed by the step: a second call for the same step returns what the first one held."""
    session, data = ctx.session, ctx.data
    mine = session.execute(select(ResourceBooking).where(ResourceBooking.instance_id == ctx.instance_id,
                                                         ResourceBooking.status == "held")).scalars().all()
    this_step = [b for b in mine if b.idempotency_key.startswith(ctx.idempotency_key + ":")]
    if this_step:
        return {"held": [{"booking_id": b.id, "on_date": b.on_date.isoformat(), "units": b.units}
                         for b in this_step], "released": 0}
    for earlier in mine:
        earlier.status = "released"
    session.flush()
    held = []
    for code, on_date, units in _wanted(data):
        resource = session.execute(select(Resource).where(Resource.code == code)).scalar_one_or_none()
        if resource is None:
            raise BusinessError(f"资源 {code} 不存在", lane="operator")
        taken = session.execute(select(func.coalesce(func.sum(ResourceBooking.units), 0)).where(
            ResourceBooking.resource_id == resource.id, ResourceBooking.on_date == on_date,
            ResourceBooking.status == "held")).scalar_one()
        if taken + units > resource.capacity:
            raise BusinessError(f"{resource.name} {on_date} 余量不足：需要 {units}，剩余 {resource.capacity - taken}",
                                lane="operator")
        booking = ResourceBooking(idempotency_key=f"{ctx.idempotency_key}:{code}:{on_date.isoformat()}",
                                  resource_id=resource.id, on_date=on_date, units=units,
                                  tour_id=str(data["itinerary_no"]), instance_id=ctx.instance_id, status="held",
                                  created_at=ctx.now)
        session.add(booking)
        session.flush()
        held.append({"booking_id": booking.id, "resource": code, "on_date": on_date.isoformat(), "units": units})
    return {"held": held, "released": len(mine)}


# ---- 发送确认函 -----------------------------------------------------------------------------

def letter_text(data: dict) -> str:
    return (f"尊敬的{data['customer_name']}：您的行程（编号 {data['itinerary_no']}，合同 {data.get('contract_no', '')}）已确认。"
            f"出发日期 {data['depart_on']}，返回日期 {data['return_on']}，目的地 {data.get('destination', '')}，"
            f"出行人数 {data.get('party_size', '')} 人；住宿 {data['hotel_code']} {data['rooms']} 间，"
            f"大交通 {data.get('transport_code', NO_TRANSPORT)}；团费 {current_total(data):.2f} 元。"
            f"注意事项：请携带有效身份证件，提前30分钟到达集合地点，出发前一周客服将与您联系确认行程。"
            f"联系电话：本社客服热线。")


@handler("itinerary_confirmation_letter")
def send_confirmation_letter(ctx: HandlerContext) -> dict:
    """Compose the confirmation letter, file it (once per step) and return its content."""
    existing = existing_archive(ctx)
    if existing is not None:
        return {"letter_id": existing.id, "content": existing.payload["content"], "sent_to": existing.payload["sent_to"]}
    data = ctx.data
    content = letter_text(data)
    record = _file(ctx, "itinerary_letter", data.get("itinerary_no"), f"行程确认函 {data.get('itinerary_no')}",
                   {"content": content, "sent_to": data.get("contact_phone"), "total": current_total(data)})
    notify_customer(ctx, "itinerary.confirmation_letter", str(data.get("contact_phone") or ""),
                    {**trip_facts(data), "letter": content}, {"itinerary_no": data.get("itinerary_no")})
    return {"letter_id": record.id, "content": content, "sent_to": data.get("contact_phone")}


def trip_facts(data: dict) -> dict:
    """What the customer messages of messages/itinerary.*.j2 read."""
    return {"customer_name": data.get("customer_name", ""), "itinerary_no": data.get("itinerary_no", ""),
            "destination": data.get("destination", ""), "depart_on": data.get("depart_on", ""),
            "return_on": data.get("return_on", "")}


@handler("itinerary_pre_departure_message")
def send_pre_departure_message(ctx: HandlerContext) -> dict:
    """A week before departure: the reminder to the customer (materials, meeting time), through the outbox;
    the call customer service makes next is the user task after it."""
    data = ctx.data
    notify_customer(ctx, "itinerary.departure_reminder", str(data.get("contact_phone") or ""), trip_facts(data),
                    {"itinerary_no": data.get("itinerary_no")})
    return {"kind": "itinerary.departure_reminder", "queued_at": ctx.now.isoformat()}


# ---- 费用调整 -------------------------------------------------------------------------------

def consent_recorded(data: dict) -> bool:
    return data.get("fee_consent") is True and bool(str(data.get("consent_evidence") or "").strip())


@handler("itinerary_adjust_fee")
def adjust_fee(ctx: HandlerContext) -> dict:
    """Change the price by the approved difference, only with the customer's recorded consent."""
    data = ctx.data
    if not consent_recorded(data):
        raise BusinessError("未记录客户同意，不得调整费用（须客户同意并登记同意凭证）", lane="sales")
    existing = existing_archive(ctx)
    if existing is not None:
        return dict(existing.payload["result"])
    before = current_total(data)
    difference = float(data.get("fee_difference") or 0)
    result = {"previous_total": before, "fee_difference": difference,
              "new_total": float(Decimal(str(before)) + Decimal(str(difference))),
              "consent_evidence": data["consent_evidence"]}
    record = _file(ctx, "itinerary_change", data.get("itinerary_no"),
                   f"行程变更费用调整 {data.get('itinerary_no')}：{before:.2f} → {result['new_total']:.2f}",
                   {"change_reason": data.get("change_reason"), "change_wish": data.get("change_wish"),
                    "supplier_feedback": data.get("supplier_feedback"), "result": result})
    return {**result, "record_id": record.id}


# ---- 归档 -----------------------------------------------------------------------------------

FILED_KEYS = ("customer_name", "contact_phone", "travel_purpose", "destination", "depart_on", "return_on",
              "party_size", "budget", "itinerary_plan", "quoted_price", "review_comment", "contract_no", "signed_on",
              "total_price", "itinerary_no", "hotel_code", "rooms", "transport_code", "change_reason", "change_wish",
              "reminder_note", "feedback_channel", "satisfaction", "feedback_class", "feedback_text",
              "handling_result")


@handler("itinerary_archive")
def archive_itinerary(ctx: HandlerContext) -> dict:
    """File the itinerary with references to its letters and changes (one row per step)."""
    existing = existing_archive(ctx)
    if existing is not None:
        return {"archive_id": existing.id}
    data = ctx.data
    documents = ctx.session.execute(select(ArchiveRecord.id, ArchiveRecord.kind).where(
        ArchiveRecord.instance_id == ctx.instance_id, ArchiveRecord.kind.in_(("itinerary_letter", "itinerary_change")))
        .order_by(ArchiveRecord.id)).all()
    payload = {key: data[key] for key in FILED_KEYS if key in data}
    payload["final_total"] = current_total(data)
    payload["letters"] = [i for i, kind in documents if kind == "itinerary_letter"]
    payload["changes"] = [i for i, kind in documents if kind == "itinerary_change"]
    record = _file(ctx, "itinerary", data.get("itinerary_no"),
                   f"客户行程 {data.get('itinerary_no')}：{data.get('customer_name')}，{data.get('destination')}，"
                   f"反馈 {data.get('feedback_class')}", payload)
    return {"archive_id": record.id}
