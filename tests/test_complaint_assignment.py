"""P6 complaint_handling, who works what: the plan goes to the department found responsible
(routing key `responsible_department`), a complaint during the tour to the tour's own guide."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.access.users import create_user
from engine.clock import utcnow
from engine.config import DEFAULT_PROCESSES_DIR
from engine.errors import NotAllowed, TaskConflict
from handlers.domain.models import ArchiveRecord
from tests.support.complaint import COMPLAINT, Walk
from tests.support.world import deploy

pytestmark = pytest.mark.both_databases


def _users(rt, *users: tuple[str, list[str], dict[str, str]]) -> None:
    with rt.db.write() as session, session.begin():
        for name, roles, attributes in users:
            create_user(session, name, name, roles, attributes=attributes)


def _to_implementation(walk: Walk, department: str) -> dict:
    walk.do("receive_complaint", "agent1", **{**COMPLAINT, "time_class": "旅游后"})
    walk.do("investigate_facts", "qc1", facts="酒店确认空调故障两天未修")
    walk.do("determine_responsibility", "qc1", responsible_department=department, responsible_person="杨帆")
    walk.do("make_handling_plan", "qc1", handling_plan="退还两晚房费差价", compensation_amount=600,
            advance_payment=True, serious_problem=False)
    return walk.open_tasks()["implement_plan"]


def test_the_plan_goes_to_the_department_found_responsible(complaint_runtime):
    rt = complaint_runtime
    _users(rt, ("ops_yang", ["operator", "staff"], {"responsible_department": "计调部"}),
           ("sales_li", ["sales", "staff"], {"responsible_department": "销售部"}))
    walk = Walk(rt)
    task = _to_implementation(walk, "计调部")
    assert task["lane"] == "staff"
    assert task["routing"] == {"responsible_department": "计调部"}
    assert [t["task"] for t in rt.tasks(user="sales_li")] == [], "another department's staff do not see it"
    assert [t["task"] for t in rt.tasks(user="ops_yang")] == ["implement_plan"]
    with pytest.raises(NotAllowed, match="responsible_department 计调部"):
        rt.complete(task["id"], "sales_li", {"solved": True, "implementation_note": "不是本部门"})
    rt.complete(task["id"], "ops_yang", {"solved": True, "implementation_note": "已退差价"})
    assert set(walk.open_tasks()) == {"feedback_result"}


def test_a_new_responsibility_after_an_unsolved_plan_routes_the_new_plan(complaint_runtime):
    rt = complaint_runtime
    _users(rt, ("sales_li", ["sales", "staff"], {"responsible_department": "销售部"}))
    walk = Walk(rt)
    task = _to_implementation(walk, "计调部")
    rt.complete(task["id"], "operator1", {"solved": False, "implementation_note": "酒店拒绝退款"})
    walk.do("investigate_facts", "qc1", facts="销售合同写错房型")
    walk.do("determine_responsibility", "qc1", responsible_department="销售部")
    walk.do("make_handling_plan", "qc1", handling_plan="更正合同并退差价", serious_problem=False)
    assert walk.open_tasks()["implement_plan"]["routing"] == {"responsible_department": "销售部"}
    assert [t["task"] for t in rt.tasks(user="sales_li")] == ["implement_plan"]


TOUR = "JQ-20261125-0042"


def _during_tour(walk: Walk) -> dict:
    walk.do("receive_complaint", "agent1", **{**COMPLAINT, "tour_id": TOUR})
    return walk.open_tasks()["resolve_locally"]


def test_a_complaint_during_the_tour_goes_to_the_guide_of_the_running_tour(complaint_runtime):
    rt = complaint_runtime
    deploy(rt, DEFAULT_PROCESSES_DIR / "tour_operation.bpmn")
    _users(rt, ("guide_zhao", ["guide", "staff"], {}))
    rt.start("tour_operation", {"tour_id": "JQ-20261125-0007", "guide_user": "guide1"}, actor="sales1")
    rt.start("tour_operation", {"tour_id": TOUR, "guide_user": "guide_zhao"}, actor="sales1")
    walk = Walk(rt)
    task = _during_tour(walk)
    assert (task["lane"], task["assignee"]) == ("guide", "guide_zhao")
    assert rt.show(walk.id)["data"]["tour_guide"] == {"guide_user": "guide_zhao", "found_in": "tour_operation"}
    assert rt.tasks(user="guide1", instance_id=walk.id) == [], "another tour's guide does not get it"
    with pytest.raises(TaskConflict, match="claimed by guide_zhao"):
        rt.complete(task["id"], "guide1", {"resolved_locally": True, "local_action": "换酒店"})
    rt.complete(task["id"], "guide_zhao", {"resolved_locally": True, "local_action": "当晚更换同级酒店"})
    assert walk.open_tasks()["file_local_resolution"]["assignee"] == "guide_zhao"


def test_a_finished_tour_s_guide_is_found_in_its_archive_and_an_unknown_tour_goes_to_the_lane(complaint_runtime):
    rt = complaint_runtime
    with rt.db.write() as session, session.begin():
        session.add(ArchiveRecord(idempotency_key="test:tour", instance_id=0, kind="tour", ref=TOUR,
                                  summary=TOUR, payload={"guide_user": "guide1"}, archived_at=utcnow()))
    archived = Walk(rt)
    assert _during_tour(archived)["assignee"] == "guide1"
    unknown = Walk(rt)
    unknown.do("receive_complaint", "agent1", **{**COMPLAINT, "tour_id": "JQ-UNKNOWN"})
    task = unknown.open_tasks()["resolve_locally"]
    assert (task["lane"], task["assignee"]) == ("guide", None), "no guide known: the guide lane's"
    with rt.db.read() as session:
        assert session.execute(select(ArchiveRecord.ref)).scalars().all() == [TOUR], "the lookup writes nothing"
