"""Queueing messages in the outbox: in the caller's transaction, idempotent, audited, skipped by replay."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.errors import TourflowError
from engine.outbox import events
from engine.outbox.queue import enqueue, mask_recipient, message_status, messages_of, timeline
from tests.support.outbox import deploy_notify, messages, outbox_events, start_notify

pytestmark = pytest.mark.both_databases

NOW = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


def queue_one(session, key: str = "k-1", **extra):
    fields = {"kind": "staff.alert", "channel": "log", "recipient": "agent1", "subject": "新任务",
              "body": "您有一个新任务：客户投诉", "payload": {"task": "handle"}, "idempotency_key": key, "now": NOW}
    return enqueue(session, **{**fields, **extra})


def test_a_handler_queues_its_message_in_its_step_and_replay_skips_the_event(runtime):
    deploy_notify(runtime)
    instance_id = start_notify(runtime, times=2)  # the same key twice in one step: one message
    [message] = messages(runtime)
    assert (message.kind, message.channel, message.status, message.attempts) == ("booking.confirmation", "log",
                                                                                  "queued", 0)
    assert message.instance_id == instance_id and message.lane == "agent" and message.task == "on_record"
    assert message.subject.startswith("您的预订已确认") and message.next_attempt_at == message.created_at
    assert runtime.show(instance_id)["data"]["notified"] == {"message_ids": [message.id]}
    [(kind, stream_instance, payload)] = outbox_events(runtime)
    assert (kind, stream_instance) == (events.QUEUED, instance_id)
    assert payload["message"] == message.id and payload["recipient"] == "zhang@example.com"
    assert payload["idempotency_key"] == message.idempotency_key
    with runtime.db.read() as session:
        [row] = messages_of(session, instance_id)
        assert messages_of(session, instance_id + 1) == []
    assert (row["id"], row["status"], row["recipient"], row["sent_at"]) == (message.id, "queued", "z***@example.com",
                                                                           None)
    # the runtime fixture then replays the instance: the outbox event must not disturb it


def test_the_same_key_again_returns_the_first_message_and_adds_nothing(runtime):
    with runtime.db.write() as session, session.begin():
        first = queue_one(session)
        again = queue_one(session, subject="另一个主题")
        assert again.id == first.id and again.subject == "新任务"
    with runtime.db.write() as session, session.begin():
        assert queue_one(session).id == first.id  # in a later transaction too
        other = queue_one(session, key="k-2")
    assert [m.id for m in messages(runtime)] == [first.id, other.id]
    queued = outbox_events(runtime, events.QUEUED)
    assert [(p["message"], instance) for _, instance, p in queued] == [(first.id, None), (other.id, None)]


def test_a_message_exists_only_if_its_transaction_commits(runtime):
    with runtime.db.write() as session:
        session.begin()
        queue_one(session)
        session.rollback()
    assert messages(runtime) == [] and outbox_events(runtime) == []


def test_status_reads_and_timeline_mask_the_recipient(runtime):
    with runtime.db.write() as session, session.begin():
        mail = queue_one(session, key="m", channel="email", recipient="zhangsan@example.com")
        sms = queue_one(session, key="s", channel="webhook", recipient="13812345678")
    with runtime.db.read() as session:
        assert message_status(session, [mail.id, sms.id, 999]) == {mail.id: "queued", sms.id: "queued"}
        shown = timeline(session, mail.id)
        whole = timeline(session, mail.id, masked=False)
        assert timeline(session, 999) is None
    assert shown["recipient"] != "zhangsan@example.com" and shown["recipient"].endswith("@example.com")
    assert whole["recipient"] == "zhangsan@example.com"
    assert [e["kind"] for e in shown["events"]] == [events.QUEUED]
    assert shown["events"][0]["recipient"] == shown["recipient"]
    assert mask_recipient("13812345678") == "138****5678" and mask_recipient("agent1") == "agent1"


def test_an_unknown_channel_is_refused(runtime):
    with runtime.db.write() as session, session.begin(), pytest.raises(TourflowError) as refused:
        queue_one(session, channel="pigeon")
    assert refused.value.key == "outbox.unknown_channel"


def test_without_a_lane_the_message_belongs_to_the_lane_of_its_step(runtime):
    deploy_notify(runtime)
    instance_id = start_notify(runtime, lane="")  # the handler names no lane
    [message] = messages(runtime)
    assert (message.instance_id, message.task, message.lane) == (instance_id, "on_record", "system")
