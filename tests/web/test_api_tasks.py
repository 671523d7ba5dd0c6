"""/api/v1 tasks: the inbox list, one task, claim, unclaim, reassign, complete."""

from __future__ import annotations

import pytest

from tests.support.api import Api
from tests.support.complaint import COMPLAINT

LOCAL = {"resolved_locally": True, "local_action": "当晚更换同级酒店"}


@pytest.fixture
def api(app, runtime):
    return Api(app, runtime, language="en")  # these tests read the English messages (Accept-Language: en)


@pytest.fixture
def receive(api):
    """A new complaint instance and its open receive_complaint task (lane staff)."""
    instance = api.start()
    return api.open_task(instance["id"], "receive_complaint") | {"instance_id": instance["id"]}


def _url(task: dict, action: str = "") -> str:
    return f"/api/v1/tasks/{task['id']}" + (f"/{action}" if action else "")


# ---- the inbox ----------------------------------------------------------------------------
def test_inbox_lists_my_lanes_with_counts_and_pages(api):
    ids = [api.start()["id"] for _ in range(3)]
    page = api.as_("agent1").get("/api/v1/tasks?per_page=2").get_json()
    assert (page["total"], page["page"], page["per_page"], page["pages"]) == (3, 1, 2, 2)
    assert [i["instance_id"] for i in page["items"]] == ids[:2]
    assert page["items"][0]["lane"] == "staff" and page["items"][0]["due_state"] in ("ok", "due_soon", "none")
    assert page["counts"]["by_lane"] == {"staff": 3}
    second = api.as_("agent1").get("/api/v1/tasks?per_page=2&page=2&sort=age").get_json()
    assert [i["instance_id"] for i in second["items"]] == ids[2:]
    assert api.as_("qc1").get("/api/v1/tasks").get_json()["total"] == 0, "qc holds no staff lane"
    assert api.bearer("auditor1").get("/api/v1/tasks").get_json()["total"] == 3, "auditors see every lane"


def test_inbox_filters(api, receive):
    other = api.open_task(api.start()["id"], "receive_complaint")
    agent = api.as_("agent1")
    assert agent.post(_url(receive, "claim")).status_code == 200
    assert [i["id"] for i in agent.get("/api/v1/tasks?mine=true").get_json()["items"]] == [receive["id"]]
    assert [i["id"] for i in agent.get("/api/v1/tasks?unclaimed=1").get_json()["items"]] == [other["id"]]
    assert agent.get("/api/v1/tasks?lane=staff&process=complaint_handling").get_json()["total"] == 2
    assert agent.get("/api/v1/tasks?lane=qc").get_json()["total"] == 0
    assert agent.get("/api/v1/tasks?process=nothing").get_json()["total"] == 0
    assert agent.get("/api/v1/tasks?overdue=false").get_json()["total"] == 2
    assert agent.get("/api/v1/tasks?overdue=true").get_json()["total"] == 0
    assert agent.get("/api/v1/tasks?desk=nowhere").get_json()["total"] == 0
    # another staff member does not see agent1's claimed task
    assert [i["id"] for i in api.as_("receptionist1").get("/api/v1/tasks").get_json()["items"]] == [other["id"]]


@pytest.mark.parametrize("query, field", [
    ("page=0", "page"), ("page=x", "page"), ("per_page=0", "per_page"), ("per_page=201", "per_page"),
    ("sort=name", "sort"), ("mine=maybe", "mine"), ("overdue=2", "overdue"), ("unclaimed=yes%21", "unclaimed"),
])
def test_inbox_rejects_bad_query_values_with_422(api, query, field):
    response = api.as_("agent1").get(f"/api/v1/tasks?{query}")
    assert response.status_code == 422
    body = response.get_json()
    assert (body["error"], body["field"]) == ("validation_error", field)
    assert body["errors"][0]["field"] == field


# ---- one task -----------------------------------------------------------------------------
def test_get_task_has_form_schema_and_documentation(api, receive):
    task = api.as_("agent1").get(_url(receive)).get_json()
    assert (task["task"], task["lane"], task["state"], task["assignee"]) == ("receive_complaint", "staff", "ready", None)
    assert task["form"]["type"] == "object" and "customer_name" in task["form"]["properties"]
    assert isinstance(task["documentation"], str) and task["documentation"]


def test_get_task_of_an_instance_i_cannot_see_is_403(api, receive):
    response = api.as_("qc1").get(_url(receive))
    assert (response.status_code, response.get_json()["error"]) == (403, "forbidden")
    assert api.as_("auditor1").get(_url(receive)).status_code == 200
    assert api.as_("guide1").get(_url(receive)).status_code == 200, "guide1 holds the staff lane"


# ---- claim / unclaim ----------------------------------------------------------------------
def test_claim_then_unclaim(api, receive):
    agent = api.as_("agent1")
    claimed = agent.post(_url(receive, "claim"))
    assert (claimed.status_code, claimed.get_json()["assignee"]) == (200, "agent1")
    assert agent.post(_url(receive, "claim")).status_code == 200, "claiming one's own task again is a no-op"
    released = agent.post(_url(receive, "unclaim"))
    assert (released.status_code, released.get_json()["assignee"]) == (200, None)
    kinds = [e["kind"] for e in agent.get(f"/api/v1/instances/{receive['instance_id']}/events").get_json()["items"]]
    assert kinds[-4:] == ["task_claimed", "state_written", "task_unclaimed", "state_written"]


def test_claiming_a_task_claimed_by_another_is_409(api, receive):
    assert api.as_("agent1").post(_url(receive, "claim")).status_code == 200
    response = api.as_("receptionist1").post(_url(receive, "claim"))
    assert (response.status_code, response.get_json()["error"]) == (409, "conflict")
    assert "agent1" in response.get_json()["message"]


