"""Statements built once, compiled once per dialect, run through `Connection.exec_driver_sql`.

A Core `execute` spends more on its per-call work (cache key, parameter processing, result set-up) than
SQLite spends running a step's one-row INSERT or UPDATE. Here SQLAlchemy compiles the statement once per
dialect; each call applies the columns' own bind processing (the same as `execute` would: UtcDateTime,
JSON, enum text) and hands the driver its SQL and positional parameters. The statement still passes
through the engine's events (before/after_cursor_execute), so statement counts see it. A dialect whose
driver takes named parameters (PostgreSQL's psycopg) keeps Core's `execute` of the same statement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, CursorResult, Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement


@dataclass(frozen=True)
class DriverStatement:
    sql: str
    order: tuple[str, ...]  # the bind parameters' names, in the SQL's order
    binds: tuple[Callable[[Any], Any] | None, ...]

    def params(self, values: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(value if bind is None else bind(value)
                     for bind, value in zip(self.binds, map(values.__getitem__, self.order), strict=True))


_COMPILED: dict[tuple[str, int], tuple[Dialect, ClauseElement, DriverStatement | None]] = {}
_COMPILED_MAX = 256


def driver_statement(dialect: Dialect, statement: ClauseElement) -> DriverStatement | None:
    """`statement` compiled for `dialect` (remembered by identity: build statements once), or None when
    its driver takes named parameters."""
    key = (dialect.name, id(statement))
    known = _COMPILED.get(key)
    if known is not None and known[0] is dialect and known[1] is statement:
        return known[2]
    compiled = statement.compile(dialect=dialect)
    found = None
    if compiled.positional and compiled.positiontup is not None:
        order = tuple(compiled.positiontup)
        binds = tuple(compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in order)
        found = DriverStatement(str(compiled), order, binds)
    if len(_COMPILED) >= _COMPILED_MAX:
        _COMPILED.clear()
    _COMPILED[key] = (dialect, statement, found)
    return found


def connection_of(session: Session) -> Connection:
    """The connection of the session's transaction, remembered for it: `Session.connection()` costs ~12 µs
    a call, and a step writes its rows in several statements."""
    transaction = session.get_transaction()
    held = session.info.get(_CONNECTION)
    if held is not None and held[0] is transaction and not held[1].closed:
        return held[1]
    connection = session.connection()
    session.info[_CONNECTION] = (session.get_transaction(), connection)
    return connection


_CONNECTION = "tourflow_driver_connection"


def run(connection: Connection, statement: ClauseElement, values: dict[str, Any] | Sequence[dict[str, Any]]
        ) -> CursorResult:
    """Run `statement` with one set of `values` or many (an executemany), on the driver where it can."""
    driver = driver_statement(connection.dialect, statement)
    if driver is None:
        return connection.execute(statement, values)
    if isinstance(values, dict):
        return connection.exec_driver_sql(driver.sql, driver.params(values))
    return connection.exec_driver_sql(driver.sql, [driver.params(v) for v in values])


__all__ = ["DriverStatement", "connection_of", "driver_statement", "run"]
