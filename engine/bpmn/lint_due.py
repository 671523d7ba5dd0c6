"""Lint of the due-date properties (engine/bpmn/due_rules.py): `dueIn` on a user task and
`laneDueIn` on the process must be durations the engine can use, of lanes that exist."""

from __future__ import annotations

from collections.abc import Iterator

from engine.bpmn.due_rules import (
    DUE_PROPERTY,
    LANE_DUE_PROPERTY,
    DueSpanInvalid,
    parse_due_span,
    parse_lane_spans,
    property_element,
)
from engine.bpmn.lint_messages import msg
from engine.bpmn.lint_model import KNOWN_LANES, NS, BpmnDocument, Finding

RULE = "due-in"


def check_due_properties(doc: BpmnDocument) -> Iterator[Finding]:
    if doc.process is None:
        return
    prop = property_element(doc.process, LANE_DUE_PROPERTY)
    if prop is not None:
        value = prop.get("value") or ""
        try:
            spans = parse_lane_spans(value)
        except DueSpanInvalid:
            yield doc.error(prop, RULE, msg("due-in.lane-invalid", process=doc.process_id, value=value))
        else:
            for lane in sorted(set(spans) - KNOWN_LANES):
                yield doc.error(prop, RULE, msg("due-in.lane-unknown", process=doc.process_id, lane=lane,
                                                known=", ".join(sorted(KNOWN_LANES))))
    for task in doc.process.iterfind(".//bpmn:userTask", NS):
        prop = property_element(task, DUE_PROPERTY)
        if prop is None:
            continue
        try:
            parse_due_span(prop.get("value") or "")
        except DueSpanInvalid:
            yield doc.error(prop, RULE, msg("due-in.invalid", task=task.get("id"), value=prop.get("value") or ""))


DUE_RULES = (check_due_properties,)
