"""P10 booking_desk: every sequence flow of the diagram is taken by a walk of this file alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.booking_desk import (
    BPMN,
    CUSTOMER,
    DETAILS,
    INQUIRY,
    SERVICE_AT,
    T0,
    TAKEN,
    Walk,
    fill_guides,
    flow_map,
)
from tests.support.world import deploy

pytestmark = pytest.mark.both_databases


@pytest.fixture
def rt(runtime):
    deploy(runtime, BPMN)
    return runtime


def test_every_sequence_flow_is_taken_by_some_test(rt, request):
    """The scenarios above, walked again here on one runtime (each instance finished before the next
    starts, the full-date ones last), so the test stands alone: no skip, no state from other tests."""
    paid_and_served = Walk(rt, request).book()
    paid_and_served.tick(T0 + timedelta(hours=24, seconds=1))
    paid_and_served.pay(T0 + timedelta(hours=25)).tick(SERVICE_AT)
    expired = Walk(rt, request).book(customer={**CUSTOMER, "payment_method": "线下支付"})
    for hours in (24, 48, 72):
        expired.tick(T0 + timedelta(hours=hours, seconds=hours // 24))
    cancelled = Walk(rt, request).book().pay(T0 + timedelta(hours=1))
    cancelled.message("booking_change_requested", SERVICE_AT - timedelta(hours=100), change_type="取消")
    cancelled.do("notify_cancellation", customer_informed=True, refund_method="原路退回")
    refused = Walk(rt, request).book().pay(T0 + timedelta(hours=1))
    refused.message("booking_change_requested", SERVICE_AT - timedelta(hours=47), change_type="变更")
    refused.do("notify_refusal", refer_to_supervisor=False, at=SERVICE_AT - timedelta(hours=47), customer_informed=True, refusal_note="不足48小时")
    refused.tick(SERVICE_AT)
    changed = Walk(rt, request).book().pay(T0 + timedelta(hours=1))
    changed.message("booking_change_requested", T0 + timedelta(days=2), change_type="变更")
    changed.do("review_change", change_service_date="2026-12-22", change_service_time="18:00", change_party_size=4,
               change_services=["泰安团餐餐厅", "地陪导游"])
    changed.do("notify_change_result", customer_informed=True, change_result_note="已改期")
    changed.tick(datetime(2026, 12, 22, 10, 0, tzinfo=UTC))
    manual = Walk(rt, request)
    manual.do("record_inquiry", **{**INQUIRY, "manual_entry": True})
    manual.do("enter_manual_booking", taken_at="2026-12-01T09:00:00+08:00", paper_form_no="SG-0044", **CUSTOMER,
              outage_reported=True)
    manual.pay(T0 + timedelta(hours=1)).tick(SERVICE_AT)
    unpaid_cancelled = Walk(rt, request).book()
    unpaid_cancelled.message("booking_change_requested", T0 + timedelta(hours=1), change_type="取消")
    unpaid_cancelled.tick(T0 + timedelta(hours=72))
    paid_late = Walk(rt, request).book()
    paid_late.message("booking_change_requested", T0 + timedelta(hours=1), change_type="取消")
    paid_late.pay(T0 + timedelta(hours=2))
    unpaid_changed = Walk(rt, request).book()
    unpaid_changed.message("booking_change_requested", T0 + timedelta(hours=1), change_type="变更")
    unpaid_changed.do("review_change", change_service_date="2026-12-22", change_service_time="18:00",
                      change_party_size=4, change_services=["泰安团餐餐厅", "地陪导游"])
    unpaid_changed.do("notify_change_result", customer_informed=True, change_result_note="已改期，待支付")
    unpaid_changed.pay(T0 + timedelta(hours=2)).tick(datetime(2026, 12, 22, 10, 0, tzinfo=UTC))
    referred, day_before = [], SERVICE_AT - timedelta(days=1)  # the 20th's four guides are taken by now
    for decision in ("破例受理变更", "维持不予受理"):
        walk = Walk(rt, request).book(inquiry={**INQUIRY, "service_date": "2026-12-19"}).pay(T0 + timedelta(hours=1))
        walk.message("booking_change_requested", day_before - timedelta(hours=47), change_type="变更")
        walk.do("notify_refusal", refer_to_supervisor=True, customer_informed=True, refusal_note="客户不接受")
        walk.do("supervisor_review_request", user="supervisor1", supervisor_request_decision=decision,
                supervisor_request_note="主管复核")
        referred.append(walk)
    referred[0].do("review_change", change_service_date="2026-12-22", change_service_time="18:00",
                   change_party_size=4, change_services=["泰安团餐餐厅", "地陪导游"])
    referred[0].do("notify_change_result", customer_informed=True, change_result_note="主管特批")
    referred[0].tick(datetime(2026, 12, 22, 10, 0, tzinfo=UTC))
    referred[1].tick(day_before)
    walks = [paid_and_served, expired, cancelled, refused, changed, manual, unpaid_cancelled, paid_late,
             unpaid_changed, *referred]
    assert {w.show()["status"] for w in walks} == {"completed"}
    fill_guides(rt, "2026-12-20")
    alternative = Walk(rt, request)
    alternative.do("record_inquiry", **INQUIRY)
    alternative.do("offer_alternatives", alternative_decision="接受替代方案", **{**DETAILS, "service_date": "2026-12-21"})
    alternative.do("confirm_booking", **CUSTOMER, details_confirmed=True)
    left = Walk(rt, request)
    left.do("record_inquiry", **INQUIRY)
    left.do("offer_alternatives", alternative_decision="放弃预订", **DETAILS, decision_note="只要20日")
    assert left.show()["status"] == "completed"
    for decision, note in (("按主管方案重新查询", "改为21日"), ("客户放弃预订", "客户改日再来")):
        escalated = Walk(rt, request)
        escalated.do("record_inquiry", **INQUIRY)
        escalated.do("offer_alternatives", alternative_decision="上报主管", **DETAILS)
        escalated.do("supervisor_resolve", user="supervisor1", supervisor_decision=decision,
                     **{**DETAILS, "service_date": "2026-12-21"}, supervisor_note=note)
    assert set(escalated.open_tasks()) == set() and escalated.show()["status"] == "completed"
    taken = TAKEN[request.node.name]
    assert set(flow_map().values()) - taken == set()
