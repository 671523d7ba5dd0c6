"""Delivering the outbox to real receivers started here: an SMTP server and an HTTP webhook receiver."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from engine.outbox import events
from engine.outbox.channels.base import Sent
from engine.outbox.channels.smtp import EmailChannel
from engine.outbox.channels.webhook import SIGNATURE_HEADER, WebhookChannel, verify_signature
from engine.outbox.delivery import Deliverer
from engine.outbox.settings import RetryPolicy, SmtpSettings, WebhookSettings
from engine.run.delivery_incidents import delivery_incidents
from engine.run.queries import Viewer
from engine.store.models import OutboxMessage
from engine.store.states import OutboxStatus
from tests.fixtures.outbox_handlers import BODY, SUBJECT
from tests.support.outbox import deploy_notify, messages, outbox_events, start_notify
from tests.support.receivers import SmtpReceiver, WebhookReceiver

pytestmark = pytest.mark.both_databases

SECRET = "s3cret-测试"
FAST = RetryPolicy(max_attempts=5, backoff=60, cap=600, lease=30)


def smtp_settings(receiver: SmtpReceiver, **changes) -> SmtpSettings:
    fields = {"host": "127.0.0.1", "port": receiver.port, "user": receiver.user, "password": receiver.password,
              "starttls": receiver.cafile is not None, "sender": "desk@tourflow.example", "timeout": 5,
              "cafile": str(receiver.cafile or "")}
    return SmtpSettings(**{**fields, **changes})


def deliverer(rt, receiver: WebhookReceiver | None = None, smtp: SmtpSettings | None = None,
              policy: RetryPolicy = FAST) -> Deliverer:
    channels = {}
    if receiver is not None:
        channels["webhook"] = WebhookChannel(WebhookSettings(url=receiver.url, secret=SECRET, timeout=5))
    if smtp is not None:
        channels["email"] = EmailChannel(smtp)
    return Deliverer(rt.db, owner="test-worker", policy=policy, channels=channels)


def passes(d: Deliverer, count: int, start: datetime | None = None) -> list[dict]:
    """`count` delivery passes, each an hour after the one before (past any backoff)."""
    start = start or datetime.now(UTC)
    return [r for i in range(count) for r in d.send_due(start + timedelta(hours=i))]


def test_a_mail_goes_out_over_starttls_with_login_and_chinese_subject_and_body(runtime, tmp_path):
    deploy_notify(runtime)
    with SmtpReceiver(tls_folder=tmp_path, user="desk", password="pw-2026") as smtp:
        instance_id = start_notify(runtime, channel="email", recipient="zhang@example.com")
        [result] = deliverer(runtime, smtp=smtp_settings(smtp)).send_due()
        [mail] = smtp.mails
    assert result["status"] == "sent"
    assert mail["Subject"] == SUBJECT and mail["To"] == "zhang@example.com"
    assert mail["From"] == "desk@tourflow.example" and mail["X-Tourflow-Kind"] == "booking.confirmation"
    assert mail.get_content().strip() == BODY.strip()
    [message] = messages(runtime)
    assert message.status == OutboxStatus.SENT and message.attempts == 1 and message.sent_at is not None
    assert message.provider_ref == mail["Message-ID"]
    assert mail["Message-ID"].endswith("@tourflow.example>")
    kinds = [(kind, instance) for kind, instance, _ in outbox_events(runtime)]
    assert kinds == [(events.QUEUED, instance_id), (events.SENT, instance_id)]


# aiosmtpd cannot tell that a connection wrapped in TLS from its first byte is encrypted, and warns
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_mail_goes_out_over_tls_from_the_first_byte(runtime, tmp_path):
    deploy_notify(runtime)
    with SmtpReceiver(tls_folder=tmp_path, user="desk", password="pw-465", implicit_tls=True) as smtp:
        start_notify(runtime, channel="email")
        [result] = deliverer(runtime, smtp=smtp_settings(smtp, ssl=True, starttls=False)).send_due()
        [mail] = smtp.mails
    assert result["status"] == "sent" and mail["Subject"] == SUBJECT


def test_a_wrong_smtp_password_fails_at_once(runtime, tmp_path):
    deploy_notify(runtime)
    with SmtpReceiver(tls_folder=tmp_path, user="desk", password="right") as smtp:
        start_notify(runtime, channel="email")
        [result] = deliverer(runtime, smtp=smtp_settings(smtp, password="wrong")).send_due()
        assert smtp.mails == []
    assert result["status"] == "failed" and "535" in result["error"]
    [message] = messages(runtime)
    assert message.attempts == 1 and message.failed_at is not None


def test_a_webhook_is_signed_and_carries_the_message(runtime):
    deploy_notify(runtime)
    with WebhookReceiver() as hook:
        start_notify(runtime, channel="webhook", recipient="13812345678")
        [result] = deliverer(runtime, hook).send_due()
    [request] = hook.requests
    headers = {k.lower(): v for k, v in request.headers.items()}
    [message] = messages(runtime)
    assert verify_signature(SECRET, headers[SIGNATURE_HEADER.lower()], request.body)
    assert not verify_signature("another secret", headers[SIGNATURE_HEADER.lower()], request.body)
    assert not verify_signature(SECRET, headers[SIGNATURE_HEADER.lower()], request.body + b" ")
    assert headers["idempotency-key"] == message.idempotency_key
    body = json.loads(request.body)
    assert (body["id"], body["kind"], body["recipient"], body["subject"]) == (
        message.id, "booking.confirmation", "13812345678", SUBJECT)
    assert body["payload"]["tour"] == "三亚五日游"
    assert result["status"] == "sent" and message.provider_ref == "prov-1"


def test_500_three_times_then_200_is_one_effect_after_four_attempts(runtime):
    deploy_notify(runtime)
    with WebhookReceiver(statuses=[500, 500, 503]) as hook:
        start_notify(runtime, channel="webhook")
        d = deliverer(runtime, hook)
        first = datetime.now(UTC)
        assert d.send_due(first)[0]["status"] == "queued"
        [message] = messages(runtime)
        assert message.next_attempt_at == first + timedelta(seconds=60)  # backoff: 60 s, then 120, 240
        assert d.send_due(first + timedelta(seconds=59)) == []  # not due yet
        results = passes(d, 3, first + timedelta(hours=1))
    assert [r["status"] for r in results] == ["queued", "queued", "sent"]
    assert [r.status for r in hook.requests] == [500, 500, 503, 200]
    assert len(set(hook.seen)) == 1 and sum(hook.applied.values()) == 1
    [message] = messages(runtime)
    assert message.status == OutboxStatus.SENT and message.attempts == 4 and message.last_error is None
    failed = outbox_events(runtime, events.FAILED)
    assert [p["attempt"] for _, _, p in failed] == [1, 2, 3] and not any(p["final"] for _, _, p in failed)


def test_a_webhook_that_always_fails_ends_failed_and_a_4xx_fails_at_once(runtime):
    deploy_notify(runtime)
    with WebhookReceiver(always=502) as hook:
        broken = start_notify(runtime, channel="webhook")
        results = passes(deliverer(runtime, hook), 7)
    assert [r["status"] for r in results] == ["queued"] * 4 + ["failed"]
    assert len(hook.requests) == FAST.max_attempts and sum(hook.applied.values()) == 0
    with WebhookReceiver(always=422) as hook:
        start_notify(runtime, channel="webhook", recipient="13900001111")
        [result] = passes(deliverer(runtime, hook), 3)
    assert result["status"] == "failed" and result["error"].startswith("HTTP 422")
    first, second = messages(runtime)
    assert (first.status, first.attempts, second.status, second.attempts) == ("failed", 5, "failed", 1)
    assert runtime.show(broken)["status"] == "completed"  # a message that fails never stops its instance
    finals = [p for _, _, p in outbox_events(runtime, events.FAILED) if p["final"]]
    assert [(p["message"], p["permanent"], p["lane"]) for p in finals] == [(first.id, False, "agent"),
                                                                           (second.id, True, "agent")]
    with runtime.db.read() as session:  # two incidents of the agent lane, the instance untouched
        seen = delivery_incidents(session, Viewer("agent1", frozenset({"agent"})))
        assert {(d["message_id"], d["lane"], d["can_resolve"]) for d in seen} == {(first.id, "agent", True),
                                                                                  (second.id, "agent", True)}
        assert delivery_incidents(session, Viewer("qc1", frozenset({"qc"}))) == []


def test_the_log_channel_counts_as_delivered(runtime):
    deploy_notify(runtime)
    start_notify(runtime, channel="log")
    [result] = deliverer(runtime).send_due()
    [message] = messages(runtime)
    assert result["status"] == "delivered" and message.delivered_at is not None
    assert [k for k, _, _ in outbox_events(runtime)] == [events.QUEUED, events.SENT, events.DELIVERED]


def test_a_lease_that_ran_out_passes_the_message_to_another_worker_and_the_late_answer_is_ignored(runtime):
    deploy_notify(runtime)
    start_notify(runtime, channel="log")
    slow, other = deliverer(runtime), Deliverer(runtime.db, owner="other-worker", policy=FAST)
    [taken] = slow.lease(datetime.now(UTC))
    assert other.lease(datetime.now(UTC)) == []  # leased: nobody else takes it
    with runtime.db.write() as session, session.begin():  # the slow worker's lease runs out
        session.execute(update(OutboxMessage).values(lease_until=datetime.now(UTC) - timedelta(seconds=1)))
    [again] = other.lease(datetime.now(UTC))
    assert (again.id, again.attempt, again.idempotency_key) == (taken.id, 2, taken.idempotency_key)
    late = slow.record(taken, Sent(provider_ref="late"), datetime.now(UTC))
    assert late["status"] == "skipped"  # the message is the other worker's now
    assert other.deliver(again)["status"] == "delivered"
    [message] = messages(runtime)
    assert (message.attempts, message.provider_ref) == (2, f"log-{message.id}")
    assert [k for k, _, _ in outbox_events(runtime)] == [events.QUEUED, events.SENT, events.DELIVERED]


def test_two_workers_lease_disjoint_messages(runtime):
    deploy_notify(runtime)
    for i in range(5):
        start_notify(runtime, channel="log", recipient=f"guest{i}@example.com")
    a, b = deliverer(runtime), Deliverer(runtime.db, owner="b", policy=FAST)
    first = a.lease(datetime.now(UTC), limit=3)
    second = b.lease(datetime.now(UTC), limit=10)
    assert len(first) == 3 and len(second) == 2
    assert not {o.id for o in first} & {o.id for o in second}
    b.release([o.id for o in second])  # a worker told to stop gives back what it did not start
    assert [(m.status, m.attempts) for m in messages(runtime)][3:] == [("queued", 0), ("queued", 0)]
    assert len(a.send_due()) == 2 and len(a.send_due()) == 0  # a's own leases are not taken again
    for outgoing in first:
        a.deliver(outgoing)
    assert {m.status for m in messages(runtime)} == {"delivered"}


def test_a_webhook_that_does_not_answer_in_time_is_tried_again(runtime):
    import threading

    deploy_notify(runtime)
    hold = threading.Event()
    with WebhookReceiver(hold=hold) as hook:
        start_notify(runtime, channel="webhook")
        impatient = Deliverer(runtime.db, owner="t", policy=FAST, channels={
            "webhook": WebhookChannel(WebhookSettings(url=hook.url, secret=SECRET, timeout=0.5))})
        [result] = impatient.send_due()
        hold.set()
    assert result["status"] == "queued" and "timed out" in result["error"]
    [message] = messages(runtime)
    assert message.attempts == 1 and message.next_attempt_at is not None


class SteppingClock:
    """A clock the test moves: each slow send below takes some of it."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


