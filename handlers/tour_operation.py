"""P8 tour_operation (旅游业务操作流程): the quote, the bookings against capacity, the archive.

- `make_quote` prices an inquiry from the operator's price tables (PriceItem): sight tickets
  × head count, rooms by reception standard (twin rooms; a guest alone in a room pays the
  single supplement 单房差), meals by standard (halal meals for Hui guests), the smallest
  vehicle with enough seats (guests + guide), guide days and round-trip long-distance
  transport. The operator adjusts the total afterwards.
- `tour_book_*` hold units of a Resource per date (ResourceBooking). A booking that does not
  fit the capacity left on a date raises BusinessError(lane="operator"): an incident the
  operator resolves with other data (e.g. `hotel_code` of a bigger hotel, another
  `start_date`); nothing is ever overbooked.
- Sent back by the operator's approval (计调审定 → 退回重订), each `tour_book_*` step runs again:
  it releases what the earlier round held of its kind and books anew (see `release_kind`).
- `tour_adjust_bookings` re-books every kind whose units change with the confirmed head count
  (releases the old rows, books the new ones, capacity-checked).
- `tour_archive` files the documents' key facts as one ArchiveRecord of kind "tour".
- In-tour changes (变更) are re-booked and archived by handlers/tour_changes.py.

Every writing handler keys its rows by `ctx.idempotency_key`: a second call for the same step
returns what the first wrote.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select

from engine.plugins.handlers import BusinessError, HandlerContext, handler
from handlers.domain.lookup import existing_archive
from handlers.domain.models import ArchiveRecord, PriceItem, Resource, ResourceBooking

MEALS_PER_DAY = 2  # lunch and dinner; breakfast comes with the room
KINDS = ("room", "meal", "vehicle", "guide", "transport")
KIND_NAMES = {"room": "定房", "meal": "定餐", "vehicle": "定车", "guide": "定导游", "transport": "定大交通"}
TRANSPORT_RESOURCE = {"火车": "TRAIN-JN-SH"}  # flights are ticketed with the airline, no pooled capacity


# ---- reading the inquiry ------------------------------------------------------------------------

def int_of(data: dict[str, Any], key: str, default: int = 0) -> int:
    value = data.get(key)
    return default if value is None or value == "" else int(value)


def tour_dates(data: dict[str, Any]) -> list[date]:
    try:
        first = date.fromisoformat(str(data["start_date"])[:10])
    except (KeyError, ValueError) as exc:
        raise BusinessError(f"出发日期无效: {data.get('start_date')!r}", lane="operator") from exc
    days = max(int_of(data, "days", 1), 1)
    return [first + timedelta(days=i) for i in range(days)]


def _rooms(head_count: int, single_rooms: int) -> tuple[int, int]:
    """(rooms, guests who pay the single supplement): twin rooms, singles on request, an odd guest alone."""
    singles = min(max(single_rooms, 0), head_count)
    sharing = head_count - singles
    return singles + math.ceil(sharing / 2), singles + sharing % 2


def _seats(resource_or_item) -> int:
    extra = getattr(resource_or_item, "extra", None) or {}
    if "seats" in extra:
        return int(extra["seats"])
    digits = "".join(ch for ch in resource_or_item.code.rsplit("-", 1)[-1] if ch.isdigit())
    return int(digits) if digits else 0


def _money(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def tour_id_of(data: dict[str, Any], instance_id: int) -> str:
    start = str(data.get("start_date", ""))[:10].replace("-", "")
    return f"JQ-{start}-{instance_id:04d}"


# ---- the quote ----------------------------------------------------------------------------------

@handler("make_quote", writes=False)
def make_quote(ctx: HandlerContext) -> dict:
    """Price the inquiry line by line from the PriceItem tables; returns lines, total and per-person price."""
    data = ctx.data
    session = ctx.session
    items = {p.code: p for p in session.execute(select(PriceItem)).scalars()}
    head_count = int_of(data, "head_count")
    if head_count < 1:
        raise BusinessError("人数必须大于0", lane="operator")
    hui = min(int_of(data, "hui_guests"), head_count)
    dates = tour_dates(data)
    days, nights = len(dates), len(dates) - 1
    standard = data.get("reception_standard", "舒适")
    lines: list[dict[str, Any]] = []

    def line(item: PriceItem, quantity: int, note: str = "", price: Decimal | None = None) -> None:
        unit_price = item.price if price is None else price
        if quantity <= 0:
            return
        lines.append({"category": item.category, "code": item.code, "name": item.name + (f"（{note}）" if note else ""),
                      "unit": item.unit, "quantity": quantity, "price": _money(unit_price),
                      "amount": _money(unit_price * quantity)})

    for code in data.get("sights") or []:
        if code not in items or items[code].category != "sight":
            raise BusinessError(f"价格表中没有景点 {code}", lane="operator")
        line(items[code], head_count, f"{head_count}人")
    by_standard = {(p.category, p.standard): p for p in items.values()}
    room = by_standard.get(("room", standard))
    meal = by_standard.get(("meal", standard))
    if room is None or meal is None:
        raise BusinessError(f"价格表中没有{standard}标准的房/餐", lane="operator")
    rooms, alone = _rooms(head_count, int_of(data, "single_rooms"))
    line(room, rooms * nights, f"{rooms}间×{nights}晚")
    line(room, alone * nights, f"单房差 {alone}人×{nights}晚", Decimal(str(room.extra.get("single_supplement", 0))))
    line(meal, (head_count - hui) * MEALS_PER_DAY * days, f"{head_count - hui}人×{days}天×{MEALS_PER_DAY}餐")
    if hui:
        line(by_standard[("meal", "清真")], hui * MEALS_PER_DAY * days, f"回民 {hui}人×{days}天×{MEALS_PER_DAY}餐")
    vehicles = sorted((p for p in items.values() if p.category == "vehicle"), key=_seats)
    seats_needed = head_count + 1  # the guide rides along
    fitting = [v for v in vehicles if _seats(v) >= seats_needed]
    coach = fitting[0] if fitting else vehicles[-1]
    count = 1 if fitting else math.ceil(seats_needed / _seats(coach))
    line(coach, count * days, f"{count}辆×{days}天")
    guide = next(p for p in items.values() if p.category == "guide")
    line(guide, days, f"{days}天")
    transport = data.get("transport", "自备")
    if transport != "自备":
        ticket = by_standard.get(("transport", transport))
        if ticket is None:
            raise BusinessError(f"价格表中没有{transport}票价", lane="operator")
        line(ticket, head_count * 2, f"往返 {head_count}人×2程")
    total = sum((Decimal(str(ln["amount"])) for ln in lines), Decimal(0))
    return {"tour_id": tour_id_of(data, ctx.instance_id), "lines": lines, "total": _money(total),
            "per_person": _money(total / head_count), "head_count": head_count, "days": days, "nights": nights,
            "vehicle": coach.code, "rooms": rooms, "single_supplement_guests": alone}


# ---- what a tour needs per kind -----------------------------------------------------------------

def _resource(session, code: str, kind: str) -> Resource:
    found = session.execute(select(Resource).where(Resource.code == code)).scalar_one_or_none()
    if found is None or found.kind != kind:
        raise BusinessError(f"没有{KIND_NAMES[kind]}资源 {code}", lane="operator")
    return found


def _of_kind(session, kind: str) -> list[Resource]:
    return list(session.execute(select(Resource).where(Resource.kind == kind).order_by(Resource.id)).scalars())


def needs_of(session, data: dict[str, Any], head_count: int, kind: str,
           held: dict[str, str] | None = None) -> list[tuple[Resource, date, int]]:
    """(resource, date, units) a tour of `head_count` needs of one kind.

    The resource is the one named in the data (`hotel_code`, `restaurant_code`, `vehicle_code`:
    what the operator set when resolving an incident), else the one already held, else the
    default for the reception standard / group size."""
    held = held or {}
    dates = tour_dates(data)
    if kind == "room":
        nights = dates[:-1]
        rooms, _alone = _rooms(head_count, int_of(data, "single_rooms"))
        code = data.get("hotel_code") or held.get("room")
        if code:
            hotel = _resource(session, code, "room")
        else:
            standard = data.get("reception_standard", "舒适")
            hotels = [r for r in _of_kind(session, "room") if f"{standard}型" in r.name]
            if not hotels:
                raise BusinessError(f"没有{standard}型酒店资源，请指定酒店（hotel_code）", lane="operator")
            hotel = hotels[0]
        return [(hotel, d, rooms) for d in nights]
    if kind == "meal":
        hui = min(int_of(data, "hui_guests"), head_count)
        restaurants = _of_kind(session, "meal")
        halal = next((r for r in restaurants if "清真" in r.name), None)
        code = data.get("restaurant_code") or held.get("meal")
        regular = _resource(session, code, "meal") if code else next(r for r in restaurants if "清真" not in r.name)
        needs = [(regular, d, head_count - hui) for d in dates if head_count - hui > 0]
        if hui:
            if halal is None:
                raise BusinessError("没有清真餐厅资源", lane="operator")
            needs += [(halal, d, hui) for d in dates]
        return needs
    if kind == "vehicle":
        seats_needed = head_count + 1
        code = data.get("vehicle_code")
        coaches = sorted(_of_kind(session, "vehicle"), key=_seats)
        if code:
            coach = _resource(session, code, "vehicle")
        else:
            fitting = [c for c in coaches if _seats(c) >= seats_needed]
            coach = fitting[0] if fitting else coaches[-1]
        count = max(1, math.ceil(seats_needed / max(_seats(coach), 1)))
        return [(coach, d, count) for d in dates]
    if kind == "guide":
        pool = _of_kind(session, "guide")[0]
        return [(pool, d, 1) for d in dates]
    if kind == "transport":
        code = TRANSPORT_RESOURCE.get(data.get("transport", "自备"))
        if code is None:
            return []
        train = _resource(session, code, "transport")
        legs = sorted({dates[0], dates[-1]})
        return [(train, d, head_count) for d in legs]
    raise ValueError(kind)


def _held_units(session, resource_id: int, on_date: date) -> int:
    return int(session.execute(
        select(func.coalesce(func.sum(ResourceBooking.units), 0)).where(
            ResourceBooking.resource_id == resource_id, ResourceBooking.on_date == on_date,
            ResourceBooking.status == "held")
    ).scalar())


def hold(ctx: HandlerContext, tour_id: str, needs: list[tuple[Resource, date, int]]) -> list[ResourceBooking]:
    """Hold every (resource, date, units), or none: a date without room raises BusinessError."""
    rows = []
    for resource, on_date, units in needs:
        free = resource.capacity - _held_units(ctx.session, resource.id, on_date)
        if units > free:
            raise BusinessError(f"{resource.name}（{resource.code}）{on_date.isoformat()} 剩余 {free}，需要 {units}：容量不足",
                                lane="operator")
        row = ResourceBooking(idempotency_key=f"{ctx.idempotency_key}:{resource.code}:{on_date.isoformat()}",
                              resource_id=resource.id, on_date=on_date, units=units, tour_id=tour_id,
                              instance_id=ctx.instance_id, status="held", created_at=ctx.now)
        ctx.session.add(row)
        ctx.session.flush()
        rows.append(row)
    return rows


def written_by(ctx: HandlerContext) -> list[ResourceBooking]:
    return list(ctx.session.execute(
        select(ResourceBooking).where(ResourceBooking.idempotency_key.like(f"{ctx.idempotency_key}:%"))
        .order_by(ResourceBooking.id)).scalars())


def booking_summary(session, kind: str, rows: list[ResourceBooking], note: str = "") -> dict[str, Any]:
    codes = {r.id: r.code for r in session.execute(select(Resource)).scalars()}
    return {"kind": kind, "name": KIND_NAMES[kind], "booked": bool(rows), "note": note,
            "items": [{"booking_id": r.id, "resource": codes[r.resource_id], "date": r.on_date.isoformat(),
                       "units": r.units} for r in rows]}


def release_kind(ctx: HandlerContext, kind: str, from_date: date | None = None) -> int:
    """Release this tour's held rows of one kind (from `from_date` on): what a re-booking replaces."""
    kinds = {r.id: r.kind for r in ctx.session.execute(select(Resource)).scalars()}
    released = 0
    for row in tour_rows(ctx):
        if kinds[row.resource_id] == kind and (from_date is None or row.on_date >= from_date):
            row.status = "released"
            released += 1
    ctx.session.flush()
    return released


