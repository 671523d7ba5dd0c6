"""The shape of a step (issue 18): what it costs in transactions, statements and tree walks.

Counted, never timed: a step is one write transaction; its audit events go in one multi-row
INSERT; it walks the task tree once to write back, inspects waiting tasks for timers only when
its model has timers and for messages only when its model catches some; a lone literal or a
plain data lookup is answered without the sandbox, with the sandbox's own answer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from engine.access.users import create_user
from engine.bench.core import BENCH_DIR, BENCH_USER, FORM_DATA, deploy_bench_process, prepare
from engine.bench.loop import LOOP_PROCESS
from engine.clock import utcnow
from engine.errors import FormInvalid, NotAllowed, NotFound, TaskConflict
from engine.run import queries
from engine.run.model_facts import catches_messages
from engine.run.runtime import Runtime
from engine.run.workflow_data import WALKS
from engine.sandbox.calls import run
from engine.sandbox.scripts import data_lookup, literal_value
from engine.store import audit, state_hash
from engine.store.models import AuditEvent, HumanTask, ProcessInstance, TaskEdit, User
from tests.support.step_count import Counted, counting, statements_of
from tests.support.timers import start_timers
from tests.support.world import REPO, deploy

pytestmark = pytest.mark.both_databases
_statements = statements_of  # (tests/support/step_count.py: shared with tests/test_start_shape.py)


def _events(rt: Runtime) -> int:
    with rt.db.read() as session:
        return session.execute(select(func.count()).select_from(AuditEvent)).scalar()


def _ready_task(rt: Runtime, instance_id: int) -> int:
    with rt.db.read() as session:
        return session.execute(select(HumanTask.id).where(HumanTask.instance_id == instance_id,
                                                          HumanTask.state == "ready")).scalar_one()


def test_completing_a_user_task_is_one_write_transaction_with_one_audit_batch(runtime):
    rt = prepare(runtime.db)
    instance_id = rt.start("bench_user_task", actor=BENCH_USER)
    task_id = _ready_task(rt, instance_id)
    before = _events(rt)
    walks = WALKS.copy()
    with counting(rt) as counted:
        rt.complete(task_id, BENCH_USER, FORM_DATA)
    # task_completed, instance_completed, state_written: three events, one INSERT
    assert _events(rt) - before == 3
    assert counted.batches == [3]
    # one transaction in all: the form is validated under the write lock, no read transaction before it
    assert (counted.write_transactions, counted.read_transactions) == (1, 0)
    assert WALKS["tree"] - walks["tree"] == 1
    assert WALKS["timers"] == walks["timers"]  # bench_user_task has no timers: none looked for
    # the head of the instance's stream is read once (with the task's lock) and written once
    assert sum("audit_head" in s and s.lstrip().upper().startswith("SELECT") for s in counted.statements) == 1
    assert sum(s.lstrip().upper().startswith(("UPDATE AUDIT_HEAD", "INSERT INTO AUDIT_HEAD"))
               for s in counted.statements) == 1


def test_a_new_instance_reads_no_task_rows_and_batches_every_event(runtime):
    rt = prepare(runtime.db)
    before = _events(rt)
    with counting(rt) as counted:
        rt.start("bench_service_chain", actor=BENCH_USER)
    # instance_started, ten handler_called, instance_completed, state_written
    assert _events(rt) - before == 13
    assert counted.batches == [13]
    assert counted.write_transactions == 1
    # the step's own read of the open task rows (the state hash reads its columns after the write)
    assert not any(s.lstrip().startswith("SELECT human_task.id, human_task.instance_id") for s in counted.statements)
    assert not any("task_edit" in s for s in counted.statements)  # no task closed: no drafts to drop


def _reads(statements: list[str], table: str) -> int:
    return sum(s.startswith(f"SELECT {table.upper()}.") for s in statements)


# Statements per step of the bench processes (issue 18); lower is the spec. A completion is one transaction.
# PostgreSQL reads the task's instance id with the acting user's rows, locks the instance, then locks the task
# row and its audit stream's head in one statement and reads the instance's open tasks; SQLite's BEGIN IMMEDIATE
# already holds the lock, so one statement reads the task row, its instance, its open tasks, the acting user's
# rows and the stream's head, and says whether the instance has a pending job (PostgreSQL reads them at commit)
# and whether an open task has a draft (if not, the completion deletes none). A step that opens a task needs who
# wants to hear of new tasks (engine/outbox/staff_alerts.py): the start's first statement says whether anyone
# has alerts on, and with nobody (the bench) no statement reads them.
STATEMENTS = {
    "sqlite": {"start": 5, "complete": 5, "service chain": 4},
    "postgres": {"start": 5, "complete": 10, "service chain": 4},
}


def test_statements_per_step_of_the_bench_processes(runtime, db_backend):
    rt = prepare(runtime.db)
    for process in ("bench_user_task", "bench_service_chain"):  # warm: models read and parsed once
        rt.start(process, actor=BENCH_USER)
    with counting(rt) as start:
        instance_id = rt.start("bench_user_task", actor=BENCH_USER)
    task_id = _ready_task(rt, instance_id)
    with counting(rt) as complete:
        rt.complete(task_id, BENCH_USER, FORM_DATA)
    with counting(rt) as chain:
        rt.start("bench_service_chain", actor=BENCH_USER)
    started, completed, chained = _statements(start), _statements(complete), _statements(chain)
    assert (complete.write_transactions, complete.read_transactions) == (1, 0)
    got = {"start": len(started), "complete": len(completed), "service chain": len(chained)}
    assert got == STATEMENTS[db_backend]
    # a new instance's audit stream and rows are not read back; the state hash reads no task rows; nobody has
    # alerts on, which the first statement said: no listener read
    for statements in (started, chained):
        assert _reads(statements, "audit_head") == 0 and _reads(statements, "staff_alert_preference") == 0
        assert _reads(statements, "human_task") == 0 and _reads(statements, "job") == 0
    # PostgreSQL: the task's instance id, the task row locked, the open tasks; none at commit. SQLite reads the
    # task row, its instance, the open tasks, the user and the stream's head in one statement.
    assert _reads(completed, "human_task") == (3 if db_backend == "postgres" else 1)
    assert _reads(completed, "user_account") == 0 and _reads(completed, "audit_head") == 0
    assert _reads(completed, "job") == (1 if db_backend == "postgres" else 0)
    # a new instance's row is inserted once, whole (its id reserved first), never updated in its start
    for statements in (started, chained):
        assert sum(s.startswith("INSERT INTO PROCESS_INSTANCE") for s in statements) == 1
        assert not any(s.startswith("UPDATE PROCESS_INSTANCE") for s in statements)
    # the write-back inserts and updates its instance and task rows by prebuilt statements
    # (engine/run/row_writes.py), the instance's UPDATE with its optimistic lock: no ORM flush writes anything
    assert (start.flushes, complete.flushes, chain.flushes) == (0, 0, 0)
    updates = [s for s in completed if s.startswith("UPDATE PROCESS_INSTANCE")]
    assert len(updates) == 1 and "LOCK_VERSION = " in updates[0].split("WHERE")[1]


def test_a_completion_deletes_drafts_only_where_the_lock_found_some(runtime, db_backend):
    """SQLite's lock statement says whether an open task of the instance has a draft or presence row (exact
    under BEGIN IMMEDIATE): without one no DELETE is sent; with one it is, and the draft goes."""
    rt = prepare(runtime.db)
    plain = rt.start("bench_user_task", actor=BENCH_USER)
    drafted = rt.start("bench_user_task", actor=BENCH_USER)
    drafted_task = _ready_task(rt, drafted)
    rt.task_heartbeat(drafted_task, BENCH_USER)
    with counting(rt) as without:
        rt.complete(_ready_task(rt, plain), BENCH_USER, FORM_DATA)
    with counting(rt) as with_draft:
        rt.complete(drafted_task, BENCH_USER, FORM_DATA)
    deletes = [sum(s.lstrip().upper().startswith("DELETE FROM TASK_EDIT") for s in c.statements)
               for c in (without, with_draft)]
    assert deletes == ([0, 1] if db_backend == "sqlite" else [1, 1])
    with rt.reading() as session:
        assert session.execute(select(func.count()).select_from(TaskEdit)).scalar() == 0


def _writes(counted: Counted) -> list[str]:
    return [s for s in _statements(counted) if s.startswith(("INSERT", "UPDATE", "DELETE"))]


def test_a_refused_completion_refuses_in_order_and_writes_nothing(runtime):
    """The completion's one transaction checks, in this order: the task exists (404), the acting user is known,
    active and holds the task's lane (403), the task is ready and not claimed by another (409), the form data is
    valid (422). Whatever else is wrong too, the first of these is the answer; a refusal writes nothing."""
    rt = prepare(runtime.db)
    with runtime.db.write() as session, session.begin():
        create_user(session, "bench_other", "pw-other-1", ["staff"])
        create_user(session, "bench_manager", "pw-manager-1", ["manager"])
    claimed = _ready_task(rt, rt.start("bench_user_task", actor=BENCH_USER))
    rt.claim(claimed, "bench_other")
    done = _ready_task(rt, rt.start("bench_user_task", actor=BENCH_USER))
    rt.complete(done, BENCH_USER, FORM_DATA)
    task_id = _ready_task(rt, rt.start("bench_user_task", actor=BENCH_USER))
    bad = {"note": "no approval"}  # `approved` is required
    refusals = [  # (task, actor, data, the refusal)
        (task_id + 1000, BENCH_USER, bad, NotFound), (task_id + 1000, "nobody_at_all", FORM_DATA, NotFound),
        (task_id, "nobody_at_all", bad, NotAllowed), (task_id, "bench_manager", bad, NotAllowed),
        (claimed, "bench_manager", bad, NotAllowed), (claimed, BENCH_USER, bad, TaskConflict),
        (done, BENCH_USER, bad, TaskConflict), (task_id, BENCH_USER, bad, FormInvalid),
        (task_id, BENCH_USER, {"approved": "yes"}, FormInvalid),
    ]
    before = _events(rt)
    for task, actor, data, refusal in refusals:
        with counting(rt) as counted, pytest.raises(refusal):
            rt.complete(task, actor, data)
        assert _writes(counted) == [], (task, actor, data)
        assert (counted.write_transactions, counted.read_transactions) == (1, 0)
    with rt.transaction() as tx:
        tx.session.execute(update(User).where(User.username == BENCH_USER).values(active=False))
    with pytest.raises(NotAllowed):
        rt.complete(task_id, BENCH_USER, bad)
    with rt.transaction() as tx:
        tx.session.execute(update(User).where(User.username == BENCH_USER).values(active=True))
    assert _events(rt) == before
    with rt.reading() as session:
        states = dict(session.execute(select(HumanTask.id, HumanTask.state)
                                      .where(HumanTask.id.in_([claimed, task_id]))).all())
    assert states == {claimed: "ready", task_id: "ready"}
    rt.complete(task_id, BENCH_USER, FORM_DATA)
    assert all(t["id"] != task_id for t in rt.tasks(user=BENCH_USER))


def test_a_completion_answers_its_open_tasks_from_the_step(runtime, db_backend):
    """`complete_answered` lists the instance's open tasks as the step left them (the rows the state hash
    records), without reading the task rows again: the same answer as reading them after the step."""
    rt = prepare(runtime.db)
    deploy_bench_process(runtime.db, BENCH_DIR / f"{LOOP_PROCESS}.bpmn")
    instance_id = rt.start(LOOP_PROCESS, data={"counter": 0, "passes": 3}, actor=BENCH_USER)
    first = _ready_task(rt, instance_id)
    with counting(rt) as counted:
        answer = rt.complete_answered(first, BENCH_USER, {}, None)
    with rt.reading() as session:
        read_back = [t for t in queries.instance_tasks(session, instance_id) if t["state"] == "ready"]
    assert len(read_back) == 1 and read_back[0]["id"] != first
    assert answer["open_tasks"] == read_back
    assert answer["instance"]["data"]["counter"] == 1
    statements = _statements(counted)
    written = next(i for i, s in enumerate(statements) if s.startswith("UPDATE PROCESS_INSTANCE"))
    assert _reads(statements[written:], "human_task") == 0  # only the lock's reads, before the write-back
    assert _reads(statements, "human_task") == (3 if db_backend == "postgres" else 1)


def test_the_instance_update_keeps_its_optimistic_lock(runtime):
    """The write-back's prebuilt UPDATE names the lock_version it read: a row changed behind the step's back
    makes the step a TaskConflict (409) and none of it is written."""
    rt = prepare(runtime.db)
    instance_id = rt.start("bench_user_task", actor=BENCH_USER)
    table = ProcessInstance.__table__
    with pytest.raises(TaskConflict), rt.transaction() as tx:
        instance = tx.lock_instance(instance_id)
        step = tx.open_step(instance, BENCH_USER, utcnow())
        tx.session.connection().execute(update(table).where(table.c.id == instance_id)
                                        .values(lock_version=table.c.lock_version + 1))
        step.workflow.cancel()
        step.sync()
    with rt.reading() as session:
        assert session.get(ProcessInstance, instance_id).status == "running"
    assert len(rt.tasks(user=BENCH_USER, instance_id=instance_id)) == 1


@pytest.mark.no_replay_check  # the lane is changed without an event: replay rightly tells the difference
def test_the_state_hash_reads_back_rows_changed_behind_the_steps_back(runtime):
    """A bulk statement on task rows, or a task row the step did not know changed through the session:
    the state hash reads the rows back rather than trust the step's, so the hash is of what is stored."""
    rt = prepare(runtime.db)
    ids = []
    for change in ("bulk", "unknown row"):
        with rt.transaction() as tx:
            deployment = rt.current_deployment(tx.session, "bench_user_task")
            instance = tx.begin(deployment, {}, BENCH_USER, None)
            ids.append(instance.id)
            if change == "bulk":  # the session's own objects are left as they were
                tx.session.execute(update(HumanTask).where(HumanTask.instance_id == instance.id).values(lane="manager"),
                                   execution_options={"synchronize_session": False})
            else:
                tx.session.flush()
                tx.session.expunge_all()
                row = tx.session.execute(select(HumanTask).where(HumanTask.instance_id == instance.id)).scalar_one()
                row.lane = "manager"
    with rt.reading() as session:
        assert {c.verdict for c in state_hash.check_states(session, ids).values()} == {"ok"}
        lanes = session.execute(select(HumanTask.lane).where(HumanTask.instance_id.in_(ids))).scalars().all()
        assert lanes == ["manager", "manager"]


