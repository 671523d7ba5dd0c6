"""Form data is validated server side against the task's JSON Schema; errors name the field."""

from __future__ import annotations

import pytest

from engine.bpmn.forms import validate
from engine.errors import FormInvalid

SCHEMA = {
    "type": "object",
    "required": ["customer_name", "kind"],
    "additionalProperties": False,
    "properties": {
        "customer_name": {"type": "string", "minLength": 1, "title": "游客姓名"},
        "kind": {"enum": ["服务质量", "行程安排", "住宿餐饮", "导游服务"]},
        "amount": {"type": "number", "minimum": 0, "default": 0},
        "complaint_at": {"type": "string", "format": "date-time"},
        "escalated": {"type": "boolean", "default": False},
    },
}


def test_valid_data_gets_defaults():
    assert validate(SCHEMA, {"customer_name": "张三", "kind": "服务质量"}) == {
        "customer_name": "张三", "kind": "服务质量", "amount": 0, "escalated": False}


@pytest.mark.parametrize("data, field, words", [
    ({"kind": "服务质量"}, "customer_name", "required"),
    ({"customer_name": "张三", "kind": "天气"}, "kind", "is not one of"),
    ({"customer_name": "张三", "kind": "服务质量", "amount": -5}, "amount", "minimum"),
    ({"customer_name": "张三", "kind": "服务质量", "complaint_at": "昨天"}, "complaint_at", "date-time"),
    ({"customer_name": "张三", "kind": "服务质量", "hack": 1}, "hack", "Additional properties"),
    ({"customer_name": 5, "kind": "服务质量"}, "customer_name", "is not of type"),
])
def test_invalid_data_names_the_field(data, field, words):
    with pytest.raises(FormInvalid) as info:
        validate(SCHEMA, data)
    assert info.value.field == field
    assert field in info.value.message and words in info.value.message


def test_non_object_is_refused():
    with pytest.raises(FormInvalid, match="JSON object"):
        validate(SCHEMA, ["x"])


def test_each_missing_field_is_named_in_its_own_error():
    with pytest.raises(FormInvalid) as info:
        validate(SCHEMA, {})
    assert sorted(e["field"] for e in info.value.errors) == ["customer_name", "kind"]


def test_an_error_inside_a_list_names_the_item():
    schema = {"type": "object", "properties": {
        "phones": {"type": "array", "items": {"type": "string", "pattern": "^1[0-9]{10}$"}}}}
    with pytest.raises(FormInvalid) as info:
        validate(schema, {"phones": ["13900001111", "139", "13900002222"]})
    assert info.value.field == "phones"
    assert [(e["field"], e.get("item")) for e in info.value.errors] == [("phones", 1)]


def test_a_schema_validated_again_and_again_answers_each_submission_on_its_own():
    """A schema's validator is made once and reused (engine/bpmn/forms.py): no submission's outcome, default
    or error carries over to the next, and a copy of the schema (another object) answers alike."""
    copy_of_schema = {**SCHEMA, "properties": dict(SCHEMA["properties"])}
    for schema in (SCHEMA, SCHEMA, copy_of_schema, SCHEMA):
        assert validate(schema, {"customer_name": "张三", "kind": "服务质量", "amount": 3})["amount"] == 3
        with pytest.raises(FormInvalid) as info:
            validate(schema, {"customer_name": "", "kind": "天气"})
        assert sorted(e["field"] for e in info.value.errors) == ["customer_name", "kind"]
        filled = validate(schema, {"customer_name": "李四", "kind": "行程安排"})
        assert (filled["amount"], filled["escalated"]) == (0, False)
        filled["amount"] = 99  # the caller's copy: the schema's default stays
    assert SCHEMA["properties"]["amount"]["default"] == 0
