"""A `tourflow worker` process killed with SIGKILL while the webhook receiver holds its request open:
after the lease runs out another worker sends the message again with the same Idempotency-Key, and the
receiver applies it once."""

from __future__ import annotations

import threading

import pytest

from engine.store.states import OutboxStatus
from tests.support.outbox import deploy_notify, messages, start_notify
from tests.support.receivers import WebhookReceiver
from tests.support.workers import Workers, wait_for

pytestmark = pytest.mark.both_databases

SECRET = "kill-test-secret"


def test_a_worker_killed_mid_delivery_neither_loses_nor_duplicates_the_message(runtime, db_url, tmp_path):
    deploy_notify(runtime)
    hold = threading.Event()
    with WebhookReceiver(hold=hold) as hook:
        workers = Workers(db_url, tmp_path, TOURFLOW_CUSTOMER_CHANNELS="webhook", TOURFLOW_WEBHOOK_URL=hook.url,
                          TOURFLOW_WEBHOOK_SECRET=SECRET, TOURFLOW_OUTBOX_LEASE_SECONDS="2",
                          TOURFLOW_OUTBOX_TIMEOUT_SECONDS="30", TOURFLOW_OUTBOX_BACKOFF_SECONDS="0.5")
        try:
            start_notify(runtime, channel="webhook")
            workers.start("first")
            wait_for(hook.arrived.is_set, workers, what="the first worker's request")
            workers.kill9("first")
            [message] = messages(runtime)
            assert (message.status, message.attempts) == (OutboxStatus.SENDING, 1)  # leased to the dead worker
            hold.set()
            workers.start("second")
            wait_for(lambda: messages(runtime)[0].status == OutboxStatus.SENT, workers, what="the second delivery")
        finally:
            workers.stop_all()
    [message] = messages(runtime)
    assert message.attempts == 2 and message.locked_by is None
    assert dict(hook.seen) == {message.idempotency_key: 2}  # sent twice at most ...
    assert dict(hook.applied) == {message.idempotency_key: 1}  # ... applied once
