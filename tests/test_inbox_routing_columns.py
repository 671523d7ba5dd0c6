"""The routing keys desk and branch as columns (migration 0021): the database computes them from
`human_task.routing` in every write, so they equal the JSON's value in the same transaction, whoever
writes (ORM, Core, COPY, an UPDATE of the routing) and for rows older than the migration; the access
rule compares them, and a routed viewer's inbox equals the brute-force policy."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import func, insert, inspect, select, text, update

from engine.access.viewer import Viewer
from engine.bench import inbox as bench
from engine.run import inbox_counts, queries
from engine.run.inbox_stamp import inbox_stamp
from engine.run.queries import InboxFilter, inbox
from engine.store import audit
from engine.store.db import SCHEMA_HEAD, Database, alembic_config
from engine.store.models import HumanTask

pytestmark = pytest.mark.both_databases
BEFORE = "0020_staff_alerts"
ROUTINGS = [{"desk": "邮轮", "branch": "北京"}, {}, {"desk": None}, {"branch": "上海"}, {"desk": "旅游"},
            {"responsible_department": "财务"}, {"desk": 7}, {"desk": "邮轮"}]


def mismatches(session) -> int:
    """Rows whose routing column differs from the JSON's value (as the rule compared it before 0021)."""
    differs = [HumanTask.route_desk.is_distinct_from(HumanTask.routing["desk"].as_string()),
               HumanTask.route_branch.is_distinct_from(HumanTask.routing["branch"].as_string())]
    return sum(session.execute(select(func.count()).where(one)).scalar_one() for one in differs)


def set_routings(session, tasks: int) -> None:
    """Give the seeded rows the routings above in turn, by Core UPDATEs of the JSON alone."""
    for i in range(tasks):
        session.execute(update(HumanTask).where(HumanTask.id == bench.FIRST_ID + i)
                        .values(routing=ROUTINGS[i % len(ROUTINGS)]))


def test_the_columns_follow_every_write_of_the_routing_in_its_transaction(db_url):
    db = Database(db_url)
    bench.seed(db, 16)
    with db.write() as session, session.begin():
        set_routings(session, 8)  # Core UPDATE
        task = session.get(HumanTask, bench.FIRST_ID + 8)
        task.routing = {"desk": "自由行", "branch": "广州"}  # ORM UPDATE
        row = {**bench.task_row(100, bench.utcnow()), "instance_id": bench.FIRST_ID, "routing": {"branch": "深圳"}}
        session.execute(insert(HumanTask), [row])  # Core INSERT
        session.flush()
        assert mismatches(session) == 0  # before the commit: the same transaction
        assert session.get(HumanTask, bench.FIRST_ID + 8).route_desk == "自由行"
        assert session.execute(select(HumanTask.route_desk, HumanTask.route_branch)
                               .where(HumanTask.id == bench.FIRST_ID + 100)).one() == (None, "深圳")
    with db.read() as session:
        assert mismatches(session) == 0
        assert session.execute(select(func.count()).where(HumanTask.route_desk.is_not(None))).scalar_one() > 8
    db.dispose()


def sees(viewer: Viewer, row) -> bool:
    return row.lane in viewer.roles and all((row.routing or {}).get(k) in (None, v) for k, v in viewer.attributes.items())


@pytest.mark.parametrize("attributes", [{"desk": "邮轮"}, {"branch": "北京"}, {"desk": "邮轮", "branch": "上海"},
                                        {"responsible_department": "财务"}])