def test_claim_and_unclaim_outside_my_lanes_is_403(api, receive):
    for action in ("claim", "unclaim"):
        response = api.as_("qc1").post(_url(receive, action))
        assert (response.status_code, response.get_json()["error"]) == (403, "forbidden"), action


def test_releasing_someone_elses_claim_is_403(api, receive):
    assert api.as_("agent1").post(_url(receive, "claim")).status_code == 200
    response = api.as_("receptionist1").post(_url(receive, "unclaim"))
    assert response.status_code == 403
    assert api.as_("agent1").get(_url(receive)).get_json()["assignee"] == "agent1"


def test_claim_and_unclaim_of_a_completed_task_is_409(api, receive):
    agent = api.as_("agent1")
    assert agent.post(_url(receive, "complete"), COMPLAINT).status_code == 200
    for action in ("claim", "unclaim"):
        assert agent.post(_url(receive, action)).status_code == 409, action


# ---- reassign -------------------------------------------------------------------------------
def test_reassign_with_a_reason(api, receive):
    response = api.as_("agent1").post(_url(receive, "reassign"), {"to": "receptionist1", "reason": "请假"})
    assert (response.status_code, response.get_json()["assignee"]) == (200, "receptionist1")
    events = api.as_("agent1").get(f"/api/v1/instances/{receive['instance_id']}/events").get_json()["items"]
    assert [e["kind"] for e in events[-2:]] == ["task_reassigned", "state_written"]
    reassigned = events[-2]
    payload = reassigned["payload"]
    assert (payload["from"], payload["to"], payload["reason"]) == (None, "receptionist1", "请假")
    assert reassigned["actor"] == "agent1"


@pytest.mark.parametrize("body, field", [
    ({"to": "receptionist1"}, "reason"),
    ({"to": "receptionist1", "reason": "   "}, "reason"),
    ({"to": "receptionist1", "reason": 7}, "reason"),
    ({"reason": "请假"}, "to"),
    ({"to": "", "reason": "请假"}, "to"),
    ({"to": "nobody", "reason": "请假"}, "to"),
    ({"to": "qc1", "reason": "请假"}, "to"),
    ({"to": "receptionist1", "reason": "请假", "note": "x"}, "note"),
    (None, "to"),
])
def test_reassign_validation_is_422_naming_the_field(api, receive, body, field):
    response = api.as_("agent1").post(_url(receive, "reassign"), body)
    assert response.status_code == 422, response.get_json()
    assert (response.get_json()["error"], response.get_json()["field"]) == ("validation_error", field)
    assert api.as_("agent1").get(_url(receive)).get_json()["assignee"] is None


def test_reassign_outside_my_lanes_is_403_and_of_a_completed_task_409(api, receive):
    response = api.as_("qc1").post(_url(receive, "reassign"), {"to": "qc1", "reason": "接手"})
    assert response.status_code == 403
    assert api.as_("agent1").post(_url(receive, "complete"), COMPLAINT).status_code == 200
    response = api.as_("agent1").post(_url(receive, "reassign"), {"to": "receptionist1", "reason": "请假"})
    assert (response.status_code, response.get_json()["error"]) == (409, "conflict")


# ---- complete -------------------------------------------------------------------------------
def test_complete_returns_the_instance_and_its_next_tasks(api, receive):
    response = api.as_("agent1").post(_url(receive, "complete"), COMPLAINT)
    assert response.status_code == 200
    body = response.get_json()
    assert body["instance"]["status"] == "running"
    assert body["instance"]["data"]["customer_name"] == COMPLAINT["customer_name"]
    assert [(t["task"], t["lane"]) for t in body["open_tasks"]] == [("resolve_locally", "guide")]
    done = api.as_("agent1").get(_url(receive)).get_json()
    assert (done["state"], done["completed_by"]) == ("completed", "agent1")


def test_complete_with_invalid_data_is_422_naming_the_field(api, receive):
    agent = api.as_("agent1")
    response = agent.post(_url(receive, "complete"), {k: v for k, v in COMPLAINT.items() if k != "customer_name"})
    body = response.get_json()
    assert (response.status_code, body["error"], body["field"]) == (422, "validation_error", "customer_name")
    assert any(e["field"] == "customer_name" for e in body["errors"])
    response = agent.post(_url(receive, "complete"), COMPLAINT | {"contact_phone": 13801234567})
    assert (response.status_code, response.get_json()["field"]) == (422, "contact_phone")
    assert agent.post(_url(receive, "complete")).status_code == 422, "an empty body is empty form data"
    assert agent.get(_url(receive)).get_json()["state"] == "ready"


def test_completing_a_completed_task_is_409(api, receive):
    agent = api.as_("agent1")
    assert agent.post(_url(receive, "complete"), COMPLAINT).status_code == 200
    again = agent.post(_url(receive, "complete"), COMPLAINT)
    assert (again.status_code, again.get_json()["error"]) == (409, "conflict")
    assert "already completed by agent1" in again.get_json()["message"]


def test_completing_a_task_claimed_by_another_is_409(api, receive):
    assert api.as_("agent1").post(_url(receive, "claim")).status_code == 200
    response = api.as_("receptionist1").post(_url(receive, "complete"), COMPLAINT)
    assert response.status_code == 409


def test_completing_in_a_lane_i_do_not_hold_is_403(api, receive):
    api.as_("agent1").post(_url(receive, "complete"), COMPLAINT)
    resolve = api.open_task(receive["instance_id"], "resolve_locally")
    response = api.as_("agent1").post(_url(resolve, "complete"), LOCAL)
    assert (response.status_code, response.get_json()["error"]) == (403, "forbidden")
    assert "does not hold lane 'guide'" in response.get_json()["message"]
