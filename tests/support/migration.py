"""Running instances of minimal_ok for the migration filter tests: two that started at different
times and wait at different nodes."""

from __future__ import annotations

from datetime import timedelta

from engine.clock import frozen_at
from tests.support.versions import RENAMED_END, T0, deploy_minimal, variant

LATE_START = T0 + timedelta(hours=3)


def start_early_and_late(runtime) -> tuple[int, int]:
    """minimal_ok v1 and v2 (the end renamed: everything moves). `early` started at T0 and its
    one-hour timer fired (it waits at fill_request and escalate); `late` started at T0+3h and waits
    at fill_request with its timer (fill_request_sla) pending."""
    deploy_minimal(runtime, variant(RENAMED_END))
    with frozen_at(T0):
        early = runtime.start("minimal_ok", version=1)
    with frozen_at(T0 + timedelta(hours=2)):
        runtime.tick()
    with frozen_at(LATE_START):
        late = runtime.start("minimal_ok", version=1)
    return early, late
