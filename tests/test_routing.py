"""Routing is the process's: a process that declares its own routing key (tests/fixtures/routing:
`routingKeys="region"`) routes its tasks by it with no code change; migration 0009 moves the
agency's desk and branch columns into `human_task.routing` and `user_account.attributes`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from engine.access.policy import TaskFacts, viewer_named
from engine.access.users import create_user
from engine.bpmn.lint import lint_bytes, lint_file
from engine.errors import NotAllowed
from engine.run import queries
from engine.store.db import Database, alembic_config
from engine.store.models import HumanTask, User
from tests.support.world import deploy

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "routing" / "region_flow.bpmn"


@pytest.fixture
def region_runtime(runtime):
    deploy(runtime, FIXTURE)
    with runtime.db.write() as session, session.begin():
        create_user(session, "north1", "north1", ["staff"], attributes={"region": "north"})
        create_user(session, "south1", "south1", ["staff"], attributes={"region": "south"})
    return runtime


def test_a_process_routes_its_tasks_by_the_key_it_declares(region_runtime):
    rt = region_runtime
    instance = rt.start("region_flow", {"region": "north", "desk": "旅游", "requester": "林小雨"})
    [task] = rt.tasks(instance_id=instance)
    assert task["routing"] == {"region": "north"}, "desk is no routing key of this process"
    assert task["summary"] == {"requester": "林小雨", "region": "north"}
    assert [t["id"] for t in rt.tasks(user="north1")] == [task["id"]]
    assert rt.tasks(user="south1") == []
    assert [t["id"] for t in rt.tasks(user="agent1")] == [task["id"]], "agent1's desk routes no task of this process"
    with rt.db.read() as session:
        north, south = viewer_named(session, "north1"), viewer_named(session, "south1")
        assert queries.inbox(session, south, queries.InboxFilter())["total"] == 0
        assert queries.inbox(session, north, queries.InboxFilter(routing={"region": "north"}))["total"] == 1
        assert queries.inbox(session, north, queries.InboxFilter(routing={"region": "south"}))["total"] == 0
        assert queries.routing_values(session, "region") == ["north"]
        assert [u["username"] for u in queries.task_workers(session, TaskFacts.of(task))] == [
            "agent1", "agent2", "agent3", "guide1", "north1", "operator1", "receptionist1", "sales1", "sales2",
            "sales3"], "every staff holder but the south's"
    with pytest.raises(NotAllowed, match=f"task {task['id']} belongs to region north; south1 works at region south"):
        rt.complete(task["id"], "south1", {"note": "不是我的区域"})
    rt.complete(task["id"], "north1", {"note": "已处理"})
    assert rt.show(instance)["status"] == "completed"


def test_a_task_without_a_value_of_the_key_is_everyone_s_in_its_lane(region_runtime):
    rt = region_runtime
    instance = rt.start("region_flow", {"requester": "王小明", "region": ""})
    [task] = rt.tasks(instance_id=instance)
    assert task["routing"] == {}
    assert [t["id"] for t in rt.tasks(user="south1")] == [task["id"]]
    assert [t["id"] for t in rt.tasks(user="north1")] == [task["id"]]
    rt.complete(task["id"], "south1", {"note": "已处理"})


def test_lint_checks_that_the_process_keys_name_data_keys():
    assert lint_file(FIXTURE) == []
    text = FIXTURE.read_text(encoding="utf-8").replace('value="region"', 'value="region, my-desk, typename"')
    findings = [f for f in lint_bytes(text.encode("utf-8"), FIXTURE.name, FIXTURE.parent / "forms" / "region_flow")
                if f.rule == "process-keys"]
    assert [f.message for f in findings] == [
        f"routingKeys of process 'region_flow' lists {key!r}: a comma-separated list of data keys (identifiers)"
        for key in ("my-desk", "typename")]


# ---- migration 0009 ----------------------------------------------------------------------------
@pytest.mark.both_databases
def test_migration_0009_moves_desk_and_branch_into_attributes_and_routing(empty_db_url):
    cfg = alembic_config(empty_db_url)
    command.upgrade(cfg, "0008")
    db = Database(empty_db_url)
    now = datetime(2026, 12, 1, 8, 0)
    with db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO user_account (id, username, display_name, password_hash, active, desk, branch_code, created_at) "
            "VALUES (1, 'agent1', 'a', 'x', :yes, '邮轮', NULL, :now), (2, 'sales3', 's', 'x', :yes, NULL, 'HZ01', :now), "
            "(3, 'qc1', 'q', 'x', :yes, NULL, NULL, :now), (4, 'both', 'b', 'x', :yes, '旅游', 'SH01', :now)"),
            {"yes": True, "now": now})
        conn.execute(text(
            "INSERT INTO deployment (id, process_id, version, name, sha256, filename, bpmn_xml, forms, node_lanes, "
            "deployed_at, deployed_by) VALUES (1, 'p', 1, 'p', 'x', 'p.bpmn', '<x/>', '{}', '{}', :now, 'owner1')"),
            {"now": now})
        conn.execute(text(
            "INSERT INTO process_instance (id, deployment_id, process_id, status, serialized, data, started_at, "
            "started_by, lock_version) VALUES (1, 1, 'p', 'running', '{}', '{}', :now, 'system', 1)"), {"now": now})
        conn.execute(text(
            "INSERT INTO human_task (id, instance_id, spiff_task_id, process_id, desk, branch, task, name, lane, state, "
            "created_at, summary) VALUES "
            "(1, 1, 's1', 'p', '旅游', 'HZ01', 't', 'n', 'staff', 'ready', :now, '{}'), "
            "(2, 1, 's2', 'p', '邮轮', NULL, 't', 'n', 'agent', 'ready', :now, '{}'), "
            "(3, 1, 's3', 'p', NULL, 'SH02', 't', 'n', 'sales', 'ready', :now, '{}'), "
            "(4, 1, 's4', 'p', NULL, NULL, 't', 'n', 'staff', 'ready', :now, '{}')"), {"now": now})
    command.upgrade(cfg, "head")
    with Session(db.engine) as session:
        assert list(session.execute(select(User.username, User.attributes).order_by(User.id))) == [
            ("agent1", {"desk": "邮轮"}), ("sales3", {"branch": "HZ01"}), ("qc1", {}),
            ("both", {"desk": "旅游", "branch": "SH01"})]
        assert list(session.scalars(select(HumanTask.routing).order_by(HumanTask.id))) == [
            {"desk": "旅游", "branch": "HZ01"}, {"desk": "邮轮"}, {"branch": "SH02"}, {}]
    command.downgrade(cfg, "0008")
    with db.engine.connect() as conn:
        assert list(conn.execute(text("SELECT username, desk, branch_code FROM user_account ORDER BY id"))) == [
            ("agent1", "邮轮", None), ("sales3", None, "HZ01"), ("qc1", None, None), ("both", "旅游", "SH01")]
        assert list(conn.execute(text("SELECT desk, branch FROM human_task ORDER BY id"))) == [
            ("旅游", "HZ01"), ("邮轮", None), (None, "SH02"), (None, None)]
    db.dispose()
