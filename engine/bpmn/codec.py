"""Serializing running workflows with the spec stored by reference, not by value.

SpiffWorkflow's serializer writes the whole process spec into every instance (50-67% of
the bytes). Our converter writes only the spec's name; on load the parsed spec of the
instance's own deployment is handed in, so instances keep running on their version.

The text is SpiffWorkflow's serializer's with that converter; `FastCodec` (fast_codec.py) writes and
reads the same text with less work, and hands anything unusual back to it.
"""

from __future__ import annotations

from contextvars import ContextVar
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from engine.bpmn.fast_codec import PRUNED_DONE_ATTR, PRUNED_DONE_KEY, FastCodec, Unusual
from engine.bpmn.specs import ProcessModel

__all__ = ["PRUNED_DONE_ATTR", "PRUNED_DONE_KEY", "SpecByReferenceConverter", "WorkflowCodec"]

_loading: ContextVar[ProcessModel | None] = ContextVar("tourflow_loading_model", default=None)


class SpecByReferenceConverter(BpmnWorkflowConverter):
    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["spec"] = workflow.spec.name
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        pruned = getattr(workflow, PRUNED_DONE_ATTR, None)
        if pruned:
            dct[PRUNED_DONE_KEY] = sorted(pruned)
        return dct

    def from_dict(self, dct):
        model = _loading.get()
        if model is None:
            raise RuntimeError("a workflow can only be loaded through WorkflowCodec.loads")
        dct.pop("spec", None)
        workflow = self.target_class(model.spec, model.subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        pruned = dct.pop(PRUNED_DONE_KEY, None)
        if pruned:
            setattr(workflow, PRUNED_DONE_ATTR, set(pruned))
        return workflow


class WorkflowCodec:
    def __init__(self):
        config = dict(SPIFF_CONFIG)
        config[BpmnWorkflow] = SpecByReferenceConverter
        self.serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))
        self.fast = FastCodec(self.serializer)

    def dumps(self, workflow: BpmnWorkflow) -> str:
        try:
            return self.fast.dumps(workflow)
        except Unusual:
            return self.stock_dumps(workflow)

    def loads(self, text: str, model: ProcessModel) -> BpmnWorkflow:
        try:
            return self.fast.loads(text, model)
        except Unusual:
            return self.stock_loads(text, model)

    def stock_dumps(self, workflow: BpmnWorkflow) -> str:
        """SpiffWorkflow's serializer with SpecByReferenceConverter: the text `dumps` must equal."""
        return self.serializer.serialize_json(workflow)

    def stock_loads(self, text: str, model: ProcessModel) -> BpmnWorkflow:
        token = _loading.set(model)
        try:
            return self.serializer.deserialize_json(text)
        finally:
            _loading.reset(token)
