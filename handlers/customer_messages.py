"""Messages to customers (P10 booking desk, P9 itinerary): rendered from messages/*.j2 and put in the
outbox in the step's own transaction, one message per configured customer channel
(TOURFLOW_CUSTOMER_CHANNELS), each keyed by the step's idempotency key, the kind and the channel.

The customer's contact history (`contact_record`, one per step) names the outbox rows in its
details (`outbox_ids`); `contact_history` reads their state live (queued / sent / delivered /
failed with times), so the record never copies a state that changes afterwards.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.outbox import queue
from engine.outbox.channels import customer_channels
from engine.outbox.templates import register_kind, render
from engine.plugins.handlers import HandlerContext
from handlers.domain.models import ContactRecord

PERSONAL = ("customer_name", "contact")
EMAIL = "email"

_BOOKING = {"code": "BD2026120100042", "service_at": "2026-12-20 09:00", "party_size": 4,
            "services": "泰安舒适型酒店、地陪导游", "amount": "1360.00", "valid_until": "2026-12-04 10:00"}
_PERSON = {"customer_name": "张建国", "contact": "13812345678"}
_TRIP = {"itinerary_no": "IT-2026-0042", "destination": "云南昆明、大理、丽江", "depart_on": "2026-12-20",
         "return_on": "2026-12-26"}

# kind -> (title, sample data): the data each handler below passes, used by `tourflow templates check`
# and the preview; a key added to a template must be added here and in the handler.
KINDS: dict[str, tuple[str, dict[str, Any]]] = {
    "booking.confirmation": ("预订确认", {**_PERSON, "booking": _BOOKING, "payment": "支付链接：https://pay.tourflow.local/BD2026120100042",
                                        "policy": "变更须至少提前48小时通知预订台，逾期不予受理；取消可随时申请；服务开始前72小时及以上取消退还80%。"}),
    "booking.payment_reminder": ("支付提醒", {**_PERSON, "booking": _BOOKING}),
    "booking.expired": ("逾期未付自动取消", {**_PERSON, "booking": _BOOKING}),
    "booking.receipt": ("支付凭证", {**_PERSON, "booking": _BOOKING, "receipt_no": "RC-BD2026120100042",
                                    "paid_amount": "1360.00", "paid_via": "在线支付"}),
    "booking.cancelled": ("预订取消", {**_PERSON, "booking": _BOOKING, "paid": True, "refund_percent": 80,
                                     "refund_amount": "1088.00"}),
    "booking.changed": ("预订变更", {**_PERSON, "booking": _BOOKING, "difference": "200.00"}),
    "booking.late_payment_refund": ("取消后付款退回", {**_PERSON, "booking": _BOOKING, "refund_amount": "1360.00",
                                                  "paid_via": "银行转账"}),
    "itinerary.confirmation_letter": ("行程确认函", {**_PERSON, **_TRIP, "letter": "尊敬的张建国：您的行程已确认……"}),
    "itinerary.departure_reminder": ("出行前提醒", {**_PERSON, **_TRIP}),
}
for _kind, (_title, _sample) in KINDS.items():
    register_kind(_kind, _title, _sample, personal=(*PERSONAL, "letter"))


def recipient_for(channel: str, contact: str) -> str | None:
    """Where `channel` sends to this customer: e-mail needs an address; a webhook (SMS provider) and
    the log take the contact as it is. None: this channel cannot reach them."""
    contact = (contact or "").strip()
    if not contact:
        return None
    if channel == EMAIL:
        return contact if "@" in contact else None
    return contact


def send_to_customer(ctx: HandlerContext, kind: str, contact: str, data: dict[str, Any]) -> tuple[list[int], str]:
    """Render `kind` and enqueue it once per configured channel that reaches `contact`, in the step's
    transaction. Returns (outbox ids, the short text) — the text is what an SMS would say."""
    full = {**data, "contact": contact}
    text = render(kind, "webhook", full).body
    ids = []
    for channel in customer_channels():
        recipient = recipient_for(channel, contact)
        if recipient is None:
            continue
        rendered = render(kind, channel, full)
        message = queue.enqueue(
            ctx.session, kind=kind, channel=channel, recipient=recipient, subject=rendered.subject,
            body=rendered.body, payload={"data": full, "template": rendered.template},
            idempotency_key=f"{ctx.idempotency_key}:{kind}:{channel}", now=ctx.now, instance_id=ctx.instance_id,
            task=ctx.task_spec, lane=None)
        ids.append(message.id)
    return ids, text


def notify_customer(ctx: HandlerContext, kind: str, contact: str, data: dict[str, Any],
                    details: dict[str, Any] | None = None) -> str:
    """The customer's message for this step, sent once: the outbox rows and one contact record naming
    them. A step run again (a retry, a crash before commit) finds its record and sends nothing more."""
    existing = ctx.session.execute(select(ContactRecord).where(
        ContactRecord.idempotency_key == ctx.idempotency_key)).scalar_one_or_none()
    if existing is not None:
        return existing.summary
    ids, text = send_to_customer(ctx, kind, contact, data)
    ctx.session.add(ContactRecord(
        idempotency_key=ctx.idempotency_key, instance_id=ctx.instance_id, channel="message", contact=contact[:60],
        request_type="业务办理", summary=text, outcome=kind.rpartition(".")[2][:20], handled_by="system",
        started_at=ctx.now, archived_at=ctx.now,
        details={**(details or {}), "kind": kind.rpartition(".")[2], "message_kind": kind, "outbox_ids": ids}))
    return text


def contact_history(session: Session, instance_id: int) -> list[dict[str, Any]]:
    """The messages sent to the customer of one instance, oldest first, each with its outbox rows'
    live state ({id, channel, status, sent_at, delivered_at, failed_at, last_error})."""
    records = session.execute(select(ContactRecord).where(
        ContactRecord.instance_id == instance_id, ContactRecord.channel == "message")
        .order_by(ContactRecord.id)).scalars().all()
    states = {m["id"]: m for m in queue.messages_of(session, instance_id, masked=False)} if records else {}
    return [{"id": r.id, "kind": r.details.get("message_kind"), "summary": r.summary, "contact": r.contact,
             "at": r.started_at, "messages": [states[i] for i in r.details.get("outbox_ids", []) if i in states]}
            for r in records]
