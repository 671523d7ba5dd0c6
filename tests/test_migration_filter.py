"""A migration picks instances by filter: where they wait (open task or pending timer), when they
started, and by id; the parts combine with AND, the report keeps the filter, bad values name their
field. Every instance still replays after the move (the runtime fixture checks it)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from engine.clock import frozen_at
from engine.errors import FormInvalid
from engine.run import versions
from engine.run.waiting import waiting_on
from tests.support.migration import start_early_and_late
from tests.support.versions import T0

pytestmark = pytest.mark.both_databases


@pytest.fixture
def early_and_late(runtime):
    return start_early_and_late(runtime)


def _picked(runtime, **filter_parts) -> list[int]:
    report = runtime.migrate_instances("minimal_ok", 1, 2, "owner1", "筛选", dry_run=True, **filter_parts)
    assert all(r["ok"] for r in report["instances"]), report
    return [r["instance_id"] for r in report["instances"]]


def test_the_waiting_nodes_of_a_version_are_counted(runtime, early_and_late):
    with runtime.reading() as session:
        deployment_id = versions.version_row(session, "minimal_ok", 1).id
        assert waiting_on(session, deployment_id, None) == {"escalate": 1, "fill_request": 2, "fill_request_sla": 1}
        assert waiting_on(session, deployment_id, ["escalate"]) == {"escalate": 1}
        assert waiting_on(session, deployment_id, []) == {}
    assert runtime.waiting_nodes("minimal_ok", 1) == [
        {"node": "escalate", "name": "主管跟进", "waiting": 1}, {"node": "fill_request", "name": "填写需求", "waiting": 2},
        {"node": "fill_request_sla", "name": "一小时未处理", "waiting": 1}]
    assert runtime.waiting_nodes("minimal_ok", 2) == []


def test_the_filter_picks_by_waiting_node_and_start_time(runtime, early_and_late):
    early, late = early_and_late
    one_hour = (T0 + timedelta(hours=1)).isoformat()
    assert _picked(runtime) == [early, late]
    assert _picked(runtime, waiting_at=["escalate"]) == [early]
    assert _picked(runtime, waiting_at=["fill_request_sla"]) == [late], "a pending timer counts as waiting"
    assert _picked(runtime, waiting_at=["fill_request"]) == [early, late]
    assert _picked(runtime, waiting_at=["escalate", "fill_request_sla"]) == [early, late]
    assert _picked(runtime, started_before=one_hour) == [early]
    assert _picked(runtime, started_after=T0 + timedelta(hours=1)) == [late]
    assert _picked(runtime, started_after="2026-11-23T09:00:01+08:00") == [late], "09:00 in China is T0"
    assert _picked(runtime, started_before="2026-11-23T01:00:00Z") == []


def test_filter_parts_combine_with_and(runtime, early_and_late):
    early, late = early_and_late
    assert _picked(runtime, waiting_at=["fill_request"], started_after=T0 + timedelta(minutes=1)) == [late]
    assert _picked(runtime, waiting_at=["escalate"], started_after=T0 + timedelta(minutes=1)) == []
    assert _picked(runtime, instance_ids=[early, late], waiting_at=["escalate"]) == [early]
    assert _picked(runtime, instance_ids=[late], started_before=T0 + timedelta(hours=4),
                   started_after=T0 + timedelta(hours=2)) == [late]
    report = runtime.migrate_instances("minimal_ok", 1, 2, "owner1", "x", instance_ids=[late, 999999],
                                       waiting_at=["escalate"], dry_run=True)
    assert [(r["instance_id"], r["reason"]) for r in report["instances"]] == [(999999, "no such instance")]


def test_only_the_filtered_instances_move_and_the_report_keeps_the_filter(runtime, early_and_late):
    early, late = early_and_late
    events_before = len(runtime.events(late))
    with frozen_at(T0 + timedelta(hours=3, minutes=10)):  # before late's timer is due
        report = runtime.migrate_instances("minimal_ok", 1, 2, "owner1", "只迁移已升级的", waiting_at=["escalate"],
                                           started_before="2026-11-23T02:00:00Z")
    assert report["filter"] == {"waiting_at": ["escalate"], "started_before": "2026-11-23T02:00:00Z",
                                "started_after": None, "instances": None}
    assert report["migrated"] == 1 and [r["instance_id"] for r in report["instances"]] == [early]
    assert (runtime.show(early)["version"], runtime.show(late)["version"]) == (2, 1)
    assert len(runtime.events(late)) == events_before
    assert [e["kind"] for e in runtime.events(early)].count("instance_migrated") == 1
    with frozen_at(T0 + timedelta(hours=3, minutes=20)):
        unfiltered = runtime.migrate_instances("minimal_ok", 1, 2, "owner1", "其余的")
    assert unfiltered["filter"] == {"waiting_at": [], "started_before": None, "started_after": None,
                                    "instances": None}
    assert [r["instance_id"] for r in unfiltered["instances"]] == [late]


@pytest.mark.parametrize(("parts", "field", "message"), [
    ({"waiting_at": "escalate"}, "waiting_at", "list of node ids"),
    ({"waiting_at": ["escalate", 3]}, "waiting_at", "list of node ids"),
    ({"waiting_at": ["nope"]}, "waiting_at", "version 1 has no node 'nope'"),
    ({"started_before": "yesterday"}, "started_before", "ISO 8601"),
    ({"started_after": "2026-13-01T00:00:00Z"}, "started_after", "ISO 8601"),
    ({"started_after": 1700000000}, "started_after", "ISO 8601"),
    ({"started_before": datetime(2026, 11, 23)}, "started_before", "time zone"),
    ({"started_before": "2026-11-23T01:00:00Z", "started_after": "2026-11-23T02:00:00Z"}, "started_after",
     "earlier than started_before"),
    ({"instance_ids": [1, "2"]}, "instances", "list of instance ids"),
])
def test_bad_filter_values_name_their_field(runtime, early_and_late, parts, field, message):
    with pytest.raises(FormInvalid, match=message) as raised:
        runtime.migrate_instances("minimal_ok", 1, 2, "owner1", "x", dry_run=True, **parts)
    assert (raised.value.field, raised.value.errors[0]["field"]) == (field, field)
    assert {runtime.show(i)["version"] for i in early_and_late} == {1}
