"""Deterministic replay: the record explains the stored state, and a replay notices when it does not.

(Every test that uses the `runtime` fixture also replays all its instances afterwards: see
tests/conftest.py. These tests check the replay itself: its snapshots, and that it fails.)
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import text, update

from engine.clock import frozen_at, utcnow
from engine.history.replay import replay
from engine.store.models import ProcessInstance
from tests.support.complaint import COMPLAINT, MONDAY_10, Walk
from tests.support.tamper import drop_guards, forge_task_data, forge_task_row
from tests.support.world import add_qc_user

pytestmark = pytest.mark.both_databases


def _walk_to_archive(rt) -> Walk:
    walk = Walk(rt)
    walk.do("receive_complaint", "agent1", **{**COMPLAINT, "time_class": "旅游后"})
    walk.do("investigate_facts", "qc1", facts="事实")
    walk.do("determine_responsibility", "qc1", responsible_department="计调部")
    return walk


def test_a_complaint_replays_identical_with_a_snapshot_per_event(complaint_runtime):
    walk = _walk_to_archive(complaint_runtime)
    result = replay(complaint_runtime, walk.id)
    assert (result.identical, result.difference) == (True, None)
    events = complaint_runtime.events(walk.id)
    assert [s["seq"] for s in result.snapshots] == [e["seq"] for e in events]
    first, last = result.snapshots[0], result.snapshots[-1]
    assert (first["kind"], first["active"]) == ("instance_started", [])  # it starts on its start message
    assert (result.snapshots[1]["kind"], result.snapshots[1]["active"]) == ("message_received", ["receive_complaint"])
    assert {"receive_complaint", "investigate_facts", "determine_responsibility"} <= set(last["completed"])
    assert last["active"] == ["make_handling_plan"]
    assert last["data"]["responsible_department"] == "计调部"
    received = next(s for s in result.snapshots if s["kind"] == "task_completed")
    assert received["data"]["customer_name"] == COMPLAINT["customer_name"]


def test_a_timer_and_its_sla_replay_at_their_recorded_moments(complaint_runtime):
    start = MONDAY_10  # a working morning: the working hour ends at 11:00
    with frozen_at(start):
        walk = Walk(complaint_runtime)
    fired = complaint_runtime.tick(start + timedelta(hours=2))
    assert fired, "the 1-hour report deadline fired"
    result = replay(complaint_runtime, walk.id)
    assert result.identical, result.difference
    assert "sla_breached" in [s["kind"] for s in result.snapshots]


def test_a_clock_set_in_china_time_records_utc_and_replays_identical(complaint_runtime):
    """A moment given with +08:00 (as staff and tests think of it) is the same instant in UTC:
    events, due dates and the replay all read it as such."""
    from datetime import UTC, datetime, timezone

    shanghai = timezone(timedelta(hours=8))
    with frozen_at(datetime(2026, 11, 23, 10, 0, tzinfo=shanghai)):
        walk = Walk(complaint_runtime)
        walk.do("receive_complaint", "agent1", **{**COMPLAINT, "time_class": "旅游后"})
        assert utcnow() == datetime(2026, 11, 23, 2, 0, tzinfo=UTC) and utcnow().utcoffset() == timedelta(0)
    events = complaint_runtime.events(walk.id)
    assert {e["at"] for e in events} == {"2026-11-23T02:00:00.000000Z"}
    result = replay(complaint_runtime, walk.id)
    assert result.identical, result.difference


@pytest.mark.no_replay_check
def test_changed_stored_data_is_a_difference(complaint_runtime):
    walk = _walk_to_archive(complaint_runtime)
    with complaint_runtime.db.write() as session, session.begin():
        instance = session.get(ProcessInstance, walk.id)
        session.execute(update(ProcessInstance).where(ProcessInstance.id == walk.id)
                        .values(data={**instance.data, "responsible_department": "导游"}))
    result = replay(complaint_runtime, walk.id)
    assert not result.identical
    assert "'responsible_department': replay '计调部', stored '导游'" in result.difference


@pytest.mark.no_replay_check
def test_a_stored_state_the_record_cannot_explain_is_a_difference(complaint_runtime):
    walk = _walk_to_archive(complaint_runtime)
    other = Walk(complaint_runtime)  # a state one step earlier than walk's, spliced into walk's row
    other.do("receive_complaint", "agent1", **{**COMPLAINT, "time_class": "旅游后"})
    with complaint_runtime.db.write() as session, session.begin():
        serialized = session.get(ProcessInstance, other.id).serialized
        session.execute(update(ProcessInstance).where(ProcessInstance.id == walk.id).values(serialized=serialized))
    result = replay(complaint_runtime, walk.id)
    assert not result.identical
    assert "the replayed nodes differ from the stored instance" in result.difference
    assert "determine_responsibility" in result.difference


@pytest.mark.no_replay_check
def test_an_edited_submission_is_caught_at_its_event(complaint_runtime):
    walk = _walk_to_archive(complaint_runtime)
    drop_guards(complaint_runtime)
    event = next(e for e in complaint_runtime.events(walk.id)
                 if e["kind"] == "task_completed" and e["payload"]["task"] == "receive_complaint")
    payload = dict(event["payload"])
    payload["submitted"] = {**payload["submitted"], "time_class": "旅游中"}  # an in-tour complaint goes elsewhere
    with complaint_runtime.db.write() as session, session.begin():
        session.execute(text("UPDATE audit_event SET payload = :p WHERE stream = :s AND seq = :q"),
                        {"p": json.dumps(payload, ensure_ascii=False), "s": f"instance:{walk.id}", "q": event["seq"]})
    result = replay(complaint_runtime, walk.id)
    assert not result.identical
    assert result.difference.startswith(f"event #{event['seq']} (task_completed): completing 'receive_complaint'")
    assert "旅游中" in result.difference and "旅游后" in result.difference


def test_tourflow_replay_exit_codes(complaint_runtime, cli):
    walk = _walk_to_archive(complaint_runtime)
    ok = cli.run("replay", str(walk.id), check=True)
    assert "identical after replaying" in ok.stdout
    as_json = cli.json("replay", str(walk.id))
    assert as_json["identical"] is True and len(as_json["snapshots"]) == as_json["events"]
    missing = cli.run("replay", "999")
    assert missing.returncode == 1 and "instance 999 does not exist" in missing.stderr
    with complaint_runtime.db.write() as session, session.begin():
        session.execute(update(ProcessInstance).where(ProcessInstance.id == walk.id).values(status="completed"))
    differs = cli.run("replay", str(walk.id))
    assert differs.returncode == 1 and "the stored instance is completed" in differs.stderr
    with complaint_runtime.db.write() as session, session.begin():  # put it back for the replay check
        session.execute(update(ProcessInstance).where(ProcessInstance.id == walk.id).values(status="running"))


def test_handler_calls_are_fed_from_the_record_and_snapshotted(timer_runtime):
    """A service task's handler is not called again: its recorded output is fed back."""
    from datetime import UTC, datetime

    from tests.support.timers import effects, start_timers

    due = datetime.now(UTC) + timedelta(days=1)
    [instance_id] = start_timers(timer_runtime, 1, due)
    timer_runtime.tick(due)
    assert effects(timer_runtime) == {instance_id: 1}
    result = replay(timer_runtime, instance_id)
    assert result.identical, result.difference
    assert effects(timer_runtime) == {instance_id: 1}, "replaying wrote nothing"
    events = timer_runtime.events(instance_id)
    assert [s["seq"] for s in result.snapshots] == [e["seq"] for e in events]
    call = next(s for s in result.snapshots if s["kind"] == "handler_called")
    assert call["data"]["effect"]["attempt"] == 1 and "te_record" in call["completed"]


