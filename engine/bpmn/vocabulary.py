"""The names a process file shares with the others: the messages it declares and the service-task
handlers it calls. The modeler offers them (a message name typed in one process must match the
other's), and the handler catalogue says which processes use each handler."""

from __future__ import annotations

from dataclasses import dataclass

from engine.bpmn.camunda import normalize as normalize_camunda
from engine.bpmn.lint_model import NS
from engine.bpmn.xmlsafe import parse_bpmn_xml
from engine.errors import BpmnReadError


@dataclass(frozen=True)
class Vocabulary:
    messages: frozenset[str]
    handlers: frozenset[str]


def vocabulary(data: bytes, filename: str) -> Vocabulary:
    """What one file declares and calls; an unreadable file declares nothing."""
    try:
        tree = parse_bpmn_xml(data, filename)
    except BpmnReadError:
        return Vocabulary(frozenset(), frozenset())
    normalize_camunda(tree)  # a Camunda external task's topic is the handler it calls
    root = tree.getroot()
    messages = {m.get("name") or m.get("id") for m in root.iterfind("bpmn:message", NS)}
    handlers = {op.get("id") for op in root.iterfind(".//spiffworkflow:serviceTaskOperator", NS)}
    return Vocabulary(frozenset(m for m in messages if m), frozenset(h for h in handlers if h))


__all__ = ["Vocabulary", "vocabulary"]
