"""P10 booking_desk: inquiry, availability and alternatives, booking, payment chased until paid,
change/cancel within the notice period with refunds by how early, manual entry after an outage."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from engine.clock import frozen_at
from engine.errors import FormInvalid, NotAllowed
from engine.plugins.handlers import HandlerContext
from engine.store.models import OutboxMessage
from handlers import booking_desk
from handlers.domain.models import ArchiveRecord, ContactRecord, DeskBooking, ResourceBooking
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


@pytest.fixture
def rt(runtime):
    deploy(runtime, BPMN)
    return runtime


# ---- the main path ---------------------------------------------------------------------------
def test_booking_confirmed_reminded_until_paid_then_served_and_archived(rt, request):
    walk = Walk(rt, request).book()
    data = walk.data()
    code = data["booking"]["code"]
    assert walk.show()["business_key"] == code, "the payment platform correlates on the booking code"
    assert data["availability"] == {"available": True, "amount": "500.00", "missing": [], "alternatives": []}
    assert data["booking"]["amount"] == "500.00" and data["booking"]["status"] == "reserved"
    booking = desk_booking(rt, code)
    assert (booking.customer_name, booking.contact, booking.source, booking.amount) == (
        "赵雪", "13655556666", "system", AMOUNT)
    assert booking.taken_at == booking.entered_at == T0
    assert held(rt, code) == [("GUIDE-POOL", "2026-12-20", 1), ("REST-TA", "2026-12-20", 4)]
    [confirmation] = rows(rt, ContactRecord, ContactRecord.instance_id == walk.id)
    text = confirmation.summary
    for part in ("2026-12-20 18:00", "4人", "泰安团餐餐厅、地陪导游", "500.00 元", "支付链接", "预订有效期至 2026-12-04 10:00",
                 "至少提前48小时", "168小时及以上取消退还100%", "72小时及以上取消退还80%", "48小时及以上取消退还50%"):
        assert part in text, part
    assert (confirmation.channel, confirmation.contact, confirmation.outcome) == ("message", "13655556666", "confirmation")
    [sent] = rows(rt, OutboxMessage, OutboxMessage.instance_id == walk.id)
    assert confirmation.details["outbox_ids"] == [sent.id], "the contact history names the outbox row"
    assert (sent.kind, sent.channel, sent.recipient) == ("booking.confirmation", "log", "13655556666")
    assert sent.subject == f"【预订确认】您的预订 {code} 已生成", "the log channel reads the e-mail template"
    assert "尊敬的赵雪" in sent.body and "预订有效期至 2026-12-04 10:00" in sent.body

    # Not paid: a reminder every payment_reminder_hours (24) until the customer pays.
    assert walk.tick(T0 + timedelta(hours=23)) == []
    fired = walk.tick(T0 + timedelta(hours=24, seconds=1))
    assert [f["timer"] for f in fired] == ["payment_reminder_due"]
    assert walk.data()["payment_reminder"] == {"count": 1, "expired": False, "sent": True}
    assert walk.tick(T0 + timedelta(hours=47)) == []
    assert [f["timer"] for f in walk.tick(T0 + timedelta(hours=48, seconds=2))] == ["payment_reminder_due"]
    assert walk.data()["payment_reminder"]["count"] == 2
    reminders = rows(rt, ContactRecord, ContactRecord.instance_id == walk.id, ContactRecord.outcome == "payment_reminder")
    assert len(reminders) == 2 and "500.00 元尚未支付" in reminders[0].summary

    walk.pay(T0 + timedelta(hours=50))
    assert walk.data()["receipt"]["receipt_no"] == f"RC-{code}"
    booking = desk_booking(rt, code)
    assert (booking.status, booking.paid_at) == ("paid", T0 + timedelta(hours=50))
    assert walk.tick(T0 + timedelta(hours=96)) == [], "no reminder once paid"
    assert walk.show()["status"] == "running"

    assert walk.tick(SERVICE_AT - timedelta(minutes=1)) == []
    assert [f["timer"] for f in walk.tick(SERVICE_AT)] == ["service_date_reached"]
    assert walk.show()["status"] == "completed"
    [archive] = rows(rt, ArchiveRecord, ArchiveRecord.instance_id == walk.id, ArchiveRecord.kind == "desk_booking")
    assert (archive.ref, archive.payload["outcome"], archive.payload["source"]) == (code, "completed", "system")
    assert "赵雪" not in str(archive.payload) and "13655556666" not in str(archive.payload)
    assert walk.kinds().count("instance_completed") == 1


def test_unpaid_booking_expires_after_its_validity_and_releases_the_units(rt, request):
    walk = Walk(rt, request).book(customer={**CUSTOMER, "payment_method": "线下支付"})
    code = walk.code()
    assert "到营业网点前台" in rows(rt, ContactRecord, ContactRecord.instance_id == walk.id)[0].summary
    for hours in (24, 48):
        walk.tick(T0 + timedelta(hours=hours, seconds=1))
        assert walk.show()["status"] == "running"
    walk.tick(T0 + timedelta(hours=72, seconds=2))  # the validity (72 h after booking) is over
    assert walk.show()["status"] == "completed"
    assert walk.data()["payment_reminder"] == {"count": 2, "expired": True, "sent": False}
    assert desk_booking(rt, code).status == "cancelled"
    assert held(rt, code) == []
    [archive] = rows(rt, ArchiveRecord, ArchiveRecord.instance_id == walk.id, ArchiveRecord.kind == "desk_booking")
    assert archive.payload["outcome"] == "expired"


# ---- no availability ---------------------------------------------------------------------------
def test_no_guide_on_that_date_alternatives_offered_and_customer_takes_one(rt, request):
    fill_guides(rt, "2026-12-20")
    walk = Walk(rt, request)
    walk.do("record_inquiry", **INQUIRY)
    assert set(walk.open_tasks()) == {"offer_alternatives"}
    availability = walk.data()["availability"]
    assert availability["available"] is False
    assert availability["missing"] == [{"service": "地陪导游", "needed": 1, "free": 0}]
    assert [a["service_date"] for a in availability["alternatives"]][:2] == ["2026-12-19", "2026-12-21"]
    walk.do("offer_alternatives", alternative_decision="接受替代方案",
            **{**DETAILS, "service_date": "2026-12-21"}, decision_note="改为21日")
    assert set(walk.open_tasks()) == {"confirm_booking"}
    walk.do("confirm_booking", **CUSTOMER, details_confirmed=True)
    assert held(rt, walk.code()) == [("GUIDE-POOL", "2026-12-21", 1), ("REST-TA", "2026-12-21", 4)]


def test_customer_leaves_when_nothing_fits(rt, request):
    fill_guides(rt, "2026-12-20")
    walk = Walk(rt, request)
    walk.do("record_inquiry", **INQUIRY)
    walk.do("offer_alternatives", alternative_decision="放弃预订", **DETAILS, decision_note="只要20日")
    assert walk.show()["status"] == "completed"
    assert rows(rt, DeskBooking) == [] and rows(rt, ArchiveRecord, ArchiveRecord.kind == "desk_booking") == []


# ---- change and cancellation ----------------------------------------------------------------
@pytest.mark.parametrize("hours_before, percent, refund", [
    (200, 100, Decimal("500.00")),  # ≥ 168 h: all back
    (100, 80, Decimal("400.00")),   # ≥ 72 h: 500 × 80 %
    (50, 50, Decimal("250.00")),    # ≥ 48 h: 500 × 50 %
    (48, 50, Decimal("250.00")),    # exactly the notice period still counts
])
def test_cancellation_refund_depends_on_how_early(rt, request, hours_before, percent, refund):
    walk = Walk(rt, request).book()
    code = walk.code()
    walk.pay(T0 + timedelta(hours=1))
    walk.message("booking_change_requested", SERVICE_AT - timedelta(hours=hours_before), change_type="取消")
    check = walk.data()["change_check"]
    assert (check["allowed"], check["refund_percent"], check["refund_amount"]) == (True, percent, str(refund))
    assert set(walk.open_tasks()) == {"notify_cancellation"}
    booking = desk_booking(rt, code)
    assert (booking.status, booking.refund_amount) == ("cancelled", refund)
    assert held(rt, code) == []
    walk.do("notify_cancellation", customer_informed=True, refund_method="原路退回")
    assert walk.show()["status"] == "completed"
    [archive] = rows(rt, ArchiveRecord, ArchiveRecord.instance_id == walk.id, ArchiveRecord.kind == "desk_booking")
    assert (archive.payload["outcome"], archive.payload["refund_amount"]) == ("cancelled", str(refund))
    assert walk.tick(SERVICE_AT + timedelta(days=1)) == [], "the service timer went with the cancellation"


def test_late_cancellation_is_refused_only_when_a_cancel_notice_is_configured(rt, request):
    configure(rt, cancel_notice_hours=48)  # doc 004 sets no notice for cancelling: an agency may add one
    walk = Walk(rt, request).book()
    code = walk.code()
    walk.pay(T0 + timedelta(hours=1))
    late = SERVICE_AT - timedelta(hours=47)
    walk.message("booking_change_requested", late, change_type="取消")
    check = walk.data()["change_check"]
    assert (check["allowed"], check["hours_before"], check["refund_amount"]) == (False, 47.0, "0.00")
    assert check["reason"] == "距服务开始仅 47.0 小时，不足规定的 48 小时，不予受理"
    [request_record] = rows(rt, ArchiveRecord, ArchiveRecord.kind == "desk_booking_request", ArchiveRecord.ref == code)
    assert request_record.summary == check["reason"]
    assert (desk_booking(rt, code).status, desk_booking(rt, code).refund_amount) == ("paid", None)
    assert set(walk.open_tasks()) == {"notify_refusal"}
    walk.do("notify_refusal", refer_to_supervisor=False, at=late, customer_informed=True, refusal_note="已说明须提前48小时，客户表示理解")
    assert walk.open_tasks() == {} and walk.show()["status"] == "running", "the booking stays active"
    walk.tick(SERVICE_AT)
    assert walk.show()["status"] == "completed"
    [archive] = rows(rt, ArchiveRecord, ArchiveRecord.instance_id == walk.id, ArchiveRecord.kind == "desk_booking")
    assert archive.payload["outcome"] == "completed"


def test_change_in_time_moves_the_booking_and_its_service_date(rt, request):
    walk = Walk(rt, request).book()
    code = walk.code()
    walk.pay(T0 + timedelta(hours=1))
    asked = T0 + timedelta(days=2)
    walk.message("booking_change_requested", asked, change_type="变更")
    assert set(walk.open_tasks()) == {"review_change"}
    walk.do("review_change", at=asked, change_service_date="2026-12-22", change_service_time="12:00",
            change_party_size=6, change_services=["泰安团餐餐厅", "地陪导游"], change_note="人数增加到6人")
    booking = desk_booking(rt, code)
    assert (booking.status, booking.party_size, booking.amount) == ("changed", 6, Decimal("600.00"))
    assert walk.data()["booking"]["change"] == {"feasible": True, "reason": "", "amount_difference": "100.00"}
    assert held(rt, code) == [("GUIDE-POOL", "2026-12-22", 1), ("REST-TA", "2026-12-22", 6)]
    walk.do("notify_change_result", at=asked, customer_informed=True, change_result_note="差额100元到店补交")
    assert walk.tick(SERVICE_AT) == [], "the old service time no longer ends the booking"
    new_time = datetime(2026, 12, 22, 4, 0, tzinfo=UTC)  # 12:00 China time
    assert [f["timer"] for f in walk.tick(new_time)] == ["service_date_reached"]
    assert walk.show()["status"] == "completed"


def test_change_without_capacity_keeps_the_original_booking(rt, request):
    walk = Walk(rt, request).book()
    code = walk.code()
    walk.pay(T0 + timedelta(hours=1))
    fill_guides(rt, "2026-12-23")
    walk.message("booking_change_requested", T0 + timedelta(days=2), change_type="变更")
    walk.do("review_change", change_service_date="2026-12-23", change_service_time="18:00", change_party_size=4,
            change_services=["泰安团餐餐厅", "地陪导游"])
    assert walk.data()["booking"]["change"] == {"feasible": False, "reason": "地陪导游 需要 1，只剩 0"}
    assert desk_booking(rt, code).status == "paid"
    assert held(rt, code) == [("GUIDE-POOL", "2026-12-20", 1), ("REST-TA", "2026-12-20", 4)]


# ---- manual fallback ----------------------------------------------------------------------------
def test_manual_booking_entered_after_an_outage_keeps_its_original_time(rt, request):
    entered = T0 + timedelta(days=1)
    walk = Walk(rt, request, at=entered)
    walk.do("record_inquiry", **{**INQUIRY, "manual_entry": True})
    assert set(walk.open_tasks()) == {"enter_manual_booking"}, "no system inquiry for a paper booking"
    walk.do("enter_manual_booking", taken_at="2026-12-01T15:20:00+08:00", paper_form_no="SG-0042",
            **{**CUSTOMER, "payment_method": "线下支付"}, outage_reported=True)
    booking = desk_booking(rt, walk.code())
    assert (booking.source, booking.taken_at, booking.entered_at) == (
        "manual", datetime(2026, 12, 1, 7, 20, tzinfo=UTC), entered)
    assert walk.data()["booking"]["taken_at"] == "2026-12-01T07:20:00+00:00"
    assert walk.show()["business_key"] == booking.code
    walk.pay(entered + timedelta(hours=2))
    walk.tick(SERVICE_AT)
    [archive] = rows(rt, ArchiveRecord, ArchiveRecord.instance_id == walk.id, ArchiveRecord.kind == "desk_booking")
    assert (archive.payload["source"], archive.payload["taken_at"]) == ("manual", "2026-12-01T07:20:00+00:00")


def test_manual_booking_on_a_full_date_is_never_overbooked(rt, request):
    fill_guides(rt, "2026-12-20")
    walk = Walk(rt, request)
    walk.do("record_inquiry", **{**INQUIRY, "manual_entry": True})
    walk.do("enter_manual_booking", taken_at="2026-11-30T09:00:00+08:00", paper_form_no="SG-0043",
            **CUSTOMER, outage_reported=True)
    shown = walk.show()
    assert shown["status"] == "error" and "地陪导游 需要 1，只剩 0" in shown["error"]
    incident = next(e for e in rt.events(walk.id) if e["kind"] == "incident_raised")
    assert (incident["payload"]["business"], incident["payload"]["lane"]) == (True, "supervisor")
    assert "赵雪" not in incident["payload"]["error"] and "13655556666" not in incident["payload"]["error"]
    assert rows(rt, DeskBooking) == []
    with frozen_at(T0):
        rt.resolve_incident(walk.id, "supervisor1", "客户同意改到21日", {"service_date": "2026-12-21"})
    walk.record()
    assert held(rt, walk.code()) == [("GUIDE-POOL", "2026-12-21", 1), ("REST-TA", "2026-12-21", 4)]


# ---- rules of the forms and lanes, privacy, idempotency --------------------------------------------
def test_wrong_lane_and_bad_data_are_refused(rt, request):
    walk = Walk(rt, request)
    task_id = walk.open_tasks()["record_inquiry"]["id"]
    with pytest.raises(NotAllowed, match="does not hold lane 'agent'"):
        rt.complete(task_id, "qc1", INQUIRY)
    for field, value in (("services", ["游艇"]), ("service_time", "25:00"), ("party_size", 0)):
        with pytest.raises(FormInvalid) as bad:
            rt.complete(task_id, "agent1", {**INQUIRY, field: value})
        assert bad.value.field == field
    with pytest.raises(NotAllowed):
        rt.start("booking_desk", actor="qc1")
    walk.do("record_inquiry", **INQUIRY)
    confirm = walk.open_tasks()["confirm_booking"]["id"]
    with pytest.raises(FormInvalid) as bad:
        rt.complete(confirm, "agent1", {**CUSTOMER, "contact": "call me", "details_confirmed": True})
    assert bad.value.field == "contact"
    with pytest.raises(FormInvalid) as unconfirmed:
        rt.complete(confirm, "agent1", {**CUSTOMER, "details_confirmed": False})
    assert unconfirmed.value.field == "details_confirmed"


def test_customer_data_stays_with_the_desk(rt, request):
    walk = Walk(rt, request).book()
    walk.pay(T0 + timedelta(hours=1))
    walk.message("booking_change_requested", SERVICE_AT - timedelta(hours=100), change_type="取消")
    [task] = rt.tasks(instance_id=walk.id)
    assert task["lane"] == "agent" and set(task["summary"]) <= {"customer_name"}, "no contact in the summary"
    assert rt.tasks(user="supervisor1") == [] and rt.tasks(user="qc1") == []
    data = walk.data()
    assert data["booking"]["customer"] == "赵*" and data["booking"]["sent_to"] == "136****6666"
    system_events = [e for e in rt.events(walk.id) if e["kind"] in ("handler_called", "message_received")]
    assert system_events and all("13655556666" not in str(e["payload"]) for e in system_events)
    assert set(_lane_ids()) == {"agent", "supervisor", "system"}, "only the desk's lanes hold customer data"


def _lane_ids() -> list[str]:
    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
    return [lane.get("id") for lane in ET.parse(BPMN).getroot().iterfind(".//bpmn:lane", ns)]


def test_handlers_write_once_per_step(rt, request):
    walk = Walk(rt, request).book()
    data = {**walk.data(), **CUSTOMER, **INQUIRY}
    with rt.db.write() as session, session.begin():
        ctx = HandlerContext(session=session, now=T0, instance_id=walk.id, process_id="booking_desk", task_id="x",
                             task_spec="create_booking", idempotency_key=f"{walk.id}:again", attempt=1, data=data)
        first = booking_desk.record_booking(ctx)
        second = booking_desk.record_booking(ctx)
        assert first["code"] == second["code"] == walk.code() + "-2"
        archive_ctx = HandlerContext(**{**ctx.__dict__, "idempotency_key": f"{walk.id}:archive",
                                        "data": {**data, "booking": first}})
        assert booking_desk.archive_booking(archive_ctx) == booking_desk.archive_booking(archive_ctx)
    assert len(rows(rt, DeskBooking, DeskBooking.idempotency_key == f"{walk.id}:again")) == 1
    assert len(rows(rt, ResourceBooking, ResourceBooking.tour_id == first["code"])) == 2
    assert len(rows(rt, ContactRecord, ContactRecord.idempotency_key == f"{walk.id}:again")) == 1
    assert len(rows(rt, ArchiveRecord, ArchiveRecord.idempotency_key == f"{walk.id}:archive")) == 1
