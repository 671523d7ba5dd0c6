"""Incidents through the API: who sees them, who resolves them, and what resolving does.

The fixture process and its supplier handler: tests/support/incidents.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.clock import frozen_at, utcnow
from tests.support.api import Api
from tests.support.incidents import (
    FIXTURE,
    UNREACHABLE,
    business,
    exhaust_retries,
    kinds,
    technical,
)
from tests.support.world import deploy


@pytest.fixture
def rt(app, runtime):
    deploy(runtime, FIXTURE)
    return runtime


@pytest.fixture
def api(app, rt):
    return Api(app, rt, language="en")  # these tests read the English messages (Accept-Language: en)


# ---- the list: who sees which incident -------------------------------------------------------
def test_a_technical_incident_is_listed_for_its_lane_and_those_who_see_all(rt, api):
    instance_id = technical(rt)
    [item] = api.as_("operator1").get("/api/v1/incidents").get_json()["items"]
    assert item == {
        "instance_id": instance_id, "process": "incident_flow", "process_name": "测试供应商预订", "version": 1,
        "business_key": None, "task": "book_supplier", "task_name": "向供应商预订",
        "error": UNREACHABLE.format(n=3), "attempts": 3, "lane": "operator", "business": False, "routing": {},
        "summary": {"customer_name": "林小雨"}, "raised_at": item["raised_at"], "raised_count": 1,
        "can_resolve": True,
    }
    raised = [e for e in rt.events(instance_id) if e["kind"] == "incident_raised"]
    assert item["raised_at"] == raised[-1]["at"]
    for who in ("supervisor1", "owner1", "auditor1"):
        [seen] = api.as_(who).get("/api/v1/incidents").get_json()["items"]
        assert (seen["instance_id"], seen["can_resolve"]) == (instance_id, False), who
    for who in ("agent1", "sales1", "qc1", "guide1"):
        assert api.as_(who).get("/api/v1/incidents").get_json() == {"items": [], "total": 0, "deliveries": []}, who
    assert api.bearer("operator1").get("/api/v1/incidents").get_json()["total"] == 1


def test_a_business_incident_belongs_to_the_lane_the_handler_named(rt, api):
    instance_id = business(rt)
    assert "retry_scheduled" not in kinds(rt, instance_id)
    [item] = api.as_("sales1").get("/api/v1/incidents").get_json()["items"]
    assert (item["instance_id"], item["lane"], item["business"], item["attempts"], item["can_resolve"]) == (
        instance_id, "sales", True, 1, True)
    assert item["error"] == "BusinessError: 供应商 FULL 2026-12-20 满房，请更换供应商"
    assert api.as_("operator1").get("/api/v1/incidents").get_json()["total"] == 0, "the node's lane is not asked"


def test_agents_see_the_incidents_of_their_desk_only(rt, api):
    instance_id = business(rt, refer_to="agent", desk="旅游")
    [item] = api.as_("agent2").get("/api/v1/incidents").get_json()["items"]  # the 旅游 desk
    assert (item["instance_id"], item["routing"], item["can_resolve"]) == (instance_id, {"desk": "旅游"}, True)
    assert api.as_("agent1").get("/api/v1/incidents").get_json()["total"] == 0  # the 邮轮 desk
    before = len(rt.events(instance_id))
    response = api.as_("agent1").post(f"/api/v1/instances/{instance_id}/incident/resolve", {"reason": "换供应商"})
    assert (response.status_code, response.get_json()["error"]) == (403, "forbidden")
    assert len(rt.events(instance_id)) == before


def test_the_list_is_newest_first_and_filtered_by_process(rt, api):
    first = business(rt)
    second = business(rt)
    items = api.as_("auditor1").get("/api/v1/incidents").get_json()["items"]
    assert [i["instance_id"] for i in items] == [second, first]
    assert api.as_("auditor1").get("/api/v1/incidents?process=incident_flow").get_json()["total"] == 2
    assert api.as_("auditor1").get("/api/v1/incidents?process=complaint_handling").get_json()["total"] == 0
    assert api.anonymous().get("/api/v1/incidents").status_code == 401


# ---- one incident ------------------------------------------------------------------------------
def test_the_incident_of_an_instance_has_its_attempts_and_the_data_its_handler_reads(rt, api):
    instance_id = technical(rt)
    incident = api.as_("operator1").get(f"/api/v1/instances/{instance_id}/incident").get_json()
    assert incident["handler"] == "test_incident_supplier"
    assert [(h["kind"], h["attempt"], h["error"]) for h in incident["history"]] == [
        ("handler_called", n, UNREACHABLE.format(n=n)) for n in (1, 2, 3)]
    assert [h["actor"] for h in incident["history"]] == ["sales1", "system", "system"]
    assert incident["inputs"] == {"supplier": "HZ-01", "fail_times": 99}, "the literal channel is no data"
    assert api.as_("supervisor1").get(f"/api/v1/instances/{instance_id}").status_code == 200, \
        "who sees the incident may open its instance"
    response = api.as_("qc1").get(f"/api/v1/instances/{instance_id}/incident")
    assert (response.status_code, response.get_json()["error"]) == (403, "forbidden")


def test_the_history_of_a_step_run_again_starts_after_its_last_success(rt, api):
    """The step is booked once (after a failure), then run again through the rebook loop, and refused."""
    start = utcnow()
    with frozen_at(start):
        instance_id = rt.start("incident_flow", {"supplier": "HZ-01", "fail_times": 1}, actor="sales1")
    rt.tick(start + timedelta(seconds=31))  # the second attempt books
    [confirm] = rt.tasks(instance_id=instance_id)
    rt.complete(confirm["id"], "sales1", {"confirmed": False, "supplier": "FULL"})
    assert rt.show(instance_id)["status"] == "error"
    incident = api.as_("sales1").get(f"/api/v1/instances/{instance_id}/incident").get_json()
    assert [(h["kind"], h["attempt"], h["error"][:13]) for h in incident["history"]] == [
        ("handler_called", 1, "BusinessError")], "the first round's failure is history of a step that succeeded"
    assert incident["inputs"] == {"supplier": "FULL", "fail_times": 1}
    assert kinds(rt, instance_id).count("handler_called") == 3


def test_no_incident_or_no_instance_is_404(rt, api):
    running = rt.start("complaint_handling", actor="agent1")
    response = api.as_("agent1").get(f"/api/v1/instances/{running}/incident")
    assert (response.status_code, response.get_json()["error"]) == (404, "not_found")
    assert "no open incident" in response.get_json()["message"]
    assert api.as_("agent1").get("/api/v1/instances/99999/incident").status_code == 404
    response = api.as_("operator1").post("/api/v1/instances/99999/incident/resolve", {"reason": "x"})
    assert (response.status_code, response.get_json()["error"]) == (404, "not_found")


# ---- resolving through the API -----------------------------------------------------------------
def test_resolve_with_data_changes_what_the_handler_sees_and_the_instance_moves_on(rt, api):
    instance_id = technical(rt)
    url = f"/api/v1/instances/{instance_id}/incident/resolve"
    response = api.as_("operator1").post(url, {"reason": "HZ-01 停服，改由 HZ-02 预订",
                                                "data": {"supplier": "HZ-02", "fail_times": 0}})
    assert response.status_code == 200
    instance = response.get_json()
    assert (instance["status"], instance["error"]) == ("running", None)
    assert instance["data"]["booking"] == {"supplier": "HZ-02", "attempt": 1, "actor": "operator1", "channel": "api"}
    resolved = next(e for e in rt.events(instance_id) if e["kind"] == "incident_resolved")
    assert (resolved["actor"], resolved["payload"]["reason"]) == ("operator1", "HZ-01 停服，改由 HZ-02 预订")
    assert resolved["payload"]["data"] == {"supplier": "HZ-02", "fail_times": 0}
    assert resolved["payload"]["previous_error"] == UNREACHABLE.format(n=3)
    assert api.as_("operator1").get("/api/v1/incidents").get_json()["total"] == 0
    assert api.as_("operator1").get(f"/api/v1/instances/{instance_id}/incident").status_code == 404
    diagram = api.as_("operator1").get(f"/api/v1/instances/{instance_id}/diagram").get_json()
    assert diagram["nodes"]["failed"] == [] and "book_supplier" in diagram["nodes"]["completed"]
    [confirm] = rt.tasks(instance_id=instance_id)
    assert confirm["task"] == "confirm_booking"
    rt.complete(confirm["id"], "sales1", {"confirmed": True})
    assert rt.show(instance_id)["status"] == "completed"

    again = api.as_("operator1").post(url, {"reason": "再来一次"})
    assert (again.status_code, again.get_json()["error"]) == (409, "conflict")
    assert "no open incident" in again.get_json()["message"]


def test_a_second_resolve_of_the_same_incident_is_409(rt, api):
    instance_id = business(rt)
    url = f"/api/v1/instances/{instance_id}/incident/resolve"
    assert api.as_("sales1").post(url, {"reason": "客户改选", "data": {"supplier": "HZ-02"}}).status_code == 200
    count = len(rt.events(instance_id))
    response = api.bearer("sales1").post(url, {"reason": "客户改选", "data": {"supplier": "HZ-03"}})
    assert (response.status_code, response.get_json()["error"]) == (409, "conflict")
    assert len(rt.events(instance_id)) == count
    assert rt.show(instance_id)["data"]["booking"]["supplier"] == "HZ-02"


def test_a_retry_that_fails_again_shows_the_new_error_and_raises_a_new_incident(rt, api):
    instance_id = technical(rt)
    url = f"/api/v1/instances/{instance_id}/incident/resolve"
    start = utcnow()
    with frozen_at(start):
        instance = api.as_("operator1").post(url, {"reason": "供应商说已恢复", "data": None}).get_json()
    # the retried step starts a new round of attempts: it is retried again before a new incident
    assert (instance["status"], instance["error"]) == ("retrying", UNREACHABLE.format(n=1))
    assert api.as_("operator1").get("/api/v1/incidents").get_json()["total"] == 0
    exhaust_retries(rt, instance_id, start)
    assert kinds(rt, instance_id).count("incident_raised") == 2
    incident = api.as_("operator1").get(f"/api/v1/instances/{instance_id}/incident").get_json()
    assert (incident["error"], incident["raised_count"], incident["attempts"]) == (UNREACHABLE.format(n=3), 2, 3)
    assert [h["kind"] for h in incident["history"]] == ["handler_called"] * 3 + ["incident_resolved"] + \
        ["handler_called"] * 3
    assert incident["history"][3]["reason"] == "供应商说已恢复"


def test_a_business_incident_retried_unchanged_is_raised_again_at_once(rt, api):
    instance_id = business(rt)
    instance = api.as_("sales1").post(f"/api/v1/instances/{instance_id}/incident/resolve",
                                      {"reason": "再试一次"}).get_json()
    assert instance["status"] == "error" and "满房" in instance["error"]
    assert kinds(rt, instance_id).count("incident_raised") == 2
    [item] = api.as_("sales1").get("/api/v1/incidents").get_json()["items"]
    assert item["raised_count"] == 2


@pytest.mark.parametrize("body, field", [
    ({}, "reason"),
    ({"reason": "  "}, "reason"),
    ({"reason": 5}, "reason"),
    ({"reason": "x", "data": [1, 2]}, "data"),
    ({"reason": "x", "data": "supplier=HZ-02"}, "data"),
    ({"reason": "x", "fail_times": 0}, "fail_times"),
])
def test_resolve_validation_is_422_and_changes_nothing(rt, api, body, field):
    instance_id = technical(rt)
    count = len(rt.events(instance_id))
    response = api.as_("operator1").post(f"/api/v1/instances/{instance_id}/incident/resolve", body)
    assert response.status_code == 422
    assert (response.get_json()["error"], response.get_json()["field"]) == ("validation_error", field)
    assert len(rt.events(instance_id)) == count and rt.show(instance_id)["status"] == "error"


@pytest.mark.parametrize("who", ["agent1", "guide1", "supervisor1", "auditor1"])
def test_resolve_outside_the_lane_or_as_auditor_is_403_and_changes_nothing(rt, api, who):
    instance_id = technical(rt)
    count = len(rt.events(instance_id))
    for caller in (api.as_(who), api.bearer(who)):
        response = caller.post(f"/api/v1/instances/{instance_id}/incident/resolve",
                               {"reason": "试试", "data": {"fail_times": 0}})
        assert (response.status_code, response.get_json()["error"]) == (403, "forbidden")
    assert len(rt.events(instance_id)) == count
    assert rt.show(instance_id)["status"] == "error"


def test_resolve_by_cookie_needs_the_csrf_header(rt, api):
    instance_id = technical(rt)
    count = len(rt.events(instance_id))
    response = api.as_("operator1").post(f"/api/v1/instances/{instance_id}/incident/resolve",
                                         {"reason": "x"}, csrf=False)
    assert (response.status_code, response.get_json()["error"]) == (400, "csrf_failed")
    assert len(rt.events(instance_id)) == count


def test_a_system_lane_incident_is_for_supervisors_and_owners(rt, api, tmp_path):
    """A handler failing in the system lane (as every service task of processes/ is) is nobody's
    lane: supervisors and process owners resolve it."""
    text_ = FIXTURE.read_text(encoding="utf-8").replace('<bpmn:lane id="operator" name="计调">',
                                                        '<bpmn:lane id="system" name="系统">')
    text_ = text_.replace('bpmnElement="operator"', 'bpmnElement="system"').replace('id="operator_di"',
                                                                                    'id="system_di"')
    bpmn = tmp_path / "incident_flow.bpmn"
    bpmn.write_text(text_, encoding="utf-8")
    forms = tmp_path / "forms" / "incident_flow"
    forms.mkdir(parents=True)
    (forms / "confirm_booking.schema.json").write_bytes(
        (FIXTURE.parent / "forms" / "incident_flow" / "confirm_booking.schema.json").read_bytes())
    deploy(rt, bpmn)
    instance_id = technical(rt)
    assert rt.show(instance_id)["version"] == 2
    assert api.as_("operator1").get("/api/v1/incidents").get_json()["total"] == 0
    for who in ("supervisor1", "owner1"):
        [item] = api.as_(who).get("/api/v1/incidents").get_json()["items"]
        assert (item["lane"], item["can_resolve"]) == ("system", True), who
    response = api.as_("operator1").post(f"/api/v1/instances/{instance_id}/incident/resolve", {"reason": "x"})
    assert response.status_code == 403
    instance = api.as_("owner1").post(f"/api/v1/instances/{instance_id}/incident/resolve",
                                      {"reason": "接口已修复", "data": {"fail_times": 0}}).get_json()
    assert instance["status"] == "running" and instance["data"]["booking"]["actor"] == "owner1"
