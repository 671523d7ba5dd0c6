"""SpiffWorkflow's serializer for the common case, written out: the same text, a fraction of the work.

SpiffWorkflow turns a workflow into JSON through its converter registry: a lookup, a partial and a
dict per task, per data value and per event, a `typename` added to each, then the whole tree through
its JSON encoder. `FastCodec` writes the text of plain tasks directly (each task's JSON from its
fields, the ids turned to text once) and builds tasks on load without the registry. Anything it does
not know for certain goes through SpiffWorkflow's own encoder and converters: a data value that is
not plain JSON (a datetime, a set), an event waiting to be delivered, a task spec missing from the
model, another task or workflow class. `Unusual` makes `WorkflowCodec` use the stock serializer for
the whole workflow.

The stored text is byte for byte what SpiffWorkflow's serializer writes with our converter
(tests/test_fast_codec.py compares both on real walks and every kind of data value; run any tests with
`-p tests.support.codec_check` to compare both on every call).
"""

from __future__ import annotations

import json
from copy import copy
from json.encoder import encode_basestring_ascii
from typing import Any
from uuid import UUID, SafeUUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.default.workflow import TaskConverter
from SpiffWorkflow.bpmn.serializer.migration.version_migration import MIGRATIONS
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

# BPMN ids of completed tasks that pruning took out of the tree (engine/run/prune.py): kept with the
# workflow, under this attribute and key, so its diagram still shows them done.
PRUNED_DONE_ATTR = "tourflow_pruned_done"
PRUNED_DONE_KEY = "pruned_done"
EMPTY_DELTA = '{"updates": {}, "deletions": []}'
WAITING = TaskState.WAITING
_MUTABLE = (dict, list, set)
_new_uuid = object.__new__
_set = object.__setattr__
_UNKNOWN = SafeUUID.unknown


class Unusual(Exception):
    """A workflow (or stored text) the fast path does not handle: use SpiffWorkflow's serializer."""


def _uuid(text: str) -> UUID:
    """UUID(text) for the canonical form str(UUID) writes, without UUID.__init__'s general parsing."""
    if type(text) is not str or len(text) != 36 or text[8] != "-" or text[13] != "-" or text[23] != "-":
        return UUID(text)
    uid = _new_uuid(UUID)
    _set(uid, "int", int(text.replace("-", ""), 16))
    _set(uid, "is_safe", _UNKNOWN)
    return uid


def _merged_copy(data: dict) -> dict:
    """DeepMerge.merge({}, data): the keys in order, each dict, list or set value copied (copy.copy)."""
    merged = data.copy()
    for name, value in data.items():
        kind = type(value)
        if kind is dict or kind is list or kind is set:
            merged[name] = value.copy()  # what copy.copy calls for these three
        elif isinstance(value, _MUTABLE):
            merged[name] = copy(value)
    return merged


