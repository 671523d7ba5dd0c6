"""Which processes a file holds and which processes its call activities call.

A file may hold several processes (as Camunda Modeler writes them); the executable ones run, each
as its own deployment. A `callActivity calledElement="X"` resolves against the files deployed
together, else against the deployed process X (engine/run/deploy_set.py pins what it found).
"""

from __future__ import annotations

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
NS = {"bpmn": BPMN_NS}


def is_executable(process: etree._Element) -> bool:
    return (process.get("isExecutable") or "true").strip().lower() == "true"


def executable_processes(root: etree._Element) -> list[etree._Element]:
    """The top-level processes of a document that run (isExecutable absent or "true")."""
    return [p for p in root.findall("bpmn:process", NS) if is_executable(p) and p.get("id")]


def call_activities(process: etree._Element) -> list[etree._Element]:
    """Every callActivity of a process, those inside subprocesses included."""
    return list(process.iterfind(".//bpmn:callActivity", NS))


def called_ids(process: etree._Element) -> list[str]:
    """The process ids a process calls, in document order, without repeats."""
    ids = ((el.get("calledElement") or "").strip() for el in call_activities(process))
    return list(dict.fromkeys(i for i in ids if i))


def processes_by_id(roots: list[etree._Element]) -> dict[str, etree._Element]:
    """Process id -> its element, over several documents (the first document naming it wins)."""
    found: dict[str, etree._Element] = {}
    for root in roots:
        for process in root.findall("bpmn:process", NS):
            if process.get("id"):
                found.setdefault(process.get("id"), process)
    return found


def reachable_calls(process_id: str, processes: dict[str, etree._Element]) -> list[str]:
    """The ids of the processes `process_id` calls, directly or through others (itself excluded);
    ids not in `processes` are listed too (the caller reports them missing)."""
    seen: list[str] = []
    todo = [process_id]
    while todo:
        current = processes.get(todo.pop(0))
        for called in called_ids(current) if current is not None else []:
            if called != process_id and called not in seen:
                seen.append(called)
                todo.append(called)
    return seen
