"""`policy.may_see_personal_data` with a task row the caller already holds (an inbox row, the task just
completed) gives the same answer as without it: the row only spares the query when it alone shows that
the viewer works the instance. Checked against the real query on SQLite and PostgreSQL, for viewers of
every kind and task rows with every kind of routing value."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from engine.access import policy
from engine.access.policy import TaskFacts, Viewer
from engine.run.incidents import incident_of
from engine.store.models import HumanTask
from tests.support.complaint import COMPLAINT
from tests.support.listening import listening

pytestmark = [pytest.mark.both_databases,
              pytest.mark.no_replay_check]  # the task rows' routing is rewritten on purpose below

ROUTINGS = [{}, {"desk": "邮轮"}, {"desk": "旅游"}, {"desk": None}, {"desk": ""}, {"desk": 5}, {"branch": "SH02"}]
VIEWERS = [
    Viewer(name, frozenset(roles), attributes)
    for name, roles, attributes in itertools.product(
        ["agent1", "someone"],
        [{"agent", "staff"}, {"guide", "staff"}, {"qc"}, {"staff"}, {"manager"}, {"supervisor"}, {"auditor"},
         {"owner"}],
        [{}, {"desk": "邮轮"}, {"desk": "旅游", "branch": "SH02"}],
    )
]


def test_a_known_task_row_never_changes_the_answer_only_spares_the_query(complaint_runtime):
    runtime = complaint_runtime
    iid = runtime.start("complaint_handling", actor="agent1")
    [task] = runtime.tasks(instance_id=iid)
    runtime.complete(task["id"], "agent1", COMPLAINT)  # one completed row (agent1's), one open row (the guide's)
    spared = 0
    for routing in ROUTINGS:
        with runtime.db.write() as session, session.begin():
            for row in session.execute(select(HumanTask).where(HumanTask.instance_id == iid)).scalars():
                row.routing = routing
        with runtime.db.read() as session:
            rows = session.execute(select(HumanTask).where(HumanTask.instance_id == iid)).scalars().all()
            assert len(rows) == 2
            for viewer, row in itertools.product(VIEWERS, rows):
                asked = policy.may_see_personal_data(session, viewer, iid, incident_of)
                for known in (row, TaskFacts(row.id, row.lane, row.routing or {}, row.assignee, row.completed_by)):
                    queries = []
                    with _counting(session, queries):
                        answer = policy.may_see_personal_data(session, viewer, iid, incident_of, known)
                    assert answer == asked, (viewer, routing, row.lane, row.completed_by)
                    spared += answer and not queries and not viewer.has(policy.PERSONAL_DATA_ALWAYS)
    assert spared > 0, "a serving viewer's answer came from the row alone"


def _counting(session, into: list[str]):
    """Collects the statements `session` runs inside the block."""
    return listening(session.get_bind(), before_cursor_execute=lambda _conn, _cursor, sql, *_args: into.append(sql))
