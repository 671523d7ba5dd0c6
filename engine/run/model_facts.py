"""What a deployed model can ever need of a step, decided once from its spec and cached: a model
without message catch events never waits for a message, so no step looks for one."""

from __future__ import annotations

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition

from engine.bpmn.specs import ProcessModel
from engine.limits import DEPLOYED_CACHE_MAX, BoundedCache

_catches: BoundedCache[int, tuple[ProcessModel, bool]] = BoundedCache(DEPLOYED_CACHE_MAX)


def _task_specs(model: ProcessModel):
    yield from model.spec.task_specs.values()
    for spec in model.subprocess_specs.values():
        yield from spec.task_specs.values()


def _catches_message(spec) -> bool:
    if not getattr(spec, "event_definition", None) or spec.__class__.__name__.endswith("ThrowEvent"):
        return False
    definition = spec.event_definition
    inner = definition.event_definitions if isinstance(definition, MultipleEventDefinition) else [definition]
    return any(isinstance(d, MessageEventDefinition) for d in inner)


def catches_messages(model: ProcessModel) -> bool:
    """Whether any of the model's tasks (its called processes' included) can wait for a message."""
    cached = _catches.get(id(model))
    if cached is not None and cached[0] is model:
        return cached[1]
    value = any(_catches_message(spec) for spec in _task_specs(model))
    _catches.put(id(model), (model, value))
    return value


__all__ = ["catches_messages"]
