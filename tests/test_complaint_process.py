"""P6 complaint_handling: every path of the diagram, walked the way staff would."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.clock import frozen_at, utcnow
from engine.config import DEFAULT_PROCESSES_DIR
from engine.errors import FormInvalid, NotAllowed, TaskConflict
from engine.history.heatmap import heatmap
from engine.store.models import Job
from handlers.domain.models import ArchiveRecord, Complaint
from tests.support.complaint import (
    COMPLAINT,
    COMPLAINT_DETAILS,
    FRIDAY_1730,
    MONDAY_10,
    NATIONAL_DAY_10,
    Walk,
    china,
)
from tests.support.flows import sequence_flows, taken_flows
from tests.support.world import deploy

pytestmark = pytest.mark.both_databases


def _complaints(runtime) -> list[Complaint]:
    with runtime.db.read() as session:
        return list(session.execute(select(Complaint)).scalars())


BPMN = DEFAULT_PROCESSES_DIR / "complaint_handling.bpmn"
REVISE_NOTE = "赔偿金额过低，改为退还全部房费并致歉"


def _qc_chain(walk: Walk, *, serious=False, solved=True, revise=False):
    walk.do("investigate_facts", "qc1", facts="酒店确认空调故障两天未修", evidence="游客照片")
    walk.do("determine_responsibility", "qc1", responsible_department="计调部", responsible_person="杨帆")
    walk.do("make_handling_plan", "qc1", handling_plan="退还两晚房费差价", compensation_amount=600,
            advance_payment=True, serious_problem=serious)
    if serious and revise:
        walk.do("management_decision", "supervisor1", decision="修改方案", decision_note=REVISE_NOTE)
        assert set(walk.open_tasks()) == {"make_handling_plan"}, "a revised plan goes back to QC, not to implementation"
        assert walk.rt.show(walk.id)["data"]["decision_note"] == REVISE_NOTE
        walk.do("make_handling_plan", "qc1", handling_plan="退还全部房费并书面致歉", compensation_amount=1500,
                advance_payment=True, serious_problem=True)
    if serious:
        walk.do("management_decision", "supervisor1", decision="同意方案", decision_note="同意先行赔付")
    walk.do("implement_plan", "operator1", solved=solved, implementation_note="已退差价")


def _close(walk: Walk):
    walk.do("feedback_result", "qc1", feedback="已退还差价并致歉，原因：酒店设备故障", customer_satisfied=True)
    walk.do("qc_follow_up", "qc1", follow_up_note="一周后回访，游客满意")


def test_complaint_during_tour_solved_locally_is_filed_and_archived(complaint_runtime):
    walk = Walk(complaint_runtime)
    walk.do("receive_complaint", "agent1", **COMPLAINT)
    assert set(walk.open_tasks()) == {"resolve_locally"}
    assert walk.open_tasks()["resolve_locally"]["lane"] == "guide"
    walk.do("resolve_locally", "guide1", resolved_locally=True, local_action="当晚更换同级酒店")
    walk.do("file_local_resolution", "guide1", filing_note="已在当地解决，报质检备案")
    assert walk.status() == "completed"
    assert walk.completed_steps() == ["receive_complaint", "resolve_locally", "file_local_resolution"]
    [complaint] = _complaints(complaint_runtime)
    assert (complaint.instance_id, complaint.handled_by, complaint.kind, complaint.time_class) == (
        walk.id, "local", "住宿餐饮", "旅游过程中")
    assert complaint.resolution == "当晚更换同级酒店"
    assert walk.kinds()[-3:] == ["handler_called", "instance_completed", "state_written"]


def test_complaint_not_solved_locally_goes_to_qc_and_is_closed(complaint_runtime):
    walk = Walk(complaint_runtime)
    walk.do("receive_complaint", "agent1", **COMPLAINT)
    walk.do("resolve_locally", "guide1", resolved_locally=False, local_action="酒店无空房可换")
    assert set(walk.open_tasks()) == {"investigate_facts"}
    _qc_chain(walk)
    assert set(walk.open_tasks()) == {"feedback_result"}
    _close(walk)
    assert walk.status() == "completed"
    [complaint] = _complaints(complaint_runtime)
    assert complaint.handled_by == "qc"
    assert (complaint.responsible_department, float(complaint.compensation_amount), complaint.advance_payment) == (
        "计调部", 600.0, True)
    assert complaint.customer_satisfied is True


def test_serious_problem_goes_to_supervisor_and_unsolved_reenters_qc_intake(complaint_runtime):
    walk = Walk(complaint_runtime)
    walk.do("receive_complaint", "receptionist1", **{**COMPLAINT, "time_class": "旅游后", "kind": "导游服务"})
    assert set(walk.open_tasks()) == {"investigate_facts"}
    _qc_chain(walk, serious=True, solved=False)
    assert set(walk.open_tasks()) == {"investigate_facts"}, "unsolved must re-enter QC intake"
    _qc_chain(walk, serious=False, solved=True)
    _close(walk)
    assert walk.status() == "completed"
    steps = walk.completed_steps()
    assert steps.count("investigate_facts") == 2
    assert steps.count("management_decision") == 1
    assert walk.rt.show(walk.id)["data"]["solved"] is True


@pytest.mark.parametrize("time_class, multi", [("旅游前", False), ("旅游过程中", True)])
def test_before_tour_or_multi_department_complaints_go_straight_to_qc(complaint_runtime, time_class, multi):
    walk = Walk(complaint_runtime)
    walk.do("receive_complaint", "sales1", **{**COMPLAINT, "time_class": time_class,
                                               "involves_multiple_departments": multi})
    assert set(walk.open_tasks()) == {"investigate_facts"}
    assert walk.open_tasks()["investigate_facts"]["lane"] == "qc"


AUTHORITY = {"escalated_to_authority": True, "authority_name": "上海市文化和旅游局",
             "reply_deadline": (utcnow() + timedelta(days=30)).isoformat()}  # the authority's, ahead


def test_complaint_already_at_a_higher_authority_starts_the_escalated_case_and_is_archived_with_the_link(
        complaint_runtime):
    rt = complaint_runtime
    deploy(rt, DEFAULT_PROCESSES_DIR / "escalated_complaint.bpmn")
    walk = Walk(rt)
    with pytest.raises(FormInvalid, match="authority_name|reply_deadline"):
        walk.do("receive_complaint", "agent1", **{**COMPLAINT, "escalated_to_authority": True})
    walk.do("receive_complaint", "agent1", **{**COMPLAINT, **AUTHORITY})
    assert walk.status() == "completed"
    assert walk.open_tasks() == {}
    [sent] = [e["payload"] for e in rt.events(walk.id) if e["kind"] == "message_sent"]
    assert (sent["name"], sent["started"]) == ("authority_complaint", True)
    p7 = rt.show(sent["delivered_to"])
    assert (p7["process"], p7["business_key"]) == ("escalated_complaint", f"complaint_handling-{walk.id}")
    [complaint] = _complaints(rt)
    assert (complaint.instance_id, complaint.handled_by) == (walk.id, "authority")
    data = p7["data"]
    assert (data["source_instance_id"], data["source_complaint_id"], data["source_process"]) == (
        walk.id, complaint.id, "complaint_handling")
    assert {k: data[k] for k in COMPLAINT_DETAILS} == COMPLAINT_DETAILS
    assert (data["authority_name"], data["reply_deadline"]) == (AUTHORITY["authority_name"], AUTHORITY["reply_deadline"])
    assert set(t["task"] for t in rt.tasks(instance_id=sent["delivered_to"])) == {"register_case"}
    with rt.db.read() as session:
        [link] = session.execute(select(ArchiveRecord).where(ArchiveRecord.kind == "complaint_to_authority")).scalars()
        assert (link.instance_id, link.ref) == (walk.id, p7["business_key"])
        assert link.payload["complaint_id"] == complaint.id


def test_complaint_not_reported_within_an_hour_escalates_to_supervisor(complaint_runtime):
    rt = complaint_runtime
    start = MONDAY_10  # in working time: the working hour is the clock's hour
    with frozen_at(start):
        walk = Walk(rt)
    task = walk.open_tasks()["receive_complaint"]
    assert task["due_at"].startswith((start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    assert rt.tick(start + timedelta(minutes=59)) == []
    fired = rt.tick(start + timedelta(minutes=61))
    assert [f["timer"] for f in fired] == ["report_overdue"]
    assert "sla_breached" in walk.kinds()
    breach = next(e for e in rt.events(walk.id) if e["kind"] == "sla_breached")
    assert breach["payload"]["task"] == "receive_complaint"
    tasks = walk.open_tasks()
    assert set(tasks) == {"receive_complaint", "escalate_late_report"}
    assert tasks["escalate_late_report"]["lane"] == "supervisor"
    assert rt.tick(start + timedelta(hours=5)) == [], "a timer fires once"
    walk.do("escalate_late_report", "supervisor1", action_taken="已电话督促坐席立即上报")
    walk.do("receive_complaint", "agent1", **COMPLAINT)
    walk.do("resolve_locally", "guide1", resolved_locally=True, local_action="更换酒店")
    walk.do("file_local_resolution", "guide1", filing_note="备案")
    assert walk.status() == "completed"


def test_the_hour_counts_working_time_from_the_complaint_so_friday_evening_is_due_monday_morning(complaint_runtime):
    rt = complaint_runtime
    entered = FRIDAY_1730 + timedelta(minutes=20)  # staff open the case at 17:50 for a complaint made at 17:30
    with frozen_at(entered):
        walk = Walk(rt, data={"complaint_at": china(FRIDAY_1730)})
    monday_0930 = FRIDAY_1730 + timedelta(days=3, hours=-8)  # Mon 09:30: 17:30-18:00, then 09:00-09:30
    assert walk.open_tasks()["receive_complaint"]["due_at"] == "2026-11-30T01:30:00Z" == \
        monday_0930.strftime("%Y-%m-%dT%H:%M:%SZ")
    for quiet in (entered + timedelta(hours=1, minutes=1), FRIDAY_1730 + timedelta(days=1),  # night, Saturday,
                  FRIDAY_1730 + timedelta(days=2), monday_0930 - timedelta(minutes=1)):      # Sunday, Monday 09:29
        assert rt.tick(quiet) == [], f"nothing is due at {quiet}"
    assert "sla_breached" not in walk.kinds()
    assert [f["timer"] for f in rt.tick(monday_0930 + timedelta(minutes=1))] == ["report_overdue"]
    assert set(walk.open_tasks()) == {"receive_complaint", "escalate_late_report"}


def test_a_complaint_taken_on_a_public_holiday_is_due_an_hour_into_the_next_working_day(complaint_runtime):
    rt = complaint_runtime
    with frozen_at(NATIONAL_DAY_10):  # no complaint_at yet: the hour counts from the intake
        walk = Walk(rt)
    assert walk.open_tasks()["receive_complaint"]["due_at"] == "2026-10-08T02:00:00Z", "Oct 8, 10:00 China time"
    assert rt.tick(NATIONAL_DAY_10 + timedelta(days=5)) == []
    assert [f["timer"] for f in rt.tick(NATIONAL_DAY_10 + timedelta(days=6, minutes=1))] == ["report_overdue"]


def test_complaint_reported_in_time_cancels_the_timer(complaint_runtime):
    rt = complaint_runtime
    start = MONDAY_10
    with frozen_at(start):
        walk = Walk(rt)
    with frozen_at(start + timedelta(minutes=30)):
        walk.do("receive_complaint", "agent1", **COMPLAINT)
    assert rt.tick(start + timedelta(hours=2)) == []
    assert "sla_breached" not in walk.kinds()
    with rt.db.read() as session:
        states = session.execute(select(Job.state).where(Job.instance_id == walk.id)).scalars().all()
    assert states == ["cancelled"]


def test_wrong_role_bad_data_and_double_completion_are_refused(complaint_runtime):
    rt = complaint_runtime
    walk = Walk(rt)
    task_id = walk.open_tasks()["receive_complaint"]["id"]
    with pytest.raises(NotAllowed, match="does not hold lane 'staff'"):
        rt.complete(task_id, "qc1", COMPLAINT)
    with pytest.raises(FormInvalid) as bad:
        rt.complete(task_id, "agent1", {**COMPLAINT, "kind": "天气不好"})
    assert bad.value.field == "kind"
    with pytest.raises(FormInvalid) as missing:
        rt.complete(task_id, "agent1", {k: v for k, v in COMPLAINT.items() if k != "contact_phone"})
    assert missing.value.field == "contact_phone"
    assert walk.kinds().count("task_completed") == 0, "refused attempts write nothing"
    rt.complete(task_id, "agent1", COMPLAINT)
    with pytest.raises(TaskConflict, match="already completed by agent1"):
        rt.complete(task_id, "agent1", COMPLAINT)


def test_task_completed_event_records_submitted_data_and_diff(complaint_runtime):
    walk = Walk(complaint_runtime)
    walk.do("receive_complaint", "agent1", **COMPLAINT)
    event = next(e for e in walk.rt.events(walk.id) if e["kind"] == "task_completed")
    assert event["actor"] == "agent1"
    assert event["payload"]["submitted"]["customer_name"] == "张建国"
    assert event["payload"]["diff"]["kind"] == [None, "住宿餐饮"]
    assert event["payload"]["submitted"]["escalated_to_authority"] is False, "a routing answer is recorded as given"
    walk.do("resolve_locally", "guide1", resolved_locally=False, local_action="酒店无空房可换")
    walk.do("investigate_facts", "qc1", facts="酒店确认空调故障两天未修", evidence="游客照片")
    walk.do("determine_responsibility", "qc1", responsible_department="计调部", responsible_person="杨帆")
    walk.do("make_handling_plan", "qc1", handling_plan="退还两晚房费差价", serious_problem=False)
    plan = [e for e in walk.rt.events(walk.id) if e["kind"] == "task_completed"][-1]
    assert plan["payload"]["submitted"]["advance_payment"] is False, "schema defaults are recorded"


def test_a_tick_exactly_at_the_due_time_fires_the_timer_once(complaint_runtime):
    rt = complaint_runtime
    start = MONDAY_10
    with frozen_at(start):
        walk = Walk(rt)
    due = start + timedelta(hours=1)
    assert [f["timer"] for f in rt.tick(due)] == ["report_overdue"]
    assert set(walk.open_tasks()) == {"receive_complaint", "escalate_late_report"}
    assert rt.tick(due + timedelta(minutes=5)) == []
    assert walk.kinds().count("sla_breached") == 1


def test_a_revised_plan_goes_back_to_qc_with_the_remarks_then_to_implementation(complaint_runtime):
    walk = Walk(complaint_runtime)
    walk.do("receive_complaint", "agent1", **{**COMPLAINT, "time_class": "旅游后"})
    _qc_chain(walk, serious=True, revise=True)
    _close(walk)
    assert walk.status() == "completed"
    steps = walk.completed_steps()
    assert steps.count("make_handling_plan") == 2 and steps.count("management_decision") == 2
    assert steps.index("implement_plan") > max(i for i, s in enumerate(steps) if s == "make_handling_plan")
    assert {"revise_to_plan", "decision_to_ready"} <= taken_flows(complaint_runtime, walk.id)
    [complaint] = _complaints(complaint_runtime)
    assert float(complaint.compensation_amount) == 1500.0, "the revised plan is the one carried out"
    heat = heatmap(complaint_runtime, "complaint_handling", 1)["heat"]
    assert heat["decision_gateway"]["instances"] == 1
    assert heat["make_handling_plan"]["instances"] == 1


def test_every_flow_of_the_complaint_process_is_taken(complaint_runtime):
    rt = complaint_runtime
    walks = []
    local = Walk(rt)
    local.do("receive_complaint", "agent1", **COMPLAINT)
    local.do("resolve_locally", "guide1", resolved_locally=True, local_action="当晚更换同级酒店")
    local.do("file_local_resolution", "guide1", filing_note="备案")
    walks.append(local)
    start = MONDAY_10
    with frozen_at(start):
        late = Walk(rt)
    rt.tick(start + timedelta(minutes=61))
    late.do("escalate_late_report", "supervisor1", action_taken="已督促上报")
    late.do("receive_complaint", "agent1", **COMPLAINT)
    late.do("resolve_locally", "guide1", resolved_locally=False, local_action="无法更换")
    _qc_chain(late, serious=True, solved=False, revise=True)
    _qc_chain(late, serious=False, solved=True)
    _close(late)
    walks.append(late)
    after_tour = Walk(rt)
    after_tour.do("receive_complaint", "agent1", **{**COMPLAINT, "time_class": "旅游后"})
    walks.append(after_tour)
    authority = Walk(rt)
    authority.do("receive_complaint", "agent1", **{**COMPLAINT, **AUTHORITY})
    walks.append(authority)
    taken = set().union(*(taken_flows(rt, w.id) for w in walks))
    assert set(sequence_flows(BPMN).values()) - taken == set()
