"""Moving running instances to another version: waiting nodes keep their place by id, renamed ones
need a mapping, refusals name the node, a dry run changes nothing, and the move replays (the
runtime fixture replays every instance after each test and fails on any difference)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from engine.clock import frozen_at, iso_z
from engine.errors import FormInvalid, NotAllowed
from engine.run.migration import MigrationRefused
from engine.store.models import Job
from engine.store.states import JobState
from tests.support.versions import (
    INTO_SUPERVISOR_LANE,
    LONGER_SLA,
    NEW_START,
    RENAMED_END,
    RENAMED_TASK,
    REQUEST,
    T0,
    TO_SUPERVISOR,
    deploy_minimal,
    variant,
)

pytestmark = pytest.mark.both_databases

@pytest.fixture
def deploy_versions(runtime):
    return lambda *variants: deploy_minimal(runtime, *variants)


def _waiting(runtime, instance_id: int) -> list[tuple[str, str, str | None]]:
    return [(t["task"], t["lane"], t["assignee"]) for t in runtime.tasks(instance_id=instance_id)]


def _timer_due(runtime, instance_id: int) -> list[datetime]:
    with runtime.db.read() as session:
        return [j.due_at for j in session.execute(select(Job).where(
            Job.instance_id == instance_id, Job.state == JobState.PENDING)).scalars()]


def test_a_waiting_task_moves_by_id_keeps_its_row_and_its_unchanged_timer(runtime, deploy_versions):
    deploy_versions(variant(RENAMED_END))
    with frozen_at(T0):
        instance = runtime.start("minimal_ok", version=1)
        [task] = runtime.tasks(instance_id=instance)
        runtime.claim(task["id"], "agent1")
    with frozen_at(T0 + timedelta(minutes=20)):
        report = runtime.migrate_instances("minimal_ok", 1, 2, "owner1", "结束节点改名")
    assert report["migrated"] == 1
    assert report["instances"] == [{"instance_id": instance, "ok": True, "moved": [], "tasks": [], "reason": None}]
    assert runtime.show(instance)["version"] == 2
    assert _waiting(runtime, instance) == [("fill_request", "staff", "agent1")]
    assert _timer_due(runtime, instance) == [T0 + timedelta(hours=1)], "the one-hour timer did not restart"
    [event] = [e for e in runtime.events(instance) if e["kind"] == "instance_migrated"]
    assert (event["actor"], event["payload"]["from_version"], event["payload"]["to_version"],
            event["payload"]["reason"]) == ("owner1", 1, 2, "结束节点改名")
    with frozen_at(T0 + timedelta(minutes=30)):
        runtime.complete(task["id"], "agent1", REQUEST)
    assert runtime.show(instance)["status"] == "completed"
    kinds = [e["kind"] for e in runtime.events(instance)]
    assert kinds.index("instance_migrated") < kinds.index("task_completed") < kinds.index("instance_completed")


def test_a_changed_timer_is_read_again_from_the_new_version(runtime, deploy_versions):
    deploy_versions(variant(LONGER_SLA))
    with frozen_at(T0):
        instance = runtime.start("minimal_ok", version=1)
    moved_at = T0 + timedelta(minutes=10)
    with frozen_at(moved_at):
        runtime.migrate_instances("minimal_ok", 1, 2, "owner1", "时限改为两小时")
    assert _timer_due(runtime, instance) == [moved_at + timedelta(hours=2)]
    assert runtime.tasks(instance_id=instance)[0]["due_at"] == iso_z(moved_at + timedelta(hours=2))
    with frozen_at(moved_at + timedelta(hours=2, seconds=1)):
        runtime.tick()
    assert sorted(t[0] for t in _waiting(runtime, instance)) == ["escalate", "fill_request"]


def test_a_renamed_waiting_task_needs_a_mapping_and_its_new_lane_frees_it(runtime, deploy_versions):
    renamed = variant(*RENAMED_TASK, TO_SUPERVISOR, INTO_SUPERVISOR_LANE)
    deploy_versions(renamed)
    with frozen_at(T0):
        instance = runtime.start("minimal_ok", version=1)
        runtime.claim(runtime.tasks(instance_id=instance)[0]["id"], "agent1")
        refused = runtime.migrate_instances("minimal_ok", 1, 2, "owner1", "改名")
    [result] = refused["instances"]
    assert (refused["migrated"], result["ok"]) == (0, False)
    assert result["reason"] == ("it waits at 填写需求 (fill_request), which the target version does not have: "
                                "map it to a node")
    assert runtime.show(instance)["version"] == 1 and _waiting(runtime, instance) == [
        ("fill_request", "staff", "agent1")]
    with frozen_at(T0 + timedelta(minutes=5)):
        done = runtime.migrate_instances("minimal_ok", 1, 2, "owner1", "改名", {"fill_request": "fill_request_v2"})
    [result] = done["instances"]
    assert result["moved"] == [{"from": "fill_request", "to": "fill_request_v2", "name": "填写需求", "state": "waiting"}]
    [change] = result["tasks"]
    assert (change["task"], change["lane"], change["assignee"], change["was"]) == (
        "fill_request_v2", "supervisor", None, {"task": "fill_request", "lane": "staff", "assignee": "agent1"})
    assert _waiting(runtime, instance) == [("fill_request_v2", "supervisor", None)]
    task = runtime.tasks(instance_id=instance)[0]
    with pytest.raises(NotAllowed):
        runtime.complete(task["id"], "agent1", REQUEST)
    with frozen_at(T0 + timedelta(minutes=6)):
        runtime.complete(task["id"], "supervisor1", REQUEST)
    assert runtime.show(instance)["status"] == "completed"


def test_a_node_the_instance_passed_must_exist_or_be_mapped(runtime, deploy_versions):
    deploy_versions(variant(*NEW_START))
    with frozen_at(T0):
        instance = runtime.start("minimal_ok", version=1)
        [result] = runtime.migrate_instances("minimal_ok", 1, 2, "owner1", "x")["instances"]
        assert "it passed 收到需求 (start_event)" in result["reason"]
        [result] = runtime.migrate_instances("minimal_ok", 1, 2, "owner1", "x", {"start_event": "start"})["instances"]
    assert result["ok"] and runtime.show(instance)["version"] == 2
    assert result["moved"] == [{"from": "start_event", "to": "start", "name": "收到需求", "state": "passed"}]


def test_a_dry_run_reports_without_changing_anything(runtime, deploy_versions):
    deploy_versions(variant(*RENAMED_TASK, TO_SUPERVISOR, INTO_SUPERVISOR_LANE))
    with frozen_at(T0):
        first, second = runtime.start("minimal_ok", version=1), runtime.start("minimal_ok", version=1)
        events_before = len(runtime.events(first))
        report = runtime.migrate_instances("minimal_ok", 1, 2, "owner1", "试运行", {"fill_request": "fill_request_v2"},
                                           dry_run=True)
    assert (report["dry_run"], report["migrated"], [r["instance_id"] for r in report["instances"]]) == (
        True, 2, [first, second])
    assert all(r["moved"][0]["to"] == "fill_request_v2" for r in report["instances"])
    assert runtime.show(first)["version"] == 1 and len(runtime.events(first)) == events_before
    assert _waiting(runtime, first) == [("fill_request", "staff", None)]


def test_only_owners_migrate_and_bad_requests_are_named(runtime, deploy_versions):
    deploy_versions(variant(RENAMED_END))
    instance = runtime.start("minimal_ok", version=1)
    with pytest.raises(NotAllowed, match="deploy"):
        runtime.migrate_instances("minimal_ok", 1, 2, "agent1", "x")
    with pytest.raises(FormInvalid, match="mapping"):
        runtime.migrate_instances("minimal_ok", 1, 2, "owner1", "x", {"fill_request": 3})
    with pytest.raises(FormInvalid, match="reason"):
        runtime.migrate_instances("minimal_ok", 1, 2, "owner1", " ")
    with pytest.raises(MigrationRefused, match="on version 1 already"):
        runtime.migrate_instances("minimal_ok", 1, 1, "owner1", "x")
    with pytest.raises(MigrationRefused, match="has no node 'nope'"):
        runtime.migrate_instances("minimal_ok", 1, 2, "owner1", "x", {"nope": "fill_request"})
    with pytest.raises(MigrationRefused, match="a UserTask cannot become a EndEvent"):
        runtime.migrate_instances("minimal_ok", 1, 2, "owner1", "x", {"fill_request": "end_done"})
    report = runtime.migrate_instances("minimal_ok", 1, 2, "owner1", "x", instance_ids=[instance, 999999])
    assert [(r["instance_id"], r["ok"], r["reason"]) for r in report["instances"]] == [
        (instance, True, None), (999999, False, "no such instance")]
    again = runtime.migrate_instances("minimal_ok", 1, 2, "owner1", "x", instance_ids=[instance])
    assert again["instances"][0]["reason"] == f"instance {instance} is on version 2"
    assert json.loads(json.dumps(again))  # the report is plain JSON


def test_a_timer_overdue_at_migration_fires_in_the_migration_and_what_it_starts_runs(runtime, deploy_versions):
    """No worker fired the one-hour timer before the owner migrated: the migration's step fires it,
    records it, and the escalation it starts is open at once (replay follows: runtime fixture)."""
    deploy_versions(variant(RENAMED_END))
    with frozen_at(T0):
        instance = runtime.start("minimal_ok", version=1)
    with frozen_at(T0 + timedelta(hours=2)):
        runtime.migrate_instances("minimal_ok", 1, 2, "owner1", "迁移时计时器已到期")
    kinds = [(e["kind"], e["payload"].get("task") or e["payload"].get("timer")) for e in runtime.events(instance)]
    migrated = kinds.index(("instance_migrated", None))
    assert kinds[migrated + 1:migrated + 4] == [("timer_fired", "fill_request_sla"), ("sla_breached", "fill_request"),
                                                ("task_ready", "escalate")]
    assert sorted(t["task"] for t in runtime.tasks(instance_id=instance)) == ["escalate", "fill_request"]
    assert _timer_due(runtime, instance) == []
