"""`tourflow bench` runs both sides to the end and reports what it measured (no timing asserts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.bench.core import BENCH_DIR, PROCESSES, run_bench
from engine.bpmn.lint import lint_file
from engine.store.db import Database
from engine.store.models import AuditEvent, HumanTask, ProcessInstance

INSTANCES = 5
WARMUP = 2


def test_bench_processes_pass_lint() -> None:
    for path in sorted(BENCH_DIR.glob("*.bpmn")):
        findings = lint_file(path)
        assert findings == [], "\n".join(str(f) for f in findings)


def test_run_bench_completes_both_sides(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    lines: list[str] = []
    report = run_bench(instances=INSTANCES, echo=lines.append, database_url=url, warmup=WARMUP)

    json.dumps(report)  # the CLI prints it with --json
    assert report["instances"] == INSTANCES
    assert report["database"]["backend"] == "sqlite"
    assert set(report["processes"]) == {p.process_id for p in PROCESSES}
    for process in PROCESSES:
        row = report["processes"][process.process_id]
        raw, persisted = row["raw"], row["persisted"]
        assert raw["completed"] == persisted["completed"] == INSTANCES
        assert persisted["warmup_completed"] == WARMUP
        assert raw["instances_per_s"] > 0 and persisted["instances_per_s"] > 0
        assert row["ratio"] > 0
        assert persisted["steps"] == INSTANCES * (1 + process.user_tasks)
        for key in ("step_ms", "start_ms"):
            assert 0 < persisted[key]["p50"] <= persisted[key]["p95"]
        if process.user_tasks:
            assert persisted["complete_ms"]["p50"] > 0
            assert set(row["serialized"]) == {"waiting", "completed"}
        # the inbox lookup is timed apart, on instances of its own (the start's answer names the task)
        lookups = INSTANCES if process.user_tasks else 0
        assert persisted["inbox_lookup_instances"] == persisted["inbox_lookup_completed"] == lookups
        if lookups:
            assert 0 < persisted["inbox_lookup_ms"]["p50"] <= persisted["inbox_lookup_ms"]["p95"]
        else:
            assert persisted["inbox_lookup_ms"] is None
        for size in row["serialized"].values():
            assert 0 < size["tourflow_bytes"] < size["stock_bytes"]
        # each completion follows its start in this process: it takes the workflow the start kept
        assert persisted["kept_workflows"] == {"taken": INSTANCES * process.user_tasks, "loaded": 0}
    assert any("bench_user_task" in line for line in lines)
    assert f"bench_user_task: {INSTANCES} steps took the workflow kept in memory, 0 loaded it " \
           "(TOURFLOW_LIVE_WORKFLOWS=0 loads every one)" in lines
    assert any("bench_user_task: the inbox lookup, timed apart on 5 instances" in line for line in lines)

    db = Database(url)
    try:
        with db.read() as session:
            for process in PROCESSES:
                statuses = session.execute(
                    select(ProcessInstance.status, func.count())
                    .where(ProcessInstance.process_id == process.process_id)
                    .group_by(ProcessInstance.status)
                ).all()
                lookups = INSTANCES if process.user_tasks else 0
                assert dict(statuses) == {"completed": INSTANCES + WARMUP + lookups}
            open_tasks = session.execute(select(func.count()).where(HumanTask.state != "completed")).scalar()
            assert open_tasks == 0
            done_tasks = session.execute(select(func.count()).where(HumanTask.state == "completed")).scalar()
            assert done_tasks == 2 * INSTANCES + WARMUP  # the timed ones, the warm-up, the lookups' own
            for process in PROCESSES:
                datas = session.execute(
                    select(ProcessInstance.data).where(ProcessInstance.process_id == process.process_id)
                ).scalars().all()
                assert all(data.get(k) == v for data in datas for k, v in process.expected.items())
            handler_calls = session.execute(
                select(func.count()).where(AuditEvent.kind == "handler_called")
            ).scalar()
            assert handler_calls == 10 * (INSTANCES + WARMUP)
    finally:
        db.dispose()


def test_inbox_bench_seeds_and_queries_the_task_table():
    from engine.bench.inbox import run_inbox_bench

    report = run_inbox_bench(tasks=2_000, repeat=2)
    assert report["open_tasks"] == 2_000
    assert set(report["queries"]) >= {"agent, first page by due date", "auditor, all lanes",
                                      "agent, stamp counted", "anyone, idle poll"}
    assert all(q["p50_ms"] > 0 for q in report["queries"].values())


def test_timer_bench_fires_every_timer_with_real_workers(tmp_path: Path) -> None:
    from engine.bench.timers import run_timer_bench

    lines: list[str] = []
    report = run_timer_bench(timers=8, window=1.0, workers=2, load_per_s=2,
                             database_url=f"sqlite:///{tmp_path / 'timers.db'}", echo=lines.append)
    json.dumps(report)
    assert (report["fired"], report["missing"], report["worker_exit_codes"]) == (8, 0, [0, 0])
    lateness = report["lateness_s"]
    assert 0 <= lateness["p50"] <= lateness["p95"] <= lateness["p99"] <= lateness["max"]
    assert isinstance(report["meets_target"], bool)
    assert any("timer accuracy" in line for line in lines)
    db = Database(f"sqlite:///{tmp_path / 'timers.db'}")
    with db.read() as session:
        fired = session.execute(select(func.count()).where(AuditEvent.kind == "timer_fired")).scalar()
    db.dispose()
    assert fired == 8


def test_replay_bench_replays_every_instance_identical(tmp_path: Path) -> None:
    from engine.bench.replay import run_replay_bench

    lines: list[str] = []
    report = run_replay_bench(events=40, echo=lines.append, database_url=f"sqlite:///{tmp_path / 'r.db'}")
    json.dumps(report)
    assert report["events"] >= 40 and report["differing"] == []
    assert report["identical"] == report["instances"] > 0
    assert report["seconds"] > 0 and isinstance(report["meets_target"], bool)
    assert any(line.startswith("replay:") for line in lines)


@pytest.mark.both_databases
def test_scale_bench_seeds_both_sizes_and_reports_its_verdict(empty_db_url: str) -> None:
    from engine.bench.scale import SCALE_TARGET, run_scale_bench

    lines: list[str] = []
    report = run_scale_bench(sizes=(200, 2_000), steps=5, database_url=empty_db_url, echo=lines.append)
    json.dumps(report)
    assert (report["small"], report["large"]) == (200, 2_000)
    assert report["target"] == SCALE_TARGET
    for size in (200, 2_000):
        row = report["sizes"][str(size)]
        assert row["instances"] >= size
        assert row["steps"] == 2 * 5
        assert 0 < row["step_ms"]["p50"] <= row["step_ms"]["p95"]
    assert report["ratio"] > 0
    assert report["meets_target"] == (report["ratio"] <= SCALE_TARGET)
    assert report["statements_per_start_and_complete"] > 0
    assert report["unindexed"] == []  # every statement of a step finds its rows by an index
    assert any("MISSES" in line or "meets" in line for line in lines)


def test_wal_frames_bench_names_the_pages_each_step_writes() -> None:
    from engine.bench.wal_frames import run_wal_frames_bench

    lines: list[str] = []
    report = run_wal_frames_bench(instances=4, echo=lines.append)
    json.dumps(report)
    user, chain = report["processes"]["bench_user_task"], report["processes"]["bench_service_chain"]
    assert (user["commits"], chain["commits"]) == (2 * 4, 4)  # one transaction per wait state
    for found in (user, chain):
        assert found["dbstat"] is True
        assert abs(sum(found["by_btree"].values()) - found["frames_per_instance"]) < 0.1
        assert {"process_instance", "audit_event", "audit_head"} <= set(found["by_btree"])
        # the index by kind holds none of a step's events; an instance without a business key is not in its index
        assert not {"ix_audit_event_read_by_kind", "ix_process_instance_business_key"} & set(found["by_btree"])
    assert "human_task" in user["by_btree"] and "human_task" not in chain["by_btree"]
    assert any(line.strip().startswith("bench_user_task") for line in lines)
