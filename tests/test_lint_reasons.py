"""Lint shows the script sandbox's and RE2's reasons in Chinese: every reason they give has a
catalogue entry, and its English is unchanged."""

from __future__ import annotations

import re

import pytest

from engine.bpmn.form_patterns import UNEVALUATED_WITH_PATTERNS, PatternError, compile_pattern
from engine.bpmn.lint import lint_bytes
from engine.bpmn.lint_messages import Text
from engine.bpmn.lint_reasons import reason_text
from engine.bpmn.xmlsafe import MAX_BPMN_BYTES
from engine.sandbox.compiler import check_source
from engine.sandbox.rules import MAX_SOURCE_CHARS, REFUSED_NODES

CJK = re.compile(r"[\u4e00-\u9fff]")
SCRIPTS = [
    "import os", "while True:\n    pass", "global x", "def f():\n    nonlocal y", "class A:\n    pass",
    "def f():\n    return 1", "lambda: 1", "try:\n    x = 1\nexcept Exception:\n    pass", "with a:\n    pass",
    "raise ValueError()", "assert x", "(y := 1)", "match x:\n    case 1:\n        pass", "_secret = 1",
    "open('x')", "len = 1", "x.attr = 1", "x.__class__", "x = (", "x" * (MAX_SOURCE_CHARS + 1),
    "x = {k: v for k, v in y}\ndel x\nx @ y",
]


def chinese(reason: str) -> str:
    text = reason_text(reason)
    assert isinstance(text, Text), f"no catalogue entry for {reason!r}"
    assert text.render("en") == reason
    return text.render("zh")


@pytest.mark.parametrize("reason", sorted(set(REFUSED_NODES.values())))
def test_every_construct_the_sandbox_refuses_has_chinese(reason):
    assert chinese(reason) != reason


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_reason_the_sandbox_gives_for_these_scripts_has_chinese(script):
    mode = "eval" if script.startswith("(") or script in ("open('x')", "x.__class__") else "exec"
    problems = check_source(script, mode)
    assert problems, script
    for _, _, reason in problems:
        assert chinese(reason) != reason


def test_the_form_patterns_reasons_have_chinese():
    reasons = [UNEVALUATED_WITH_PATTERNS]
    for pattern in ("(a)\\1", "a" * 5000, "\ud800"):
        with pytest.raises(PatternError) as refused:
            compile_pattern(pattern)
        reasons.append(str(refused.value))
    starts = ["表单不能同时", "RE2 无法编译", "正则表达式有", "正则表达式不是"]
    assert [chinese(r)[:len(start)] for r, start in zip(reasons, starts, strict=True)] == starts


def test_an_unknown_reason_is_quoted_as_it_is():
    assert reason_text("something new went wrong") == "something new went wrong"
    assert reason_text("name 'x' is not allowed (for reasons)") == "name 'x' is not allowed (for reasons)"


@pytest.mark.parametrize("data", [b"", b"   ", b"<nope", b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x/>',
                                  b"<root/>", b"x" * (MAX_BPMN_BYTES + 1)])
def test_the_xml_readers_reasons_have_chinese(data):
    [finding] = lint_bytes(data, "p.bpmn", None)
    [(_, detail)] = finding.text.params
    assert isinstance(detail, Text), finding.message
    assert finding.message_zh.startswith("无法读取 BPMN 文件：") and CJK.search(finding.message_zh[11:])
