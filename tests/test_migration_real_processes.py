"""Migration on the agency's own processes: P9 itinerary_management waits in two parallel branches
(a change request with a departure boundary timer, and the one-week reminder timer) when it moves;
both timers keep their due times and the trip runs to its end on the new version (and replays)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.run.deployments import deploy_bytes
from engine.store.models import Job
from engine.store.states import JobState
from tests.support.itinerary import (
    BPMN,
    CONTRACT,
    DEPARTURE_AT,
    DRAFT,
    ENTRY,
    NEEDS,
    REMINDER_AT,
    TRIP_DONE_AT,
    Trip,
)
from tests.support.world import deploy

pytestmark = pytest.mark.both_databases


def _pending_timers(rt, instance_id: int) -> list[tuple[str, object]]:
    with rt.db.read() as session:
        return sorted((j.task, j.due_at) for j in session.execute(select(Job).where(
            Job.instance_id == instance_id, Job.state == JobState.PENDING)).scalars())


def test_a_confirmed_trip_moves_with_its_parallel_timers_and_finishes(runtime):
    deploy(runtime, BPMN)
    trip = Trip(runtime)
    trip.do("collect_requirements", "sales1", **NEEDS)
    trip.do("draft_itinerary", "operator1", **DRAFT)
    trip.do("review_itinerary", "manager1", review_approved=True, review_comment="同意")
    trip.do("confirm_with_customer", "sales1", customer_satisfied=True, customer_opinion="满意")
    trip.do("sign_contract", "sales1", **CONTRACT)
    trip.do("enter_itinerary", "operator1", **ENTRY)
    timers = _pending_timers(runtime, trip.id)
    assert [t for t, _ in timers] == ["departure_reached", "one_week_before"]

    text = BPMN.read_text(encoding="utf-8").replace('name="行程管理完毕"', 'name="行程管理结束"')
    with runtime.db.write() as session, session.begin():
        assert deploy_bytes(session, text.encode(), BPMN.name, BPMN.parent / "forms" / BPMN.stem,
                            "owner1").version == 2
    report = runtime.migrate_instances("itinerary_management", 1, 2, "owner1", "结束节点改名")
    assert report["instances"][0]["ok"], report
    assert runtime.show(trip.id)["version"] == 2
    assert _pending_timers(runtime, trip.id) == timers, "both timers keep their due times"
    assert set(trip.open_tasks()) == {"request_change"}

    assert [f["timer"] for f in runtime.tick(REMINDER_AT + timedelta(minutes=1))] == ["one_week_before"]
    trip.do("pre_departure_reminder", "agent2", at=REMINDER_AT + timedelta(hours=1), customer_reached=True,
            details_confirmed=True, materials_reminded=["身份证件"], reminder_note="集合时间已确认")
    assert [f["timer"] for f in runtime.tick(DEPARTURE_AT + timedelta(minutes=1))] == ["departure_reached"]
    assert [f["timer"] for f in runtime.tick(TRIP_DONE_AT + timedelta(minutes=1))] == ["trip_finished"]
    trip.do("collect_feedback", "agent2", at=TRIP_DONE_AT + timedelta(hours=1), feedback_channel="电话",
            satisfaction=5, feedback_class="表扬", feedback_text="导游讲解细致")
    trip.do("reply_feedback", "agent2", at=TRIP_DONE_AT + timedelta(hours=2), handling_result="已致谢",
            replied_via="电话", customer_satisfied_after=True)
    assert trip.status() == "completed"
