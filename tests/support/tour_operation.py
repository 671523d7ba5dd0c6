"""The tour operation process (tour_operation.bpmn, the ten steps): the forms of each step, the
sequence flows an instance took (from its persisted task tree, cross-checked against the audit
events), a tour walked through it, and the scenarios whose flows together cover the diagram."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree
from sqlalchemy import func, select

from engine.config import DEFAULT_PROCESSES_DIR
from engine.errors import NotAllowed
from handlers.domain.models import ArchiveRecord, Resource, ResourceBooking
from tests.support.flows import taken_flows  # noqa: F401 (the tests read it from here)

BPMN_FILE = DEFAULT_PROCESSES_DIR / "tour_operation.bpmn"
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)

INQUIRY = {
    "customer_name": "孙立伟", "contact_phone": "13522223333", "branch_code": "DZ01", "group_agency": "上海春秋组团社",
    "head_count": 20, "start_date": "2026-12-10", "days": 3, "route": "泰安—曲阜—济南 三日游",
    "sights": ["SIGHT-TSQ", "SIGHT-SK"], "reception_standard": "舒适", "transport": "火车",
    "guest_identity": "企业团", "hui_guests": 2, "single_rooms": 1, "other_requests": "需要一名会讲英语的导游",
}
CONFIRM = {"pickup_method": "接站", "pickup_place": "泰安高铁站出站口", "settlement_terms": "出团前付清全款",
           "team_details": "第一天登泰山，第二天三孔，第三天济南返程", "complimentary_items": "每人一瓶矿泉水",
           "shopping_arrangement": "无"}
DISPATCH = {"guide_user": "guide1", "itinerary": "D1 泰山 D2 三孔 D3 大明湖、趵突泉，返程",
            "cautions": "泰山登山注意安全，老人量力而行", "hui_meal_arrangement": "2位回民游客，清真饭庄用餐",
            "room_arrangement": "标间10间，单间1间（2人收单房差）", "settlement_customer": "出团前付清",
            "settlement_ground_agency": "团结束后7日内结算", "contingency_plan": "遇雨改为室内景点；游客生病就近送医"}
PREPARE = {"plan_studied": True, "bookings_reconfirmed": True, "leader_contacted": True}
COMPLAINT = {"in_tour_event": "游客投诉", "service_log": "第二天三孔游览", "complainant_name": "王小明",
             "complainant_phone": "13700001111", "complaint_kind": "住宿餐饮",
             "complaint_description": "酒店早餐品种太少，咖啡机坏了", "complaint_request": "改善早餐或适当补偿"}
CHANGE = {"in_tour_event": "行程变更", "service_log": "第三天下雨", "change_request": "大明湖改为山东博物馆"}
FINISH = {"in_tour_event": "行程结束", "service_log": "三天行程顺利完成"}
SEE_OFF = {"tour_summary": "全团准时返程，无人员受伤", "opinion_form_signed": True, "opinion_satisfaction": "满意"}

COMMON = {"call_to_inquiry", "inquiry_to_compute", "compute_to_quote", "quote_to_confirm", "confirm_to_check",
          "confirmed_to_booking", "split_to_rooms", "split_to_meals", "split_to_vehicle", "split_to_guide",
          "split_to_transport", "rooms_to_join", "meals_to_join", "vehicle_to_join", "guide_to_join",
          "transport_to_join", "join_to_approve", "approve_to_check", "approved_to_dispatch", "dispatch_to_prepare", "prepare_to_check",
          "merge_to_in_tour", "in_tour_merge_to_service", "service_to_event", "event_to_see_off",
          "see_off_to_split", "split_to_sales_summary", "split_to_operator_summary", "split_to_guide_summary",
          "sales_summary_to_join", "operator_summary_to_join", "guide_summary_to_join", "join_to_archive",
          "archive_to_finished"}
EXPECTED = {
    "negotiated_with_complaint_and_change": COMMON | {
        "unconfirmed_to_negotiate", "negotiate_to_compute", "unchanged_to_merge", "event_to_complaint",
        "complaint_to_service", "event_to_change", "change_to_decision", "approved_to_rebook", "rebook_to_archive",
        "change_archived_to_service"},
    "capacity_incident_and_head_count_change": COMMON | {"changed_to_adjust", "adjust_to_merge"},
    "bookings_sent_back_and_changes": COMMON | {
        "rejected_to_rebook", "unchanged_to_merge", "event_to_change", "change_to_decision", "change_refused_to_service",
        "approved_to_rebook", "rebook_to_archive", "change_archived_to_service"},
}
CHANGE_APPROVED = {"change_decision": "同意变更", "change_fee": 0, "change_note": "门票差价由旅行社承担",
                   "change_fee_payer": "旅行社", "change_bookings": [], "change_from": "2026-12-12"}


# ---- the diagram and the flows an instance took --------------------------------------------

def diagram() -> tuple[dict[str, tuple[str, str]], set[str], set[str]]:
    root = etree.parse(str(BPMN_FILE)).getroot()
    process = root.find("bpmn:process", NS)
    flows = {f.get("id"): (f.get("sourceRef"), f.get("targetRef")) for f in process.iterfind("bpmn:sequenceFlow", NS)}
    nodes = {el.get("id") for el in process if el.get("id") and etree.QName(el).localname not in
             ("sequenceFlow", "laneSet", "documentation")}
    boundaries = {el.get("id") for el in process.iterfind("bpmn:boundaryEvent", NS)}
    return flows, nodes, boundaries


# ---- walking a tour ----------------------------------------------------------------------------

class Tour:
    def __init__(self, rt, starter="sales1"):
        self.rt = rt
        self.id = rt.start("tour_operation", actor=starter)

    def open_tasks(self) -> dict[str, dict]:
        return {t["task"]: t for t in self.rt.tasks(instance_id=self.id)}

    def do(self, task: str, user: str, **data):
        open_tasks = self.open_tasks()
        assert task in open_tasks, f"{task} is not open; open: {sorted(open_tasks)}"
        return self.rt.complete(open_tasks[task]["id"], user, data)

    def show(self) -> dict:
        return self.rt.show(self.id)

    @property
    def data(self) -> dict:
        return self.show()["data"]

    def events(self, kind: str) -> list[dict]:
        return [e for e in self.rt.events(self.id) if e["kind"] == kind]


def holdings(rt, instance_id: int, status: str = "held") -> list[tuple[str, str, int]]:
    with rt.db.read() as session:
        rows = session.execute(select(Resource.code, ResourceBooking.on_date, ResourceBooking.units)
                               .join(Resource, Resource.id == ResourceBooking.resource_id)
                               .where(ResourceBooking.instance_id == instance_id, ResourceBooking.status == status)
                               .order_by(Resource.code, ResourceBooking.on_date)).all()
    return [(code, d.isoformat(), units) for code, d, units in rows]


def never_overbooked(rt) -> None:
    with rt.db.read() as session:
        rows = session.execute(select(Resource.code, Resource.capacity, ResourceBooking.on_date,
                                      func.sum(ResourceBooking.units))
                               .join(Resource, Resource.id == ResourceBooking.resource_id)
                               .where(ResourceBooking.status == "held")
                               .group_by(Resource.code, Resource.capacity, ResourceBooking.on_date)).all()
    for code, capacity, on_date, units in rows:
        assert units <= capacity, f"{code} overbooked on {on_date}: {units} > {capacity}"


def archives(rt, kind: str = "tour") -> list[ArchiveRecord]:
    with rt.db.read() as session:
        return list(session.execute(select(ArchiveRecord).where(ArchiveRecord.kind == kind)
                                    .order_by(ArchiveRecord.id)).scalars())


def close_tour(tour: Tour, satisfaction="满意"):
    tour.do("see_off", "guide1", **{**SEE_OFF, "opinion_satisfaction": satisfaction})
    assert set(tour.open_tasks()) == {"summary_sales", "summary_operator", "summary_guide"}
    tour.do("summary_sales", "sales1", sales_summary="报价沟通及时，组团社满意")
    tour.do("summary_operator", "operator1", operator_summary="预订顺利，下次提前锁定餐厅")
    tour.do("summary_guide", "guide1", guide_summary="游客对讲解满意，早餐需改进")


def walk_negotiated_with_complaint_and_change(rt) -> Tour:
    """Quote renegotiated once; in the tour a complaint (starts P6, tour goes on) and a change."""
    tour = Tour(rt)
    tour.do("take_inquiry", "sales1", **INQUIRY)
    assert set(tour.open_tasks()) == {"make_quote"}
    first = tour.data["quote"]
    assert first["total"] == 40840.0 and tour.data["quoted_total"] == 40840.0
    tour.do("make_quote", "operator1", quoted_total=40000, itinerary_overview="泰山、三孔，三天两晚",
            quote_note="企业团优惠")
    tour.do("confirm_team", "sales1", **CONFIRM, group_confirmed=False)
    assert set(tour.open_tasks()) == {"negotiate_changes"}
    tour.do("negotiate_changes", "sales1", change_request="增加趵突泉，人数不变", sights=["SIGHT-TSQ", "SIGHT-SK", "SIGHT-BTQ"])
    second = tour.data["quote"]
    assert second["total"] == 40840.0 + 40 * 20, "the re-quote must price the added sight"
    tour.do("make_quote", "operator1", quoted_total=41600, itinerary_overview="泰山、三孔、趵突泉，三天两晚")
    tour.do("confirm_team", "sales1", **CONFIRM, group_confirmed=True)
    assert set(tour.open_tasks()) == {"approve_bookings"}
    tour.do("approve_bookings", "operator1", bookings_checked=True, approval_decision="审定通过", approval_note="与商定标准一致")
    tour.do("dispatch_plan", "operator1", **DISPATCH)
    assert tour.open_tasks()["prepare_tour"]["assignee"] == "guide1"
    tour.do("prepare_tour", "guide1", **PREPARE, confirmed_head_count=20)
    assert set(tour.open_tasks()) == {"in_tour_service"}
    tour.do("in_tour_service", "guide1", **COMPLAINT)
    assert set(tour.open_tasks()) == {"in_tour_service"}, "a complaint must not stop the tour"
    tour.do("in_tour_service", "guide1", **CHANGE)
    tour.do("handle_change", "operator1", **CHANGE_APPROVED)  # a museum for a lake: nothing to re-book
    tour.do("in_tour_service", "guide1", **FINISH)
    close_tour(tour)
    return tour


def walk_capacity_incident_and_head_count_change(rt) -> Tour:
    """An economy group of 60 does not fit the economy hotel: incident, resolved with a bigger hotel;
    the leader then confirms 40 guests and the bookings shrink."""
    tour = Tour(rt, starter="sales1")
    tour.do("take_inquiry", "sales1", **{**INQUIRY, "head_count": 60, "days": 2, "reception_standard": "经济",
                                        "transport": "自备", "hui_guests": 0, "single_rooms": 0,
                                        "sights": ["SIGHT-TSQ"],
                                        "start_date": "2026-12-20"})
    tour.do("make_quote", "operator1", quoted_total=tour.data["quoted_total"], itinerary_overview="泰山两日")
    tour.do("confirm_team", "sales1", **CONFIRM, group_confirmed=True)
    shown = tour.show()
    assert shown["status"] == "error" and "HOTEL-QF-ECO" in shown["error"] and "容量不足" in shown["error"]
    [incident] = tour.events("incident_raised")
    assert (incident["payload"]["task"], incident["payload"]["business"], incident["payload"]["lane"]) == (
        "book_rooms", True, "operator")
    assert not tour.events("retry_scheduled"), "a business error is not retried"
    assert ("HOTEL-QF-ECO", "2026-12-20", 30) not in holdings(rt, tour.id)
    with pytest.raises(NotAllowed):
        rt.resolve_incident(tour.id, "auditor1", "换酒店", {"hotel_code": "HOTEL-TA-STD"})
    rt.resolve_incident(tour.id, "operator1", "曲阜经济型酒店满房，改住泰安舒适型酒店", {"hotel_code": "HOTEL-TA-STD"})
    assert tour.show()["status"] == "running"
    assert set(tour.open_tasks()) == {"approve_bookings"}
    assert holdings(rt, tour.id) == [
        ("COACH-53", "2026-12-20", 2), ("COACH-53", "2026-12-21", 2), ("GUIDE-POOL", "2026-12-20", 1),
        ("GUIDE-POOL", "2026-12-21", 1), ("HOTEL-TA-STD", "2026-12-20", 30), ("REST-TA", "2026-12-20", 60),
        ("REST-TA", "2026-12-21", 60)]
    tour.do("approve_bookings", "operator1", bookings_checked=True, approval_decision="审定通过")
    tour.do("dispatch_plan", "operator1", **DISPATCH)
    tour.do("prepare_tour", "guide1", **PREPARE, confirmed_head_count=40)
    adjustment = tour.data["booking_adjustment"]
    assert adjustment["rebooked"] == ["room", "meal", "vehicle"] and adjustment["head_count"] == 40
    assert holdings(rt, tour.id) == [
        ("COACH-53", "2026-12-20", 1), ("COACH-53", "2026-12-21", 1), ("GUIDE-POOL", "2026-12-20", 1),
        ("GUIDE-POOL", "2026-12-21", 1), ("HOTEL-TA-STD", "2026-12-20", 20), ("REST-TA", "2026-12-20", 40),
        ("REST-TA", "2026-12-21", 40)]
    assert len(holdings(rt, tour.id, "released")) == 5
    tour.do("in_tour_service", "guide1", **FINISH)
    close_tour(tour, satisfaction="非常满意")
    return tour


def walk_bookings_sent_back_and_changes(rt) -> Tour:
    """The operator's approval sends the bookings back (a 53-seat coach for the luggage): every kind is
    booked again and the earlier holds released; then approved. In the tour one change is refused and
    one approved: the second night moves to the Qufu hotel, re-booked from that day and archived."""
    tour = Tour(rt)
    tour.do("take_inquiry", "sales1", **{**INQUIRY, "start_date": "2027-01-08"})
    tour.do("make_quote", "operator1", quoted_total=tour.data["quoted_total"], itinerary_overview="泰山、三孔")
    tour.do("confirm_team", "sales1", **CONFIRM, group_confirmed=True)
    first_round = holdings(rt, tour.id)
    assert ("COACH-33", "2027-01-08", 1) in first_round and len(first_round) == 16
    tour.do("approve_bookings", "operator1", bookings_checked=False, approval_decision="退回重订",
            rebook_remarks="20人带大件行李，改订53座大巴", vehicle_code="COACH-53")
    assert set(tour.open_tasks()) == {"approve_bookings"}, "sent back: booked again, approved again"
    assert tour.data["bookings_sent_back"] == 1
    second_round = holdings(rt, tour.id)
    assert [row for row in second_round if row[0].startswith("COACH")] == [
        ("COACH-53", "2027-01-08", 1), ("COACH-53", "2027-01-09", 1), ("COACH-53", "2027-01-10", 1)]
    assert [row for row in second_round if not row[0].startswith("COACH")] == [
        row for row in first_round if not row[0].startswith("COACH")]
    assert sorted(holdings(rt, tour.id, "released")) == sorted(first_round), "each kind's first round released"
    tour.do("approve_bookings", "operator1", bookings_checked=True, approval_decision="审定通过", approval_note="已改53座大巴，与商定标准一致")
    tour.do("dispatch_plan", "operator1", **DISPATCH)
    tour.do("prepare_tour", "guide1", **PREPARE, confirmed_head_count=20)
    tour.do("in_tour_service", "guide1", **{**CHANGE, "change_request": "第三天加游千佛山"})
    tour.do("handle_change", "operator1", change_decision="不同意变更", change_fee=0, change_note="时间不够，维持原行程")
    assert set(tour.open_tasks()) == {"in_tour_service"}
    assert [r for r in archives(rt, "tour_change") if r.instance_id == tour.id] == [], "a refused change is not filed"
    tour.do("in_tour_service", "guide1", **{**CHANGE, "service_log": "泰安酒店停水",
                                            "change_request": "第二晚改住曲阜"})
    tour.do("handle_change", "operator1", change_decision="同意变更", change_fee=600, change_fee_payer="旅行社",
            change_note="泰安酒店停水，第二晚改住曲阜阙里宾舍", change_bookings=["定房"], change_from="2027-01-09",
            change_hotel_code="HOTEL-QF-ECO")
    assert set(tour.open_tasks()) == {"in_tour_service"}
    hotels = [row for row in holdings(rt, tour.id) if row[0].startswith("HOTEL")]
    assert hotels == [("HOTEL-QF-ECO", "2027-01-09", 11), ("HOTEL-TA-STD", "2027-01-08", 11)]
    assert ("HOTEL-TA-STD", "2027-01-09", 11) in holdings(rt, tour.id, "released")
    tour.do("in_tour_service", "guide1", **FINISH)
    close_tour(tour)
    return tour


SCENARIOS = {"negotiated_with_complaint_and_change": walk_negotiated_with_complaint_and_change,
             "capacity_incident_and_head_count_change": walk_capacity_incident_and_head_count_change,
             "bookings_sent_back_and_changes": walk_bookings_sent_back_and_changes}
