"""P7 escalated_complaint: a complaint forwarded by a higher authority, answered before its deadline."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.errors import FormInvalid, NotAllowed
from engine.plugins.handlers import HandlerContext
from handlers.escalated import NO_WARNING, archive_escalated
from tests.support.escalated import (
    BPMN,
    CASE,
    DEADLINE,
    DEPARTMENTS,
    REGISTER,
    T0,
    WARNING_AT,
    Case,
    all_flows,
    archives,
    close,
    configure,
    investigate,
    reply,
    taken_flows,
    timer_jobs,
)
from tests.support.world import deploy


@pytest.fixture
def p7(runtime):
    deploy(runtime, BPMN)
    return runtime


# ---- scenarios (also replayed by the flow-coverage test) --------------------------------------------

def walk_answered_in_time(rt) -> Case:
    """Serious problem to the supervisor, unsolved once (back to QC intake), answered well before the deadline."""
    case = Case(rt)
    case.do("register_case", "qc1", **REGISTER)
    investigate(case, serious=True, solved=False)
    assert set(case.open_tasks()) == {"investigate_facts"}, "unsolved must re-enter QC intake"
    investigate(case, serious=False, solved=True, at=T0 + timedelta(days=2))
    reply(case, T0 + timedelta(days=3))
    close(case, T0 + timedelta(days=4))
    return case


def walk_coordinated(rt) -> Case:
    """Several departments are involved: QC coordinates the plan's implementation (as in P6), then replies."""
    case = Case(rt)
    case.do("register_case", "qc1", **{**REGISTER, "involves_multiple_departments": True})
    investigate(case, departments=DEPARTMENTS)
    reply(case, T0 + timedelta(days=2))
    close(case, T0 + timedelta(days=3))
    return case


def walk_warned_then_answered(rt) -> Case:
    """Reminder set to 75%: 75% of the time passes, the supervisor chases; the reply still comes in time."""
    configure(rt, reply_warning_percent=75)
    case = Case(rt)
    case.do("register_case", "qc1", **REGISTER)
    assert rt.tick(WARNING_AT - timedelta(minutes=1)) == []
    fired = rt.tick(WARNING_AT + timedelta(minutes=1))
    assert [f["timer"] for f in fired] == ["reply_warning"]
    tasks = case.open_tasks()
    assert set(tasks) == {"investigate_facts", "supervise_reply"}
    assert tasks["supervise_reply"]["lane"] == "supervisor"
    case.do("supervise_reply", "supervisor1", at=WARNING_AT + timedelta(hours=1),
            supervision_action="督促质检培训部两日内完成调查", expected_reply_at=(DEADLINE - timedelta(hours=6)).isoformat())
    investigate(case, at=WARNING_AT + timedelta(days=1))
    reply(case, DEADLINE - timedelta(hours=6))
    assert rt.tick(DEADLINE + timedelta(hours=1)) == [], "answered in time: the deadline timer is gone"
    close(case, DEADLINE + timedelta(days=1))
    return case


def walk_breached(rt) -> Case:
    """Nobody answers in time: the warning (set to 75%), then the breach at the deadline and the escalation."""
    configure(rt, reply_warning_percent=75)
    case = Case(rt)
    case.do("register_case", "qc1", **REGISTER)
    rt.tick(WARNING_AT + timedelta(minutes=1))
    assert rt.tick(DEADLINE - timedelta(minutes=1)) == []
    fired = rt.tick(DEADLINE + timedelta(minutes=1))
    assert [f["timer"] for f in fired] == ["reply_overdue"]
    assert [e["payload"]["timer"] for e in case.events("sla_warning")] == ["reply_warning"]
    assert [e["payload"]["timer"] for e in case.events("sla_breached")] == ["reply_overdue"]
    assert set(case.open_tasks()) == {"investigate_facts", "supervise_reply", "escalate_overdue"}
    case.do("escalate_overdue", "supervisor1", at=DEADLINE + timedelta(hours=2), overdue_reason="导游失联，调查延误",
            authority_informed=True, new_reply_at=(DEADLINE + timedelta(days=2)).isoformat(),
            measures="导游部负责人通报批评，建立下转投诉周报")
    case.do("supervise_reply", "supervisor1", at=DEADLINE + timedelta(hours=3),
            supervision_action="已督办", expected_reply_at=(DEADLINE + timedelta(days=2)).isoformat())
    investigate(case, at=DEADLINE + timedelta(days=1))
    reply(case, DEADLINE + timedelta(days=2))
    close(case, DEADLINE + timedelta(days=3))
    return case


