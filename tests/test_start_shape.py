"""The start's shape (issue 18): one write transaction whose first statement reads the deployment, the new
instance's id and the starter's rows together, answering the starter's open tasks from the rows it wrote,
with the refusals of the reads it folds (unknown process 404, unknown or inactive user 403, not the start
lane 403). Counted, never timed."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.access.users import create_user, set_active
from engine.bench.core import BENCH_USER, prepare
from engine.errors import NotAllowed, NotFound
from engine.run.start_reads import read_start_facts
from engine.store.audit import SYSTEM_ACTOR
from engine.store.models import HumanTask, ProcessInstance
from tests.support.step_count import counting, statements_of

pytestmark = pytest.mark.both_databases


def _instances(rt) -> int:
    with rt.db.read() as session:
        return session.execute(select(func.count()).select_from(ProcessInstance)).scalar()


def test_a_start_reads_once_writes_once_and_answers_the_starters_task(runtime, db_backend):
    rt = prepare(runtime.db)
    rt.start("bench_user_task", actor=BENCH_USER)  # warm: the model read and parsed once
    with counting(rt) as counted:
        answer = rt.start_answered("bench_user_task", actor=BENCH_USER)
    assert (counted.write_transactions, counted.read_transactions) == (1, 0)
    statements = statements_of(counted)
    reads_before_writing = statements[:next(i for i, s in enumerate(statements) if s.startswith("INSERT"))]
    assert len(reads_before_writing) == 1, reads_before_writing
    [facts] = reads_before_writing
    next_id = "NEXTVAL(PG_GET_SERIAL_SEQUENCE" if db_backend == "postgres" else "MAX(PROCESS_INSTANCE.ID)"
    assert all(part in facts for part in ("CURRENT_VERSION", next_id, "USER_ACCOUNT", "USER_ROLE")), facts
    with rt.db.read() as session:
        [row] = session.execute(select(HumanTask).where(HumanTask.instance_id == answer["instance"]["id"])).scalars()
    [task] = answer["open_tasks"]
    assert (task["id"], task["task"], task["lane"], task["state"]) == (row.id, row.task, "staff", "ready")
    assert answer["personal_data_shown"] is True and answer["process_name"] == "基准：单个用户任务"
    assert answer["instance"]["started_by"] == BENCH_USER and answer["instance"]["status"] == "running"


def test_a_system_start_reads_no_user_and_answers_no_tasks(runtime):
    rt = prepare(runtime.db)
    rt.start("bench_user_task")
    with counting(rt) as counted:
        answer = rt.start_answered("bench_user_task")
    [facts] = [s for s in statements_of(counted) if "CURRENT_VERSION" in s]
    assert "USER_ACCOUNT" not in facts
    assert answer["open_tasks"] == [] and answer["instance"]["started_by"] == SYSTEM_ACTOR
    assert rt.tasks(instance_id=answer["instance"]["id"])[0]["lane"] == "staff", "the task is open all the same"


def test_the_start_refuses_in_the_order_and_words_of_the_reads_it_folds(runtime):
    rt = prepare(runtime.db)
    with rt.db.write() as session, session.begin():
        create_user(session, "gone", "gone-password", ["staff"])
        set_active(session, "gone", False)
        create_user(session, "qc_only", "qc-password", ["qc"])
    before = _instances(rt)
    refusals = [
        (("nope", None, "nobody"), NotFound, "process.not_deployed"),  # the process before the user
        (("bench_user_task", 99, "nobody"), NotFound, "process.no_version"),
        (("bench_user_task", 0, BENCH_USER), NotFound, "process.no_version"),
        (("bench_user_task", None, "nobody"), NotAllowed, "user.inactive"),
        (("bench_user_task", None, "gone"), NotAllowed, "user.inactive"),
        (("bench_user_task", 1, "qc_only"), NotAllowed, "access.lane"),
    ]
    for (process, version, actor), error, key in refusals:
        with pytest.raises(error) as raised:
            rt.start_answered(process, actor=actor, version=version)
        assert raised.value.key == key, (process, version, actor)
    assert _instances(rt) == before, "nothing started"
    assert rt.start_answered("bench_user_task", actor=BENCH_USER, version=1)["instance"]["version"] == 1


def test_ids_reserved_twice_in_one_transaction_differ(runtime):
    """A transaction that starts two instances (a message starting another) reserves two ids."""
    rt = prepare(runtime.db)
    first = rt.start("bench_user_task")
    with rt.transaction() as tx:
        one, two = (read_start_facts(tx.session, tx.catalog, tx.is_sqlite, "bench_user_task", None, BENCH_USER)
                    for _ in range(2))
    assert first < one.instance_id < two.instance_id
    assert one.starter.username == BENCH_USER and "staff" in one.starter.roles
    assert rt.start("bench_user_task") > first
