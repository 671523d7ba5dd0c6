"""JSON Schema -> form fields, and posted strings -> typed values (webapp/form_fields.py)."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from webapp import create_app
from webapp.display import mask_phone, render_sop
from webapp.form_fields import GENERAL, build_fields, coerce, field_errors

SCHEMA = {
    "type": "object",
    "required": ["name", "count", "ok"],
    "properties": {
        "name": {"type": "string", "title": "姓名", "maxLength": 50, "pattern": "^\\S+$", "description": "游客姓名"},
        "count": {"type": "integer", "title": "人数", "minimum": 1, "maximum": 60},
        "price": {"type": "number", "title": "价格", "minimum": 0},
        "ok": {"type": "boolean", "title": "确认"},
        "kind": {"type": "string", "title": "类别", "enum": ["甲", "乙"]},
        "level": {"type": "integer", "title": "级别", "enum": [1, 2, 3]},
        "day": {"type": "string", "format": "date", "title": "日期"},
        "at": {"type": "string", "format": "date-time", "title": "时间"},
        "description": {"type": "string", "title": "说明"},
        "story": {"type": "string", "title": "经过", "maxLength": 5000},
        "tags": {"type": "array", "title": "标签", "items": {"type": "string", "enum": ["急", "重"]}},
        "extra": {"type": "object", "title": "附加"},
        "phones": {"type": "array", "title": "目标客户", "items": {"type": "string", "pattern": "^1[0-9]{10}$"}},
        "visits": {"type": "array", "title": "日期", "items": {"type": "string", "format": "date"}},
    },
}


@pytest.fixture(autouse=True)
def request_context():
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": "sqlite://"})
    with app.test_request_context("/"):
        yield


def by_name(fields):
    return {f.name: f for f in fields}


def test_widgets_follow_the_schema():
    fields = by_name(build_fields(SCHEMA))
    assert {n: f.widget for n, f in fields.items()} == {
        "name": "text", "count": "integer", "price": "number", "ok": "bool", "kind": "select", "level": "select",
        "day": "date", "at": "datetime", "description": "textarea", "story": "textarea", "tags": "checkboxes",
        "extra": "json", "phones": "lines", "visits": "json"}
    assert fields["name"].label == "姓名" and fields["name"].required and fields["name"].help == "游客姓名"
    assert fields["name"].attrs == {"maxlength": 50, "pattern": "^\\S+$"}
    assert fields["count"].attrs == {"min": "1", "max": "60", "step": "1"}
    assert fields["price"].attrs["step"] == "any" and not fields["price"].required
    assert fields["ok"].options == [("true", "是"), ("false", "否")]
    assert fields["level"].options == [("1", "1"), ("2", "2"), ("3", "3")]


def test_values_fill_the_inputs_and_posted_input_wins():
    fields = by_name(build_fields(SCHEMA, {"ok": True, "at": "2026-11-20T01:30:00Z", "price": 12.0, "tags": ["急"]}))
    assert fields["ok"].value == "true"
    assert fields["at"].value == "2026-11-20T09:30", "shown in Shanghai time"
    assert fields["price"].value == "12" and fields["tags"].value == ["急"]
    posted = MultiDict({"price": "abc"})
    fields = by_name(build_fields(SCHEMA, {"price": 12}, posted, {"price": ["请输入数字"]}))
    assert fields["price"].value == "abc" and fields["price"].errors == ["请输入数字"]


def test_coerce_turns_strings_into_the_schema_types():
    posted = MultiDict([("name", " 张三 "), ("count", "12"), ("price", "99.5"), ("ok", "false"), ("kind", "乙"),
                        ("level", "2"), ("day", "2026-12-01"), ("at", "2026-11-20T09:30"), ("description", ""),
                        ("story", "  多行\n文字 "), ("tags", "急"), ("tags", "重"), ("extra", '{"a": 1}'),
                        ("csrf_token", "t"), ("unknown", "x")])
    data, errors = coerce(SCHEMA, posted)
    assert errors == {}
    assert data == {"name": "张三", "count": 12, "price": 99.5, "ok": False, "kind": "乙", "level": 2,
                    "day": "2026-12-01", "at": "2026-11-20T09:30:00+08:00", "story": "  多行\n文字 ",
                    "tags": ["急", "重"], "extra": {"a": 1}}


def test_a_list_of_plain_strings_is_one_per_line():
    """Staff type a list as lines (blank lines and spaces around each ignored), not as JSON."""
    data, errors = coerce(SCHEMA, MultiDict({"phones": " 13900001111\r\n\n13900002222 \n"}))
    assert (data, errors) == ({"phones": ["13900001111", "13900002222"]}, {})
    assert coerce(SCHEMA, MultiDict({"phones": " \n "})) == ({}, {}), "empty: left to `required`"
    field = by_name(build_fields(SCHEMA, {"phones": ["13900001111", "13900002222"]}))["phones"]
    assert field.value == "13900001111\n13900002222"
    errors = [{"field": "phones", "message": "'1390000' does not match '^1[0-9]{10}$'", "item": 1}]
    assert field_errors(SCHEMA, errors) == {"phones": ["第 2 行：格式不正确"]}


def test_coerce_reports_what_it_cannot_read():
    posted = MultiDict({"count": "2.5", "price": "很多", "ok": "也许", "day": "明天", "at": "昨天", "extra": "{"})
    data, errors = coerce(SCHEMA, posted)
    assert data == {}
    assert errors == {"count": ["请输入整数"], "price": ["请输入数字"], "ok": ["请选择“是”或“否”"],
                      "day": ["请输入有效的日期"], "at": ["请输入有效的日期时间"], "extra": ["请输入有效的 JSON"]}


def test_datetime_with_an_offset_is_kept_and_numbers_stay_integers():
    data, _ = coerce(SCHEMA, MultiDict({"at": "2026-11-20T09:30:00+00:00", "price": "600"}))
    assert data == {"at": "2026-11-20T09:30:00+00:00", "price": 600}


def test_engine_errors_become_messages_per_field():
    errors = [{"field": "name", "message": "'a b' does not match '^\\\\S+$'"},
              {"field": "count", "message": "'count' is a required property"},
              {"field": "count", "message": "0 is less than the minimum of 1"},
              {"field": "kind", "message": "'丙' is not one of ['甲', '乙']"},
              {"field": "story", "message": "'' should be non-empty"},
              {"field": "bogus", "message": "Additional properties are not allowed ('bogus' was unexpected)"},
              {"field": None, "message": "something odd"}]
    out = field_errors(SCHEMA, errors)
    assert out["name"] == ["格式不正确"]
    assert out["count"] == ["此项必填", "不能小于 1"]
    assert out["kind"] == ["请从列表中选择"]
    assert out["story"] == ["此项不能为空"]
    assert out[GENERAL] == ["表单中有未定义的字段：bogus", "内容不符合表单要求"], "no English on a Chinese page"
    assert field_errors(SCHEMA, [], fallback="bad") == {GENERAL: ["bad"]}


def test_phone_masking():
    assert mask_phone("13801234567") == "138****4567"
    assert mask_phone("+86 138 0123 4567") == "+86****4567"
    assert mask_phone("12345") == "*2345"
    assert mask_phone("123") == "***"
    assert mask_phone(None) == ""


def test_sop_numbered_lines_become_a_list_and_html_is_sanitised():
    html = render_sop("总则：认真对待\n(1) 第一步 **重要**\n（2）第二步<script>alert(1)</script>\n备注 <a href='javascript:x'>链接</a>")
    assert html.startswith("<p>总则：认真对待</p><ol class=\"sop-steps\"><li>第一步 <strong>重要</strong></li>")
    assert "<li>第二步alert(1)</li>" in html, "tags are stripped, their text stays escaped"
    assert "<script>" not in html and "javascript:" not in html
    assert render_sop("") == "" and render_sop(None) == ""


def test_conditional_requirements_are_read_from_if_then_else():
    schema = {
        "type": "object", "required": ["request_type", "customer_name"],
        "properties": {"request_type": {"type": "string", "enum": ["咨询", "投诉"]},
                       "accepted": {"type": "boolean"}, "customer_name": {"type": "string"},
                       "kind": {"type": "string"}, "real_need": {"type": "string"}, "reason": {"type": "string"}},
        "allOf": [
            {"if": {"properties": {"request_type": {"const": "投诉"}}, "required": ["request_type"]},
             "then": {"required": ["kind", "customer_name"]}, "else": {"required": ["real_need"]}},
            {"if": {"properties": {"accepted": {"const": False}}, "required": ["accepted"]},
             "then": {"properties": {"reason": {"minLength": 1}}}},
        ],
    }
    fields = by_name(build_fields(schema))
    assert fields["kind"].required_when == [{"field": "request_type", "in": ["投诉"], "not": False}]
    assert fields["real_need"].required_when == [{"field": "request_type", "in": ["投诉"], "not": True}]
    assert fields["reason"].required_when == [{"field": "accepted", "in": ["false"], "not": False}]
    assert fields["customer_name"].required and fields["customer_name"].required_when == [], "always required"
    assert not fields["kind"].required


def test_every_conditional_rule_of_the_processes_forms_is_understood():
    """Each form's if/then/else names fields it has, on values its inputs can post."""
    import json

    from engine.config import DEFAULT_PROCESSES_DIR
    from webapp.form_fields import required_when

    seen = 0
    for path in sorted((DEFAULT_PROCESSES_DIR / "forms").glob("*/*.schema.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        fields = by_name(build_fields(schema))
        for target, rules in required_when(schema).items():
            assert target in fields, (path.name, target)
            for rule in rules:
                source = fields[rule["field"]]
                posted = {value for value, _label in source.options}
                assert set(rule["in"]) <= posted, (path.name, rule)
                seen += 1
    assert seen >= 25