def _book(ctx: HandlerContext, kind: str) -> dict[str, Any]:
    """Hold what the tour needs of one kind. Sent back by the operator's approval (计调审定), the step
    runs again: it releases what the earlier round held of its kind and books anew, with the
    operator's choice of resource (`hotel_code`, `restaurant_code`, `vehicle_code`) if given."""
    done = written_by(ctx)
    if done:  # the same step again: what the first call held
        return booking_summary(ctx.session, kind, done)
    data = ctx.data
    tour_id = data.get("tour_id") or tour_id_of(data, ctx.instance_id)
    needs = needs_of(ctx.session, data, int_of(data, "head_count"), kind)
    note = "" if needs else ("自备交通，无需预订" if data.get("transport") == "自备" else "机票向航空公司出票，不占团体票额度")
    released = release_kind(ctx, kind)
    summary = booking_summary(ctx.session, kind, hold(ctx, tour_id, needs), note)
    return {**summary, "released": released} if released else summary


@handler("tour_book_rooms")
def book_rooms(ctx: HandlerContext) -> dict:
    """定房: hold the rooms of the tour at the agreed standard, per date; no capacity is an incident."""
    return _book(ctx, "room")


@handler("tour_book_meals")
def book_meals(ctx: HandlerContext) -> dict:
    """定餐: hold the meals of the tour at the agreed standard, per date; no capacity is an incident."""
    return _book(ctx, "meal")


