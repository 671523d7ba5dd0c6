"""Inbox latency with many open tasks: the queries staff run all day, on a seeded task table.

Runs on a fresh SQLite file, or on the PostgreSQL database a URL names (its tables are created
if missing and the bench's rows are removed afterwards). Every lane-user and auditor case is held
to TARGET_P95_MS; the report also carries the query plans of the main statements
(engine/bench/inbox_plans.py), so an index that stops serving the sort shows as `sorts: true`.
"""

from __future__ import annotations

import itertools
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select, text

from engine.bench.inbox_plans import inbox_plans
from engine.clock import utcnow
from engine.run import inbox_counts
from engine.run.inbox_stamp import inbox_stamp, unchanged_since
from engine.run.queries import InboxFilter, Viewer, inbox
from engine.run.search_terms import term_rows
from engine.run.task_search import TaskSearch
from engine.store.db import Database
from engine.store.models import Deployment, HumanTask, ProcessInstance, TaskSearchTerm

LANES = ["staff", "agent", "qc", "guide", "supervisor", "operator", "sales", "receptionist"]
DESKS = ["邮轮", "旅游", "自由行"]
TARGET_P95_MS = 50.0
BATCH = 5000
DEPLOYMENT_ID = 2_000_000_000  # apart from a real database's rows
FIRST_ID = 1_000_000_000
AGENT = Viewer("agent1", frozenset({"agent", "staff"}))
AUDITOR = Viewer("auditor1", frozenset({"auditor"}))
# The demo's agents: routed to one desk, so they see that desk's tasks and those of no desk.
DESK_AGENT = Viewer("agent2", frozenset({"agent", "staff"}), {"desk": "邮轮"})


def phone_of(i: int) -> str:
    return f"139{i:08d}"


def task_row(i: int, now) -> dict[str, Any]:
    """Open task number i: lanes, desks and due dates spread evenly; every 10th undated, every 50th agent1's."""
    tour = f"T{i:06d}"
    return {"id": FIRST_ID + i, "instance_id": FIRST_ID + i // 4, "spiff_task_id": f"bench{i:031d}",
            "process_id": "bench_inbox", "routing": {"desk": DESKS[i % 3]}, "task": "step", "name": "处理",
            "lane": LANES[i % len(LANES)], "state": "ready", "assignee": "agent1" if i % 50 == 0 else None,
            "form_ref": None, "due_at": None if i % 10 == 7 else now + timedelta(minutes=(i % 600) - 60),
            "created_at": now - timedelta(minutes=i % 900), "summary": {"customer_name": "客户", "tour_id": tour},
            "search_text": search_text_of(i)}


def search_text_of(i: int) -> str:
    return f"客户{i} | t{i:06d} | {phone_of(i)} "


def term_rows_of(tasks: int):
    """The search index rows of the seeded tasks (engine/run/search_terms.py), as a step writes them."""
    return (row for i in range(tasks) for row in term_rows([(FIRST_ID + i, search_text_of(i))]))


