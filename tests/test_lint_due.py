"""Lint of the due-date properties: a bad `dueIn` or `laneDueIn` is an error at the property's line,
in English and in Chinese; the shipped processes set them cleanly."""

from __future__ import annotations

import pytest

from engine.bpmn.lint import lint_bytes
from tests.support.world import REPO

TOUR = REPO / "processes" / "tour_operation.bpmn"
TASK_PROPERTY = b'<spiffworkflow:property name="dueIn" value="P1D" />'
LANE_PROPERTY = b'<spiffworkflow:property name="laneDueIn" value="guide=PT4H, operator=working:P1D, sales=working:P1D" />'


def due_findings(data: bytes):
    return [f for f in lint_bytes(data, "tour_operation.bpmn", REPO / "processes" / "forms") if f.rule == "due-in"]


def line_of(data: bytes, needle: bytes) -> int:
    return data[:data.index(needle)].count(b"\n") + 1


def test_the_shipped_processes_have_valid_due_properties():
    assert due_findings(TOUR.read_bytes()) == []


@pytest.mark.parametrize("value", [b"P1Y", b"1 day", b"PT0M", b"working:soon"])
def test_a_bad_dueIn_is_an_error_at_its_line(value):
    data = TOUR.read_bytes().replace(TASK_PROPERTY, TASK_PROPERTY.replace(b'"P1D"', b'"' + value + b'"'))
    [finding] = due_findings(data)
    assert (finding.severity, finding.line) == ("error", line_of(data, b'name="dueIn"'))
    assert "in_tour_service" in finding.message and "working:P1D" in finding.message
    assert "不是有效的办理期限" in finding.message_zh


@pytest.mark.parametrize(("value", "english", "chinese"), [
    (b"guide PT4H", "must read lane=duration", "应写成 泳道=期限"),
    (b"guide=PT4H, sales=P1M", "must read lane=duration", "应写成 泳道=期限"),
    (b"guide=PT4H, pilot=P1D", "names lane 'pilot'", "泳道 'pilot' 不存在"),
])
def test_a_bad_laneDueIn_is_an_error_at_its_line(value, english, chinese):
    data = TOUR.read_bytes().replace(LANE_PROPERTY, b'<spiffworkflow:property name="laneDueIn" value="' + value + b'" />')
    [finding] = due_findings(data)
    assert (finding.severity, finding.line) == ("error", line_of(data, b'name="laneDueIn"'))
    assert english in finding.message and chinese in finding.message_zh
