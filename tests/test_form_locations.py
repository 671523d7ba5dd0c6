"""A form schema that is not valid JSON or not a valid JSON Schema is pointed at inside its file:
the finding (placed on the BPMN element that names the form) says `forms/p/x.schema.json:line:col`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.bpmn.json_locate import locate
from engine.bpmn.lint import lint_bytes

FIXTURES = Path(__file__).parent / "fixtures" / "bpmn"
SHOWN = "forms/minimal_ok/escalate.schema.json"


@pytest.mark.parametrize(("content", "at"), [
    ('{\n  "type": "object",\n  "properties": {\n    "a": {"type": "strin"}\n  }\n}', "4:19"),
    ('{\n  "type": "object",\n  "required": "a"\n}', "3:15"),
    ('{\n  "type": "object",\n  oops\n}', "3:3"),
    ('{"type": "string"}', "1:1"),
])
def test_form_schema_errors_name_the_place_in_the_form_file(tmp_path, content, at):
    forms = tmp_path / "forms"
    shutil.copytree(FIXTURES / "forms" / "minimal_ok", forms)
    (forms / "escalate.schema.json").write_text(content, encoding="utf-8")
    data = (FIXTURES / "minimal_ok.bpmn").read_bytes()
    [finding] = [f for f in lint_bytes(data, "minimal_ok.bpmn", forms) if f.rule == "form-invalid"]
    assert f"{SHOWN}:{at} " in finding.message and f"{SHOWN}:{at}：" in finding.message_zh
    assert finding.element == "escalate"


@pytest.mark.parametrize(("path", "expected"), [
    ([], (1, 1)),
    (["b"], (2, 3)),
    (["b", 1, "c"], (2, 13)),
    (["b", 5], (2, 3)),  # no such index: as far as the path goes
    (["nope"], (1, 1)),
])
def test_locate_follows_keys_and_indexes(path, expected):
    text = '{"a": "x, y", "b": \n  [1, {"c": [true]}]}'
    assert locate(text, path) == expected
