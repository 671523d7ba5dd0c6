"""Desk routing (an agent works their own desk's tasks) and tasks pre-assigned by the diagram."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import NotAllowed, NotFound
from engine.run import instance_access, queries
from tests.support.complaint import COMPLAINT
from tests.support.world import deploy

pytestmark = pytest.mark.both_databases

RELAY = Path(__file__).parent / "fixtures" / "runtime" / "complaint_relay.bpmn"


def test_a_desk_task_is_seen_and_worked_by_that_desk_only(complaint_runtime):
    rt = complaint_runtime
    instance = rt.start("complaint_handling", {"desk": "旅游"})
    [task] = rt.tasks(instance_id=instance)
    assert rt.tasks(user="agent1") == [], "agent1 works the cruise desk"
    assert [t["id"] for t in rt.tasks(user="agent2")] == [task["id"]]
    assert [t["id"] for t in rt.tasks(user="sales1")] == [task["id"]], "users without a desk see every desk"
    with rt.db.read() as session:
        cruise = queries.inbox(session, queries.Viewer("agent1", frozenset({"agent", "staff"}), {"desk": "邮轮"}),
                               queries.InboxFilter())
        tour = queries.inbox(session, queries.Viewer("agent2", frozenset({"agent", "staff"}), {"desk": "旅游"}),
                             queries.InboxFilter())
        cruise_agent = queries.Viewer("agent1", frozenset({"agent", "staff"}), {"desk": "邮轮"})
        assert not instance_access.may_view_instance(session, cruise_agent, instance)
    assert (cruise["total"], tour["total"]) == (0, 1)
    with pytest.raises(NotAllowed, match="belongs to desk 旅游; agent1 works at desk 邮轮"):
        rt.complete(task["id"], "agent1", COMPLAINT)
    rt.complete(task["id"], "agent2", COMPLAINT)


def test_the_diagram_can_name_a_tasks_assignee(runtime):
    deploy(runtime, RELAY)
    instance = runtime.start("complaint_relay", {"requested_by": "agent2"}, actor="agent1")
    [task] = runtime.tasks(instance_id=instance)
    assert task["assignee"] == "agent2"
    assert runtime.tasks(user="agent1") == []
    ready = next(e for e in runtime.events(instance) if e["kind"] == "task_ready")
    assert ready["payload"]["assignee"] == "agent2"


def test_the_reads_of_one_instance_take_the_acting_user(complaint_runtime):
    rt = complaint_runtime
    instance = rt.start("complaint_handling", {"desk": "旅游"})
    cruise_agent = queries.Viewer("agent1", frozenset({"agent", "staff"}), {"desk": "邮轮"})
    tour_agent = queries.Viewer("agent2", frozenset({"agent", "staff"}), {"desk": "旅游"})
    for read in (rt.show, rt.events, rt.node_states, rt.instance_forms):
        with pytest.raises(NotAllowed, match=f"instance {instance} is not one of yours"):
            read(instance, cruise_agent)
        with pytest.raises(NotFound, match="instance 999999 does not exist"):
            read(999999, tour_agent)
        assert read(instance, tour_agent) == read(instance), "the same answer as a trusted caller's"
