"""`engine.bpmn.lint`: a clean diagram lints clean; each convention breaks with its own rule id and line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.bpmn.lint import KNOWN_LANES, Finding, has_errors, lint_bytes, lint_file, lint_paths

FIXTURES = Path(__file__).parent / "fixtures" / "bpmn"
MINIMAL = FIXTURES / "minimal_ok.bpmn"
FORMS = FIXTURES / "forms" / "minimal_ok"
PROCESSES = Path(__file__).resolve().parents[1] / "processes"


def minimal_text() -> str:
    return MINIMAL.read_text(encoding="utf-8")


def edit(text: str, *edits: tuple[str, str]) -> str:
    """Apply (old, new) replacements; each `old` must be in the text."""
    for old, new in edits:
        assert old in text, f"fixture changed: {old!r} not found"
        text = text.replace(old, new)
    return text


def line_of(text: str, marker: str) -> int:
    assert text.count(marker) == 1, f"marker {marker!r} must occur exactly once"
    return text[: text.index(marker)].count("\n") + 1


def lint_text(text: str, filename: str = "minimal_ok.bpmn", forms_dir: Path | None = FORMS) -> list[Finding]:
    return lint_bytes(text.encode("utf-8"), filename, forms_dir)


def only(findings: list[Finding], rule: str) -> Finding:
    matches = [f for f in findings if f.rule == rule]
    assert len(matches) == 1, "\n".join(map(str, findings))
    return matches[0]


# -- the clean case ---------------------------------------------------------------------------

def test_minimal_fixture_lints_clean():
    # It has a boundary timer drawn on its host's border: that is not an overlap.
    assert lint_file(MINIMAL) == []


def test_lint_bytes_without_forms_dir_does_not_look_for_form_files():
    assert lint_text(minimal_text(), forms_dir=Path("/nonexistent")) != []
    assert lint_text(minimal_text(), forms_dir=None) == []


def test_lint_paths_walks_folders_sorted_and_recursively(tmp_path):
    (tmp_path / "b" / "forms").mkdir(parents=True)
    shutil.copy(MINIMAL, tmp_path / "b" / "minimal_ok.bpmn")
    shutil.copytree(FORMS, tmp_path / "b" / "forms" / "minimal_ok")
    (tmp_path / "a_broken.bpmn").write_text("<nope", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not linted", encoding="utf-8")

    findings = lint_paths([tmp_path])

    assert [(Path(f.file).name, f.rule) for f in findings] == [("a_broken.bpmn", "xml")]
    assert lint_paths([tmp_path / "b", tmp_path / "b" / "minimal_ok.bpmn"]) == []


def test_finding_prints_like_a_compiler_message():
    finding = Finding("p.bpmn", 12, 3, "error", "unknown-lane", "lane id 'boss' is not a role id")
    assert str(finding) == "p.bpmn:12:3: error unknown-lane: lane id 'boss' is not a role id"
    assert has_errors([finding])
    assert not has_errors([Finding("p.bpmn", 1, 1, "warning", "overlap", "x")])
    assert "staff" in KNOWN_LANES and "system" in KNOWN_LANES


def test_missing_file_is_one_xml_error(tmp_path):
    [finding] = lint_file(tmp_path / "gone.bpmn")
    assert (finding.rule, finding.severity, finding.line) == ("xml", "error", 1)
    assert "cannot read file" in finding.message


# -- one rule per case: (edits, rule, severity, marker of the expected line) ----------------------

ESCALATE_DOC = "<bpmn:documentation>(1) 联系负责人了解延误原因。\n(2) 记录处理意见。</bpmn:documentation>"
ESCALATE_FORM = '<spiffworkflow:property name="formJsonSchemaFilename" value="escalate.schema.json" />'
SCRIPT = "<bpmn:script>needs_review = True</bpmn:script>"
CONDITION = "budget &gt; 1000</bpmn:conditionExpression>"
TIMER = '"PT1H"</bpmn:timeDuration>'
ESCALATE_SHAPE = """      <bpmndi:BPMNShape id="escalate_di" bpmnElement="escalate">
        <dc:Bounds x="270" y="235" width="100" height="80" />
      </bpmndi:BPMNShape>
