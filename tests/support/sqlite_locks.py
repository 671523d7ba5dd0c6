"""Whether another connection holds SQLite's write lock on a file, asked without waiting."""

from __future__ import annotations

import sqlite3


def write_lock_taken(path: str) -> bool:
    """Whether another writer holds SQLite's write lock on `path` now (a probe's BEGIN IMMEDIATE, timeout 0)."""
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return True
    else:
        probe.execute("ROLLBACK")
        return False
    finally:
        probe.close()
