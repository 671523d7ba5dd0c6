"""Every finding lint gives on the test fixtures and on a corpus of broken diagrams reads in Chinese.

The corpus breaks tests/fixtures/bpmn/minimal_ok.bpmn one convention at a time; together the
cases produce nearly every catalogue message (the rest are internal failures, listed below, and
the sandbox's reasons, which tests/test_lint_reasons.py covers).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from engine.bpmn.lint import lint_bytes, lint_file, lint_paths
from engine.bpmn.lint_messages import MESSAGES, Text
from engine.bpmn.specs import ROUTING_PROPERTY
from tests.support.versions import edited

TESTS = Path(__file__).resolve().parent
FORMS = TESTS / "fixtures" / "bpmn" / "forms" / "minimal_ok"
CJK = re.compile(r"[\u4e00-\u9fff]")

SCRIPT = "<bpmn:script>needs_review = True</bpmn:script>"
SERVICE = (('<bpmn:scriptTask id="record_review"', '<bpmn:serviceTask id="record_review"'),
           ("</bpmn:scriptTask>", "</bpmn:serviceTask>"))


def service(operator: str) -> list[tuple[str, str]]:
    return [*SERVICE, (SCRIPT, f"<bpmn:extensionElements>{operator}</bpmn:extensionElements>")]


EDITS: list[list[tuple[str, str]]] = [
    [('isExecutable="true"', 'isExecutable="false"')],
    [("</bpmn:process>", '</bpmn:process><bpmn:process id="other" />')],
    [('processRef="minimal_ok"', 'processRef="elsewhere"')],
    [("start_event", "Start")],
    [('id="fill_request_sla_timer"', 'id="record_review"')],
    [("bpmn:startEvent", "bpmn:task")],
    [("bpmn:endEvent", "bpmn:task")],
    [('sourceRef="start_event" targetRef="fill_request"', 'sourceRef="start_event" targetRef="ghost"')],
    [('sourceRef="start_event" targetRef="fill_request"', 'targetRef="fill_request"')],
    [(r'<bpmndi:BPMNShape id="escalate_di" bpmnElement="escalate">', '<bpmndi:BPMNShape id="escalate_di">')],
    [('<dc:Bounds x="432" y="257"', '<dc:Bounds x="abc" y="257"')],
    [('<dc:Bounds x="432" y="257"', '<dc:Bounds x="340" y="257"')],
    [('<bpmndi:BPMNEdge id="flow_sla_di" bpmnElement="flow_sla">', '<bpmndi:BPMNEdge id="flow_sla_di">')],
    [('"supervisor"', '"boss"'), ('name="主管"', 'name="老板"')],
    [("        <bpmn:flowNodeRef>end_done</bpmn:flowNodeRef>\n", "")],
    [("<bpmn:flowNodeRef>fill_request</bpmn:flowNodeRef>",
      "<bpmn:flowNodeRef>fill_request</bpmn:flowNodeRef><bpmn:flowNodeRef>end_done</bpmn:flowNodeRef>")],
    [("<bpmn:flowNodeRef>escalate</bpmn:flowNodeRef>", ""),
     ("<bpmn:flowNodeRef>end_done</bpmn:flowNodeRef>",
      "<bpmn:flowNodeRef>end_done</bpmn:flowNodeRef><bpmn:flowNodeRef>escalate</bpmn:flowNodeRef>")],
    [("<bpmn:flowNodeRef>escalate</bpmn:flowNodeRef>", "")],  # a user task outside lanes: the default lane
    [('<bpmn:process id="minimal_ok" name="最小流程" isExecutable="true">',
      '<bpmn:process id="minimal_ok" name="最小流程" isExecutable="true"><bpmn:extensionElements>'
      '<spiffworkflow:properties><spiffworkflow:property name="defaultLane" value="nobody" />'
      "</spiffworkflow:properties></bpmn:extensionElements>")],
    [("(1) 联系负责人了解延误原因。\n(2) 记录处理意见。", "")],
    [("(1) 联系负责人了解延误原因。\n(2) 记录处理意见。", "联系负责人。")],
    [('default="flow_default"', 'default="flow_ghost"')],
    [('default="flow_default"', "")],
    [("budget &gt; 1000", "__import__('os')")],
    [(SCRIPT, "<bpmn:script> </bpmn:script>")],
    [(SCRIPT, "<bpmn:script>typename = 1</bpmn:script>")],
    [('"PT1H"</bpmn:timeDuration>', "</bpmn:timeDuration>")],
    [('"PT1H"</bpmn:timeDuration>', "PT1H</bpmn:timeDuration>")],
    [('"PT1H"</bpmn:timeDuration>', '"P1X"</bpmn:timeDuration>')],
    [('"PT1H"</bpmn:timeDuration>', "hours.__class__</bpmn:timeDuration>")],
    [('<spiffworkflow:property name="formJsonSchemaFilename" value="escalate.schema.json" />', "")],
    [('value="escalate.schema.json"', 'value="nope.schema.json"')],
    [('value="escalate.schema.json"', 'value="../x/escalate.schema.json"')],
    service('<spiffworkflow:serviceTaskOperator id="no_such_handler" resultVariable="typename">'
            '<spiffworkflow:parameters><spiffworkflow:parameter id="a" type="str" value="_secret" />'
            '</spiffworkflow:parameters></spiffworkflow:serviceTaskOperator>'),
    service(""),
    service('<spiffworkflow:serviceTaskOperator id="record_review" />'),
    [('<bpmn:process id="minimal_ok" name="最小流程" isExecutable="true">',
      '<bpmn:process id="minimal_ok" name="最小流程" isExecutable="true"><bpmn:extensionElements>'
      f'<spiffworkflow:properties><spiffworkflow:property name="{ROUTING_PROPERTY}" value="1bad" />'
      "</spiffworkflow:properties></bpmn:extensionElements>")],
]
NO_DEFAULT = ('default="flow_default"', "")
FILL_FORM = '<spiffworkflow:property name="formJsonSchemaFilename" value="fill_request.schema.json" />'
CONDITIONED_DEFAULT = ('name="否" sourceRef="route_gateway" targetRef="end_done" />',
                       'name="否" sourceRef="route_gateway" targetRef="end_done"><bpmn:conditionExpression>'
                       "trip_kind == &quot;邮轮&quot;</bpmn:conditionExpression></bpmn:sequenceFlow>")
EDITS += [
    [('<bpmn:sequenceFlow id="flow_sla" sourceRef="fill_request_sla" targetRef="escalate" />', "")],
    [NO_DEFAULT, CONDITIONED_DEFAULT],
    [NO_DEFAULT, CONDITIONED_DEFAULT, ("budget &gt; 1000", "trip_kind == &quot;自由行&quot;")],
    [('"PT1H"</bpmn:timeDuration>', "PT1X</bpmn:timeDuration>")],
    [(FILL_FORM, f"{FILL_FORM}</spiffworkflow:properties><spiffworkflow:signalButtonLabel>取消</spiffworkflow:signalButtonLabel>"
                 "<spiffworkflow:allowGuest>true</spiffworkflow:allowGuest><spiffworkflow:properties>")],
]
PROCESS_OPEN = '<bpmn:process id="minimal_ok" name="最小流程" isExecutable="true">'
EDITS += [  # due dates (engine/bpmn/lint_due.py)
    [(FILL_FORM, FILL_FORM + '<spiffworkflow:property name="dueIn" value="P1Y" />')],
    *([(PROCESS_OPEN, PROCESS_OPEN + '<bpmn:extensionElements><spiffworkflow:properties>'
       f'<spiffworkflow:property name="laneDueIn" value="{value}" /></spiffworkflow:properties>'
       '</bpmn:extensionElements>')] for value in ("qc PT1H", "pilot=PT1H")),
]
MESSAGE_EVENT = ('<bpmn:scriptTask id="record_review" name="标记复核">',
                 '<bpmn:{kind} id="record_review" name="标记复核"><bpmn:messageEventDefinition messageRef="m" />')
MESSAGE_EDITS = [(SCRIPT, ""), ("</bpmn:scriptTask>", "</bpmn:{kind}>"),
                 ("<bpmn:collaboration ", '<bpmn:message id="m" name="ping" /><bpmn:collaboration ')]
CUTS = [r"\s*<bpmndi:BPMNDiagram.*</bpmndi:BPMNDiagram>", r"\s*<bpmn:laneSet.*</bpmn:laneSet>"]
FORM_FILES = {
    "not json": "{",
    "too large": " " * (1024 * 1024 + 1),
    "bad schema": '{"type": 5}',
    "bad schema at the top": "[1]",
    "not an object": '{"type": "string"}',
    "reserved field": '{"type": "object", "properties": {"typename": {"type": "string"}}}',
    "bad personal kind": '{"type": "object", "properties": {"p": {"type": "string", "x-personal": "shoe"}}}',
    "unflagged phone": '{"type": "object", "properties": {"phone": {"type": "string"}}}',
    "bad pattern": '{"type": "object", "properties": {"a": {"type": "string", "pattern": "(a)\\\\1"}}}',
    "pre-answered routing choice": '{"type": "object", "required": ["budget"], "properties": {"budget": {"enum": [1, 2000], "default": 1}}}',
    "optional routing choice": '{"type": "object", "properties": {"budget": {"enum": [1, 2000]}}}',
}
MULTI_INSTANCE_BOUNDARY = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
<bpmn:process id="calls" isExecutable="true">
<bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
<bpmn:subProcess id="call_each" name="逐个呼叫"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>2</bpmn:loopCardinality>
</bpmn:multiInstanceLoopCharacteristics></bpmn:subProcess>
<bpmn:boundaryEvent id="window_closed" attachedToRef="call_each"><bpmn:outgoing>f3</bpmn:outgoing>
<bpmn:timerEventDefinition><bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition>
</bpmn:boundaryEvent>
<bpmn:endEvent id="e"><bpmn:incoming>f2</bpmn:incoming><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="call_each"/>
<bpmn:sequenceFlow id="f2" sourceRef="call_each" targetRef="e"/>
<bpmn:sequenceFlow id="f3" sourceRef="window_closed" targetRef="e"/>
</bpmn:process></bpmn:definitions>"""
# Internal failures and limits no diagram of a reasonable size reaches.
NOT_IN_CORPUS = {"the-document", "none", "xml.unreadable", "xml.unreadable-file", "lint-internal.index", "lint-internal.rule",
                 "overlap.too-many", "overlap.more", "source.too-deep", "form.unreadable", "form.json-too-deep",
                 "form.schema-too-deep", "unknown-handler.registry", "handler.registry-failed",
                 "form.pattern-at"}  # the form editor's preview (tests/web/test_modeler_panel.py)


