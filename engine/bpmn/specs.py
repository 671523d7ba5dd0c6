"""What a BPMN file says: its parsed SpiffWorkflow spec plus the metadata tourflow needs.

Knows XML and SpiffWorkflow's parser; never the database. Parsed models are cached by
the sha256 of the file's bytes (parsing costs ~5 ms, a cache hit ~nothing).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from engine.bpmn.calls import executable_processes, processes_by_id, reachable_calls
from engine.bpmn.camunda import Mapping as CamundaMapping
from engine.bpmn.camunda import normalize as normalize_camunda
from engine.bpmn.due_rules import DueRules, due_rules
from engine.bpmn.lanes import DEFAULTED_TAGS, default_lane, role_of_lane
from engine.bpmn.sop import sop_text
from engine.bpmn.spiffarena import ui_schema_ref
from engine.bpmn.timer_literals import quote_bare_timers
from engine.bpmn.xmlsafe import parse_bpmn_xml
from engine.clock import install_timer_patch
from engine.errors import BpmnReadError
from engine.limits import MODEL_CACHE_MAX, BoundedCache

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
FORM_PROPERTY = "formJsonSchemaFilename"
ASSIGNEE_PROPERTY = "assigneeExpression"
# On the bpmn:process element (docs/bpmn-conventions.md): comma-separated data keys.
ROUTING_PROPERTY = "routingKeys"  # keys whose values route human tasks (users with that attribute)
SUMMARY_PROPERTY = "summaryKeys"  # keys shown as a task's and an instance's summary


@dataclass(frozen=True)
class UserTaskInfo:
    id: str
    name: str
    lane: str | None
    documentation: str
    form_ref: str | None
    assignee_expression: str | None = None
    ui_ref: str | None = None  # SpiffArena's UI schema file (formUiSchemaFilename), stored with the forms


@dataclass(frozen=True)
class StartTimer:
    """A timer start event: the engine starts the process by itself when it is due."""

    id: str
    kind: str  # timeDate | timeDuration | timeCycle
    expression: str


@dataclass(frozen=True)
class TimerInfo:
    id: str
    name: str
    attached_to: str | None
    interrupting: bool


@dataclass
class ProcessModel:
    process_id: str
    name: str
    sha256: str
    spec: Any
    subprocess_specs: dict[str, Any]
    node_lanes: dict[str, str]
    node_names: dict[str, str]
    user_tasks: dict[str, UserTaskInfo]
    timers: dict[str, TimerInfo] = field(default_factory=dict)
    start_lane: str | None = None
    message_starts: set[str] = field(default_factory=set)
    plain_start: bool = True
    start_timer: StartTimer | None = None
    subprocesses: set[str] = field(default_factory=set)
    boundary_events: set[str] = field(default_factory=set)
    routing_keys: tuple[str, ...] = ()
    summary_keys: tuple[str, ...] = ()
    generated_forms: dict[str, Any] = field(default_factory=dict)  # form name -> schema (camunda:formData)
    due: DueRules = field(default_factory=lambda: DueRules({}, {}))  # dueIn / laneDueIn (due_rules.py)

    def routing_of(self, data: dict[str, Any]) -> dict[str, str]:
        """The routing of a task created with this data: each routing key whose value is a
        non-empty string (a key without one routes nowhere: the task is everyone's in its lane)."""
        return {k: v for k in self.routing_keys if isinstance(v := data.get(k), str) and v}

    def summary_of(self, data: dict[str, Any]) -> dict[str, Any]:
        """The summary keys this data has, with their values (None values left out)."""
        return {k: data[k] for k in self.summary_keys if data.get(k) is not None}

    def sla_timer(self, bpmn_id: str) -> TimerInfo | None:
        """A non-interrupting timer boundary on a user task (or on a subprocess of people's
        work, e.g. 'reply before the authority's deadline') is its SLA."""
        timer = self.timers.get(bpmn_id)
        if timer and not timer.interrupting and (
                timer.attached_to in self.user_tasks or timer.attached_to in self.subprocesses):
            return timer
        return None


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_cache: BoundedCache[str, ProcessModel] = BoundedCache(MODEL_CACHE_MAX)


def load_model(data: bytes, filename: str, process_id: str | None = None,
               called_files: Mapping[str, bytes | str] | None = None) -> ProcessModel:
    """Parse (or fetch from cache) one executable process of a BPMN file: `process_id`, or the
    file's only one. `called_files` (file name -> BPMN) hold the processes its call activities
    call that the file itself does not; their user tasks, lanes and timers join the model."""
    extra = {name: text.encode("utf-8") if isinstance(text, str) else text
             for name, text in sorted((called_files or {}).items())}
    digest = sha256_of(data)
    key = sha256_of("\n".join([digest, process_id or "", *(f"{n}:{sha256_of(b)}" for n, b in extra.items())]).encode())
    return _cache.get_or_make(key, lambda: _parse(data, filename, digest, process_id, extra))


def _read_tree(data: bytes, filename: str) -> tuple[etree._ElementTree, CamundaMapping]:
    """The file's tree as SpiffWorkflow should read it: other modelers' extensions mapped and bare
    timer literals quoted (in memory); a Camunda construct that cannot run raises BpmnReadError."""
    tree = parse_bpmn_xml(data, filename)
    camunda = normalize_camunda(tree)
    quote_bare_timers(tree)
    if camunda.unsupported:
        first = camunda.unsupported[0]
        raise BpmnReadError(filename, first.text.render("en"), first.line, 1, key="bpmn.unsupported",
                            params={"detail_zh": first.text.render("zh")})
    return tree, camunda


def process_ids(data: bytes, filename: str) -> list[str]:
    """The ids of the executable processes of a BPMN file, in document order."""
    return [p.get("id") for p in executable_processes(parse_bpmn_xml(data, filename).getroot())]


def _parse(data: bytes, filename: str, digest: str, process_id: str | None = None,
           called_files: dict[str, bytes] | None = None) -> ProcessModel:
    install_timer_patch()
    tree, camunda = _read_tree(data, filename)
    root = tree.getroot()
    executable = executable_processes(root)
    if process_id is not None:
        executable = [p for p in executable if p.get("id") == process_id]
        if not executable:
            raise BpmnReadError(filename, f"no executable bpmn:process {process_id!r}", 1, 1, key="bpmn.no_process",
                                params={"process": process_id})
    if len(executable) != 1:
        raise BpmnReadError(filename, f"expected exactly one executable bpmn:process, found {len(executable)}", 1, 1,
                            key="bpmn.process_count", params={"count": len(executable)})
    process = executable[0]
    process_id = process.get("id")
    parser = SpiffBpmnParser()
    others: dict[str, etree._ElementTree] = {}
    for name, text in (called_files or {}).items():
        others[name], called = _read_tree(text, name)
        camunda.task_roles = {**called.task_roles, **camunda.task_roles}
        camunda.generated_forms = {**called.generated_forms, **camunda.generated_forms}
    try:
        parser.add_bpmn_xml(tree, filename=filename)
        for name, other in others.items():
            parser.add_bpmn_xml(other, filename=name)
        spec = parser.get_spec(process_id)
        subprocess_specs = parser.get_subprocess_specs(process_id)
    except ValidationException as exc:
        line = getattr(exc, "sourceline", 0) or 0
        raise BpmnReadError(filename, f"invalid process: {exc}", int(line), 1, key="bpmn.invalid_process",
                            params={"line": int(line)}) from None
    processes = processes_by_id([root, *(other.getroot() for other in others.values())])
    parts = [process] + [processes[i] for i in reachable_calls(process_id, processes) if i in processes]
    node_lanes: dict[str, str] = {}
    for part in reversed(parts):  # the calling process's own nodes win over a called one's
        node_lanes.update(_node_lanes(part))
    node_lanes |= camunda.task_roles
    user_tasks = {k: v for part in reversed(parts) for k, v in _user_tasks(part, node_lanes).items()}
    return ProcessModel(
        process_id=process_id,
        name=process.get("name") or _participant_name(root, process_id) or process_id,
        sha256=digest,
        spec=spec,
        subprocess_specs=subprocess_specs,
        node_lanes=node_lanes,
        node_names={el.get("id"): el.get("name") or el.get("id")
                    for part in reversed(parts) for el in part.iter() if el.get("id")},
        user_tasks=user_tasks,
        timers={k: v for part in reversed(parts) for k, v in _timers(part).items()},
        start_lane=_start_lane(process, node_lanes),
        message_starts=_message_starts(root, process),
        plain_start=_plain_start(process) is not None,
        start_timer=_start_timer(process),
        subprocesses={el.get("id") for part in parts for el in part.iterfind(".//bpmn:subProcess", NS)},
        boundary_events={el.get("id") for part in parts for el in part.iterfind(".//bpmn:boundaryEvent", NS)},
        routing_keys=process_keys(process, ROUTING_PROPERTY),
        summary_keys=process_keys(process, SUMMARY_PROPERTY),
        generated_forms=camunda.generated_forms,
        due=due_rules(parts),
    )


def process_keys(process: etree._Element, name: str) -> tuple[str, ...]:
    """The data keys a property of the process element lists (`value="desk, branch"`), in order."""
    prop = process.find(f"bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property[@name='{name}']", NS)
    if prop is None:
        return ()
    return tuple(dict.fromkeys(k.strip() for k in (prop.get("value") or "").split(",") if k.strip()))


def _participant_name(root: etree._Element, process_id: str) -> str | None:
    for participant in root.iterfind(".//bpmn:participant", NS):
        if participant.get("processRef") == process_id:
            return participant.get("name")
    return None


def _node_lanes(process: etree._Element) -> dict[str, str]:
    """Map flow node id -> role (engine/bpmn/lanes.py: a lane's id, else its name, names the role);
    SpiffWorkflow itself only knows lane names. A user task or start event outside every lane
    goes to the process's default lane."""
    lanes: dict[str, str] = {}
    for lane in process.iterfind(".//bpmn:lane", NS):
        for ref in lane.iterfind("bpmn:flowNodeRef", NS):
            if ref.text:
                lanes[ref.text.strip()] = role_of_lane(lane) or lane.get("id")
    # A node inside a subprocess that no lane lists belongs to its subprocess's lane (as in lint).
    for sub in process.iterfind(".//bpmn:subProcess", NS):
        for node in sub.iter():
            node_id = node.get("id")
            if node_id and node is not sub and node_id not in lanes and sub.get("id") in lanes:
                lanes[node_id] = lanes[sub.get("id")]
    fallback = default_lane(process)
    for node in process.iter(f"{{{NS['bpmn']}}}*"):
        node_id = node.get("id")
        if node_id and node_id not in lanes and etree.QName(node).localname in DEFAULTED_TAGS:
            lanes[node_id] = fallback
    return lanes


def _user_tasks(process: etree._Element, node_lanes: dict[str, str]) -> dict[str, UserTaskInfo]:
    tasks = {}
    for el in process.iterfind(".//bpmn:userTask", NS):
        form = el.find(
            f"bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property[@name='{FORM_PROPERTY}']", NS
        )
        assignee = el.find(
            f"bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property[@name='{ASSIGNEE_PROPERTY}']",
            NS)
        tasks[el.get("id")] = UserTaskInfo(
            id=el.get("id"),
            name=el.get("name") or el.get("id"),
            lane=node_lanes.get(el.get("id")),
            documentation=sop_text(el),
            form_ref=form.get("value") if form is not None else None,
            assignee_expression=assignee.get("value") if assignee is not None else None,
            ui_ref=ui_schema_ref(el),
        )
    return tasks


def _timers(process: etree._Element) -> dict[str, TimerInfo]:
    timers = {}
    for tag in ("boundaryEvent", "intermediateCatchEvent", "startEvent"):
        for el in process.iterfind(f".//bpmn:{tag}", NS):
            if el.find("bpmn:timerEventDefinition", NS) is None:
                continue
            timers[el.get("id")] = TimerInfo(
                id=el.get("id"),
                name=el.get("name") or el.get("id"),
                attached_to=el.get("attachedToRef"),
                interrupting=el.get("cancelActivity", "true").lower() == "true",
            )
    return timers


def load_forms(model: ProcessModel, forms_dir: Path | None) -> dict[str, Any]:
    """Read the JSON Schema of every user task's form (and its UI schema); missing files raise
    BpmnReadError. Forms generated from the file itself (Camunda's formData) need no file."""
    forms: dict[str, Any] = dict(model.generated_forms)
    for task, ref in [(t, r) for t in model.user_tasks.values() for r in (t.form_ref, t.ui_ref) if r]:
        if ref in forms:
            continue
        path = (forms_dir / ref) if forms_dir else None
        if path is None or not path.is_file():
            raise BpmnReadError(model.process_id, f"form {ref!r} of task {task.id!r} not found in {forms_dir}",
                                key="bpmn.form_missing", params={"form": ref, "task": task.id})
        try:
            forms[ref] = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise BpmnReadError(str(path), f"form is not valid JSON: {exc.msg}", exc.lineno, exc.colno,
                                key="bpmn.form_not_json", params={"line": exc.lineno}) from None
    return forms


def _definitions(el: etree._Element) -> list[etree._Element]:
    return el.xpath("./*[contains(local-name(), 'EventDefinition')]")


def _plain_start(process: etree._Element) -> etree._Element | None:
    return next((el for el in process.iterfind("bpmn:startEvent", NS) if not _definitions(el)), None)


def _start_lane(process: etree._Element, node_lanes: dict[str, str]) -> str | None:
    """Who may start the process by hand: the lane of its plain start event, else of its
    message start event (starting by hand then delivers that message)."""
    start = _plain_start(process)
    if start is None:
        start = next((el for el in process.iterfind("bpmn:startEvent", NS)
                      if el.find("bpmn:messageEventDefinition", NS) is not None), None)
    return node_lanes.get(start.get("id")) if start is not None else None


def _start_timer(process: etree._Element) -> StartTimer | None:
    for el in process.iterfind("bpmn:startEvent", NS):
        timer = el.find("bpmn:timerEventDefinition", NS)
        if timer is None:
            continue
        for kind in ("timeDate", "timeDuration", "timeCycle"):
            value = timer.find(f"bpmn:{kind}", NS)
            if value is not None and (value.text or "").strip():
                return StartTimer(el.get("id"), kind, value.text.strip())
    return None


def _message_starts(root: etree._Element, process: etree._Element) -> set[str]:
    names = {m.get("id"): m.get("name") or m.get("id") for m in root.iterfind("bpmn:message", NS)}
    found = set()
    for el in process.iterfind("bpmn:startEvent/bpmn:messageEventDefinition", NS):
        ref = el.get("messageRef")
        if ref:
            found.add(names.get(ref, ref))
    return found