def test_a_routed_viewer_sees_their_routing_and_none_as_the_policy_says(db_url, attributes):
    db = Database(db_url)
    bench.seed(db, 64)
    with db.write() as session, session.begin():
        set_routings(session, 64)
    viewer = Viewer("agent2", frozenset({"agent", "staff", "qc", "guide"}), attributes)
    inbox_counts.clear()
    with db.read() as session:
        rows = session.execute(select(HumanTask).where(HumanTask.state == "ready")).scalars().all()
        expected = {r.id for r in rows if sees(viewer, r) and r.assignee in (None, "agent2")}
        found = inbox(session, viewer, InboxFilter(per_page=100))
        assert {item["id"] for item in found["items"]} == expected
        assert found["total"] == len(expected)
        visible = [r for r in rows if sees(viewer, r)]
        assert found["counts"]["all"] == inbox_stamp(session, viewer).open == len(visible)
        assert found["counts"]["by_lane"] == {lane: sum(1 for r in visible if r.lane == lane)
                                              for lane in {r.lane for r in visible}}
        desk = inbox(session, viewer, InboxFilter(per_page=100, routing={"desk": "邮轮"}))
        assert {item["id"] for item in desk["items"]} == {
            i for i in expected if session.get(HumanTask, i).routing.get("desk") == "邮轮"}
    db.dispose()


def test_the_migration_fills_the_columns_of_older_rows_and_goes_down_again(empty_db_url):
    cfg = alembic_config(empty_db_url)
    command.upgrade(cfg, BEFORE)
    db = Database(empty_db_url)
    bench.seed(db, 24)
    with db.write() as session, session.begin():
        set_routings(session, 24)
    command.upgrade(cfg, "head")
    assert db.schema_revision() == SCHEMA_HEAD
    with db.read() as session:
        assert mismatches(session) == 0
        assert session.execute(select(func.count()).where(HumanTask.route_desk == "邮轮")).scalar_one() == 6
    command.downgrade(cfg, BEFORE)
    with db.engine.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("human_task")}
        assert not {"route_desk", "route_branch"} & columns
        assert conn.execute(text("SELECT count(*) FROM human_task")).scalar_one() == 24
    command.upgrade(cfg, "head")
    with db.read() as session:
        assert mismatches(session) == 0
    db.dispose()


def test_the_stamp_sees_a_task_come_in_while_another_leaves(db_url):
    """Count and newest id unchanged: the write that brings a task into the viewer's routing is audited
    on its instance (as every writer's is), and that event is the newest of their instances."""
    db = Database(db_url)
    bench.seed(db, 24)
    viewer = Viewer("agent2", frozenset(bench.LANES), {"desk": "邮轮"})
    with db.read() as session:
        before = inbox_stamp(session, viewer)
        mine = session.execute(select(HumanTask.id, HumanTask.instance_id).where(HumanTask.route_desk == "邮轮")
                               .order_by(HumanTask.id)).all()
        other = session.execute(select(HumanTask.id, HumanTask.instance_id).where(HumanTask.route_desk == "旅游")
                                .order_by(HumanTask.id)).first()
    assert other.id < before.newest_task_id and mine[0].id < before.newest_task_id
    with db.write() as session, session.begin():
        session.execute(update(HumanTask).where(HumanTask.id == mine[0].id).values(routing={"desk": "旅游"}))
        session.execute(update(HumanTask).where(HumanTask.id == other.id).values(routing={"desk": "邮轮"}))
        for task in (mine[0], other):
            audit.append(session, kind="task_routed", actor="test", at=bench.utcnow(), payload={"task": task.id},
                         instance_id=task.instance_id)
    with db.read() as session:
        after = inbox_stamp(session, viewer)
    assert (after.open, after.newest_task_id) == (before.open, before.newest_task_id)
    assert after.digest != before.digest
    db.dispose()


def test_the_desks_of_open_tasks_are_those_of_their_routing(db_url):
    db = Database(db_url)
    bench.seed(db, 40)
    with db.write() as session, session.begin():
        set_routings(session, 16)  # the first 16: the routings above (a desk of 7, none, null); others 3 desks
        session.execute(update(HumanTask).where(HumanTask.id == bench.FIRST_ID + 4).values(state="completed"))
    with db.read() as session:
        rows = session.execute(select(HumanTask).where(HumanTask.state == "ready")).scalars().all()
        expected = sorted({str(r.routing["desk"]) for r in rows if r.routing.get("desk") is not None})
        assert queries.routing_values(session, "desk") == expected
        assert queries.routing_values(session, "branch") == ["上海", "北京"]
    db.dispose()
