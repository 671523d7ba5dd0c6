"""`tourflow bench --http`: the approval shape over the real HTTP stack.

A fresh database (a temporary SQLite file, or the PostgreSQL URL given), the process
`bench_approval` (start -> one user task in the staff lane -> script task -> end) deployed, a
user holding `staff` and a bearer token for them. `tourflow serve --no-job-worker` runs as a
subprocess on a free port (real gunicorn, its own workers); clients speak HTTP/1.1 with keep-alive
(http.client) and, per instance: create it (POST /processes/bench_approval/instances), look its
task up in the inbox (GET /tasks), submit the form (POST /tasks/<id>/complete).

On SQLite the sequential figure is the target (`HTTP_TARGET` instances/s). With PostgreSQL, 8 concurrent
clients run against 1, 2 and 4 workers too, and that is its target: throughput must grow with workers (the
sequential figure is printed for comparison, without a verdict).
The memory scenario (webapp/bench_http_memory.py) reuses the server and the client here.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from engine.access.users import create_token
from engine.bench.core import (
    BENCH_DIR,
    DATABASE_URL_ENV,
    FORM_DATA,
    deploy_bench_process,
    ensure_bench_user,
)
from engine.store.db import Database
from webapp.bench_http_cpu import CpuMeter, cpu_report, postmaster_pid

PROCESS_ID = "bench_approval"
HTTP_USER = "bench_http"
HTTP_TARGET = 80.0  # instances/s, sequential, SQLite, 2 cores
CONCURRENT_CLIENTS = 8
WORKER_CURVE = (1, 2, 4)
KINDS = ("create", "inbox", "submit")
Echo = Callable[[str], Any] | None


# ---- the database and the server -------------------------------------------------------------
def prepare_database(url: str) -> str:
    """Schema, the bench user and process; returns a fresh bearer token for the user."""
    db = Database(url)
    try:
        db.upgrade()
        ensure_bench_user(db, HTTP_USER)
        deploy_bench_process(db, BENCH_DIR / f"{PROCESS_ID}.bpmn")
        with db.write() as session, session.begin():
            return create_token(session, HTTP_USER, "bench --http", actor="bench")
    finally:
        db.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    """`tourflow serve` as a subprocess: gunicorn's master is the process, its workers its children."""

    url: str
    workers: int
    home: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> Server:
        exe = Path(sys.executable).with_name("tourflow")
        command = [str(exe)] if exe.exists() else [sys.executable, "-c", "from webapp.cli import main; main()"]
        command += ["serve", "--no-job-worker", "--port", str(self.port), "--workers", str(self.workers)]
        env = {**os.environ, "TOURFLOW_DATABASE_URL": self.url, "TOURFLOW_HOME": str(self.home),
               "TOURFLOW_SECRET_KEY": secrets.token_hex(16)}
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tourflow serve exited: {self.process.stderr.read().decode()[-2000:]}")
            if len(self.worker_pids()) >= self.workers and self._answers():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"tourflow serve did not answer on port {self.port} within {timeout:.0f}s")

    def _answers(self) -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            conn.request("GET", "/api/v1/me")
            conn.getresponse().read()
            conn.close()
            return True
        except OSError:
            return False

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except (OSError, ValueError):
            return []

    def cpu_seconds(self) -> float:
        """CPU time the workers have used so far (user + system): less noisy than wall time on a busy machine."""
        total = 0
        for pid in self.worker_pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()


@contextmanager
def running_server(url: str, workers: int, home: Path) -> Iterator[Server]:
    server = Server(url, workers, home)
    try:
        yield server.start()
    finally:
        server.stop()


