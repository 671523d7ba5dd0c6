"""POST/GET /api/v1/messages: another system's messages delivered, started, buffered, deduplicated."""

from __future__ import annotations

import pytest

from engine.access.users import create_user
from tests.fixtures.worker_handlers import flaky_booking as _registers_test_flaky  # noqa: F401
from tests.support.api import Api
from tests.support.messages import ORDER_FLOW
from tests.support.world import deploy

MESSAGES = "/api/v1/messages"


@pytest.fixture
def api(app, runtime):
    deploy(runtime, ORDER_FLOW)
    with runtime.db.write() as session, session.begin():
        create_user(session, "bank", "bank", ["integration"], display_name="银行支付通知")
    return Api(app, runtime, language="en")  # these tests read the English messages (Accept-Language: en)


def test_an_integration_account_starts_then_pays_an_order(api):
    bank = api.bearer("bank")
    started = bank.post(MESSAGES, {"name": "order_received", "correlation_key": "ORD-1",
                                   "data": {"fail_times": 0, "amount": 300}})
    assert started.status_code == 200
    order = started.get_json()
    assert (order["started"], order["state"]) == (True, "delivered")
    paid = bank.post(MESSAGES, {"name": "payment_received", "correlation_key": "ORD-1", "data": {"paid": 300},
                                "message_ref": "TX-1"})
    assert paid.status_code == 200
    assert (paid.get_json()["delivered_to"], paid.get_json()["started"]) == (order["delivered_to"], False)
    instance = api.as_("auditor1").get(f"/api/v1/instances/{order['delivered_to']}").get_json()
    assert instance["data"]["paid"] == 300
    again = bank.post(MESSAGES, {"name": "payment_received", "correlation_key": "ORD-1", "data": {"paid": 300},
                                 "message_ref": "TX-1"})
    assert (again.status_code, again.get_json()["duplicate"]) == (200, True)
    events = api.as_("auditor1").get(f"/api/v1/instances/{order['delivered_to']}/events").get_json()["items"]
    assert [e["kind"] for e in events].count("message_received") == 2


def test_a_message_before_its_instance_is_accepted_into_the_buffer(api):
    early = api.as_("supervisor1").post(MESSAGES, {"name": "payment_received", "correlation_key": "ORD-2",
                                                   "data": {"paid": 50}, "ttl_seconds": 3600})
    assert early.status_code == 202
    assert (early.get_json()["state"], early.get_json()["delivered_to"]) == ("buffered", None)
    listed = api.as_("auditor1").get(f"{MESSAGES}?state=buffered").get_json()["items"]
    assert [m["message_id"] for m in listed] == [early.get_json()["message_id"]]
    order = api.bearer("bank").post(MESSAGES, {"name": "order_received", "correlation_key": "ORD-2",
                                               "data": {"fail_times": 0, "amount": 50}}).get_json()
    tasks = api.as_("auditor1").get(f"/api/v1/instances/{order['delivered_to']}/tasks").get_json()["items"]
    assert [t["task"] for t in tasks if t["state"] == "ready"] == ["confirm_order"]
    assert api.as_("owner1").get(f"{MESSAGES}?state=buffered").get_json()["items"] == []


def test_a_message_without_key_that_nobody_takes_is_404(api):
    response = api.bearer("bank").post(MESSAGES, {"name": "payment_received", "data": {"paid": 1}})
    assert response.status_code == 404
    assert "without a correlation key" in response.get_json()["message"]


@pytest.mark.parametrize(("body", "field"), [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"name": "paid", "data": [1]}, "data"),
    ({"name": "paid", "correlation_key": 7}, "correlation_key"),
    ({"name": "paid", "message_ref": " "}, "message_ref"),
    ({"name": "paid", "correlation_key": "K", "ttl_seconds": -1}, "ttl_seconds"),
    ({"name": "paid", "correlation_key": "K", "ttl_seconds": 10**9}, "ttl_seconds"),
    ({"name": "paid", "key": "K"}, "key"),
])
def test_bad_message_bodies_are_422_naming_the_field_and_write_nothing(api, body, field):
    response = api.bearer("bank").post(MESSAGES, body)
    assert response.status_code == 422
    assert response.get_json()["field"] == field
    assert api.runtime.messages() == []


@pytest.mark.parametrize("user", ["agent1", "qc1", "auditor1"])
def test_only_supervisors_owners_and_integrations_send_messages(api, user):
    response = api.as_(user).post(MESSAGES, {"name": "payment_received", "correlation_key": "ORD-3"})
    assert response.status_code == 403
    assert api.runtime.messages() == []


def test_reading_messages_needs_a_role_and_a_valid_state(api):
    assert api.as_("agent1").get(MESSAGES).status_code == 403
    assert api.anonymous().get(MESSAGES).status_code == 401
    bad = api.as_("auditor1").get(f"{MESSAGES}?state=lost")
    assert (bad.status_code, bad.get_json()["field"]) == (422, "state")
