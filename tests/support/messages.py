"""The order_flow fixture process (tests/fixtures/runtime/order_flow.bpmn): started and resumed by
messages, calling a flaky booking handler."""

from __future__ import annotations

from tests.support.world import REPO

ORDER_FLOW = REPO / "tests" / "fixtures" / "runtime" / "order_flow.bpmn"


def event_kinds(rt, instance_id):
    return [e["kind"] for e in rt.events(instance_id)]