# ---- tests ----------------------------------------------------------------------------------------

def test_authority_message_starts_a_case_keyed_by_case_number_with_both_deadline_timers(p7):
    configure(p7, reply_warning_percent=75)
    case = Case(p7)
    shown = case.show()
    assert shown["process"] == "escalated_complaint" and shown["business_key"] == CASE["case_no"]
    assert shown["data"]["received_at"].startswith("2026-11-23T02:00:00")
    assert shown["data"]["reply_deadline"] == DEADLINE.isoformat()
    [received] = case.events("message_received")
    assert received["payload"]["name"] == "authority_complaint" and received["payload"]["key"] == CASE["case_no"]
    [task] = p7.tasks(instance_id=case.id)
    assert (task["task"], task["lane"]) == ("register_case", "qc")
    jobs = timer_jobs(p7, case.id)
    assert jobs == {"reply_warning": (WARNING_AT, "pending"), "reply_overdue": (DEADLINE, "pending")}
    assert p7.tasks(user="qc1", instance_id=case.id) and not p7.tasks(user="agent1", instance_id=case.id)


def test_case_answered_in_time_is_archived_once_and_timers_are_cancelled(p7):
    case = walk_answered_in_time(p7)
    assert case.show()["status"] == "completed"
    steps = [e["payload"]["task"] for e in case.events("task_completed")]
    assert steps.count("investigate_facts") == 2 and steps.count("management_decision") == 1
    assert steps[-2:] == ["reply_to_authority", "follow_up"]
    [record] = archives(p7)
    assert (record.instance_id, record.ref, record.payload["deadline_met"]) == (case.id, CASE["case_no"], True)
    assert record.payload["authority_name"] == "上海市文化和旅游局" and record.payload["responsible_department"] == "导游部"
    assert {state for _due, state in timer_jobs(p7, case.id).values()} == {"cancelled"}
    assert p7.tick(DEADLINE + timedelta(days=1)) == []
    assert not case.events("timer_fired")


def test_a_reminder_set_to_75_percent_goes_to_the_supervisor(p7):
    case = walk_warned_then_answered(p7)
    [fired] = case.events("timer_fired")
    assert fired["payload"]["timer"] == "reply_warning"
    assert fired["payload"]["due_at"].startswith(WARNING_AT.strftime("%Y-%m-%dT%H:%M"))
    assert case.show()["status"] == "completed"
    [record] = archives(p7)
    assert record.payload["deadline_met"] is True


def test_deadline_breach_escalates_and_the_archive_records_the_late_reply(p7):
    case = walk_breached(p7)
    assert [e["payload"]["timer"] for e in case.events("timer_fired")] == ["reply_warning", "reply_overdue"]
    assert case.show()["status"] == "completed"
    [record] = archives(p7)
    assert record.payload["deadline_met"] is False
    assert "超期" in record.summary
    assert p7.tick(DEADLINE + timedelta(days=30)) == [], "each timer fires once"