# ---- the client ------------------------------------------------------------------------------
class Client:
    """One keep-alive connection with a bearer token; `timings[kind]` collects seconds per request."""

    def __init__(self, port: int, token: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                        "Accept": "application/json"}
        self.timings: dict[str, list[float]] = {kind: [] for kind in KINDS}

    def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        payload = None if body is None else json.dumps(body)
        self.conn.request(method, f"/api/v1{path}", body=payload, headers=self.headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status != expect:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:500]!r}")
        return json.loads(data)

    def timed(self, kind: str, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        t0 = time.perf_counter()
        result = self.call(method, path, body, expect)
        self.timings[kind].append(time.perf_counter() - t0)
        return result

    def cycle(self) -> int:
        """One instance from start to end; returns its id."""
        instance = self.timed("create", "POST", f"/processes/{PROCESS_ID}/instances", {}, expect=201)
        instance_id = instance["id"]
        inbox = self.timed("inbox", "GET", f"/tasks?process={PROCESS_ID}&sort=age&per_page=100")
        mine = [t for t in inbox["items"] if t["instance_id"] == instance_id]
        if len(mine) != 1:
            raise RuntimeError(f"instance {instance_id}: expected its one task in the inbox, found {len(mine)}")
        done = self.timed("submit", "POST", f"/tasks/{mine[0]['id']}/complete", FORM_DATA)
        if done["instance"]["status"] != "completed" or done["open_tasks"]:
            raise RuntimeError(f"instance {instance_id} did not complete: {done['instance']['status']}")
        return instance_id

    def close(self) -> None:
        self.conn.close()


def _stats(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {"count": len(ordered), "median_ms": round(statistics.median(ordered) * 1000, 3),
            "p95_ms": round(p95 * 1000, 3)}


def run_clients(port: int, token: str, instances: int, clients: int) -> dict[str, Any]:
    """`instances` cycles shared by `clients` threads, each on its own connection."""
    per_client = [instances // clients + (1 if i < instances % clients else 0) for i in range(clients)]
    workers = [Client(port, token) for _ in range(clients)]
    completed: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(clients + 1)

    def work(client: Client, count: int) -> None:
        start.wait()
        try:
            for _ in range(count):
                completed.append(client.cycle())
        except BaseException as exc:  # noqa: BLE001 - reported below, with the others'
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c, n)) for c, n in zip(workers, per_client, strict=True)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    for c in workers:
        c.close()
    if errors:
        raise RuntimeError(f"{len(errors)} client(s) failed; first: {errors[0]}") from errors[0]
    merged = {kind: [s for c in workers for s in c.timings[kind]] for kind in KINDS}
    return {"clients": clients, "instances": len(completed), "completed": len(set(completed)),
            "seconds": round(wall, 3), "instances_per_s": round(len(completed) / wall, 2),
            "requests": {kind: _stats(merged[kind]) for kind in KINDS}}


# ---- the scenario ----------------------------------------------------------------------------
def run_http_bench(instances: int = 500, database_url: str | None = None, warmup: int = 20,
                   echo: Echo = None) -> dict[str, Any]:
    """Sequential cycles (the target); on PostgreSQL also the worker curve with 8 clients."""
    if instances < 1:
        raise ValueError("instances must be at least 1")
    url = database_url or os.environ.get(DATABASE_URL_ENV)
    source = "argument" if database_url else (DATABASE_URL_ENV if url else "temporary SQLite file")
    with tempfile.TemporaryDirectory(prefix="tourflow-bench-http-") as tmp:
        url = url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        backend = make_url(url).get_backend_name()
        token = prepare_database(url)
        report: dict[str, Any] = {
            "process": PROCESS_ID, "instances": instances, "warmup": warmup,
            "database": {"backend": backend, "source": source,
                         "url": make_url(url).render_as_string(hide_password=True)},
        }
        postmaster = postmaster_pid(url)
        with running_server(url, 1, Path(tmp)) as server:
            if warmup:
                run_clients(server.port, token, warmup, 1)
            cpu = server.cpu_seconds()
            report["sequential"] = _measured(server, postmaster, token, instances, 1)
            report["sequential"]["server_cpu_ms_per_instance"] = round(
                (server.cpu_seconds() - cpu) * 1000 / instances, 2)
        if backend == "postgresql":  # its target is the worker curve; the sequential figure is for comparison
            report["concurrent"] = _worker_curve(url, token, instances, Path(tmp), postmaster, echo)
            report["target"] = {"concurrent": report["concurrent"]["target"]}
            report["meets_target"] = report["concurrent"]["meets_target"]
        else:
            report["target"] = {"instances_per_s": HTTP_TARGET, "clients": 1, "workers": 1}
            report["meets_target"] = report["sequential"]["instances_per_s"] >= HTTP_TARGET
    if echo is not None:
        print_report(report, echo)
    return report


def _measured(server: Server, postmaster: int | None, token: str, instances: int, clients: int) -> dict[str, Any]:
    """`run_clients`, with the CPU the client, the workers and a local PostgreSQL used (webapp/bench_http_cpu.py)."""
    meter = CpuMeter(server.process.pid, postmaster)
    before = meter.read()
    result = run_clients(server.port, token, instances, clients)
    return {**result, **cpu_report(before, meter.read(), instances)}


def _worker_curve(url: str, token: str, instances: int, home: Path, postmaster: int | None, echo: Echo
                  ) -> dict[str, Any]:
    points = []
    for workers in WORKER_CURVE:
        if echo is not None:
            echo(f"  {CONCURRENT_CLIENTS} clients against {workers} worker(s) ...")
        with running_server(url, workers, home) as server:
            run_clients(server.port, token, CONCURRENT_CLIENTS * 2, CONCURRENT_CLIENTS)
            points.append({"workers": workers, **_measured(server, postmaster, token, instances, CONCURRENT_CLIENTS)})
    rates = [p["instances_per_s"] for p in points]
    grows = all(b > a for a, b in zip(rates, rates[1:], strict=False))
    return {"clients": CONCURRENT_CLIENTS, "points": points,
            "target": "instances/s grows with workers (1 < 2 < 4)", "meets_target": grows}


def print_report(report: dict[str, Any], echo: Callable[[str], Any]) -> None:
    db, seq = report["database"], report["sequential"]
    echo(f"tourflow bench --http: {report['process']} (create -> inbox -> submit) over gunicorn, bearer token, "
         f"{db['backend']} ({db['source']}); {report['instances']} instances after {report['warmup']} warm-up")
    echo(f"{'request':<10}{'count':>8}{'median ms':>12}{'p95 ms':>10}")
    for kind, stats in seq["requests"].items():
        echo(f"{kind:<10}{stats['count']:>8}{stats['median_ms']:>12.2f}{stats['p95_ms']:>10.2f}")
    if "instances_per_s" in report["target"]:
        verdict = "meets" if report["meets_target"] else "MISSES"
        target = f"(target >= {HTTP_TARGET:g}): {verdict}"
    else:
        target = f"(no target on {db['backend']}: its target is the worker curve)"
    echo(f"sequential, 1 client, 1 worker: {seq['instances_per_s']:.1f} instances/s {target}; the worker used "
         f"{seq['server_cpu_ms_per_instance']:.1f} ms of CPU per instance")
    echo(f"  CPU per instance: {_cpu_text(seq)}")
    curve = report.get("concurrent")
    if curve:
        figures = ", ".join(f"{p['workers']} worker(s) {p['instances_per_s']:.1f}/s" for p in curve["points"])
        verdict = "meets" if curve["meets_target"] else "MISSES"
        echo(f"{curve['clients']} concurrent clients: {figures} (target: {curve['target']}): {verdict}")
        for point in curve["points"]:
            echo(f"  {point['workers']} worker(s), CPU per instance: {_cpu_text(point)}")


def _cpu_text(point: dict[str, Any]) -> str:
    """`client 0.7 ms, workers 13.1 ms, postgresql 3.2 ms; 2 cores 81% busy` (n/a: not measured here)."""
    parts = ", ".join(f"{part} {'n/a' if ms is None else f'{ms:.1f} ms'}"
                      for part, ms in point["cpu_ms_per_instance"].items())
    busy = point["cores_busy"]
    return f"{parts}; {point['cores']} cores {'?' if busy is None else f'{busy:.0%}'} busy"
