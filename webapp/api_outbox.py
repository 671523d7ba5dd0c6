"""/api/v1 of the outbox (docs/outbox.md): providers' delivery reports, and resolving a delivery incident
(a failed message sent again or given up). The failed messages themselves are listed with the incidents
(GET /api/v1/incidents, `deliveries`)."""

from __future__ import annotations

from flask_login import current_user

from engine.access import policy
from engine.access.roles import Capability
from engine.run.outbox_commands import RESOLUTIONS
from webapp.api_args import Routes, actor, invalid, json_body
from webapp.app_state import runtime

RESOLVE_FIELDS = ("action", "reason")
routes = Routes()


@routes.post("/deliveries")
def report_deliveries():
    """Mark messages delivered or failed by id or provider_ref; one result per item, in order."""
    policy.require_capability(current_user.viewer, Capability.REPORT_DELIVERIES)  # 403 before the body
    body = json_body()
    unknown = sorted(set(body) - {"items"})
    if unknown:
        raise invalid(unknown[0], "unknown field (expected: items)")
    return {"results": runtime().report_deliveries(body.get("items"), actor())}


@routes.post("/outbox/<int:message_id>/resolve")
def resolve_delivery(message_id: int):
    """Send a failed message again (`retry`) or give it up (`give_up`), with a reason."""
    body = json_body()
    unknown = sorted(set(body) - set(RESOLVE_FIELDS))
    if unknown:
        raise invalid(unknown[0], f"unknown field (expected: {', '.join(RESOLVE_FIELDS)})")
    if body.get("action") not in RESOLUTIONS:
        raise invalid("action", f"must be one of {', '.join(RESOLUTIONS)}")
    # the engine checks who may (403) before the reason (422)
    return runtime().resolve_delivery(message_id, actor(), body["action"], body.get("reason"))
