"""Messages that arrive before anyone waits for them: buffered by correlation key, delivered once, or expired."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.clock import frozen_at, utcnow
from engine.errors import NotFound, TourflowError
from engine.store.models import AuditEvent, Message
from tests.fixtures.worker_handlers import flaky_booking as _registers_test_flaky  # noqa: F401
from tests.support.messages import ORDER_FLOW, event_kinds
from tests.support.world import deploy

pytestmark = pytest.mark.both_databases


@pytest.fixture
def rt(runtime):
    deploy(runtime, ORDER_FLOW)
    return runtime
NO_ALERTS = {"overdue_alerts": 0, "alert_digests": 0}  # housekeeping's staff alerts: none asked for here


def order(rt, key: str) -> int:
    """Start an order: it books, then waits for payment_received under `key`."""
    return rt.message("order_received", key, {"fail_times": 0, "amount": 800})["delivered_to"]


def received(rt, instance_id: int) -> list[dict]:
    return [e["payload"] for e in rt.events(instance_id) if e["kind"] == "message_received"]


def test_a_message_before_its_instance_waits_is_buffered_then_delivered_when_it_does(rt):
    early = rt.message("payment_received", "ORD-7", {"paid": 800}, message_ref="bank-tx-7")
    assert (early["state"], early["buffered"], early["delivered_to"]) == ("buffered", True, None)
    assert early["expires_at"] > early["created_at"]
    instance_id = order(rt, "ORD-7")
    # The payment was taken in the same step that made the order wait for it.
    [task] = rt.tasks(instance_id=instance_id)
    assert task["task"] == "confirm_order"
    assert rt.show(instance_id)["data"]["paid"] == 800
    payment = received(rt, instance_id)[-1]
    assert (payment["name"], payment["message_ref"]) == ("payment_received", "bank-tx-7")
    assert payment["buffered_since"] == early["created_at"]
    [row] = rt.messages(name="payment_received")
    assert (row["state"], row["delivered_to"]) == ("delivered", instance_id)


def test_a_message_after_its_instance_waits_is_delivered_at_once(rt):
    instance_id = order(rt, "ORD-8")
    assert rt.tasks(instance_id=instance_id) == []
    sent = rt.message("payment_received", "ORD-8", {"paid": 800})
    assert (sent["state"], sent["delivered_to"], sent["started"]) == ("delivered", instance_id, False)
    assert [t["task"] for t in rt.tasks(instance_id=instance_id)] == ["confirm_order"]


def test_the_same_message_ref_twice_delivers_nothing_twice(rt):
    instance_id = order(rt, "ORD-9")
    first = rt.message("payment_received", "ORD-9", {"paid": 800}, message_ref="bank-tx-9")
    again = rt.message("payment_received", "ORD-9", {"paid": 800}, message_ref="bank-tx-9")
    assert (again["duplicate"], again["message_id"], again["delivered_to"]) == (True, first["message_id"], instance_id)
    assert len(received(rt, instance_id)) == 2  # the order start and one payment
    buffered = rt.message("payment_received", "ORD-10", {"paid": 1}, message_ref="bank-tx-10")
    assert rt.message("payment_received", "ORD-10", {"paid": 1}, message_ref="bank-tx-10")["message_id"] == \
        buffered["message_id"]
    assert len(rt.messages(state="buffered")) == 1


def test_an_expired_message_is_dropped_with_an_event_and_never_delivered(rt):
    sent = rt.message("payment_received", "ORD-11", {"paid": 800}, ttl_seconds=60)
    assert rt.housekeeping(utcnow() + timedelta(seconds=30)) == {"expired": 0, "delivered": 0, **NO_ALERTS}
    assert rt.housekeeping(utcnow() + timedelta(seconds=61)) == {"expired": 1, "delivered": 0, **NO_ALERTS}
    [row] = rt.messages(name="payment_received")
    assert row["state"] == "expired"
    with rt.db.read() as session:
        [event] = session.execute(select(AuditEvent).where(AuditEvent.kind == "message_expired")).scalars()
    assert (event.stream, event.instance_id) == ("system", None)
    assert json.loads(event.payload)["message_id"] == sent["message_id"]
    instance_id = order(rt, "ORD-11")
    assert rt.tasks(instance_id=instance_id) == []  # still waiting for a payment
    assert "payment_received" not in [p["name"] for p in received(rt, instance_id)]


def test_an_expired_but_not_yet_swept_message_is_not_delivered(rt):
    start = utcnow()
    with frozen_at(start):
        rt.message("payment_received", "ORD-12", {"paid": 800}, ttl_seconds=60)
    with frozen_at(start + timedelta(minutes=5)):
        instance_id = order(rt, "ORD-12")
    assert rt.tasks(instance_id=instance_id) == []


def test_the_sweep_delivers_a_message_buffered_while_its_instance_was_being_created(rt):
    """On PostgreSQL two transactions can miss each other: the order being created does not see
    the payment being buffered and vice versa. The worker's sweep closes that gap."""
    instance_id = order(rt, "ORD-13")
    with rt.db.write() as session, session.begin():  # the row such a race leaves behind
        session.add(Message(name="payment_received", correlation_key="ORD-13", payload={"paid": 800},
                            state="buffered", created_by="bank", created_at=utcnow(),
                            expires_at=utcnow() + timedelta(hours=1)))
    assert rt.housekeeping() == {"expired": 0, "delivered": 1, **NO_ALERTS}
    assert [t["task"] for t in rt.tasks(instance_id=instance_id)] == ["confirm_order"]
    assert rt.housekeeping() == {"expired": 0, "delivered": 0, **NO_ALERTS}
    with rt.db.read() as session:
        assert session.execute(select(Message.state).where(Message.correlation_key == "ORD-13")).scalar() == \
            "delivered"


def test_a_buffered_message_goes_to_one_instance_only(rt):
    rt.message("payment_received", "ORD-14", {"paid": 800})
    first, second = order(rt, "ORD-14"), order(rt, "ORD-14")
    assert [t["task"] for t in rt.tasks(instance_id=first)] == ["confirm_order"]
    assert rt.tasks(instance_id=second) == []
    assert "message_received" in event_kinds(rt, second)  # its own start message, not the payment
    assert [p["name"] for p in received(rt, second)] == ["order_received"]


@pytest.mark.parametrize(("args", "words"), [
    (("", "K", {}), "a message needs a name"),
    (("paid", "K", ["not", "an", "object"]), "must be a JSON object"),
    (("paid", "K" * 121, {}), "correlation key must be a string of 1 to 120"),
    (("paid", "K", {}, "system", "r" * 121), "message_ref must be a string"),
    (("paid", "K", {}, "system", None, 0), "ttl_seconds must be a positive number"),
    (("paid", "K", {}, "system", None, 10**9), "ttl_seconds may be at most"),
])
def test_bad_messages_are_refused_with_a_clear_error_and_nothing_written(rt, args, words):
    with pytest.raises(TourflowError, match=words):
        rt.message(*args)
    assert rt.messages() == []


def test_a_message_without_key_that_nobody_takes_is_refused(rt):
    with pytest.raises(NotFound, match="without a correlation key"):
        rt.message("payment_received", None, {"paid": 1})
    assert rt.messages() == []
