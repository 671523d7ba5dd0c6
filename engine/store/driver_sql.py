"""A step's statements built once, compiled once per dialect, run on the driver's cursor.

A Core `execute` spends more on its per-call work (cache key, parameter processing, execution context,
result set-up) than SQLite spends running a step's one-row INSERT, UPDATE or keyed SELECT: ~15 µs a
statement, and `exec_driver_sql` still ~10 µs, against ~1 µs on the driver. Here SQLAlchemy compiles the
statement once per dialect; each call applies the columns' own bind processing (UtcDateTime, JSON, enum
text: what `execute` would send), hands the driver the SQL and positional parameters on the connection of
the session's transaction, and gives back rows with the columns' own result processing (what `execute`
would return). What SQLAlchemy's Connection would do around it is kept:
* the engine's `before_cursor_execute` and `after_cursor_execute` events fire with the statement and the
  parameters sent (statement counts, timers and query-plan tests see every statement);
* a driver error is raised as SQLAlchemy's own exception (IntegrityError, OperationalError, ...).
A dialect whose driver takes named parameters (PostgreSQL's psycopg), or a statement whose parameters
are expanded per call (an IN list), keeps Core's `execute` of the same statement.
"""

from __future__ import annotations

import json
from collections import namedtuple
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement
from sqlalchemy.types import JSON

from engine.store.unit_scope import UNIT

_REQUIRED = object()  # a bind parameter with no value of its own: the caller names it


@dataclass(frozen=True)
class DriverStatement:
    sql: str
    order: tuple[str, ...]  # the bind parameters' names, in the SQL's order
    binds: tuple[Callable[[Any], Any] | None, ...]
    fixed: tuple[Any, ...]  # each parameter's own value (a literal), or _REQUIRED
    results: tuple[Callable[[Any], Any] | None, ...]  # each result column's processing (SELECT, RETURNING)
    row: Any  # the named-tuple class of its rows, or None when it returns none
    pick: Callable[[dict[str, Any]], tuple[Any, ...]] | None  # the values in order (None: a literal among them)
    bound: tuple[tuple[int, Callable[[Any], Any]], ...]  # the positions that have bind processing
    processed: tuple[tuple[int, Callable[[Any], Any]], ...]  # the result columns that have processing

    def params(self, values: dict[str, Any]) -> tuple[Any, ...]:
        if self.pick is None:  # a literal among its parameters: the caller may leave it out
            sent = [values[name] if fixed is _REQUIRED else values.get(name, fixed)
                    for name, fixed in zip(self.order, self.fixed, strict=True)]
        else:
            sent = self.pick(values)
            if not self.bound:
                return sent
            sent = list(sent)
        for index, bind in self.bound:
            sent[index] = bind(sent[index])
        return tuple(sent)

    def rows(self, fetched: list[tuple[Any, ...]]) -> list[Any]:
        make, processed = self.row._make, self.processed
        if not processed:
            return [make(r) for r in fetched]
        rows = []
        for fetched_row in fetched:
            values = list(fetched_row)
            for index, process in processed:
                values[index] = process(values[index])
            rows.append(make(values))
        return rows


class DriverResult:
    """What a statement run on the driver gave back: its processed rows, and the rows it changed."""

    __slots__ = ("rowcount", "_rows")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows, self.rowcount = rows, rowcount

    def all(self) -> list[Any]:
        return self._rows

    def first(self) -> Any:
        return self._rows[0] if self._rows else None


_COMPILED: dict[tuple[str, int], tuple[Dialect, ClauseElement, DriverStatement | None]] = {}
_COMPILED_MAX = 256


def driver_statement(dialect: Dialect, statement: ClauseElement) -> DriverStatement | None:
    """`statement` compiled for `dialect` (remembered by identity: build statements once), or None when
    its driver takes named parameters or its parameters are expanded per call."""
    key = (dialect.name, id(statement))
    known = _COMPILED.get(key)
    if known is not None and known[0] is dialect and known[1] is statement:
        return known[2]
    compiled = statement.compile(dialect=dialect)
    found = None
    expanded = any(b.expanding or b.literal_execute for b in compiled.binds.values())
    if compiled.positional and compiled.positiontup is not None and not expanded:
        order = tuple(compiled.positiontup)
        params = [compiled.binds[name] for name in order]
        columns = list(getattr(statement, "exported_columns", ()))  # a SELECT's columns, or what it RETURNs
        binds = tuple(p.type.dialect_impl(dialect).bind_processor(dialect) for p in params)
        results = tuple(_result_processor(c.type, dialect) for c in columns)
        fixed = tuple(_REQUIRED if p.required else p.effective_value for p in params)
        found = DriverStatement(
            sql=str(compiled), order=order, binds=binds, fixed=fixed, results=results,
            row=namedtuple("Row", list(statement.exported_columns.keys()), rename=True) if columns else None,
            pick=_picker(order) if all(f is _REQUIRED for f in fixed) else None,
            bound=tuple((i, bind) for i, bind in enumerate(binds) if bind is not None),
            processed=tuple((i, process) for i, process in enumerate(results) if process is not None))
    if len(_COMPILED) >= _COMPILED_MAX:
        _COMPILED.clear()
    _COMPILED[key] = (dialect, statement, found)
    return found


