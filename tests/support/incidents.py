"""The incident fixture process (tests/fixtures/incidents/incident_flow.bpmn): it books a supplier in
the operator lane through the handler `test_incident_supplier` registered here, then waits for a
person to confirm. A supplier that stays unreachable is a technical incident (after the 30 s and
60 s retries), supplier "FULL" a business incident for the lane the handler names (`refer_to`,
default sales)."""

from __future__ import annotations

import html
from datetime import timedelta

from engine.clock import frozen_at, utcnow
from engine.plugins.handlers import BusinessError, HandlerContext, handler
from tests.support.world import REPO

FIXTURE = REPO / "tests" / "fixtures" / "incidents" / "incident_flow.bpmn"
UNREACHABLE = "ConnectionError: supplier HZ-01 unreachable (attempt {n})"


@handler("test_incident_supplier")
def incident_supplier(ctx: HandlerContext, supplier: str = "", fail_times: int = 0, channel: str = "") -> dict:
    """Unreachable for the first `fail_times` attempts; supplier FULL refuses every booking."""
    if supplier == "FULL":
        raise BusinessError(f"供应商 {supplier} 2026-12-20 满房，请更换供应商", lane=ctx.data.get("refer_to") or "sales")
    if ctx.attempt <= fail_times:
        raise ConnectionError(f"supplier {supplier} unreachable (attempt {ctx.attempt})")
    return {"supplier": supplier, "attempt": ctx.attempt, "actor": ctx.actor, "channel": channel}


def exhaust_retries(rt, instance_id: int, start) -> None:
    """Tick past the 30 s and then the 60 s backoff: the third failure raises the incident."""
    rt.tick(start + timedelta(seconds=31))
    rt.tick(start + timedelta(seconds=31 + 61))


def technical(rt, supplier: str = "HZ-01", **data) -> int:
    start = utcnow()
    with frozen_at(start):
        instance_id = rt.start("incident_flow", {"supplier": supplier, "fail_times": 99,
                                                 "customer_name": "林小雨", **data}, actor="sales1")
    assert rt.show(instance_id)["status"] == "retrying"
    exhaust_retries(rt, instance_id, start)
    assert rt.show(instance_id)["status"] == "error"
    return instance_id


def business(rt, **data) -> int:
    instance_id = rt.start("incident_flow", {"supplier": "FULL", "fail_times": 0, **data}, actor="sales1")
    assert rt.show(instance_id)["status"] == "error"
    return instance_id


def kinds(rt, instance_id: int) -> list[str]:
    return [e["kind"] for e in rt.events(instance_id)]


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def panel(page: str) -> str:
    start = page.index('<section class="card incident-panel"')
    return page[start:page.index("</section>", start)]
