"""Workflows kept in memory between an instance's steps, so the next step need not load its text again.

A step ends by writing its workflow's text (`Step.sync`). Once its unit of work has committed, the
Runtime keeps that workflow object with the text it wrote; the next step on the instance in this process
takes it instead of loading the text it reads under the instance's lock, when that text is still exactly
the one kept (and the deployment's model the same object): then nothing changed the instance since, here
or in another process, and the object is the workflow the text describes. Any other case loads the text.

Kept only what is safe to run again: a step whose unit committed, whose instance is running (not
finished, failed or waiting for a retry), whose text is the last one its own workflow wrote, and not a
migration (which rewrites the workflow's spec in place). A step takes its entry out, so an error in it
leaves nothing behind. The kept workflow holds no script engine (the step's session, its handlers): the
next step installs its own.

Like a worker's sticky workflow cache in other engines: it saves the load (~8% of a user-task instance's
instructions, docs/performance.md "Round 9") when one process runs an instance's steps one after another. It
is bounded (TOURFLOW_LIVE_WORKFLOWS entries, LIVE_TEXT_MAX characters of text each) and 0 turns it off.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

from engine.bpmn.specs import ProcessModel
from engine.limits import BoundedCache
from engine.store.states import InstanceStatus

if TYPE_CHECKING:
    from engine.run.step import Step

LIVE_TEXT_MAX = 64 * 1024  # characters of text: a larger workflow is loaded each time, not kept


class _Kept(NamedTuple):
    text: str  # what the workflow wrote, committed
    model: ProcessModel
    workflow: BpmnWorkflow


class LiveWorkflows:
    """At most `maxsize` instances' workflows, the least recently kept dropped first; 0 keeps none."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._kept: BoundedCache[int, _Kept] = BoundedCache(max(maxsize, 1))
        self.hits = self.misses = 0

    def take(self, instance_id: int, text: str, model: ProcessModel) -> BpmnWorkflow | None:
        """The kept workflow of the instance if it is the one `text` (read under the instance's lock)
        describes on `model`, else None; either way the entry is gone."""
        kept = self._kept.take(instance_id) if self.maxsize else None
        if kept is None or kept.model is not model or kept.text != text:
            self.misses += 1
            return None
        self.hits += 1
        return kept.workflow

    def keep(self, steps: Iterable[Step]) -> None:
        """After their unit committed: the workflow of each step that may be run again as it is."""
        if not self.maxsize:
            return
        for step in steps:
            text = step.written
            if (step.keep_live and text is not None and step.instance.serialized is text
                    and len(text) <= LIVE_TEXT_MAX and step.instance.status == InstanceStatus.RUNNING
                    and step.workflow.spec is step.model.spec):
                step.workflow.script_engine = None  # the step's: its handlers, its session
                self._kept.put(step.instance.id, _Kept(text, step.model, step.workflow))

    def __len__(self) -> int:
        return len(self._kept)


__all__ = ["LIVE_TEXT_MAX", "LiveWorkflows"]
