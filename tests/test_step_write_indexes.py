"""Migration 0022 dropped the indexes another index serves (docs/performance.md, "Round 4: the indexes
each step writes"): the schema at 0022 holds exactly the remaining ones on each database, goes down to
0021's and up again, and every statement that read a dropped human_task index still reads an index, on
both databases (tests/support/query_plans.py). Its merged audit index by kind gave way in 0023: the audit
readers' plans are tests/test_audit_kind_index.py's."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect

from engine.bench import inbox as inbox_bench
from engine.bench.core import prepare
from engine.bench.inbox_plans import inbox_plans
from engine.clock import utcnow
from engine.run import queries
from engine.store.db import Database, alembic_config
from tests.support.bench_instances import user_task_and_chain
from tests.support.query_plans import plans_of, reads_index, sent

pytestmark = pytest.mark.both_databases
BEFORE = "0021_inbox_routing"
AFTER = "0022_step_write_indexes"
HUMAN_TASK_AFTER = {"ix_human_task_instance_state", "ix_human_task_process_id", "ix_human_task_state_assignee",
                    "ix_human_task_state_created", "ix_human_task_state_desk", "ix_human_task_state_due_id",
                    "ix_human_task_state_lane_due"}
DROPPED_FROM_HUMAN_TASK = {"ix_human_task_assignee", "ix_human_task_instance_id"}
AUDIT_EVENT_AFTER = {"ix_audit_event_actor_instance", "ix_audit_event_kind_instance"}
AUDIT_EVENT_BEFORE = {"ix_audit_event_actor_instance", "ix_audit_event_instance_id", "ix_audit_event_kind"}


def index_names(conn, table: str) -> set[str]:
    """The table's indexes, without those of its unique constraints (which PostgreSQL lists too)."""
    return {index["name"] for index in inspect(conn).get_indexes(table) if "duplicates_constraint" not in index}


def test_the_indexes_after_0022_and_down_to_0021_and_up_again(empty_db_url):
    db = Database(empty_db_url)
    cfg = alembic_config(empty_db_url)
    command.upgrade(cfg, AFTER)
    open_index = {"ix_human_task_open"} if db.engine.dialect.name == "postgresql" else set()
    with db.engine.connect() as conn:
        assert index_names(conn, "human_task") == HUMAN_TASK_AFTER | open_index
        assert index_names(conn, "audit_event") == AUDIT_EVENT_AFTER
    command.downgrade(cfg, BEFORE)
    with db.engine.connect() as conn:
        assert index_names(conn, "human_task") == HUMAN_TASK_AFTER | DROPPED_FROM_HUMAN_TASK | {"ix_human_task_open"}
        assert index_names(conn, "audit_event") == AUDIT_EVENT_BEFORE
    command.upgrade(cfg, AFTER)
    with db.engine.connect() as conn:
        assert index_names(conn, "human_task") == HUMAN_TASK_AFTER | open_index
        assert index_names(conn, "audit_event") == AUDIT_EVENT_AFTER
    db.dispose()


@pytest.fixture
def finished_instances(runtime):
    """Two bench instances: a user task completed, a service chain (their events, their task row)."""
    rt = prepare(runtime.db)
    return rt, list(user_task_and_chain(rt))


def test_the_human_task_readers_by_instance_read_the_instance_state_index(finished_instances):
    rt, ids = finished_instances
    with sent(rt.db) as statements, rt.db.read() as session:
        assert len(queries.instance_tasks(session, ids[0])) == 1
    texts = plans_of(rt.db, statements, "human_task")
    assert texts and all(reads_index(t, "human_task", "ix_human_task_instance_state") for t in texts), texts


def test_the_inbox_readers_by_assignee_read_an_index(db_url):
    """The seeded inbox rows have no audit record: the plain database, not the replay-checked runtime."""
    db = Database(db_url)
    inbox_bench.seed(db, 40)
    for viewer in (inbox_bench.AGENT, inbox_bench.AUDITOR):
        with db.read() as session:
            if db.engine.dialect.name == "postgresql":
                session.connection().exec_driver_sql("SET enable_seqscan = off")
            plans = inbox_plans(session, viewer, utcnow())
        assert plans["mine"]["indexes"] and not plans["mine"]["full_scan"], plans["mine"]["plan"]
        # the stamp's claimed figure compares the assignee with the state: (state, assignee, lane)
        assert "ix_human_task_state_assignee" in plans["stamp"]["indexes"], plans["stamp"]["plan"]
    db.dispose()
