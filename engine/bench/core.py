"""`tourflow bench`: raw in-memory SpiffWorkflow against tourflow with persistence.

One run, one machine, the same BPMN files on both sides (engine/bench/processes/):

* `bench_user_task`: start -> one user task (lane staff, tiny form) -> end;
* `bench_service_chain`: start -> ten service tasks calling handler `bench_step` -> end.

Raw side: the file is parsed once with SpiffBpmnParser; every instance is a fresh
BpmnWorkflow run with `do_engine_steps`, its user task completed with
`task.data.update(...)` + `task.run()`. Service tasks go through a stock
PythonScriptEngine whose `call_service` returns the JSON the real handler returns.

Persisted side: the same files deployed with `deploy_file` (lint included) into a fresh
SQLite file (or TOURFLOW_BENCH_DATABASE_URL), a user holding the `staff` lane, and the
production calls `Runtime.start_answered` (its answer names the starter's task, as for the start page
and an API client) and `Runtime.complete`, each its own transaction; a step is one of them. The inbox
lookup (`Runtime.tasks`) is timed apart (engine/bench/lookups.py), outside the throughput.
"""

from __future__ import annotations

import gc
import json
import math
import os
import platform
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.engine import make_url

from engine.access.users import create_user
from engine.bench.handler import bench_step
from engine.bench.lookups import time_lookups
from engine.bench.report import print_report
from engine.errors import DeploymentError
from engine.run.catalog import model_of
from engine.run.deployments import deploy_file
from engine.run.runtime import Runtime
from engine.store.db import Database
from engine.store.models import Deployment, ProcessInstance, User
from engine.store.states import InstanceStatus

BENCH_DIR = Path(__file__).resolve().parent / "processes"
DATABASE_URL_ENV = "TOURFLOW_BENCH_DATABASE_URL"
BENCH_USER = "bench_staff"
BENCH_LANE = "staff"
FORM_DATA: dict[str, Any] = {"approved": True, "note": "ok"}
TARGET_RATIO = 0.5  # the ten service tasks' target; each process names its own (BenchProcess.target)
DEFAULT_WARMUP = 5
BATCHES = 5  # raw and persisted alternate in this many timed batches
LOOKUPS = 50  # instances whose inbox lookup is timed apart, after the timed batches


@dataclass(frozen=True)
class BenchProcess:
    process_id: str
    user_tasks: int  # user tasks per instance: what both sides must complete
    service_tasks: int
    expected: dict[str, Any]  # what a completed instance's data must hold, on both sides
    target: float = TARGET_RATIO  # persisted/raw this process must reach (issue 18)

    @property
    def path(self) -> Path:
        return BENCH_DIR / f"{self.process_id}.bpmn"


PROCESSES = (
    BenchProcess("bench_user_task", user_tasks=1, service_tasks=0, expected={"approved": True}, target=0.20),
    BenchProcess("bench_service_chain", user_tasks=0, service_tasks=10, expected={"counter": {"n": 10}},
                 target=0.50),
)

# Stand-ins for the handler registry on the raw side: the same functions, resolved once.
RAW_HANDLERS: dict[str, Callable[..., dict[str, Any]]] = {"bench_step": bench_step}


class RawScriptEngine(PythonScriptEngine):
    """Stock script engine; a service task gets the JSON its tourflow handler would return."""

    def call_service(self, task, operation_name=None, operation_params=None, **kwargs):
        params = {name: spec["value"] for name, spec in (operation_params or {}).items()}
        return json.dumps(RAW_HANDLERS[operation_name](None, **params))


# ---- raw SpiffWorkflow ----------------------------------------------------------------

class RawRunner:
    def __init__(self, process: BenchProcess):
        self.process = process
        parser = SpiffBpmnParser()
        parser.add_bpmn_files([str(process.path)])
        self.spec = parser.get_spec(process.process_id)
        self.subprocess_specs = parser.get_subprocess_specs(process.process_id)
        self.script_engine = RawScriptEngine()

    def run_one(self) -> BpmnWorkflow:
        workflow = BpmnWorkflow(self.spec, self.subprocess_specs, script_engine=self.script_engine)
        workflow.do_engine_steps()
        done = 0
        while not workflow.completed:
            ready = workflow.get_tasks(state=TaskState.READY, manual=True)
            if not ready:
                raise RuntimeError(f"raw {self.process.process_id}: stuck before completion")
            task = ready[0]
            task.data.update(FORM_DATA)
            task.run()
            done += 1
            workflow.do_engine_steps()
        if done != self.process.user_tasks:
            raise RuntimeError(f"raw {self.process.process_id}: completed {done} user tasks, "
                               f"expected {self.process.user_tasks}")
        return workflow


# ---- tourflow with persistence --------------------------------------------------------

