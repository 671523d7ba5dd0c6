"""A form field's `pattern` says its rule in words (`x-pattern-hint`): refused values name the rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.bpmn.form_patterns import PATTERN_HINT, PATTERN_HINT_EN, pattern_hint
from engine.bpmn.forms import validate
from engine.errors import FormInvalid
from webapp.error_messages import CJK
from webapp.i18n import load_messages

PROCESS_FORMS = Path(__file__).resolve().parents[1] / "processes" / "forms"
PHONE = "7–20 位数字，可含 + - 空格"
PHONE_EN = "7–20 digits; + - and spaces allowed"
SCHEMA = {
    "type": "object",
    "properties": {
        "phone": {"type": "string", "pattern": "^[0-9+\\- ]{7,20}$", PATTERN_HINT: PHONE,
                  PATTERN_HINT_EN: PHONE_EN},
        "code": {"type": "string", "pattern": "^[A-Z]{2}$"},
        "phones": {"type": "array", "items": {"type": "string", "pattern": "^[0-9]{3}$", PATTERN_HINT: "3 位数字"}},
    },
}


def test_a_refused_pattern_names_its_rule_in_the_message_and_the_details():
    with pytest.raises(FormInvalid) as refused:
        validate(SCHEMA, {"phone": "call me"})
    assert refused.value.field == "phone"
    assert PHONE_EN in refused.value.message and PHONE not in refused.value.message, "English only"
    assert refused.value.errors == [{"field": "phone", "hint": PHONE, "hint_en": PHONE_EN,
                                     "message": f"'call me' does not match '^[0-9+\\\\- ]{{7,20}}$' (the rule: {PHONE_EN})"}]


def test_a_rule_given_only_in_chinese_stays_out_of_the_english_message():
    with pytest.raises(FormInvalid) as refused:
        validate(SCHEMA, {"phones": ["12"]})
    assert refused.value.errors[0]["hint"] == "3 位数字" and "hint_en" not in refused.value.errors[0]
    assert "位" not in refused.value.message and "位" not in refused.value.errors[0]["message"]


def test_a_list_item_names_the_rule_of_the_items_schema():
    with pytest.raises(FormInvalid) as refused:
        validate(SCHEMA, {"phones": ["123", "12"]})
    assert refused.value.errors[0]["hint"] == "3 位数字" and refused.value.errors[0]["item"] == 1


def test_a_pattern_without_hint_keeps_the_plain_message():
    with pytest.raises(FormInvalid) as refused:
        validate(SCHEMA, {"code": "abc"})
    assert refused.value.errors == [{"field": "code", "message": "'abc' does not match '^[A-Z]{2}$'"}]
    assert pattern_hint({PATTERN_HINT: "  "}) is None and pattern_hint(None) is None


def _patterned(node, where=""):
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            yield where, node
        for key, value in node.items():
            yield from _patterned(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _patterned(value, f"{where}/{i}")


def test_every_pattern_of_the_process_forms_says_its_rule_in_chinese_and_english():
    """x-pattern-hint in Chinese, x-pattern-hint-en in English (what the engine's English message
    names), and the Chinese in en.json too (the pages translate the hint they show)."""
    english = load_messages("en")
    found = 0
    for path in sorted(PROCESS_FORMS.glob("*/*.schema.json")):
        for where, node in _patterned(json.loads(path.read_text(encoding="utf-8"))):
            found += 1
            hint = pattern_hint(node)
            assert hint, f"{path.parent.name}/{path.name}{where} has a pattern without {PATTERN_HINT}"
            assert english.get(hint), f"{hint!r} has no English in webapp/translations/en.json"
            hint_en = pattern_hint(node, "en")
            assert hint_en, f"{path.parent.name}/{path.name}{where} has a pattern without {PATTERN_HINT_EN}"
            assert not CJK.search(hint_en) and CJK.search(hint), f"{path.name}{where}: one language each"
    assert found >= 20