def _result_processor(column_type: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    """The column's own result processing; for a JSON column on SQLite the same value in one call: SQLAlchemy's
    goes through two closures and a try around `json.loads` (~1.6 µs a column for '{}', against ~0.2)."""
    impl = column_type.dialect_impl(dialect)
    theirs = impl.result_processor(dialect, None)
    if theirs is None or dialect.name != "sqlite" or not isinstance(impl, JSON) \
            or impl._str_impl.result_processor(dialect, None) is not None:
        return theirs
    loads = dialect._json_deserializer or _loads

    def process(value: Any) -> Any:
        return loads(value) if type(value) is str else theirs(value)  # SQL NULL, a number: theirs

    return process


_SCAN = json.JSONDecoder().scan_once  # json.loads's own decoder's scanner (C)


def _loads(text: str) -> Any:
    """json.loads of a text with no whitespace around its value, in one call of the scanner json.loads runs
    (~0.1 µs against ~0.85: json.loads matches whitespace with regular expressions before and after it);
    any other text (whitespace, more after the value, not JSON) is json.loads's, which answers or raises."""
    try:
        value, end = _SCAN(text, 0)
    except StopIteration:
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


def _picker(order: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """The values of these names, in order, as a tuple (itemgetter gives one name's value bare)."""
    if len(order) == 1:
        name = order[0]
        return lambda values: (values[name],)
    return itemgetter(*order) if order else lambda _values: ()


def connection_of(session: Session) -> Connection:
    """The connection of the session's transaction: its unit's (engine/store/unit_scope.py), else the one
    `Session.connection()` gives, remembered for the transaction (that call costs ~12 µs, and a step writes
    its rows in several statements)."""
    unit = session.info.get(UNIT)
    if unit is not None:
        return unit.get()
    transaction = session.get_transaction()
    held = session.info.get(_CONNECTION)
    if held is not None and held[0] is transaction and not held[1].closed:
        return held[1]
    connection = session.connection()
    session.info[_CONNECTION] = (session.get_transaction(), connection)
    return connection


_CONNECTION = "tourflow_driver_connection"


def run(connection: Connection, statement: ClauseElement, values: dict[str, Any] | Sequence[dict[str, Any]]
        ) -> DriverResult:
    """Run `statement` with one set of `values` or many (an executemany), on the driver where it can."""
    driver = driver_statement(connection.dialect, statement)
    if driver is None:
        result = connection.execute(statement, values)
        return DriverResult(result.all() if result.returns_rows else [], result.rowcount)
    if isinstance(values, dict):
        return execute(connection, driver.sql, driver.params(values), driver)
    return execute(connection, driver.sql, [driver.params(v) for v in values], driver)


def execute(connection: Connection, sql: str, params: tuple[Any, ...] | list[tuple[Any, ...]],
            driver: DriverStatement | None = None) -> DriverResult:
    """`sql` with positional `params` (a list of them: an executemany) on the driver's cursor, between the
    engine's cursor events, its rows processed by `driver`'s result columns."""
    many = type(params) is list
    # SQLAlchemy's own test before it dispatches cursor events (a joined dispatcher iterates ~1.4 µs even empty)
    listened = connection._has_events or connection.engine._has_events
    dbapi = connection.dialect.loaded_dbapi
    cursor = connection.connection.driver_connection.cursor()
    try:
        if listened:
            for listener in connection.dispatch.before_cursor_execute:
                sql, params = listener(connection, cursor, sql, params, None, many)
        try:
            if many:
                cursor.executemany(sql, params)
            else:
                cursor.execute(sql, params)
            fetched = cursor.fetchall() if cursor.description is not None else []
        except dbapi.Error as exc:
            raise DBAPIError.instance(sql, params, exc, dbapi.Error, dialect=connection.dialect) from exc
        if listened:
            connection.dispatch.after_cursor_execute(connection, cursor, sql, params, None, many)
        rowcount = cursor.rowcount
    finally:
        cursor.close()
    rows = driver.rows(fetched) if fetched and driver is not None and driver.row is not None else fetched
    return DriverResult(rows, rowcount)

__all__ = ["DriverResult", "DriverStatement", "connection_of", "driver_statement", "execute", "run"]
