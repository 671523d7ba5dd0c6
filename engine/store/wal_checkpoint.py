"""Checkpoint SQLite's write-ahead log in a background thread, off the request path.

Without it, the commit that takes the WAL past `wal_autocheckpoint` pages copies the WAL into the
database file and syncs twice before its COMMIT returns (30-50 ms for ~40 MB of WAL). Here one daemon
thread per process, with its own connection per database file, runs `PRAGMA wal_checkpoint(PASSIVE)`
after every `WRITES_PER_CHECKPOINT` write transactions of a database, and `IDLE_SECONDS` after the last
signal while some writes are not checkpointed yet; the committers' automatic checkpoint stays as the safety
net and finds (almost) nothing left to copy. sqlite3 releases the GIL while a checkpoint runs. A PASSIVE
checkpoint neither waits for nor blocks readers and writers: it copies only frames no reader still needs,
so a backup or `VACUUM INTO` reading a snapshot meanwhile stays consistent.

Life cycle: the thread starts on the first signal and then blocks on a queue, without a timeout when it
has nothing left to checkpoint, so an idle process never wakes up. `Database.dispose()` closes the
database's connection at once; a Database dropped without `dispose()` is forgotten by a weak reference's
callback that only sets a flag and puts the target on the queue (`SimpleQueue.put` is safe inside the
garbage collector, in any thread; a lock is not), and the thread closes the connection. After a fork the
child starts its own thread and leaves the parent's connections alone.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import queue
import sqlite3
import threading
import time
import weakref
from urllib.parse import quote

log = logging.getLogger(__name__)

# A user-task step's write transaction adds ~19 WAL frames: a checkpoint every 64 copies ~1,200 (~5 MB).
WRITES_PER_CHECKPOINT = 64
# The thread's nice value (Linux: per thread): under load the requests' threads run first; a checkpoint
# that falls behind is caught by the committers' automatic checkpoint.
THREAD_NICENESS = 10
# Writes that never add up to WRITES_PER_CHECKPOINT are checkpointed this long after the last signal.
IDLE_SECONDS = 1.0


class WalTarget:
    """One Database's file, as the checkpoint thread sees it."""

    def __init__(self, path: str):
        self.path = path
        self.writes = 0  # write transactions since the last signal (approximate: no lock)
        self.pending = False  # writes since the last checkpoint
        self.forgotten = False  # its Database is disposed or gone
        self.known = False  # in the thread's set (it has had a signal)
        self.since: float | None = None  # when the thread first saw its pending writes
        self.checkpoints = 0  # checkpoints run
        self.failures = 0  # checkpoints that failed
        self.lock = threading.Lock()  # held while the connection is used or closed
        self.connection: sqlite3.Connection | None = None
        self.error: str | None = None  # the last error logged, to log each once

    def note_write(self) -> None:
        """Called at the BEGIN of every write transaction: a counter, a signal every N writes, and one at
        the first write after a checkpoint (the thread checkpoints IDLE_SECONDS later if N never comes)."""
        self.writes += 1
        if not self.pending:
            self.pending = True
            CHECKPOINTER.signal(self, due=False)
        elif self.writes >= WRITES_PER_CHECKPOINT:
            # Counted again from here: until the thread has run the checkpoint, the next N writes do not each
            # signal it (a signal wakes the thread, which then asks this one for the GIL).
            self.writes = 0
            CHECKPOINTER.signal(self, due=True)

    def checkpoint(self) -> None:
        with self.lock:
            if self.forgotten:
                return
            self.pending = False
            self.writes = 0
            self.since = None
            try:
                if self.connection is None:
                    self.connection = _connect(self.path)
                _, frames, copied = self.connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.Error as exc:
                # The next signal (a later write) tries again, with a new connection: the file may be back.
                self._close()
                self.failures += 1
                if str(exc) != self.error:
                    self.error = str(exc)
                    log.warning("WAL checkpoint of %s failed (tried again on the next signal): %s",
                                self.path, exc)
                return
            self.error = None
            self.checkpoints += 1
            if frames > copied:
                # Committed while it copied (a signal comes at a write's BEGIN), or still needed by a reader:
                # again IDLE_SECONDS from now, so that a burst's last writes are checkpointed too.
                self.pending = True

    def close(self) -> None:
        with self.lock:
            self.forgotten = True
            self._close()

    def _close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.close()

    def after_fork(self, abandoned: list[sqlite3.Connection]) -> None:
        """In a forked child: the parent's connection, and a lock its thread may have held, are not ours."""
        self.lock = threading.Lock()
        self.known = False
        if self.connection is not None:
            # Closing it could release POSIX locks another connection of this process holds on the file;
            # keep it alive and unused instead (as SQLAlchemy's dispose(close=False) does).
            abandoned.append(self.connection)
            self.connection = None


