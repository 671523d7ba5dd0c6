"""Staff alerts (engine/outbox/staff_alerts.py): a new task in a user's lanes, an incident they resolve
and a task that fell overdue become alerts in the transaction that caused them, and each user's
pending alerts leave as ONE digest (outbox kind staff.alert) once the oldest is a window old."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engine.clock import frozen_at
from engine.errors import FormInvalid
from engine.outbox import staff_alerts
from engine.store.models import OutboxMessage, StaffAlert
from tests.support.incidents import FIXTURE as INCIDENT_FLOW
from tests.support.incidents import business
from tests.support.outbox import failed_message
from tests.support.step_count import counting, statements_of
from tests.support.world import deploy

pytestmark = pytest.mark.both_databases

T0 = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)  # a Friday, 10:00 in China
MINUTE = timedelta(minutes=1)


@pytest.fixture
def rt(runtime, monkeypatch):
    monkeypatch.setenv("TOURFLOW_STAFF_ALERT_MINUTES", "5")
    deploy(runtime, INCIDENT_FLOW)
    return runtime


def prefer(rt, username: str, channel: str, address: str = "", events=staff_alerts.EVENTS) -> dict:
    with rt.transaction() as tx:
        return staff_alerts.set_preference(tx.session, username, channel=channel, address=address, events=events,
                                           actor=username, now=T0)


def start(rt, at: datetime) -> int:
    with frozen_at(at):
        return rt.start("incident_flow", {"supplier": "HZ-01", "fail_times": 0, "customer_name": "林小雨"},
                        actor="sales1")


def alerts(rt, username: str | None = None) -> list[StaffAlert]:
    with rt.db.read() as session:
        query = select(StaffAlert).order_by(StaffAlert.id)
        if username:
            query = query.where(StaffAlert.username == username)
        return list(session.execute(query).scalars())


def digests(rt) -> list[OutboxMessage]:
    with rt.db.read() as session:
        return list(session.execute(select(OutboxMessage).where(OutboxMessage.kind == "staff.alert")
                                    .order_by(OutboxMessage.id)).scalars())


def test_two_new_tasks_within_the_window_make_one_digest(rt):
    prefer(rt, "operator1", "email", "op1@example.com")
    prefer(rt, "guide1", "none")
    first, second = start(rt, T0), start(rt, T0 + 2 * MINUTE)
    mine = alerts(rt, "operator1")
    assert [(a.event, a.instance_id, a.title) for a in mine] == [
        ("new_task", first, "新任务：确认预订"), ("new_task", second, "新任务：确认预订")]
    assert not alerts(rt, "guide1"), "alerts turned off: nothing is collected"
    assert not alerts(rt, "agent1"), "no preference: nothing is collected"
    assert rt.housekeeping(T0 + 4 * MINUTE)["alert_digests"] == 0, "the oldest alert is not a window old yet"
    assert rt.housekeeping(T0 + 5 * MINUTE)["alert_digests"] == 1
    [digest] = digests(rt)
    assert (digest.channel, digest.recipient, digest.instance_id) == ("email", "op1@example.com", None)
    assert digest.subject == "【tourflow 提醒】您有 2 条待办提醒"
    assert f"#{first}" in digest.body and f"#{second}" in digest.body and "最多每 5 分钟一封" in digest.body
    assert {a.message_id for a in alerts(rt, "operator1")} == {digest.id}
    assert rt.housekeeping(T0 + 20 * MINUTE)["alert_digests"] == 0, "a digest is made once"
    third = start(rt, T0 + 21 * MINUTE)
    assert rt.housekeeping(T0 + 25 * MINUTE)["alert_digests"] == 0
    assert rt.housekeeping(T0 + 26 * MINUTE)["alert_digests"] == 1
    assert [d.subject for d in digests(rt)][-1] == "【tourflow 提醒】您有 1 条待办提醒"
    assert f"#{third}" in digests(rt)[-1].body


def test_a_start_hears_of_listeners_turned_on_between_starts_and_reads_none_while_nobody_listens(rt):
    """The start's first statement says whether anyone has alerts on (engine/run/start_reads.py): with nobody,
    its new task reads no listeners and alerts nobody; a preference turned on after it counts from the next
    start, in its own transaction; one turned off again stops the alerts."""
    quiet = start(rt, T0)
    with counting(rt) as counted:
        start(rt, T0 + MINUTE)
    assert not any("STAFF_ALERT_PREFERENCE.EVENTS" in s for s in statements_of(counted)), "nobody listens: no read"
    prefer(rt, "operator1", "email", "op1@example.com")
    heard = start(rt, T0 + 2 * MINUTE)
    prefer(rt, "operator1", "none")
    start(rt, T0 + 3 * MINUTE)
    assert [(a.event, a.instance_id) for a in alerts(rt)] == [("new_task", heard)]
    assert quiet not in {a.instance_id for a in alerts(rt)}


def test_an_incident_alerts_the_lane_that_resolves_it_and_an_overdue_task_alerts_once(rt):
    prefer(rt, "operator1", "webhook", "13800001111", events=["incident", "overdue"])
    prefer(rt, "agent2", "email", "agent2@example.com", events=["overdue"])
    with frozen_at(T0):
        failed = business(rt, refer_to="operator")
    [incident] = alerts(rt)
    assert (incident.username, incident.event, incident.instance_id) == ("operator1", "incident", failed)
    assert "满房" in incident.detail
    waiting = start(rt, T0 + MINUTE)
    assert [a.event for a in alerts(rt)] == ["incident"], "new-task alerts were not asked for"
    late = T0 + timedelta(days=5)
    result = rt.housekeeping(late)
    assert result["overdue_alerts"] == 2, "the staff lane's task is overdue for both who asked"
    assert {(a.username, a.instance_id) for a in alerts(rt) if a.event == "overdue"} == {
        ("operator1", waiting), ("agent2", waiting)}
    assert rt.housekeeping(late + MINUTE)["overdue_alerts"] == 0, "once per due date"
    assert [d.recipient for d in digests(rt)] == ["13800001111"], "the incident's alert was a window old already"
    rt.housekeeping(late + 5 * MINUTE)
    sent = {d.recipient: d for d in digests(rt)}
    assert set(sent) == {"13800001111", "agent2@example.com"}
    assert sent["13800001111"].channel == "webhook" and "流程故障" in sent["13800001111"].body
    assert "任务已超期" in sent["agent2@example.com"].body


def test_alerts_of_someone_who_turned_them_off_are_dropped(rt):
    prefer(rt, "operator1", "email", "op1@example.com")
    start(rt, T0)
    prefer(rt, "operator1", "none")
    assert rt.housekeeping(T0 + 10 * MINUTE)["alert_digests"] == 0
    [alert] = alerts(rt, "operator1")
    assert alert.settled_at is not None and alert.message_id is None
    assert not digests(rt)


@pytest.mark.parametrize(("channel", "address", "field"), [
    ("email", "not-an-address", "address"), ("webhook", "", "address"), ("sms", "1380000", "channel"),
    ("email", "a" * 190 + "@example.com", "address")])
def test_a_preference_that_cannot_be_delivered_is_refused_naming_the_field(rt, channel, address, field):
    with pytest.raises(FormInvalid) as refused:
        prefer(rt, "agent1", channel, address)
    assert refused.value.field == field
    with rt.reading() as session:
        assert staff_alerts.preference(session, "agent1")["channel"] == "none"


def test_a_customer_message_that_failed_for_good_alerts_the_lane_of_its_step(rt):
    prefer(rt, "operator1", "email", "op1@example.com", events=["incident"])
    instance = start(rt, T0)
    message_id = failed_message(rt, lane="operator", instance_id=instance)
    [alert] = alerts(rt, "operator1")
    assert (alert.event, alert.instance_id) == ("incident", instance)
    assert alert.title == "流程故障：消息发送失败 booking.payment_reminder"
    assert "HTTP 400: bad phone" in alert.detail
    assert alert.idempotency_key == f"incident:{instance}:message-{message_id}:operator1"


def test_a_system_lane_incident_alerts_whoever_may_resolve_it_supervisors_and_process_owners(rt):
    """Who is alerted is who `policy.resolve_refusal` lets resolve: not a second rule of its own."""
    for username in ("supervisor1", "owner1", "operator1", "auditor1"):
        prefer(rt, username, "email", f"{username}@example.com", events=["incident"])
    instance_id = start(rt, T0)
    with rt.transaction() as tx:
        made = staff_alerts.note_incident(tx.session, instance_id=instance_id, lane="system", name="定时作业",
                                          error="connection refused", now=T0, ref="job-1")
    assert made == 2
    assert {a.username for a in alerts(rt)} == {"supervisor1", "owner1"}
