"""/api/v1 processes and instances: start, startable, instance views, diagrams, deployments,
and a complaint walked from start to completed through the API alone."""

from __future__ import annotations

import pytest

from tests.support.api import Api
from tests.support.complaint import COMPLAINT

START = "/api/v1/processes/complaint_handling/instances"


@pytest.fixture
def api(app, runtime):
    return Api(app, runtime, language="en")  # these tests read the English messages (Accept-Language: en)


# ---- start ----------------------------------------------------------------------------------
def test_start_answers_201_with_the_instance_and_its_location(api):
    response = api.as_("agent1").post(START, {"data": {"channel": "phone"}, "business_key": "C-2026-001"})
    assert response.status_code == 201
    instance = response.get_json()
    assert (instance["process"], instance["version"], instance["status"]) == ("complaint_handling", 1, "running")
    assert (instance["started_by"], instance["business_key"]) == ("agent1", "C-2026-001")
    assert instance["data"]["channel"] == "phone"
    assert response.headers["Location"].endswith(f"/api/v1/instances/{instance['id']}")
    assert api.as_("agent1").get(response.headers["Location"]).get_json()["id"] == instance["id"]


def test_start_without_a_body_and_by_token(api):
    assert api.as_("guide1").post(START).status_code == 201
    response = api.bearer("receptionist1").post(START, {})
    assert (response.status_code, response.get_json()["started_by"]) == (201, "receptionist1")


@pytest.mark.parametrize("body, field", [
    ({"data": [1]}, "data"),
    ({"data": "x"}, "data"),
    ({"business_key": ""}, "business_key"),
    ({"business_key": 12}, "business_key"),
    ({"business_key": "k" * 121}, "business_key"),
    ({"customer_name": "张建国"}, "customer_name"),
])
def test_start_validation_is_422(api, body, field):
    response = api.as_("agent1").post(START, body)
    assert response.status_code == 422
    assert (response.get_json()["error"], response.get_json()["field"]) == ("validation_error", field)


def test_start_outside_the_start_lane_is_403_and_unknown_process_404(api):
    response = api.as_("qc1").post(START)
    assert (response.status_code, response.get_json()["error"]) == (403, "forbidden")
    assert "does not hold lane 'staff'" in response.get_json()["message"]
    assert api.as_("agent1").post("/api/v1/processes/nope/instances").status_code == 404
    assert api.as_("auditor1").get("/api/v1/instances").get_json()["total"] == 0


def test_startable_lists_what_my_roles_may_start(api):
    items = api.as_("agent1").get("/api/v1/processes").get_json()["items"]
    assert [(p["process_id"], p["version"], p["lane"]) for p in items] == [("complaint_handling", 1, "staff")]
    assert api.as_("qc1").get("/api/v1/processes").get_json()["items"] == []
    assert api.bearer("auditor1").get("/api/v1/processes").get_json()["items"] == []


# ---- one instance ---------------------------------------------------------------------------
def test_instance_views_for_those_who_may_see_it(api):
    instance = api.start()
    url = f"/api/v1/instances/{instance['id']}"
    for who in ("agent1", "receptionist1", "auditor1"):  # starter, staff lane, auditor
        caller = api.as_(who)
        assert caller.get(url).get_json()["status"] == "running", who
        events = caller.get(f"{url}/events").get_json()["items"]
        assert [e["kind"] for e in events][:1] == ["instance_started"]
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        tasks = caller.get(f"{url}/tasks").get_json()["items"]
        assert [(t["task"], t["state"]) for t in tasks] == [("receive_complaint", "ready")]
        diagram = caller.get(f"{url}/diagram").get_json()
        assert diagram["bpmn_xml"].lstrip().startswith("<?xml") or "<bpmn:definitions" in diagram["bpmn_xml"]
        assert "receive_complaint" in diagram["nodes"]["active"]


@pytest.mark.parametrize("suffix", ["", "/events", "/tasks", "/diagram"])
def test_instance_views_are_403_for_others(api, suffix):
    instance = api.start()
    response = api.as_("qc1").get(f"/api/v1/instances/{instance['id']}{suffix}")
    assert (response.status_code, response.get_json()["error"]) == (403, "forbidden")
    assert api.bearer("qc1").get(f"/api/v1/instances/{instance['id']}{suffix}").status_code == 403


def test_instance_list_shows_what_i_may_see(api):
    first, second = api.start()["id"], api.start("guide1")["id"]
    page = api.as_("agent1").get("/api/v1/instances?per_page=1").get_json()
    assert (page["total"], page["pages"], [i["id"] for i in page["items"]]) == (2, 2, [second])
    assert api.as_("qc1").get("/api/v1/instances").get_json()["total"] == 0
    assert api.as_("auditor1").get("/api/v1/instances?status=running").get_json()["total"] == 2
    assert api.as_("auditor1").get("/api/v1/instances?status=completed").get_json()["total"] == 0
    page = api.as_("auditor1").get("/api/v1/instances?process=complaint_handling&page=2&per_page=1").get_json()
    assert [i["id"] for i in page["items"]] == [first]


