"""Tampering with the audit log the way someone with database access would: first drop the
append-only triggers (engine/store/migrations/versions/0001_initial_schema.py), then change rows directly."""

from __future__ import annotations

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import text


def drop_guards(runtime) -> None:
    """Drop the triggers refusing UPDATE and DELETE on audit_event (again: a no-op)."""
    with runtime.db.engine.begin() as conn:
        if runtime.db.is_sqlite:
            conn.execute(text("DROP TRIGGER IF EXISTS audit_event_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit_event_no_delete"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event"))

# A different (valid JSON) payload: what a forger who edits the row writes.
FORGED = '{"forged":true}'


def change_payload(runtime, stream: str, seq: int, payload: str = FORGED) -> None:
    drop_guards(runtime)
    with runtime.db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET payload=:p WHERE stream=:s AND seq=:n"),
                     {"p": payload, "s": stream, "n": seq})


def delete_event(runtime, stream: str, seq: int) -> None:
    drop_guards(runtime)
    with runtime.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE stream=:s AND seq=:n"), {"s": stream, "n": seq})


def swap_events(runtime, stream: str, first: int) -> None:
    """Swap the seq of two neighbouring events, `first` and `first + 1`."""
    drop_guards(runtime)
    with runtime.db.engine.begin() as conn:
        for old, new in ((first, -1), (first + 1, first), (-1, first + 1)):
            conn.execute(text("UPDATE audit_event SET seq=:new WHERE stream=:s AND seq=:old"),
                         {"new": new, "s": stream, "old": old})


# how -> (tamper(runtime, stream, n), the problem named). Each is located at seq n itself.
TAMPERINGS = {
    "payload": (change_payload, "hash_mismatch"),
    "deleted": (delete_event, "seq_gap"),
    "swapped": (swap_events, "prev_hash_mismatch"),
}


# ---- the live state, edited around the engine (no event, no state hash) ---------------------
def forge_task_data(runtime, instance_id: int, task_spec: str, **changes) -> None:
    """Change the data of the instance's waiting (ready) task `task_spec` in its stored workflow."""
    import json

    with runtime.db.engine.begin() as conn:
        serialized = conn.execute(text("SELECT serialized FROM process_instance WHERE id=:i"),
                                  {"i": instance_id}).scalar_one()
        workflow = json.loads(serialized)
        [task] = [t for t in workflow["tasks"].values() if t["task_spec"] == task_spec and t["state"] == TaskState.READY]
        if task.get("delta"):  # SpiffWorkflow stores a child task's data as changes to its parent's
            task["delta"].setdefault("updates", {}).update(changes)
        else:
            task["data"].update(changes)
        conn.execute(text("UPDATE process_instance SET serialized=:s WHERE id=:i"),
                     {"s": json.dumps(workflow), "i": instance_id})


def forge_task_row(runtime, task_id: int, **columns) -> None:
    """Change columns of a human_task row (e.g. its assignee)."""
    sets = ", ".join(f"{name}=:{name}" for name in columns)
    with runtime.db.engine.begin() as conn:
        conn.execute(text(f"UPDATE human_task SET {sets} WHERE id=:task_id"), {**columns, "task_id": task_id})
