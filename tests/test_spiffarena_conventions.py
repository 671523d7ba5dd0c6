"""SpiffArena's conventions (issue 16): `spiffworkflow:instructionsForEndUser` is a step's SOP when
the task has no `bpmn:documentation` (SpiffArena exports keep instructions there)."""

from __future__ import annotations

from engine.bpmn.lint import lint_bytes
from engine.bpmn.specs import load_model
from tests.support.versions import FORMS, variant

SOP = "(1) 核对客户姓名与联系电话。\n(2) 记录出行日期与预算。"
AS_INSTRUCTIONS = (
    (f"<bpmn:documentation>{SOP}</bpmn:documentation>\n      <bpmn:extensionElements>\n",
     "<bpmn:extensionElements>\n"
     f"        <spiffworkflow:instructionsForEndUser>{SOP}</spiffworkflow:instructionsForEndUser>\n"),
)


def test_instructions_for_end_user_are_the_sop_when_there_is_no_documentation():
    data = variant(*AS_INSTRUCTIONS)
    assert b"<bpmn:documentation>(1) \xe6\xa0\xb8" not in data, "the task's documentation is gone"
    assert load_model(data, "minimal_ok.bpmn").user_tasks["fill_request"].documentation == SOP
    findings = [f for f in lint_bytes(data, "minimal_ok.bpmn", FORMS) if f.element == "fill_request"]
    assert [f.rule for f in findings] == [], "instructions count as the step's SOP"


def test_a_task_with_neither_still_has_no_sop():
    data = variant(*AS_INSTRUCTIONS, (f"<spiffworkflow:instructionsForEndUser>{SOP}</spiffworkflow:instructionsForEndUser>",
                                      "<spiffworkflow:instructionsForEndUser> </spiffworkflow:instructionsForEndUser>"))
    assert load_model(data, "minimal_ok.bpmn").user_tasks["fill_request"].documentation == ""
    rules = [f.rule for f in lint_bytes(data, "minimal_ok.bpmn", FORMS) if f.element == "fill_request"]
    assert rules == ["missing-documentation"]
