"""/api/v1 who has a task's form open, and one's own draft of it: success, bad bodies, every role,
unknown and finished tasks. Every answer is checked against the OpenAPI document (tests/support/api.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.clock import frozen_at
from tests.support.api import Api
from tests.support.complaint import COMPLAINT
from tests.support.world import TEST_USERS

T0 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
# The complaint intake of a complaint agent1 starts: lane staff, no desk or branch yet.
EDITORS = {"agent1", "agent2", "agent3", "receptionist1", "sales1", "sales2", "sales3", "operator1", "guide1",
           "supervisor1"}


@pytest.fixture
def api(app, runtime):
    return Api(app, runtime)


@pytest.fixture
def task(api) -> dict:
    instance = api.start()
    return api.open_task(instance["id"], "receive_complaint")


def url(task: dict, action: str) -> str:
    return f"/api/v1/tasks/{task['id']}/{action}"


def test_a_second_user_learns_who_else_has_the_form_open(api, task):
    with frozen_at(T0):
        first = api.as_("agent1").post(url(task, "presence"))
    assert first.status_code == 200
    assert first.get_json() == {"editors": [], "now": "2026-11-30T02:00:00Z"}
    with frozen_at(T0 + timedelta(seconds=70)):
        second = api.as_("operator1").post(url(task, "presence"), {}).get_json()
    assert second == {"editors": [{"username": "agent1", "display_name": "agent1", "seen_at": "2026-11-30T02:00:00Z"}],
                      "now": "2026-11-30T02:01:10Z"}


def test_a_draft_is_saved_read_back_by_its_owner_only_and_discarded(api, task):
    me, other = api.as_("agent1"), api.as_("operator1")
    assert me.get(url(task, "draft")).get_json() == {"draft": None}
    with frozen_at(T0):
        saved = me.post(url(task, "draft"), {"data": {"customer_name": "张建国", "kind": None,
                                                      "escalated_to_authority": "false"}})
    assert saved.status_code == 200
    draft = {"data": {"customer_name": "张建国", "kind": None, "escalated_to_authority": "false"},
             "saved_at": "2026-11-30T02:00:00Z"}
    assert saved.get_json() == {"draft": draft}
    assert me.get(url(task, "draft")).get_json() == {"draft": draft}
    assert other.get(url(task, "draft")).get_json() == {"draft": None}
    assert me.post(url(task, "draft/discard")).get_json() == {"discarded": True}
    assert me.get(url(task, "draft")).get_json() == {"draft": None}
    assert me.post(url(task, "draft/discard")).get_json() == {"discarded": False}


@pytest.mark.parametrize(("body", "field"), [
    ({}, "data"),
    ({"data": "张"}, "data"),
    ({"data": {"no_such_field": "x"}}, "data.no_such_field"),
    ({"data": {"customer_name": 3}}, "data.customer_name"),
    ({"data": {}, "extra": 1}, "extra"),
])
def test_a_bad_draft_is_a_422_naming_the_field(api, task, body, field):
    response = api.as_("agent1").post(url(task, "draft"), body)
    assert response.status_code == 422
    assert response.get_json()["field"] == field
    assert api.as_("agent1").get(url(task, "draft")).get_json() == {"draft": None}


def test_presence_and_discard_take_no_fields(api, task):
    for action in ("presence", "draft/discard"):
        response = api.as_("agent1").post(url(task, action), {"window": 5})
        assert (response.status_code, response.get_json()["field"]) == (422, "window")


@pytest.mark.parametrize("user", [u for u, _role in TEST_USERS])
def test_every_role_who_may_open_the_task_page_may_and_no_one_else(api, task, user):
    caller = api.as_(user)
    expected = 200 if user in EDITORS else 403
    assert caller.post(url(task, "presence")).status_code == expected
    assert caller.get(url(task, "draft")).status_code == expected
    assert caller.post(url(task, "draft"), {"data": {"customer_name": "x"}}).status_code == expected
    assert caller.post(url(task, "draft"), {"data": "x"}).status_code == (422 if user in EDITORS else 403)
    assert caller.post(url(task, "draft/discard")).status_code == expected


def test_anonymous_is_401_and_an_unknown_task_404(api):
    assert api.anonymous().post("/api/v1/tasks/1/presence").status_code == 401
    for method, action in (("POST", "presence"), ("GET", "draft"), ("POST", "draft"), ("POST", "draft/discard")):
        response = api.as_("agent1").call(method, f"/api/v1/tasks/999999/{action}", {"data": {}})
        assert response.status_code == 404, action


def test_a_finished_task_is_a_409_and_its_drafts_are_gone(api, runtime, task):
    me = api.as_("agent1")
    me.post(url(task, "draft"), {"data": {"customer_name": "张"}})
    runtime.complete(task["id"], "agent1", COMPLAINT)
    for method, action in (("POST", "presence"), ("GET", "draft"), ("POST", "draft"), ("POST", "draft/discard")):
        response = me.call(method, url(task, action), {"data": {"customer_name": "张"}} if action == "draft" else None)
        assert response.status_code == 409, action