def corpus(tmp_path: Path):
    """Findings of the fixtures and of every broken variant."""
    for path in sorted(TESTS.glob("fixtures/**/*.bpmn")) + sorted(TESTS.glob("fixtures/bpmn/hostile/*")):
        yield from lint_file(path)
    yield from lint_bytes(b"<nope", "broken.bpmn", None)
    yield from lint_file(tmp_path)  # a folder is not a file
    for edits in EDITS:
        yield from lint_bytes(edited(*edits).encode("utf-8"), "minimal_ok.bpmn", FORMS)
    yield from lint_bytes(edited().encode("utf-8"), "other_name.bpmn", None)
    for cut in CUTS:
        yield from lint_bytes(re.sub(cut, "", edited(), flags=re.DOTALL).encode("utf-8"), "minimal_ok.bpmn", None)
    yield from lint_bytes(b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" />',
                          "empty.bpmn", None)
    yield from lint_bytes(MULTI_INSTANCE_BOUNDARY.encode("utf-8"), "calls.bpmn", None)
    # a call activity's target checked against the processes deployed (none here)
    yield from lint_bytes((TESTS / "fixtures/bpmn/thirdparty/multi/call_missing.bpmn").read_bytes(),
                          "call_missing.bpmn", None, known_processes=())
    for kind in ("intermediateThrowEvent", "intermediateCatchEvent"):
        text = edited(*((old, new.format(kind=kind)) for old, new in [MESSAGE_EVENT, *MESSAGE_EDITS]))
        (tmp_path / "messages").mkdir(exist_ok=True)
        (tmp_path / "messages" / "minimal_ok.bpmn").write_text(text, encoding="utf-8")
        yield from lint_paths([tmp_path / "messages"])
    for i, content in enumerate(FORM_FILES.values()):
        forms = tmp_path / f"forms{i}"
        shutil.copytree(FORMS, forms)
        (forms / "escalate.schema.json").write_text(content, encoding="utf-8")
        yield from lint_bytes(edited().encode("utf-8"), "minimal_ok.bpmn", forms)
    (tmp_path / "ui").mkdir()
    (tmp_path / "ui" / "fill-uischema.json").write_text("[1]", encoding="utf-8")
    yield from lint_bytes(edited((FILL_FORM, FILL_FORM + '<spiffworkflow:property name="formUiSchemaFilename" '
                                  'value="fill-uischema.json" />')).encode("utf-8"), "minimal_ok.bpmn", tmp_path / "ui")


