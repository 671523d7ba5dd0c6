"""Each thread's write Connection, kept from one unit of work to the thread's next (SQLite files).

A unit of work (engine/store/unit_scope.py) runs on a Connection of its own. Taking one from the pool and
giving it back (the pool's checkout and check-in, a new Connection) cost ~10 µs of each unit, about half of
a unit's fixed cost (docs/performance.md, "Round 10"). On a SQLite file the Connection a unit committed on
is kept for the thread's next unit instead. Idle, it holds no transaction and no lock (SQLite takes them at
BEGIN and lets go at COMMIT), so no other connection can tell it is kept.

* Only a Connection whose unit committed is kept: a unit that failed or rolled back closes its own as ever.
* At most `limit` in a process (each is a connection the pool has lent out; the rest stay for readers).
* A thread's is closed when the thread ends (its slot goes with the thread's storage), all of them by
  `close_all` (`Database.dispose`, the interpreter's exit). A forked child never uses its parent's and
  never closes them either (`forget_after_fork`, from the Database's at-fork hook): closing the parent's SQLite
  connection in the child could remove the WAL the parent is writing.
"""

from __future__ import annotations

import atexit
import threading
import weakref

from sqlalchemy.engine import Connection

KEPT_MAX = 4  # the pool lends 5 + 10 overflow: readers and units of more threads still find one

_KEEPERS: weakref.WeakSet[KeptConnections] = weakref.WeakSet()
_ORPHANED: list[Connection] = []  # a forked child's copies of its parent's kept connections: never used again


class _Slot:
    """One thread's kept Connection (None while the thread's unit runs on it)."""

    __slots__ = ("keeper", "connection", "__weakref__")

    def __init__(self, keeper: KeptConnections) -> None:
        self.keeper = weakref.ref(keeper)
        self.connection: Connection | None = None

    def __del__(self) -> None:  # the thread ended (its storage goes), or its keeper went
        keeper = self.keeper()
        connection = keeper.release(self) if keeper is not None else self.connection
        self.connection = None
        if connection is not None:
            connection.close()


class KeptConnections:
    """The write Connections kept between units, one per thread at most."""

    def __init__(self, limit: int = KEPT_MAX) -> None:
        self.limit = limit
        self.local = threading.local()
        self.lock = threading.RLock()  # a slot's finalizer may run inside a section, on the same thread
        self.count = 0
        self.slots: weakref.WeakSet[_Slot] = weakref.WeakSet()
        self.open = True
        _KEEPERS.add(self)

    def take(self) -> Connection | None:
        """This thread's kept Connection, now the caller's; None when it has none."""
        slot = getattr(self.local, "slot", None)
        if slot is None or slot.connection is None:
            return None
        return self.release(slot)

    def keep(self, connection: Connection) -> bool:
        """Keep the Connection a unit just committed on for this thread's next unit; False: not kept (too many
        kept, one kept already, closing), and the caller closes it."""
        if connection.closed or connection.invalidated or connection.in_transaction():
            return False
        slot = getattr(self.local, "slot", None)
        with self.lock:
            if not self.open or self.count >= self.limit or (slot is not None and slot.connection is not None):
                return False
            if slot is None:
                slot = self.local.slot = _Slot(self)
                self.slots.add(slot)
            slot.connection = connection
            self.count += 1
        return True

    def release(self, slot: _Slot) -> Connection | None:
        with self.lock:
            connection, slot.connection = slot.connection, None
            if connection is not None:
                self.count -= 1
        return connection

    def close_all(self) -> None:
        """Close every kept Connection, and keep none from now on."""
        with self.lock:
            self.open = False
            connections = [c for slot in list(self.slots) if (c := self.release(slot)) is not None]
        for connection in connections:
            connection.close()

    def forget_after_fork(self) -> None:
        """In a forked child (its Database's at-fork hook, engine/store/db.py): the parent's, never used again."""
        self.lock = threading.RLock()  # another thread of the parent may have held it at the fork
        for slot in list(self.slots):
            if slot.connection is not None:
                _ORPHANED.append(slot.connection)
                slot.connection = None
        self.count = 0


def _close_every_keeper() -> None:
    for keeper in list(_KEEPERS):
        keeper.close_all()


atexit.register(_close_every_keeper)

__all__ = ["KEPT_MAX", "KeptConnections"]
