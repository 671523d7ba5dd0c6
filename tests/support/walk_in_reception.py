"""The walk-in reception process (walk_in_reception.bpmn): the forms of each step, the sequence
flows an instance took (from its persisted task tree), a visit walked through it, and the scenarios
whose flows together cover the diagram."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lxml import etree
from sqlalchemy import select

from engine.clock import frozen_at
from engine.config import DEFAULT_PROCESSES_DIR
from handlers.domain.models import ContactRecord
from tests.support.flows import taken_flows  # noqa: F401 (the tests read it from here)

BPMN_FILE = DEFAULT_PROCESSES_DIR / "walk_in_reception.bpmn"
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
PROMISED_AT = "2026-11-21T10:00:00+08:00"      # T0 + 24 h

GREET = {"visitor_count": 2, "greeted_warmly": True, "materials_ready": True, "offered_help": True}
SEAT = {"chair_pulled_out": True, "seated_after_customer": True, "water_served": True}
TALK = {
    "customer_name": "张建国",
    "contact_phone": "13801234567",
    "request_type": "业务办理",
    "business_line": "邮轮",
    "matter": "想给父母报名12月的日本邮轮",
    "real_need": "12月20日两位老人乘邮轮去日本，需要靠近电梯的舱房",
    "attentive_listening": True,
}
COMPLAINT_TALK = {
    "customer_name": "赵雪",
    "contact_phone": "13655556666",
    "request_type": "投诉",
    "business_line": "旅游",
    "matter": "黄山团导游擅自增加两个购物点，每个停留一个多小时",
    "time_class": "旅游后",
    "kind": "导游服务",
    "customer_request": "退还部分团费，并处理该导游",
    "tour_id": "HS-2026-1205",
    "attentive_listening": True,
}
REVIEW_OK = {"records_checked": True, "facts_uncertain": False}
SOLUTION = {"service_item": "报名预订", "solution": "推荐歌诗达邮轮 CR-JP-6 12月20日班期，阳台舱靠近电梯",
            "recommended_products": "CR-JP-6"}
RESOLVE = {"resolution": "已为两位老人预订阳台舱，签订合同并收取全款", "booking_code": "BK20260002",
           "contract_signed": True, "customer_satisfied": True}
SUPERVISOR = {"supervisor_solution": "申请老年客户专项优惠，价格由主管审批后答复", "promised_at": PROMISED_AT,
              "customer_informed": True}
WRAP = {"documents_handed_over": True, "gift_reminder": "已提醒客户带好", "seen_to_door": True,
        "special_weather": True, "taxi_help": "已帮客户叫出租车", "visit_summary": "邮轮报名，已办结",
        "follow_up_needed": False}
FAIR_WEATHER_WRAP = {**{k: v for k, v in WRAP.items() if k != "taxi_help"}, "special_weather": False,
                     "gift_reminder": "客户无随身赠品"}

# The flows every non-complaint visit takes, then what each path adds.
COMMON = {"arrives_to_greet", "greet_to_seat", "seat_to_talk", "talk_to_complaint_check"}
LOOKUP = COMMON | {"statement_to_lookup", "lookup_to_review", "review_to_uncertain_check", "matter_to_handle",
                   "handle_to_acceptance"}
ARCHIVE = {"wrap_merge_to_wrap_up", "wrap_up_to_promise_check", "no_follow_up", "archive_merge_to_archive", "archive_to_closed"}
EXPECTED = {
    "accepted_at_once": LOOKUP | ARCHIVE | {"certain_to_matter", "accepted_to_resolve", "resolve_to_wrap_up",
                                            "no_promise_to_archive"},
    "uncertain_facts_then_optimised": LOOKUP | ARCHIVE | {
        "uncertain_to_specialist", "specialist_to_matter", "rejected_to_optimise", "accepted_to_resolve",
        "resolve_to_wrap_up", "no_promise_to_archive"},
    "complaint_reported_to_qc": COMMON | ARCHIVE | {"complaint_to_report", "report_to_throw", "throw_to_wrap_up",
                                                    "no_promise_to_archive"},
    "promise_kept": LOOKUP | ARCHIVE | {"certain_to_matter", "refused_to_supervisor", "supervisor_to_wrap_up",
                                        "promised_to_fulfil", "fulfil_to_archive"},
    "promise_breached": LOOKUP | ARCHIVE | {"certain_to_matter", "refused_to_supervisor", "supervisor_to_wrap_up",
                                            "promised_to_fulfil", "fulfil_to_archive", "overdue_to_chase",
                                            "chase_to_closed"},
}
EXPECTED["followed_up"] = EXPECTED["accepted_at_once"] - {"no_follow_up"} | {
    "follow_up_to_request", "request_to_follow_up_thrown", "follow_up_thrown_to_next"}


# ---- the diagram and the flows an instance took --------------------------------------------

def diagram() -> tuple[dict[str, tuple[str, str]], set[str], set[str]]:
    """(flow id -> (source, target), flow node ids, boundary event ids) of the BPMN file."""
    root = etree.parse(str(BPMN_FILE)).getroot()
    process = root.find("bpmn:process", NS)
    flows = {f.get("id"): (f.get("sourceRef"), f.get("targetRef"))
             for f in process.iterfind("bpmn:sequenceFlow", NS)}
    nodes = {el.get("id") for el in process if el.get("id") and etree.QName(el).localname not in
             ("sequenceFlow", "laneSet", "documentation")}
    boundaries = {el.get("id") for el in process.iterfind("bpmn:boundaryEvent", NS)}
    return flows, nodes, boundaries


# ---- walking a visit -------------------------------------------------------------------------

class Visit:
    """One walk-in instance and the steps staff take on it, at moments of the frozen clock."""

    def __init__(self, runtime, starter="receptionist1", at=T0):
        self.rt = runtime
        with frozen_at(at):
            self.id = runtime.start("walk_in_reception", actor=starter)

    def open_tasks(self) -> dict[str, dict]:
        return {t["task"]: t for t in self.rt.tasks(instance_id=self.id)}

    def do(self, task: str, user: str, data: dict, at: datetime = T0):
        open_tasks = self.open_tasks()
        assert task in open_tasks, f"{task} is not open; open: {sorted(open_tasks)}"
        with frozen_at(at):
            return self.rt.complete(open_tasks[task]["id"], user, data)

    def show(self) -> dict:
        return self.rt.show(self.id)

    def events(self, kind: str) -> list[dict]:
        return [e for e in self.rt.events(self.id) if e["kind"] == kind]

    def completed_steps(self) -> list[str]:
        return [e["payload"]["task"] for e in self.events("task_completed")]

    def records(self) -> list[ContactRecord]:
        with self.rt.db.read() as session:
            return list(session.execute(select(ContactRecord).where(ContactRecord.instance_id == self.id)).scalars())

    def welcome(self, talk: dict = TALK, minutes: int = 0):
        at = T0 + timedelta(minutes=minutes)
        self.do("greet_customer", "receptionist1", GREET, at)
        self.do("seat_customer", "receptionist1", SEAT, at)
        self.do("talk_with_customer", "receptionist1", talk, at)


def accepted_at_once(rt) -> Visit:
    visit = Visit(rt)
    visit.welcome()
    visit.do("review_records", "receptionist1", REVIEW_OK)
    visit.do("handle_matter", "receptionist1", {**SOLUTION, "customer_response": "接受"})
    visit.do("resolve_problem", "receptionist1", RESOLVE)
    visit.do("wrap_up_visit", "receptionist1", WRAP, T0 + timedelta(minutes=40))
    return visit


def uncertain_facts_then_optimised(rt) -> Visit:
    visit = Visit(rt)
    visit.welcome()
    visit.do("review_records", "receptionist1", {"records_checked": True, "facts_uncertain": True,
                                                  "uncertain_question": "12月20日班期是否还有靠近电梯的阳台舱？"})
    visit.do("consult_specialist", "sales1", {"specialist_answer": "还剩2间阳台舱，8层靠电梯",
                                              "product_code": "CR-JP-6", "facts_confirmed": True})
    visit.do("handle_matter", "receptionist1", {**SOLUTION, "customer_response": "不接受",
                                                "rejection_reason": "阳台舱超出预算"})
    visit.do("handle_matter", "receptionist1", {**SOLUTION, "solution": "改订海景舱，同一楼层靠电梯",
                                                "customer_response": "接受"})
    visit.do("resolve_problem", "receptionist1", RESOLVE)
    visit.do("wrap_up_visit", "receptionist1", FAIR_WEATHER_WRAP)
    return visit


def complaint_reported_to_qc(rt) -> Visit:
    visit = Visit(rt)
    visit.welcome(COMPLAINT_TALK)
    visit.do("wrap_up_visit", "receptionist1", {**WRAP, "visit_summary": "客户投诉导游增加购物点，已报质检培训部"},
             T0 + timedelta(minutes=20))
    return visit


def to_supervisor(rt) -> Visit:
    visit = Visit(rt)
    visit.welcome()
    visit.do("review_records", "receptionist1", REVIEW_OK)
    visit.do("handle_matter", "receptionist1", {**SOLUTION, "customer_response": "经努力仍不接受",
                                                "rejection_reason": "希望再优惠一千元"})
    visit.do("supervisor_assist", "supervisor1", SUPERVISOR, T0 + timedelta(minutes=30))
    visit.do("wrap_up_visit", "receptionist1", WRAP, T0 + timedelta(minutes=45))
    return visit


def promise_kept(rt) -> Visit:
    visit = to_supervisor(rt)
    visit.do("fulfil_promise", "receptionist1", {"promise_resolution": "优惠已批，客户确认报名",
                                                 "customer_notified": True}, T0 + timedelta(hours=20))
    return visit


def promise_breached(rt) -> Visit:
    visit = to_supervisor(rt)
    fired = rt.tick(T0 + timedelta(hours=25))
    assert [f["timer"] for f in fired if f["instance_id"] == visit.id] == ["promise_overdue"]
    visit.do("chase_overdue_promise", "supervisor1", {"chase_action": "督促当天答复，主管亲自致电客户致歉",
                                                      "customer_contacted": True}, T0 + timedelta(hours=26))
    visit.do("fulfil_promise", "receptionist1", {"promise_resolution": "优惠已批，客户确认报名",
                                                 "customer_notified": True}, T0 + timedelta(hours=27))
    return visit


def followed_up(rt) -> Visit:
    """Accepted at once, wrapped up with "需要后期跟进": the follow-up request is thrown (tests/test_follow_ups.py
    follows it into outbound_call)."""
    visit = Visit(rt)
    visit.welcome()
    visit.do("review_records", "receptionist1", REVIEW_OK)
    visit.do("handle_matter", "receptionist1", {**SOLUTION, "customer_response": "接受"})
    visit.do("resolve_problem", "receptionist1", RESOLVE)
    visit.do("wrap_up_visit", "receptionist1", {**WRAP, "follow_up_needed": True,
                                                "next_contact_at": "2026-11-26T15:00:00+08:00"}, T0 + timedelta(minutes=40))
    return visit


SCENARIOS = [accepted_at_once, uncertain_facts_then_optimised, complaint_reported_to_qc, promise_kept,
             promise_breached, followed_up]