@handler("tour_book_vehicle")
def book_vehicle(ctx: HandlerContext) -> dict:
    """定车: hold the coach of the tour at the agreed standard, per date; no capacity is an incident."""
    return _book(ctx, "vehicle")


@handler("tour_book_guide")
def book_guide(ctx: HandlerContext) -> dict:
    """定导游: hold a guide of the tour at the agreed standard, per date; no capacity is an incident."""
    return _book(ctx, "guide")


@handler("tour_book_transport")
def book_transport(ctx: HandlerContext) -> dict:
    """定大交通: hold the long-distance transport of the tour at the agreed standard, per date; no capacity is an incident."""
    return _book(ctx, "transport")


# ---- head count changed before the tour ---------------------------------------------------------

def tour_rows(ctx: HandlerContext, status: str = "held") -> list[ResourceBooking]:
    return list(ctx.session.execute(
        select(ResourceBooking).where(ResourceBooking.instance_id == ctx.instance_id,
                                      ResourceBooking.status == status).order_by(ResourceBooking.id)).scalars())


@handler("tour_adjust_bookings")
def adjust_bookings(ctx: HandlerContext) -> dict:
    """Re-book each kind whose units change for the confirmed head count; release what it replaces."""
    data = ctx.data
    new_count = int_of(data, "confirmed_head_count")
    if new_count < 1:
        raise BusinessError("确认人数必须大于0", lane="operator")
    done = written_by(ctx)
    if done:  # the same step again: the first call released and re-booked already
        return {"head_count": new_count, "previous_head_count": int_of(data, "head_count"),
                "rebooked": [k for k in KINDS if k in {_kind_of(ctx, r) for r in done}], "again": True}
    codes = {r.id: r for r in ctx.session.execute(select(Resource)).scalars()}
    held_rows = tour_rows(ctx)
    by_kind: dict[str, list[ResourceBooking]] = {}
    for row in held_rows:
        by_kind.setdefault(codes[row.resource_id].kind, []).append(row)
    tour_id = data.get("tour_id") or tour_id_of(data, ctx.instance_id)
    rebooked, released, booked = [], 0, 0
    for kind in KINDS:
        rows = by_kind.get(kind, [])
        held = {kind: codes[rows[0].resource_id].code} if rows and kind != "meal" else {}
        if kind == "meal":
            regular = [r for r in rows if "清真" not in codes[r.resource_id].name]
            held = {"meal": codes[regular[0].resource_id].code} if regular else {}
        needs = needs_of(ctx.session, data, new_count, kind, held)
        want = sorted((res.code, d, units) for res, d, units in needs)
        have = sorted((codes[r.resource_id].code, r.on_date, r.units) for r in rows)
        if want == have:
            continue
        for row in rows:  # released first, so the new hold may reuse their units
            row.status = "released"
            released += 1
        ctx.session.flush()
        booked += len(hold(ctx, tour_id, needs))
        rebooked.append(kind)
    return {"head_count": new_count, "previous_head_count": int_of(data, "head_count"), "rebooked": rebooked,
            "released": released, "booked": booked}


