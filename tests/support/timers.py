"""The timer_effect fixture process (tests/fixtures/runtime/timer_effect.bpmn): instances whose timer
fires at a given moment, and the effects their steps committed (one row per step in test_effect)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def start_timers(rt, count: int, fire_at: datetime, **data) -> list[int]:
    return [rt.start("timer_effect", {"fire_at": iso(fire_at), "sleep_ms": 0, "fail_until_fixed": False, **data})
            for _ in range(count)]


def effects(rt) -> dict[int, int]:
    with rt.db.read() as session:
        rows = session.execute(text("SELECT instance_id, count(*) FROM test_effect GROUP BY instance_id"))
        return dict(rows.all())
