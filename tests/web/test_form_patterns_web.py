"""A form whose pattern would make Python's `re` backtrack for hours answers at once, over the
API (422 naming the field) and on the task page (the message beside the field)."""

from __future__ import annotations

import pytest

from tests.support.api import Api
from tests.support.form_patterns import EVIL, REQUEST, deploy_with_code_field


@pytest.fixture
def api(app, runtime):
    return Api(app, runtime, language="en")  # these tests read the English messages (Accept-Language: en)


@pytest.fixture
def task_id(runtime, tmp_path):
    return deploy_with_code_field(runtime, tmp_path)


def test_api_answers_422_naming_the_field_for_data_against_a_catastrophic_pattern(api, task_id):
    agent = api.bearer("agent1")
    response = agent.post(f"/api/v1/tasks/{task_id}/complete", REQUEST | {"code": EVIL})
    body = response.get_json()
    assert (response.status_code, body["error"], body["field"]) == (422, "validation_error", "code")
    assert "does not match" in body["message"]

    response = agent.post(f"/api/v1/tasks/{task_id}/complete", REQUEST | {"code": "a" * 50_000})
    assert (response.status_code, response.get_json()["field"]) == (422, "code")
    assert agent.get(f"/api/v1/tasks/{task_id}").get_json()["state"] == "ready"

    assert agent.post(f"/api/v1/tasks/{task_id}/complete", REQUEST | {"code": "aaa"}).status_code == 200


def test_the_task_page_shows_the_pattern_error_beside_the_field(client_for, task_id):
    agent = client_for("agent1")
    form = {"customer_name": "张三", "travel_date": "2026-12-01", "budget": "5000", "code": EVIL}
    response = agent.post(f"/tasks/{task_id}", form)
    assert response.status_code == 422
    assert "格式不正确" in response.get_data(as_text=True)