@pytest.mark.parametrize("query, field", [("status=done", "status"), ("page=0", "page"), ("per_page=x", "per_page")])
def test_instance_list_validation_is_422(api, query, field):
    response = api.as_("agent1").get(f"/api/v1/instances?{query}")
    assert (response.status_code, response.get_json()["field"]) == (422, field)


# ---- process versions and deployments -------------------------------------------------------
def test_process_diagram_for_owners_auditors_and_managers_only(api):
    """A version's XML holds its scripts: the definitions are for owners, auditors and managers, as on the pages."""
    for who in ("owner1", "auditor1", "manager1"):
        body = api.as_(who).get("/api/v1/processes/complaint_handling/versions/1/diagram").get_json()
        assert (body["process"], body["version"]) == ("complaint_handling", 1)
        assert "receive_complaint" in body["bpmn_xml"]
        assert body["nodes"] == {"completed": [], "active": [], "failed": []}
    for who in ("agent1", "qc1", "supervisor1"):
        response = api.as_(who).get("/api/v1/processes/complaint_handling/versions/1/diagram")
        assert (response.status_code, response.get_json()["error"]) == (403, "forbidden"), who
        assert "bpmn_xml" not in response.get_json()


def test_deployments_for_owners_and_auditors_only(api):
    api.start()
    for who in ("owner1", "auditor1"):
        [row] = api.as_(who).get("/api/v1/deployments").get_json()["items"]
        assert (row["process_id"], row["version"], row["instances"], row["deployed_by"]) == (
            "complaint_handling", 1, 1, "owner1")
        assert len(row["sha256"]) == 64
    for who in ("agent1", "supervisor1", "qc1"):
        response = api.as_(who).get("/api/v1/deployments")
        assert (response.status_code, response.get_json()["error"]) == (403, "forbidden"), who


# ---- the whole walk -------------------------------------------------------------------------
def test_a_complaint_walked_through_the_api_from_start_to_completed(api):
    agent, guide = api.bearer("agent1"), api.as_("guide1")
    instance = agent.post(START).get_json()
    url = f"/api/v1/instances/{instance['id']}"

    [receive] = [t for t in agent.get("/api/v1/tasks?process=complaint_handling").get_json()["items"]
                 if t["instance_id"] == instance["id"]]
    assert receive["task"] == "receive_complaint"
    form = agent.get(f"/api/v1/tasks/{receive['id']}").get_json()["form"]
    assert set(COMPLAINT) <= set(form["properties"])
    step = agent.post(f"/api/v1/tasks/{receive['id']}/complete", COMPLAINT).get_json()
    [resolve] = step["open_tasks"]
    assert (resolve["task"], resolve["lane"]) == ("resolve_locally", "guide")

    inbox = guide.get("/api/v1/tasks?lane=guide").get_json()["items"]
    assert [t["id"] for t in inbox] == [resolve["id"]]
    assert guide.post(f"/api/v1/tasks/{resolve['id']}/claim").get_json()["assignee"] == "guide1"
    step = guide.post(f"/api/v1/tasks/{resolve['id']}/complete",
                      {"resolved_locally": True, "local_action": "当晚更换同级酒店"}).get_json()
    [filing] = step["open_tasks"]
    assert filing["task"] == "file_local_resolution"
    step = guide.post(f"/api/v1/tasks/{filing['id']}/complete", {"filing_note": "已在当地解决，报质检备案"}).get_json()
    assert step["instance"]["status"] == "completed" and step["open_tasks"] == []

    shown = api.as_("auditor1").get(url).get_json()
    assert shown["status"] == "completed" and shown["ended_at"]
    assert shown["data"]["customer_name"] == "张**", "masked for an auditor (docs/privacy.md)"
    events = api.as_("auditor1").get(f"{url}/events").get_json()["items"]
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "instance_started" and kinds[-2:] == ["instance_completed", "state_written"]
    assert "task_claimed" in kinds
    completed = [(e["actor"], e["payload"]["task"]) for e in events if e["kind"] == "task_completed"]
    assert completed == [("agent1", "receive_complaint"), ("guide1", "resolve_locally"),
                         ("guide1", "file_local_resolution")]
    assert all(e["prev_hash"] == p["hash"] for p, e in zip(events, events[1:], strict=False))
    tasks = agent.get(f"{url}/tasks").get_json()["items"]
    assert {t["state"] for t in tasks} == {"completed"}
    diagram = agent.get(f"{url}/diagram").get_json()
    assert diagram["nodes"]["active"] == [] and "file_local_resolution" in diagram["nodes"]["completed"]
    assert agent.get("/api/v1/tasks").get_json()["total"] == 0
