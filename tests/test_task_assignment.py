"""Claim, release and reassign: who holds a task, with every change in the audit log."""

from __future__ import annotations

import pytest

from engine.errors import NotAllowed, TaskConflict, TourflowError
from tests.support.complaint import COMPLAINT, Walk
from tests.support.world import add_qc_user

pytestmark = pytest.mark.both_databases


@pytest.fixture
def qc_task(complaint_runtime):
    walk = Walk(complaint_runtime)
    walk.do("receive_complaint", "agent1", **{**COMPLAINT, "time_class": "旅游后"})
    return walk, walk.open_tasks()["investigate_facts"]["id"]


def test_claimed_task_is_only_for_its_assignee(complaint_runtime, qc_task):
    rt = complaint_runtime
    walk, task_id = qc_task
    add_qc_user(rt, "qc2")
    rt.claim(task_id, "qc1")
    assert rt.task(task_id)["assignee"] == "qc1"
    assert rt.tasks(user="qc2") == [], "a claimed task leaves the others' queue"
    with pytest.raises(TaskConflict, match="already claimed by qc1"):
        rt.claim(task_id, "qc2")
    with pytest.raises(TaskConflict, match="claimed by qc1"):
        rt.complete(task_id, "qc2", {"facts": "x"})
    with pytest.raises(NotAllowed, match="only they or a supervisor"):
        rt.unclaim(task_id, "qc2")
    rt.unclaim(task_id, "qc1")
    rt.complete(task_id, "qc2", {"facts": "事实"})
    kinds = walk.kinds()
    assert kinds.count("task_claimed") == 1 and kinds.count("task_unclaimed") == 1


def test_reassign_needs_a_reason_and_a_user_of_the_lane(complaint_runtime, qc_task):
    rt = complaint_runtime
    walk, task_id = qc_task
    add_qc_user(rt, "qc2")
    with pytest.raises(TourflowError, match="reason is required"):
        rt.reassign(task_id, "qc1", "qc2", "  ")
    with pytest.raises(NotAllowed, match="does not hold lane 'qc'"):
        rt.reassign(task_id, "qc1", "agent1", "换人")
    with pytest.raises(NotAllowed, match="does not hold lane 'qc'"):
        rt.reassign(task_id, "agent1", "qc2", "越权")
    rt.reassign(task_id, "qc1", "qc2", "qc1 休假")
    assert rt.task(task_id)["assignee"] == "qc2"
    event = [e for e in rt.events(walk.id) if e["kind"] == "task_reassigned"][-1]
    assert (event["actor"], event["payload"]["to"], event["payload"]["reason"]) == ("qc1", "qc2", "qc1 休假")


def test_task_detail_carries_instructions_and_form(complaint_runtime, qc_task):
    _, task_id = qc_task
    task = complaint_runtime.task(task_id)
    assert "(1)" in task["documentation"]
    assert task["form"]["properties"]["facts"]["title"]
    assert "facts" in task["form"]["required"]


def test_cli_claim_and_reassign(cli, complaint_runtime, qc_task):
    _, task_id = qc_task
    assert cli.run("claim", str(task_id), "--as", "agent1").returncode == 4
    assert cli.run("claim", str(task_id), "--as", "qc1", check=True).returncode == 0
    proc = cli.run("reassign", str(task_id), "--as", "guide1", "--to", "qc1", "--reason", "x")
    assert proc.returncode == 4 and "does not hold lane 'qc'" in proc.stderr
    proc = cli.run("reassign", str(task_id), "--as", "supervisor1", "--to", "agent1", "--reason", "x")
    assert proc.returncode == 4 and "does not hold lane 'qc'" in proc.stderr, "only to someone who can work it"
    # a supervisor recovers any task, lane or not (docs/access.md)
    assert cli.run("reassign", str(task_id), "--as", "supervisor1", "--to", "qc1", "--reason", "x", check=True)
    assert cli.run("unclaim", str(task_id), "--as", "qc1", check=True).returncode == 0