class PersistedRunner:
    def __init__(self, runtime: Runtime, process: BenchProcess):
        self.runtime, self.process, self.user, self.form = runtime, process, BENCH_USER, FORM_DATA
        self.starts: list[float] = []
        self.completes: list[float] = []
        self.lookups: list[float] = []  # timed apart (engine/bench/lookups.py), on the instances of lookup_ids
        self.instance_ids: list[int] = []
        self.lookup_ids: list[int] = []

    def run_one(self, sample: dict[str, str] | None = None) -> int:
        """One instance through production calls; `sample` collects its serialized states."""
        rt, pid = self.runtime, self.process.process_id
        t0 = time.perf_counter()
        answer = rt.start_answered(pid, actor=BENCH_USER)
        self.starts.append(time.perf_counter() - t0)
        instance_id, ready = answer["instance"]["id"], answer["open_tasks"]
        if sample is not None and self.process.user_tasks:
            sample["waiting"] = _serialized(rt, instance_id)
        for done in range(1, self.process.user_tasks + 1):  # the task the last answer named; the last: no answer
            if len(ready) != 1:
                raise RuntimeError(f"{pid} instance {instance_id}: expected one ready task, found {len(ready)}")
            t0 = time.perf_counter()
            if done < self.process.user_tasks:
                ready = rt.complete_answered(ready[0]["id"], BENCH_USER, FORM_DATA, None)["open_tasks"]
            else:
                rt.complete(ready[0]["id"], BENCH_USER, FORM_DATA)
            self.completes.append(time.perf_counter() - t0)
        if sample is not None:
            sample["completed"] = _serialized(rt, instance_id)
        self.instance_ids.append(instance_id)
        return instance_id

    def reset(self) -> None:
        self.starts, self.completes, self.lookups, self.instance_ids = [], [], [], []


def _serialized(rt: Runtime, instance_id: int) -> str:
    with rt.db.read() as session:
        return session.get(ProcessInstance, instance_id).serialized


def _count_completed(rt: Runtime, instance_ids: list[int]) -> int:
    """How many of these instances the database holds as `completed`."""
    completed = 0
    with rt.db.read() as session:
        for i in range(0, len(instance_ids), 500):
            chunk = instance_ids[i:i + 500]
            completed += len(session.execute(
                select(ProcessInstance.id).where(ProcessInstance.id.in_(chunk), ProcessInstance.status == InstanceStatus.COMPLETED)
            ).all())
    return completed


def _check_data(process: BenchProcess, side: str, data: dict[str, Any]) -> None:
    """Both sides must do the same work: a completed instance ends with the same data."""
    for key, value in process.expected.items():
        if data.get(key) != value:
            raise RuntimeError(f"{side} {process.process_id}: data[{key!r}] is {data.get(key)!r}, expected {value!r}")


def _batch_size(instances: int) -> int:
    return max(1, math.ceil(instances / BATCHES))


def _bench_process(rt: Runtime, process: BenchProcess, instances: int, warmup: int) -> dict[str, Any]:
    """Warm both sides up, then time them in alternating batches, so that a burst of load on
    the machine hits both sides alike rather than one of them."""
    raw_runner = RawRunner(process)
    runner = PersistedRunner(rt, process)
    sample: dict[str, str] = {}  # serialized states of one (untimed) instance
    for i in range(warmup):
        _check_data(process, "raw", raw_runner.run_one().data)
        runner.run_one(sample if i == 0 else None)
    warm_ids = runner.instance_ids
    sample_id = warm_ids[0]
    with rt.db.read() as session:
        _check_data(process, "persisted", session.get(ProcessInstance, sample_id).data)
    runner.reset()
    taken, loaded = rt.live.hits, rt.live.misses
    raw_seconds = persisted_seconds = 0.0
    raw_completed = 0
    batch = _batch_size(instances)
    remaining = instances
    while remaining:
        size = min(batch, remaining)
        remaining -= size
        gc.collect()
        started = time.perf_counter()
        for _ in range(size):
            raw_completed += raw_runner.run_one().completed
        raw_seconds += time.perf_counter() - started
        gc.collect()
        started = time.perf_counter()
        for _ in range(size):
            runner.run_one()
        persisted_seconds += time.perf_counter() - started
    taken, loaded = rt.live.hits - taken, rt.live.misses - loaded
    time_lookups(runner, min(instances, LOOKUPS))
    steps = runner.starts + runner.completes
    raw = {"instances": instances, "completed": raw_completed, "seconds": round(raw_seconds, 4),
           "instances_per_s": round(instances / raw_seconds, 1)}
    persisted = {
        "instances": instances,
        "completed": _count_completed(rt, runner.instance_ids),
        "warmup_completed": _count_completed(rt, warm_ids),
        "seconds": round(persisted_seconds, 4),
        "instances_per_s": round(instances / persisted_seconds, 1),
        "steps": len(steps),
        "step_ms": _latency(steps),
        "start_ms": _latency(runner.starts),
        "complete_ms": _latency(runner.completes),
        "inbox_lookup_ms": _latency(runner.lookups),  # timed apart: not in seconds nor instances_per_s
        "inbox_lookup_instances": len(runner.lookup_ids),
        "inbox_lookup_completed": _count_completed(rt, runner.lookup_ids),
        "kept_workflows": {"taken": taken, "loaded": loaded},  # engine/run/live_workflows.py
    }
    return {"raw": raw, "persisted": persisted, "sample": sample, "sample_id": sample_id}


