"""Inbox latency with many open tasks: the queries staff run all day, on a seeded task table."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from engine.clock import utcnow
from engine.run.inbox_stamp import inbox_stamp, unchanged_since
from engine.run.queries import InboxFilter, Viewer, inbox
from engine.store.db import Database
from engine.store.models import Deployment, HumanTask, ProcessInstance

LANES = ["staff", "agent", "qc", "guide", "supervisor", "operator", "sales", "receptionist"]
DESKS = ["邮轮", "旅游", "自由行"]


def seed(db: Database, tasks: int, per_instance: int = 4) -> None:
    """Insert `tasks` open task rows (and their instances) with Core, in batches."""
    now = utcnow()
    with db.write() as session, session.begin():
        session.add(Deployment(id=1, process_id="bench_inbox", version=1, name="收件箱压测", sha256="0" * 64,
                               filename="bench.bpmn", bpmn_xml="", forms={}, node_lanes={}, deployed_at=now,
                               deployed_by="bench"))
        session.flush()
        instances = -(-tasks // per_instance)
        for start in range(0, instances, 5000):
            session.execute(insert(ProcessInstance), [
                {"id": i + 1, "deployment_id": 1, "process_id": "bench_inbox", "status": "running",
                 "serialized": "{}", "data": {}, "started_at": now, "started_by": "bench", "lock_version": 1}
                for i in range(start, min(start + 5000, instances))])
        for start in range(0, tasks, 5000):
            session.execute(insert(HumanTask), [
                {"instance_id": i // per_instance + 1, "spiff_task_id": f"{i:036d}", "process_id": "bench_inbox",
                 "routing": {"desk": DESKS[i % 3]}, "task": "step", "name": "处理", "lane": LANES[i % len(LANES)],
                 "state": "ready", "assignee": "agent1" if i % 50 == 0 else None, "form_ref": None,
                 "due_at": now + timedelta(minutes=(i % 600) - 60), "created_at": now - timedelta(minutes=i % 900),
                 "summary": {"customer_name": "客户", "tour_id": f"T{i}"}}
                for i in range(start, min(start + 5000, tasks))])


def _time(fn: Callable[[], Any], repeat: int) -> dict[str, float]:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return {"p50_ms": round(statistics.median(samples), 2),
            "p95_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.95))], 2)}


def run_inbox_bench(tasks: int = 100_000, repeat: int = 30, echo: Callable[[str], None] | None = None) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{Path(folder) / 'inbox.db'}")
        db.upgrade()
        t0 = time.perf_counter()
        seed(db, tasks)
        seeded = time.perf_counter() - t0
        agent = Viewer("agent1", frozenset({"agent", "staff"}))
        auditor = Viewer("auditor1", frozenset({"auditor"}))
        cases = {
            "agent, first page by due date": (agent, InboxFilter()),
            "agent, page 40": (agent, InboxFilter(page=40)),
            "agent, overdue only": (agent, InboxFilter(overdue=True)),
            "agent, desk 邮轮": (agent, InboxFilter(routing={"desk": "邮轮"})),
            "agent, claimed by me": (agent, InboxFilter(mine=True)),
            "auditor, all lanes": (auditor, InboxFilter()),
        }
        results = {}
        for label, (viewer, flt) in cases.items():
            with db.read() as session:
                inbox(session, viewer, flt)  # warm
                results[label] = _time(lambda v=viewer, f=flt, s=session: inbox(s, v, f), repeat)
        for label, viewer in {"agent, stamp counted": agent, "auditor, stamp counted": auditor}.items():
            with db.read() as session:
                inbox_stamp(session, viewer)  # warm
                results[label] = _time(lambda v=viewer, s=session: inbox_stamp(s, v), repeat)
        with db.read() as session:  # what an open inbox costs while nothing is written (docs/inbox.md)
            stamp = inbox_stamp(session, auditor).stamp
            if not unchanged_since(session, stamp):
                raise RuntimeError("a stamp counted just now must still be current")
            results["anyone, idle poll"] = _time(lambda s=session: unchanged_since(s, stamp), repeat)
        db.dispose()
    report = {"open_tasks": tasks, "seed_seconds": round(seeded, 1), "queries": results}
    if echo:
        echo(f"inbox with {tasks:,} open tasks (seeded in {seeded:.1f}s, SQLite):")
        for label, r in results.items():
            echo(f"  {label:<32} p50 {r['p50_ms']:>7.2f} ms   p95 {r['p95_ms']:>7.2f} ms")
    return report
