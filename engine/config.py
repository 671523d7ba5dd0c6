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
