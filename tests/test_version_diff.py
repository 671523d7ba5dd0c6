"""`engine/bpmn/diff.py`: what changed between two versions, as an owner would name it."""

from __future__ import annotations

import json
from pathlib import Path

from engine.bpmn.diff import diff_forms, diff_versions
from engine.config import DEFAULT_PROCESSES_DIR

P6 = (DEFAULT_PROCESSES_DIR / "complaint_handling.bpmn").read_bytes()
MINIMAL = Path(__file__).parent / "fixtures" / "bpmn" / "minimal_ok.bpmn"


def _edit(data: bytes, *pairs: tuple[str, str]) -> bytes:
    text = data.decode()
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text.encode()


def _changed(diff) -> dict[str, dict[str, tuple]]:
    return {c.id: c.fields for c in diff.changed}


def test_an_identical_file_and_a_reformatted_one_have_no_changes():
    assert diff_versions(P6, {}, P6, {}).empty
    other_prefix = P6.replace(b"bpmn:", b"bpmn2:").replace(b"xmlns:bpmn=", b"xmlns:bpmn2=")
    reindented = other_prefix.replace(b"\n    <", b"\n\t<")
    assert reindented.count(b"bpmn2:") > 100 and reindented != P6
    assert diff_versions(P6, {}, reindented, {}).empty


def test_names_timers_and_sop_are_named_changes():
    old = MINIMAL.read_bytes()
    new = _edit(old, ('name="需求已登记"', 'name="需求登记完毕"'), ('"PT1H"', '"PT2H"'),
                ("(2) 记录出行日期与预算。", "(2) 记录出行日期、人数与预算。"))
    fields = _changed(diff_versions(old, {}, new, {}))
    assert fields["end_done"] == {"name": ("需求已登记", "需求登记完毕")}
    assert fields["fill_request_sla"] == {"timerEventDefinition/timeDuration": ('"PT1H"', '"PT2H"')}
    [(key, (old_sop, new_sop))] = fields["fill_request"].items()
    assert key == "documentation" and "出行日期与预算" in old_sop and "人数" in new_sop
    assert set(fields) == {"end_done", "fill_request_sla", "fill_request"}


def test_a_condition_change_and_an_added_node_with_its_flows():
    text = P6.decode()
    start = text.index("<bpmn:conditionExpression")
    end = text.index("</bpmn:conditionExpression>", start)
    condition = text[text.index(">", start) + 1:end]
    flow_id = text[text.rindex('<bpmn:sequenceFlow id="', 0, start):].split('"')[1]
    new = _edit(P6, (condition, condition + " and True"))
    new = _edit(new, ("</bpmn:process>", '<bpmn:task id="extra_check" name="补充核查" />'
                                         '<bpmn:sequenceFlow id="to_extra" sourceRef="receive_complaint" '
                                         'targetRef="extra_check" /></bpmn:process>'))
    diff = diff_versions(P6, {}, new, {})
    assert [(e.id, e.kind, e.name) for e in diff.added] == [("extra_check", "task", "补充核查"),
                                                           ("to_extra", "sequenceFlow", "")]
    assert diff.added[1].details == {"sourceRef": "receive_complaint", "targetRef": "extra_check"}
    assert _changed(diff)[flow_id] == {"conditionExpression": (" ".join(condition.split()),
                                                               " ".join((condition + " and True").split()))}
    back = diff_versions(new, {}, P6, {})
    assert [e.id for e in back.removed] == ["extra_check", "to_extra"]


def test_a_node_moved_to_another_lane_and_on_the_diagram():
    text = P6.decode()
    moved = text.replace("<bpmn:flowNodeRef>escalate_late_report</bpmn:flowNodeRef>", "", 1)
    moved = moved.replace("<bpmn:flowNodeRef>receive_complaint</bpmn:flowNodeRef>",
                          "<bpmn:flowNodeRef>receive_complaint</bpmn:flowNodeRef>"
                          "<bpmn:flowNodeRef>escalate_late_report</bpmn:flowNodeRef>", 1)
    shape = moved.index('bpmnElement="escalate_late_report"')
    bounds = moved.index('x="', shape)
    moved = moved[:bounds] + 'x="9' + moved[bounds + 3:]
    diff = diff_versions(P6, {}, moved.encode(), {})
    assert _changed(diff)["escalate_late_report"] == {"lane": ("supervisor", "staff")}
    assert diff.moved == ["escalate_late_report"]


def test_forms_report_fields_added_removed_changed_and_required():
    old = {"a.schema.json": {"properties": {"x": {"type": "string"}, "y": {"type": "integer"}}, "required": ["x"]},
           "gone.schema.json": {"properties": {"z": {}}}}
    new = {"a.schema.json": {"properties": {"x": {"type": "string", "maxLength": 9}, "w": {"type": "boolean"}},
                             "required": ["x", "w"]},
           "new.schema.json": {"properties": {"v": {}}}}
    assert diff_forms(old, new) == [
        {"form": "a.schema.json", "change": "changed", "fields_added": ["w"], "fields_removed": ["y"],
         "fields_changed": ["x"], "required_changed": True},
        {"form": "gone.schema.json", "change": "removed", "fields_removed": ["z"]},
        {"form": "new.schema.json", "change": "added", "fields_added": ["v"]},
    ]
    assert json.dumps(diff_versions(P6, old, P6, old).as_dict()) == json.dumps(
        {"added": [], "removed": [], "changed": [], "forms": [], "moved": []})
