"""Booking desk (P10, doc 004): availability, booking record and confirmation, payment, change/cancel.

Capacity is shared with the tour side: a desk booking holds its units as `resource_booking` rows
(tour_id = the booking code), so the desk and the operators never overbook a resource together.
Customer name and contact live in `desk_booking` and `contact_record` only: handler results,
messages and archives carry the booking code and masked values, never the contact.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.clock import CHINA, naive_utc, parse_iso_china
from engine.plugins.handlers import BusinessError, HandlerContext, handler
from handlers.customer_messages import notify_customer
from handlers.domain.lookup import existing_archive
from handlers.domain.models import (
    ArchiveRecord,
    DeskBooking,
    PriceItem,
    Resource,
    ResourceBooking,
    Setting,
)

# cancel_notice_hours: doc 004 sets a notice period for changes only ("变更预订信息，应提前[X]小时"); a
# cancellation is always taken (refund by how early). None = the documents' behaviour.
DEFAULTS = {"change_notice_hours": 48, "cancel_notice_hours": None, "refund_rules": [], "payment_reminder_hours": 24,
            "payment_valid_hours": 72}
# The desk's catalogue: resource name (what staff pick) -> price item and how many units a party needs.
CATALOGUE = {
    "泰安舒适型酒店": ("ROOM-STD", "room"),
    "曲阜经济型酒店": ("ROOM-ECO", "room"),
    "泰安团餐餐厅": ("MEAL-STD", "per_person"),
    "清真餐厅": ("MEAL-HALAL", "per_person"),
    "33座大巴": ("VEH-33", "vehicle"),
    "53座大巴": ("VEH-53", "vehicle"),
    "地陪导游": ("GUIDE-LOCAL", "one"),
    "高铁 济南—上海 团体票": ("TRAIN-G", "per_person"),
}
HELD = "held"
ALTERNATIVE_DAYS = 3
MAX_ALTERNATIVES = 5
CENT = Decimal("0.01")


# ---- small helpers ------------------------------------------------------------------------
def settings(session: Session) -> dict[str, Any]:
    row = session.get(Setting, "booking_desk")
    return {**DEFAULTS, **(row.value if row else {})}


def mask_name(name: str) -> str:
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""


def mask_contact(contact: str) -> str:
    text = str(contact or "").strip()
    if "@" in text:
        user, _, domain = text.partition("@")
        return user[:1] + "***@" + domain
    return text[:3] + "****" + text[-4:] if len(text) >= 8 else "*" * len(text)


def service_moment(service_date: str, service_time: str) -> datetime:
    """The booked date and time, China time."""
    hour, minute = (int(p) for p in service_time.split(":"))
    return datetime.combine(date.fromisoformat(service_date), time(hour, minute), tzinfo=CHINA)


parse_iso = parse_iso_china  # the name this module and its tests use


def money(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def _resources(session: Session, names: list[str]) -> dict[str, Resource]:
    found = {r.name: r for r in session.execute(select(Resource).where(Resource.name.in_(names))).scalars()}
    missing = [n for n in names if n not in found or n not in CATALOGUE]
    if missing:
        raise BusinessError(f"预订系统中没有服务项目：{'、'.join(missing)}", lane="supervisor")
    return found


def units_needed(session: Session, resource: Resource, party_size: int) -> int:
    rule = CATALOGUE[resource.name][1]
    if rule == "room":
        return math.ceil(party_size / 2)
    if rule == "vehicle":
        seats = session.execute(select(PriceItem.extra).where(PriceItem.code == CATALOGUE[resource.name][0])).scalar()
        return math.ceil(party_size / int((seats or {}).get("seats", 1)))
    if rule == "one":
        return 1
    return party_size


def free_units(session: Session, resource: Resource, on_date: date, excluding: str | None = None) -> int:
    query = select(func.coalesce(func.sum(ResourceBooking.units), 0)).where(
        ResourceBooking.resource_id == resource.id, ResourceBooking.on_date == on_date,
        ResourceBooking.status == HELD)
    if excluding is not None:
        query = query.where(ResourceBooking.tour_id != excluding)
    return resource.capacity - int(session.execute(query).scalar())


def shortages(session: Session, services: list[str], on_date: date, party_size: int,
              excluding: str | None = None) -> list[dict[str, Any]]:
    """What is missing on that date: [{service, needed, free}], empty when everything is there."""
    missing = []
    for name, resource in _resources(session, services).items():
        needed, free = units_needed(session, resource, party_size), free_units(session, resource, on_date, excluding)
        if free < needed:
            missing.append({"service": name, "needed": needed, "free": max(free, 0)})
    return missing


def quote(session: Session, services: list[str], party_size: int) -> Decimal:
    total = Decimal(0)
    for name, resource in _resources(session, services).items():
        price = session.execute(select(PriceItem.price).where(PriceItem.code == CATALOGUE[name][0])).scalar_one()
        total += Decimal(price) * units_needed(session, resource, party_size)
    return total.quantize(CENT)


def _hold(session: Session, ctx: HandlerContext, code: str, services: list[str], on_date: date,
          party_size: int) -> None:
    for resource in _resources(session, services).values():
        session.add(ResourceBooking(idempotency_key=f"{ctx.idempotency_key}:{resource.code}", resource_id=resource.id,
                                    on_date=on_date, units=units_needed(session, resource, party_size), tour_id=code,
                                    instance_id=ctx.instance_id, status=HELD, created_at=ctx.now))


def release(session: Session, code: str) -> None:
    for row in session.execute(select(ResourceBooking).where(ResourceBooking.tour_id == code,
                                                             ResourceBooking.status == HELD)).scalars():
        row.status = "released"


def load_booking(session: Session, code: str) -> DeskBooking:
    booking = session.execute(select(DeskBooking).where(DeskBooking.code == code)).scalar_one_or_none()
    if booking is None:
        raise BusinessError(f"预订记录 {code} 不存在", lane="supervisor")
    return booking


def notify(ctx: HandlerContext, booking: DeskBooking, kind: str, extra: dict[str, Any] | None = None) -> str:
    """The customer's message of this step (messages/booking.<kind>.*.j2), sent through the outbox in the
    step's transaction and logged as one contact record; returns the text an SMS would carry."""
    view = booking_view(booking, settings(ctx.session))
    data = {"customer_name": booking.customer_name, "booking": message_booking(booking, view), **(extra or {})}
    return notify_customer(ctx, f"booking.{kind}", booking.contact, data, {"booking_code": booking.code})


