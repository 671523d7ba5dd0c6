"""Contact centre (P1 inbound_call, P3 ecommerce_chat): IVR, routing, customer look-up, archive.

The call-centre switch and the chat platforms reach the engine as messages; these handlers
are the "system" steps of the two flowcharts (doc 000): answer into self-service, route the
contact to an agent of the chosen desk, look the customer up in the agency's tables, wrap
up, end the contact and archive it as one `contact_record` row (for management inspection,
the VCLogCQC recorder and the QQ/Wangwang logs in the documents).

Read-only handlers are declared `writes=False`; the two that write (`contact_archive`,
`contact_promise_kept`) are keyed by `ctx.idempotency_key`, so a retried step writes once.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from engine.plugins.handlers import HandlerContext, handler
from handlers.domain.lookup import customer_bookings, desk_products
from handlers.domain.models import DESKS, AgentStatus, ContactRecord, Customer
from handlers.timefmt import china_iso, parse_time

DEFAULT_INACTIVITY_MINUTES = 10
PROCESS_OF_CHANNEL = {"inbound_call": "inbound_call", "chat": "ecommerce_chat"}
PLATFORMS = ("官网QQ", "天猫旺旺")
CLOSE_TASK = "close_and_register"
SELF_SERVICE_MESSAGE = "感谢您致电，您未选择人工服务，本次通话结束。如需帮助请重新来电并按键选择邮轮、旅游或自由行专席。"
AUTO_CLOSE_MESSAGE = "您好，由于您长时间未回复，本次对话已自动关闭。如需帮助，欢迎随时再次发起咨询。"
MAX_LIST = 20


def _desk(value: Any) -> str | None:
    return value if isinstance(value, str) and value in DESKS else None


def _positive_int(value: Any, default: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if number >= 1 else default


def _settings(ctx: HandlerContext) -> dict[str, Any]:
    """What every contact carries: its desk (None when not chosen). How often a solution is offered
    again is the agent's choice on the form (经努力客户仍不接受时), not a setting."""
    return {"desk": _desk(ctx.data.get("desk"))}


# ---- P1: the switch ---------------------------------------------------------------------------

@handler("call_answer", writes=False)
def call_answer(ctx: HandlerContext) -> dict:
    """自动接听: answer into self-service (IVR); report whether the caller chose a desk."""
    settings = _settings(ctx)
    return {
        "call_ref": ctx.business_key or f"IC-{ctx.instance_id}",
        "answered_at": china_iso(ctx.now),
        "desk_chosen": settings["desk"] is not None,
        **settings,
    }


@handler("call_system_wrap_up", writes=False)
def call_system_wrap_up(ctx: HandlerContext) -> dict:
    """系统进行电话收尾: the caller chose no desk; the system closes the call itself."""
    return {"message": SELF_SERVICE_MESSAGE, "wrapped_up_at": china_iso(ctx.now)}


# ---- routing ----------------------------------------------------------------------------------

@handler("assign_agent", writes=False)
def assign_agent(ctx: HandlerContext, desk: str | None = None, channel: str = "chat") -> dict:
    """平台分配空闲坐席 / 根据系统提示转接: the least-loaded available agent of the desk.

    Load = the agent's open contacts of this channel. A chat agent takes at most
    `max_chats` chats at once; a call goes to the available agent with the fewest open
    calls. No agent free: `assigned_agent` is None and the task waits in the desk's queue.
    """
    process_id = PROCESS_OF_CHANNEL.get(channel, ctx.process_id)
    wanted = _desk(desk)
    query = select(AgentStatus).where(AgentStatus.status == "available")
    if wanted:
        query = query.where(AgentStatus.desk == wanted)
    agents = list(ctx.session.execute(query.order_by(AgentStatus.username)).scalars())
    loads = ctx.open_instances_by_assignee(process_id, [a.username for a in agents])
    if channel == "chat":
        agents = [a for a in agents if loads[a.username] < a.max_chats]
    chosen = min(agents, key=lambda a: (loads[a.username], a.username), default=None)
    result = {
        "assigned_agent": chosen.username if chosen else None,
        "desk": wanted,
        "load": loads[chosen.username] if chosen else None,
        "candidates": {a.username: loads[a.username] for a in agents},
        "assigned_at": china_iso(ctx.now),
    }
    if channel == "chat":
        platform = ctx.data.get("platform")
        result["chat_ref"] = ctx.business_key or f"CHAT-{ctx.instance_id}"
        result["platform"] = platform if platform in PLATFORMS else None
        result["inactivity_minutes"] = _positive_int(ctx.data.get("inactivity_minutes"), DEFAULT_INACTIVITY_MINUTES)
    return result


# ---- the customer database --------------------------------------------------------------------

def _normalise_phone(value: Any) -> str:
    digits = re.sub(r"[^0-9]", "", str(value or ""))
    return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits


@handler("lookup_customer", writes=False)
def lookup_customer(ctx: HandlerContext, phone: str | None = None, desk: str | None = None) -> dict:
    """查询数据库: the caller's customer record, their bookings, and the products of the desk."""
    number = _normalise_phone(phone)
    customer = None
    if number:
        customer = ctx.session.execute(
            select(Customer).where(Customer.phone == number).order_by(Customer.id).limit(1)
        ).scalar_one_or_none()
    bookings = customer_bookings(ctx.session, customer.id, MAX_LIST) if customer is not None else []
    products = desk_products(ctx.session, _desk(desk), MAX_LIST)
    return {
        "found": customer is not None,
        "phone": number or None,
        "customer": None if customer is None else {
            "id": customer.id, "name": customer.name, "phone": customer.phone, "city": customer.city,
            "level": customer.level, "branch_code": customer.branch_code,
        },
        "bookings": bookings,
        "products": products,
    }