class SlowChannel:
    """A channel whose every send takes `seconds` of the test's clock; during send number `look_at`,
    another worker (same clock, same lease) tries to lease what is due."""

    name = "log"

    def __init__(self, clock: SteppingClock, other: Deliverer, seconds: int, look_at: int) -> None:
        self.clock, self.other, self.seconds, self.look_at = clock, other, seconds, look_at
        self.sent, self.other_took = [], []

    def send(self, outgoing):
        self.clock.now += timedelta(seconds=self.seconds)
        self.sent.append(outgoing.id)
        if len(self.sent) == self.look_at:
            self.other_took = self.other.lease(self.clock.now)
        return Sent(provider_ref=f"slow-{outgoing.id}")


def busy_worker(rt, count: int, seconds: int, look_at: int) -> tuple[Deliverer, SlowChannel]:
    """`count` messages due, a worker whose sends take `seconds` each (leases of 60 s), and the other worker."""
    deploy_notify(rt)
    for i in range(count):
        start_notify(rt, channel="log", recipient=f"guest{i}@example.com")
    clock = SteppingClock()
    policy = RetryPolicy(max_attempts=5, backoff=60, cap=600, lease=60)
    slow = SlowChannel(clock, Deliverer(rt.db, owner="other-worker", policy=policy, clock=clock), seconds, look_at)
    return Deliverer(rt.db, owner="busy-worker", policy=policy, channels={"log": slow}, clock=clock), slow