def _kind_of(ctx: HandlerContext, row: ResourceBooking) -> str:
    return ctx.session.get(Resource, row.resource_id).kind


# ---- 封存档案 ------------------------------------------------------------------------------------

ARCHIVED_KEYS = (
    "customer_name", "contact_phone", "branch_code", "group_agency", "head_count", "confirmed_head_count",
    "start_date", "days", "route", "sights", "reception_standard", "transport", "guest_identity", "hui_guests",
    "single_rooms", "other_requests", "quoted_total", "quote_note", "pickup_method", "pickup_place",
    "settlement_terms", "team_details", "complimentary_items", "shopping_arrangement", "approval_note",
    "guide_user", "itinerary", "cautions", "hui_meal_arrangement", "room_arrangement", "settlement_customer",
    "settlement_ground_agency", "contingency_plan", "opinion_form_signed", "opinion_satisfaction",
    "tour_summary", "sales_summary", "operator_summary", "guide_summary", "bookings_sent_back",
)


@handler("tour_archive")
def archive_tour(ctx: HandlerContext) -> dict:
    """File the tour's documents (itinerary, customer file, confirmations, vehicle, dispatch sheet,
    opinion form) as one ArchiveRecord of kind "tour"; bookings stay as they are."""
    existing = existing_archive(ctx)
    if existing is not None:
        return {"archive_id": existing.id, "tour_id": existing.ref}
    data = ctx.data
    tour_id = data.get("tour_id") or tour_id_of(data, ctx.instance_id)
    codes = {r.id: r.code for r in ctx.session.execute(select(Resource)).scalars()}
    bookings = [{"resource": codes[r.resource_id], "date": r.on_date.isoformat(), "units": r.units}
                for r in tour_rows(ctx)]
    payload = {k: data[k] for k in ARCHIVED_KEYS if k in data}
    payload["quote"] = {k: (data.get("quote") or {}).get(k) for k in ("total", "per_person", "lines")}
    payload["bookings"] = bookings
    payload["complaints_raised"] = int(data.get("complaints_raised", 0) or 0)
    payload["changes_handled"] = int(data.get("changes_handled", 0) or 0)
    count = data.get("confirmed_head_count") or data.get("head_count")
    record = ArchiveRecord(
        idempotency_key=ctx.idempotency_key, instance_id=ctx.instance_id, kind="tour", ref=tour_id,
        summary=f"{tour_id} {data.get('customer_name', '')} {count}人 {data.get('start_date', '')} "
                f"{data.get('days', '')}天 {data.get('route', '')}".strip(),
        payload=payload, archived_at=ctx.now)
    ctx.session.add(record)
    ctx.session.flush()
    return {"archive_id": record.id, "tour_id": tour_id, "bookings": len(bookings)}