def keys_of(text: Text) -> set[str]:
    nested = {key for _, value in text.params if isinstance(value, Text) for key in keys_of(value)}
    return {text.key} | nested


def test_every_finding_of_the_corpus_reads_in_chinese(tmp_path):
    findings = list(corpus(tmp_path))
    assert len(findings) > 50
    shown: set[str] = set()
    for finding in findings:
        assert finding.text is not None, f"made without the catalogue: {finding}"
        chinese = finding.message_zh
        assert chinese and chinese != finding.message and CJK.search(chinese), str(finding)
        assert finding.text.render("en") == finding.message
        shown |= keys_of(finding.text)
    reasons = {key for key in MESSAGES if key.startswith("reason.")}  # tests/test_lint_reasons.py
    assert set(MESSAGES) - NOT_IN_CORPUS - reasons - shown == set()


def test_ids_file_names_and_expressions_stay_verbatim_in_chinese():
    [finding] = [f for f in lint_bytes(edited(('value="escalate.schema.json"', 'value="nope.schema.json"'))
                                       .encode("utf-8"), "minimal_ok.bpmn", FORMS) if f.rule == "form-invalid"]
    assert finding.message_zh == "用户任务 'escalate'（主管跟进）的表单 forms/minimal_ok/nope.schema.json：文件不存在"
    [finding] = [f for f in lint_bytes(edited(('"PT1H"</bpmn:timeDuration>', "PT1H</bpmn:timeDuration>"))
                                       .encode("utf-8"), "minimal_ok.bpmn", FORMS) if f.rule == "timer-unquoted"]
    assert finding.message_zh == ("边界事件 'fill_request_sla'（一小时未处理）的定时器时长（timeDuration）是未加引号的 PT1H："
                                  "按字面值 \"PT1H\" 运行（本社流程加引号：定时器的值是 Python 表达式）")
    assert json.dumps(finding.message_zh, ensure_ascii=False)