def message_booking(booking: DeskBooking, view: dict[str, Any]) -> dict[str, Any]:
    """The booking as the message templates see it: times as the customer reads them (China time)."""
    return {"code": booking.code, "service_at": view["service_at"][:16].replace("T", " "),
            "party_size": booking.party_size, "services": booking.service, "amount": view["amount"],
            "valid_until": view["valid_until"][:16].replace("T", " ")}


def booking_view(booking: DeskBooking, conf: dict[str, Any]) -> dict[str, Any]:
    """What the process keeps about a booking: no contact, the name masked."""
    service_at = booking.service_date.astimezone(CHINA)
    valid_until = min(booking.entered_at + timedelta(hours=conf["payment_valid_hours"]),
                      booking.service_date).astimezone(CHINA)
    return {"code": booking.code, "status": booking.status, "source": booking.source,
            "customer": mask_name(booking.customer_name), "sent_to": mask_contact(booking.contact),
            "services": booking.service.split("、"), "service_at": service_at.isoformat(),
            "party_size": booking.party_size, "amount": money(booking.amount),
            "taken_at": booking.taken_at.astimezone(UTC).isoformat(), "valid_until": valid_until.isoformat(),
            "payment_reminder_hours": conf["payment_reminder_hours"]}


def policy_text(conf: dict[str, Any]) -> str:
    rules = sorted(conf["refund_rules"], key=lambda r: -r["hours_before"])
    parts = [f"服务开始前{r['hours_before']}小时及以上取消退还{r['refund_percent']}%" for r in rules]
    cancel = conf.get("cancel_notice_hours")
    notice = (f"变更或取消须至少提前{conf['change_notice_hours']}小时通知预订台，逾期不予受理"
              if cancel == conf["change_notice_hours"] else
              f"变更须至少提前{conf['change_notice_hours']}小时通知预订台，逾期不予受理；"
              + (f"取消须至少提前{cancel}小时，逾期不予受理" if cancel is not None else "取消可随时申请"))
    return notice + "；" + "；".join(parts) + "。"


def refund_percent(conf: dict[str, Any], hours_before: float) -> int:
    for rule in sorted(conf["refund_rules"], key=lambda r: -r["hours_before"]):
        if hours_before >= rule["hours_before"]:
            return int(rule["refund_percent"])
    return 0


