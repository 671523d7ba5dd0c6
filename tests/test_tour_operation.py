"""P8 tour_operation (旅游业务操作流程, the ten steps): every path of the diagram, walked the way
the front desk, the operator and the guide would.

Each scenario asserts the exact set of sequence flows it took, read back from the instance's
persisted task tree (cross-checked against the audit events);
`test_the_scenarios_take_every_sequence_flow_of_the_diagram` compares the union with the file.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select

from engine.clock import frozen_at
from engine.config import DEFAULT_PROCESSES_DIR
from engine.errors import FormInvalid, NotAllowed
from engine.run.handlers import BusinessError, HandlerContext, get_handler, handler_writes
from engine.store.models import ProcessInstance
from handlers.domain.models import ArchiveRecord, Resource, ResourceBooking
from tests.support.world import deploy

pytestmark = pytest.mark.both_databases

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
          "transport_to_join", "join_to_approve", "approve_to_dispatch", "dispatch_to_prepare", "prepare_to_check",
          "merge_to_in_tour", "in_tour_merge_to_service", "service_to_event", "event_to_see_off",
          "see_off_to_split", "split_to_sales_summary", "split_to_operator_summary", "split_to_guide_summary",
          "sales_summary_to_join", "operator_summary_to_join", "guide_summary_to_join", "join_to_archive",
          "archive_to_finished"}
EXPECTED = {
    "negotiated_with_complaint_and_change": COMMON | {
        "unconfirmed_to_negotiate", "negotiate_to_compute", "unchanged_to_merge", "event_to_complaint",
        "complaint_to_service", "event_to_change", "change_to_service"},
    "capacity_incident_and_head_count_change": COMMON | {"changed_to_adjust", "adjust_to_merge"},
}


# ---- the diagram and the flows an instance took --------------------------------------------

def diagram() -> tuple[dict[str, tuple[str, str]], set[str], set[str]]:
    root = etree.parse(str(BPMN_FILE)).getroot()
    process = root.find("bpmn:process", NS)
    flows = {f.get("id"): (f.get("sourceRef"), f.get("targetRef")) for f in process.iterfind("bpmn:sequenceFlow", NS)}
    nodes = {el.get("id") for el in process if el.get("id") and etree.QName(el).localname not in
             ("sequenceFlow", "laneSet", "documentation")}
    boundaries = {el.get("id") for el in process.iterfind("bpmn:boundaryEvent", NS)}
    return flows, nodes, boundaries


REACHED = TaskState.COMPLETED | TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR


def taken_flows(rt, instance_id: int) -> set[str]:
    """parent -> child pairs of reached tasks in the persisted task tree, mapped to flow ids; every
    step the audit log says ran (completed task, handler call) must be the target of a taken flow."""
    flows, nodes, boundaries = diagram()
    joins = {el.get("id") for el in etree.parse(str(BPMN_FILE)).getroot().iterfind(".//bpmn:parallelGateway", NS)
             if sum(1 for ends in flows.values() if ends[1] == el.get("id")) > 1}
    by_ends = {ends: flow_id for flow_id, ends in flows.items()}
    assert len(by_ends) == len(flows), "two flows with the same ends cannot be told apart"
    with rt.db.read() as session:
        instance = session.get(ProcessInstance, instance_id)
        workflow = rt.codec.loads(instance.serialized, rt.deployed(session, instance.deployment_id).model)
    # A parallel join gets one task per arriving branch; all but the last branch's are cancelled
    # when the join fires, so a cancelled join task counts as reached once its join completed.
    joined = {t.task_spec.bpmn_id for t in workflow.tasks.values()
              if t.task_spec.bpmn_id in joins and t.has_state(TaskState.COMPLETED)}
    taken = set()
    for task in workflow.tasks.values():
        target = task.task_spec.bpmn_id
        arrived = task.has_state(REACHED) or (target in joined and task.has_state(TaskState.CANCELLED))
        if not arrived or target not in nodes or target in boundaries:
            continue
        parent = task.parent
        while parent is not None and parent.task_spec.bpmn_id not in nodes:
            parent = parent.parent
        if parent is None or not parent.has_state(TaskState.COMPLETED):
            continue
        ends = (parent.task_spec.bpmn_id, target)
        assert ends in by_ends, f"the task tree goes {ends}, which is no sequence flow"
        taken.add(by_ends[ends])
    events = rt.events(instance_id)
    ran = {e["payload"]["task"] for e in events if e["kind"] in ("task_completed", "handler_called")}
    targets = {flows[f][1] for f in taken}
    assert ran <= targets, f"audit says {sorted(ran - targets)} ran unreached"
    return taken


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


@pytest.fixture
def rt(runtime):
    deploy(runtime, DEFAULT_PROCESSES_DIR / "complaint_handling.bpmn")
    if (DEFAULT_PROCESSES_DIR / "followup_call.bpmn").exists():
        deploy(runtime, DEFAULT_PROCESSES_DIR / "followup_call.bpmn")
    deploy(runtime, BPMN_FILE)
    return runtime


def _held(rt, instance_id: int, status: str = "held") -> list[tuple[str, str, int]]:
    with rt.db.read() as session:
        rows = session.execute(select(Resource.code, ResourceBooking.on_date, ResourceBooking.units)
                               .join(Resource, Resource.id == ResourceBooking.resource_id)
                               .where(ResourceBooking.instance_id == instance_id, ResourceBooking.status == status)
                               .order_by(Resource.code, ResourceBooking.on_date)).all()
    return [(code, d.isoformat(), units) for code, d, units in rows]


def _never_overbooked(rt) -> None:
    with rt.db.read() as session:
        rows = session.execute(select(Resource.code, Resource.capacity, ResourceBooking.on_date,
                                      func.sum(ResourceBooking.units))
                               .join(Resource, Resource.id == ResourceBooking.resource_id)
                               .where(ResourceBooking.status == "held")
                               .group_by(Resource.code, Resource.capacity, ResourceBooking.on_date)).all()
    for code, capacity, on_date, units in rows:
        assert units <= capacity, f"{code} overbooked on {on_date}: {units} > {capacity}"


def _archives(rt) -> list[ArchiveRecord]:
    with rt.db.read() as session:
        return list(session.execute(select(ArchiveRecord).where(ArchiveRecord.kind == "tour")).scalars())


def _close_tour(tour: Tour, satisfaction="满意"):
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
    tour.do("approve_bookings", "operator1", bookings_checked=True, approval_note="与商定标准一致")
    tour.do("dispatch_plan", "operator1", **DISPATCH)
    assert tour.open_tasks()["prepare_tour"]["assignee"] == "guide1"
    tour.do("prepare_tour", "guide1", **PREPARE, confirmed_head_count=20)
    assert set(tour.open_tasks()) == {"in_tour_service"}
    tour.do("in_tour_service", "guide1", **COMPLAINT)
    assert set(tour.open_tasks()) == {"in_tour_service"}, "a complaint must not stop the tour"
    tour.do("in_tour_service", "guide1", **CHANGE)
    tour.do("handle_change", "operator1", change_decision="同意变更", change_fee=0, change_note="门票差价由旅行社承担")
    tour.do("in_tour_service", "guide1", **FINISH)
    _close_tour(tour)
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
    assert ("HOTEL-QF-ECO", "2026-12-20", 30) not in _held(rt, tour.id)
    with pytest.raises(NotAllowed):
        rt.resolve_incident(tour.id, "auditor1", "换酒店", {"hotel_code": "HOTEL-TA-STD"})
    rt.resolve_incident(tour.id, "operator1", "曲阜经济型酒店满房，改住泰安舒适型酒店", {"hotel_code": "HOTEL-TA-STD"})
    assert tour.show()["status"] == "running"
    assert set(tour.open_tasks()) == {"approve_bookings"}
    assert _held(rt, tour.id) == [
        ("COACH-53", "2026-12-20", 2), ("COACH-53", "2026-12-21", 2), ("GUIDE-POOL", "2026-12-20", 1),
        ("GUIDE-POOL", "2026-12-21", 1), ("HOTEL-TA-STD", "2026-12-20", 30), ("REST-TA", "2026-12-20", 60),
        ("REST-TA", "2026-12-21", 60)]
    tour.do("approve_bookings", "operator1", bookings_checked=True)
    tour.do("dispatch_plan", "operator1", **DISPATCH)
    tour.do("prepare_tour", "guide1", **PREPARE, confirmed_head_count=40)
    adjustment = tour.data["booking_adjustment"]
    assert adjustment["rebooked"] == ["room", "meal", "vehicle"] and adjustment["head_count"] == 40
    assert _held(rt, tour.id) == [
        ("COACH-53", "2026-12-20", 1), ("COACH-53", "2026-12-21", 1), ("GUIDE-POOL", "2026-12-20", 1),
        ("GUIDE-POOL", "2026-12-21", 1), ("HOTEL-TA-STD", "2026-12-20", 20), ("REST-TA", "2026-12-20", 40),
        ("REST-TA", "2026-12-21", 40)]
    assert len(_held(rt, tour.id, "released")) == 5
    tour.do("in_tour_service", "guide1", **FINISH)
    _close_tour(tour, satisfaction="非常满意")
    return tour


SCENARIOS = {"negotiated_with_complaint_and_change": walk_negotiated_with_complaint_and_change,
             "capacity_incident_and_head_count_change": walk_capacity_incident_and_head_count_change}


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
    assert _held(rt, tour.id) == [
        ("COACH-33", "2026-12-10", 1), ("COACH-33", "2026-12-11", 1), ("COACH-33", "2026-12-12", 1),
        ("GUIDE-POOL", "2026-12-10", 1), ("GUIDE-POOL", "2026-12-11", 1), ("GUIDE-POOL", "2026-12-12", 1),
        ("HOTEL-TA-STD", "2026-12-10", 11), ("HOTEL-TA-STD", "2026-12-11", 11),
        ("REST-HALAL", "2026-12-10", 2), ("REST-HALAL", "2026-12-11", 2), ("REST-HALAL", "2026-12-12", 2),
        ("REST-TA", "2026-12-10", 18), ("REST-TA", "2026-12-11", 18), ("REST-TA", "2026-12-12", 18),
        ("TRAIN-JN-SH", "2026-12-10", 20), ("TRAIN-JN-SH", "2026-12-12", 20)]
    # archive: once, with the documents' key facts; nothing released
    [record] = _archives(rt)
    assert (record.instance_id, record.ref) == (tour.id, tour_id)
    assert record.payload["quoted_total"] == 41600 and record.payload["opinion_form_signed"] is True
    assert record.payload["guide_user"] == "guide1" and len(record.payload["bookings"]) == 16
    assert (record.payload["complaints_raised"], record.payload["changes_handled"]) == (1, 1)
    assert not _held(rt, tour.id, "released")
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
    kinds = [e["kind"] for e in rt.events(tour.id)]
    assert kinds.index("message_sent", kinds.index("task_completed")) < len(kinds)
    if (DEFAULT_PROCESSES_DIR / "followup_call.bpmn").exists():
        followup = rt.show(finished["delivered_to"])
        assert (followup["process"], followup["business_key"]) == ("followup_call", tour_id)
        assert followup["data"]["tour_id"] == tour_id and followup["data"]["branch_code"] == "DZ01"
    else:
        assert finished["delivered_to"] is None
    _never_overbooked(rt)


def test_capacity_exhaustion_raises_an_incident_resolved_with_a_bigger_hotel_and_head_count_changes_rebook(rt):
    with frozen_at(T0):
        tour = walk_capacity_incident_and_head_count_change(rt)
    assert taken_flows(rt, tour.id) == EXPECTED["capacity_incident_and_head_count_change"]
    assert tour.show()["status"] == "completed"
    [resolved] = tour.events("incident_resolved")
    assert resolved["payload"]["data"] == {"hotel_code": "HOTEL-TA-STD"}
    [record] = _archives(rt)
    assert record.payload["confirmed_head_count"] == 40 and len(record.payload["bookings"]) == 7
    _never_overbooked(rt)


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
    assert ("HOTEL-TA-STD", "2026-12-10", 30) in _held(rt, first.id)
    assert second.show()["status"] == "error" and "剩余 10，需要 30" in second.show()["error"]
    # the smaller economy hotel does not fit either: a new incident, still nothing overbooked
    rt.resolve_incident(second.id, "operator1", "试曲阜经济型酒店", {"hotel_code": "HOTEL-QF-ECO"})
    assert second.show()["status"] == "error" and "HOTEL-QF-ECO" in second.show()["error"]
    assert len(second.events("incident_raised")) == 2
    assert not [row for row in _held(rt, second.id) if row[0].startswith("HOTEL")]
    _never_overbooked(rt)


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
    tour.do("approve_bookings", "operator1", bookings_checked=True)
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
        tour.do("approve_bookings", "operator1", bookings_checked=False)
    assert caught.value.field == "bookings_checked"
    tour.do("approve_bookings", "operator1", bookings_checked=True)
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
    assert _held(rt, 901) == []
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
    held = dict(((code, day), units) for code, day, units in _held(rt, 900))
    assert held[("HOTEL-TA-STD", "2026-12-10")] == 21 and held[("COACH-53", "2026-12-10")] == 1
    assert held[("REST-TA", "2026-12-10")] == 38 and held[("TRAIN-JN-SH", "2026-12-12")] == 40
    assert held[("GUIDE-POOL", "2026-12-11")] == 1
    assert len(_archives(rt)) == 1