def test_a_late_tick_past_warning_and_deadline_records_both(p7):
    """The worker was down through both times: one tick fires both timers, and the record has the
    warning and the breach, each job done once, in the order they were due."""
    configure(p7, reply_warning_percent=75)
    case = Case(p7)
    case.do("register_case", "qc1", **REGISTER)
    fired = p7.tick(DEADLINE + timedelta(hours=5))
    assert [f["timer"] for f in fired] == ["reply_warning"], "the deadline fired inside the warning's step"
    assert [e["payload"]["timer"] for e in case.events("timer_fired")] == ["reply_warning", "reply_overdue"]
    assert [e["payload"]["timer"] for e in case.events("sla_warning")] == ["reply_warning"]
    [breach] = case.events("sla_breached")
    assert breach["payload"]["timer"] == "reply_overdue"
    assert breach["payload"]["due_at"].startswith(DEADLINE.strftime("%Y-%m-%dT%H:%M"))
    assert timer_jobs(p7, case.id) == {"reply_warning": (WARNING_AT, "done"), "reply_overdue": (DEADLINE, "done")}
    assert set(case.open_tasks()) == {"investigate_facts", "supervise_reply", "escalate_overdue"}
    assert p7.tick(DEADLINE + timedelta(days=30)) == []
    assert len(case.events("timer_fired")) == 2


def test_a_timer_due_while_the_worker_was_down_fires_in_the_next_step_on_record(p7):
    """A form submitted after the warning time, before any worker fired it: SpiffWorkflow fires the
    warning in that step, and the record says so (timer_fired, sla_warning), the job done once."""
    configure(p7, reply_warning_percent=75)
    case = Case(p7)
    case.do("register_case", "qc1", **REGISTER)
    investigate(case, at=WARNING_AT + timedelta(hours=2))
    [fired] = case.events("timer_fired")
    assert (fired["payload"]["timer"], fired["actor"]) == ("reply_warning", "qc1")
    assert [e["payload"]["timer"] for e in case.events("sla_warning")] == ["reply_warning"]
    assert "supervise_reply" in case.open_tasks()
    assert timer_jobs(p7, case.id)["reply_warning"] == (WARNING_AT, "done")
    assert p7.tick(WARNING_AT + timedelta(days=1)) == []
    assert len(case.events("timer_fired")) == 1


def test_by_default_only_the_authoritys_deadline_counts(p7):
    """The documents give the authority's reply deadline, no reminder before it: none fires by default."""
    case = Case(p7)
    assert case.show()["data"]["reply_warning_plan"] == {"percent": None, "warning_at": NO_WARNING}
    case.do("register_case", "qc1", **REGISTER)
    assert p7.tick(WARNING_AT + timedelta(minutes=1)) == [], "no 75% reminder the documents do not give"
    assert [f["timer"] for f in p7.tick(DEADLINE + timedelta(minutes=1))] == ["reply_overdue"]
    assert case.events("sla_warning") == [] and len(case.events("sla_breached")) == 1
    assert set(case.open_tasks()) == {"investigate_facts", "escalate_overdue"}
    investigate(case, at=DEADLINE + timedelta(hours=2))
    reply(case, DEADLINE + timedelta(hours=3))
    assert timer_jobs(p7, case.id)["reply_warning"][1] == "cancelled", "the unused reminder goes with the case"


def test_a_configured_reminder_share_sets_the_supervisors_chase(p7):
    configure(p7, reply_warning_percent=50)
    case = Case(p7)
    case.do("register_case", "qc1", **REGISTER)
    halfway = T0 + timedelta(days=4)
    assert timer_jobs(p7, case.id)["reply_warning"] == (halfway, "pending")
    assert p7.tick(halfway - timedelta(minutes=1)) == []
    assert [f["timer"] for f in p7.tick(halfway)] == ["reply_warning"]
    assert case.open_tasks()["supervise_reply"]["lane"] == "supervisor"