@pytest.mark.no_replay_check
def test_forged_data_of_the_waiting_task_is_named(complaint_runtime, cli):
    """The instance's summary data still agree; the waiting task's own data in the workflow do not."""
    walk = _walk_to_archive(complaint_runtime)
    forge_task_data(complaint_runtime, walk.id, "make_handling_plan", responsible_department="导游")
    result = replay(complaint_runtime, walk.id)
    assert not result.identical
    assert result.difference == ("at the end: task 'make_handling_plan': data 'responsible_department': "
                                 "stored \"导游\", replayed \"计调部\"")
    differs = cli.run("replay", str(walk.id))
    assert differs.returncode == 1 and "task 'make_handling_plan': data 'responsible_department'" in differs.stderr


@pytest.mark.no_replay_check
@pytest.mark.parametrize("column, value, shown", [("assignee", "qc1", "assignee: stored \"qc1\", recorded \"qc2\""),
                                                  ("lane", "staff", "lane: stored \"staff\", recorded \"qc\""),
                                                  ("state", "completed", "is open in the record, not stored open")])
def test_a_forged_task_row_is_named(complaint_runtime, column, value, shown):
    """The open rows are replayed from the record too: task_ready, then claims and reassignments."""
    rt = complaint_runtime
    walk = _walk_to_archive(rt)
    [task] = rt.tasks(instance_id=walk.id)
    rt.claim(task["id"], "qc1")
    add_qc_user(rt, "qc2")
    rt.reassign(task["id"], "qc1", "qc2", "休假")
    assert replay(rt, walk.id).identical
    forge_task_row(rt, task["id"], **{column: value})
    result = replay(rt, walk.id)
    assert not result.identical
    assert result.difference.startswith(f"at the end: human task {task['id']} ('make_handling_plan') ")
    assert shown in result.difference
