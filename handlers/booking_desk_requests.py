"""Booking desk (P10, doc 004) change and cancellation requests, before or after payment.

Doc 004 asks for notice only before a change ("客户如需变更预订信息，应提前[X]小时通知预订台"); a
cancellation follows the cancellation policy, the refund depending on how early ("对于已支付的客户，
根据取消时间的不同，确定是否退还部分或全部费用"). So a late change is refused; a cancellation is refused
only when the setting `cancel_notice_hours` is set (default None: never). An unpaid booking is
cancelled at once with nothing to refund; a payment that still arrives is refunded in full.
"""

from __future__ import annotations

from datetime import UTC
from decimal import ROUND_HALF_UP
from typing import Any

from engine.plugins.handlers import HandlerContext, handler
from handlers.booking_desk import CENT, load_booking, money, notify, refund_percent, release, settings
from handlers.domain.lookup import existing_archive
from handlers.domain.models import ArchiveRecord, DeskBooking

OPEN = ("reserved", "paid", "changed")


def notice_hours(conf: dict[str, Any], change_type: str) -> float | None:
    """The notice a request needs (None: none)."""
    return conf["change_notice_hours"] if change_type == "变更" else conf.get("cancel_notice_hours")


def refusal(booking: DeskBooking, hours_before: float, needed: float | None) -> str:
    if booking.status not in OPEN:
        return f"预订状态为 {booking.status}，不予受理"
    if needed is not None and hours_before < needed:
        return f"距服务开始仅 {hours_before:.1f} 小时，不足规定的 {needed} 小时，不予受理"
    return ""


def record_once(ctx: HandlerContext, kind: str, booking: DeskBooking, summary: str, payload: dict) -> None:
    if existing_archive(ctx) is None:
        ctx.session.add(ArchiveRecord(idempotency_key=ctx.idempotency_key, instance_id=ctx.instance_id, kind=kind,
                                      ref=booking.code, summary=summary, payload=payload, archived_at=ctx.now))


@handler("booking_desk_change_window")
def assess_change(ctx: HandlerContext) -> dict:
    """Notice given (changes; cancellations only if configured)? Paid? The refund by how early. Recorded."""
    conf = settings(ctx.session)
    booking = load_booking(ctx.session, ctx.data["booking"]["code"])
    change_type = ctx.data["change_type"]
    hours_before = (booking.service_date - ctx.now).total_seconds() / 3600
    paid = booking.paid_at is not None
    reason = refusal(booking, hours_before, notice_hours(conf, change_type))
    percent = refund_percent(conf, hours_before) if not reason and paid and change_type == "取消" else 0
    refund = (booking.amount * percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    result = {"allowed": not reason, "change_type": change_type, "paid": paid, "hours_before": round(hours_before, 1),
              "refund_percent": percent, "refund_amount": money(refund), "reason": reason}
    record_once(ctx, "desk_booking_request", booking, reason or f"{change_type}申请受理", result)
    return result


@handler("booking_desk_cancel_unpaid")
def cancel_unpaid(ctx: HandlerContext) -> dict:
    """Cancel a booking not yet paid: release its units and tell the customer; there is nothing to refund."""
    booking = load_booking(ctx.session, ctx.data["booking"]["code"])
    if booking.status != "cancelled":
        booking.status = "cancelled"
        release(ctx.session, booking.code)
    notify(ctx, booking, "cancelled", {"paid": False, "refund_percent": 0, "refund_amount": "0.00"})
    return {"status": "cancelled", "paid": False, "refund_amount": "0.00", "refund_percent": 0}


@handler("booking_desk_refund_late_payment")
def refund_late_payment(ctx: HandlerContext) -> dict:
    """A payment for a booking already cancelled: the booking is not revived; the money goes back in full,
    on the booking (paid_at, refund_amount), to the customer (a message) and in the archive."""
    booking = load_booking(ctx.session, ctx.data["booking"]["code"])
    if booking.paid_at is None:
        booking.paid_at, booking.refund_amount = ctx.now, booking.amount
    amount = money(booking.refund_amount or booking.amount)
    notify(ctx, booking, "late_payment_refund", {"refund_amount": amount,
                                                 "paid_via": ctx.data.get("paid_via", "线下支付")})
    result = {"refunded": True, "refund_amount": amount, "paid_at": booking.paid_at.astimezone(UTC).isoformat(),
              "transaction_ref": str(ctx.data.get("transaction_ref") or "")}
    record_once(ctx, "desk_late_payment", booking, f"{booking.code} 取消后收到付款，已全额退款 {amount} 元", result)
    return result