def test_several_departments_involved_are_coordinated_by_qc(p7):
    case = Case(p7)
    case.do("register_case", "qc1", **{**REGISTER, "involves_multiple_departments": True})
    case.do("investigate_facts", "qc1", facts="属实", evidence="录音")
    case.do("determine_responsibility", "qc1", responsible_department="导游部", responsible_person="刘导")
    case.do("make_handling_plan", "qc1", handling_plan="退款、停岗、调整行程", compensation_amount=1200,
            advance_payment=False, serious_problem=False)
    [task] = p7.tasks(instance_id=case.id)
    assert (task["task"], task["lane"]) == ("coordinate_departments", "qc"), "QC coordinates, as in P6"
    with pytest.raises(NotAllowed):
        case.do("coordinate_departments", "operator1", involved_departments=DEPARTMENTS, coordination_note="越权",
                solved=True, implementation_note="x")
    with pytest.raises(FormInvalid) as one:
        case.do("coordinate_departments", "qc1", involved_departments=["导游部"], coordination_note="只有一个部门",
                solved=True, implementation_note="x")
    assert one.value.field == "involved_departments"
    case.do("coordinate_departments", "qc1", involved_departments=DEPARTMENTS, coordination_note="三部门分工落实",
            solved=True, implementation_note="已退款并调整行程")
    reply(case, T0 + timedelta(days=2))
    close(case, T0 + timedelta(days=3))
    [record] = archives(p7)
    assert record.payload["involved_departments"] == DEPARTMENTS
    assert record.payload["involves_multiple_departments"] is True


def test_wrong_lane_and_bad_form_data_are_refused(p7):
    case = Case(p7)
    task_id = case.open_tasks()["register_case"]["id"]
    with pytest.raises(NotAllowed, match="does not hold lane 'qc'"):
        p7.complete(task_id, "agent1", REGISTER)
    with pytest.raises(FormInvalid) as bad:
        p7.complete(task_id, "qc1", {**REGISTER, "time_class": "出发当天"})
    assert bad.value.field == "time_class"
    with pytest.raises(FormInvalid) as missing:
        p7.complete(task_id, "qc1", {k: v for k, v in REGISTER.items() if k != "authority_contact"})
    assert missing.value.field == "authority_contact"
    case.do("register_case", "qc1", **REGISTER)
    with pytest.raises(FormInvalid) as late:
        case.do("investigate_facts", "qc1", facts="")
    assert late.value.field == "facts"
    with pytest.raises(NotAllowed):
        case.do("investigate_facts", "supervisor1", facts="越权")


def test_archive_handler_writes_once_per_step(p7):
    data = {**REGISTER, "reply_deadline": DEADLINE.isoformat(), "replied_at": (DEADLINE + timedelta(hours=1)).isoformat()}
    with p7.db.write() as session, session.begin():
        ctx = HandlerContext(session=session, now=T0, instance_id=99, process_id="escalated_complaint", task_id="t",
                             task_spec="archive_case", idempotency_key="99:t", attempt=1, data=data)
        first, second = archive_escalated(ctx), archive_escalated(ctx)
    assert first == second and first["deadline_met"] is False
    assert len(archives(p7)) == 1


COMMON = {"received_to_stamp", "stamp_to_warning_plan", "warning_plan_to_handling", "handling_start_to_register",
          "register_to_intake", "intake_to_investigate", "investigate_to_determine", "determine_to_plan",
          "plan_to_serious", "not_serious_to_ready", "ready_to_implement", "single_department_to_implement",
          "implement_to_solved", "solved_to_reply", "reply_to_end", "handling_to_follow_up", "follow_up_to_archive",
          "archive_to_closed"}
PATHS = {
    walk_answered_in_time: COMMON | {"serious_to_decision", "decision_to_ready", "unsolved_to_intake"},
    walk_coordinated: COMMON - {"single_department_to_implement", "implement_to_solved"}
    | {"multiple_departments_to_coordinate", "coordinate_to_solved"},
    walk_warned_then_answered: COMMON | {"warning_to_supervise", "supervise_to_closed"},
    walk_breached: COMMON | {"warning_to_supervise", "supervise_to_closed", "overdue_to_escalate",
                             "escalate_to_closed"},
}


def test_every_sequence_flow_is_taken(p7):
    """Each scenario goes exactly its own way (read from the task tree); together they cover the file."""
    taken = set()
    for walk, expected in PATHS.items():
        path = taken_flows(p7, walk(p7).id)
        assert path == expected, (walk.__name__, sorted(expected - path), sorted(path - expected))
        taken |= path
    assert all_flows() - taken == set()
