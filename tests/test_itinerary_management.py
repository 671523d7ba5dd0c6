"""P9 itinerary_management (doc 002): planning, confirmation, changes with consent, reminder, feedback."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.clock import frozen_at
from engine.config import DEFAULT_PROCESSES_DIR
from engine.errors import FormInvalid, NotAllowed
from engine.plugins.handlers import BusinessError, HandlerContext
from engine.store.models import OutboxMessage, ProcessInstance
from handlers.itinerary import adjust_fee, send_confirmation_letter
from tests.support.flows import taken_flows
from tests.support.itinerary import (
    BPMN,
    CONTRACT,
    DEPARTURE_AT,
    DRAFT,
    ENTRY,
    NEEDS,
    REMINDER_AT,
    T0,
    TRIP_DONE_AT,
    Trip,
    all_flows,
    holds,
    records,
)
from tests.support.world import deploy

pytestmark = pytest.mark.both_databases  # timers, a parallel join and re-bookings on both


@pytest.fixture
def p9(runtime):
    deploy(runtime, BPMN)
    deploy(runtime, DEFAULT_PROCESSES_DIR / "complaint_handling.bpmn")
    return runtime


# ---- scenario pieces ---------------------------------------------------------------------------

def plan_and_confirm(trip: Trip, *, loops=True):
    trip.do("collect_requirements", "sales1", **NEEDS)
    trip.do("draft_itinerary", "operator1", **DRAFT)
    if loops:
        trip.do("review_itinerary", "manager1", review_approved=False, review_comment="第一天行程过紧，老人吃不消")
        assert set(trip.open_tasks()) == {"draft_itinerary"}
        trip.do("draft_itinerary", "operator1", **{**DRAFT, "itinerary_plan": "D1 泰山索道往返；D2 曲阜；D3 返程"})
    trip.do("review_itinerary", "manager1", review_approved=True, review_comment="同意")
    if loops:
        trip.do("confirm_with_customer", "sales1", customer_satisfied=False, customer_opinion="希望加一晚曲阜")
        assert set(trip.open_tasks()) == {"draft_itinerary"}
        trip.do("draft_itinerary", "operator1", **DRAFT)
        trip.do("review_itinerary", "manager1", review_approved=True, review_comment="同意")
    trip.do("confirm_with_customer", "sales1", customer_satisfied=True, customer_opinion="满意")
    trip.do("sign_contract", "sales1", **CONTRACT)
    trip.do("enter_itinerary", "operator1", **ENTRY)
    assert set(trip.open_tasks()) == {"request_change"}


def change(trip: Trip, *, approved=True, fee=0.0, consent=False, evidence=None):
    trip.do("request_change", "sales1", change_reason="家中老人身体原因", change_wish="改住曲阜经济型酒店一间")
    trip.do("review_change", "manager1", change_approved=approved, supplier_feedback="酒店确认有房", fee_difference=fee,
            review_opinion="影响可控")
    notice = {"customer_notified": True, "fee_consent": consent, "notice_note": "电话通知"}
    if evidence:
        notice["consent_evidence"] = evidence
    trip.do("notify_change_result", "sales1", **notice)


def remind_and_travel(trip: Trip, feedback_class="表扬"):
    rt = trip.rt
    assert rt.tick(REMINDER_AT - timedelta(minutes=1)) == []
    fired = rt.tick(REMINDER_AT + timedelta(minutes=1))
    assert [f["timer"] for f in fired] == ["one_week_before"]
    tasks = trip.open_tasks()
    assert set(tasks) == {"request_change", "pre_departure_reminder"}, [rt.show(trip.id)["error"], rt.events(trip.id)[-3:]]
    assert tasks["pre_departure_reminder"]["lane"] == "agent"
    with rt.db.read() as session:
        reminder = session.execute(select(OutboxMessage).where(
            OutboxMessage.instance_id == trip.id, OutboxMessage.kind == "itinerary.departure_reminder")).scalar_one()
    assert reminder.created_at == REMINDER_AT + timedelta(minutes=1), "queued by the timer's step, on schedule"
    assert reminder.subject.startswith("【出行提醒】") and trip.data()["itinerary_no"] in reminder.subject
    call_and_depart(trip)
    assert rt.tick(TRIP_DONE_AT - timedelta(minutes=1)) == []
    assert [f["timer"] for f in rt.tick(TRIP_DONE_AT + timedelta(minutes=1))] == ["trip_finished"]
    extra = {"complaint_kind": "住宿餐饮", "customer_request": "退还一晚房费"} if feedback_class == "投诉" else {}
    trip.do("collect_feedback", "agent2", at=TRIP_DONE_AT + timedelta(hours=1), feedback_channel="电话", satisfaction=2
            if feedback_class == "投诉" else 5, feedback_class=feedback_class,
            feedback_text="酒店热水不足，房间有异味" if feedback_class == "投诉" else "导游讲解细致", **extra)
    trip.do("reply_feedback", "agent2", at=TRIP_DONE_AT + timedelta(hours=2), handling_result="已致谢/已转质检处理",
            replied_via="电话", customer_satisfied_after=True)


def call_and_depart(trip: Trip):
    """The reminder call, then departure closes the change window and the trip is under way."""
    trip.do("pre_departure_reminder", "agent2", at=REMINDER_AT + timedelta(hours=1), customer_reached=True,
            details_confirmed=True, materials_reminded=["身份证件", "常用药品"], reminder_note="12月20日8:00济南站集合")
    assert set(trip.open_tasks()) == {"request_change"}
    assert trip.rt.tick(DEPARTURE_AT - timedelta(minutes=1)) == []
    assert [f["timer"] for f in trip.rt.tick(DEPARTURE_AT + timedelta(minutes=1))] == ["departure_reached"]
    assert trip.open_tasks() == {}


def walk_simple(rt) -> Trip:
    trip = Trip(rt)
    plan_and_confirm(trip, loops=False)
    remind_and_travel(trip, "表扬")
    return trip


def walk_with_changes_and_complaint(rt) -> Trip:
    trip = Trip(rt)
    plan_and_confirm(trip)
    change(trip, approved=False)                                            # rejected: original kept
    assert set(trip.open_tasks()) == {"request_change"}
    change(trip, fee=300, consent=False)                                    # consent missing: refused
    assert set(trip.open_tasks()) == {"request_change"}
    change(trip, fee=-200, consent=True, evidence="签字确认单 QR-1")         # consent recorded: adjusted
    trip.do("enter_itinerary", "operator1", **{**ENTRY, "hotel_code": "HOTEL-QF-ECO", "rooms": 1})
    change(trip, fee=0)                                                     # no fee change: straight re-entry
    trip.do("enter_itinerary", "operator1", **{**ENTRY, "hotel_code": "HOTEL-QF-ECO", "rooms": 2})
    remind_and_travel(trip, "投诉")
    return trip


# ---- tests ------------------------------------------------------------------------------------------

def test_planning_loops_until_approved_and_satisfied_then_books_and_sends_the_letter(p9):
    trip = Trip(p9)
    [task] = p9.tasks(instance_id=trip.id)
    assert (task["task"], task["lane"]) == ("collect_requirements", "sales")
    plan_and_confirm(trip)
    steps = [e["payload"]["task"] for e in trip.events("task_completed")]
    assert steps.count("draft_itinerary") == 3 and steps.count("review_itinerary") == 3
    data = trip.data()
    assert [h[:3] for h in holds(p9, trip.id)] == [("2026-12-20", "held", 2), ("2026-12-21", "held", 2),
                                                   ("2026-12-20", "held", 4)]
    [letter] = records(p9, "itinerary_letter")
    assert letter.ref == "IT-2026-1220" and "周海燕" in letter.payload["content"] and "9800.00" in letter.payload["content"]
    assert data["confirmation_letter"]["content"] == letter.payload["content"]
    assert p9.tasks(instance_id=trip.id)[0]["due_at"].startswith("2026-12-19T16:00"), "open until departure"


def test_reminder_call_one_week_before_departure_then_praise_is_archived(p9):
    trip = walk_simple(p9)
    assert trip.status() == "completed"
    [record] = records(p9, "itinerary")
    assert (record.instance_id, record.ref) == (trip.id, "IT-2026-1220")
    assert record.payload["feedback_class"] == "表扬" and record.payload["letters"] == [records(p9, "itinerary_letter")[0].id]
    assert record.payload["final_total"] == 9800
    assert trip.handler_calls("itinerary_archive")[0]["payload"]["output"] == {"archive_id": record.id}
    assert not trip.events("message_sent")


def test_fee_change_without_recorded_consent_is_refused(p9):
    trip = Trip(p9)
    plan_and_confirm(trip, loops=False)
    change(trip, fee=300, consent=False)
    assert set(trip.open_tasks()) == {"request_change"}, "refused: the change does not take effect"
    change(trip, fee=300, consent=True)  # said yes on the phone, but no evidence recorded
    assert set(trip.open_tasks()) == {"request_change"}
    assert trip.handler_calls("itinerary_adjust_fee") == []
    assert records(p9, "itinerary_change") == []
    assert trip.data()["total_price"] == 9800 and "fee_adjustment" not in trip.data()
    assert len(trip.handler_calls("itinerary_book")) == 1, "nothing re-booked"


def test_fee_handler_itself_refuses_without_consent(p9):
    with p9.db.write() as session, session.begin():
        ctx = HandlerContext(session=session, now=T0, instance_id=7, process_id="itinerary_management", task_id="t",
                             task_spec="adjust_fee", idempotency_key="7:t", attempt=1,
                             data={"total_price": 9800, "fee_difference": 300, "fee_consent": True, "consent_evidence": " "})
        with pytest.raises(BusinessError, match="未记录客户同意") as refused:
            adjust_fee(ctx)
    assert refused.value.lane == "sales"
    assert records(p9, "itinerary_change") == []


def test_changes_rebook_with_consent_and_a_complaint_starts_complaint_handling(p9):
    trip = walk_with_changes_and_complaint(p9)
    assert trip.status() == "completed"
    [adjusted] = trip.handler_calls("itinerary_adjust_fee")
    assert adjusted["payload"]["output"]["new_total"] == 9600
    [change_record] = records(p9, "itinerary_change")
    assert change_record.payload["result"]["consent_evidence"] == "签字确认单 QR-1"
    letters = records(p9, "itinerary_letter")
    assert len(letters) == 3 and "9600.00" in letters[-1].payload["content"]
    current = [h for h in holds(p9, trip.id) if h[1] == "held"]
    assert current == [("2026-12-20", "held", 2, "IT-2026-1220"), ("2026-12-21", "held", 2, "IT-2026-1220"),
                       ("2026-12-20", "held", 4, "IT-2026-1220")]
    assert len(holds(p9, trip.id)) == 9, "earlier holds are released, never deleted"
    [sent] = trip.events("message_sent")
    assert sent["payload"]["name"] == "complaint_received" and sent["payload"]["key"] == "itinerary-IT-2026-1220"
    assert sent["payload"]["started"] is True
    complaint = p9.show(sent["payload"]["delivered_to"])
    assert (complaint["process"], complaint["business_key"]) == ("complaint_handling", "itinerary-IT-2026-1220")
    assert {k: complaint["data"][k] for k in ("customer_name", "contact_phone", "time_class", "kind", "tour_id")} == {
        "customer_name": "周海燕", "contact_phone": "13344445555", "time_class": "旅游后", "kind": "住宿餐饮",
        "tour_id": "IT-2026-1220"}
    assert complaint["data"]["description"] == "酒店热水不足，房间有异味"
    assert [t["task"] for t in p9.tasks(instance_id=complaint["id"])] == ["receive_complaint"]
    [record] = records(p9, "itinerary")
    assert record.payload["changes"] == [change_record.id] and len(record.payload["letters"]) == 3
    assert record.payload["final_total"] == 9600


def test_no_capacity_raises_an_incident_fixed_with_corrected_data(p9):
    trip = Trip(p9)
    trip.do("collect_requirements", "sales1", **NEEDS)
    trip.do("draft_itinerary", "operator1", **DRAFT)
    trip.do("review_itinerary", "manager1", review_approved=True, review_comment="同意")
    trip.do("confirm_with_customer", "sales1", customer_satisfied=True, customer_opinion="满意")
    trip.do("sign_contract", "sales1", **CONTRACT)
    trip.do("enter_itinerary", "operator1", **{**ENTRY, "rooms": 41})
    shown = p9.show(trip.id)
    assert shown["status"] == "error" and "余量不足" in shown["error"]
    [incident] = trip.events("incident_raised")
    assert incident["payload"]["business"] is True and incident["payload"]["lane"] == "operator"
    assert holds(p9, trip.id) == [], "never overbooked, nothing held"
    with frozen_at(T0 + timedelta(days=1)):
        p9.resolve_incident(trip.id, "operator1", "改订20间", data={"rooms": 20})
    assert set(trip.open_tasks()) == {"request_change"}
    assert [h[2] for h in holds(p9, trip.id)] == [20, 20, 4]


def test_wrong_lane_and_bad_form_data_are_refused(p9):
    trip = Trip(p9)
    task_id = trip.open_tasks()["collect_requirements"]["id"]
    with pytest.raises(NotAllowed, match="does not hold lane 'sales'"):
        p9.complete(task_id, "operator1", NEEDS)
    with pytest.raises(FormInvalid) as bad:
        p9.complete(task_id, "sales1", {**NEEDS, "depart_on": "下周五"})
    assert bad.value.field == "depart_on"
    with pytest.raises(FormInvalid) as missing:
        p9.complete(task_id, "sales1", {k: v for k, v in NEEDS.items() if k != "party_size"})
    assert missing.value.field == "party_size"
    trip.do("collect_requirements", "sales1", **NEEDS)
    with pytest.raises(FormInvalid) as hotel:
        trip.do("draft_itinerary", "operator1", **{**DRAFT, "hotel_code": "HOTEL-NOWHERE"})
    assert hotel.value.field == "hotel_code"


def test_letter_handler_writes_once_per_step(p9):
    data = {**NEEDS, **ENTRY, **CONTRACT}
    trip = Trip(p9)
    with p9.db.write() as session, session.begin():
        ctx = HandlerContext(session=session, now=T0, instance_id=trip.id, process_id="itinerary_management",
                             task_id="t", task_spec="send_confirmation", idempotency_key=f"{trip.id}:t", attempt=1,
                             data=data)
        assert send_confirmation_letter(ctx) == send_confirmation_letter(ctx)
    assert len(records(p9, "itinerary_letter")) == 1
    with p9.db.read() as session:
        [letter] = session.execute(select(OutboxMessage).where(OutboxMessage.instance_id == trip.id)).scalars()
    assert (letter.kind, letter.recipient) == ("itinerary.confirmation_letter", NEEDS["contact_phone"])


def test_every_sequence_flow_is_taken(p9):
    taken = set()
    for walk in (walk_simple, walk_with_changes_and_complaint):
        taken |= taken_flows(p9, walk(p9).id)
    assert all_flows() - taken == set()
    with p9.db.read() as session:
        assert session.execute(select(ProcessInstance.status).where(
            ProcessInstance.process_id == "itinerary_management")).scalars().all() == ["completed", "completed"]


def test_reminder_fires_one_week_before_departure_while_a_change_is_under_review(p9):
    trip = Trip(p9)
    plan_and_confirm(trip, loops=False)
    change_on = REMINDER_AT - timedelta(days=1)
    trip.do("request_change", "sales1", at=change_on, change_reason="加一位同行老人", change_wish="加订一间房")
    assert set(trip.open_tasks()) == {"review_change"}
    assert p9.tick(REMINDER_AT - timedelta(seconds=1)) == []
    assert [f["timer"] for f in p9.tick(REMINDER_AT)] == ["one_week_before"], "on time, not after the review"
    assert set(trip.open_tasks()) == {"review_change", "pre_departure_reminder"}
    trip.do("review_change", "manager1", at=REMINDER_AT, change_approved=True, supplier_feedback="酒店确认有房",
            fee_difference=0, review_opinion="影响可控")
    trip.do("notify_change_result", "sales1", at=REMINDER_AT, customer_notified=True, fee_consent=False,
            notice_note="电话通知")
    trip.do("enter_itinerary", "operator1", at=REMINDER_AT, **{**ENTRY, "rooms": 3})
    assert set(trip.open_tasks()) == {"request_change", "pre_departure_reminder"}
    assert [f["timer"] for f in p9.tick(REMINDER_AT + timedelta(days=1))] == [], "one reminder only"
    call_and_depart(trip)
    assert [f["timer"] for f in p9.tick(TRIP_DONE_AT + timedelta(minutes=1))] == ["trip_finished"]
    assert set(trip.open_tasks()) == {"collect_feedback"}
    assert [h[2] for h in holds(p9, trip.id) if h[1] == "held"] == [3, 3, 4]


def test_a_change_requested_in_the_last_week_is_accepted(p9):
    trip = Trip(p9)
    plan_and_confirm(trip, loops=False)
    assert [f["timer"] for f in p9.tick(REMINDER_AT + timedelta(minutes=1))] == ["one_week_before"]
    trip.do("pre_departure_reminder", "agent2", at=REMINDER_AT + timedelta(hours=1), customer_reached=True,
            details_confirmed=True, materials_reminded=["身份证件"], reminder_note="12月20日8:00济南站集合")
    late = DEPARTURE_AT - timedelta(days=2)
    trip.do("request_change", "sales1", at=late, change_reason="临时加人", change_wish="出行人数改为5人")
    assert set(trip.open_tasks()) == {"review_change"}, "accepted inside the last week"
    trip.do("review_change", "manager1", at=late, change_approved=True, supplier_feedback="车票有余票",
            fee_difference=1200, review_opinion="同意")
    trip.do("notify_change_result", "sales1", at=late, customer_notified=True, fee_consent=True,
            consent_evidence="书面回复 W-9", notice_note="短信")
    trip.do("enter_itinerary", "operator1", at=late, **ENTRY)
    assert trip.data()["fee_adjustment"]["new_total"] == 11000
    assert set(trip.open_tasks()) == {"request_change"}
    assert [f["timer"] for f in p9.tick(DEPARTURE_AT)] == ["departure_reached"]
    assert trip.open_tasks() == {} and trip.status() != "completed"
    assert [f["timer"] for f in p9.tick(TRIP_DONE_AT)] == ["trip_finished"]
    trip.do("collect_feedback", "agent2", at=TRIP_DONE_AT, feedback_channel="问卷", satisfaction=5,
            feedback_class="建议", feedback_text="希望多些自由活动时间")
    trip.do("reply_feedback", "agent2", at=TRIP_DONE_AT, handling_result="已致谢", replied_via="电话",
            customer_satisfied_after=True)
    assert trip.status() == "completed" and trip.open_tasks() == {}


def test_a_change_still_under_review_at_departure_is_finished_then_the_window_closes(p9):
    trip = Trip(p9)
    plan_and_confirm(trip, loops=False)
    p9.tick(REMINDER_AT)
    trip.do("pre_departure_reminder", "agent2", at=REMINDER_AT, customer_reached=True, details_confirmed=True,
            materials_reminded=["身份证件"], reminder_note="已确认")
    trip.do("request_change", "sales1", at=DEPARTURE_AT - timedelta(hours=2), change_reason="晚到", change_wish="改晚一班车")
    assert p9.tick(DEPARTURE_AT + timedelta(minutes=1)) == [], "the request came before departure: it is reviewed"
    trip.do("review_change", "manager1", at=DEPARTURE_AT + timedelta(hours=1), change_approved=False,
            supplier_feedback="无余票", fee_difference=0, review_opinion="不可行")
    trip.do("notify_change_result", "sales1", at=DEPARTURE_AT + timedelta(hours=1), customer_notified=True,
            fee_consent=False, notice_note="电话通知")
    assert trip.open_tasks() == {}, "back at the request form after departure: the window closes at once"
    assert {"departure_to_join", "join_to_trip"} <= taken_flows(p9, trip.id)
    assert [f["timer"] for f in p9.tick(TRIP_DONE_AT)] == ["trip_finished"]
    assert set(trip.open_tasks()) == {"collect_feedback"}
