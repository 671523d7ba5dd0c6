"""The outbox's API: providers' delivery reports (POST /api/v1/deliveries), delivery incidents listed with the
incidents and resolved by their lane (POST /api/v1/outbox/<id>/resolve). Answers are checked against the
OpenAPI document."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.access.users import create_user
from engine.outbox import events
from engine.outbox.delivery import Deliverer
from engine.outbox.queue import enqueue
from engine.outbox.settings import RetryPolicy
from tests.support.api import Api
from tests.support.outbox import failed_message, messages, outbox_events

pytestmark = pytest.mark.both_databases

DELIVERIES = "/api/v1/deliveries"


@pytest.fixture
def api(app, runtime):
    with runtime.db.write() as session, session.begin():
        create_user(session, "smsgate", "smsgate", ["integration"], display_name="短信网关")
    return Api(app, runtime, language="en")


def sent_messages(runtime, count: int) -> list[int]:
    """`count` messages sent over the log channel's twin: webhook messages marked sent by a pass."""
    now = datetime.now(UTC)
    with runtime.db.write() as session, session.begin():
        ids = [enqueue(session, kind="booking.confirmation", channel="log", recipient=f"1380000000{i}",
                       subject="确认", body="已确认", payload={}, idempotency_key=f"sent-{i}", now=now).id
               for i in range(count)]

    class Accepting:
        name = "log"

        def send(self, outgoing):
            from engine.outbox.channels.base import Sent

            return Sent(provider_ref=f"gw-{outgoing.id}")  # accepted, not yet delivered

    Deliverer(runtime.db, owner="t", policy=RetryPolicy(), channels={"log": Accepting()}).send_due(now)
    return ids


def test_an_integration_account_reports_deliveries_by_id_and_provider_ref(api, runtime):
    first, second = sent_messages(runtime, 2)
    gateway = api.bearer("smsgate")
    answer = gateway.post(DELIVERIES, {"items": [
        {"id": first, "status": "delivered", "at": "2026-12-04T08:00:00Z"},
        {"provider_ref": f"gw-{second}", "status": "failed", "error": "号码已停机"},
        {"id": 424242, "status": "delivered"},
    ]})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["results"] == [
        {"id": first, "status": "delivered", "result": "updated"},
        {"provider_ref": f"gw-{second}", "id": second, "status": "failed", "result": "updated"},
        {"id": 424242, "result": "not_found"},
    ]
    one, two = messages(runtime)
    assert one.delivered_at == datetime(2026, 12, 4, 8, 0, tzinfo=UTC) and one.status == "delivered"
    assert (two.status, two.last_error) == ("failed", "号码已停机")
    again = gateway.post(DELIVERIES, {"items": [{"id": first, "status": "delivered"}]})
    assert again.get_json()["results"] == [{"id": first, "status": "delivered", "result": "unchanged"}]
    reported = [(k, p["message"], p.get("by")) for k, _, p in outbox_events(runtime)
                if k in (events.DELIVERED, events.FAILED)]
    assert reported == [(events.DELIVERED, first, "report"), (events.FAILED, second, "report")]


@pytest.mark.parametrize("items, field", [
    ([], "items"),
    ([{"status": "delivered"}], "items[0].id"),
    ([{"id": 1, "provider_ref": "x", "status": "delivered"}], "items[0].id"),
    ([{"id": 1, "status": "read"}], "items[0].status"),
    ([{"id": 1, "status": "delivered", "at": "yesterday"}], "items[0].at"),
    ([{"id": 1, "status": "delivered", "colour": "red"}], "items[0].colour"),
    ([{"id": "1", "status": "delivered"}], "items[0].id"),
])
def test_a_bad_report_is_a_422_naming_the_item_and_changes_nothing(api, runtime, items, field):
    [sent] = sent_messages(runtime, 1)
    answer = api.bearer("smsgate").post(DELIVERIES, {"items": [{"id": sent, "status": "delivered"}, *items]}
                                        if items else {"items": items})
    assert answer.status_code == 422
    expected = field.replace("[0]", "[1]") if items else field
    assert answer.get_json()["field"] == expected
    assert messages(runtime)[0].status == "sent"


def test_only_the_integration_role_reports_deliveries(api, runtime):
    [sent] = sent_messages(runtime, 1)
    for user in ("supervisor1", "owner1", "agent1", "auditor1"):
        assert api.as_(user).post(DELIVERIES, {"items": [{"id": sent, "status": "delivered"}]}).status_code == 403
    assert api.anonymous().post(DELIVERIES, {"items": [{"id": sent, "status": "delivered"}]}).status_code == 401
    assert messages(runtime)[0].status == "sent"


def test_a_failed_message_is_an_incident_of_its_lane_that_its_lane_resolves(api, runtime):
    agents = failed_message(runtime, lane="agent")
    system = failed_message(runtime, lane=None, recipient="zhang@example.com")
    listed = api.as_("agent1").get("/api/v1/incidents").get_json()
    assert [d["message_id"] for d in listed["deliveries"]] == [agents] and listed["items"] == []
    [item] = listed["deliveries"]
    assert (item["lane"], item["can_resolve"], item["error"]) == ("agent", True, "HTTP 400: bad phone")
    assert item["message"]["recipient"] == "138****5678"  # no instance: nobody serves it, so masked
    everything = api.as_("supervisor1").get("/api/v1/incidents").get_json()["deliveries"]
    assert {d["message_id"]: d["lane"] for d in everything} == {agents: "agent", system: "system"}
    assert api.as_("qc1").get("/api/v1/incidents").get_json()["deliveries"] == []
    # the lane resolves it; others, and auditors, may not
    body = {"action": "retry", "reason": "客户更正了手机号"}
    assert api.as_("qc1").post(f"/api/v1/outbox/{agents}/resolve", body).status_code == 403
    assert api.as_("auditor1").post(f"/api/v1/outbox/{agents}/resolve", body).status_code == 403
    assert api.as_("agent1").post(f"/api/v1/outbox/{system}/resolve", body).status_code == 403
    assert api.as_("agent1").post(f"/api/v1/outbox/{agents}/resolve", {**body, "reason": " "}).status_code == 422
    retried = api.as_("agent1").post(f"/api/v1/outbox/{agents}/resolve", body)
    assert retried.status_code == 200
    assert (retried.get_json()["status"], retried.get_json()["attempts"]) == ("queued", 0)
    assert api.as_("agent1").post(f"/api/v1/outbox/{agents}/resolve", body).status_code == 409  # not failed now
    gave_up = api.as_("owner1").post(f"/api/v1/outbox/{system}/resolve", {"action": "give_up", "reason": "地址无效"})
    assert gave_up.get_json()["status"] == "cancelled"
    assert api.as_("supervisor1").get("/api/v1/incidents").get_json()["deliveries"] == []
    assert api.as_("owner1").post("/api/v1/outbox/999999/resolve", body).status_code == 404
    resolved = [(k, p["message"], p["reason"]) for k, _, p in outbox_events(runtime)
                if k in (events.RETRIED, events.CANCELLED)]
    assert resolved == [(events.RETRIED, agents, "客户更正了手机号"), (events.CANCELLED, system, "地址无效")]
