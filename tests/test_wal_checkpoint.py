"""The WAL checkpoint thread (engine/store/wal_checkpoint.py) on real SQLite files: it checkpoints after
writes (signalled once every WRITES_PER_CHECKPOINT writes, not at each write until it has), closes its
connection when a Database is disposed or dropped, keeps one thread per process (a new one after a fork),
logs an error once and works again on the next signal, can be turned off, and leaves a backup read
meanwhile consistent."""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
import sqlite3
import struct
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from engine.store import db as db_module
from engine.store.db import Database
from engine.store.wal_checkpoint import CHECKPOINTER, IDLE_SECONDS, WRITES_PER_CHECKPOINT

THREAD_NAME = "tourflow-wal-checkpoint"
ROW = "x" * 3000  # about one page per row: a write transaction adds a few WAL frames


def _wait_for(condition, what: str, seconds: float = 30.0) -> None:
    """Poll `condition` until it holds; fail after `seconds` (a bound, not a timing assert)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not {what} after {seconds} s")
        time.sleep(0.01)


def _database(path: Path) -> Database:
    db = Database(f"sqlite:///{path}")
    with db.write() as session, session.begin():
        session.execute(text("CREATE TABLE rows (id INTEGER PRIMARY KEY, body TEXT)"))
    return db


def _write(db: Database, transactions: int) -> None:
    for _ in range(transactions):
        with db.write() as session, session.begin():
            session.execute(text("INSERT INTO rows (body) VALUES (:body)"), {"body": ROW})


def _wal_frames(path: Path) -> tuple[int, int]:
    """(frames in the WAL, frames of it copied into the database), read from the WAL index (the -shm file)
    without taking any lock or running a checkpoint: mxFrame at byte 16, nBackfill at byte 96."""
    shm = Path(f"{path}-shm").read_bytes()
    (frames,) = struct.unpack_from("=I", shm, 16)
    (backfilled,) = struct.unpack_from("=I", shm, 96)
    return frames, backfilled


def _all_backfilled(path: Path) -> bool:
    frames, backfilled = _wal_frames(path)
    return frames > 0 and backfilled == frames


def _open_fds(*paths: Path) -> int:
    """File descriptors of this process open on the database files (or their -wal and -shm)."""
    names = {str(p) for path in paths for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"))}
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # closed meanwhile (e.g. the listing's own descriptor)
            count += os.readlink(f"/proc/self/fd/{fd}") in names
    return count


def _checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME]


def test_the_thread_checkpoints_the_wal_after_writes(tmp_path):
    path = tmp_path / "a.db"
    db = _database(path)
    try:
        _write(db, WRITES_PER_CHECKPOINT)
        _wait_for(lambda: db.wal.checkpoints >= 1 and _all_backfilled(path), "checkpointed")
        frames, _ = _wal_frames(path)
        assert frames < db_module.WAL_AUTOCHECKPOINT_PAGES  # so no committer did it
        assert len(_checkpoint_threads()) == 1 and CHECKPOINTER.thread().daemon
        # Fewer writes than a signal's worth are checkpointed once the thread has waited IDLE_SECONDS.
        before = db.wal.checkpoints
        _write(db, 3)
        _wait_for(lambda: db.wal.checkpoints > before and _all_backfilled(path), "checkpointed when idle",
                  seconds=30 + IDLE_SECONDS)
    finally:
        db.dispose()


def test_writes_past_the_mark_signal_the_thread_once_every_n_writes_not_at_each(tmp_path, monkeypatch):
    path = tmp_path / "a.db"
    db = _database(path)
    signals: list[bool] = []
    real = CHECKPOINTER.signal

    def counted(target, due: bool) -> None:
        signals.append(due)
        real(target, due)

    monkeypatch.setattr(CHECKPOINTER, "signal", counted)
    try:
        with db.wal.lock:  # the thread cannot checkpoint meanwhile: every write after the mark finds it not done
            _write(db, 3 * WRITES_PER_CHECKPOINT)
            assert signals.count(True) == 3
        _wait_for(lambda: db.wal.checkpoints >= 1 and _all_backfilled(path), "checkpointed")
    finally:
        db.dispose()


def test_dispose_closes_the_connection_and_the_thread_lets_go(tmp_path):
    path = tmp_path / "a.db"
    db = _database(path)
    _write(db, WRITES_PER_CHECKPOINT)
    _wait_for(lambda: db.wal.checkpoints >= 1, "checkpointed")
    target = db.wal
    assert target.connection is not None and CHECKPOINTER.serves(target)
    db.dispose()
    assert target.connection is None and target.forgotten
    assert _open_fds(path) == 0
    _wait_for(lambda: not CHECKPOINTER.serves(target), "dropped by the thread")


def _checkpointed_then_dropped(path: Path):
    db = _database(path)
    _write(db, WRITES_PER_CHECKPOINT)
    _wait_for(lambda: db.wal.checkpoints >= 1, "checkpointed")
    return db.wal


def test_databases_dropped_without_dispose_leave_no_connection_nor_thread(tmp_path):
    paths = [tmp_path / f"db{i}.db" for i in range(30)]
    targets = [_checkpointed_then_dropped(path) for path in paths]
    assert len(_checkpoint_threads()) == 1
    gc.collect()
    _wait_for(lambda: _open_fds(*paths) == 0, "closed")
    _wait_for(lambda: not any(CHECKPOINTER.serves(t) for t in targets), "dropped by the thread")
    assert all(t.forgotten and t.connection is None for t in targets)
    assert len(_checkpoint_threads()) == 1


def _in_forked_child(db: Database, parent_thread: int, report) -> None:
    """Run in a forked child (multiprocessing's fork, which exits the child itself): report what it saw."""
    try:
        db.engine.dispose(close=False)  # the parent's pooled connections are not the child's
        assert CHECKPOINTER.thread() is None and db.wal.connection is None
        before = db.wal.checkpoints
        _write(db, WRITES_PER_CHECKPOINT)
        _wait_for(lambda: db.wal.checkpoints > before, "checkpointed in the child")
        thread = CHECKPOINTER.thread()
        report.send(f"ok {thread.is_alive()} {thread.native_id != parent_thread} {len(_checkpoint_threads())}")
    except BaseException as exc:
        report.send(f"failed: {exc!r}")


def test_a_forked_child_starts_its_own_thread(tmp_path):
    path = tmp_path / "a.db"
    db = _database(path)
    try:
        _write(db, WRITES_PER_CHECKPOINT)
        _wait_for(lambda: db.wal.checkpoints >= 1, "checkpointed")
        parent_thread = CHECKPOINTER.thread().native_id
        fork = multiprocessing.get_context("fork")
        receive, send = fork.Pipe(duplex=False)
        child = fork.Process(target=_in_forked_child, args=(db, parent_thread, send))
        child.start()
        assert receive.poll(60)
        assert receive.recv() == "ok True True 1"
        child.join(60)
        assert child.exitcode == 0
        # The parent's thread goes on serving the parent.
        before = db.wal.checkpoints
        _write(db, WRITES_PER_CHECKPOINT)
        _wait_for(lambda: db.wal.checkpoints > before, "checkpointed in the parent")
        assert CHECKPOINTER.thread().native_id == parent_thread
    finally:
        db.dispose()


def test_an_error_is_logged_once_and_the_next_signal_works(tmp_path, caplog):
    path = tmp_path / "a.db"
    db = _database(path)
    try:
        # The thread opens its connection at its first checkpoint, with mode=rw: a file that is gone then is
        # an error (the engine's pooled connection keeps writing to the renamed file meanwhile).
        path.rename(tmp_path / "away.db")
        with caplog.at_level(logging.WARNING, logger="engine.store.wal_checkpoint"):
            _write(db, 2 * WRITES_PER_CHECKPOINT)
            _wait_for(lambda: db.wal.failures >= 1, "failed")
            _write(db, WRITES_PER_CHECKPOINT)
            _wait_for(lambda: db.wal.failures >= 2, "failed again")
        failures = [r for r in caplog.records if r.name == "engine.store.wal_checkpoint"]
        assert len(failures) == 1 and "unable to open database file" in failures[0].getMessage()
        assert db.wal.checkpoints == 0 and CHECKPOINTER.thread().is_alive()
        (tmp_path / "away.db").rename(path)
        _write(db, WRITES_PER_CHECKPOINT)
        _wait_for(lambda: db.wal.checkpoints >= 1 and _all_backfilled(path), "checkpointed")
        assert db.wal.error is None
    finally:
        db.dispose()


def test_the_setting_turns_it_off(tmp_path, monkeypatch):
    monkeypatch.setenv("TOURFLOW_WAL_CHECKPOINT_THREAD", "off")
    path = tmp_path / "a.db"
    db = _database(path)
    try:
        assert db.wal is None
        _write(db, 3 * WRITES_PER_CHECKPOINT)
        frames, backfilled = _wal_frames(path)
        assert frames > 0 and backfilled == 0  # nobody checkpointed: the committers' threshold is far
        with db.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == (
                db_module.WAL_AUTOCHECKPOINT_PAGES)
    finally:
        db.dispose()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_database_has_no_checkpoints(url):
    db = Database(url)
    try:
        assert db.wal is None
    finally:
        db.dispose()


def test_a_backup_read_while_the_thread_checkpoints_is_consistent(tmp_path):
    path = tmp_path / "a.db"
    db = _database(path)
    stop = threading.Event()

    def keep_writing():
        while not stop.is_set():
            _write(db, 1)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        counts = []
        for i in range(4):
            before = db.wal.checkpoints
            _wait_for(lambda: db.wal.checkpoints > before, "checkpointed meanwhile")  # noqa: B023
            copies = [tmp_path / f"vacuumed{i}.db", tmp_path / f"backup{i}.db"]
            source = sqlite3.connect(path)
            try:
                source.execute("VACUUM INTO ?", (str(copies[0]),))
                with sqlite3.connect(copies[1]) as target:
                    source.backup(target)
                target.close()
            finally:
                source.close()
            for copy in copies:
                with sqlite3.connect(copy) as check:
                    assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
                    count, bodies = check.execute(
                        "SELECT count(*), count(*) FILTER (WHERE body = ?) FROM rows", (ROW,)).fetchone()
                check.close()
                assert count == bodies
                counts.append(count)
        assert counts == sorted(counts) and counts[-1] > counts[0]
    finally:
        stop.set()
        writer.join()
        db.dispose()
