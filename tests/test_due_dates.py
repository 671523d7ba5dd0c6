"""A due date on every human step (dueIn, laneDueIn, TOURFLOW_DEFAULT_DUE_IN, a boundary timer
first), supervisors changing due and follow-up dates with a reason, and the overdue list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.bpmn.due_rules import DueSpanInvalid, parse_due_span, parse_lane_spans
from engine.bpmn.specs import load_model
from engine.clock import CHINA, frozen_at
from engine.errors import FormInvalid, NotAllowed, TaskConflict
from engine.run import due_dates
from engine.run.overdue import overdue_tasks
from engine.run.rows import viewer_named
from tests.support.complaint import COMPLAINT, MONDAY_10, Walk
from tests.support.world import REPO

pytestmark = pytest.mark.both_databases

TUESDAY_10 = MONDAY_10 + timedelta(days=1)


def cn(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=CHINA).astimezone(UTC)


@pytest.mark.parametrize(("text", "hours", "working"), [
    ("PT4H", 4, False), ("P2D", 48, False), ("P1W", 168, False), ("working:P1D", 24, True),
    ("working:PT1H30M", 1.5, True), (" working:P1DT4H ", 28, True)])
def test_due_spans_read_iso_durations_in_clock_or_working_time(text, hours, working):
    span = parse_due_span(text)
    assert (span.days * 24 + span.hours + span.minutes / 60, span.working) == (hours, working)


@pytest.mark.parametrize("text", ["", "4h", "P1Y", "P1M", "PT0H", "PT", "P400D", "working:", "P1DT", "-PT1H"])
def test_malformed_or_empty_spans_are_refused(text):
    with pytest.raises(DueSpanInvalid):
        parse_due_span(text)


def test_a_working_span_counts_working_hours_of_the_calendar():
    friday_17 = datetime(2026, 11, 27, 17, 0, tzinfo=CHINA)
    assert parse_due_span("working:PT2H").after(friday_17) == datetime(2026, 11, 30, 10, 0, tzinfo=CHINA)
    assert parse_due_span("working:P1D").after(friday_17) == datetime(2026, 11, 30, 17, 0, tzinfo=CHINA)
    assert parse_due_span("PT2H").after(friday_17) == datetime(2026, 11, 27, 19, 0, tzinfo=CHINA)


def test_lane_defaults_read_lane_equals_span():
    assert {k: v.text for k, v in parse_lane_spans("qc=working:P1D, guide=PT4H").items()} == {
        "qc": "working:P1D", "guide": "PT4H"}
    with pytest.raises(DueSpanInvalid):
        parse_lane_spans("qc working:P1D")


def test_a_task_s_dueIn_wins_over_its_lane_and_the_lane_over_the_setting(monkeypatch):
    model = load_model((REPO / "processes" / "tour_operation.bpmn").read_bytes(), "tour_operation.bpmn")
    start = cn(1, 10)  # Tuesday 10:00
    assert due_dates.default_due(model, "in_tour_service", "guide", start) == (start + timedelta(days=1), "task")
    assert due_dates.default_due(model, "prepare_tour", "guide", start) == (start + timedelta(hours=4), "lane")
    monkeypatch.setenv(due_dates.DEFAULT_DUE_SETTING, "PT3H")
    assert due_dates.default_due(model, "anything", "nobody", start) == (start + timedelta(hours=3), "default")
    monkeypatch.setenv(due_dates.DEFAULT_DUE_SETTING, "soon")
    with pytest.raises(due_dates.DueSettingInvalid, match="TOURFLOW_DEFAULT_DUE_IN"):
        due_dates.default_due(model, "anything", "nobody", start)


def qc_task(rt, at=MONDAY_10):
    with frozen_at(at):
        walk = Walk(rt)
        walk.do("receive_complaint", "agent1", **{**COMPLAINT, "time_class": "旅游后"})
    return walk, walk.open_tasks()["investigate_facts"]


def test_a_qc_step_without_a_timer_is_due_a_working_day_later(complaint_runtime):
    _, task = qc_task(complaint_runtime)
    assert task["due_at"] == "2026-12-01T02:00:00Z", "laneDueIn qc=working:P1D: Tuesday 10:00 China time"


def test_the_boundary_timer_still_gives_the_due_date_where_there_is_one(complaint_runtime):
    with frozen_at(MONDAY_10):
        walk = Walk(complaint_runtime)
    assert walk.open_tasks()["receive_complaint"]["due_at"] == "2026-11-30T03:00:00Z", "one working hour"


def test_waiting_long_shows_when_a_task_has_waited_past_the_setting(monkeypatch):
    created, due = cn(1, 10), cn(20, 10)
    assert due_dates.due_state(due, created + timedelta(days=2), created) == "ok"
    assert due_dates.due_state(due, created + timedelta(days=3), created) == "waiting_long"
    monkeypatch.setenv(due_dates.WAITING_LONG_SETTING, "P5D")
    assert due_dates.due_state(due, created + timedelta(days=3), created) == "ok"
    assert due_dates.due_state(due, due - timedelta(minutes=10), created) == "due_soon"
    assert due_dates.due_state(due, due, created) == "overdue"


def test_a_supervisor_extends_a_due_date_and_sets_a_follow_up_with_a_reason(complaint_runtime):
    rt = complaint_runtime
    walk, task = qc_task(rt)
    with frozen_at(MONDAY_10 + timedelta(hours=2)):
        change = rt.set_due(task["id"], "supervisor1", "等待酒店书面答复", due_at=cn(3, 12), follow_up_at=cn(2, 9))
    row = rt.task(task["id"])
    assert (row["due_at"], row["follow_up_at"]) == ("2026-12-03T04:00:00Z", "2026-12-02T01:00:00Z")
    event = [e for e in rt.events(walk.id) if e["kind"] == "task_due_changed"][-1]
    assert event["actor"] == "supervisor1" and event["payload"] == change
    assert (change["old_due_at"], change["new_due_at"], change["old_follow_up_at"], change["new_follow_up_at"],
            change["reason"], change["timer_due_at"]) == (
        "2026-12-01T02:00:00Z", "2026-12-03T04:00:00Z", None, "2026-12-02T01:00:00Z", "等待酒店书面答复", None)


def test_only_supervisors_change_due_dates_and_only_forward_with_a_reason(complaint_runtime):
    rt = complaint_runtime
    _, task = qc_task(rt)
    with frozen_at(MONDAY_10 + timedelta(hours=1)):
        for user in ("qc1", "agent1", "manager1", "auditor1", "owner1"):
            with pytest.raises(NotAllowed):
                rt.set_due(task["id"], user, "想延期", due_at=cn(5, 10))
        with pytest.raises(FormInvalid, match="due_at.*future"):
            rt.set_due(task["id"], "supervisor1", "倒退", due_at=MONDAY_10)
        with pytest.raises(FormInvalid, match="follow_up_at.*future"):
            rt.set_due(task["id"], "supervisor1", "倒退", follow_up_at=MONDAY_10 - timedelta(days=1))
        with pytest.raises(FormInvalid, match="reason"):
            rt.set_due(task["id"], "supervisor1", "  ", due_at=cn(5, 10))
        with pytest.raises(FormInvalid, match="due_at"):
            rt.set_due(task["id"], "supervisor1", "什么都没给")
    assert rt.task(task["id"])["due_at"] == "2026-12-01T02:00:00Z", "nothing changed"


def test_a_finished_task_keeps_its_dates(complaint_runtime):
    rt = complaint_runtime
    walk, task = qc_task(rt)
    with frozen_at(MONDAY_10 + timedelta(minutes=5)):
        walk.do("investigate_facts", "qc1", facts="事实")
        with pytest.raises(TaskConflict, match="not ready"):
            rt.set_due(task["id"], "supervisor1", "晚了", due_at=cn(5, 10))


def test_extending_a_timer_deadline_leaves_the_timer_and_says_when_it_fires(complaint_runtime):
    rt = complaint_runtime
    with frozen_at(MONDAY_10):
        walk = Walk(rt)
    task = walk.open_tasks()["receive_complaint"]
    with frozen_at(MONDAY_10 + timedelta(minutes=10)):
        change = rt.set_due(task["id"], "supervisor1", "客户改约下午", due_at=MONDAY_10 + timedelta(hours=5))
    assert change["timer_due_at"] == "2026-11-30T03:00:00Z", "the 1-hour rule's timer does not move"
    assert rt.task(task["id"])["due_at"] == "2026-11-30T07:00:00Z"
    assert [f["timer"] for f in rt.tick(MONDAY_10 + timedelta(hours=1, minutes=1))] == ["report_overdue"]


def test_the_overdue_list_shows_supervisors_late_tasks_and_follow_ups_oldest_first(complaint_runtime):
    rt = complaint_runtime
    _, first = qc_task(rt)  # due Tuesday 10:00
    _, second = qc_task(rt, MONDAY_10 + timedelta(hours=1))  # due Tuesday 11:00
    _, third = qc_task(rt, MONDAY_10 + timedelta(hours=2))  # due Tuesday 12:00
    with frozen_at(MONDAY_10 + timedelta(hours=3)):
        rt.set_due(third["id"], "supervisor1", "明早回访客户", follow_up_at=MONDAY_10 + timedelta(hours=5))
    with rt.reading() as session:
        supervisor, qc, auditor = (viewer_named(session, u) for u in ("supervisor1", "qc1", "auditor1"))
        assert overdue_tasks(session, supervisor, MONDAY_10 + timedelta(hours=4))["items"] == []
        late = overdue_tasks(session, supervisor, TUESDAY_10 + timedelta(minutes=30))
        assert [(i["id"], i["reasons"]) for i in late["items"]] == [(third["id"], ["follow_up"]),
                                                                     (first["id"], ["overdue"])]
        later = overdue_tasks(session, supervisor, TUESDAY_10 + timedelta(hours=5))
        assert [(i["id"], i["reasons"]) for i in later["items"]] == [
            (third["id"], ["overdue", "follow_up"]), (first["id"], ["overdue"]), (second["id"], ["overdue"])]
        assert later["items"][0]["since"] == "2026-11-30T07:00:00Z", "its follow-up passed first"
        assert overdue_tasks(session, auditor, TUESDAY_10 + timedelta(hours=5))["total"] == 3
        with pytest.raises(NotAllowed, match="supervisors and auditors"):
            overdue_tasks(session, qc, TUESDAY_10 + timedelta(hours=5))
