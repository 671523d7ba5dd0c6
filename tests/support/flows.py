"""Which sequence flows an instance took, read from its persisted SpiffWorkflow task tree (not from
what the test meant to do), so that process tests can assert paths and cover every flow of a file."""

from __future__ import annotations

from pathlib import Path

from lxml import etree
from SpiffWorkflow.util.task import TaskState

from engine.history.replay import full_history
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
        """The sequence flows this instance completed, from its task history (not from the test's intent)."""
        return taken_flows(self.rt, self.id, states=TaskState.COMPLETED)

    def assert_path(self, expected: set[str]) -> None:
        taken = self.flows_taken()
        assert taken == expected, f"missing: {sorted(expected - taken)}; unexpected: {sorted(taken - expected)}"


def sequence_flows(path) -> dict[tuple[str, str], str]:
    """(source id, target id) -> flow id, for every sequence flow of a BPMN file (subprocesses too)."""
    root = etree.parse(str(path)).getroot()
    return {(f.get("sourceRef"), f.get("targetRef")): f.get("id") for f in root.iterfind(".//bpmn:sequenceFlow", NS)}


REACHED = TaskState.COMPLETED | TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR


def taken_flows(runtime, instance_id: int, states: TaskState = REACHED) -> set[str]:
    """The flows an instance went along, from its task tree rebuilt from its record (subprocesses included): a
    reached task came along the flow from its nearest completed BPMN ancestor.

    It fails rather than guess: a tree step that is no sequence flow of the deployed file, or a step
    the audit log says ran (task completed, handler called) that no taken flow leads to. A boundary
    event is reached through its host (no flow); a flow out of a host whose boundary event fired
    may hang under that event in the tree. A parallel join keeps one task per arriving branch and
    cancels all but the last when it fires: those count as reached once the join completed.
    """
    with runtime.db.read() as session:
        instance = session.get(ProcessInstance, instance_id)
        deployed = runtime.deployed(session, instance.deployment_id)
        xml = session.get(Deployment, deployed.id).bpmn_xml.encode("utf-8")
    # The stored tree drops finished loop iterations (engine/run/prune.py): the path is the record's.
    workflow = full_history(runtime, instance_id)
    root = etree.fromstring(xml)
    by_ends = {(f.get("sourceRef"), f.get("targetRef")): f.get("id") for f in root.iterfind(".//bpmn:sequenceFlow", NS)}
    hosts = {el.get("id"): el.get("attachedToRef") for el in root.iterfind(".//bpmn:boundaryEvent", NS)}
    joins = {el.get("id") for el in root.iterfind(".//bpmn:parallelGateway", NS)
             if sum(1 for _source, target in by_ends if target == el.get("id")) > 1}
    nodes = {node for ends in by_ends for node in ends} | set(hosts)
    tasks = list(workflow.tasks.values())
    for subprocess in workflow.subprocesses.values():
        tasks.extend(subprocess.tasks.values())
    joined = {t.task_spec.bpmn_id for t in tasks if t.task_spec.bpmn_id in joins and t.has_state(TaskState.COMPLETED)}
    taken, unexplained = set(), []
    for task in tasks:
        target = task.task_spec.bpmn_id
        arrived = task.has_state(states) or (target in joined and task.has_state(TaskState.CANCELLED))
        if not arrived or target not in nodes or target in hosts:
            continue
        parent = task.parent
        while parent is not None and parent.task_spec.bpmn_id not in nodes:
            parent = parent.parent
        if parent is None or not parent.has_state(TaskState.COMPLETED):
            continue
        source = parent.task_spec.bpmn_id
        if (source, target) not in by_ends and (hosts.get(source), target) in by_ends:
            source = hosts[source]
        if (source, target) in by_ends:
            taken.add(by_ends[(source, target)])
        elif source != target:  # the same id under itself is one instance of a multi-instance activity
            unexplained.append((source, target))
    assert not unexplained, f"task tree steps that are no sequence flow: {unexplained}"
    ran = {e["payload"]["task"] for e in runtime.events(instance_id) if e["kind"] in ("task_completed", "handler_called")}
    targets = {target for (_source, target), flow_id in by_ends.items() if flow_id in taken}
    assert ran <= targets, f"the audit log says {sorted(ran - targets)} ran, but no taken flow leads there"
    return taken


def all_flows(path: Path) -> set[str]:
    """The ids of every sequence flow of a BPMN file (subprocesses too)."""
    return set(sequence_flows(path).values())