# ---- ending and archiving ---------------------------------------------------------------------

@handler("contact_end", writes=False)
def contact_end(ctx: HandlerContext, channel: str = "inbound_call") -> dict:
    """呼叫中心系统结束本次通话 / 电商系统结束本次对话."""
    return {"channel": channel, "ended_at": china_iso(ctx.now)}


@handler("chat_auto_close", writes=False)
def chat_auto_close(ctx: HandlerContext, minutes: int | None = None) -> dict:
    """客户长时间不进行对话时，系统将自动留言并关闭: the automatic message, kept for the archive."""
    return {"message": AUTO_CLOSE_MESSAGE, "silent_minutes": minutes, "closed_at": china_iso(ctx.now)}


def _outcome(data: dict[str, Any]) -> str:
    if data.get("auto_close"):
        return "auto_closed"
    if data.get("system_wrap_up"):
        return "self_service"
    if data.get("promised_at"):
        return "escalated"
    if data.get("customer_accepted") is True:
        return "resolved"
    return "unresolved"


def _handled_by(ctx: HandlerContext) -> str | None:
    """Who closed and registered the contact (the task row), else the agent it was routed to."""
    return ctx.completed_by(CLOSE_TASK) or ctx.data.get("assigned_agent")


DETAIL_KEYS = (
    "platform", "customer_handle", "opening_message", "message_text", "assigned_agent", "customer_name", "offers",
    "refusals", "resolution_note", "assist_note", "promised_at", "promise_content", "redirect_channel",
    "follow_up_needed", "register_note",
)


def _details(data: dict[str, Any]) -> dict[str, Any]:
    details = {key: data[key] for key in DETAIL_KEYS if data.get(key) not in (None, "", [])}
    for key, source in (("call_ref", "ivr"), ("chat_ref", "assignment")):
        if isinstance(data.get(source), dict) and data[source].get(key):
            details[key] = data[source][key]
    ref = details.get("call_ref") or details.get("chat_ref")
    if data.get("request_type") == "投诉" and data.get("complaint_description") and ref:
        details["complaint_key"] = complaint_key(ref)  # the business key of the complaint_handling instance
    for key in ("system_wrap_up", "auto_close"):
        if isinstance(data.get(key), dict):
            details["system_message"] = data[key].get("message")
    return details


def complaint_key(ref: str) -> str:
    """The business key the diagrams give the complaint_handling instance they start."""
    return f"complaint-{ref}"


def _promise_pending(data: dict[str, Any]) -> bool:
    return bool(data.get("promised_at"))


@handler("contact_archive")
def contact_archive(ctx: HandlerContext, channel: str = "inbound_call") -> dict:
    """通话/对话记录存档: one `contact_record` row per contact (keyed by the idempotency key)."""
    data = ctx.data
    existing = ctx.session.execute(
        select(ContactRecord).where(ContactRecord.idempotency_key == ctx.idempotency_key)
    ).scalar_one_or_none()
    if existing is not None:
        return {"contact_record_id": existing.id, "outcome": existing.outcome,
                "promise_pending": _promise_pending(data)}
    lookup = data.get("lookup") if isinstance(data.get("lookup"), dict) else {}
    customer = lookup.get("customer") if isinstance(lookup.get("customer"), dict) else None
    contact = data.get("caller_number") if channel == "inbound_call" else data.get("customer_handle")
    record = ContactRecord(
        idempotency_key=ctx.idempotency_key,
        instance_id=ctx.instance_id,
        channel=channel,
        customer_id=customer["id"] if customer else None,
        contact=str(contact)[:60] if contact else None,
        desk=_desk(data.get("desk")),
        request_type=data.get("request_type"),
        summary=data.get("request_summary") or "",
        outcome=_outcome(data),
        handled_by=_handled_by(ctx),
        started_at=ctx.started_at,
        archived_at=ctx.now,
        details=_details(data),
    )
    ctx.session.add(record)
    ctx.session.flush()
    return {"contact_record_id": record.id, "outcome": record.outcome, "promise_pending": _promise_pending(data)}


@handler("contact_promise_kept")
def contact_promise_kept(ctx: HandlerContext, record_id: int | None = None) -> dict:
    """记录承诺兑现: the promised matter is solved; the archived record says when and whether late."""
    record = ctx.session.get(ContactRecord, record_id) if record_id is not None else None
    if record is None:
        raise LookupError(f"contact record {record_id!r} not found")
    details = dict(record.details or {})
    if details.get("promise_kept_key") == ctx.idempotency_key:
        return {"contact_record_id": record.id, "outcome": record.outcome,
                "promise_breached": details.get("promise_breached")}
    promised = parse_time(ctx.data.get("promised_at"))
    breached = bool(promised and ctx.now > promised)
    details.update({
        "promise_kept_key": ctx.idempotency_key,
        "promise_kept_at": china_iso(ctx.now),
        "promise_resolution": ctx.data.get("promise_resolution"),
        "promise_breached": breached,
    })
    record.details = details
    record.outcome = "promise_late" if breached else "promise_kept"
    ctx.session.flush()
    return {"contact_record_id": record.id, "outcome": record.outcome, "promise_breached": breached}
