"""A step's service-task handler calls: SpiffWorkflow's `call_service`, answered by the handler registry.

Each call gets its own HandlerContext (its task, attempt, idempotency key and copy of the task data),
runs in a savepoint when the handler writes, and is recorded as one `handler_called` event with its
input and its output or error. What does not change between the calls of one step is built once:
each handler's lookup (and whether it writes), the reads the contexts share, the result's encoder.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from engine.bpmn.specs import ProcessModel
from engine.plugins.handlers import HandlerContext, get_handler, handler_writes
from engine.plugins.reads import EngineReads
from engine.run.handler_errors import HandlerFailed
from engine.run.row_writes import write_instance_record
from engine.sandbox.plain import is_plain, plain_copy
from engine.store.records import InstanceRecord, TaskRecord

# json.dumps(result, default=str, ensure_ascii=False), its encoder built once (it keeps no state).
_RESULT_JSON = json.JSONEncoder(default=str, ensure_ascii=False)


def _data_copy(data: dict[str, Any]) -> dict[str, Any]:
    """The handler's own copy of the task data: a deep copy (built faster when the data is plain)."""
    copied = plain_copy(data)
    return copied[0] if copied is not None else copy.deepcopy(data)


class HandlerStep(Protocol):
    """What the calls use of their step (engine/run/step.py Step)."""

    session: Session
    instance: InstanceRecord
    model: ProcessModel
    now: datetime
    actor: str
    attempts: dict[str, int]
    closed_rows: dict[int, TaskRecord]  # the task rows it closed, not written yet

    def event(self, kind: str, payload: dict[str, Any], actor: str | None = None, plain: bool = False) -> None: ...

    def set_business_key(self, key: str) -> None: ...


class HandlerCalls:
    """The service caller of one step's script engine (engine/sandbox/scripts.py ScriptEngine)."""

    def __init__(self, step: HandlerStep):
        self.step = step
        self.handlers: dict[str, tuple[Any, bool]] = {}  # name -> (handler or None, whether it writes)
        self.reads: EngineReads | None = None

    def handler(self, name: str) -> tuple[Any, bool]:
        found = self.handlers.get(name)
        if found is None:
            func = get_handler(name)
            found = self.handlers[name] = (func, func is not None and handler_writes(func))
        return found

    def __call__(self, task, name: str, params: dict[str, Any]) -> str:
        step = self.step
        func, writes = self.handler(name)
        task_id = str(task.id)
        attempt = step.attempts.get(task_id, 1)
        spec = task.task_spec.bpmn_id
        if func is None:
            error = HandlerFailed(name, LookupError(f"no handler registered under {name!r}"))
            step.event("handler_called", {"handler": name, "task": spec, "input": params,
                                          "error": str(error.original), "attempt": attempt})
            raise error
        instance, session = step.instance, step.session
        if self.reads is None:
            self.reads = EngineReads(session, instance.id, instance, step.closed_rows)
        ctx = HandlerContext(
            session=session,
            now=step.now,
            instance_id=instance.id,
            process_id=step.model.process_id,
            task_id=task_id,
            task_spec=spec,
            idempotency_key=f"{instance.id}:{task_id}",
            attempt=attempt,
            data=_data_copy(task.data),
            actor=step.actor,
            on_business_key=step.set_business_key,
            reads=self.reads,
        )
        # A handler that writes gets a savepoint, so a failure takes back only its own writes.
        if writes and instance.saved is None:
            # A start's new instance: its row exists before a handler's writes may refer to it (outside their
            # savepoint, so a failed handler does not take it back); the step's write-back then UPDATEs it.
            write_instance_record(session, instance)
        savepoint = session.begin_nested() if writes else None
        try:
            result = func(ctx, **params)
            if result is None:
                result = {}
            encoded = _RESULT_JSON.encode(result)
            if savepoint is not None:
                savepoint.commit()
        except Exception as exc:  # the handler's own error, kept whole
            if savepoint is not None:
                savepoint.rollback()
            step.event("handler_called", {"handler": name, "task": spec, "input": params,
                                          "error": f"{type(exc).__name__}: {exc}", "attempt": attempt})
            raise HandlerFailed(name, exc) from exc
        # The output as it reads back from `encoded`: the result itself when plain (no second JSON pass).
        plain = is_plain(result) and is_plain(params)
        step.event("handler_called", {"handler": name, "task": spec, "input": params,
                                      "output": result if plain else json.loads(encoded), "attempt": attempt},
                   plain=plain)
        return encoded


__all__ = ["HandlerCalls"]
