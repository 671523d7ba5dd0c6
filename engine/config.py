"""Where tourflow keeps its data: one SQLAlchemy URL, SQLite file by default."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PROCESSES_DIR = REPO_ROOT / "processes"
DEFAULT_MESSAGES_DIR = REPO_ROOT / "messages"


def instance_dir() -> Path:
    """The folder for local state (Flask's 'instance folder' idea); TOURFLOW_HOME overrides."""
    return Path(os.environ.get("TOURFLOW_HOME") or Path.cwd() / "instance").resolve()


def database_url() -> str:
    """TOURFLOW_DATABASE_URL, then DATABASE_URL, else a SQLite file in the instance folder."""
    url = os.environ.get("TOURFLOW_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{instance_dir() / 'tourflow.db'}"


def messages_dir() -> Path:
    """The message templates owners edit (docs/messages.md); TOURFLOW_MESSAGES_DIR overrides."""
    return Path(os.environ.get("TOURFLOW_MESSAGES_DIR") or DEFAULT_MESSAGES_DIR).resolve()


def wal_checkpoint_thread() -> bool:
    """TOURFLOW_WAL_CHECKPOINT_THREAD=0 (or off, false, no) leaves SQLite's checkpoints to the committing
    requests, as before engine/store/wal_checkpoint.py; on by default."""
    value = os.environ.get("TOURFLOW_WAL_CHECKPOINT_THREAD", "1").strip().lower()
    return value not in {"0", "off", "false", "no"}


LIVE_WORKFLOWS_DEFAULT = 64


def live_workflows() -> int:
    """TOURFLOW_LIVE_WORKFLOWS: how many instances' workflows a process keeps in memory between their steps
    (engine/run/live_workflows.py); 0 keeps none. 64 by default."""
    value = os.environ.get("TOURFLOW_LIVE_WORKFLOWS", "").strip()
    if not value:
        return LIVE_WORKFLOWS_DEFAULT
    try:
        count = int(value)
    except ValueError:
        raise ValueError(f"TOURFLOW_LIVE_WORKFLOWS must be a whole number of workflows, not {value!r}") from None
    if count < 0:
        raise ValueError(f"TOURFLOW_LIVE_WORKFLOWS must be 0 or more, not {count}")
    return count
