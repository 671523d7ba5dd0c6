"""`tourflow bench --http` and `--http-memory` at CI size: a real gunicorn, real HTTP, every instance
completes and the reports have their figures and verdicts (no timing asserts)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from engine.store.db import Database
from engine.store.models import AuditEvent, HumanTask, ProcessInstance
from engine.store.states import InstanceStatus
from webapp.bench_http import HTTP_TARGET, KINDS, PROCESS_ID, run_http_bench
from webapp.bench_http_cpu import CpuMeter, cpu_report, postmaster_pid
from webapp.bench_http_memory import MEMORY_TARGET, run_memory_bench
from webapp.cli import main

INSTANCES = 20
WARMUP = 2


def test_bench_http_runs_every_instance_to_its_end_over_gunicorn(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    lines: list[str] = []
    report = run_http_bench(instances=INSTANCES, database_url=url, warmup=WARMUP, echo=lines.append)

    json.dumps(report)
    seq = report["sequential"]
    assert seq["instances"] == seq["completed"] == INSTANCES and seq["clients"] == 1
    assert seq["instances_per_s"] > 0 and seq["server_cpu_ms_per_instance"] >= 0
    for kind in KINDS:
        stats = seq["requests"][kind]
        assert stats["count"] == INSTANCES and 0 < stats["median_ms"] <= stats["p95_ms"]
    assert report["target"]["instances_per_s"] == HTTP_TARGET
    assert report["meets_target"] == (seq["instances_per_s"] >= HTTP_TARGET)
    assert "concurrent" not in report, "the worker curve is for PostgreSQL"
    cpu = seq["cpu_ms_per_instance"]
    assert set(cpu) == {"client", "workers", "postgresql"} and cpu["postgresql"] is None, "no server on SQLite"
    assert cpu["client"] >= 0 and cpu["workers"] >= 0 and seq["cores"] >= 1 and seq["cores_busy"] >= 0
    assert any(line.startswith("  CPU per instance: client ") for line in lines)
    verdict = [line for line in lines if "instances/s" in line and "target >= 80" in line]
    assert len(verdict) == 1 and ("meets" in verdict[0] or "MISSES" in verdict[0])

    db = Database(url)
    try:
        with db.read() as session:
            statuses = session.execute(select(ProcessInstance.status, func.count()).where(
                ProcessInstance.process_id == PROCESS_ID).group_by(ProcessInstance.status)).all()
            open_tasks = session.execute(select(func.count()).select_from(HumanTask).where(
                HumanTask.state == "ready")).scalar_one()
            completions = session.execute(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.kind == "task_completed", AuditEvent.actor == "bench_http")).scalar_one()
            decisions = {d["decision"] for d in session.execute(select(ProcessInstance.data)).scalars()}
    finally:
        db.dispose()
    assert statuses == [(InstanceStatus.COMPLETED, INSTANCES + WARMUP)]
    assert open_tasks == 0 and completions == INSTANCES + WARMUP
    assert decisions == {"approved"}, "the script task ran on every instance"


def test_bench_http_memory_reports_the_worker_rss_at_both_points(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'memory.db'}"
    report = run_memory_bench(requests=300, database_url=url, warm=100)

    assert report["requests"] >= 300 and report["warm_requests"] == 100
    assert report["rss_kib_after_warm"] > 0 and report["rss_kib_after_all"] > 0
    assert report["growth"] == round(report["rss_kib_after_all"] / report["rss_kib_after_warm"] - 1, 4)
    assert report["target"] == {"max_growth": MEMORY_TARGET}
    assert report["meets_target"] == (report["growth"] <= MEMORY_TARGET)
    assert report["samples"][0]["requests"] >= 100


def test_bench_cli_takes_the_http_options(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = CliRunner().invoke(main, ["bench", "--http", "--http-instances", "3", "--http-database-url", url,
                                      "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report) == {"http"} and report["http"]["sequential"]["completed"] == 3
    assert {"target", "meets_target"} <= set(report["http"])


@pytest.mark.both_databases
def test_the_cpu_meter_finds_a_local_postgresql_server_and_counts_its_work(db_url: str) -> None:
    postmaster = postmaster_pid(db_url)
    if make_url(db_url).get_backend_name() == "sqlite":
        assert postmaster is None
        return
    assert postmaster is not None and Path(f"/proc/{postmaster}/comm").read_text().strip() == "postgres"
    meter = CpuMeter(os.getpid(), postmaster)
    before = meter.read()
    db = Database(db_url)
    try:
        with db.engine.connect() as connection:  # a backend that works, then ends (reaped: still counted)
            connection.execute(text("SELECT count(*) FROM generate_series(1, 3000000)")).scalar_one()
    finally:
        db.dispose()
    report = cpu_report(before, meter.read(), instances=1)
    assert report["cpu_ms_per_instance"]["postgresql"] > 0


@pytest.mark.both_databases
def test_on_postgresql_the_target_is_the_worker_curve_not_the_sequential_figure(empty_db_url: str) -> None:
    if make_url(empty_db_url).get_backend_name() == "sqlite":
        pytest.skip("the worker curve runs on PostgreSQL (SQLite: the test above)")
    lines: list[str] = []
    report = run_http_bench(instances=3, database_url=empty_db_url, warmup=1, echo=lines.append)
    curve = report["concurrent"]
    assert [p["workers"] for p in curve["points"]] == [1, 2, 4]
    assert all(p["completed"] == 3 for p in curve["points"])
    assert report["target"] == {"concurrent": curve["target"]}
    assert report["meets_target"] == curve["meets_target"]
    sequential = [line for line in lines if line.startswith("sequential, 1 client")]
    assert len(sequential) == 1 and "no target on postgresql" in sequential[0]
    assert "MISSES" not in sequential[0] and "meets" not in sequential[0]