"""
AS_SERVICE_TASK = (
    ('<bpmn:scriptTask id="record_review"', '<bpmn:serviceTask id="record_review"'),
    ("</bpmn:scriptTask>", "</bpmn:serviceTask>"),
)


def as_service_task(operator: str) -> tuple[tuple[str, str], ...]:
    return (*AS_SERVICE_TASK,
            (SCRIPT, f"<bpmn:extensionElements>{operator}</bpmn:extensionElements>"))


RULE_CASES = {
    "reserved-id": ([("start_event", "Start")], "reserved-id", "error", '<bpmn:startEvent id="Start"'),
    "duplicate-id": ([('id="fill_request_sla_timer"', 'id="record_review"')], "duplicate-id", "error",
                     '<bpmn:scriptTask id="record_review"'),
    "missing-di-shape": ([(ESCALATE_SHAPE, "")], "missing-di", "warning", '<bpmn:userTask id="escalate"'),
    "missing-di-edge": ([('<bpmndi:BPMNEdge id="flow_sla_di" bpmnElement="flow_sla">', '<bpmndi:BPMNEdge id="flow_sla_di">')],
                        "missing-di", "warning", '<bpmn:sequenceFlow id="flow_sla"'),
    "missing-di-lane": ([('bpmnElement="staff"', 'bpmnElement="nothing"')], "missing-di", "warning",
                        '<bpmn:lane id="staff"'),
    "overlap": ([('<dc:Bounds x="432" y="257"', '<dc:Bounds x="340" y="257"')], "overlap", "warning",
                '<bpmndi:BPMNShape id="end_escalated_di"'),
    "unknown-lane": ([('"supervisor"', '"boss"'), ('name="主管"', 'name="老板"')], "unknown-lane", "error",
                     '<bpmn:lane id="boss"'),
    "lane-missing": ([("        <bpmn:flowNodeRef>end_done</bpmn:flowNodeRef>\n", "")], "lane-missing", "warning",
                     '<bpmn:endEvent id="end_done"'),
    "lane-twice": ([("<bpmn:flowNodeRef>fill_request</bpmn:flowNodeRef>",
                     "<bpmn:flowNodeRef>fill_request</bpmn:flowNodeRef><bpmn:flowNodeRef>end_done</bpmn:flowNodeRef>")],
                   "lane-missing", "error", '<bpmn:endEvent id="end_done"'),
    "user-task-in-system-lane": (
        [("<bpmn:flowNodeRef>escalate</bpmn:flowNodeRef>", ""),
         ("<bpmn:flowNodeRef>end_done</bpmn:flowNodeRef>",
          "<bpmn:flowNodeRef>end_done</bpmn:flowNodeRef><bpmn:flowNodeRef>escalate</bpmn:flowNodeRef>")],
        "user-task-in-system-lane", "error", '<bpmn:userTask id="escalate"'),
    "missing-documentation": ([(ESCALATE_DOC, "")], "missing-documentation", "warning",
                              '<bpmn:userTask id="escalate"'),
    "unnumbered-documentation": ([(ESCALATE_DOC, "<bpmn:documentation>联系负责人。</bpmn:documentation>")],
                                 "missing-documentation", "warning", "<bpmn:documentation>联系负责人。"),
    "missing-form": ([(ESCALATE_FORM, "")], "missing-form", "warning", '<bpmn:userTask id="escalate"'),
    "form-file-missing": ([('value="escalate.schema.json"', 'value="nope.schema.json"')], "form-invalid", "error",
                          'value="nope.schema.json"'),
    "form-name-not-plain": ([('value="escalate.schema.json"', 'value="../minimal_ok/escalate.schema.json"')],
                            "form-invalid", "error", 'value="../minimal_ok/escalate.schema.json"'),
    "unknown-handler": (as_service_task('<spiffworkflow:serviceTaskOperator id="no_such_handler" resultVariable="r" />'),
                        "unknown-handler", "error", 'serviceTaskOperator id="no_such_handler"'),
    "no-operator": (as_service_task(""), "unknown-handler", "error", '<bpmn:serviceTask id="record_review"'),
    "operator-id-clash": (as_service_task('<spiffworkflow:serviceTaskOperator id="record_review" resultVariable="r" />'),
                          "operator-id-clash", "error", 'serviceTaskOperator id="record_review"'),
    "unsafe-condition": ([(CONDITION, "_secret &gt; 1</bpmn:conditionExpression>")], "unsafe-script", "error",
                         "_secret &gt; 1"),
    "unsafe-script": ([(SCRIPT, "<bpmn:script>import os</bpmn:script>")], "unsafe-script", "error", "import os"),
    "unsafe-script-later-line": ([(SCRIPT, "<bpmn:script>a = 1\nb = 2\nc = ().__class__</bpmn:script>")],
                                 "unsafe-script", "error", "c = ().__class__"),
    "unsafe-parameter": (as_service_task(
        '<spiffworkflow:serviceTaskOperator id="no_such_handler" resultVariable="r"><spiffworkflow:parameters>'
        '<spiffworkflow:parameter id="p" type="str" value="eval(x)" /></spiffworkflow:parameters>'
        '</spiffworkflow:serviceTaskOperator>'), "unsafe-script", "error", 'value="eval(x)"'),
    "syntax-condition": ([(CONDITION, "budget &gt;</bpmn:conditionExpression>")], "script-syntax", "error",
                         "budget &gt;</bpmn"),
    "syntax-script": ([(SCRIPT, "<bpmn:script>needs_review = = True</bpmn:script>")], "script-syntax", "error",
                      "needs_review = = True"),
    "empty-script": ([(SCRIPT, "<bpmn:script />")], "script-syntax", "error", "<bpmn:script />"),
    "gateway-no-default": ([(' default="flow_default"', "")], "gateway-no-default", "warning",
                           '<bpmn:exclusiveGateway id="route_gateway"'),
    "timer-unquoted": ([(TIMER, "PT1H</bpmn:timeDuration>")], "timer-unquoted", "warning", "PT1H</bpmn:timeDuration>"),
    "timer-invalid": ([(TIMER, '"1 hour"</bpmn:timeDuration>')], "timer-invalid", "error", '"1 hour"'),
    "timer-unsafe": ([(TIMER, "open('x')</bpmn:timeDuration>")], "unsafe-script", "error", "open('x')"),
    "reserved-key-script": ([(SCRIPT, "<bpmn:script>typename = 'x'</bpmn:script>")], "reserved-key", "error",
                            "typename = 'x'"),
    "reserved-key-result": (as_service_task(
        '<spiffworkflow:serviceTaskOperator id="no_such_handler" resultVariable="typename" />'),
        "reserved-key", "error", 'resultVariable="typename"'),
    "no-process-executable": ([('isExecutable="true"', 'isExecutable="false"')], "not-executable", "error",
                              '<bpmn:process id="minimal_ok"'),
    # a second executable process is checked on its own: this empty one has no start event
    "second-process-checked": ([("  <bpmndi:BPMNDiagram",
                                 '  <bpmn:process id="other" isExecutable="true" />\n  <bpmndi:BPMNDiagram')],
                               "no-start", "error", '<bpmn:process id="other"'),
    "no-pool": ([('processRef="minimal_ok"', 'processRef="someone_else"')], "no-pool", "warning",
                '<bpmn:process id="minimal_ok"'),
    "no-start": ([('<bpmn:startEvent id="start_event" name="收到需求">',
                   '<bpmn:intermediateThrowEvent id="start_event" name="收到需求">'),
                  ("</bpmn:startEvent>", "</bpmn:intermediateThrowEvent>")],
                 "no-start", "error", '<bpmn:process id="minimal_ok"'),
    "no-end": ([("bpmn:endEvent", "bpmn:intermediateThrowEvent")], "no-end", "error", '<bpmn:process id="minimal_ok"'),
    "unreachable": ([('sourceRef="escalate" targetRef="end_escalated"', 'sourceRef="escalate" targetRef="end_done"')],
                    "unreachable", "warning", '<bpmn:endEvent id="end_escalated"'),
    "dangling-flow": ([('targetRef="end_escalated"', 'targetRef="nowhere"')], "dangling-flow", "error",
                      '<bpmn:sequenceFlow id="flow_escalated"'),
    "spiff-parse": ([("  </bpmn:process>",
                      '    <bpmn:sequenceFlow id="flow_extra" sourceRef="escalate" targetRef="end_done" />\n'
                      "  </bpmn:process>")],
                    "spiff-parse", "error", '<bpmn:userTask id="escalate"'),
}


@pytest.mark.parametrize("case", RULE_CASES, ids=list(RULE_CASES))
def test_each_rule_reports_its_id_severity_and_line(case):
    edits, rule, severity, marker = RULE_CASES[case]
    text = edit(minimal_text(), *edits)

    finding = only(lint_text(text), rule)

    assert (finding.severity, finding.line) == (severity, line_of(text, marker)), str(finding)
    assert finding.file == "minimal_ok.bpmn"
    assert finding.message


def test_no_process_at_all():
    text = edit(minimal_text(), (minimal_text()[minimal_text().index("  <bpmn:collaboration"):
                                              minimal_text().index("  <bpmndi:BPMNDiagram")], ""))
    finding = only(lint_text(text), "no-process")
    # libxml2 gives an element the line where its start tag ends
    assert (finding.severity, finding.line) == ("error", line_of(text, 'targetNamespace="http://tourflow.example/bpmn">'))


def test_pools_without_a_process_are_collaboration_only():
    text = edit(minimal_text(), (minimal_text()[minimal_text().index("  <bpmn:process"):
                                              minimal_text().index("  <bpmndi:BPMNDiagram")], ""))
    finding = only(lint_text(text), "collaboration-only")
    assert (finding.severity, finding.line) == ("error", line_of(text, '<bpmn:collaboration id="minimal_ok_collaboration"'))


def test_process_id_differing_from_the_file_name_is_a_warning():
    finding = only(lint_text(minimal_text(), filename="processes/booking.bpmn"), "process-id-mismatch")
    assert (finding.severity, finding.line) == ("warning", line_of(minimal_text(), '<bpmn:process id="minimal_ok"'))
    assert "booking" in finding.message


def test_script_errors_point_at_the_script_line_and_column():
    text = edit(minimal_text(), (SCRIPT, "<bpmn:script>\na = 1\nb = _x\n</bpmn:script>"))
    finding = only(lint_text(text), "unsafe-script")
    assert (finding.line, finding.col) == (line_of(text, "b = _x"), 5)
    assert "'_x'" in finding.message


def test_condition_errors_point_at_line_and_column_after_the_stripped_indent():
    text = edit(minimal_text(), (CONDITION, "\n        budget &gt; _x\n      </bpmn:conditionExpression>"))
    finding = only(lint_text(text), "unsafe-script")
    assert (finding.line, finding.col) == (line_of(text, "budget &gt; _x"), 18)


def test_a_computed_timer_is_allowed_when_safe():
    text = edit(minimal_text(), (TIMER, "reminder_at</bpmn:timeDuration>"))
    assert lint_text(text) == []


# -- forms ------------------------------------------------------------------------------------

@pytest.fixture
def forms(tmp_path) -> Path:
    target = tmp_path / "forms" / "minimal_ok"
    shutil.copytree(FORMS, target)
    return target


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"type": "object", "required": "customer_name"}), "not a valid JSON Schema (draft 2020-12)"),
        (json.dumps({"type": "objekt"}), "not a valid JSON Schema"),
        (json.dumps({"type": "array", "items": {"type": "string"}}), "type: object"),
        (json.dumps(["not", "a", "schema"]), "not a valid JSON Schema"),
    ],
    ids=["bad-json", "bad-required", "bad-type", "not-object", "a-list"],
)
def test_invalid_form_schema(forms, content, expected):
    (forms / "escalate.schema.json").write_text(content, encoding="utf-8")

    finding = only(lint_text(minimal_text(), forms_dir=forms), "form-invalid")

    assert (finding.severity, finding.line) == ("error", line_of(minimal_text(), 'value="escalate.schema.json"'))
    assert expected in finding.message and "escalate.schema.json" in finding.message


def test_form_field_named_typename_is_reserved(forms):
    schema = {"type": "object", "properties": {"trip": {"type": "object", "properties": {"typename": {}}}}}
    (forms / "escalate.schema.json").write_text(json.dumps(schema), encoding="utf-8")

    finding = only(lint_text(minimal_text(), forms_dir=forms), "reserved-key")

    assert (finding.severity, finding.line) == ("error", line_of(minimal_text(), 'value="escalate.schema.json"'))
    assert "$.properties.trip.properties.typename" in finding.message


@pytest.mark.parametrize(
    ("name", "title"),
    [("contact_phone", "联系电话"), ("mobile", "Mobile"), ("id_number", "证件"), ("traveller", "身份证号码"),
     ("who", "游客姓名"), ("电话", "电话")],
)
def test_personal_looking_form_field_without_the_flag_is_a_warning(forms, name, title):
    schema = {"type": "object", "properties": {name: {"type": "string", "title": title},
                                               "note": {"type": "string", "title": "备注"}}}
    (forms / "escalate.schema.json").write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")

    finding = only(lint_text(minimal_text(), forms_dir=forms), "personal-unflagged")

    assert (finding.severity, finding.line) == ("warning", line_of(minimal_text(), 'value="escalate.schema.json"'))
    assert f"'{name}'" in finding.message and "x-personal" in finding.message


def test_flagged_personal_field_is_clean_and_an_unknown_kind_is_an_error(forms):
    schema = {"type": "object", "properties": {
        "contact_phone": {"type": "string", "title": "联系电话", "x-personal": "phone"},
        "guest": {"type": "object", "properties": {"id_number": {"type": "string", "x-personal": "passport"}}}}}
    (forms / "escalate.schema.json").write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")

    findings = lint_text(minimal_text(), forms_dir=forms)

    assert not [f for f in findings if f.rule == "personal-unflagged"]
    finding = only(findings, "personal-kind")
    assert finding.severity == "error" and "'passport'" in finding.message and "id_number" in finding.message


def test_every_personal_field_of_the_processes_forms_is_flagged():
    assert [f for f in lint_paths([PROCESSES]) if f.rule.startswith("personal-")] == []


def test_lint_file_finds_forms_beside_the_file_by_process_id(tmp_path):
    shutil.copy(MINIMAL, tmp_path / "minimal_ok.bpmn")
    findings = lint_file(tmp_path / "minimal_ok.bpmn")
    assert [(f.rule, "file not found" in f.message) for f in findings] == [("form-invalid", True)] * 2

    shutil.copytree(FORMS, tmp_path / "forms" / "minimal_ok")
    assert lint_file(tmp_path / "minimal_ok.bpmn") == []


# -- the real processes -----------------------------------------------------------------------

@pytest.mark.skipif(not (PROCESSES / "complaint_handling.bpmn").exists(),
                    reason="processes/complaint_handling.bpmn is not written yet")
def test_the_processes_folder_lints_clean():
    findings = lint_paths([PROCESSES])
    assert findings == [], "\n".join(map(str, findings))


def _boundary_on(host: str, interrupting: str) -> str:
    """A process whose activity (a 2-instance subprocess or user task) has a 1-hour timer boundary."""
    inner = ('<bpmn:startEvent id="s2"><bpmn:outgoing>g1</bpmn:outgoing></bpmn:startEvent>'
             '<bpmn:endEvent id="e2"><bpmn:incoming>g1</bpmn:incoming></bpmn:endEvent>'
             '<bpmn:sequenceFlow id="g1" sourceRef="s2" targetRef="e2"/>') if host == "subProcess" else ""
    return f'''<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
<bpmn:process id="calls" isExecutable="true">
<bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
<bpmn:{host} id="call_each" name="逐个呼叫"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>2</bpmn:loopCardinality>
</bpmn:multiInstanceLoopCharacteristics>{inner}</bpmn:{host}>
<bpmn:boundaryEvent id="window_closed" attachedToRef="call_each" cancelActivity="{interrupting}">
<bpmn:outgoing>f3</bpmn:outgoing>
<bpmn:timerEventDefinition><bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition>
</bpmn:boundaryEvent>
<bpmn:endEvent id="e"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
<bpmn:endEvent id="e3"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="call_each"/>
<bpmn:sequenceFlow id="f2" sourceRef="call_each" targetRef="e"/>
<bpmn:sequenceFlow id="f3" sourceRef="window_closed" targetRef="e3"/>
</bpmn:process></bpmn:definitions>'''


def test_an_interrupting_boundary_on_a_multi_instance_subprocess_is_refused():
    """SpiffWorkflow 3.2 crashes when it fires (TaskNotFoundException), so deploy refuses it, at
    the boundary event's line; non-interrupting, or on a multi-instance task, it runs fine."""
    text = _boundary_on("subProcess", "true")
    finding = only(lint_text(text, "calls.bpmn", None), "interrupting-boundary-on-multi-instance")
    assert (finding.severity, finding.line) == ("error", line_of(text, '<bpmn:boundaryEvent id="window_closed"'))
    assert "call_each" in finding.message and 'cancelActivity="false"' in finding.message
    for host, interrupting in (("subProcess", "false"), ("userTask", "true")):
        findings = lint_text(_boundary_on(host, interrupting), "calls.bpmn", None)
        assert not [f for f in findings if f.rule == "interrupting-boundary-on-multi-instance"], (host, interrupting)
