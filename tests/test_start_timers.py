"""Timer start events: a process that starts itself at every month-end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.clock import frozen_at
from engine.store.models import Job
from tests.support.world import deploy

pytestmark = pytest.mark.both_databases

FIXTURE = Path(__file__).parent / "fixtures" / "runtime" / "month_report.bpmn"
NOV_23 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
NOV_CLOSE = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # 18:00 China time
DEC_CLOSE = datetime(2026, 12, 31, 10, 0, tzinfo=UTC)


def _pending(rt):
    with rt.db.read() as session:
        return [(j.deployment_id, j.due_at) for j in session.execute(
            select(Job).where(Job.kind == "start_timer", Job.state == "pending")).scalars()]


def test_deploying_schedules_the_next_month_end_and_tick_starts_it(runtime):
    with frozen_at(NOV_23):
        deploy(runtime, FIXTURE)
    assert [due for _, due in _pending(runtime)] == [NOV_CLOSE]
    assert runtime.tick(NOV_CLOSE - timedelta(seconds=1)) == []
    [fired] = runtime.tick(NOV_CLOSE)
    assert fired["kind"] == "start_timer"
    instance = runtime.show(fired["instance_id"])
    assert (instance["process"], instance["status"], instance["started_by"]) == ("month_report", "running", "system")
    [task] = runtime.tasks(instance_id=instance["id"])
    assert task["task"] == "note_complaint"
    kinds = [e["kind"] for e in runtime.events(instance["id"])]
    assert kinds[:3] == ["instance_started", "timer_fired", "task_ready"]
    assert [due for _, due in _pending(runtime)] == [DEC_CLOSE], "the next month is scheduled"
    assert runtime.tick(NOV_CLOSE + timedelta(days=3)) == [], "one start per month-end"


def test_a_new_version_takes_over_the_schedule(runtime, tmp_path):
    with frozen_at(NOV_23):
        deploy(runtime, FIXTURE)
        changed = tmp_path / "month_report.bpmn"
        changed.write_text(FIXTURE.read_text(encoding="utf-8").replace("每月月底", "每月月末"), encoding="utf-8")
        forms = tmp_path / "forms" / "month_report"
        forms.mkdir(parents=True)
        (forms / "note_complaint.schema.json").write_bytes(
            (FIXTURE.parent / "forms" / "month_report" / "note_complaint.schema.json").read_bytes())
        deploy(runtime, changed)
    [(deployment_id, due)] = _pending(runtime)
    assert deployment_id == 2 and due == NOV_CLOSE
    [fired] = runtime.tick(NOV_CLOSE)
    assert runtime.show(fired["instance_id"])["version"] == 2
