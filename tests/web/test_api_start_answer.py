"""POST /api/v1/processes/<id>/instances answers with the starter's open tasks (issue 18): the new instance's
ready tasks its starter may complete now, from the start's own write transaction, masked as the instance."""

from __future__ import annotations

import pytest

from tests.support.api import Api
from tests.support.one_task import LANES, ONE_LANE, deploy_one_task

pytestmark = pytest.mark.both_databases

START = "/api/v1/processes/{}/instances"
PHONE = "13801234567"
@pytest.fixture
def api(app, runtime):
    return Api(app, runtime, language="en")


def _ready(api, user: str, instance_id: int) -> list[dict]:
    items = api.as_(user).get(f"/api/v1/instances/{instance_id}/tasks").get_json()["items"]
    return [t for t in items if t["state"] == "ready"]


def test_a_starter_who_may_work_the_first_task_gets_it_in_the_answer(api):
    response = api.as_("agent1").post(START.format("complaint_handling"), {"data": {"contact_phone": PHONE}})
    assert response.status_code == 201
    answer = response.get_json()
    [task] = answer["open_tasks"]
    assert (task["task"], task["lane"], task["state"], task["assignee"]) == ("receive_complaint", "staff", "ready", None)
    assert _ready(api, "agent1", answer["id"]) == [task], "the answer is what the instance's task list says"
    assert answer["data"]["contact_phone"] == PHONE, "the starter serves the customer: shown whole"
    # the page the first task opens on is theirs to complete
    assert api.as_("agent1").get(f"/api/v1/tasks/{task['id']}").status_code == 200


def test_a_starter_outside_the_first_tasks_lane_gets_none(api, runtime, tmp_path):
    deploy_one_task(runtime, tmp_path, "start_staff_work_qc", LANES.format(start="staff", task="qc"))
    answer = api.as_("agent1").post(START.format("start_staff_work_qc")).get_json()
    assert answer["open_tasks"] == [], "the first task is QC's: not the starter's to complete"
    [ready] = _ready(api, "agent1", answer["id"])
    assert ready["lane"] == "qc", "it is open all the same, in QC's inbox"
    assert [t["id"] for t in api.as_("qc1").get("/api/v1/tasks").get_json()["items"]] == [ready["id"]]
    assert api.as_("qc1").post(START.format("start_staff_work_qc")).status_code == 403


def test_a_starter_who_does_not_serve_the_customer_gets_the_answer_masked(api, runtime, tmp_path):
    deploy_one_task(runtime, tmp_path, "managers_own", ONE_LANE.format(lane="manager"))
    response = api.as_("manager1").post(START.format("managers_own"), {"data": {"contact_phone": PHONE, "note": "x"}})
    assert response.status_code == 201
    answer = response.get_json()
    assert answer["data"] == {"contact_phone": "138****4567", "note": "x"}, "masked as GET /instances/<id>"
    assert answer["data"] == api.as_("manager1").get(f"/api/v1/instances/{answer['id']}").get_json()["data"]
    [task] = answer["open_tasks"]
    assert (task["task"], task["lane"], task["name"]) == ("work", "manager", "办理")
    # a supervisor holding the lane too sees it whole (policy.may_see_personal_data: always)
    deploy_one_task(runtime, tmp_path, "supervisors_own", ONE_LANE.format(lane="supervisor"))
    shown = api.as_("supervisor1").post(START.format("supervisors_own"), {"data": {"contact_phone": PHONE}}).get_json()
    assert shown["data"]["contact_phone"] == PHONE and [t["lane"] for t in shown["open_tasks"]] == ["supervisor"]


def test_a_refused_start_answers_no_tasks_and_starts_nothing(api):
    response = api.as_("auditor1").post(START.format("complaint_handling"))
    assert response.status_code == 403 and "open_tasks" not in response.get_json()
    assert api.as_("agent1").post(START.format("nope")).status_code == 404
    assert api.as_("auditor1").get("/api/v1/instances").get_json()["total"] == 0
