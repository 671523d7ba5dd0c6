"""What the lint rules read: one indexed view of a parsed BPMN document, and the Finding type.

Rules never walk the raw tree for the common things (flow nodes, flows, lanes, shapes);
they ask a `BpmnDocument`, so every rule sees the same answer to "which nodes are there".
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from engine.access.roles import LANES
from engine.bpmn.form_files import forms_folder
from engine.bpmn.lint_messages import Term, Text, msg

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN, "bpmndi": BPMNDI, "dc": DC, "spiffworkflow": SPIFF}

KNOWN_LANES = LANES

FLOW_NODE_TAGS = frozenset(
    ["startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent", "task", "userTask", "manualTask", "serviceTask", "scriptTask", "sendTask", "receiveTask", "businessRuleTask", "callActivity", "subProcess", "transaction", "adHocSubProcess", "exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway"]
)
CONTAINER_TAGS = frozenset({"subProcess", "transaction", "adHocSubProcess"})
HUMAN_TASK_TAGS = frozenset({"userTask", "manualTask"})


@dataclass(frozen=True)
class Finding:
    """One problem in one file, printed the way compilers do: `file:line:col: severity rule: message`."""

    file: str
    line: int
    col: int
    severity: str  # "error" | "warning"
    rule: str
    message: str
    element: str | None = None  # the BPMN element id it is about, when known (the modeler marks it)
    text: Text | None = None  # the message as a catalogue entry (lint_messages), to show it in either language

    @classmethod
    def of(cls, file: str, line: int, col: int, severity: str, rule: str, text: Text,
           element: str | None = None) -> Finding:
        """A finding whose `message` is the English of `text`."""
        return cls(file, line, col, severity, rule, text.render("en"), element, text)

    def message_in(self, lang: str) -> str:
        """The message in `lang` ("zh" or "en"); English when the finding has no catalogue entry."""
        return self.text.render(lang) if self.text is not None and lang == "zh" else self.message

    @property
    def message_zh(self) -> str:
        return self.message_in("zh")

    def messages(self, lang: str) -> dict[str, str]:
        """`message` in `lang`, and `message_en` / `message_zh`: how pages and the API show it."""
        return {"message": self.message_in(lang), "message_en": self.message, "message_zh": self.message_zh}

    def line_in(self, lang: str) -> str:
        """`str(finding)` with the message in `lang`."""
        return f"{self.file}:{self.line}:{self.col}: {self.severity} {self.rule}: {self.message_in(lang)}"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.severity} {self.rule}: {self.message}"


def bpmn_tag(el) -> str | None:
    """The local name of a BPMN-model element, None for anything else (other namespaces, comments)."""
    if not isinstance(el.tag, str):
        return None
    qname = etree.QName(el)
    return qname.localname if qname.namespace == BPMN else None


def describe(el) -> str:
    """`userTask 'fill_request' (填写需求)`: how a message names an element."""
    return described(el).render("en")


def described(el) -> Text:
    """`describe` as a message part: `用户任务 'fill_request'（填写需求）` in Chinese."""
    kind = Term(etree.QName(el).localname if isinstance(el.tag, str) else "node")
    name = el.get("name")
    if name:
        return msg("element.named", kind=kind, id=el.get("id", "?"), name=name)
    return msg("element", kind=kind, id=el.get("id", "?"))


class BpmnDocument:
    """A parsed BPMN file indexed for linting; `process` is the one process the file is about."""

    def __init__(self, tree: etree._ElementTree, filename: str, forms_root: Path | None = None,
                 forms_dir: Path | None = None, process: etree._Element | None = None,
                 task_roles: dict[str, str] | None = None, generated_forms: dict[str, dict] | None = None):
        """`process`: the process of the file to check (a file may hold several); default the
        first executable one."""
        self.filename = filename
        # what engine/bpmn/camunda.py mapped: roles of user tasks no lane holds, generated forms by file name
        self.task_roles = task_roles or {}
        self.generated_forms = generated_forms or {}
        self.root = tree.getroot()
        self.processes = self.root.findall("bpmn:process", NS)
        self.process = process if process is not None else (self.executable_processes() or self.processes or [None])[0]
        self.process_id = self.process.get("id", "") if self.process is not None else ""
        if forms_dir is None and forms_root is not None and self.process_id:
            forms_dir = forms_folder(forms_root.parent, self.process_id)
        self.forms_dir = forms_dir
        self.elements_by_id: dict[str, etree._Element] = {}
        self.duplicate_ids: list[etree._Element] = []
        for el in self.root.iter(etree.Element):
            el_id = el.get("id")
            # spiffworkflow:serviceTaskOperator/parameter ids name a handler or an argument, not an element
            if el_id is None or etree.QName(el).namespace == SPIFF:
                continue
            if el_id in self.elements_by_id:
                self.duplicate_ids.append(el)
            else:
                self.elements_by_id[el_id] = el
        self.flow_nodes = list(self._in_process(FLOW_NODE_TAGS))
        self.flow_node_ids = {n.get("id") for n in self.flow_nodes if n.get("id")}
        self.sequence_flows = list(self._in_process({"sequenceFlow"}))
        self._outgoing: dict[str, list[etree._Element]] = {}
        for flow in self.sequence_flows:
            self._outgoing.setdefault(flow.get("sourceRef", ""), []).append(flow)
        self.shapes = self._di_index("BPMNShape")
        self.edges = self._di_index("BPMNEdge")

    # -- reading --------------------------------------------------------------------------

    def executable_processes(self) -> list[etree._Element]:
        """The processes lint checks: those marked isExecutable="true" (the modelers' checkbox)."""
        return [p for p in self.processes if p.get("isExecutable") == "true"]

    def _in_process(self, tags) -> Iterator[etree._Element]:
        if self.process is None:
            return
        for el in self.process.iter(etree.Element):
            if bpmn_tag(el) in tags:
                yield el

    def _di_index(self, kind: str) -> dict[str, etree._Element]:
        index: dict[str, etree._Element] = {}
        for el in self.root.iter(f"{{{BPMNDI}}}{kind}"):
            index.setdefault(el.get("bpmnElement", ""), el)
        return index

    def of_type(self, *tags: str) -> list[etree._Element]:
        """Flow nodes of the main process (subprocesses included) with one of these BPMN tags."""
        return [n for n in self.flow_nodes if bpmn_tag(n) in tags]

    def direct_flow_nodes(self) -> list[etree._Element]:
        """Flow nodes that sit directly in the process, not inside a subprocess."""
        return [n for n in self.flow_nodes if n.getparent() is self.process]

    def container_of(self, node) -> etree._Element:
        """The process or subprocess element a flow node belongs to."""
        parent = node.getparent()
        while parent is not None and parent is not self.process and bpmn_tag(parent) not in CONTAINER_TAGS:
            parent = parent.getparent()
        return parent

    def outgoing(self, node_id: str) -> list[etree._Element]:
        return self._outgoing.get(node_id, [])

    def lanes(self) -> list[etree._Element]:
        """Every lane of the process laneSet, nested lanes included (not lanes of subprocesses)."""
        if self.process is None:
            return []
        found = []
        for lane_set in self.process.findall("bpmn:laneSet", NS):
            found.extend(lane_set.iter(f"{{{BPMN}}}lane"))
        return found

    @staticmethod
    def is_leaf_lane(lane) -> bool:
        return not lane.findall("bpmn:childLaneSet/bpmn:lane", NS)

    def leaf_lanes_of(self) -> dict[str, list[str]]:
        """Flow node id -> ids of the leaf lanes whose flowNodeRef lists it (text taken as is,
        as SpiffWorkflow does)."""
        lanes_of: dict[str, list[str]] = {}
        for lane in self.lanes():
            if self.is_leaf_lane(lane):
                for ref in lane.findall("bpmn:flowNodeRef", NS):
                    lanes_of.setdefault(ref.text or "", []).append(lane.get("id", ""))
        return lanes_of

    def effective_lane(self, node, lanes_of: dict[str, list[str]]) -> str | None:
        """The lane a node runs in: its own, else the lane of the subprocess around it."""
        while node is not None and node is not self.process:
            own = lanes_of.get(node.get("id", ""))
            if own:
                return own[0]
            node = self.container_of(node)
        return None

    # -- reporting ------------------------------------------------------------------------

    def finding(self, el, severity: str, rule: str, message: Text, line: int | None = None,
                col: int = 1) -> Finding:
        """`message` is a `msg(...)` of lint_messages, so the finding can be shown in Chinese too."""
        if line is None:
            line = (el.sourceline if el is not None else None) or 1
        return Finding.of(self.filename, line, col, severity, rule, message, self.element_of(el))

    def element_of(self, el) -> str | None:
        """The id of the diagram element a finding about `el` is about: `el` itself, the element
        whose part it is (a form field, a DI label, an event definition), or what a DI shape draws; None for the whole
        process or file."""
        while el is not None and isinstance(el.tag, str):
            if el is self.process or el is self.root:
                return None
            qname = etree.QName(el)
            if qname.namespace == BPMNDI and el.get("bpmnElement"):
                return el.get("bpmnElement")
            el_id = el.get("id")
            # an event definition is part of its event: the finding names the event (issue 16)
            if (qname.namespace == BPMN and el_id and self.elements_by_id.get(el_id) is el
                    and not qname.localname.endswith("EventDefinition")):
                return el_id
            el = el.getparent()
        return None

    def error(self, el, rule: str, message: Text, **where) -> Finding:
        return self.finding(el, "error", rule, message, **where)

    def warning(self, el, rule: str, message: Text, **where) -> Finding:
        return self.finding(el, "warning", rule, message, **where)
