"""A step's rows are plain records (engine/store/records.py), read and written on the connection.

Counted and inspected, never timed: a start and a completion never begin the ORM's transaction (so hold no
HumanTask or ProcessInstance object) and no ORM flush writes anything; a record's UPDATE names only the columns that changed; and the
state hash at commit still covers the instance and every open task, also when one transaction runs two
steps on one instance (they share its record).
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.bench.core import BENCH_USER, FORM_DATA, prepare
from engine.clock import utcnow
from engine.run.runtime import Runtime
from engine.store import state_hash
from engine.store.models import HumanTask, ProcessInstance
from engine.store.records import InstanceRecord, TaskRecord
from tests.support.listening import listening
from tests.support.step_count import counting, statements_of

pytestmark = pytest.mark.both_databases


def _ready_task(rt: Runtime, instance_id: int) -> int:
    with rt.reading() as session:
        return session.execute(select(HumanTask.id).where(HumanTask.instance_id == instance_id,
                                                          HumanTask.state == "ready")).scalar_one()


@contextmanager
def _orm_use():
    """The transactions the ORM began inside the block (a write unit's Session joins its unit's transaction only
    when asked for the ORM: engine/run/unit.py), and the task and instance row objects each held at its commit."""
    began: list[Session] = []
    held: list[list[object]] = []

    def begun(session: Session, transaction) -> None:
        if transaction.parent is None:
            began.append(session)

    def seen(session: Session) -> None:
        held.append([o for o in session if isinstance(o, HumanTask | ProcessInstance)])

    with listening(Session, after_transaction_create=begun, before_commit=seen):
        yield began, held


def test_a_start_and_a_completion_hold_no_task_row_as_an_orm_object(runtime):
    rt = prepare(runtime.db)
    rt.start("bench_user_task", actor=BENCH_USER)  # the deployment read once (the catalog reads it by the ORM)
    with counting(rt) as counted, _orm_use() as (began, held):
        instance_id = rt.start("bench_user_task", actor=BENCH_USER)
    assert counted.flushes == 0
    assert (began, held) == ([], [])  # the step ran on its unit's Connection alone
    task_id = _ready_task(rt, instance_id)
    with counting(rt) as counted, _orm_use() as (began, held):
        answer = rt.complete_answered(task_id, BENCH_USER, FORM_DATA, None)
    assert counted.flushes == 0
    assert (began, held) == ([], [])
    assert answer["instance"]["status"] == "completed"
    # the task row closed through one UPDATE of the columns the completion changed; the instance's likewise
    updates = [s for s in statements_of(counted) if s.startswith("UPDATE HUMAN_TASK")]
    assert len(updates) == 1
    assert "COMPLETED_AT" in updates[0] and "COMPLETED_BY" in updates[0] and "STATE" in updates[0]
    assert "LANE" not in updates[0] and "SUMMARY" not in updates[0]
    [instance_update] = [s for s in statements_of(counted) if s.startswith("UPDATE PROCESS_INSTANCE")]
    assert "LOCK_VERSION" in instance_update.split("WHERE")[1]  # the optimistic lock
    assert "STARTED_BY" not in instance_update and "PROCESS_ID" not in instance_update


def test_a_steps_open_rows_are_records_with_their_ids(runtime):
    rt = prepare(runtime.db)
    with rt.transaction() as tx:
        deployment = rt.current_deployment(tx.session, "bench_user_task")
        step = tx.begin_step(deployment, {}, BENCH_USER, None)
        [row] = step.open_rows
        assert isinstance(row, TaskRecord) and isinstance(step.instance, InstanceRecord)
        assert row.id is not None and row.changed_columns() == frozenset()
        instance_id = step.instance.id
    assert _ready_task(rt, instance_id) == row.id
    with rt.transaction() as tx:
        instance = tx.lock_instance(instance_id)
        assert isinstance(instance, InstanceRecord) and tx.lock_instance(instance_id) is instance
        step = tx.open_step(instance, BENCH_USER, utcnow())
        assert all(isinstance(r, TaskRecord) for r in step.open_task_rows())


@pytest.mark.no_replay_check  # the workflow is cancelled without an event: replay rightly tells the difference
def test_two_steps_on_one_instance_in_one_transaction_leave_a_state_the_hash_explains(runtime):
    """The second step reads the rows the first wrote (new records of the same rows) and closes them: the
    hash at commit takes each row's newest record, so it is of the state stored."""
    rt = prepare(runtime.db)
    with rt.transaction() as tx:
        deployment = rt.current_deployment(tx.session, "bench_user_task")
        first = tx.begin_step(deployment, {}, BENCH_USER, None)
        instance = first.instance
        second = tx.open_step(instance, BENCH_USER, utcnow())
        second.workflow.cancel()
        second.sync()
        assert [r.state for r in first.open_rows] == ["ready"]  # the first step's record, left as it was
    with rt.reading() as session:
        assert state_hash.check_states(session, [instance.id])[instance.id].verdict == "ok"
        states = session.execute(select(HumanTask.state).where(HumanTask.instance_id == instance.id)).scalars().all()
    assert states == ["cancelled"]


@pytest.mark.no_replay_check  # the error is set without an event: replay rightly tells the difference
def test_an_instance_changed_outside_a_step_is_written_when_the_unit_ends(runtime):
    """A command that changes its instance's record without a step (a job's incident resolved does) has it
    written at the end of the unit of work, with its optimistic lock, and the state hash covers it."""
    rt = prepare(runtime.db)
    instance_id = rt.start("bench_user_task", actor=BENCH_USER)
    with rt.transaction() as tx:
        instance = tx.lock_instance(instance_id)
        version = instance.lock_version
        instance.error = "set outside a step"
    with rt.reading() as session:
        row = session.get(ProcessInstance, instance_id)
        assert (row.error, row.lock_version) == ("set outside a step", version + 1)
        assert state_hash.check_states(session, [instance_id])[instance_id].verdict == "ok"


def test_a_record_from_a_row_holds_its_values_and_names_only_what_changed():
    values = {key: f"v_{key}" for key in TaskRecord.COLUMNS}
    row = tuple(values.values())
    record = TaskRecord.from_row(row)
    assert record.values() == values and record.changed_columns() == frozenset()
    record.state = "v_" + "state"  # an equal value, not the very object stored: unchanged
    assert record.state is not values["state"] and record.changed_columns() == frozenset()
    record.state, record.assignee = "completed", None
    assert record.changed_columns() == {"state", "assignee"}
    record.mark_saved()
    assert record.changed_columns() == frozenset()
    assert TaskRecord(**values).changed_columns() == frozenset(TaskRecord.MUTABLE)  # never written: all of them
    for wrong in (row[:-1], (*row, "one more")):
        with pytest.raises(ValueError):
            TaskRecord.from_row(wrong)
    instance = InstanceRecord.from_row(tuple(range(len(InstanceRecord.COLUMNS))))
    assert [getattr(instance, key) for key in InstanceRecord.COLUMNS] == list(range(len(InstanceRecord.COLUMNS)))
