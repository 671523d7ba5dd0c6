"""The SELECTs a block of code sends, with their parameters, to explain their plans afterwards."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

from engine.store.db import Database


@contextmanager
def sent(db: Database):
    """The SELECTs sent while the block runs, with their parameters."""
    statements: list[tuple[str, object]] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
