"""Who has a task's form open, and drafts of it (engine/run/task_edits.py): the presence window on a
frozen clock, what a draft may hold, who may keep one, and that the rows go with the task."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from engine.clock import frozen_at
from engine.errors import FormInvalid, NotAllowed, NotFound, TaskConflict
from engine.run.task_edits import DRAFT_BYTES_MAX, PRESENCE_SECONDS
from engine.store.models import AuditEvent, TaskEdit
from tests.support.complaint import COMPLAINT
from tests.support.versions import RENAMED_END, REQUEST, deploy_minimal, variant

pytestmark = pytest.mark.both_databases

T0 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


@pytest.fixture
def task(complaint_runtime) -> dict:
    """The complaint intake task, unclaimed: agent1 and operator1 (lane staff) both work it."""
    iid = complaint_runtime.start("complaint_handling", actor="agent1")
    [row] = [t for t in complaint_runtime.tasks(instance_id=iid) if t["task"] == "receive_complaint"]
    assert row["assignee"] is None
    return row


def rows(rt) -> int:
    with rt.reading() as session:
        return session.execute(select(func.count()).select_from(TaskEdit)).scalar()


def test_others_who_had_the_form_open_within_the_window_are_listed(complaint_runtime, task):
    rt = complaint_runtime
    with frozen_at(T0):
        assert rt.task_heartbeat(task["id"], "agent1") == []
    with frozen_at(T0 + timedelta(seconds=10)):
        editors = rt.task_heartbeat(task["id"], "operator1")
    assert editors == [{"username": "agent1", "display_name": "agent1", "seen_at": "2026-11-30T02:00:00Z"}]
    with frozen_at(T0 + timedelta(seconds=PRESENCE_SECONDS)):  # agent1 was seen exactly N seconds ago
        assert [e["username"] for e in rt.task_editors(task["id"], "operator1")] == ["agent1"]
    with frozen_at(T0 + timedelta(seconds=PRESENCE_SECONDS + 1)):  # ... and now longer ago
        assert rt.task_editors(task["id"], "operator1") == []
        assert [e["username"] for e in rt.task_editors(task["id"], "agent1")] == ["operator1"]
    with frozen_at(T0 + timedelta(seconds=30)):  # a narrower window, as a caller may ask
        assert rt.task_editors(task["id"], "operator1", window_seconds=20) == []
    assert rows(rt) == 2  # one row per user and task, however often they beat
    with frozen_at(T0 + timedelta(seconds=40)):
        rt.task_heartbeat(task["id"], "agent1")
    assert rows(rt) == 2


def test_a_draft_is_kept_per_user_and_seen_only_by_its_owner(complaint_runtime, task):
    rt = complaint_runtime
    with frozen_at(T0):
        saved = rt.save_task_draft(task["id"], "agent1", {"customer_name": "张建国", "kind": None})
    assert saved == {"data": {"customer_name": "张建国", "kind": None}, "saved_at": "2026-11-30T02:00:00Z"}
    assert rt.task_draft(task["id"], "agent1") == saved
    assert rt.task_draft(task["id"], "operator1") is None
    with frozen_at(T0 + timedelta(seconds=5)):  # saving says one has the form open
        assert [e["username"] for e in rt.task_heartbeat(task["id"], "operator1")] == ["agent1"]
    assert rt.discard_task_draft(task["id"], "agent1") is True
    assert rt.task_draft(task["id"], "agent1") is None
    assert rt.discard_task_draft(task["id"], "agent1") is False


def test_drafts_are_not_audited(complaint_runtime, task):
    rt = complaint_runtime
    with rt.reading() as session:
        before = session.execute(select(func.count()).select_from(AuditEvent)).scalar()
    rt.task_heartbeat(task["id"], "agent1")
    rt.save_task_draft(task["id"], "agent1", {"customer_name": "张"})
    rt.discard_task_draft(task["id"], "agent1")
    with rt.reading() as session:
        assert session.execute(select(func.count()).select_from(AuditEvent)).scalar() == before


@pytest.mark.parametrize(("data", "field"), [
    (["customer_name"], "data"),
    ({"no_such_field": "x"}, "data.no_such_field"),
    ({"customer_name": 12}, "data.customer_name"),
    ({"customer_name": {"a": "b"}}, "data.customer_name"),
    ({"kind": ["a", None]}, "data.kind"),
    ({"customer_name": "x\x00"}, "data.customer_name"),
    ({"description": "长" * (DRAFT_BYTES_MAX // 3 + 1)}, "data"),
])
def test_a_draft_holds_only_the_forms_fields_as_texts_within_the_cap(complaint_runtime, task, data, field):
    with pytest.raises(FormInvalid) as caught:
        complaint_runtime.save_task_draft(task["id"], "agent1", data)
    assert caught.value.errors[0]["field"] == field
    assert complaint_runtime.task_draft(task["id"], "agent1") is None


def test_a_draft_at_the_cap_is_kept(complaint_runtime, task):
    skeleton = len(json.dumps({"description": "长" * 6000, "customer_request": ""}, ensure_ascii=False).encode())
    data = {"description": "长" * 6000, "customer_request": "x" * (DRAFT_BYTES_MAX - skeleton)}
    assert complaint_runtime.save_task_draft(task["id"], "agent1", data)["data"] == data
    with pytest.raises(FormInvalid):
        complaint_runtime.save_task_draft(task["id"], "agent1", {**data, "customer_request": data["customer_request"] + "x"})


def test_who_may_not_open_the_task_keeps_no_presence_nor_draft(complaint_runtime, task):
    rt = complaint_runtime
    for user in ("qc1", "auditor1"):  # another lane; read-only
        for call in (lambda u: rt.task_heartbeat(task["id"], u), lambda u: rt.task_draft(task["id"], u),
                     lambda u: rt.save_task_draft(task["id"], u, {}), lambda u: rt.discard_task_draft(task["id"], u)):
            with pytest.raises(NotAllowed):
                call(user)
    rt.task_heartbeat(task["id"], "supervisor1")  # supervisors open every task page
    with pytest.raises(NotFound):
        rt.task_heartbeat(999999, "agent1")
    assert rows(rt) == 1


def test_completing_the_task_drops_its_presence_and_drafts(complaint_runtime, task):
    rt = complaint_runtime
    rt.save_task_draft(task["id"], "agent1", {"customer_name": "张"})
    rt.task_heartbeat(task["id"], "operator1")
    rt.complete(task["id"], "agent1", COMPLAINT)
    assert rows(rt) == 0
    with pytest.raises(TaskConflict):
        rt.task_heartbeat(task["id"], "operator1")
    with pytest.raises(TaskConflict):
        rt.save_task_draft(task["id"], "agent1", {"customer_name": "张"})
    assert rows(rt) == 0


def test_cancelling_the_instance_drops_its_tasks_presence_and_drafts(complaint_runtime, task):
    rt = complaint_runtime
    rt.save_task_draft(task["id"], "agent1", {"customer_name": "张"})
    other = rt.start("complaint_handling", actor="agent1")
    [kept] = [t for t in rt.tasks(instance_id=other) if t["task"] == "receive_complaint"]
    rt.task_heartbeat(kept["id"], "operator1")
    rt.cancel(task["instance_id"], "supervisor1", "duplicate")
    assert rows(rt) == 1  # only the other instance's task keeps its row
    assert [e["username"] for e in rt.task_editors(kept["id"], "agent1")] == ["operator1"]


def test_moving_the_instance_to_another_version_drops_its_drafts(runtime):
    deploy_minimal(runtime, variant(RENAMED_END))
    instance = runtime.start("minimal_ok", version=1)
    [task] = runtime.tasks(instance_id=instance)
    runtime.save_task_draft(task["id"], "agent1", {name: "x" for name in list(REQUEST)[:1]})
    assert rows(runtime) == 1
    runtime.migrate_instances("minimal_ok", 1, 2, "owner1", "结束节点改名")
    assert rows(runtime) == 0  # the task stays open on version 2; its drafts were of version 1's form
    assert runtime.task_draft(task["id"], "agent1") is None
