"""Finding.element: the BPMN element id a finding is about (the modeler marks it on the diagram),
None for the whole file or process; the printed finding stays as it was."""

from __future__ import annotations

from engine.bpmn.lint import Finding, lint_bytes
from engine.config import DEFAULT_PROCESSES_DIR

BPMN = DEFAULT_PROCESSES_DIR / "complaint_handling.bpmn"
FORMS = DEFAULT_PROCESSES_DIR / "forms" / "complaint_handling"
TEXT = BPMN.read_text(encoding="utf-8")


def lint(*edits: tuple[str, str]) -> list[Finding]:
    text = TEXT
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    return lint_bytes(text.encode(), BPMN.name, FORMS)


def about(findings: list[Finding], rule: str) -> list[str | None]:
    return [f.element for f in findings if f.rule == rule]


def test_a_finding_on_a_part_of_a_task_names_the_task():
    findings = lint(('value="investigate_facts.schema.json"', 'value="nope.schema.json"'))
    assert about(findings, "form-invalid") == ["investigate_facts"]


def test_a_finding_on_a_flow_or_its_condition_names_the_flow():
    assert about(lint(('sourceRef="report_overdue"', 'sourceRef="nowhere"')), "dangling-flow") == [
        "overdue_to_escalate"]
    findings = lint(("escalated_to_authority == True</bpmn:conditionExpression>",
                     "escalated_to_authority ==</bpmn:conditionExpression>"))
    assert "route_to_authority" in [f.element for f in findings if f.severity == "error"]


def test_a_finding_on_a_shape_names_what_it_draws_and_one_on_the_process_names_nothing():
    findings = lint(('<bpmndi:BPMNShape id="investigate_facts_di" bpmnElement="investigate_facts">',
                     '<bpmndi:BPMNShape id="investigate_facts_di" bpmnElement="investigate_facts_gone">'))
    assert "investigate_facts" in about(findings, "missing-di")
    mismatch = lint_bytes(TEXT.encode(), "other_name.bpmn", FORMS)
    assert about(mismatch, "process-id-mismatch") == [None]


def test_the_printed_finding_does_not_show_the_element():
    finding = Finding("p.bpmn", 3, 1, "error", "dangling-flow", "x", element="flow_1")
    assert str(finding) == "p.bpmn:3:1: error dangling-flow: x"
    assert Finding("p.bpmn", 3, 1, "error", "r", "x").element is None
