"""Migration 0022 dropped the indexes another index serves (docs/performance.md, "Round 4: the indexes
each step writes"): the schema holds exactly the remaining ones on each database, goes down to 0021's and
up again, and every statement that read a dropped index still reads an index, on both databases.

The plans are those of the statements the real functions send (captured as they run), explained with
their own parameters; PostgreSQL is told not to scan tables (a handful of rows would make a sequential
scan its cheapest plan), so the test asks whether an index serves the statement, not what a planner
picks at this size."""

from __future__ import annotations

from datetime import date

import pytest
from alembic import command
from sqlalchemy import inspect

from engine.bench import inbox as inbox_bench
from engine.bench.core import BENCH_USER, FORM_DATA, prepare
from engine.bench.inbox_plans import inbox_plans
from engine.clock import utcnow
from engine.run import incidents, queries
from engine.store import audit
from engine.store.db import Database, alembic_config
from engine.store.models import HumanTask
from engine.store.state_hash import recorded_hashes
from handlers.domain import kpi
from tests.support.captured import sent

pytestmark = pytest.mark.both_databases
BEFORE = "0021_inbox_routing"
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
    db.upgrade()
    open_index = {"ix_human_task_open"} if db.engine.dialect.name == "postgresql" else set()
    with db.engine.connect() as conn:
        assert index_names(conn, "human_task") == HUMAN_TASK_AFTER | open_index
        assert index_names(conn, "audit_event") == AUDIT_EVENT_AFTER
    cfg = alembic_config(empty_db_url)
    command.downgrade(cfg, BEFORE)
    with db.engine.connect() as conn:
        assert index_names(conn, "human_task") == HUMAN_TASK_AFTER | DROPPED_FROM_HUMAN_TASK | {"ix_human_task_open"}
        assert index_names(conn, "audit_event") == AUDIT_EVENT_BEFORE
    command.upgrade(cfg, "head")
    with db.engine.connect() as conn:
        assert index_names(conn, "human_task") == HUMAN_TASK_AFTER | open_index
        assert index_names(conn, "audit_event") == AUDIT_EVENT_AFTER
    db.dispose()


def plan(db: Database, statement: str, parameters) -> str:
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")
            rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters).all()
        else:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
        conn.rollback()
    return " | ".join(str(row[-1]) for row in rows)


def reads_index(text: str, table: str, index: str) -> bool:
    """The plan reads `index` and never walks `table` itself (SQLite SCAN without an index, a Seq Scan)."""
    walks = [part for part in text.split(" | ") if part.strip().startswith(f"SCAN {table}") and "INDEX" not in part]
    return index in text and not walks and f"Seq Scan on {table}" not in text


def plans_of(db: Database, statements, table: str) -> list[str]:
    return [plan(db, s, p) for s, p in statements if f"FROM {table}" in s or f"JOIN {table}" in s]


@pytest.fixture
def finished_instances(runtime):
    """Two bench instances: a user task completed, a service chain (their events, their task row)."""
    rt = prepare(runtime.db)
    user_task = rt.start("bench_user_task", actor=BENCH_USER)
    with rt.db.read() as session:
        task = session.query(HumanTask).filter_by(instance_id=user_task).one()
    rt.complete(task.id, BENCH_USER, FORM_DATA)
    chain = rt.start("bench_service_chain", actor=BENCH_USER)
    return rt, [user_task, chain]


def test_the_audit_readers_by_instance_and_by_kind_read_the_merged_index(finished_instances):
    rt, ids = finished_instances
    db = rt.db
    with sent(db) as statements, db.read() as session:
        assert set(recorded_hashes(session, ids)) == set(ids)
        assert incidents.incident_of(session, ids[0]) is None
        assert audit.has_event(session, "demo_loaded") is False
        kpi.report(session, date(2026, 1, 1), date(2027, 1, 1), "month")
    read = [p for p in plans_of(db, statements, "audit_event") if "ix_audit_event_actor_instance" not in p]
    assert len(read) >= 3, read  # the newest state_written events, "any demo_loaded", the KPI's SLA events
    for text in read:
        if any(by_key in text for by_key in ("audit_event_pkey", "audit_event_stream_seq_key",
                                                 "sqlite_autoindex_audit_event", "SEARCH audit_event USING INTEGER")):
            continue  # by stream or id: the unique (stream, seq) index and the key, untouched by 0022
        assert reads_index(text, "audit_event", "ix_audit_event_kind_instance"), text


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