def _latency(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)
    ranks = {"p50": 0.50, "p95": 0.95, "p99": 0.99}
    picked = {name: ordered[max(0, math.ceil(q * len(ordered)) - 1)] for name, q in ranks.items()}
    return {name: round(value * 1000, 3) for name, value in (picked | {"max": ordered[-1]}).items()}


# ---- serialized size ------------------------------------------------------------------

def _sizes(rt: Runtime, instance_id: int, sample: dict[str, str]) -> dict[str, Any]:
    """tourflow's stored JSON (spec by reference) vs. SpiffWorkflow's stock serializer (spec inside)."""
    stock = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    with rt.db.read() as session:
        deployment = session.get(Deployment, session.get(ProcessInstance, instance_id).deployment_id)
        model = model_of(deployment)
    sizes: dict[str, Any] = {}
    for state, text in sample.items():
        workflow = rt.codec.loads(text, model)
        ours = len(text.encode("utf-8"))
        theirs = len(stock.serialize_json(workflow).encode("utf-8"))
        sizes[state] = {"tourflow_bytes": ours, "stock_bytes": theirs, "saving": round(1 - ours / theirs, 3)}
    return sizes


# ---- setup ----------------------------------------------------------------------------

def ensure_bench_user(db: Database, username: str) -> None:
    """The bench user holding lane `BENCH_LANE`, created on first use."""
    with db.write() as session, session.begin():
        user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if user is None:
            create_user(session, username, secrets.token_urlsafe(16), [BENCH_LANE], actor="bench")
        elif BENCH_LANE not in user.role_ids or not user.active:
            raise RuntimeError(f"user {username!r} exists but is inactive or lacks lane {BENCH_LANE!r}")


def deploy_bench_process(db: Database, path: Path) -> None:
    """Deploy one of the bench's BPMN files (lint included); a refusal names its errors."""
    try:
        with db.write() as session, session.begin():
            deploy_file(session, path, "bench")
    except DeploymentError as exc:
        details = "\n".join(str(f) for f in exc.findings if f.severity == "error")
        raise RuntimeError(f"cannot deploy the benchmark process {path.name}:\n{details}") from exc


def prepare(db: Database) -> Runtime:
    db.upgrade()
    rt = Runtime(db)
    ensure_bench_user(db, BENCH_USER)
    for process in PROCESSES:
        deploy_bench_process(db, process.path)
    return rt


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for package in ("SpiffWorkflow", "SQLAlchemy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "unknown"
    return versions


# ---- entry point ----------------------------------------------------------------------

def run_bench(instances: int = 200, echo: Callable[[str], Any] | None = None,
              database_url: str | None = None, warmup: int = DEFAULT_WARMUP) -> dict[str, Any]:
    """Measure both processes on both sides; returns a JSON-serialisable report.

    The persisted side uses `database_url`, else TOURFLOW_BENCH_DATABASE_URL, else a fresh
    SQLite file in a temporary folder (removed afterwards).
    """
    if instances < 1:
        raise ValueError("instances must be at least 1")
    warmup = max(1, warmup)  # at least one: it also provides the serialized-size sample
    url = database_url or os.environ.get(DATABASE_URL_ENV)
    source = "argument" if database_url else (DATABASE_URL_ENV if url else "temporary SQLite file")
    with tempfile.TemporaryDirectory(prefix="tourflow-bench-") as tmp:
        url = url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        db = Database(url)
        try:
            rt = prepare(db)
            report = _measure(rt, instances, warmup, echo, url, source)
        finally:
            db.dispose()
    if echo is not None:
        print_report(report, echo)
    return report


def _measure(rt: Runtime, instances: int, warmup: int, echo, url: str, source: str) -> dict[str, Any]:
    backend = make_url(url).get_backend_name()
    report: dict[str, Any] = {
        "instances": instances,
        "warmup": warmup,
        "batches": math.ceil(instances / _batch_size(instances)),
        "database": {"backend": backend, "source": source,
                     "url": make_url(url).render_as_string(hide_password=True)},
        "versions": _versions(),
        "target_ratio": {process.process_id: process.target for process in PROCESSES},
        "processes": {},
    }
    for process in PROCESSES:
        if echo is not None:
            echo(f"measuring {process.process_id} ({instances} instances per side) ...")
        measured = _bench_process(rt, process, instances, warmup)
        raw, persisted = measured["raw"], measured["persisted"]
        ratio = persisted["instances_per_s"] / raw["instances_per_s"]
        report["processes"][process.process_id] = {
            "user_tasks": process.user_tasks,
            "service_tasks": process.service_tasks,
            "raw": raw,
            "persisted": persisted,
            "ratio": round(ratio, 4),
            "target": process.target,
            "meets_target": ratio >= process.target,
            "serialized": _sizes(rt, measured["sample_id"], measured["sample"]),
        }
    return report