def test_slow_sends_renew_the_lease_of_the_rest_of_the_batch_so_no_other_worker_sends_them_too(runtime):
    """A batch of four leased for 60 s, sends of 40 s each: without renewal the last two messages' leases
    run out while their worker is still busy, and another worker would take (and send) them as well."""
    busy, slow = busy_worker(runtime, count=4, seconds=40, look_at=3)
    assert [r["status"] for r in busy.send_due()] == ["sent"] * 4
    assert slow.other_took == []  # at 120 s the fourth message's lease (from 0 s) had been renewed
    assert [(m.status, m.attempts) for m in messages(runtime)] == [("sent", 1)] * 4


def test_a_message_another_worker_took_after_its_lease_ran_out_is_skipped_not_sent_twice(runtime):
    """The first send stalls past the whole lease; the other worker steps in and takes both."""
    busy, stalled = busy_worker(runtime, count=2, seconds=90, look_at=1)
    first, second = busy.send_due()
    assert first["status"] == "skipped"  # its answer came after its lease ran out and another took it
    assert second == {"id": stalled.other_took[1].id, "status": "skipped", "attempt": 1}
    assert stalled.sent == [stalled.other_took[0].id]  # the second message was never sent by the busy worker
    assert [o.attempt for o in stalled.other_took] == [2, 2]