def _connect(path: str) -> sqlite3.Connection:
    # mode=rw: a database file that is gone is an error, not a new empty database.
    connection = sqlite3.connect(f"file:{quote(path)}?mode=rw", uri=True, isolation_level=None,
                                 check_same_thread=False, timeout=0)
    # As the application's connections (db.py); a checkpoint syncs the WAL and the database file either way.
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


class Checkpointer:
    """The process's one checkpoint thread and the databases it has been signalled for."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[WalTarget, bool]] = queue.SimpleQueue()
        self._start_lock = threading.Lock()
        self._known: set[WalTarget] = set()  # changed by the thread only, under _known_lock
        self._known_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._abandoned: list[sqlite3.Connection] = []  # inherited across a fork, never used

    def register(self, path: str, owner: object) -> WalTarget:
        target = WalTarget(path)
        weakref.finalize(owner, self._forget, target).atexit = False
        return target

    def unregister(self, target: WalTarget) -> None:
        target.close()
        if target.known:
            self._queue.put((target, False))  # the thread drops it from its set

    def signal(self, target: WalTarget, due: bool) -> None:
        """`due`: checkpoint now; else only wake up to checkpoint IDLE_SECONDS from now."""
        thread = self._thread
        if thread is None or self._pid != os.getpid() or not thread.is_alive():
            self._start()
        self._queue.put((target, due))

    def thread(self) -> threading.Thread | None:
        return self._thread

    def open_connections(self) -> int:
        with self._known_lock:
            return sum(target.connection is not None for target in self._known)

    def serves(self, target: WalTarget) -> bool:
        with self._known_lock:
            return target in self._known

    def _forget(self, target: WalTarget) -> None:
        # May run inside the garbage collector in any thread: a flag and a SimpleQueue.put, no lock.
        target.forgotten = True
        if target.known:
            self._queue.put((target, False))

    def _start(self) -> None:
        with self._start_lock:
            if self._pid != os.getpid():
                self.after_fork()
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="tourflow-wal-checkpoint", daemon=True)
            self._thread.start()

    def after_fork(self) -> None:
        self._pid = os.getpid()
        self._thread = None
        self._queue = queue.SimpleQueue()
        self._start_lock = threading.Lock()
        self._known_lock = threading.Lock()
        for target in self._known:
            target.after_fork(self._abandoned)
        self._known = set()

    def _run(self) -> None:
        if THREAD_NICENESS:
            with contextlib.suppress(OSError, AttributeError):  # AttributeError: no setpriority here
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), THREAD_NICENESS)
        signals = self._queue
        while True:
            try:
                woken = [signals.get(timeout=self._timeout())]
            except queue.Empty:
                woken = []
            while not signals.empty():
                woken.append(signals.get_nowait())
            due = {target for target, now in woken if now}
            with self._known_lock:
                for target, _ in woken:
                    self._known.add(target)
                    target.known = True
            now = time.monotonic()
            for target in list(self._known):
                try:
                    if target.forgotten:
                        target.close()
                        with self._known_lock:
                            self._known.discard(target)
                    elif target.pending and (target in due or now - (target.since or now) >= IDLE_SECONDS):
                        target.checkpoint()
                except Exception:  # one database's trouble must not stop the thread for the others
                    log.exception("WAL checkpoint thread, %s", target.path)

    def _timeout(self) -> float | None:
        """Until the first pending database's IDLE_SECONDS are up; None (no timeout) when none is pending."""
        now = time.monotonic()
        deadline = None
        for target in self._known:
            if target.pending:
                if target.since is None:
                    target.since = now
                deadline = min(deadline or math.inf, target.since + IDLE_SECONDS)
        return None if deadline is None else max(0.0, deadline - now)


CHECKPOINTER = Checkpointer()
# A lock the thread held at a fork would stay held forever in the child: reset before anything runs there.
os.register_at_fork(after_in_child=CHECKPOINTER.after_fork)


def file_path(database: str | None) -> str | None:
    """The file a SQLite URL's database part names, or None for an in-memory database."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return os.path.abspath(database)