# ---- handlers -----------------------------------------------------------------------------
@handler("booking_desk_availability", writes=False)
def check_availability(ctx: HandlerContext) -> dict:
    """Is every requested service free on that date? If not, alternatives: nearby dates, same-kind resources."""
    data, session = ctx.data, ctx.session
    services, party = list(data["services"]), int(data["party_size"])
    wanted = service_moment(data["service_date"], data["service_time"])
    if wanted <= ctx.now:
        return {"available": False, "reason": "预订时间已过", "missing": [], "alternatives": []}
    missing = shortages(session, services, wanted.date(), party)
    if not missing:
        return {"available": True, "amount": money(quote(session, services, party)), "missing": [],
                "alternatives": []}
    alternatives = []
    for offset in sorted(range(-ALTERNATIVE_DAYS, ALTERNATIVE_DAYS + 1), key=lambda d: (abs(d), d)):
        day = wanted.date() + timedelta(days=offset)
        if offset and service_moment(day.isoformat(), data["service_time"]) > ctx.now \
                and not shortages(session, services, day, party):
            alternatives.append({"service_date": day.isoformat(), "services": services,
                                 "amount": money(quote(session, services, party)), "note": "相近日期"})
    short = {m["service"] for m in missing}
    kinds = {r.name: r.kind for r in session.execute(select(Resource)).scalars() if r.name in CATALOGUE}
    for name in short:
        for other, kind in sorted(kinds.items()):
            if other in services or kind != kinds[name]:
                continue
            swapped = [other if s == name else s for s in services]
            if not shortages(session, swapped, wanted.date(), party):
                alternatives.append({"service_date": wanted.date().isoformat(), "services": swapped,
                                     "amount": money(quote(session, swapped, party)), "note": "同类资源"})
    return {"available": False, "reason": "资源紧张", "missing": missing, "alternatives": alternatives[:MAX_ALTERNATIVES]}


@handler("booking_desk_record")
def record_booking(ctx: HandlerContext) -> dict:
    """Write the booking (re-checking capacity: never overbook), hold its units, send the confirmation."""
    session, data, conf = ctx.session, ctx.data, settings(ctx.session)
    booking = session.execute(select(DeskBooking).where(
        DeskBooking.idempotency_key == ctx.idempotency_key)).scalar_one_or_none()
    if booking is None:
        services, party = list(data["services"]), int(data["party_size"])
        service_at = service_moment(data["service_date"], data["service_time"])
        missing = shortages(session, services, service_at.date(), party)
        if missing:
            text = "；".join(f"{m['service']} 需要 {m['needed']}，只剩 {m['free']}" for m in missing)
            raise BusinessError(f"{service_at.date()} {text}：请改期或更换服务项目后重试", lane="supervisor")
        manual = bool(data.get("manual_entry"))
        code = f"BD{naive_utc(ctx.now):%Y%m%d}{ctx.instance_id:05d}"
        taken = session.execute(select(func.count(DeskBooking.id)).where(DeskBooking.code.like(f"{code}%"))).scalar()
        code = f"{code}-{taken + 1}" if taken else code
        booking = DeskBooking(
            code=code, idempotency_key=ctx.idempotency_key, instance_id=ctx.instance_id,
            customer_name=data["customer_name"], contact=data["contact"], service="、".join(services),
            service_date=service_at, party_size=party, amount=quote(session, services, party),
            status="reserved", source="manual" if manual else "system",
            taken_at=parse_iso(data["taken_at"]) if manual else ctx.now, entered_at=ctx.now)
        session.add(booking)
        _hold(session, ctx, code, services, service_at.date(), party)
        session.flush()
    view = booking_view(booking, conf)
    # The payment platform and the desk correlate on the booking code: key this instance by it.
    ctx.set_business_key(booking.code)
    pay = (f"支付链接：https://pay.tourflow.local/{booking.code}" if data.get("payment_method") == "在线支付"
           else "请在有效期内到营业网点前台以现金或刷卡支付")
    text = notify(ctx, booking, "confirmation", {"payment": pay, "policy": policy_text(conf)})
    return {**view, "confirmation": text}


@handler("booking_desk_payment_reminder")
def payment_reminder(ctx: HandlerContext) -> dict:
    """Chase an unpaid booking; past its validity it is cancelled and its units released."""
    booking = load_booking(ctx.session, ctx.data["booking"]["code"])
    view = booking_view(booking, settings(ctx.session))
    count = int((ctx.data.get("payment_reminder") or {}).get("count", 0)) + 1
    if booking.status == "paid":
        return {"count": count - 1, "expired": False, "sent": False}
    if ctx.now >= parse_iso(view["valid_until"]):
        if booking.status != "cancelled":
            booking.status = "cancelled"
            release(ctx.session, booking.code)
        notify(ctx, booking, "expired")
        return {"count": count - 1, "expired": True, "sent": False}
    notify(ctx, booking, "payment_reminder")
    return {"count": count, "expired": False, "sent": True}


