"""P8 tour_operation (旅游业务操作流程, the ten steps): every path of the diagram, walked the way
the front desk, the operator and the guide would.

Each scenario asserts the exact set of sequence flows it took, read back from the instance's
persisted task tree (cross-checked against the audit events);
`test_the_scenarios_take_every_sequence_flow_of_the_diagram` compares the union with the file.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.clock import frozen_at
from engine.config import DEFAULT_PROCESSES_DIR
from engine.errors import FormInvalid, NotAllowed
from engine.plugins.handlers import BusinessError, HandlerContext, get_handler, handler_writes
from handlers.domain.models import ResourceBooking
from tests.support.tour_operation import (
    BPMN_FILE,
    CHANGE,
    COMPLAINT,
    CONFIRM,
    DISPATCH,
    EXPECTED,
    FINISH,
    INQUIRY,
    PREPARE,
    SCENARIOS,
    SEE_OFF,
    T0,
    Tour,
    archives,
    diagram,
    holdings,
    never_overbooked,
    taken_flows,
    walk_bookings_sent_back_and_changes,
    walk_capacity_incident_and_head_count_change,
    walk_negotiated_with_complaint_and_change,
)
from tests.support.world import deploy

pytestmark = pytest.mark.both_databases


@pytest.fixture
def rt(runtime):
    deploy(runtime, DEFAULT_PROCESSES_DIR / "complaint_handling.bpmn")
    if (DEFAULT_PROCESSES_DIR / "followup_call.bpmn").exists():
        deploy(runtime, DEFAULT_PROCESSES_DIR / "followup_call.bpmn")
    deploy(runtime, BPMN_FILE)
    return runtime


# ---- the scenarios -----------------------------------------------------------------------------

def test_a_tour_with_a_renegotiated_quote_a_complaint_and_a_change_is_archived_and_followed_up(rt):
    with frozen_at(T0):
        tour = walk_negotiated_with_complaint_and_change(rt)
    assert taken_flows(rt, tour.id) == EXPECTED["negotiated_with_complaint_and_change"]
    shown = tour.show()
    assert shown["status"] == "completed"
    data = shown["data"]
    tour_id = data["tour_id"]
    assert tour_id == f"JQ-20261210-{tour.id:04d}"
    assert (data["complaints_raised"], data["changes_handled"]) == (1, 1)
    # the bookings the tour held, at the agreed standard
    assert holdings(rt, tour.id) == [
        ("COACH-33", "2026-12-10", 1), ("COACH-33", "2026-12-11", 1), ("COACH-33", "2026-12-12", 1),
        ("GUIDE-POOL", "2026-12-10", 1), ("GUIDE-POOL", "2026-12-11", 1), ("GUIDE-POOL", "2026-12-12", 1),
        ("HOTEL-TA-STD", "2026-12-10", 11), ("HOTEL-TA-STD", "2026-12-11", 11),
        ("REST-HALAL", "2026-12-10", 2), ("REST-HALAL", "2026-12-11", 2), ("REST-HALAL", "2026-12-12", 2),
        ("REST-TA", "2026-12-10", 18), ("REST-TA", "2026-12-11", 18), ("REST-TA", "2026-12-12", 18),
        ("TRAIN-JN-SH", "2026-12-10", 20), ("TRAIN-JN-SH", "2026-12-12", 20)]
    # archive: once, with the documents' key facts; nothing released
    [record] = archives(rt)
    assert (record.instance_id, record.ref) == (tour.id, tour_id)
    assert record.payload["quoted_total"] == 41600 and record.payload["opinion_form_signed"] is True
    assert record.payload["guide_user"] == "guide1" and len(record.payload["bookings"]) == 16
    assert (record.payload["complaints_raised"], record.payload["changes_handled"]) == (1, 1)
    assert not holdings(rt, tour.id, "released")
    # the approved change (a museum for a lake) re-booked nothing and is archived
    [change] = archives(rt, "tour_change")
    assert (change.instance_id, change.ref, change.payload["rebooked"]) == (tour.id, tour_id, [])
    assert change.payload["change_request"] == "大明湖改为山东博物馆"
    # the complaint started complaint_handling, prefilled, while the tour went on
    sent = tour.events("message_sent")
    complaint_sent = [e["payload"] for e in sent if e["payload"]["name"] == "complaint_received"]
    assert len(complaint_sent) == 1 and complaint_sent[0]["started"] is True
    assert complaint_sent[0]["key"] == f"{tour_id}-complaint-1"
    complaint = rt.show(complaint_sent[0]["delivered_to"])
    assert (complaint["process"], complaint["business_key"], complaint["status"]) == (
        "complaint_handling", f"{tour_id}-complaint-1", "running")
    for key, value in {"customer_name": "王小明", "contact_phone": "13700001111", "time_class": "旅游过程中",
                       "kind": "住宿餐饮", "description": COMPLAINT["complaint_description"],
                       "customer_request": COMPLAINT["complaint_request"], "tour_id": tour_id}.items():
        assert complaint["data"][key] == value, key
    assert [t["task"] for t in rt.tasks(instance_id=complaint["id"])] == ["receive_complaint"]
    # tour_finished: once, with the follow-up's payload, after the archive
    [finished] = [e["payload"] for e in sent if e["payload"]["name"] == "tour_finished"]
    assert finished["key"] == tour_id
    assert finished["data"] == {"tour_id": tour_id, "customer_name": "孙立伟", "contact_phone": "13522223333",
                                "branch_code": "DZ01"}
    events = rt.events(tour.id)
    [archived_at] = [i for i, e in enumerate(events)
                     if e["kind"] == "handler_called" and e["payload"]["task"] == "archive_tour"]
    [finished_at] = [i for i, e in enumerate(events)
                     if e["kind"] == "message_sent" and e["payload"]["name"] == "tour_finished"]
    assert archived_at < finished_at, "tour_finished must be sent after the tour is archived"
    if (DEFAULT_PROCESSES_DIR / "followup_call.bpmn").exists():
        followup = rt.show(finished["delivered_to"])
        assert (followup["process"], followup["business_key"]) == ("followup_call", tour_id)
        assert followup["data"]["tour_id"] == tour_id and followup["data"]["branch_code"] == "DZ01"
    else:
        assert finished["delivered_to"] is None
    never_overbooked(rt)


def test_capacity_exhaustion_raises_an_incident_resolved_with_a_bigger_hotel_and_head_count_changes_rebook(rt):
    with frozen_at(T0):
        tour = walk_capacity_incident_and_head_count_change(rt)
    assert taken_flows(rt, tour.id) == EXPECTED["capacity_incident_and_head_count_change"]
    assert tour.show()["status"] == "completed"
    [resolved] = tour.events("incident_resolved")
    assert resolved["payload"]["data"] == {"hotel_code": "HOTEL-TA-STD"}
    [record] = archives(rt)
    assert record.payload["confirmed_head_count"] == 40 and len(record.payload["bookings"]) == 7
    never_overbooked(rt)


def test_the_operator_sends_the_bookings_back_and_an_approved_change_is_rebooked_and_archived(rt):
    with frozen_at(T0):
        tour = walk_bookings_sent_back_and_changes(rt)
    assert taken_flows(rt, tour.id) == EXPECTED["bookings_sent_back_and_changes"]
    assert tour.show()["status"] == "completed"
    steps = [e["payload"]["task"] for e in tour.events("task_completed")]
    assert steps.count("approve_bookings") == 2 and steps.count("handle_change") == 2
    assert [e["payload"]["task"] for e in tour.events("handler_called")].count("book_vehicle") == 2
    [change] = archives(rt, "tour_change")
    tour_id = tour.data["tour_id"]
    assert (change.instance_id, change.ref) == (tour.id, tour_id)
    assert {k: change.payload[k] for k in ("change_request", "change_decision", "change_fee", "change_fee_payer",
                                           "change_bookings", "change_from", "rebooked")} == {
        "change_request": "第二晚改住曲阜", "change_decision": "同意变更", "change_fee": 600,
        "change_fee_payer": "旅行社", "change_bookings": ["定房"], "change_from": "2027-01-09", "rebooked": ["room"]}
    assert change.payload["items"] == [{"booking_id": change.payload["items"][0]["booking_id"],
                                        "resource": "HOTEL-QF-ECO", "date": "2027-01-09", "units": 11}]
    [record] = archives(rt)
    assert record.payload["bookings_sent_back"] == 1 and record.payload["changes_handled"] == 2
    assert ("HOTEL-QF-ECO", "2027-01-09", 11) in [(b["resource"], b["date"], b["units"])
                                                  for b in record.payload["bookings"]]
    never_overbooked(rt)


def test_a_change_that_does_not_fit_is_an_incident_for_the_operator_and_nothing_is_half_rebooked(rt):
    with rt.db.write() as session, session.begin():
        data = {**INQUIRY, "tour_id": "JQ-CHG", "start_date": "2027-02-01"}
        get_handler("tour_book_rooms")(_ctx(session, data, key="950:r", instance_id=950))
        change = {**data, "change_decision": "同意变更", "change_bookings": ["定房", "定车"],
                  "change_from": "2027-02-02", "change_hotel_code": "HOTEL-QF-ECO", "head_count": 30,
                  "single_rooms": 0, "confirmed_head_count": 60}
        with pytest.raises(BusinessError) as caught:  # 30 rooms do not fit the 25-room hotel
            get_handler("tour_rebook_change")(_ctx(session, change, key="950:c", instance_id=950))
        assert caught.value.lane == "operator" and "HOTEL-QF-ECO" in str(caught.value)
        with pytest.raises(BusinessError, match="不在行程内"):
            get_handler("tour_rebook_change")(_ctx(session, {**change, "change_from": "2027-03-01"},
                                                   key="950:d", instance_id=950))


def test_a_second_tour_that_no_longer_fits_is_stopped_not_overbooked(rt):
    """The comfort hotel has 40 rooms a night: two groups of 60 (30 rooms each) on the same night do not fit."""
    group = {**INQUIRY, "head_count": 60, "days": 2, "transport": "自备", "hui_guests": 0, "single_rooms": 0,
             "sights": ["SIGHT-DMH"]}
    tours = []
    for _ in range(2):
        tour = Tour(rt)
        tour.do("take_inquiry", "sales1", **group)
        tour.do("make_quote", "operator1", quoted_total=tour.data["quoted_total"], itinerary_overview="济南两日")
        tour.do("confirm_team", "sales1", **CONFIRM, group_confirmed=True)
        tours.append(tour)
    first, second = tours
    assert first.show()["status"] == "running" and set(first.open_tasks()) == {"approve_bookings"}
    assert ("HOTEL-TA-STD", "2026-12-10", 30) in holdings(rt, first.id)
    assert second.show()["status"] == "error" and "剩余 10，需要 30" in second.show()["error"]
    # the smaller economy hotel does not fit either: a new incident, still nothing overbooked
    rt.resolve_incident(second.id, "operator1", "试曲阜经济型酒店", {"hotel_code": "HOTEL-QF-ECO"})
    assert second.show()["status"] == "error" and "HOTEL-QF-ECO" in second.show()["error"]
    assert len(second.events("incident_raised")) == 2
    assert not [row for row in holdings(rt, second.id) if row[0].startswith("HOTEL")]
    never_overbooked(rt)


# ---- coverage ----------------------------------------------------------------------------------

def test_the_scenarios_take_every_sequence_flow_of_the_diagram(rt):
    flows, _nodes, _boundaries = diagram()
    walked = set()
    for name, scenario in SCENARIOS.items():
        tour = scenario(rt)
        taken = taken_flows(rt, tour.id)
        assert taken == EXPECTED[name], name
        walked |= taken
    assert walked == set(flows), f"never taken: {sorted(set(flows) - walked)}"


# ---- lanes, forms ------------------------------------------------------------------------------

def test_each_step_belongs_to_its_lane(rt):
    with pytest.raises(NotAllowed):
        rt.start("tour_operation", actor="guide1")
    tour = Tour(rt, starter="sales1")
    with pytest.raises(NotAllowed):
        tour.do("take_inquiry", "operator1", **INQUIRY)
    tour.do("take_inquiry", "sales1", **INQUIRY)
    assert tour.open_tasks()["make_quote"]["lane"] == "operator"
    with pytest.raises(NotAllowed):
        tour.do("make_quote", "sales1", quoted_total=1, itinerary_overview="x")
    tour.do("make_quote", "operator1", quoted_total=40840, itinerary_overview="泰山、三孔")
    tour.do("confirm_team", "sales1", **CONFIRM, group_confirmed=True)
    tour.do("approve_bookings", "operator1", bookings_checked=True, approval_decision="审定通过")
    tour.do("dispatch_plan", "operator1", **{**DISPATCH, "guide_user": "guide1"})
    with pytest.raises(NotAllowed):
        tour.do("prepare_tour", "operator1", **PREPARE, confirmed_head_count=20)
    tour.do("prepare_tour", "guide1", **PREPARE, confirmed_head_count=20)
    tour.do("in_tour_service", "guide1", **CHANGE)
    with pytest.raises(NotAllowed):
        tour.do("handle_change", "guide1", change_decision="同意变更", change_fee=0, change_note="x")


@pytest.mark.parametrize("task_data, field", [
    ({**INQUIRY, "reception_standard": "五星"}, "reception_standard"),
    ({**INQUIRY, "transport": "轮船"}, "transport"),
    ({**INQUIRY, "start_date": "12月10日"}, "start_date"),
    ({**INQUIRY, "head_count": 0}, "head_count"),
    ({**INQUIRY, "sights": ["SIGHT-XX"]}, "sights"),
    ({k: v for k, v in INQUIRY.items() if k != "hui_guests"}, "hui_guests"),
    ({**INQUIRY, "vip": True}, "vip"),
])
def test_bad_inquiry_data_is_refused_with_the_field_named(rt, task_data, field):
    tour = Tour(rt)
    with pytest.raises(FormInvalid) as caught:
        tour.do("take_inquiry", "sales1", **task_data)
    assert caught.value.field == field


def test_bad_data_in_the_later_forms_is_refused_with_the_field_named(rt):
    tour = Tour(rt)
    tour.do("take_inquiry", "sales1", **INQUIRY)
    with pytest.raises(FormInvalid) as caught:
        tour.do("make_quote", "operator1", quoted_total=-5, itinerary_overview="x")
    assert caught.value.field == "quoted_total"
    tour.do("make_quote", "operator1", quoted_total=40840, itinerary_overview="泰山、三孔")
    with pytest.raises(FormInvalid) as caught:
        tour.do("confirm_team", "sales1", **CONFIRM)
    assert caught.value.field == "group_confirmed"
    tour.do("confirm_team", "sales1", **CONFIRM, group_confirmed=True)
    with pytest.raises(FormInvalid) as caught:
        tour.do("approve_bookings", "operator1", bookings_checked=False, approval_decision="审定通过")
    assert caught.value.field == "bookings_checked"
    tour.do("approve_bookings", "operator1", bookings_checked=True, approval_decision="审定通过")
    with pytest.raises(FormInvalid) as caught:
        tour.do("dispatch_plan", "operator1", **{k: v for k, v in DISPATCH.items() if k != "contingency_plan"})
    assert caught.value.field == "contingency_plan"
    tour.do("dispatch_plan", "operator1", **DISPATCH)
    tour.do("prepare_tour", "guide1", **PREPARE, confirmed_head_count=20)
    with pytest.raises(FormInvalid) as caught:  # a complaint needs what the complainant said
        tour.do("in_tour_service", "guide1", **{k: v for k, v in COMPLAINT.items() if k != "complaint_kind"})
    assert caught.value.field == "complaint_kind"
    with pytest.raises(FormInvalid) as caught:
        tour.do("in_tour_service", "guide1", in_tour_event="行程变更", service_log="下雨")
    assert caught.value.field == "change_request"
    tour.do("in_tour_service", "guide1", **FINISH)
    with pytest.raises(FormInvalid) as caught:
        tour.do("see_off", "guide1", **{**SEE_OFF, "opinion_satisfaction": "还行"})
    assert caught.value.field == "opinion_satisfaction"


# ---- handlers ----------------------------------------------------------------------------------

def _ctx(session, data, key="900:abc", instance_id=900) -> HandlerContext:
    return HandlerContext(session=session, now=T0, instance_id=instance_id, process_id="tour_operation",
                          task_id="abc", task_spec="x", idempotency_key=key, attempt=1, data=data)


def test_make_quote_prices_every_line_from_the_price_tables_and_reads_only(rt):
    assert not handler_writes(get_handler("make_quote"))
    with rt.db.read() as session:
        quote = get_handler("make_quote")(_ctx(session, dict(INQUIRY)))
    amounts = {line["code"]: (line["quantity"], line["amount"]) for line in quote["lines"]}
    assert amounts["SIGHT-TSQ"] == (20, 2300.0) and amounts["SIGHT-SK"] == (20, 2800.0)
    room_lines = [line for line in quote["lines"] if line["code"] == "ROOM-STD"]
    assert [(ln["quantity"], ln["amount"]) for ln in room_lines] == [(22, 7920.0), (4, 1040.0)], \
        "11 rooms × 2 nights; single supplement for the single guest and the odd one out"
    assert amounts["MEAL-STD"] == (108, 5400.0) and amounts["MEAL-HALAL"] == (12, 660.0)
    assert amounts["VEH-33"] == (3, 3900.0), "21 seats (guests + guide): the 33-seat coach, 3 days"
    assert amounts["GUIDE-LOCAL"] == (3, 900.0) and amounts["TRAIN-G"] == (40, 15920.0)
    assert (quote["total"], quote["per_person"], quote["rooms"], quote["single_supplement_guests"]) == (
        40840.0, 2042.0, 11, 2)
    with rt.db.read() as session:
        small = get_handler("make_quote")(_ctx(session, {**INQUIRY, "head_count": 10, "hui_guests": 0,
                                                         "single_rooms": 0, "transport": "飞机",
                                                         "reception_standard": "豪华"}))
    codes = {line["code"] for line in small["lines"]}
    assert {"VEH-19", "FLIGHT-Y", "ROOM-LUX", "MEAL-LUX"} <= codes and "MEAL-HALAL" not in codes
    assert not any("单房差" in line["name"] for line in small["lines"]), "10 guests share 5 rooms"
    with rt.db.read() as session, pytest.raises(BusinessError):
        get_handler("make_quote")(_ctx(session, {**INQUIRY, "sights": ["SIGHT-NOPE"]}))


def test_booking_handlers_write_once_per_step_and_never_overbook(rt):
    data = {**INQUIRY, "tour_id": "JQ-TEST"}
    with rt.db.write() as session, session.begin():
        first = get_handler("tour_book_rooms")(_ctx(session, data))
        again = get_handler("tour_book_rooms")(_ctx(session, data))
        assert first == again and len(first["items"]) == 2
        assert session.execute(select(func.count(ResourceBooking.id))).scalar() == 2
        # 30 more rooms on the same nights do not fit the 40-room hotel (11 held): nothing is written
        with pytest.raises(BusinessError) as caught:
            get_handler("tour_book_rooms")(_ctx(session, {**data, "head_count": 60, "single_rooms": 0}, key="901:x",
                                                instance_id=901))
        assert caught.value.lane == "operator"
    assert holdings(rt, 901) == []
    with rt.db.write() as session, session.begin():
        flight = get_handler("tour_book_transport")(_ctx(session, {**data, "transport": "飞机"}, key="902:t"))
        assert flight["booked"] is False and "航空公司" in flight["note"]


def test_adjust_and_archive_write_once_per_step(rt):
    data = {**INQUIRY, "tour_id": "JQ-TEST"}
    with rt.db.write() as session, session.begin():
        for i, name in enumerate(("tour_book_rooms", "tour_book_meals", "tour_book_vehicle", "tour_book_guide",
                                  "tour_book_transport")):
            get_handler(name)(_ctx(session, data, key=f"900:b{i}"))
        adjust = get_handler("tour_adjust_bookings")
        first = adjust(_ctx(session, {**data, "confirmed_head_count": 40}, key="900:adj"))
        again = adjust(_ctx(session, {**data, "confirmed_head_count": 40}, key="900:adj"))
        assert first["rebooked"] == ["room", "meal", "vehicle", "transport"] and again["again"] is True
        assert again["rebooked"] == first["rebooked"]
        archive = get_handler("tour_archive")
        one = archive(_ctx(session, {**data, "confirmed_head_count": 40}, key="900:arc"))
        two = archive(_ctx(session, {**data, "confirmed_head_count": 40}, key="900:arc"))
        assert one == {**two, "bookings": one["bookings"]} and one["archive_id"] == two["archive_id"]
    held = dict(((code, day), units) for code, day, units in holdings(rt, 900))
    assert held[("HOTEL-TA-STD", "2026-12-10")] == 21 and held[("COACH-53", "2026-12-10")] == 1
    assert held[("REST-TA", "2026-12-10")] == 38 and held[("TRAIN-JN-SH", "2026-12-12")] == 40
    assert held[("GUIDE-POOL", "2026-12-11")] == 1
    assert len(archives(rt)) == 1


def test_rebook_and_archive_of_a_change_write_once_per_step(rt):
    data = {**INQUIRY, "tour_id": "JQ-TEST", "change_decision": "同意变更", "change_bookings": ["定车"],
            "change_from": "2026-12-11", "change_vehicle_code": "COACH-53", "change_request": "换大巴"}
    with rt.db.write() as session, session.begin():
        get_handler("tour_book_vehicle")(_ctx(session, data, key="900:v"))
        rebook = get_handler("tour_rebook_change")
        first = rebook(_ctx(session, data, key="900:chg"))
        again = rebook(_ctx(session, data, key="900:chg"))
        assert (first["rebooked"], first["released"], len(first["items"])) == (["vehicle"], 2, 2)
        assert again == {"rebooked": ["vehicle"], "from": "2026-12-11", "again": True}
        archive = get_handler("tour_archive_change")
        one = archive(_ctx(session, {**data, "change_rebooking": first}, key="900:arc"))
        assert archive(_ctx(session, {**data, "change_rebooking": first}, key="900:arc")) == one
    assert holdings(rt, 900) == [("COACH-33", "2026-12-10", 1), ("COACH-53", "2026-12-11", 1),
                                 ("COACH-53", "2026-12-12", 1)]
    assert holdings(rt, 900, "released") == [("COACH-33", "2026-12-11", 1), ("COACH-33", "2026-12-12", 1)]
    [record] = archives(rt, "tour_change")
    assert (record.ref, record.payload["rebooked"], len(record.payload["items"])) == ("JQ-TEST", ["vehicle"], 2)