def seed(db: Database, tasks: int, per_instance: int = 4) -> None:
    """Insert `tasks` open task rows (and their instances): Core multi-row inserts, COPY on PostgreSQL."""
    now = utcnow()
    instances = -(-tasks // per_instance)
    instance_rows = ({"id": FIRST_ID + i, "deployment_id": DEPLOYMENT_ID, "process_id": "bench_inbox",
                      "status": "running", "serialized": "{}", "data": {}, "started_at": now, "started_by": "bench",
                      "lock_version": 1} for i in range(instances))
    task_rows = (task_row(i, now) for i in range(tasks))
    terms = term_rows_of(tasks)
    with db.write() as session, session.begin():
        session.add(Deployment(id=DEPLOYMENT_ID, process_id="bench_inbox", version=1, name="收件箱压测",
                               sha256="0" * 64, filename="bench.bpmn", bpmn_xml="", forms={}, node_lanes={},
                               deployed_at=now, deployed_by="bench"))
        session.flush()
        if db.engine.dialect.name == "postgresql":
            # Committed durably even on a server with synchronous_commit off, so that the VACUUM below can
            # mark the pages all-visible at once (it cannot while the commit is not flushed).
            session.execute(text("SET LOCAL synchronous_commit = on"))
            copy_rows(session, "process_instance", instance_rows)
            copy_rows(session, "human_task", task_rows)
            copy_rows(session, "task_search_term", terms)
        else:
            for table, rows in ((ProcessInstance, list(instance_rows)), (HumanTask, list(task_rows)),
                                (TaskSearchTerm, list(terms))):
                for start in range(0, len(rows), BATCH):
                    session.execute(insert(table), rows[start:start + BATCH])
    if db.engine.dialect.name == "postgresql":  # what autovacuum would have done by the time staff look
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE human_task"))
            conn.execute(text("VACUUM ANALYZE process_instance"))
            conn.execute(text("VACUUM ANALYZE task_search_term"))


def copy_rows(session, table: str, rows) -> None:
    """COPY rows (dicts of one shape) into `table` in the session's transaction (psycopg 3)."""
    cursor = session.connection().connection.cursor()
    first = next(rows)
    columns = list(first)

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return json.dumps(value, ensure_ascii=False)
        if isinstance(value, datetime):
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in itertools.chain([first], rows):
            copy.write_row([plain(row[name]) for name in columns])


def unseed(db: Database) -> None:
    with db.write() as session, session.begin():
        bench_tasks = select(HumanTask.id).where(HumanTask.process_id == "bench_inbox")
        session.execute(delete(TaskSearchTerm).where(TaskSearchTerm.task_id.in_(bench_tasks)))
        session.execute(delete(HumanTask).where(HumanTask.process_id == "bench_inbox"))
        session.execute(delete(ProcessInstance).where(ProcessInstance.deployment_id == DEPLOYMENT_ID))
        session.execute(delete(Deployment).where(Deployment.id == DEPLOYMENT_ID))


def _time(fn: Callable[[], Any], repeat: int, before: Callable[[], Any] | None = None) -> dict[str, float]:
    samples = []
    for _ in range(repeat):
        if before:
            before()
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return {"p50_ms": round(statistics.median(samples), 2),
            "p95_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.95))], 2)}


def cases(tasks: int) -> dict[str, tuple[Viewer, InboxFilter | str]]:
    """label -> (viewer, filter); a str filter names a keyset walk (`deep keyset`: the page after
    about four fifths of the viewer's tasks)."""
    probe = max(1, tasks - 3)
    return {
        "agent, first page by due date": (AGENT, InboxFilter()),
        "agent, page 40": (AGENT, InboxFilter(page=40)),
        "agent, last page (offset)": (AGENT, InboxFilter(page=tasks // 4 // 25)),
        "agent, deep keyset page": (AGENT, "deep keyset"),
        "agent, overdue only": (AGENT, InboxFilter(overdue=True)),
        "agent, desk 邮轮": (AGENT, InboxFilter(routing={"desk": "邮轮"})),
        "agent, claimed by me": (AGENT, InboxFilter(mine=True)),
        "agent, search phone last 4": (AGENT, InboxFilter(search=TaskSearch(phone=phone_of(probe)[-4:]))),
        "agent, search tour code": (AGENT, InboxFilter(search=TaskSearch(code=f"T{probe:06d}"))),
        "agent, search customer": (AGENT, InboxFilter(search=TaskSearch(customer=f"户{probe}"))),
        "desk agent, first page by due date": (DESK_AGENT, InboxFilter()),
        "desk agent, overdue only": (DESK_AGENT, InboxFilter(overdue=True)),
        "auditor, all lanes": (AUDITOR, InboxFilter()),
        "auditor, deep keyset page": (AUDITOR, "deep keyset"),
        "auditor, search phone last 4": (AUDITOR, InboxFilter(search=TaskSearch(phone=phone_of(probe)[-4:]))),
        "auditor, search tour code": (AUDITOR, InboxFilter(search=TaskSearch(code=f"T{probe:06d}"))),
        "auditor, search customer": (AUDITOR, InboxFilter(search=TaskSearch(customer=f"户{probe}"))),
    }


def deep_cursor(session, viewer: Viewer) -> str:
    """The `next` cursor four fifths of the way through the viewer's inbox, walked page by page."""
    first = inbox(session, viewer, InboxFilter(per_page=200))
    cursor, walked = first["next"], 200
    while cursor and walked < first["total"] * 4 // 5:
        cursor, walked = inbox(session, viewer, InboxFilter(per_page=200, after=cursor))["next"], walked + 200
    return cursor


def measure(db: Database, tasks: int, repeat: int) -> dict[str, Any]:
    results: dict[str, dict[str, Any]] = {}
    timed = {label: (viewer, flt, None) for label, (viewer, flt) in cases(tasks).items()}
    for label in ("agent, first page by due date", "agent, desk 邮轮", "desk agent, first page by due date",
                  "auditor, all lanes"):
        viewer, flt, _ = timed[label]  # the first look after a write: nothing cached
        timed[f"{label}, counts not cached"] = (viewer, flt, inbox_counts.clear)
    for label, (viewer, flt, before) in timed.items():
        with db.read() as session:
            if isinstance(flt, str):
                flt = InboxFilter(after=deep_cursor(session, viewer))
            inbox(session, viewer, flt)  # warm
            figures = _time(lambda v=viewer, f=flt, s=session: inbox(s, v, f), repeat, before)
        results[label] = {**figures, "target": f"p95 < {TARGET_P95_MS:g} ms",
                          "meets_target": figures["p95_ms"] < TARGET_P95_MS}
    for who, viewer in {"agent": AGENT, "desk agent": DESK_AGENT, "auditor": AUDITOR}.items():
        label = f"{who}, stamp counted"  # counted afresh each time (no cache), as after any write
        with db.read() as session:
            inbox_stamp(session, viewer)  # warm
            figures = _time(lambda v=viewer, s=session: inbox_stamp(s, v), repeat)
        results[label] = {**figures, "target": f"p95 < {TARGET_P95_MS:g} ms",
                          "meets_target": figures["p95_ms"] < TARGET_P95_MS}
    with db.read() as session:  # what an open inbox costs while nothing is written (docs/inbox.md)
        stamp = inbox_stamp(session, AUDITOR).stamp
        if not unchanged_since(session, stamp):
            raise RuntimeError("a stamp counted just now must still be current")
        results["anyone, idle poll"] = _time(lambda s=session: unchanged_since(s, stamp), repeat)
    return results


def run_inbox_bench(tasks: int = 100_000, repeat: int = 30, echo: Callable[[str], None] | None = None,
                    database_url: str | None = None) -> dict:
    """Seed `tasks` open tasks (SQLite in a temporary folder, or `database_url`) and time the inbox."""
    with tempfile.TemporaryDirectory() as folder:
        db = Database(database_url or f"sqlite:///{Path(folder) / 'inbox.db'}")
        backend = db.engine.dialect.name
        db.upgrade()
        try:
            t0 = time.perf_counter()
            seed(db, tasks)
            seeded = time.perf_counter() - t0
            results = measure(db, tasks, repeat)
            with db.read() as session:
                plans = {viewer.username: inbox_plans(session, viewer, utcnow()) for viewer in (AGENT, AUDITOR)}
        finally:
            if database_url:
                unseed(db)
            db.dispose()
    timed = [r for r in results.values() if "meets_target" in r]
    report = {"open_tasks": tasks, "database": backend, "seed_seconds": round(seeded, 1),
              "target": f"p95 < {TARGET_P95_MS:g} ms", "meets_target": all(r["meets_target"] for r in timed),
              "queries": results, "plans": plans}
    if echo:
        echo_report(report, echo)
    return report


def echo_report(report: dict, echo: Callable[[str], None]) -> None:
    echo(f"inbox with {report['open_tasks']:,} open tasks (seeded in {report['seed_seconds']:.1f}s, "
         f"{report['database']}), target p95 < {TARGET_P95_MS:g} ms:")
    for label, r in report["queries"].items():
        verdict = "" if "meets_target" not in r else (f"   (< {TARGET_P95_MS:g} ms)   "
                                                      + ("meets" if r["meets_target"] else "MISSES"))
        echo(f"  {label:<50} p50 {r['p50_ms']:>7.2f} ms   p95 {r['p95_ms']:>7.2f} ms{verdict}")
    for user, plans in report["plans"].items():
        parts = [f"{name}: {', '.join(p['indexes']) or 'no index'}{' +SORT' if p['sorts'] else ''}"
                 f"{' +FULL SCAN' if p['full_scan'] else ''}" for name, p in plans.items()]
        echo(f"  plans ({user}): " + "; ".join(parts))
