"""P10 booking_desk: requests before payment (an unpaid booking is cancelled at once; a payment that
still arrives is refunded in full), the notice rules as doc 004 gives them (changes only; a
cancellation notice is a setting), and the desk's supervisor."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.errors import NotAllowed
from handlers.domain.models import ArchiveRecord, ContactRecord
from tests.support.booking_desk import (
    AMOUNT,
    BPMN,
    CUSTOMER,
    DETAILS,
    INQUIRY,
    SERVICE_AT,
    T0,
    Walk,
    configure,
    desk_booking,
    fill_guides,
    held,
    rows,
)
from tests.support.world import deploy

pytestmark = pytest.mark.both_databases
CANCELLED_AT = T0 + timedelta(hours=2)
VALID_UNTIL = T0 + timedelta(hours=72)  # the payment link's validity (payment_valid_hours)


@pytest.fixture
def rt(runtime):
    deploy(runtime, BPMN)
    return runtime


def cancel_unpaid(rt, request) -> Walk:
    walk = Walk(rt, request).book()
    walk.message("booking_change_requested", CANCELLED_AT, change_type="取消")
    return walk


def messages(rt, walk, outcome):
    return rows(rt, ContactRecord, ContactRecord.instance_id == walk.id, ContactRecord.outcome == outcome)


# ---- before payment ---------------------------------------------------------------------------
def test_unpaid_booking_is_cancelled_at_once_without_a_refund_step(rt, request):
    walk = cancel_unpaid(rt, request)
    code = walk.code()
    check = walk.data()["change_check"]
    assert (check["allowed"], check["paid"], check["refund_amount"]) == (True, False, "0.00")
    assert (desk_booking(rt, code).status, desk_booking(rt, code).refund_amount) == ("cancelled", None)
    assert held(rt, code) == [], "the units are free again at once"
    assert walk.open_tasks() == {}, "no refund step for a booking nobody paid"
    [told] = messages(rt, walk, "cancelled")
    assert "尚未支付，已按您的要求取消" in told.summary and told.contact == "13655556666"
    [recorded] = rows(rt, ArchiveRecord, ArchiveRecord.kind == "desk_booking_request", ArchiveRecord.ref == code)
    assert recorded.summary == "取消申请受理" and recorded.payload["paid"] is False
    assert walk.tick(T0 + timedelta(hours=24, seconds=1)) == [], "no payment reminder after the cancellation"
    assert [f["timer"] for f in walk.tick(VALID_UNTIL)] == ["payment_window_closed"]
    assert walk.show()["status"] == "completed"
    [archive] = rows(rt, ArchiveRecord, ArchiveRecord.instance_id == walk.id, ArchiveRecord.kind == "desk_booking")
    assert (archive.payload["outcome"], archive.payload["refund_amount"]) == ("cancelled", None)


def test_a_payment_after_the_cancellation_is_refunded_in_full_visibly(rt, request):
    walk = cancel_unpaid(rt, request)
    code = walk.code()
    paid_at = CANCELLED_AT + timedelta(hours=3)
    sent = walk.message("payment_received", paid_at, paid_via="在线支付", transaction_ref="TX-LATE")
    assert (sent["delivered_to"], sent["state"]) == (walk.id, "delivered"), "the payment is not left in a buffer"
    booking = desk_booking(rt, code)
    assert (booking.status, booking.paid_at, booking.refund_amount) == ("cancelled", paid_at, AMOUNT)
    assert "receipt" not in walk.data(), "a cancelled booking is not confirmed by a payment"
    [told] = messages(rt, walk, "late_payment_refund")
    assert "取消后收到的付款 500.00 元（在线支付）将全额原路退回" in told.summary
    [recorded] = rows(rt, ArchiveRecord, ArchiveRecord.kind == "desk_late_payment", ArchiveRecord.ref == code)
    assert recorded.payload["refund_amount"] == "500.00" and recorded.payload["transaction_ref"] == "TX-LATE"
    assert walk.show()["status"] == "completed"
    [archive] = rows(rt, ArchiveRecord, ArchiveRecord.instance_id == walk.id, ArchiveRecord.kind == "desk_booking")
    assert (archive.payload["outcome"], archive.payload["refund_amount"]) == ("cancelled", "500.00")


def test_an_unpaid_booking_changed_in_time_still_waits_for_its_payment(rt, request):
    walk = Walk(rt, request).book()
    code = walk.code()
    walk.message("booking_change_requested", CANCELLED_AT, change_type="变更")
    walk.do("review_change", at=CANCELLED_AT, change_service_date="2026-12-22", change_service_time="18:00",
            change_party_size=4, change_services=["泰安团餐餐厅", "地陪导游"])
    walk.do("notify_change_result", at=CANCELLED_AT, customer_informed=True, change_result_note="已改期")
    assert walk.open_tasks() == {} and desk_booking(rt, code).paid_at is None
    assert held(rt, code) == [("GUIDE-POOL", "2026-12-22", 1), ("REST-TA", "2026-12-22", 4)]
    assert [f["timer"] for f in walk.tick(CANCELLED_AT + timedelta(hours=24, seconds=1))] == ["payment_reminder_due"]
    walk.pay(CANCELLED_AT + timedelta(hours=25))
    assert desk_booking(rt, code).status == "paid" and walk.data()["receipt"]["paid_amount"] == "500.00"


# ---- notice: doc 004 gives one for changes only ------------------------------------------------
def test_by_default_a_late_change_is_refused_but_a_late_cancellation_is_taken(rt, request):
    late = SERVICE_AT - timedelta(hours=47)
    changed = Walk(rt, request).book().pay(T0 + timedelta(hours=1))
    text = messages(rt, changed, "confirmation")[0].summary
    assert "变更须至少提前48小时通知预订台，逾期不予受理；取消可随时申请" in text
    changed.message("booking_change_requested", late, change_type="变更")
    assert changed.data()["change_check"]["reason"] == "距服务开始仅 47.0 小时，不足规定的 48 小时，不予受理"
    changed.do("notify_refusal", refer_to_supervisor=False, at=late, customer_informed=True, refusal_note="已说明须提前48小时")
    assert changed.open_tasks() == {} and desk_booking(rt, changed.code()).status == "paid"

    cancelled = Walk(rt, request).book().pay(T0 + timedelta(hours=1))
    cancelled.message("booking_change_requested", late, change_type="取消")
    check = cancelled.data()["change_check"]
    assert (check["allowed"], check["refund_percent"], check["refund_amount"]) == (True, 0, "0.00")
    assert set(cancelled.open_tasks()) == {"notify_cancellation"}
    assert (desk_booking(rt, cancelled.code()).status, held(rt, cancelled.code())) == ("cancelled", [])


def test_a_configured_cancel_notice_shows_in_the_confirmation(rt, request):
    configure(rt, cancel_notice_hours=48)
    walk = Walk(rt, request, at=SERVICE_AT - timedelta(hours=40)).book()  # booked late: 40 h before
    assert "变更或取消须至少提前48小时通知预订台，逾期不予受理" in messages(rt, walk, "confirmation")[0].summary
    walk.message("booking_change_requested", SERVICE_AT - timedelta(hours=30), change_type="取消")
    assert set(walk.open_tasks()) == {"notify_refusal"}, "unpaid or not, the configured notice applies"
    walk.do("notify_refusal", refer_to_supervisor=False, at=SERVICE_AT - timedelta(hours=30), customer_informed=True, refusal_note="不足48小时")
    assert walk.open_tasks() == {} and desk_booking(rt, walk.code()).status == "reserved"
    walk.pay(SERVICE_AT - timedelta(hours=29))
    assert desk_booking(rt, walk.code()).status == "paid", "the refused request left the payment wait intact"


# ---- the desk's supervisor -------------------------------------------------------------------------
def test_the_desk_escalates_to_its_supervisor_whose_plan_is_checked_again(rt, request):
    fill_guides(rt, "2026-12-20")
    walk = Walk(rt, request)
    walk.do("record_inquiry", **INQUIRY)
    walk.do("offer_alternatives", alternative_decision="上报主管", **DETAILS, decision_note="客户坚持20日，需主管协调")
    [task] = rt.tasks(instance_id=walk.id)
    assert (task["task"], task["lane"]) == ("supervisor_resolve", "supervisor")
    assert [t["task"] for t in rt.tasks(user="supervisor1")] == ["supervisor_resolve"]
    with pytest.raises(NotAllowed):
        rt.complete(task["id"], "agent1", {"supervisor_decision": "客户放弃预订", **DETAILS, "supervisor_note": "无"})
    walk.do("supervisor_resolve", user="supervisor1", supervisor_decision="按主管方案重新查询",
            **{**DETAILS, "service_date": "2026-12-21"}, supervisor_note="与客户协商改为21日")
    assert set(walk.open_tasks()) == {"confirm_booking"}, "the supervisor's plan goes back to the system check"
    walk.do("confirm_booking", **CUSTOMER, details_confirmed=True)
    assert held(rt, walk.code()) == [("GUIDE-POOL", "2026-12-21", 1), ("REST-TA", "2026-12-21", 4)]


def test_the_supervisor_records_a_customer_who_gives_up(rt, request):
    fill_guides(rt, "2026-12-20")
    walk = Walk(rt, request)
    walk.do("record_inquiry", **INQUIRY)
    walk.do("offer_alternatives", alternative_decision="上报主管", **DETAILS)
    walk.do("supervisor_resolve", user="supervisor1", supervisor_decision="客户放弃预订", **DETAILS,
            supervisor_note="已致歉，客户改日再来")
    assert walk.show()["status"] == "completed" and rows(rt, ArchiveRecord, ArchiveRecord.kind == "desk_booking") == []
    assert walk.data()["supervisor_note"] == "已致歉，客户改日再来"



def test_a_customer_who_does_not_accept_a_refusal_is_heard_by_the_supervisor(rt, request):
    late = SERVICE_AT - timedelta(hours=47)
    granted = Walk(rt, request).book().pay(T0 + timedelta(hours=1))
    granted.message("booking_change_requested", late, change_type="变更")
    granted.do("notify_refusal", at=late, refer_to_supervisor=True, customer_informed=True,
               refusal_note="客户家中有急事，坚持改期")
    [task] = rt.tasks(instance_id=granted.id)
    assert (task["task"], task["lane"]) == ("supervisor_review_request", "supervisor")
    granted.do("supervisor_review_request", user="supervisor1", at=late, supervisor_request_decision="破例受理变更",
               supervisor_request_note="特殊情况，同意改期")
    assert set(granted.open_tasks()) == {"review_change"}, "the supervisor's exception goes back to the desk's check"
    granted.do("review_change", at=late, change_service_date="2026-12-22", change_service_time="18:00",
               change_party_size=4, change_services=["泰安团餐餐厅", "地陪导游"])
    granted.do("notify_change_result", at=late, customer_informed=True, change_result_note="主管特批改期")
    assert desk_booking(rt, granted.code()).status == "changed" and granted.open_tasks() == {}

    upheld = Walk(rt, request).book().pay(T0 + timedelta(hours=1))
    upheld.message("booking_change_requested", late, change_type="变更")
    upheld.do("notify_refusal", at=late, refer_to_supervisor=True, customer_informed=True, refusal_note="客户不接受")
    upheld.do("supervisor_review_request", user="supervisor1", at=late, supervisor_request_decision="维持不予受理",
              supervisor_request_note="已向客户说明，维持原预订")
    assert upheld.open_tasks() == {} and desk_booking(rt, upheld.code()).status == "paid"
    assert [f["timer"] for f in upheld.tick(SERVICE_AT)] == ["service_date_reached"]
