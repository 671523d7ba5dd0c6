"""The pages a step writes on SQLite, by table and index: the write-ahead log's frames per instance.

Each commit appends every page it changed to the WAL, one frame each (a 24-byte header and the page: two write
calls). Which pages a step changes is decided by the rows and index entries it writes, not by the machine, so the
count is exact and load-free: it measures a change to the indexes or rows of a step where a timing would drown in
noise (docs/performance.md, "Round 7").

Method: a fresh SQLite file with the bench processes deployed and a few instances run; then the WAL is emptied (a
TRUNCATE checkpoint) and `instances` instances of each process run with no checkpoint at all (the background
checkpointer unregistered, the committers' automatic one off). Each frame's page is named after the b-tree that owns
it by SQLite's `dbstat` table; a page no b-tree owns any more (freed since) is counted as "(free)".
"""

from __future__ import annotations

import sqlite3
import struct
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from engine.bench.core import PROCESSES, PersistedRunner, prepare
from engine.run.runtime import Runtime
from engine.store.db import Database
from engine.store.wal_checkpoint import CHECKPOINTER

WARMUP = 5
SHOWN = 8  # the b-trees printed per process (the JSON report holds them all)
_WAL_HEADER, _FRAME_HEADER = 32, 24


def read_wal(path: Path) -> tuple[list[int], int]:
    """The page number of every valid frame of the WAL file at `path` (its salts are the header's), and how many
    of them end a commit."""
    data = path.read_bytes() if path.exists() else b""
    if len(data) < _WAL_HEADER:
        return [], 0
    page_size = struct.unpack(">I", data[8:12])[0]
    salts = data[16:24]
    pages, commits = [], 0
    for offset in range(_WAL_HEADER, len(data) - _FRAME_HEADER - page_size + 1, _FRAME_HEADER + page_size):
        page, size_after_commit = struct.unpack(">II", data[offset:offset + 8])
        if data[offset + 8:offset + 16] != salts:
            break  # frames of an earlier generation of the log: not part of it
        pages.append(page)
        commits += size_after_commit != 0
    return pages, commits


def page_owners(database: Path) -> dict[int, str] | None:
    """Which table or index owns each page of the database file (None: this SQLite has no `dbstat`)."""
    connection = sqlite3.connect(database)
    try:
        return {page: name for name, page in connection.execute("SELECT name, pageno FROM dbstat")}
    except sqlite3.OperationalError:
        return None
    finally:
        connection.close()


def _frames_of(rt: Runtime, path: Path, process, instances: int) -> dict[str, Any]:
    runner = PersistedRunner(rt, process)
    for _ in range(WARMUP):
        runner.run_one()
    with rt.db.engine.connect() as connection:
        busy, log_frames, _copied = connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)")).one()
    if busy or log_frames:
        raise RuntimeError(f"the WAL could not be emptied before counting (busy {busy}, {log_frames} frames left)")
    for _ in range(instances):
        runner.run_one()
    pages, commits = read_wal(Path(f"{path}-wal"))
    owners = page_owners(path)
    by_owner = Counter(owners.get(page, "(free)") for page in pages) if owners is not None else Counter()
    return {"instances": instances, "frames": len(pages), "commits": commits,
            "frames_per_instance": round(len(pages) / instances, 2),
            "commits_per_instance": round(commits / instances, 2),
            "by_btree": {name: round(count / instances, 2) for name, count in by_owner.most_common()},
            "dbstat": owners is not None}


def run_wal_frames_bench(instances: int = 100, echo: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """WAL frames per instance of each bench process, by table and index, on a fresh SQLite file."""
    if instances < 1:
        raise ValueError("instances must be at least 1")
    report: dict[str, Any] = {"database": "temporary SQLite file", "processes": {}}
    with tempfile.TemporaryDirectory(prefix="tourflow-wal-frames-") as tmp:
        path = Path(tmp) / "frames.db"
        db = Database(f"sqlite:///{path}")
        if db.wal is not None:
            CHECKPOINTER.unregister(db.wal)
        event.listen(db.engine.pool, "connect", _no_automatic_checkpoint)
        try:
            rt = prepare(db)
            for process in PROCESSES:
                report["processes"][process.process_id] = _frames_of(rt, path, process, instances)
        finally:
            db.dispose()
    if echo is not None:
        _print(report, echo)
    return report


def _no_automatic_checkpoint(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")


def _print(report: dict[str, Any], echo: Callable[[str], Any]) -> None:
    echo("WAL frames per instance (SQLite; a frame is one page a commit writes; no target: a profile of the writes)")
    for process_id, found in report["processes"].items():
        commits = found["commits_per_instance"]
        echo(f"  {process_id:22s} {found['frames_per_instance']:6.2f} frames in {commits:g} "
             f"commit{'' if commits == 1 else 's'} ({found['instances']} instances)")
        if not found["dbstat"]:
            echo("    (this SQLite has no dbstat table: frames are not named by table and index)")
        for name, count in list(found["by_btree"].items())[:SHOWN]:
            echo(f"    {count:6.2f}  {name}")


__all__ = ["page_owners", "read_wal", "run_wal_frames_bench"]
