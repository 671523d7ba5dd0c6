"""The plans of the statements real functions send: captured as they run, explained with their own parameters.

PostgreSQL is told not to scan tables (a handful of rows would make a sequential scan its cheapest plan), so
a test asks whether an index serves the statement, not what a planner picks at this size."""

from __future__ import annotations

from contextlib import contextmanager

from engine.store.db import Database
from tests.support.listening import listening


@contextmanager
def sent(db: Database):
    """The SELECTs sent while the block runs, with their parameters."""
    statements: list[tuple[str, object]] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    with listening(db.engine, before_cursor_execute=before):
        yield statements


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
