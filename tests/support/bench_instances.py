"""Finished instances of the bench processes, for tests that read what steps wrote."""

from __future__ import annotations

from engine.bench.core import BENCH_USER, FORM_DATA
from engine.run.runtime import Runtime
from engine.store.models import HumanTask


def user_task_and_chain(rt: Runtime) -> tuple[int, int]:
    """A `bench_user_task` instance completed and a `bench_service_chain` instance (finished by its start): their
    ids. `rt` has the bench processes deployed (engine/bench/core.py `prepare`)."""
    user_task = rt.start("bench_user_task", actor=BENCH_USER)
    with rt.db.read() as session:
        task = session.query(HumanTask).filter_by(instance_id=user_task).one()
    rt.complete(task.id, BENCH_USER, FORM_DATA)
    return user_task, rt.start("bench_service_chain", actor=BENCH_USER)
