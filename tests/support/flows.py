"""Which sequence flows an instance took, read from its persisted SpiffWorkflow task tree (not from
what the test meant to do), so that process tests can assert paths and cover every flow of a file."""

from __future__ import annotations

from pathlib import Path

from lxml import etree
from SpiffWorkflow.util.task import TaskState

from engine.store.models import Deployment, ProcessInstance

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
FLOW_NODE_TAGS = ("startEvent", "endEvent", "intermediateThrowEvent", "intermediateCatchEvent", "boundaryEvent",
                  "userTask", "serviceTask", "scriptTask", "exclusiveGateway", "eventBasedGateway")


def diagram(path: Path) -> tuple[dict[str, tuple[str, str]], set[str], dict[str, str]]:
    """(flow id -> (source, target), flow node ids, boundary event id -> host) of a BPMN file."""
    root = etree.parse(str(path)).getroot()
    process = root.find("bpmn:process", NS)
    flows = {f.get("id"): (f.get("sourceRef"), f.get("targetRef")) for f in process.iterfind("bpmn:sequenceFlow", NS)}
    nodes = {el.get("id") for tag in FLOW_NODE_TAGS for el in process.iterfind(f"bpmn:{tag}", NS)}
    boundaries = {el.get("id"): el.get("attachedToRef") for el in process.iterfind("bpmn:boundaryEvent", NS)}
    return flows, nodes, boundaries


class Walk:
    """One instance and the steps people take on it."""

    def __init__(self, runtime, instance_id: int, bpmn: Path):
        self.rt = runtime
        self.id = instance_id
        self.bpmn = bpmn

    def open_tasks(self) -> dict[str, dict]:
        return {t["task"]: t for t in self.rt.tasks(instance_id=self.id)}

    def do(self, task: str, user: str, **data):
        open_tasks = self.open_tasks()
        assert task in open_tasks, f"{task} is not open; open: {sorted(open_tasks)}"
        return self.rt.complete(open_tasks[task]["id"], user, data)

    def show(self) -> dict:
        return self.rt.show(self.id)

    def status(self) -> str:
        return self.show()["status"]

    def data(self) -> dict:
        return self.show()["data"]

    def events(self, kind: str | None = None) -> list[dict]:
        return [e for e in self.rt.events(self.id) if kind is None or e["kind"] == kind]

    def kinds(self) -> list[str]:
        return [e["kind"] for e in self.rt.events(self.id)]

    def completed_steps(self) -> list[str]:
        return [e["payload"]["task"] for e in self.events("task_completed")]

    def flows_taken(self) -> set[str]:
        """The sequence flows this instance took, from its task history (not from the test's intent).

        For every completed task of a flow node, the nearest completed ancestor that is a flow node
        is where it came from; that (source, target) pair must be a sequence flow of the file, except
        for a boundary event, whose ancestor is whatever led to its host.
        """
        flows, nodes, boundaries = diagram(self.bpmn)
        by_pair = {pair: flow_id for flow_id, pair in flows.items()}
        with self.rt.db.read() as session:
            instance = session.get(ProcessInstance, self.id)
            model = self.rt.deployed(session, instance.deployment_id).model
            workflow = self.rt.codec.loads(instance.serialized, model)
        taken, unexplained = set(), []
        for task in workflow.get_tasks(state=TaskState.COMPLETED):
            target = task.task_spec.bpmn_id
            if target not in nodes:
                continue
            parent = task.parent
            while parent is not None and parent.task_spec.bpmn_id not in nodes:
                parent = parent.parent
            if parent is None or target in boundaries:
                continue
            flow_id = by_pair.get((parent.task_spec.bpmn_id, target))
            if flow_id is None:
                unexplained.append((parent.task_spec.bpmn_id, target))
            else:
                taken.add(flow_id)
        assert not unexplained, f"task history steps that are no sequence flow: {unexplained}"
        return taken

    def assert_path(self, expected: set[str]) -> None:
        taken = self.flows_taken()
        assert taken == expected, f"missing: {sorted(expected - taken)}; unexpected: {sorted(taken - expected)}"


def sequence_flows(path) -> dict[tuple[str, str], str]:
    """(source id, target id) -> flow id, for every sequence flow of a BPMN file (subprocesses too)."""
    root = etree.parse(str(path)).getroot()
    return {(f.get("sourceRef"), f.get("targetRef")): f.get("id") for f in root.iterfind(".//bpmn:sequenceFlow", NS)}


def taken_flows(runtime, instance_id: int) -> set[str]:
    """The flows an instance went along: a reached task whose nearest BPMN ancestor in SpiffWorkflow's
    task tree is the flow's source (gateways, events and subprocess tasks included)."""
    with runtime.db.read() as session:
        instance = session.get(ProcessInstance, instance_id)
        deployed = runtime.deployed(session, instance.deployment_id)
        workflow = runtime.codec.loads(instance.serialized, deployed.model)
        xml = session.get(Deployment, deployed.id).bpmn_xml.encode("utf-8")
    root = etree.fromstring(xml)
    flows = {(f.get("sourceRef"), f.get("targetRef")): f.get("id") for f in root.iterfind(".//bpmn:sequenceFlow", NS)}
    reached = TaskState.COMPLETED | TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
    tasks = list(workflow.tasks.values())
    for subprocess in workflow.subprocesses.values():
        tasks.extend(subprocess.tasks.values())
    # A parallel join gets one task per arriving branch; all but the last branch's are cancelled when
    # the join fires, so a cancelled task of a completed join still counts as the branch's arrival.
    joins = {el.get("id") for el in root.iterfind(".//bpmn:parallelGateway", NS)}
    joined = {t.task_spec.bpmn_id for t in tasks if t.task_spec.bpmn_id in joins and t.has_state(TaskState.COMPLETED)}
    taken = set()
    for task in tasks:
        target = task.task_spec.bpmn_id
        arrived = task.has_state(reached) or (target in joined and task.has_state(TaskState.CANCELLED))
        if target is None or not arrived:
            continue
        parent = task.parent
        while parent is not None and parent.task_spec.bpmn_id is None:
            parent = parent.parent
        if parent is not None and (parent.task_spec.bpmn_id, target) in flows:
            taken.add(flows[(parent.task_spec.bpmn_id, target)])
    return taken
