"""Serializing running workflows with the spec stored by reference, not by value.

SpiffWorkflow's serializer writes the whole process spec into every instance (50-67% of
the bytes). Our converter writes only the spec's name; on load the parsed spec of the
instance's own deployment is handed in, so instances keep running on their version.
"""

from __future__ import annotations

from contextvars import ContextVar
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from engine.bpmn.specs import ProcessModel

# BPMN ids of completed tasks that pruning took out of the tree (engine/run/prune.py): kept with the
# workflow, under this attribute and key, so its diagram still shows them done.
PRUNED_DONE_ATTR = "tourflow_pruned_done"
PRUNED_DONE_KEY = "pruned_done"

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

    def dumps(self, workflow: BpmnWorkflow) -> str:
        return self.serializer.serialize_json(workflow)

    def loads(self, text: str, model: ProcessModel) -> BpmnWorkflow:
        token = _loading.set(model)
        try:
            return self.serializer.deserialize_json(text)
        finally:
            _loading.reset(token)
