"""The start page's POST (webapp/tasks.py `start`): staff land on their first form straight from the start's
answer (issue 18), with no read transaction after the start's write; another lane's first task leads to the
instance page."""

from __future__ import annotations

import html
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from tests.support.one_task import LANES, deploy_one_task
from tests.support.step_count import one_attempt

pytestmark = pytest.mark.both_databases


@contextmanager
def transactions(runtime):
    """Whether each transaction the block opened wrote (engine/store/db.py marks the write ones)."""
    seen: list[bool] = []

    def on_begin(connection) -> None:
        seen.append(bool(connection.get_execution_options().get("tourflow_write")))

    event.listen(runtime.db.engine, "begin", on_begin)
    try:
        with one_attempt():
            yield seen
    finally:
        event.remove(runtime.db.engine, "begin", on_begin)


def test_the_start_lands_on_the_first_form_from_its_own_answer(runtime, client_for):
    agent = client_for("agent1")
    agent.token()  # the CSRF token's page, before counting
    with transactions(runtime) as seen:
        response = agent.post("/start/complaint_handling")
    assert response.status_code == 302
    [task] = runtime.tasks(user="agent1")
    assert response.headers["Location"] == f"/tasks/{task['id']}" and task["task"] == "receive_complaint"
    # the request's user and session are read first; then the start's one write, and nothing after it
    assert seen[-1] is True and seen.count(True) == 1, seen
    page = html.unescape(agent.get(response.headers["Location"]).get_data(as_text=True))
    assert f"已发起「游客投诉处理流程」（实例 #{task['instance_id']}）。" in page, "named after the started version"


def test_a_first_task_in_another_lane_leads_to_the_instance_page(runtime, client_for, tmp_path):
    deploy_one_task(runtime, tmp_path, "start_staff_work_qc", LANES.format(start="staff", task="qc"))
    response = client_for("agent1").post("/start/start_staff_work_qc")
    assert response.status_code == 302
    [task] = runtime.tasks(lane="qc")
    assert response.headers["Location"] == f"/instances/{task['instance_id']}"
