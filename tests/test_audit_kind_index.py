"""Migration 0023: the audit index by kind holds only the kinds read by kind (engine/store/audit_kinds.py),
so a step's own events write no entry in it; readers by instance go through the stream (docs/performance.md,
"Round 7: the audit index by kind").

The schema at the head and down to 0022's and up again, on both databases; then each reader's plan, from the
statements the real functions send (tests/support/query_plans.py): by kind, the partial index; by instance,
the unique (stream, seq) index; never a walk over the whole table."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import inspect, select, text

from engine.bench.core import BENCH_USER, prepare
from engine.clock import utcnow
from engine.outbox import queue
from engine.plugins.reads import EngineReads
from engine.run import incidents
from engine.store import audit
from engine.store.audit_kinds import READ_BY_KIND, READ_BY_KIND_SQL
from engine.store.db import SCHEMA_HEAD, Database, alembic_config
from engine.store.models import AuditEvent
from engine.store.state_hash import check_states, recorded_hashes
from handlers.domain import kpi
from tests.support.bench_instances import user_task_and_chain
from tests.support.incidents import FIXTURE as INCIDENT_FLOW
from tests.support.incidents import business
from tests.support.query_plans import plans_of, sent
from tests.support.world import deploy

pytestmark = pytest.mark.both_databases
BEFORE = "0022_step_write_indexes"
BY_KIND = "ix_audit_event_read_by_kind"
AUDIT_EVENT_HEAD = {"ix_audit_event_actor_instance", BY_KIND}
AUDIT_EVENT_BEFORE = {"ix_audit_event_actor_instance", "ix_audit_event_kind_instance"}
STEP_KINDS = {"instance_started", "task_ready", "task_completed", "handler_called", "instance_completed",
              "state_written"}


def audit_indexes(conn) -> dict[str, str]:
    """audit_event's own indexes (not its unique constraint's) -> their definition as the database has it."""
    names = {i["name"] for i in inspect(conn).get_indexes("audit_event") if "duplicates_constraint" not in i}
    if conn.dialect.name == "postgresql":
        rows = conn.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename='audit_event'"))
    else:
        rows = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE tbl_name = 'audit_event'"))
    return {name: sql for name, sql in rows if name in names}


def test_the_index_by_kind_is_partial_at_the_head_and_goes_down_to_0022_and_up_again(empty_db_url):
    db = Database(empty_db_url)
    db.upgrade()
    assert db.schema_revision() == SCHEMA_HEAD  # 0023 and everything after it
    with db.engine.connect() as conn:
        indexes = audit_indexes(conn)
    assert set(indexes) == AUDIT_EVENT_HEAD
    assert all(f"'{kind}'" in indexes[BY_KIND] for kind in READ_BY_KIND), indexes[BY_KIND]
    assert "WHERE" in indexes[BY_KIND].upper()
    cfg = alembic_config(empty_db_url)
    command.downgrade(cfg, BEFORE)
    with db.engine.connect() as conn:
        indexes = audit_indexes(conn)
    assert set(indexes) == AUDIT_EVENT_BEFORE
    assert "WHERE" not in indexes["ix_audit_event_kind_instance"].upper()
    command.upgrade(cfg, "head")
    with db.engine.connect() as conn:
        assert set(audit_indexes(conn)) == AUDIT_EVENT_HEAD
    db.dispose()


@pytest.fixture
def instances(runtime):
    """A user task completed, a service chain, a business incident (raised at once), a message without an
    instance: (runtime, {name: id})."""
    rt = prepare(runtime.db)
    user_task, chain = user_task_and_chain(rt)
    deploy(rt, INCIDENT_FLOW)
    incident = business(rt)
    with rt.db.write() as session, session.begin():
        message = queue.enqueue(session, kind="staff.alert", channel="log", recipient="ops", subject="s",
                                body="b", payload=None, idempotency_key="kind-index-test", now=utcnow()).id
    return rt, {"user_task": user_task, "chain": chain, "incident": incident, "message": message}


def audit_plans(db: Database, call) -> list[tuple[str, str]]:
    """(statement, plan) of each audit_event statement `call(session)` sends."""
    with sent(db) as statements, db.read() as session:
        call(session)
    read = [(s, p) for s, p in statements if "FROM audit_event" in s or "JOIN audit_event" in s]
    return list(zip([s for s, _ in read], plans_of(db, read, "audit_event"), strict=True))


def looks_up(plan_text: str, index: str) -> bool:
    """Every read of audit_event in the plan looks `index` up (SQLite SEARCH; PostgreSQL a scan of it with an
    Index Cond): no SCAN (even through an index), no Seq Scan, no other index."""
    parts = [part.strip() for part in plan_text.split(" | ")]
    if "cost=" in plan_text:
        reads = [part for part in parts if "Scan" in part and "audit_event" in part and "Bitmap Heap" not in part]
        return bool(reads) and all(index in part for part in reads) and "Index Cond" in plan_text
    reads = [part for part in parts if part.startswith(("SCAN audit_event", "SEARCH audit_event"))]
    return bool(reads) and all(part.startswith("SEARCH") and index in part for part in reads)


def by_stream(plan_text: str) -> bool:
    postgres = "cost=" in plan_text
    return looks_up(plan_text, "audit_event_stream_seq_key" if postgres else "sqlite_autoindex_audit_event_1")


def test_no_kind_of_a_step_is_held_by_the_index_by_kind(instances):
    rt, ids = instances
    with rt.db.read() as session:
        kinds = {i: set(session.execute(select(AuditEvent.kind).where(
            AuditEvent.stream == audit.instance_stream(ids[i]))).scalars()) for i in ("user_task", "chain")}
        held = session.execute(text(f"SELECT kind FROM audit_event WHERE {READ_BY_KIND_SQL}")).scalars().all()
    assert kinds["user_task"] | kinds["chain"] >= STEP_KINDS
    assert not (kinds["user_task"] | kinds["chain"]) & set(READ_BY_KIND)
    assert held == ["incident_raised"]  # the index's only entry: the incident's


def test_the_readers_by_instance_read_the_stream(instances):
    rt, ids = instances
    named = [ids["user_task"], ids["chain"], ids["incident"]]
    recorded: dict = {}
    plans = audit_plans(rt.db, lambda s: recorded.update(recorded_hashes(s, named)))
    assert set(recorded) == set(named) and all(seq > 1 for seq, _digest, _scheme in recorded.values())
    assert plans and all(by_stream(p) for _s, p in plans), plans

    with rt.db.read() as session:
        everyone = recorded_hashes(session)  # all instances: from every event
        assert {i: everyone[i] for i in named} == recorded
        completed = next(e for e in audit.events_of(session, ids["user_task"]) if e.kind == "task_completed")
        assert {c.verdict for c in check_states(session, named).values()} == {"ok"}
    actors: list = []
    reads = lambda s: EngineReads(s, ids["user_task"])  # noqa: E731
    plans = audit_plans(rt.db, lambda s: actors.append(reads(s).step_completed_by(completed.at)))
    assert actors == [BENCH_USER]
    assert len(plans) == 1 and by_stream(plans[0][1]), plans

    timeline: list = []
    plans = audit_plans(rt.db, lambda s: timeline.append(queue.timeline(s, ids["message"])))
    assert [e["kind"] for e in timeline[0]["events"]] == ["outbox_queued"]
    assert len(plans) == 1 and by_stream(plans[0][1]), plans


def test_the_readers_by_kind_read_the_partial_index(instances):
    rt, ids = instances
    found: list = []
    plans = audit_plans(rt.db, lambda s: found.append(incidents.incident_of(s, ids["incident"])))
    assert found[0]["raised_count"] == 1 and found[0]["business"] is True
    raised = [p for s, p in plans if "'incident_raised'" in s]
    assert len(raised) == 1 and looks_up(raised[0], BY_KIND), plans
    assert all(by_stream(p) for s, p in plans if "'incident_raised'" not in s), plans  # its history by stream

    flags: list = []
    plans = audit_plans(rt.db, lambda s: flags.append(audit.has_event(s, "demo_loaded")))
    assert flags == [False]
    assert len(plans) == 1 and looks_up(plans[0][1], BY_KIND), plans

    report: list = []
    today = utcnow().date()  # the fixture's instances ran just now, on the real clock: a window around them
    window = (today - timedelta(days=1), today + timedelta(days=2))
    plans = audit_plans(rt.db, lambda s: report.append(kpi.report(s, *window, "month")))
    assert report[0]["sla"]["total"]["breaches"] == 0
    assert len(plans) == 1 and looks_up(plans[0][1], BY_KIND), plans


def test_has_event_answers_only_for_a_kind_the_index_holds(instances):
    rt, _ids = instances
    with rt.db.read() as session:
        with pytest.raises(ValueError, match="not a kind read by kind"):
            audit.has_event(session, "task_completed")
        assert audit.has_event(session, "incident_raised") is True


def test_sqlite_reads_the_partial_index_for_the_readers_term_and_never_for_another_kind(instances):
    rt, _ids = instances
    if rt.db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's plans")
    with rt.db.engine.connect() as conn:
        def plan(where: str) -> str:
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN SELECT id FROM audit_event WHERE {where}")
            return " | ".join(row[-1] for row in rows)
        assert BY_KIND in plan(f"({READ_BY_KIND_SQL}) AND kind = 'demo_loaded'")
        assert plan("kind = 'task_completed'") == "SCAN audit_event"  # the index does not hold it
        # an IN list is not one of the condition's equalities: the readers repeat the condition itself
        assert plan("kind IN ('sla_breached', 'sla_warning')") == "SCAN audit_event"
