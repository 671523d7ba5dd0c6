"""P7 escalated_complaint: a complaint forwarded by a higher authority, answered before its deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from engine.clock import frozen_at
from engine.config import DEFAULT_PROCESSES_DIR
from engine.errors import FormInvalid, NotAllowed
from engine.run.handlers import HandlerContext
from engine.store.models import Deployment, Job, ProcessInstance
from handlers.domain.models import ArchiveRecord
from handlers.escalated import archive_escalated
from tests.conftest import deploy

BPMN = DEFAULT_PROCESSES_DIR / "escalated_complaint.bpmn"
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
DEADLINE = T0 + timedelta(days=8)
WARNING_AT = T0 + timedelta(days=6)  # 75% of eight days
CASE = {
    "authority_name": "上海市文化和旅游局",
    "case_no": "SHWL-2026-0457",
    "customer_name": "李秀英",
    "contact_phone": "13912345678",
    "complaint_at": "2026-11-20T15:00:00+08:00",
    "time_class": "旅游后",
    "kind": "导游服务",
    "description": "导游在西安行程中强制购物并辱骂游客",
    "customer_request": "退还购物款并处理导游",
    "tour_id": "XA-2026-1102",
    "reply_deadline": DEADLINE.isoformat(),
}
REGISTER = {k: v for k, v in CASE.items() if k != "reply_deadline"} | {
    "authority_contact": "王科长 021-64390000",
    "communication_note": "已电话确认收到下转投诉，上级部门要求书面答复",
    "involves_multiple_departments": True,
}


# ---- which sequence flows an instance went along, from its persisted task tree -------------------

def all_flows() -> set[str]:
    return {f.get("id") for f in etree.parse(str(BPMN)).getroot().iterfind(".//bpmn:sequenceFlow", NS)}


def taken_flows(runtime, instance_id: int) -> set[str]:
    """A flow is taken when a reached task's nearest BPMN ancestor in SpiffWorkflow's task tree is the
    flow's source and the task is its target (subprocess tasks and boundary events included)."""
    with runtime.db.read() as session:
        instance = session.get(ProcessInstance, instance_id)
        deployed = runtime.deployed(session, instance.deployment_id)
        workflow = runtime.codec.loads(instance.serialized, deployed.model)
        xml = session.get(Deployment, deployed.id).bpmn_xml.encode("utf-8")
    flows = {(f.get("sourceRef"), f.get("targetRef")): f.get("id")
             for f in etree.fromstring(xml).iterfind(".//bpmn:sequenceFlow", NS)}
    reached = TaskState.COMPLETED | TaskState.READY | TaskState.WAITING | TaskState.STARTED
    tasks = list(workflow.tasks.values())
    for sub in workflow.subprocesses.values():
        tasks.extend(sub.tasks.values())
    taken = set()
    for task in tasks:
        if task.task_spec.bpmn_id is None or not task.has_state(reached):
            continue
        parent = task.parent
        while parent is not None and parent.task_spec.bpmn_id is None:
            parent = parent.parent
        if parent is not None and (parent.task_spec.bpmn_id, task.task_spec.bpmn_id) in flows:
            taken.add(flows[(parent.task_spec.bpmn_id, task.task_spec.bpmn_id)])
    # a subprocess's outgoing flow: the subprocess completed and its target was reached
    completed = {t.task_spec.bpmn_id for t in tasks if t.has_state(TaskState.COMPLETED | TaskState.READY)}
    for (source, target), flow in flows.items():
        if source == "handle_within_deadline" and {source, target} <= completed:
            taken.add(flow)
    return taken


# ---- walking a case --------------------------------------------------------------------------------

class Case:
    def __init__(self, runtime, **overrides):
        self.rt = runtime
        with frozen_at(T0):
            result = runtime.message("authority_complaint", CASE["case_no"], {**CASE, **overrides})
        assert result["started"] is True
        self.id = result["delivered_to"]

    def open_tasks(self) -> dict[str, dict]:
        return {t["task"]: t for t in self.rt.tasks(instance_id=self.id)}

    def do(self, task: str, user: str, at: datetime = T0 + timedelta(hours=1), **data):
        open_tasks = self.open_tasks()
        assert task in open_tasks, f"{task} is not open; open: {sorted(open_tasks)}"
        with frozen_at(at):
            return self.rt.complete(open_tasks[task]["id"], user, data)

    def show(self) -> dict:
        return self.rt.show(self.id)

    def events(self, kind: str) -> list[dict]:
        return [e for e in self.rt.events(self.id) if e["kind"] == kind]


def investigate(case: Case, *, serious=False, solved=True, at=T0 + timedelta(days=1)):
    case.do("investigate_facts", "qc1", at=at, facts="导游确有强制购物行为，游客录音为证", evidence="录音编号 R-88")
    case.do("determine_responsibility", "qc1", at=at, responsible_department="导游部", responsible_person="刘导")
    case.do("make_handling_plan", "qc1", at=at, handling_plan="退还购物款，导游停岗培训", compensation_amount=1200,
            advance_payment=True, serious_problem=serious)
    if serious:
        case.do("management_decision", "supervisor1", at=at, decision="同意方案", decision_note="同意先行赔付")
    case.do("implement_plan", "operator1", at=at, solved=solved, implementation_note="已退款并通知导游停岗")


def reply(case: Case, at: datetime):
    case.do("reply_to_authority", "qc1", at=at, reply_content="经调查属实，已退还购物款1200元，导游停岗培训",
            reply_channel="书面公文", replied_at=at.isoformat(), customer_informed=True, customer_satisfied=True)


def close(case: Case, at: datetime):
    case.do("follow_up", "qc1", at=at, follow_up_note="一周后回访游客，表示满意；导游部开展购物规范培训")


def archives(runtime) -> list[ArchiveRecord]:
    with runtime.db.read() as session:
        return list(session.execute(select(ArchiveRecord).where(ArchiveRecord.kind == "escalated_complaint")).scalars())


def timer_jobs(runtime, instance_id) -> dict[str, tuple[datetime, str]]:
    with runtime.db.read() as session:
        rows = session.execute(select(Job).where(Job.instance_id == instance_id, Job.kind == "timer")).scalars()
        return {job.task: (job.due_at.replace(tzinfo=UTC), job.state) for job in rows}


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


def walk_warned_then_answered(rt) -> Case:
    """75% of the time passes: the supervisor chases; the reply still comes before the deadline."""
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
    """Nobody answers in time: the warning, then the breach at the deadline and the supervisor's escalation."""
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


def test_warning_at_75_percent_goes_to_the_supervisor(p7):
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


def test_every_sequence_flow_is_taken(p7):
    taken = set()
    for walk in (walk_answered_in_time, walk_warned_then_answered, walk_breached):
        taken |= taken_flows(p7, walk(p7).id)
    assert all_flows() - taken == set()
    assert taken <= all_flows()
