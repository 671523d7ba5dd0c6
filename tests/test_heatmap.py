"""The heatmap counts instances per node and the time they spent there, from replays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.clock import frozen_at
from engine.config import DEFAULT_PROCESSES_DIR
from engine.errors import NotFound
from engine.history.heatmap import heatmap
from tests.support.complaint import COMPLAINT, Walk

pytestmark = pytest.mark.both_databases

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def test_counts_and_times_per_node_match_the_hand_computed_ones(complaint_runtime):
    rt = complaint_runtime
    # Three complaints received 10, 20 and 40 minutes after they came in; two go on to QC,
    # whose investigation takes 1 h and 3 h.
    walks = []
    for minutes, investigate in ((10, 60), (20, 180), (40, None)):
        with frozen_at(T0):
            walk = Walk(rt)
        with frozen_at(T0 + timedelta(minutes=minutes)):
            walk.do("receive_complaint", "agent1", **{**COMPLAINT, "time_class": "旅游后"})
        if investigate:
            with frozen_at(T0 + timedelta(minutes=minutes + investigate)):
                walk.do("investigate_facts", "qc1", facts="事实")
        walks.append(walk)
    with frozen_at(T0 + timedelta(hours=5)):
        data = heatmap(rt, "complaint_handling", 1)
    heat = data["heat"]
    assert data["instances"] == 3
    receive = heat["receive_complaint"]
    assert (receive["instances"], receive["median_s"]) == (3, 20 * 60)
    assert receive["p90_s"] == 40 * 60  # the nearest rank of 3 values at 90% is the largest
    investigate = heat["investigate_facts"]
    assert investigate["instances"] == 3  # the third is still in it, for 5 h - 40 min
    assert sorted([investigate["median_s"], investigate["p90_s"]]) == [3 * 3600, (5 * 60 - 40) * 60]
    assert heat["determine_responsibility"]["instances"] == 2
    assert data["max_instances"] == 3
    assert "<bpmn:definitions" in data["bpmn_xml"] or "definitions" in data["bpmn_xml"]


def test_unknown_version_is_not_found(complaint_runtime):
    with pytest.raises(NotFound):
        heatmap(complaint_runtime, "complaint_handling", 9)


def test_a_boundary_timer_counts_only_where_it_fired(complaint_runtime):
    """The 1-hour report deadline waits beside every intake; it is passed only by the complaint
    whose report was late (61 min to fire), not by the ones reported in time (cancelled), and a
    deadline still waiting is no instance 'in' it."""
    rt = complaint_runtime
    for minutes in (10, 90, None):
        with frozen_at(T0):
            walk = Walk(rt)
        if minutes == 90:
            assert [f["timer"] for f in rt.tick(T0 + timedelta(minutes=61))] == ["report_overdue"]
        if minutes:
            with frozen_at(T0 + timedelta(minutes=minutes)):
                walk.do("receive_complaint", "agent1", **{**COMPLAINT, "time_class": "旅游后"})
    with frozen_at(T0 + timedelta(minutes=100)):
        heat = heatmap(rt, "complaint_handling", 1)["heat"]
    overdue = heat["report_overdue"]
    assert (overdue["instances"], overdue["median_s"], overdue["p90_s"]) == (1, 61 * 60, 61 * 60)
    assert heat["escalate_late_report"]["instances"] == 1
    assert heat["receive_complaint"]["instances"] == 3, "the third is still receiving: 100 min so far"
    assert heat["receive_complaint"]["p90_s"] == 100 * 60


def test_replays_kept_for_one_database_are_not_used_for_another(complaint_runtime, template_db, tmp_path):
    """Instance ids repeat across databases: the kept replays of finished instances are per database."""
    import shutil

    from engine.run.runtime import Runtime
    from engine.store.db import Database
    from tests.support.complaint import COMPLAINT as FILLED
    from tests.support.world import deploy

    first = Walk(complaint_runtime)
    first.do("receive_complaint", "agent1", **{**FILLED, "time_class": "旅游后"})
    complaint_runtime.cancel(first.id, "supervisor1", "重复登记")
    assert heatmap(complaint_runtime, "complaint_handling", 1)["heat"]["receive_complaint"]["instances"] == 1

    shutil.copyfile(template_db, tmp_path / "other.db")
    other_db = Database(f"sqlite:///{tmp_path / 'other.db'}")
    other = Runtime(other_db)
    try:
        deploy(other, DEFAULT_PROCESSES_DIR / "complaint_handling.bpmn")
        second = Walk(other)
        assert second.id == first.id or complaint_runtime.db.url.startswith("postgresql")
        other.cancel(second.id, "supervisor1", "重复登记")  # nothing passed: cancelled at intake
        heat = heatmap(other, "complaint_handling", 1)["heat"]
        assert heat.get("receive_complaint", {}).get("instances", 0) == 0
    finally:
        other_db.dispose()
