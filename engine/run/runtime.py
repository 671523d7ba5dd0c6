"""The engine's public API: deploy, start, complete, claim, tick, message, cancel, query.

Joins the specs (XML, SpiffWorkflow) and the store (database). Every mutating call is one
write transaction, a unit of work (engine/run/unit.py); the instance row carries an
optimistic lock (`lock_version`) and is also locked for the step (BEGIN IMMEDIATE on
SQLite, SELECT ... FOR UPDATE elsewhere), so two people completing one task cannot both win.

The Runtime is composed of its parts, one module each: the units of work and deployed
models (core.py), commands on tasks (task_commands.py), who has a task's form open and their
drafts (task_edits.py), on instances (instance_commands.py),
on messages and jobs (message_commands.py), moving instances between versions
(migration_commands.py), on the outbox (outbox_commands.py), and its reads (runtime_reads.py).
"""

from __future__ import annotations

from engine.run.catalog import Deployed
from engine.run.due_commands import DueCommands
from engine.run.instance_commands import InstanceCommands
from engine.run.message_commands import MessageCommands
from engine.run.migration_commands import MigrationCommands
from engine.run.outbox_commands import OutboxCommands
from engine.run.rows import task_dict
from engine.run.runtime_reads import RuntimeReads
from engine.run.task_commands import TaskCommands
from engine.run.task_edits import TaskEditCommands
from engine.store.audit import SYSTEM_ACTOR


class Runtime(TaskCommands, TaskEditCommands, DueCommands, InstanceCommands, MessageCommands, MigrationCommands,
              OutboxCommands, RuntimeReads):
    """One engine on one database: `Runtime(db)`."""


__all__ = ["Deployed", "Runtime", "SYSTEM_ACTOR", "task_dict"]
