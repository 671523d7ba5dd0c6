"""`tourflow bench --http-memory`: is the server's memory bounded?

One gunicorn worker (webapp/bench_http.py's server and client, a fresh database) answers
`requests` requests with a bearer token: the inbox in its filters and pages, single
instances and tasks, `/me`, and every `CYCLE_EVERY` requests a whole instance (create, inbox,
submit), so the deployed-version, form and token caches all see traffic. The worker's resident
memory (VmRSS of /proc/<pid>/status) after `WARM` requests and after all of them must be within
`MEMORY_TARGET` of each other.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from engine.bench.core import DATABASE_URL_ENV
from webapp.bench_http import PROCESS_ID, Client, Echo, prepare_database, running_server

WARM = 1000
MEMORY_TARGET = 0.10  # RSS after all requests at most 10% over RSS after WARM
CYCLE_EVERY = 50
SAMPLES = 10


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def _reads(instance_ids: list[int], n: int) -> list[str]:
    """The read requests in turn: varied query strings and ids, as many clients would send."""
    instance = instance_ids[n % len(instance_ids)]
    return [f"/tasks?process={PROCESS_ID}&page={n % 7 + 1}", "/me", f"/instances/{instance}",
            f"/tasks?sort=age&per_page={n % 50 + 1}", f"/instances/{instance}/tasks"]


def run_memory_bench(requests: int = 100_000, database_url: str | None = None, echo: Echo = None,
                     warm: int = WARM) -> dict[str, Any]:
    """RSS after `warm` requests and after `requests` (the smoke test sends fewer of both)."""
    if requests < warm:
        raise ValueError(f"requests must be at least {warm}")
    url = database_url or os.environ.get(DATABASE_URL_ENV)
    with tempfile.TemporaryDirectory(prefix="tourflow-bench-memory-") as tmp:
        url = url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        token = prepare_database(url)
        with running_server(url, 1, Path(tmp)) as server:
            (worker,) = server.worker_pids()
            client = Client(server.port, token)
            instance_ids = [client.cycle() for _ in range(5)]
            sent, n, samples = 15, 0, []
            started, every = time.perf_counter(), max(1, (requests - warm) // SAMPLES)
            rss_warm = None
            while sent < requests:
                if n % CYCLE_EVERY == 0:
                    instance_ids.append(client.cycle())
                    instance_ids = instance_ids[-100:]
                    sent += 3
                else:
                    path = _reads(instance_ids, n)[n % 5]
                    client.call("GET", path)
                    sent += 1
                n += 1
                if rss_warm is None and sent >= warm:
                    rss_warm = rss_kib(worker)
                    samples.append({"requests": sent, "rss_kib": rss_warm})
                elif rss_warm is not None and (sent - warm) // every > len(samples) - 1:
                    samples.append({"requests": sent, "rss_kib": rss_kib(worker)})
            rss_end = rss_kib(worker)
            client.close()
            seconds = time.perf_counter() - started
    growth = rss_end / rss_warm - 1
    report = {"requests": sent, "seconds": round(seconds, 1), "worker_pid": worker,
              "database": make_url(url).get_backend_name(),
              "rss_kib_after_warm": rss_warm, "warm_requests": warm, "rss_kib_after_all": rss_end,
              "growth": round(growth, 4), "samples": samples,
              "target": {"max_growth": MEMORY_TARGET}, "meets_target": growth <= MEMORY_TARGET}
    if echo is not None:
        verdict = "meets" if report["meets_target"] else "MISSES"
        echo(f"tourflow bench --http-memory: {sent} requests to one gunicorn worker ({report['database']}, "
             f"{seconds:.0f} s)")
        echo(f"worker RSS after {warm}: {rss_warm / 1024:.1f} MiB; after {sent}: {rss_end / 1024:.1f} MiB; "
             f"growth {growth:+.1%} (target <= +{MEMORY_TARGET:.0%}): {verdict}")
    return report
