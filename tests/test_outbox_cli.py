"""`tourflow outbox`: list, show, send-due, retry and give-up, run as the real console command against a
webhook receiver started here."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.outbox.queue import enqueue
from tests.support.outbox import messages
from tests.support.receivers import WebhookReceiver


def queue(runtime, count: int) -> list[int]:
    with runtime.db.write() as session, session.begin():
        return [enqueue(session, kind="booking.payment_reminder", channel="webhook", recipient=f"1391234567{i}",
                        subject="付款提醒", body="请于出发前 7 天付清尾款。", payload={"booking": f"BK-{i}"},
                        idempotency_key=f"reminder-{i}", now=datetime.now(UTC), lane="agent").id
                for i in range(count)]


def test_send_list_show_retry_and_give_up_from_the_command_line(cli, runtime):
    first, second = queue(runtime, 2)
    with WebhookReceiver(statuses=[500, 500]) as hook:
        cli.env.update(TOURFLOW_WEBHOOK_URL=hook.url, TOURFLOW_WEBHOOK_SECRET="cli-secret",
                       TOURFLOW_OUTBOX_MAX_ATTEMPTS="1")
        sent = cli.json("outbox", "send-due")
        assert [(r["id"], r["status"]) for r in sent] == [(first, "failed"), (second, "failed")]
        failed = cli.json("outbox", "list", "--status", "failed")
        assert [(m["id"], m["recipient"], m["last_error"]) for m in failed] == [
            (second, "139****5671", "HTTP 500: busy"), (first, "139****5670", "HTTP 500: busy")]
        shown = cli.run("outbox", "show", str(first), check=True).stdout
        assert "付款提醒" in shown and "outbox_failed" in shown and "139****5670" in shown
        assert "13912345670" in cli.run("outbox", "show", str(first), "--unmasked", check=True).stdout
        retried = cli.run("outbox", "retry", "--failed", "--reason", "网关恢复", check=True).stdout
        assert retried.strip() == f"2 message(s) queued again: {first}, {second}"
        gave_up = cli.run("outbox", "give-up", str(second), "--reason", "客户取消了预订", check=True).stdout
        assert gave_up.strip() == f"message {second} is cancelled"
        again = cli.run("outbox", "send-due", check=True).stdout
        assert f"#{first:<6} attempt 1 -> sent" in again and "1 message(s) handled" in again
    assert len(hook.requests) == 3 and dict(hook.applied) == {"reminder-0": 1}
    conflict = cli.run("outbox", "give-up", str(first), "--reason", "太晚了")
    assert conflict.returncode == 3 and "sent" in conflict.stderr
    assert cli.run("outbox", "retry", "--reason", "x").returncode == 2  # neither an id nor --failed
    assert [m.status for m in messages(runtime)] == ["sent", "cancelled"]
    assert cli.run("outbox", "show", "424242").returncode == 1
