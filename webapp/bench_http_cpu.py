"""Who used the CPU during a `tourflow bench --http` run: the client threads, the gunicorn workers (and
their children, the script sandboxes), and the PostgreSQL server when it runs on this machine.

On a machine of few cores these share the cores: whether more workers can raise the throughput depends
on the CPU left over, so the report gives each part's CPU time per instance and how busy the cores were.
A PostgreSQL server is found from one of its backends (`pg_backend_pid()` and its parent, the
postmaster); its CPU is the postmaster's, its children's and that of the children it has already reaped
(backends of connections that closed). A remote server, or one whose processes cannot be read, gives None.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text

from engine.store.db import Database

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_cpu(pid: int, reaped_children: bool = False) -> float:
    """CPU seconds of a process (user + system), with those of its reaped children when asked."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of proc(5))
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / TICKS


def children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        threads = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for thread in threads:
        try:
            found += [int(child) for child in (thread / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return found


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and all its live descendants."""
    return process_cpu(pid) + sum(tree_cpu(child) for child in children(pid))


def postmaster_pid(url: str) -> int | None:
    """The PostgreSQL server's main process, if it runs on this machine and we may read it."""
    db = Database(url)
    try:
        if db.is_sqlite:
            return None
        with db.engine.connect() as connection:  # read the backend's /proc entry while it is alive
            backend = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
            fields = _stat(backend)
            if fields is None or Path(f"/proc/{backend}/comm").read_text().strip() != "postgres":
                return None  # another machine's, or another process reusing the number
            return int(fields[1])
    except Exception:  # noqa: BLE001 - no figure rather than no bench
        return None
    finally:
        db.dispose()


@dataclass
class CpuMeter:
    """CPU seconds so far of the client (this process), the workers, and PostgreSQL (None if not here)."""

    server_pid: int  # gunicorn's master: its children are the workers
    postmaster: int | None = None

    def read(self) -> dict[str, float | None]:
        workers = children(self.server_pid)
        postgres = None
        if self.postmaster is not None:
            postgres = process_cpu(self.postmaster, reaped_children=True) + sum(
                process_cpu(pid) for pid in children(self.postmaster))
        return {"client": time.process_time(), "workers": sum(tree_cpu(pid) for pid in workers),
                "postgresql": postgres, "wall": time.perf_counter()}


def cpu_report(before: dict[str, float | None], after: dict[str, float | None], instances: int) -> dict[str, Any]:
    """CPU ms per instance of each part, and the cores' busy share of the wall time (their sum / cores)."""
    wall = after["wall"] - before["wall"]
    used = {part: None if before[part] is None or after[part] is None else after[part] - before[part]
            for part in ("client", "workers", "postgresql")}
    known = sum(seconds for seconds in used.values() if seconds is not None)
    cores = os.cpu_count() or 1
    return {"cpu_ms_per_instance": {part: None if s is None else round(s * 1000 / instances, 2)
                                    for part, s in used.items()},
            "cores": cores, "cores_busy": round(known / (wall * cores), 2) if wall > 0 else None}