@handler("booking_desk_receipt")
def issue_receipt(ctx: HandlerContext) -> dict:
    """Mark the booking paid and send the receipt."""
    booking = load_booking(ctx.session, ctx.data["booking"]["code"])
    if booking.paid_at is None:
        booking.status, booking.paid_at = "paid", ctx.now
    receipt_no = f"RC-{booking.code}"
    notify(ctx, booking, "receipt", {"receipt_no": receipt_no, "paid_amount": money(booking.amount),
                                     "paid_via": ctx.data.get("paid_via", "线下支付")})
    return {"receipt_no": receipt_no, "paid_amount": money(booking.amount),
            "paid_at": booking.paid_at.astimezone(UTC).isoformat()}


@handler("booking_desk_cancel")
def cancel_booking(ctx: HandlerContext) -> dict:
    """Cancel, release the units, record the refund the rules give."""
    booking = load_booking(ctx.session, ctx.data["booking"]["code"])
    check = ctx.data["change_check"]
    if booking.status != "cancelled":
        booking.status = "cancelled"
        booking.refund_amount = Decimal(check["refund_amount"])
        release(ctx.session, booking.code)
    notify(ctx, booking, "cancelled", {"paid": True, "refund_percent": check["refund_percent"],
                                       "refund_amount": money(booking.refund_amount)})
    return {"status": "cancelled", "refund_amount": money(booking.refund_amount),
            "refund_percent": check["refund_percent"]}


@handler("booking_desk_change")
def apply_change(ctx: HandlerContext) -> dict:
    """Move the booking to the new date/party/services if the system has room; else keep it as it is."""
    session, data, conf = ctx.session, ctx.data, settings(ctx.session)
    booking = load_booking(session, data["booking"]["code"])
    done = session.execute(select(ResourceBooking.id).where(
        ResourceBooking.idempotency_key.like(f"{ctx.idempotency_key}:%"))).first()
    services, party = list(data["change_services"]), int(data["change_party_size"])
    new_at = service_moment(data["change_service_date"], data["change_service_time"])
    if done is None:
        missing = shortages(session, services, new_at.date(), party, excluding=booking.code)
        if missing or new_at <= ctx.now:
            reason = "；".join(f"{m['service']} 需要 {m['needed']}，只剩 {m['free']}" for m in missing) or "时间已过"
            return {**booking_view(booking, conf), "change": {"feasible": False, "reason": reason}}
        old_amount = booking.amount
        release(session, booking.code)
        _hold(session, ctx, booking.code, services, new_at.date(), party)
        booking.service, booking.party_size = "、".join(services), party
        booking.service_date, booking.status = new_at, "changed"
        booking.amount = quote(session, services, party)
        session.flush()
        difference = booking.amount - old_amount
    else:
        difference = Decimal(data.get("booking", {}).get("change", {}).get("amount_difference", "0"))
    notify(ctx, booking, "changed", {"difference": money(difference)})
    return {**booking_view(booking, conf), "change": {"feasible": True, "reason": "",
                                                       "amount_difference": money(difference)}}


def outcome(data: dict[str, Any]) -> str:
    if (data.get("payment_reminder") or {}).get("expired"):
        return "expired"
    if data.get("cancellation"):
        return "cancelled"
    return "completed"


@handler("booking_desk_archive")
def archive_booking(ctx: HandlerContext) -> dict:
    """File the booking for the desk's statistics (volume, trend, source); no customer name or contact."""
    existing = existing_archive(ctx)
    if existing is not None:
        return {"archive_id": existing.id, "outcome": existing.payload["outcome"]}
    booking = load_booking(ctx.session, ctx.data["booking"]["code"])
    result = outcome(ctx.data)
    payload = {"outcome": result, "source": booking.source, "inquiry_channel": ctx.data.get("inquiry_channel"),
               "services": booking.service, "party_size": booking.party_size, "amount": money(booking.amount),
               "refund_amount": money(booking.refund_amount) if booking.refund_amount is not None else None,
               "service_at": booking_view(booking, settings(ctx.session))["service_at"],
               "taken_at": booking.taken_at.astimezone(UTC).isoformat(),
               "entered_at": booking.entered_at.astimezone(UTC).isoformat()}
    record = ArchiveRecord(idempotency_key=ctx.idempotency_key, instance_id=ctx.instance_id, kind="desk_booking",
                           ref=booking.code, summary=f"{booking.code} {result}", payload=payload,
                           archived_at=ctx.now)
    ctx.session.add(record)
    ctx.session.flush()
    return {"archive_id": record.id, "outcome": result}
