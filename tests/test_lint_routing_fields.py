"""`routing-field-default`: a boolean or choice a gateway condition reads starts unanswered and is required."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from lxml import etree

from engine.bpmn.lint import lint_bytes, lint_paths
from engine.bpmn.lint_model import BpmnDocument
from engine.bpmn.lint_routing import gateway_keys, names_read

FIXTURES = Path(__file__).parent / "fixtures" / "bpmn"
MINIMAL = FIXTURES / "minimal_ok.bpmn"
PROCESSES = Path(__file__).resolve().parents[1] / "processes"
ROUTED = 'budget &gt; 1000'


@pytest.fixture
def forms(tmp_path) -> Path:
    target = tmp_path / "forms" / "minimal_ok"
    shutil.copytree(FIXTURES / "forms" / "minimal_ok", target)
    return target


def lint_with(forms: Path, condition: str, field: dict, required: bool) -> list:
    schema = json.loads((forms / "fill_request.schema.json").read_text(encoding="utf-8"))
    schema["properties"]["urgent"] = field
    if required:
        schema["required"].append("urgent")
    (forms / "fill_request.schema.json").write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")
    text = MINIMAL.read_text(encoding="utf-8")
    assert ROUTED in text
    return lint_bytes(text.replace(ROUTED, condition).encode("utf-8"), "minimal_ok.bpmn", forms)


def routing(findings: list) -> list:
    return [f for f in findings if f.rule == "routing-field-default"]


@pytest.mark.parametrize("condition", ["urgent == True", 'get("urgent", False) == True', "not urgent"])
def test_a_defaulted_boolean_read_by_a_gateway_is_a_warning_in_both_languages(forms, condition):
    found = routing(lint_with(forms, condition, {"type": "boolean", "title": "加急", "default": False}, True))

    assert len(found) == 1 and found[0].severity == "warning"
    assert "'urgent'" in found[0].message and '"default"' in found[0].message
    assert "决定网关走向" in found[0].message_zh


def test_an_optional_choice_read_by_a_gateway_is_a_warning(forms):
    choice = {"type": "string", "title": "加急", "enum": ["是", "否"]}
    found = routing(lint_with(forms, 'urgent == "是"', choice, required=False))

    assert len(found) == 1 and '"required"' in found[0].message and "default" not in found[0].message


def test_a_required_choice_without_default_is_clean(forms):
    choice = {"type": "string", "title": "加急", "enum": ["是", "否"]}
    assert routing(lint_with(forms, 'urgent == "是"', choice, required=True)) == []


def test_a_defaulted_field_no_gateway_reads_is_clean(forms):
    field = {"type": "boolean", "title": "加急", "default": False}
    assert routing(lint_with(forms, ROUTED, field, required=True)) == []


def test_a_text_field_a_gateway_reads_is_not_a_routing_question(forms):
    assert routing(lint_with(forms, 'urgent != ""', {"type": "string", "title": "加急"}, required=False)) == []


def test_names_read_takes_bare_names_and_get_literals_only():
    assert names_read('a == 1 and get("b", 0) > c["x"]') == {"a", "b", "c", "get"}
    assert names_read("syntax error (") == set()


def test_every_gateway_key_of_the_processes_that_a_form_asks_is_asked_unanswered():
    assert routing(lint_paths([PROCESSES])) == []
    complaint = json.loads((PROCESSES / "forms" / "complaint_handling" / "receive_complaint.schema.json")
                           .read_text(encoding="utf-8"))
    for name in ("escalated_to_authority", "involves_multiple_departments"):
        assert "default" not in complaint["properties"][name] and name in complaint["required"]


def test_gateway_keys_reads_only_conditions_on_flows_leaving_a_gateway():
    doc = BpmnDocument(etree.fromstring(MINIMAL.read_bytes()).getroottree(), "minimal_ok.bpmn")
    assert gateway_keys(doc) == {"budget"}
