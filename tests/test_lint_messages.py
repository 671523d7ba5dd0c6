"""The lint message catalogue: every message the rules use is in it, in English and in Chinese.

Statically: every `msg("key", ...)` in engine/bpmn names a catalogue entry with exactly the
parameters its templates use, and no rule passes a bare English string as a finding's message.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from engine.bpmn.lint_content import EXPRESSION_ELEMENTS, TIMER_PARSERS
from engine.bpmn.lint_messages import MESSAGES, TERMS, Term, Text, msg, placeholders
from engine.bpmn.lint_model import FLOW_NODE_TAGS, Finding
from engine.bpmn.lint_reasons import REASONS

ENGINE_BPMN = Path(__file__).resolve().parents[1] / "engine" / "bpmn"
CJK = re.compile(r"[\u4e00-\u9fff]")
ASCII_WORD = re.compile(r"[A-Za-z]{2,}")


def msg_calls() -> list[tuple[str, ast.Call]]:
    """(file, call) for every call of `msg(...)` in engine/bpmn (lint_reasons.py takes its keys
    from its table, checked below)."""
    calls = []
    for path in sorted(set(ENGINE_BPMN.glob("*.py")) - {ENGINE_BPMN / "lint_reasons.py"}):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "msg":
                calls.append((path.name, node))
    return calls


def test_every_message_key_used_in_engine_bpmn_is_in_the_catalogue_with_its_parameters():
    calls = msg_calls()
    assert len(calls) > 60
    for file, call in calls:
        where = f"{file}:{call.lineno}"
        assert call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str), \
            f"{where}: msg() needs a literal key, so this test can check it"
        key = call.args[0].value
        assert key in MESSAGES, f"{where}: lint message {key!r} is not in lint_messages.MESSAGES"
        given = {kw.arg for kw in call.keywords}
        for template in MESSAGES[key]:
            assert placeholders(template) == given, f"{where}: {key!r} takes {placeholders(template)}, given {given}"


def test_every_reason_pattern_names_a_catalogue_entry_with_its_parameters():
    for pattern, key in REASONS:
        assert key in MESSAGES, key
        for template in MESSAGES[key]:
            assert placeholders(template) == set(pattern.groupindex), key


def test_every_catalogue_entry_is_used():
    used = {call.args[0].value for _, call in msg_calls()} | {key for _, key in REASONS}
    assert set(MESSAGES) - used == set()


def test_no_rule_passes_a_bare_string_as_a_message():
    """`doc.error(el, rule, "text")` or `Finding(..., f"text")` would have no Chinese."""
    for path in sorted(ENGINE_BPMN.glob("lint*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            where = f"{path.name}:{node.lineno}"
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in ("error", "warning") and len(node.args) >= 3:
                assert not isinstance(node.args[2], ast.Constant | ast.JoinedStr | ast.BinOp), where
            assert name != "Finding", f"{where}: build findings with Finding.of(..., msg(...))"


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_message_has_chinese_with_the_same_parameters(key):
    english, chinese = MESSAGES[key]
    assert chinese.strip(), key
    assert placeholders(english) == placeholders(chinese), key
    if ASCII_WORD.search(re.sub(r"\{[^}]*\}", "", english)):  # words, not only parameters: say them in Chinese
        assert CJK.search(chinese), f"{key}: the Chinese is not Chinese: {chinese!r}"
    text = Text(key, tuple((name, "X") for name in sorted(placeholders(english))))
    assert text.render("en") and text.render("zh")


def test_every_element_kind_and_expression_kind_has_a_chinese_term():
    words = set(FLOW_NODE_TAGS) | {what for _, _, what in EXPRESSION_ELEMENTS} | set(TIMER_PARSERS)
    words |= {kind[4:].lower() for kind in TIMER_PARSERS} | {"sequenceFlow", "lane", "participant", "process"}
    assert words - set(TERMS) == set()
    assert all(CJK.search(TERMS[word]) for word in words)


def test_a_message_renders_nested_parts_in_the_same_language():
    element = msg("element.named", kind=Term("userTask"), id="fill_request", name="填写需求")
    text = msg("unreachable", element=element)
    assert text.render("en") == "userTask 'fill_request' (填写需求) cannot be reached from a start event"
    assert text.render("zh") == "从开始事件无法到达用户任务 'fill_request'（填写需求）"
    assert str(text) == text.render("en")


def test_an_unknown_key_fails_where_the_message_is_made():
    with pytest.raises(KeyError, match="not in engine/bpmn/lint_messages.py"):
        msg("no-such-message")


def test_a_finding_keeps_english_as_its_message_and_renders_chinese():
    finding = Finding.of("p.bpmn", 3, 1, "error", "no-start", msg("no-start", process="p"))
    assert finding.message == "process 'p' has no start event"
    assert str(finding) == "p.bpmn:3:1: error no-start: process 'p' has no start event"
    assert finding.message_zh == "流程 'p' 没有开始事件" == finding.message_in("zh")
    assert finding.message_in("en") == finding.message
    assert finding.line_in("zh") == "p.bpmn:3:1: error no-start: 流程 'p' 没有开始事件"
    assert hash(finding) == hash(Finding.of("p.bpmn", 3, 1, "error", "no-start", msg("no-start", process="p")))
    plain = Finding("p.bpmn", 1, 1, "warning", "overlap", "x")
    assert plain.message_zh == "x"  # a finding made without the catalogue shows its English
