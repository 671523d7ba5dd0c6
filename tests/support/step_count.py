"""What a step sends to the database, counted with SQLAlchemy's engine events (issue 18's shape tests):
statements, audit batches, read and write transactions, ORM flushes that wrote something."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy.orm import Session

from engine.run.runtime import Runtime
from tests.support.listening import listening


class Counted:
    def __init__(self) -> None:
        self.statements: list[str] = []
        self.batches: list[int] = []  # rows of each INSERT INTO audit_event
        self.write_transactions = 0
        self.read_transactions = 0
        self.flushes = 0  # ORM flushes that wrote something


@contextmanager
def one_attempt() -> Iterator[None]:
    """Steps inside the block run once. A script still running after the write-lock grace (0.1 s, which a busy
    machine can take) makes its step let go of the lock and run again (engine/sandbox/outcomes.py), so what a
    test counts would be counted twice: the block gets a grace no script of the tests comes near."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TOURFLOW_SCRIPT_LOCK_GRACE", "60")
        yield


@contextmanager
def counting(rt: Runtime) -> Iterator[Counted]:
    """Count what `rt` sends inside the block (its steps run once: `one_attempt`)."""
    with one_attempt(), _counted(rt) as counted:
        yield counted


@contextmanager
def _counted(rt: Runtime) -> Iterator[Counted]:
    counted = Counted()

    def on_begin(connection) -> None:
        if connection.get_execution_options().get("tourflow_write"):
            counted.write_transactions += 1
        else:
            counted.read_transactions += 1

    def on_execute(_conn, _cursor, statement, parameters, _context, executemany) -> None:
        counted.statements.append(statement)
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_EVENT"):
            counted.batches.append(len(parameters) if executemany else 1)

    def on_flush(_session, _context) -> None:
        counted.flushes += 1

    with listening(rt.db.engine, begin=on_begin, before_cursor_execute=on_execute), \
            listening(Session, after_flush=on_flush):
        yield counted


def statements_of(counted: Counted) -> list[str]:
    """What a step sent, without the BEGIN that SQLite's connection sends as a statement."""
    return [s.lstrip().upper() for s in counted.statements if not s.lstrip().upper().startswith("BEGIN")]
