"""Migration 0024 keeps only the instances that have a business key in ix_process_instance_business_key
(docs/performance.md, "Round 7: the instance and task indexes each step writes"): the index is partial on
each database, goes back to a full one at 0022 and partial again at the head, and the message correlation's statements (a message for a waiting instance by `=`, the
buffered messages' sweep by `IN`) are still served by it.

The statements are those the real functions send (captured as they run). SQLite is asked to run each with
`INDEXED BY` the partial index (it refuses a statement the index cannot serve); PostgreSQL explains it with
the instance's other indexes dropped inside the transaction (rolled back), so the test asks whether the
partial index serves, not which index a planner picks at a handful of rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import text

from engine.clock import utcnow
from engine.store.db import Database, alembic_config
from tests.fixtures.worker_handlers import flaky_booking as _registers_test_flaky  # noqa: F401
from tests.support.messages import ORDER_FLOW
from tests.support.query_plans import sent
from tests.support.world import deploy

pytestmark = pytest.mark.both_databases
BEFORE = "0022_step_write_indexes"
INDEX = "ix_process_instance_business_key"
OTHER_INDEXES = (
    "ix_process_instance_status",
    "ix_process_instance_process_id",
    "ix_process_instance_deployment_id",
)


def definition(conn) -> str:
    if conn.dialect.name == "postgresql":
        return conn.execute(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"), {"n": INDEX}
        ).scalar_one()
    return conn.execute(text("SELECT sql FROM sqlite_master WHERE name = :n"), {"n": INDEX}).scalar_one()


def is_partial(conn) -> bool:
    where = definition(conn).partition(" WHERE ")[2]
    return where.replace("(", "").replace(")", "").strip() == "business_key IS NOT NULL"


def test_the_business_key_index_is_partial_after_0024_and_full_at_0022(empty_db_url):
    db = Database(empty_db_url)
    db.upgrade()
    with db.engine.connect() as conn:
        assert is_partial(conn), definition(conn)
    cfg = alembic_config(empty_db_url)
    command.downgrade(cfg, BEFORE)
    with db.engine.connect() as conn:
        assert " WHERE " not in definition(conn) and "business_key" in definition(conn)
    command.upgrade(cfg, "head")
    with db.engine.connect() as conn:
        assert is_partial(conn), definition(conn)
    db.dispose()


def served_by_the_partial_index(db: Database, statement: str, parameters) -> str:
    """The plan of `statement` when only the partial index may serve it (raises on SQLite when it cannot)."""
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            for other in OTHER_INDEXES:
                conn.exec_driver_sql(f"DROP INDEX {other}")
            conn.exec_driver_sql("SET enable_seqscan = off")
            rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters).all()
        else:
            forced = statement.replace(
                "FROM process_instance", f"FROM process_instance INDEXED BY {INDEX}", 1
            )
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + forced, parameters).all()
        conn.rollback()
    return " | ".join(str(row[-1]) for row in rows)


@pytest.fixture
def rt(runtime):
    deploy(runtime, ORDER_FLOW)
    return runtime


def test_the_message_correlation_by_business_key_reads_the_partial_index(rt):
    with sent(rt.db) as statements:
        waiting = rt.message("order_received", "ORD-1", {"fail_times": 0, "amount": 800})["delivered_to"]
        delivered = rt.message("payment_received", "ORD-1", {"paid": 800})
        early = rt.message("payment_received", "ORD-2", {"paid": 1})  # nobody keyed ORD-2 yet: buffered
        swept = rt.housekeeping(utcnow() + timedelta(seconds=1))
    assert delivered["delivered_to"] == waiting and early["buffered"] and swept["delivered"] == 0
    by_key = [
        (s, p)
        for s, p in statements
        if "FROM process_instance" in s and "business_key" in s.split("WHERE")[-1]
    ]
    shapes = {"=" if "business_key IN" not in s else "IN" for s, _ in by_key}
    assert shapes == {"=", "IN"}, [s for s, _ in by_key]
    for statement, parameters in by_key:
        plan = served_by_the_partial_index(rt.db, statement, parameters)
        assert INDEX in plan and "Seq Scan" not in plan, plan
