"""P4 walk_in_reception: every path of the diagram, walked the way a branch's front desk would.

Each scenario asserts the exact set of sequence flows it took, read back from the instance's
own task history (the persisted SpiffWorkflow task tree, cross-checked against the audit
events); `test_the_scenarios_take_every_sequence_flow_of_the_diagram` runs them all and
compares the union with the flows of the BPMN file.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from engine.clock import frozen_at
from engine.config import DEFAULT_PROCESSES_DIR
from engine.errors import FormInvalid, NotAllowed, TaskConflict
from engine.plugins.handlers import HandlerContext, get_handler, handler_writes
from engine.store.models import Job
from handlers.domain.models import ContactRecord
from handlers.reception import archive_walk_in_visit, lookup_customer_records, report_walk_in_complaint
from tests.support.walk_in_reception import (
    BPMN_FILE,
    COMPLAINT_TALK,
    EXPECTED,
    GREET,
    PROMISED_AT,
    RESOLVE,
    REVIEW_OK,
    SCENARIOS,
    SEAT,
    SOLUTION,
    SUPERVISOR,
    T0,
    TALK,
    WRAP,
    Visit,
    accepted_at_once,
    complaint_reported_to_qc,
    diagram,
    promise_breached,
    taken_flows,
    to_supervisor,
    uncertain_facts_then_optimised,
)
from tests.support.world import deploy


@pytest.fixture
def rt(runtime):
    deploy(runtime, DEFAULT_PROCESSES_DIR / "complaint_handling.bpmn")
    deploy(runtime, BPMN_FILE)
    return runtime


# ---- the paths ---------------------------------------------------------------------------------

def test_customer_accepts_the_solution_and_the_visit_is_archived_once(rt):
    visit = accepted_at_once(rt)
    assert visit.show()["status"] == "completed"
    assert taken_flows(rt, visit.id) == EXPECTED["accepted_at_once"]
    assert visit.completed_steps() == ["greet_customer", "seat_customer", "talk_with_customer", "review_records",
                                       "handle_matter", "resolve_problem", "wrap_up_visit"]
    data = visit.show()["data"]
    assert data["records"]["found"] is True and data["records"]["matched_by"] == "phone"
    assert [b["code"] for b in data["records"]["bookings"]] == ["BK20260001", "BK20260002"]
    assert {p["desk"] for p in data["records"]["products"]} == {"邮轮"}
    [record] = visit.records()
    assert (record.channel, record.outcome, record.request_type, record.desk, record.contact) == (
        "walk_in", "resolved", "业务办理", "邮轮", "13801234567")
    assert record.customer_id == data["records"]["customer"]["id"]
    assert (record.handled_by, record.summary) == ("receptionist1", "邮轮报名，已办结")
    assert record.details["visit_ref"] == f"WI-{visit.id}"
    assert record.details["etiquette"]["water_served"] is True
    assert record.details["etiquette"]["taxi_help"] == "已帮客户叫出租车"
    assert record.details["booking_code"] == "BK20260002"
    assert data["archive_result"] == {"contact_record_id": record.id, "outcome": "resolved",
                                      "visit_ref": f"WI-{visit.id}"}
    calls = [e["payload"]["handler"] for e in visit.events("handler_called")]
    assert calls == ["lookup_customer_records", "archive_walk_in_visit"]


def test_uncertain_facts_go_to_the_product_specialist_and_a_refused_solution_is_optimised(rt):
    visit = uncertain_facts_then_optimised(rt)
    assert visit.show()["status"] == "completed"
    assert taken_flows(rt, visit.id) == EXPECTED["uncertain_facts_then_optimised"]
    steps = visit.completed_steps()
    assert steps.count("handle_matter") == 2 and steps.count("consult_specialist") == 1
    consult = next(e for e in visit.events("task_completed") if e["payload"]["task"] == "consult_specialist")
    assert (consult["actor"], consult["payload"]["lane"]) == ("sales1", "sales")
    [record] = visit.records()
    assert record.outcome == "resolved"
    assert record.details["specialist_answer"] == "还剩2间阳台舱，8层靠电梯"
    assert record.details["rejection_reason"] == "阳台舱超出预算", "the refusal before the optimised offer is kept"
    assert record.details["solution"] == "改订海景舱，同一楼层靠电梯"
    assert record.details["etiquette"]["special_weather"] is False


def test_complaint_is_reported_to_qc_and_starts_complaint_handling_with_what_was_said(rt):
    visit = complaint_reported_to_qc(rt)
    assert taken_flows(rt, visit.id) == EXPECTED["complaint_reported_to_qc"]
    assert "review_records" not in visit.completed_steps(), "a complaint is not handled at the front desk"
    report = visit.show()["data"]["qc_report"]
    key = f"complaint-WI-{visit.id}"
    assert report["correlation_key"] == key and report["reported_to"] == "质检培训部"
    assert report["reported_at"] == "2026-11-20T10:00:00+08:00", "reported in the same step as the talk"
    [sent] = visit.events("message_sent")
    assert (sent["payload"]["name"], sent["payload"]["key"], sent["payload"]["started"]) == (
        "complaint_received", key, True)
    # the receiving side: a complaint_handling instance under that key, prefilled with what was said
    complaint = rt.show(sent["payload"]["delivered_to"])
    assert (complaint["process"], complaint["business_key"], complaint["status"]) == (
        "complaint_handling", key, "running")
    said = {k: complaint["data"][k] for k in ("customer_name", "contact_phone", "time_class", "kind",
                                              "description", "customer_request", "tour_id", "complaint_at")}
    assert said == {"customer_name": "赵雪", "contact_phone": "13655556666", "time_class": "旅游后",
                    "kind": "导游服务", "description": COMPLAINT_TALK["matter"],
                    "customer_request": "退还部分团费，并处理该导游", "tour_id": "HS-2026-1205",
                    "complaint_at": "2026-11-20T10:00:00+08:00"}
    assert "correlation_key" not in complaint["data"]
    received = next(e for e in rt.events(complaint["id"]) if e["kind"] == "message_received")
    assert received["payload"]["from_instance"] == visit.id
    [intake] = rt.tasks(instance_id=complaint["id"])
    assert (intake["task"], intake["lane"], intake["due_at"]) == ("receive_complaint", "staff", "2026-11-20T03:00:00Z")
    # the receptionist confirms the prefilled intake within the hour, answering its routing questions
    prefilled = {k: complaint["data"][k] for k in said}
    with frozen_at(T0 + timedelta(minutes=30)):
        rt.complete(intake["id"], "receptionist1",
                    {**prefilled, "escalated_to_authority": False, "involves_multiple_departments": False})
    assert [t["task"] for t in rt.tasks(instance_id=complaint["id"])] == ["investigate_facts"]
    # the visit itself: wrapped up and archived once, as escalated to QC
    assert visit.show()["status"] == "completed"
    [record] = visit.records()
    assert (record.request_type, record.outcome, record.desk) == ("投诉", "escalated", "旅游")
    assert record.details["escalated_to"] == "质检培训部"
    assert record.details["complaint"]["complaint_key"] == key
    assert record.details["complaint"]["kind"] == "导游服务"
    assert record.customer_id is not None, "赵雪 is a customer: the report links her"
    calls = [e["payload"]["handler"] for e in visit.events("handler_called")]
    assert calls == ["report_walk_in_complaint", "archive_walk_in_visit"]


def test_supervisor_promises_a_time_that_becomes_the_due_date_and_is_kept(rt):
    visit = to_supervisor(rt)
    tasks = visit.open_tasks()
    assert set(tasks) == {"fulfil_promise"}
    assert tasks["fulfil_promise"]["due_at"] == "2026-11-21T02:00:00Z", "promised_at is the task's due date"
    assert visit.records() == [], "the visit is archived when the promise is kept"
    assert rt.tick(T0 + timedelta(hours=23)) == []
    visit.do("fulfil_promise", "receptionist1", {"promise_resolution": "优惠已批，客户确认报名",
                                                 "customer_notified": True}, T0 + timedelta(hours=20))
    assert visit.show()["status"] == "completed"
    assert taken_flows(rt, visit.id) == EXPECTED["promise_kept"]
    assert visit.events("sla_breached") == []
    with rt.db.read() as session:
        jobs = session.execute(select(Job.state).where(Job.instance_id == visit.id)).scalars().all()
    assert jobs == ["cancelled"], "the promise timer is withdrawn once the problem is solved"
    [record] = visit.records()
    assert record.outcome == "promise_kept"
    assert (record.details["promised_at"], record.details["promise_breached"]) == (PROMISED_AT, False)
    assert record.details["supervisor_solution"] == SUPERVISOR["supervisor_solution"]


def test_a_broken_promise_is_breached_and_chased_by_the_supervisor(rt):
    visit = promise_breached(rt)
    assert visit.show()["status"] == "completed"
    assert taken_flows(rt, visit.id) == EXPECTED["promise_breached"]
    [breach] = visit.events("sla_breached")
    assert (breach["payload"]["task"], breach["payload"]["due_at"]) == ("fulfil_promise", "2026-11-21T02:00:00Z")
    chase = next(e for e in visit.events("task_completed") if e["payload"]["task"] == "chase_overdue_promise")
    assert (chase["actor"], chase["payload"]["lane"]) == ("supervisor1", "supervisor")
    [record] = visit.records()
    assert (record.outcome, record.details["promise_breached"]) == ("promise_late", True)
    assert rt.tick(T0 + timedelta(days=5)) == [], "the timer fires once"


def test_the_instance_ends_only_when_both_the_promise_and_its_chase_are_done(rt):
    visit = to_supervisor(rt)
    rt.tick(T0 + timedelta(hours=25))
    visit.do("fulfil_promise", "receptionist1", {"promise_resolution": "已解决", "customer_notified": True},
             T0 + timedelta(hours=26))
    assert len(visit.records()) == 1
    assert visit.show()["status"] == "running"
    assert set(visit.open_tasks()) == {"chase_overdue_promise"}
    visit.do("chase_overdue_promise", "supervisor1", {"chase_action": "复盘超时原因", "customer_contacted": True},
             T0 + timedelta(hours=27))
    assert visit.show()["status"] == "completed"
    assert len(visit.records()) == 1, "archived once"


def test_a_long_optimisation_loop_stays_on_one_visit(rt):
    visit = Visit(rt)
    visit.welcome()
    visit.do("review_records", "receptionist1", REVIEW_OK)
    for round_ in range(12):
        visit.do("handle_matter", "receptionist1", {**SOLUTION, "solution": f"方案{round_}",
                                                    "customer_response": "不接受", "rejection_reason": "再看看"})
    visit.do("handle_matter", "receptionist1", {**SOLUTION, "customer_response": "接受"})
    visit.do("resolve_problem", "receptionist1", RESOLVE)
    visit.do("wrap_up_visit", "receptionist1", WRAP)
    assert visit.show()["status"] == "completed"
    assert visit.completed_steps().count("handle_matter") == 13
    assert len(visit.records()) == 1


# ---- coverage: every sequence flow is taken by some scenario ------------------------------------

def test_the_scenarios_take_every_sequence_flow_of_the_diagram(rt):
    flows, _nodes, _boundaries = diagram()
    taken: dict[str, set[str]] = {}
    for scenario in SCENARIOS:
        visit = scenario(rt)
        taken[scenario.__name__] = taken_flows(rt, visit.id)
        assert taken[scenario.__name__] == EXPECTED[scenario.__name__], scenario.__name__
    walked = set().union(*taken.values())
    assert walked == set(flows), f"never taken: {sorted(set(flows) - walked)}"
    assert set().union(*EXPECTED.values()) == set(flows)


# ---- who may do what, and what the forms refuse -------------------------------------------------

def test_only_receptionists_start_a_visit_and_each_step_belongs_to_its_lane(rt):
    with pytest.raises(NotAllowed, match="does not hold lane 'receptionist'"):
        rt.start("walk_in_reception", actor="agent1")
    visit = Visit(rt)
    greet = visit.open_tasks()["greet_customer"]
    assert greet["lane"] == "receptionist"
    shown = rt.task(greet["id"])
    assert shown["documentation"].startswith("(1) 接待人员应态度热情、亲切\n(2) 接待人员应确保所需资料的齐备")
    assert shown["form"]["title"] == "主动问好"
    with pytest.raises(NotAllowed, match="does not hold lane 'receptionist'"):
        rt.complete(greet["id"], "sales1", GREET)
    visit.welcome()
    visit.do("review_records", "receptionist1", {**REVIEW_OK, "facts_uncertain": True,
                                                 "uncertain_question": "是否还有舱位？"})
    consult = visit.open_tasks()["consult_specialist"]
    with pytest.raises(NotAllowed, match="does not hold lane 'sales'"):
        rt.complete(consult["id"], "receptionist1", {"specialist_answer": "有", "facts_confirmed": True})
    visit.do("consult_specialist", "sales1", {"specialist_answer": "有", "facts_confirmed": True})
    visit.do("handle_matter", "receptionist1", {**SOLUTION, "customer_response": "经努力仍不接受",
                                                "rejection_reason": "价格"})
    assist = visit.open_tasks()["supervisor_assist"]
    with pytest.raises(NotAllowed, match="does not hold lane 'supervisor'"):
        rt.complete(assist["id"], "receptionist1", SUPERVISOR)
    assert [t["task"] for t in rt.tasks(user="qc1")] == []
    rt.complete(assist["id"], "supervisor1", SUPERVISOR)
    with pytest.raises(TaskConflict, match="already completed by supervisor1"):
        rt.complete(assist["id"], "supervisor1", SUPERVISOR)


@pytest.mark.parametrize("task, data, field", [
    ("talk_with_customer", {**TALK, "contact_phone": "打电话给我"}, "contact_phone"),
    ("talk_with_customer", {k: v for k, v in TALK.items() if k != "real_need"}, "real_need"),
    ("talk_with_customer", {k: v for k, v in COMPLAINT_TALK.items() if k != "kind"}, "kind"),
    ("talk_with_customer", {**COMPLAINT_TALK, "time_class": "出发当天"}, "time_class"),
    ("talk_with_customer", {**TALK, "request_type": "闲聊"}, "request_type"),
    ("talk_with_customer", {**TALK, "matter": "问"}, "matter"),
    ("talk_with_customer", {**TALK, "vip": True}, "vip"),
])
def test_bad_talk_data_is_refused_with_the_field_named(rt, task, data, field):
    visit = Visit(rt)
    visit.do("greet_customer", "receptionist1", GREET)
    visit.do("seat_customer", "receptionist1", SEAT)
    with pytest.raises(FormInvalid) as refused:
        visit.do(task, "receptionist1", data)
    assert refused.value.field == field
    assert visit.completed_steps() == ["greet_customer", "seat_customer"], "a refused form writes nothing"


def test_bad_data_in_the_later_forms_is_refused_with_the_field_named(rt):
    visit = Visit(rt)
    with pytest.raises(FormInvalid) as refused:
        visit.do("greet_customer", "receptionist1", {**GREET, "visitor_count": 0})
    assert refused.value.field == "visitor_count"
    visit.welcome()
    cases = [
        ("review_records", {"records_checked": True, "facts_uncertain": True}, "uncertain_question"),
        ("review_records", {"records_checked": True}, "facts_uncertain"),
    ]
    for task, data, field in cases:
        with pytest.raises(FormInvalid) as refused:
            visit.do(task, "receptionist1", data)
        assert refused.value.field == field, (task, data)
    visit.do("review_records", "receptionist1", {**REVIEW_OK, "facts_uncertain": True,
                                                 "uncertain_question": "签证要几天？"})
    with pytest.raises(FormInvalid) as refused:
        visit.do("consult_specialist", "sales1", {"specialist_answer": "5天", "facts_confirmed": True,
                                                  "product_code": "邮轮"})
    assert refused.value.field == "product_code"
    visit.do("consult_specialist", "sales1", {"specialist_answer": "5个工作日", "facts_confirmed": True})
    for data, field in [
        ({**SOLUTION, "customer_response": "不接受"}, "rejection_reason"),
        ({**SOLUTION, "customer_response": "考虑一下"}, "customer_response"),
        ({**SOLUTION, "customer_response": "接受", "recommended_products": "cr-jp-6"}, "recommended_products"),
    ]:
        with pytest.raises(FormInvalid) as refused:
            visit.do("handle_matter", "receptionist1", data)
        assert refused.value.field == field, data
    visit.do("handle_matter", "receptionist1", {**SOLUTION, "customer_response": "经努力仍不接受",
                                                "rejection_reason": "价格"})
    for data, field in [
        ({**SUPERVISOR, "promised_at": "明天上午"}, "promised_at"),
        ({**SUPERVISOR, "customer_informed": False}, "customer_informed"),
        ({k: v for k, v in SUPERVISOR.items() if k != "promised_at"}, "promised_at"),
    ]:
        with pytest.raises(FormInvalid) as refused:
            visit.do("supervisor_assist", "supervisor1", data)
        assert refused.value.field == field, data
    visit.do("supervisor_assist", "supervisor1", SUPERVISOR)
    for data, field in [
        ({k: v for k, v in WRAP.items() if k != "taxi_help"}, "taxi_help"),
        ({**WRAP, "gift_reminder": "忘了"}, "gift_reminder"),
        ({k: v for k, v in WRAP.items() if k != "seen_to_door"}, "seen_to_door"),
    ]:
        with pytest.raises(FormInvalid) as refused:
            visit.do("wrap_up_visit", "receptionist1", data)
        assert refused.value.field == field, data
    visit.do("wrap_up_visit", "receptionist1", WRAP)
    with pytest.raises(FormInvalid) as refused:
        visit.do("fulfil_promise", "receptionist1", {"promise_resolution": "已解决", "customer_notified": False})
    assert refused.value.field == "customer_notified"
    assert visit.events("task_completed")[-1]["payload"]["task"] == "wrap_up_visit"


# ---- the handlers ---------------------------------------------------------------------------------

def _ctx(session, instance_id: int, key: str, data: dict, now: datetime = T0) -> HandlerContext:
    return HandlerContext(session=session, now=now, instance_id=instance_id, process_id="walk_in_reception",
                          task_id=key.split(":")[1], task_spec="archive_visit", idempotency_key=key, attempt=1,
                          data=data)


def test_archive_handler_writes_once_per_step(rt):
    visit = accepted_at_once(rt)
    data = visit.show()["data"]
    key = f"{visit.id}:replayed-step"
    with rt.db.write() as session, session.begin():
        first = archive_walk_in_visit(_ctx(session, visit.id, key, data))
        second = archive_walk_in_visit(_ctx(session, visit.id, key, data, T0 + timedelta(minutes=5)))
        assert first == second
        count = session.execute(select(func.count(ContactRecord.id))
                                .where(ContactRecord.idempotency_key == key)).scalar_one()
        assert count == 1
    assert handler_writes(get_handler("archive_walk_in_visit")) is True


def test_lookup_finds_by_phone_then_by_a_unique_name_and_reads_only(rt):
    assert handler_writes(get_handler("lookup_customer_records")) is False
    assert handler_writes(get_handler("report_walk_in_complaint")) is False
    with rt.db.read() as session:
        by_phone = lookup_customer_records(_ctx(session, 1, "1:a", {}), phone="+86 139-1234-5678",
                                           name="别的名字", business_line="旅游")
        by_name = lookup_customer_records(_ctx(session, 1, "1:b", {}), phone="021-0000000", name="李秀英",
                                          business_line="其他")
        nobody = lookup_customer_records(_ctx(session, 1, "1:c", {}), phone="", name="不存在的人",
                                         business_line="自由行")
        report = report_walk_in_complaint(_ctx(session, 7, "7:d", {}), phone="13700001111", name="王小明")
    assert (by_phone["found"], by_phone["matched_by"], by_phone["customer"]["name"]) == (True, "phone", "李秀英")
    assert [b["tour_id"] for b in by_phone["bookings"]] == ["XA-2026-1102"]
    assert {p["desk"] for p in by_phone["products"]} == {"旅游"}
    assert (by_name["matched_by"], by_name["customer"]["phone"]) == ("name", "13912345678")
    assert len({p["desk"] for p in by_name["products"]}) == 3, "其他: every desk's products"
    assert (nobody["found"], nobody["customer"], nobody["bookings"]) == (False, None, [])
    assert {p["desk"] for p in nobody["products"]} == {"自由行"}
    assert report["correlation_key"] == "complaint-WI-7" and report["customer_id"] is not None
