"""Issue 16: a user task without a form (a bpmn.io file) is worked through the API with {} and
through its page, which shows the documentation and a confirm button."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.api import Api
from tests.support.world import deploy

PLAIN = Path(__file__).parents[1] / "fixtures" / "bpmn" / "thirdparty" / "bpmnio_plain.bpmn"


@pytest.fixture
def review(app, runtime) -> dict:
    """An instance of the bpmn.io process and its open user task (no lane, no form: lane staff)."""
    deploy(runtime, PLAIN)
    instance = runtime.start("Process_0h7f4k2", actor="agent1")
    [task] = runtime.tasks(instance_id=instance)
    return task


def test_the_api_completes_a_task_without_a_form_with_an_empty_object(app, runtime, review):
    api = Api(app, runtime)
    shown = api.as_("agent1").get(f"/api/v1/tasks/{review['id']}").get_json()
    assert (shown["lane"], shown["form"]) == ("staff", None)
    response = api.as_("agent1").post(f"/api/v1/tasks/{review['id']}/complete", {})
    assert response.status_code == 200, response.get_data(as_text=True)
    instance = runtime.show(review["instance_id"])
    assert instance["status"] == "completed" and instance["data"]["reviewed"] is True


def test_the_api_refuses_data_that_is_no_object_and_users_outside_the_lane(app, runtime, review):
    api = Api(app, runtime)
    url = f"/api/v1/tasks/{review['id']}/complete"
    assert api.as_("agent1").post(url, [1]).status_code in (400, 422)
    assert api.as_("qc1").post(url, {}).status_code == 403, "qc holds no staff lane"
    assert runtime.task(review["id"])["state"] == "ready"


def test_the_page_shows_the_documentation_and_a_confirm_button(client_for, runtime, review):
    agent = client_for("agent1")
    page = agent.get(f"/tasks/{review['id']}").get_data(as_text=True)
    assert "Check the request and confirm it." in page
    assert "确认完成" in page and "提交并完成" not in page and "带 * 的为必填项" not in page
    response = agent.post(f"/tasks/{review['id']}", {"confirm": "1"})
    assert response.status_code == 302
    assert runtime.show(review["instance_id"])["status"] == "completed"
    assert runtime.task(review["id"])["completed_by"] == "agent1"


def test_the_page_s_key_value_rows_become_data(client_for, runtime, review):
    agent = client_for("agent1")
    page = agent.get(f"/tasks/{review['id']}").get_data(as_text=True)
    assert page.count('name="data_key"') == 3
    response = agent.http.post(f"/tasks/{review['id']}", data={
        "csrf_token": agent.token(), "data_key": ["approved", "note", "", "amount"],
        "data_value": ["true", "looks fine", "", "12.5"]})
    assert response.status_code == 302
    data = runtime.show(review["instance_id"])["data"]
    assert (data["approved"], data["note"], data["amount"], data["reviewed"]) == (True, "looks fine", 12.5, True)


@pytest.mark.parametrize("key", ["1st", "_secret", "typename", "has space"])
def test_a_bad_data_name_is_refused_with_the_rows_kept(client_for, runtime, review, key):
    agent = client_for("agent1")
    response = agent.http.post(f"/tasks/{review['id']}", data={
        "csrf_token": agent.token(), "data_key": [key], "data_value": ["kept value"]})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "无效" in page and "kept value" in page
    assert runtime.task(review["id"])["state"] == "ready"


def test_a_data_name_given_twice_is_refused(client_for, runtime, review):
    agent = client_for("agent1")
    response = agent.http.post(f"/tasks/{review['id']}", data={
        "csrf_token": agent.token(), "data_key": ["a", "a"], "data_value": ["1", "2"]})
    assert response.status_code == 422 and "重复" in response.get_data(as_text=True)
