"""Follow-ups that happen: a contact closed with "需要后期跟进" (P1 呼入, P3 电子商务客服, P4 来访接待)
asks for a follow-up call, which the diagram throws as the message `follow_up_requested`; it starts
an outbound_call (P2) instance that waits until `next_contact_at` and then offers the call.

The documents say a contact is registered "以便于查询，或是方便当时不能马上处理的问题的后期跟进"; they
give no delay, so an empty `next_contact_at` takes the setting `follow_ups.default_delay_hours`, and
the call may be made within `follow_ups.call_window_hours` of that time (docs/rules/follow_ups.md).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from engine.plugins.handlers import BusinessError, HandlerContext, handler
from handlers.domain.models import Setting
from handlers.timefmt import china_iso, parse_time

MESSAGE = "follow_up_requested"
SETTING_KEY = "follow_ups"
DEFAULTS: dict[str, Any] = {"default_delay_hours": 24, "call_window_hours": 8}
CONTACT_KEYS = ("contact_phone", "customer_phone", "caller_number", "customer_handle")
MATTER_KEYS = ("request_summary", "matter", "register_note", "visit_summary")
CUSTOMER_KEYS = ("lookup", "records")  # P1/P3 look the caller up under `lookup`, P4 under `records`


def settings(session: Session) -> dict[str, Any]:
    row = session.get(Setting, SETTING_KEY)
    return {**DEFAULTS, **(row.value if row else {})}


def business_key(process_id: str, instance_id: int) -> str:
    """The business key of the outbound_call instance a contact's follow-up starts."""
    return f"follow-up-{process_id}-{instance_id}"


def _first(data: dict[str, Any], keys: tuple[str, ...]) -> str:
    return next((str(data[key]) for key in keys if data.get(key) not in (None, "")), "")


def _customer(data: dict[str, Any]) -> dict[str, Any]:
    for key in CUSTOMER_KEYS:
        found = data.get(key)
        if isinstance(found, dict) and isinstance(found.get("customer"), dict):
            return found["customer"]
    return {}


@handler("follow_up_request", writes=False)
def follow_up_request(ctx: HandlerContext, lane: str = "agent") -> dict:
    """登记后期跟进: when and with whom the follow-up call is, and the contact it follows up.

    A `next_contact_at` not after the step's time is a BusinessError for `lane` (the people who
    closed the contact correct the time and retry); an empty one is the default delay from now.
    """
    data = ctx.data
    rules = settings(ctx.session)
    given = data.get("next_contact_at")
    if given not in (None, ""):
        moment = parse_time(given)
        if moment is None or moment <= ctx.now:
            raise BusinessError(f"下次联系时间 {given} 必须晚于登记时间 {china_iso(ctx.now)}", lane=lane)
    else:
        moment = ctx.now + timedelta(hours=float(rules["default_delay_hours"]))
    customer = _customer(data)
    matter = _first(data, MATTER_KEYS)
    return {
        "business_key": business_key(ctx.process_id, ctx.instance_id),
        "source_process": ctx.process_id,
        "source_instance_id": ctx.instance_id,
        "customer_id": customer.get("id"),
        "customer_name": str(data.get("customer_name") or customer.get("name") or ""),
        "contact": _first(data, CONTACT_KEYS) or str(customer.get("phone") or ""),
        "desk": str(data.get("desk") or data.get("business_line") or ""),
        "matter": matter,
        "campaign_goal": f"回访: {matter}" if matter else "回访",
        "next_contact_at": china_iso(moment),
        "window_end": china_iso(moment + timedelta(hours=float(rules["call_window_hours"]))),
        "requested_at": china_iso(ctx.now),
        "requested_by": ctx.actor,
    }
