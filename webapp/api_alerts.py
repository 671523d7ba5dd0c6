"""/api/v1 staff alerts and message templates: my alert preference (read, set), and a template
preview with the customer's data masked (docs/messages.md)."""

from __future__ import annotations

from flask import request
from flask_login import current_user

from engine.access import policy
from engine.clock import utcnow
from engine.outbox import staff_alerts
from webapp import message_preview
from webapp.api_args import Routes, actor, invalid, json_body
from webapp.app_state import runtime

FIELDS = ("channel", "address", "events")
routes = Routes()


def _answer(values: dict) -> dict:
    return {"username": values["username"], "channel": values["channel"], "address": values["address"],
            "events": values["events"], "window_minutes": staff_alerts.window().total_seconds() / 60}


@routes.get("/me/alerts")
def my_alerts():
    with runtime().reading() as session:
        return _answer(staff_alerts.preference(session, current_user.username))


@routes.post("/me/alerts")
def set_my_alerts():
    policy.require_writer(current_user.viewer)
    body = json_body()
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise invalid(unknown[0], f"unknown field (expected: {', '.join(FIELDS)})")
    channel, address, events = body.get("channel"), body.get("address", ""), body.get("events", list(staff_alerts.EVENTS))
    if not isinstance(channel, str):
        raise invalid("channel", f"one of {', '.join(staff_alerts.CHANNELS)}", key="alerts.channel")
    if not isinstance(address, str):
        raise invalid("address", "a string", key="alerts.handle")
    if not isinstance(events, list) or not all(isinstance(e, str) and e in staff_alerts.EVENTS for e in events):
        raise invalid("events", f"a list of {', '.join(staff_alerts.EVENTS)}", key="alerts.events")
    with runtime().transaction() as tx:
        values = staff_alerts.set_preference(tx.session, current_user.username, channel=channel, address=address,
                                             events=events, actor=actor(), now=utcnow())
    return _answer(values)


@routes.get("/message-templates")
def list_message_templates():
    policy.refuse_if(policy.template_preview_refusal(current_user.viewer))
    return {"items": message_preview.kinds_with_problems()}


@routes.get("/message-templates/<kind>")
def preview_message_template(kind: str):
    policy.refuse_if(policy.template_preview_refusal(current_user.viewer))
    return message_preview.preview(kind, request.args.get("channel") or "email")