class FastCodec:
    """Dumps and loads for `WorkflowCodec`, with its SpiffWorkflow serializer's registry, encoder and version."""

    def __init__(self, serializer):
        registry = self.registry = serializer.registry
        self.encode = serializer._encoder_cls().encode  # json.dumps(..., cls=that class) with the same defaults
        self.version_key = serializer.VERSION_KEY
        self.version_tail = (f", {encode_basestring_ascii(serializer.VERSION_KEY)}: "
                             f"{encode_basestring_ascii(serializer.VERSION)}}}")
        names = registry.typenames
        self.task_name = names.get(Task)
        self.workflow_name = names.get(BpmnWorkflow)
        self.subworkflow_name = names.get(BpmnSubWorkflow)
        task_from_dict = registry.convert_from_dict.get(self.task_name)
        # the stock converters must be the ones this module writes out (Task's is TaskConverter's delta form)
        converter = getattr(task_from_dict.args[0], "__self__", None) if task_from_dict else None
        self.enabled = (type(converter) is TaskConverter and converter.target_class is Task
                        and self.workflow_name == "BpmnWorkflow" and self.subworkflow_name == "BpmnSubWorkflow")

    # ---- dumps ---------------------------------------------------------------------------------

    def dumps(self, workflow: BpmnWorkflow) -> str:
        if not self.enabled or type(workflow) is not BpmnWorkflow:
            raise Unusual
        registry = self.registry
        encode = self.encode
        registry._encoder_mode = True  # as SpiffWorkflow's serialize_json: its converters read it (events)
        try:
            parts = ["{", self._workflow_body(workflow), ', "spec": ', encode(workflow.spec.name)]
            parts.append(', "subprocesses": ')
            parts.append(self._subprocesses(workflow))
            events = workflow.bpmn_events
            parts.append(', "bpmn_events": ')
            parts.append("[]" if type(events) is list and not events else encode(events))
            pruned = getattr(workflow, PRUNED_DONE_ATTR, None)
            if pruned:
                parts.append(f', "{PRUNED_DONE_KEY}": ')
                parts.append(encode(sorted(pruned)))
            parts.append(f', "typename": "{self.workflow_name}"')
            parts.append(self.version_tail)
            return "".join(parts)
        finally:
            registry._encoder_mode = False

    def _subprocesses(self, workflow: BpmnWorkflow) -> str:
        if not workflow.subprocesses:
            return "{}"
        encode = self.encode
        entries = []
        for key, subprocess in workflow.subprocesses.items():
            if type(subprocess) is not BpmnSubWorkflow:
                raise Unusual
            entries.append(f"{encode_basestring_ascii(str(key))}: {{{self._workflow_body(subprocess)}, "
                           f'"parent_task_id": {encode_basestring_ascii(str(subprocess.parent_task_id))}, '
                           f'"spec": {encode(subprocess.spec.name)}, "typename": "{self.subworkflow_name}"}}')
        return "{" + ", ".join(entries) + "}"

    def _json(self, value: Any) -> str:
        """The JSON encoder's text for `value`, without its machinery for an empty dict or a string."""
        kind = type(value)
        if kind is dict and not value:
            return "{}"
        if kind is str:
            return encode_basestring_ascii(value)
        return self.encode(value)

    def _flag(self, value: Any) -> str:
        return "true" if value is True else "false" if value is False else self.encode(value)

    def _workflow_body(self, workflow) -> str:
        """WorkflowConverter.to_dict's keys, as JSON text without the braces."""
        tasks = workflow.tasks
        # Task ids as JSON text, found by identity: a tree's parent and child ids are its tasks' own id
        # objects (Task.__init__, _add_child, our loads); any other object is written with str().
        known = {id(key): (f'"{key}"', task) for key, task in tasks.items() if type(key) is UUID}
        last = workflow.last_task
        last_text = "null" if last is None else self._id_text(last.id, known)
        task_texts = [self._task(key, task, tasks, known, workflow) for key, task in tasks.items()]
        json_text = self._json
        return (f'"data": {json_text(self.registry.clean(workflow.data))}, '
                f'"correlations": {json_text(workflow.correlations)}, '
                f'"last_task": {last_text}, "success": {self._flag(workflow.success)}, '
                f'"completed": {self._flag(workflow.completed)}, "tasks": {{{", ".join(task_texts)}}}, '
                f'"root": {self._id_text(workflow.task_tree.id, known)}')

    @staticmethod
    def _id_text(value, known: dict) -> str:
        entry = known.get(id(value))
        return entry[0] if entry is not None else encode_basestring_ascii(str(value))

    def _task(self, key, task: Task, tasks: dict, known: dict, workflow) -> str:
        """One task's entry in `tasks`, as TaskConverter.to_dict and the JSON encoder write it."""
        if type(task) is not Task:
            raise Unusual
        json_text = self._json
        key_entry = known.get(id(key))
        key_text = key_entry[0] if key_entry is not None else encode_basestring_ascii(str(key))
        task_id = task.id
        id_text = key_text if task_id is key else self._id_text(task_id, known)
        parent_id = task._parent
        parent_entry = known.get(id(parent_id)) if task.workflow is workflow else None
        if parent_entry is not None:
            parent_text, parent = parent_entry
        else:
            parent = task.workflow.tasks.get(parent_id)  # Task.parent
            parent_text = None if parent is None else encode_basestring_ascii(str(parent_id))
        if parent is None:
            parent_text, data_text, delta_text = "null", json_text(task.data), "{}"
        else:
            data_text = "{}"
            old, new = parent.data, task.data
            updates = {key: new[key] for key in new if key not in old or new[key] != old[key]}
            deletions = [key for key in old if key not in new]
            delta_text = EMPTY_DELTA if not updates and not deletions else self.encode(
                {"updates": updates, "deletions": deletions})
        children = ", ".join([self._id_text(child, known) for child in task._children])
        changed = task.last_state_change
        if type(changed) is float and changed - changed == 0.0:
            changed_text = float.__repr__(changed)
        else:
            changed_text = self.encode(changed)
        state = task.state
        state_text = int.__repr__(state) if type(state) is int else self.encode(state)
        internal = task.internal_data
        internal_text = "{}" if type(internal) is dict and not internal else json_text(self.registry.clean(internal))
        triggered = task.triggered
        triggered_text = "false" if triggered is False else "true" if triggered is True else self.encode(triggered)
        return (f'{key_text}: {{"id": {id_text}, "parent": {parent_text}, '
                f'"children": [{children}], "last_state_change": {changed_text}, "state": {state_text}, '
                f'"task_spec": {json_text(task.task_spec.name)}, "triggered": {triggered_text}, '
                f'"internal_data": {internal_text}, "data": {data_text}, "delta": {delta_text}, '
                f'"typename": "{self.task_name}"}}')

    # ---- loads ---------------------------------------------------------------------------------

    def loads(self, text: str, model) -> BpmnWorkflow:
        if not self.enabled:
            raise Unusual
        dct = json.loads(text)
        version = dct.pop(self.version_key)
        if version in MIGRATIONS or dct.get("typename") != self.workflow_name:
            raise Unusual
        workflow = BpmnWorkflow(model.spec, model.subprocess_specs, deserializing=True)
        uuids: dict[str, UUID] = {}
        workflow.tasks = self._tasks(dct["tasks"], workflow, uuids)
        workflow.task_tree = workflow.tasks.get(self._id(dct["root"], uuids))
        self._default_attributes(workflow, dct, uuids)
        self._subprocesses_from(dct["subprocesses"], workflow, workflow, uuids)
        events = dct.pop("bpmn_events", [])
        workflow.bpmn_events = [] if type(events) is list and not events else self.registry.restore(events)
        pruned = dct.pop(PRUNED_DONE_KEY, None)
        if pruned:
            setattr(workflow, PRUNED_DONE_ATTR, set(pruned))
        return workflow

    @staticmethod
    def _id(text, uuids: dict) -> UUID:
        uid = uuids.get(text)
        if uid is None:
            uid = uuids[text] = _uuid(text)
        return uid

    def _default_attributes(self, workflow, dct: dict, uuids: dict) -> None:
        """WorkflowConverter.set_default_attributes."""
        workflow.success = dct["success"]
        workflow.completed = dct.get("completed", False)
        workflow.correlations = dct.pop("correlations", {})
        if isinstance(dct["last_task"], str):
            workflow.last_task = workflow.tasks.get(self._id(dct["last_task"], uuids))
        workflow.data = self._restore(dct.pop("data", {}))

    def _subprocesses_from(self, dct: dict, workflow, top_workflow, uuids: dict) -> None:
        """BpmnWorkflowConverter.subprocesses_from_dict with BpmnSubWorkflowConverter.from_dict inside."""
        if not dct:
            return
        for task in list(workflow.tasks.values()):
            if isinstance(task.task_spec, SubWorkflowTask) and str(task.id) in dct:
                sub = dct.pop(str(task.id))
                if sub.get("typename") != self.subworkflow_name:
                    raise Unusual
                spec = top_workflow.subprocess_specs.get(task.task_spec.spec)
                subprocess = BpmnSubWorkflow(spec, task.id, top_workflow, deserializing=True)
                subprocess.tasks = self._tasks(sub["tasks"], subprocess, uuids)
                subprocess.task_tree = subprocess.tasks.get(self._id(sub["root"], uuids))
                self._default_attributes(subprocess, sub, uuids)
                top_workflow.subprocesses[task.id] = subprocess
                subprocess.completed_event.connect(task.task_spec._on_subworkflow_completed, task)
                self._subprocesses_from(dct, subprocess, top_workflow, uuids)

    def _tasks(self, mapping: dict, workflow, uuids: dict) -> dict:
        """BpmnConverter.mapping_from_dict of TaskConverter.from_dict, each task built as Task.__init__ does.

        A UUID hashes in Python (~0.2 µs), a str once: so a parent is found by its id's text while no id came
        twice (then the text names the one task `live` holds under that id), and the mapping returned is `live`
        itself while every key is its task's id and `live` started empty (the same tasks under the same keys in
        the same order: a second dict would only hash every id again)."""
        specs = workflow.spec.task_specs
        live = workflow.tasks  # Task.__init__ adds each task here: a task finds its parent in it
        restored = None if not live else {}  # None: the same as `live` so far
        by_text: dict[str, Task] | None = {} if not live else None  # None: parents looked up in `live`
        thread_id = Task.thread_id_pool
        events = None
        task_name = self.task_name
        restore = self._restore
        new_task = Task.__new__
        for key, dct in mapping.items():
            spec = specs.get(dct["task_spec"])
            if spec is None or dct.get("typename") != task_name:
                raise Unusual
            id_text = dct["id"]
            task_id = uuids.get(id_text) or uuids.setdefault(id_text, _uuid(id_text))
            text = dct["parent"]
            if text is None:
                parent_id = parent = None
            else:
                parent_id = uuids.get(text) or uuids.setdefault(text, _uuid(text))
                parent = by_text.get(text) if by_text is not None else None
                if parent is None:
                    parent = live.get(parent_id)
            delta = dct.get("delta")
            if delta and parent is not None:
                data = _merged_copy(parent.data)
                updates = delta.get("updates", {})
                if updates:
                    data.update(restore(updates))
                for name in delta.get("deletions", {}):
                    if name in data:
                        del data[name]
            else:
                data = restore(dct["data"])
            children = [uuids.get(text) or uuids.setdefault(text, _uuid(text)) for text in dct["children"]]
            internal = dct["internal_data"]
            task = new_task(Task)
            task.__dict__ = {  # what Task.__init__ sets, in its order
                "id": task_id, "workflow": workflow, "_parent": parent_id, "_children": children,
                "_state": dct["state"], "triggered": dct["triggered"], "task_spec": spec, "thread_id": thread_id,
                "data": data, "internal_data": restore(internal) if internal else internal,
                "last_state_change": dct["last_state_change"]}
            if restored is None and key != id_text:
                restored = dict(live)  # the tasks so far, keyed by their ids: as the mapping had them
            held = len(live)
            live[task_id] = task
            if by_text is not None:
                by_text[id_text] = task
                if len(live) == held:  # an id came twice: a text may name a task `live` no longer holds
                    by_text = None
            if isinstance(spec, CatchingEvent) and dct["state"] & WAITING:
                if events is None:
                    events = workflow.top_workflow.event_manager
                events.add_task(task)
            if restored is not None:
                restored[task_id if key == id_text else _uuid(key)] = task
        return live if restored is None else restored

    def _restore(self, value):
        """registry.restore for a value json.loads made: its containers are ours, so they are kept."""
        kind = type(value)
        if kind is dict:
            if "typename" in value:
                return self.registry.restore(value)
            for name, item in value.items():
                if type(item) is dict or type(item) is list:
                    restored = self._restore(item)
                    if restored is not item:
                        value[name] = restored
            return value
        if kind is list:
            for index, item in enumerate(value):
                if type(item) is dict or type(item) is list:
                    restored = self._restore(item)
                    if restored is not item:
                        value[index] = restored
            return value
        return value
