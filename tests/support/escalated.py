"""The escalated complaint process (escalated_complaint.bpmn): a case an authority hands down, the
steps on it, and which sequence flows an instance went along."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from engine.clock import frozen_at
from engine.config import DEFAULT_PROCESSES_DIR
from engine.store.models import Job
from handlers.domain.models import ArchiveRecord
from tests.support import flows
from tests.support.flows import taken_flows  # noqa: F401 (P7 and P9 tests read it from here)
from tests.support.world import set_setting

BPMN = DEFAULT_PROCESSES_DIR / "escalated_complaint.bpmn"
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
DEADLINE = T0 + timedelta(days=8)
WARNING_AT = T0 + timedelta(days=6)  # 75% of eight days, when the reminder is set to 75
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
    "involves_multiple_departments": False,
}
DEPARTMENTS = ["导游部", "计调部", "财务部"]


# ---- which sequence flows an instance went along, from its persisted task tree -------------------

def all_flows() -> set[str]:
    return flows.all_flows(BPMN)


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


def configure(runtime, **values):
    """Change the P7 settings (the `escalated_complaint` row of the setting table), e.g. reply_warning_percent=75."""
    set_setting(runtime, "escalated_complaint", values)


def investigate(case: Case, *, serious=False, solved=True, at=T0 + timedelta(days=1), departments=None):
    case.do("investigate_facts", "qc1", at=at, facts="导游确有强制购物行为，游客录音为证", evidence="录音编号 R-88")
    case.do("determine_responsibility", "qc1", at=at, responsible_department="导游部", responsible_person="刘导")
    case.do("make_handling_plan", "qc1", at=at, handling_plan="退还购物款，导游停岗培训", compensation_amount=1200,
            advance_payment=True, serious_problem=serious)
    if serious:
        case.do("management_decision", "supervisor1", at=at, decision="同意方案", decision_note="同意先行赔付")
    if departments:
        case.do("coordinate_departments", "qc1", at=at, involved_departments=departments, solved=solved,
                coordination_note="导游部停岗培训，计调部调整后续行程，财务部退款", implementation_note="各部门已落实")
    else:
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
