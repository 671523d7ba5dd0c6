"""A step's instructions for staff (its SOP): the task's `bpmn:documentation`, else SpiffArena's
`spiffworkflow:instructionsForEndUser` (what a SpiffArena export holds instead)."""

from __future__ import annotations

from lxml import etree

from engine.bpmn.lint_model import NS

INSTRUCTIONS = "bpmn:extensionElements/spiffworkflow:instructionsForEndUser"


def sop_element(task: etree._Element) -> etree._Element | None:
    """The element holding the task's instructions, None when it has none."""
    for path in ("bpmn:documentation", INSTRUCTIONS):
        found = task.find(path, NS)
        if found is not None and (found.text or "").strip():
            return found
    return None


def sop_text(task: etree._Element) -> str:
    found = sop_element(task)
    return (found.text or "").strip() if found is not None else ""


__all__ = ["INSTRUCTIONS", "sop_element", "sop_text"]
