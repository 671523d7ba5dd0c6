"""P8 step 7, changes during the tour (行程变更): an approved change re-books what it changes and is archived.

- `tour_rebook_change` re-books each kind the change names (定房 rooms, 定餐 meals, 定车 vehicle,
  定导游 guide, 定大交通 transport) from the change's first day on: it releases what the tour held of
  that kind on those days and holds what the changed plan needs (the new hotel, restaurant or
  coach the operator named), capacity-checked like every booking (no room: BusinessError for the
  operator, nothing half-done).
- `tour_archive_change` files the change (request, decision, fee and who bears it, what was
  re-booked) as one ArchiveRecord of kind "tour_change", referenced by the tour id.

Both write once per step (`ctx.idempotency_key`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from engine.plugins.handlers import BusinessError, HandlerContext, handler
from handlers.domain.lookup import existing_archive
from handlers.domain.models import ArchiveRecord
from handlers.tour_operation import (
    KIND_NAMES,
    KINDS,
    booking_summary,
    hold,
    int_of,
    needs_of,
    release_kind,
    tour_dates,
    tour_id_of,
    written_by,
)

KIND_OF_NAME = {name: kind for kind, name in KIND_NAMES.items()}
# the change form's resource fields -> the data keys the booking rules read
CHANGED_RESOURCES = {"change_hotel_code": "hotel_code", "change_restaurant_code": "restaurant_code",
                     "change_vehicle_code": "vehicle_code"}


def changed_kinds(data: dict[str, Any]) -> list[str]:
    names = data.get("change_bookings") or []
    unknown = [n for n in names if n not in KIND_OF_NAME]
    if unknown:
        raise BusinessError(f"未知的预订项目: {unknown}", lane="operator")
    return [k for k in KINDS if KIND_NAMES[k] in names]


def _from_date(data: dict[str, Any]) -> date:
    dates = tour_dates(data)
    raw = data.get("change_from") or dates[0].isoformat()
    try:
        first = date.fromisoformat(str(raw)[:10])
    except ValueError as exc:
        raise BusinessError(f"变更开始日期无效: {raw!r}", lane="operator") from exc
    if not dates[0] <= first <= dates[-1]:
        raise BusinessError(f"变更开始日期 {first.isoformat()} 不在行程内", lane="operator")
    return first


@handler("tour_rebook_change")
def rebook_change(ctx: HandlerContext) -> dict:
    """Release and re-book, from `change_from` on, every kind in `change_bookings`."""
    data = ctx.data
    kinds = changed_kinds(data)
    first = _from_date(data)
    done = written_by(ctx)
    if done:  # the same step again: the first call released and re-booked already
        return {"rebooked": kinds, "from": first.isoformat(), "again": True}
    plan = {**data, **{key: data[field] for field, key in CHANGED_RESOURCES.items() if data.get(field)}}
    head_count = int_of(data, "confirmed_head_count") or int_of(data, "head_count")
    tour_id = data.get("tour_id") or tour_id_of(data, ctx.instance_id)
    items, released = [], 0
    for kind in kinds:
        needs = [(res, day, units) for res, day, units in needs_of(ctx.session, plan, head_count, kind)
                 if day >= first]
        released += release_kind(ctx, kind, first)
        items += booking_summary(ctx.session, kind, hold(ctx, tour_id, needs))["items"]
    return {"rebooked": kinds, "from": first.isoformat(), "released": released, "items": items}


@handler("tour_archive_change")
def archive_change(ctx: HandlerContext) -> dict:
    """File an approved change as an ArchiveRecord of kind "tour_change"."""
    existing = existing_archive(ctx)
    if existing is not None:
        return {"archive_id": existing.id, "tour_id": existing.ref}
    data = ctx.data
    tour_id = data.get("tour_id") or tour_id_of(data, ctx.instance_id)
    rebooked = data.get("change_rebooking") or {}
    payload = {key: data.get(key) for key in ("change_request", "change_decision", "change_fee", "change_fee_payer",
                                              "change_note", "change_bookings", "change_from", "service_log")}
    payload.update({"changes_handled": int(data.get("changes_handled", 0) or 0),
                    "rebooked": rebooked.get("rebooked", []), "items": rebooked.get("items", [])})
    record = ArchiveRecord(
        idempotency_key=ctx.idempotency_key, instance_id=ctx.instance_id, kind="tour_change", ref=tour_id,
        summary=f"{tour_id} 行程变更: {data.get('change_request', '')}".strip(), payload=payload,
        archived_at=ctx.now)
    ctx.session.add(record)
    ctx.session.flush()
    return {"archive_id": record.id, "tour_id": tour_id}