def test_timers_are_looked_for_only_in_a_model_that_has_them(timer_runtime):
    rt = timer_runtime
    walks = WALKS.copy()
    start_timers(rt, 1, datetime.now(UTC) + timedelta(days=1))
    assert WALKS["timers"] > walks["timers"]
    bench = prepare(rt.db)
    walks = WALKS.copy()
    bench.start("bench_user_task", actor=BENCH_USER)
    assert WALKS["timers"] == walks["timers"]


def test_messages_are_looked_for_only_in_a_model_that_catches_them(runtime):
    rt = prepare(runtime.db)
    walks = WALKS.copy()
    rt.start("bench_user_task", actor=BENCH_USER, business_key="K-1")
    assert WALKS["messages"] == walks["messages"]
    deploy(runtime, REPO / "processes" / "followup_call.bpmn")
    with rt.reading() as session:
        followup = rt.current_deployment(session, "followup_call").model
        bench = rt.current_deployment(session, "bench_user_task").model
    assert catches_messages(followup) and not catches_messages(bench)


def test_a_rolled_back_savepoint_takes_back_its_events_only(runtime):
    with runtime.db.write() as session, session.begin():
        audit.append(session, kind="kept", actor="t", at=utcnow(), payload={"n": 1})
        savepoint = session.begin_nested()
        audit.append(session, kind="dropped", actor="t", at=utcnow(), payload={"n": 2})
        savepoint.rollback()
        audit.append(session, kind="kept", actor="t", at=utcnow(), payload={"n": 3})
        # a read of the audit tables sees what the transaction appended so far
        assert session.execute(select(func.count()).where(AuditEvent.kind == "kept")).scalar() == 2
        savepoint = session.begin_nested()
        audit.append(session, kind="kept", actor="t", at=utcnow(), payload={"n": 4})
        savepoint.commit()
    with runtime.db.read() as session:
        kinds = session.execute(select(AuditEvent.kind, AuditEvent.payload).where(
            AuditEvent.stream == audit.SYSTEM_STREAM).order_by(AuditEvent.seq)).all()
        assert [k for k, _ in kinds].count("dropped") == 0
        assert [p for k, p in kinds if k == "kept"] == ['{"n":1}', '{"n":3}', '{"n":4}']
        assert audit.verify(session) == []


@pytest.mark.parametrize("source", ["0", "-3", "2.5", "'PT1H'", '"确认"', "True", "None", "counter['n']",
                                    "counter", "items[1]['code']", "items[0]"])
def test_what_is_answered_without_the_sandbox_is_the_sandbox_answer(source, db_backend):
    if db_backend != "sqlite":
        pytest.skip("no database involved")
    data = {"counter": {"n": 7}, "items": [{"code": "A"}, {"code": "B"}], "flag": True}
    known = literal_value(source) or data_lookup(source, data)
    assert known is not None
    assert known[0] == run("eval", source, data)["value"]


@pytest.mark.parametrize("source", ["missing", "counter['x']", "items[5]", "1 + 1", "len(items)", "now_iso",
                                    "counter.n", "-True", "1e999", "items[-1]"])
def test_anything_else_still_goes_to_the_sandbox(source, db_backend):
    if db_backend != "sqlite":
        pytest.skip("no database involved")
    data = {"counter": {"n": 7}, "items": [{"code": "A"}]}
    assert literal_value(source) is None and data_lookup(source, data) is None
