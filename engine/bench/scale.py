"""`tourflow bench --scale`: does a step cost the same with a thousand stored instances as with a million?

The database is seeded with N instances of `bench_user_task` as the engine would have left them
(90% completed, 10% waiting at their user task), each with its task row, its audit events and
its stream's head, written by fast bulk inserts (COPY on PostgreSQL, executemany on SQLite), not
by running them. Seeded rows are realistic in size and indexed as the engine's are, but their
hashes are placeholders: the bench database is not an audit record. Then `steps` new instances
are run through the production calls (`Runtime.start`, `Runtime.complete`, each one step) and
timed. Each size has its own database (two SQLite files, or two schemas of the PostgreSQL
database, dropped at the end), and the two are measured in alternating batches so that a burst
of load on the machine hits both alike; the verdict is the large size's median step against the
small one's (target: at most 1.25, flat within 25%).

Every statement one start and one complete run is then EXPLAINed at the large size: a plan that
reads a whole large table (SQLite `SCAN t` without an index, PostgreSQL `Seq Scan on t`) is
reported as `unindexed` (tables of fewer than 1,000 rows, such as an empty job table, are left out).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, func, select
from sqlalchemy.engine import make_url

from engine.bench.core import BENCH_USER, DATABASE_URL_ENV, FORM_DATA, prepare
from engine.clock import utcnow
from engine.run.runtime import Runtime
from engine.store.db import Database
from engine.store.models import AuditEvent, HumanTask, ProcessInstance

SCALE_TARGET = 1.25  # large/small median step cost
SQLITE_SIZES = (1_000, 100_000)
POSTGRES_SIZES = (1_000, 1_000_000)
DEFAULT_STEPS = 200  # measured instances per size (each: one start and one complete)
PROCESS = "bench_user_task"
FINISHED_SHARE = 10  # one seeded instance in this many waits at its task; the others are completed
CHUNK = 5_000
SMALL_TABLE_ROWS = 1_000  # a table with fewer rows may be read whole (EXPLAIN's `unindexed` ignores it)
BIG_TABLES = ("process_instance", "human_task", "audit_event", "audit_head", "job", "task_edit", "message")
FINISHED_KINDS = ("instance_started", "task_ready", "state_written", "task_completed", "instance_completed",
                  "state_written")
WAITING_KINDS = FINISHED_KINDS[:3]


def default_sizes(backend: str) -> tuple[int, int]:
    return POSTGRES_SIZES if backend == "postgresql" else SQLITE_SIZES


# ---- seeding -------------------------------------------------------------------------------
def _samples(rt: Runtime) -> dict[str, Any]:
    """One real instance run to its wait and one to its end: what seeded rows copy."""
    waiting_id = rt.start(PROCESS, actor=BENCH_USER)
    with rt.db.read() as session:
        waiting = session.get(ProcessInstance, waiting_id)
        task = session.execute(select(HumanTask).where(HumanTask.instance_id == waiting_id)).scalar_one()
        sample = {"deployment_id": waiting.deployment_id, "waiting": waiting.serialized,
                  "task": {c: getattr(task, c) for c in ("task", "name", "lane", "form_ref", "routing", "summary")}}
    rt.complete(task.id, BENCH_USER, FORM_DATA)
    with rt.db.read() as session:
        sample["completed"] = session.get(ProcessInstance, waiting_id).serialized
    return sample


def _next_ids(db: Database) -> tuple[int, int, int]:
    with db.read() as session:
        return tuple((session.execute(select(func.coalesce(func.max(c), 0))).scalar() or 0) + 1
                     for c in (ProcessInstance.id, HumanTask.id, AuditEvent.id))  # type: ignore[return-value]


def _rows(count: int, sample: dict[str, Any], first: tuple[int, int, int], when: datetime,
          stamp: Callable[[datetime], Any]) -> Iterator[tuple[str, tuple]]:
    """(table, row) of `count` seeded instances, ids from `first` on."""
    instance_id, task_id, event_id = first
    for n in range(count):
        waiting = n % FINISHED_SHARE == 0
        at = stamp(when - timedelta(seconds=count - n))
        data = json.dumps({} if waiting else FORM_DATA)
        yield "process_instance", (instance_id, sample["deployment_id"], PROCESS, "running" if waiting else "completed",
                                   sample["waiting" if waiting else "completed"], data, at, BENCH_USER,
                                   None if waiting else at, 2)
        t = sample["task"]
        yield "human_task", (task_id, instance_id, f"seed-{instance_id}", PROCESS, json.dumps(t["routing"] or {}),
                             t["task"], t["name"], t["lane"], "ready" if waiting else "completed", None,
                             t["form_ref"], at, None if waiting else at, None if waiting else BENCH_USER,
                             json.dumps(t["summary"] or {}))
        stream, prev = f"instance:{instance_id}", "0" * 64
        for seq, kind in enumerate(WAITING_KINDS if waiting else FINISHED_KINDS, start=1):
            digest = hashlib.sha256(f"{stream}:{seq}".encode()).hexdigest()  # a placeholder, not a chain
            yield "audit_event", (event_id, stream, instance_id, seq, at, BENCH_USER, kind, "{}", prev, digest)
            prev, event_id = digest, event_id + 1
        yield "audit_head", (stream, seq, prev)
        instance_id, task_id = instance_id + 1, task_id + 1


COLUMNS = {
    "process_instance": ("id", "deployment_id", "process_id", "status", "serialized", "data", "started_at",
                         "started_by", "ended_at", "lock_version"),
    "human_task": ("id", "instance_id", "spiff_task_id", "process_id", "routing", "task", "name", "lane", "state",
                   "assignee", "form_ref", "created_at", "completed_at", "completed_by", "summary"),
    "audit_event": ("id", "stream", "instance_id", "seq", "at", "actor", "kind", "payload", "prev_hash", "hash"),
    "audit_head": ("stream", "seq", "hash"),
}


def seed(db: Database, count: int, sample: dict[str, Any]) -> float:
    """Add `count` instances with their rows; returns the seconds it took."""
    started = time.perf_counter()
    first = _next_ids(db)
    when = utcnow().replace(tzinfo=None)
    batches: dict[str, list[tuple]] = {table: [] for table in COLUMNS}
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if db.is_sqlite:
            def stamp(moment: datetime) -> str:
                return moment.strftime("%Y-%m-%d %H:%M:%S.%f")
            writer = _sqlite_writer(cursor)
            cursor.execute("BEGIN")  # the driver connection commits every statement otherwise
        else:
            def stamp(moment: datetime) -> datetime:
                return moment
            writer = _copy_writer(cursor)
        for table, row in _rows(count, sample, first, when, stamp):
            batches[table].append(row)
            if len(batches[table]) >= CHUNK:
                _flush_all(writer, batches)  # parents before children: foreign keys hold
        _flush_all(writer, batches)
        if not db.is_sqlite:
            for table in ("process_instance", "human_task", "audit_event"):
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        cursor.execute("COMMIT") if db.is_sqlite else raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - started


def _flush_all(writer: Callable[[str, list[tuple]], None], batches: dict[str, list[tuple]]) -> None:
    for table in COLUMNS:
        if batches[table]:
            writer(table, batches[table])
            batches[table] = []


def _sqlite_writer(cursor) -> Callable[[str, list[tuple]], None]:
    def write(table: str, rows: list[tuple]) -> None:
        columns = COLUMNS[table]
        cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                           rows)
    return write


def _copy_writer(cursor) -> Callable[[str, list[tuple]], None]:
    def write(table: str, rows: list[tuple]) -> None:
        with cursor.copy(f"COPY {table} ({', '.join(COLUMNS[table])}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    return write


# ---- measuring -------------------------------------------------------------------------------
def _latency(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"p50": round(ordered[len(ordered) // 2] * 1000, 3),
            "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000, 3)}


def _task_of(rt: Runtime, instance_id: int) -> int:
    with rt.db.read() as session:
        return session.execute(select(HumanTask.id).where(HumanTask.instance_id == instance_id,
                                                          HumanTask.state == "ready")).scalar_one()


class _SqlClock:
    """Time spent in the database per timed step, and per kind of statement (its first words)."""

    def __init__(self) -> None:
        self.step = 0.0
        self.by_kind: dict[str, list[float]] = {}
        self._started = 0.0

    def before(self, *_args: Any) -> None:
        self._started = time.perf_counter()

    def after(self, _conn, _cursor, statement: str, *_args: Any) -> None:
        spent = time.perf_counter() - self._started
        self.step += spent
        self.by_kind.setdefault(" ".join(statement.split()[:3])[:60], []).append(spent)


def measure(rt: Runtime, steps: int) -> dict[str, Any]:
    starts: list[float] = []
    completes: list[float] = []
    sql: list[float] = []
    clock = _SqlClock()
    event.listen(rt.db.engine, "before_cursor_execute", clock.before)
    event.listen(rt.db.engine, "after_cursor_execute", clock.after)
    try:
        for _ in range(steps):
            clock.step = 0.0
            t0 = time.perf_counter()
            instance_id = rt.start(PROCESS, actor=BENCH_USER)
            starts.append(time.perf_counter() - t0)
            sql.append(clock.step)
            task_id = _task_of(rt, instance_id)
            clock.step = 0.0
            t0 = time.perf_counter()
            rt.complete(task_id, BENCH_USER, FORM_DATA)
            completes.append(time.perf_counter() - t0)
            sql.append(clock.step)
    finally:
        event.remove(rt.db.engine, "before_cursor_execute", clock.before)
        event.remove(rt.db.engine, "after_cursor_execute", clock.after)
    clock.by_kind.pop("SELECT human_task.id FROM", None)  # _task_of, not a step's
    return {"starts": starts, "completes": completes, "sql": sql, "by_kind": clock.by_kind}


@contextmanager
def _statements(db: Database) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def listen(_conn, _cursor, statement, parameters, _context, executemany):
        seen.append((statement, parameters[0] if executemany and parameters else parameters))

    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)


def unindexed(rt: Runtime) -> tuple[int, list[str]]:
    """(statements one start and one complete run, those whose plan reads a whole large table)."""
    db = rt.db
    with _statements(db) as seen:
        instance_id = rt.start(PROCESS, actor=BENCH_USER)
        rt.complete(_task_of(rt, instance_id), BENCH_USER, FORM_DATA)
    plans = [(s, p) for s, p in seen if s.split(None, 1)[0].upper() in ("SELECT", "UPDATE", "DELETE")]
    found = []
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        large = set()
        for table in BIG_TABLES:  # a table of a few rows is read whole by any planner, rightly
            cursor.execute(f"SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT {SMALL_TABLE_ROWS}) AS sample_rows")
            if cursor.fetchone()[0] >= SMALL_TABLE_ROWS:
                large.add(table)
        for statement, parameters in plans:
            prefix = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN "
            cursor.execute(prefix + statement, parameters or ())
            lines = [str(row[-1] if db.is_sqlite else row[0]) for row in cursor.fetchall()]
            for line in lines:
                words = line.replace("Seq Scan on", "SCAN").split()
                if "SCAN" in words:
                    table = words[words.index("SCAN") + 1]
                    # SQLite's `SCAN t USING INDEX i` reads all of the index: as linear as the table
                    if table in large:
                        found.append(f"{table}: {' '.join(statement.split())[:120]}")
        raw.rollback()
    finally:
        raw.close()
    return len(seen), sorted(set(found))


# ---- entry point -----------------------------------------------------------------------------
BATCHES = 5  # the two sizes alternate in this many batches, so a burst of load hits both alike


def _urls(url: str, tmp: Path) -> tuple[str, str, list[str]]:
    """A database per size: two SQLite files, or two schemas of the PostgreSQL database (each
    connection's search_path names its schema; both are dropped at the end)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        stem = Path(parsed.database) if parsed.database and parsed.database != ":memory:" else tmp / "scale.db"
        return (f"sqlite:///{stem.with_name(stem.stem + '-small.db')}",
                f"sqlite:///{stem.with_name(stem.stem + '-large.db')}", [])
    schemas = ["tourflow_scale_small", "tourflow_scale_large"]
    admin = create_engine(url)
    try:
        with admin.begin() as connection:
            for schema in schemas:
                connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
                connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    finally:
        admin.dispose()
    query = dict(parsed.query)
    small, large = (parsed.update_query_dict({**query, "options": f"-csearch_path={schema}"}) for schema in schemas)
    return (small.render_as_string(hide_password=False), large.render_as_string(hide_password=False), schemas)


def _drop_schemas(url: str, schemas: list[str]) -> None:
    if not schemas:
        return
    admin = create_engine(url)
    try:
        with admin.begin() as connection:
            for schema in schemas:
                connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        admin.dispose()


def _merged(parts: list[dict[str, list[float]]]) -> dict[str, Any]:
    starts = [t for part in parts for t in part["starts"]]
    completes = [t for part in parts for t in part["completes"]]
    by_kind: dict[str, list[float]] = {}
    for part in parts:
        for kind, spent in part["by_kind"].items():
            by_kind.setdefault(kind, []).extend(spent)
    return {"steps": len(starts) + len(completes), "step_ms": _latency(starts + completes),
            "start_ms": _latency(starts), "complete_ms": _latency(completes),
            "sql_ms": _latency([t for part in parts for t in part["sql"]]),
            "statement_ms": {kind: round(1000 * sum(v) / len(v), 3) for kind, v in sorted(by_kind.items())}}


def run_scale_bench(sizes: tuple[int, int] | None = None, steps: int = DEFAULT_STEPS,
                    database_url: str | None = None, echo: Callable[[str], Any] | None = None) -> dict[str, Any]:
    url = database_url or os.environ.get(DATABASE_URL_ENV)
    with tempfile.TemporaryDirectory(prefix="tourflow-scale-") as tmp:
        url = url or f"sqlite:///{Path(tmp) / 'scale.db'}"
        backend = make_url(url).get_backend_name()
        small, large = sorted(sizes or default_sizes(backend))
        small_url, large_url, schemas = _urls(url, Path(tmp))
        report: dict[str, Any] = {"database": {"backend": backend,
                                               "url": make_url(url).render_as_string(hide_password=True)},
                                  "steps_per_size": steps, "batches": BATCHES, "target": SCALE_TARGET, "sizes": {}}
        runtimes: dict[int, Runtime] = {}
        try:
            for size, size_url in ((small, small_url), (large, large_url)):
                if echo:
                    echo(f"scale: seeding {size:,} stored instances ...")
                rt = runtimes[size] = prepare(Database(size_url))
                seconds = seed(rt.db, max(0, size - 1), _samples(rt))
                measure(rt, min(10, steps))  # warm-up at this size
                report["sizes"][str(size)] = {"instances": _count(rt.db), "seed_seconds": round(seconds, 1)}
            parts: dict[int, list[dict[str, list[float]]]] = {small: [], large: []}
            for batch in range(BATCHES):
                share = steps // BATCHES + (1 if batch < steps % BATCHES else 0)
                for size in (small, large):
                    parts[size].append(measure(runtimes[size], share))
            for size in (small, large):
                report["sizes"][str(size)].update(_merged(parts[size]))
            statements, missing = unindexed(runtimes[large])
        finally:
            for rt in runtimes.values():
                rt.db.dispose()
            _drop_schemas(url, schemas)
    low, high = report["sizes"][str(small)], report["sizes"][str(large)]
    ratio = high["step_ms"]["p50"] / low["step_ms"]["p50"]
    sql_ratio = high["sql_ms"]["p50"] / low["sql_ms"]["p50"] if low["sql_ms"]["p50"] else None
    grown = sorted(((kind, ms, low["statement_ms"].get(kind)) for kind, ms in high["statement_ms"].items()
                    if low["statement_ms"].get(kind)), key=lambda g: g[1] - g[2], reverse=True)[:3]
    report["sql_ratio"] = round(sql_ratio, 3) if sql_ratio else None
    report["grew_most"] = [{"statement": kind, "small_ms": before, "large_ms": after} for kind, after, before in grown]
    report.update({"small": small, "large": large, "ratio": round(ratio, 3), "meets_target": ratio <= SCALE_TARGET,
                   "statements_per_start_and_complete": statements, "unindexed": missing})
    if echo:
        _print(report, echo)
    return report


def _count(db: Database) -> int:
    with db.read() as session:
        return session.execute(select(func.count()).select_from(ProcessInstance)).scalar()


def _print(report: dict[str, Any], echo: Callable[[str], Any]) -> None:
    echo(f"step cost as instances grow ({report['database']['backend']}, {report['steps_per_size']} "
         "instances started and completed per size)")
    echo(f"{'stored instances':>18}{'seeded in':>11}{'step p50':>11}{'step p95':>11}{'start p50':>11}"
         f"{'compl. p50':>12}")
    for row in report["sizes"].values():
        echo(f"{row['instances']:>18,}{row['seed_seconds']:>10.1f}s{row['step_ms']['p50']:>9.2f}ms"
             f"{row['step_ms']['p95']:>9.2f}ms{row['start_ms']['p50']:>9.2f}ms{row['complete_ms']['p50']:>10.2f}ms")
    sql = [row["sql_ms"]["p50"] for row in report["sizes"].values()]
    echo(f"database time per step p50: {sql[0]:.2f}ms -> {sql[1]:.2f}ms (x{report['sql_ratio'] or 0:.2f}); grew most: "
         + "; ".join(f"{g['statement']} {g['small_ms']:.3f}->{g['large_ms']:.3f}ms" for g in report["grew_most"]))
    verdict = "meets" if report["meets_target"] else "MISSES"
    echo(f"scale: step p50 at {report['large']:,} / at {report['small']:,} = {report['ratio']:.2f}; {verdict} the "
         f"target of <= {report['target']:.2f}")
    echo(f"scale: {report['statements_per_start_and_complete']} statements per start + complete; "
         f"unindexed on large tables: {', '.join(report['unindexed']) or 'none'}")


__all__ = ["SCALE_TARGET", "default_sizes", "run_scale_bench", "seed"]
