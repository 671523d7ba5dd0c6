"""The issue's "Done when": a P10 booking made over real HTTP through the JSON API (as the inbox does)
sends its confirmation as a mail to a local SMTP server and as a signed webhook call to a local HTTP
receiver, both started here, with the channels configured as an operator would (environment); the
payment reminder is queued when its timer falls due, not before, and delivered the same way; a second
delivery pass sends nothing again. (A worker killed with SIGKILL mid-delivery: tests/test_outbox_worker_kill.py.)"""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select
from werkzeug.serving import make_server

from engine.access.users import create_token
from engine.clock import CHINA, utcnow
from engine.outbox.channels.webhook import SIGNATURE_HEADER, verify_signature
from engine.store.models import OutboxMessage
from handlers.domain.models import ContactRecord
from tests.support.booking_desk import BPMN
from tests.support.receivers import SmtpReceiver, WebhookReceiver
from tests.support.world import deploy
from webapp import create_app

pytestmark = pytest.mark.both_databases

SECRET = "desk-webhook-密钥"
CONTACT = "zhao.xue@example.com"


@pytest.fixture
def server(runtime, db_url):
    """The web app on a real port of 127.0.0.1, sharing the test's engine."""
    deploy(runtime, BPMN)
    app = create_app({"TESTING": True, "SECRET_KEY": "e2e", "DATABASE_URL": db_url})
    app.extensions["tourflow"].use_runtime(runtime)
    http = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()


@pytest.fixture
def receivers(monkeypatch):
    with SmtpReceiver() as smtp, WebhookReceiver() as hook:
        for name, value in {"TOURFLOW_CUSTOMER_CHANNELS": "email,webhook", "TOURFLOW_SMTP_HOST": "127.0.0.1",
                            "TOURFLOW_SMTP_PORT": str(smtp.port), "TOURFLOW_SMTP_STARTTLS": "0",
                            "TOURFLOW_SMTP_FROM": "desk@tourflow.example", "TOURFLOW_WEBHOOK_URL": hook.url,
                            "TOURFLOW_WEBHOOK_SECRET": SECRET}.items():
            monkeypatch.setenv(name, value)
        yield smtp, hook


def outbox(runtime, kind: str) -> list[OutboxMessage]:
    with runtime.db.read() as session:
        return list(session.execute(select(OutboxMessage).where(OutboxMessage.kind == kind)
                                    .order_by(OutboxMessage.id)).scalars())


def book_over_http(base: str, token: str, service_day: str) -> int:
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"
    started = api.post(f"{base}/api/v1/processes/booking_desk/instances", json={}, timeout=30)
    assert started.status_code == 201, started.text
    instance = started.json()["id"]

    def complete(task: str, data: dict) -> None:
        [row] = [t for t in api.get(f"{base}/api/v1/instances/{instance}/tasks", timeout=30).json()["items"]
                 if t["task"] == task and t["state"] == "ready"]
        answer = api.post(f"{base}/api/v1/tasks/{row['id']}/complete", json=data, timeout=30)
        assert answer.status_code == 200, answer.text

    complete("record_inquiry", {"service_date": service_day, "service_time": "18:00", "party_size": 4,
                                "services": ["泰安团餐餐厅", "地陪导游"], "inquiry_channel": "电话",
                                "manual_entry": False})
    complete("confirm_booking", {"customer_name": "赵雪", "contact": CONTACT, "payment_method": "在线支付",
                                 "details_confirmed": True})
    return instance


def test_a_booking_through_the_api_mails_and_signs_its_confirmation_and_reminds_on_schedule(
        runtime, server, receivers):
    smtp, hook = receivers
    with runtime.db.write() as session, session.begin():
        token = create_token(session, "agent1", "e2e")
    service_day = (utcnow() + timedelta(days=30)).astimezone(CHINA).date().isoformat()
    booked_at = utcnow()
    instance = book_over_http(server, token, service_day)
    [mail_row, hook_row] = outbox(runtime, "booking.confirmation")
    assert (mail_row.channel, mail_row.recipient, hook_row.channel) == ("email", CONTACT, "webhook")
    assert mail_row.instance_id == hook_row.instance_id == instance

    sent = runtime.send_due_messages()
    assert sorted(r["status"] for r in sent) == ["sent", "sent"]
    [mail] = smtp.mails
    code = runtime.show(instance)["data"]["booking"]["code"]
    assert mail["To"] == CONTACT and mail["Subject"] == f"【预订确认】您的预订 {code} 已生成"
    text = mail.get_body(("plain",)).get_content()
    assert "尊敬的赵雪：" in text and f"服务时间：{service_day} 18:00" in text and "应付金额：500.00 元" in text
    [request] = hook.requests
    assert verify_signature(SECRET, request.headers.get(SIGNATURE_HEADER), request.body)
    assert not verify_signature("another secret", request.headers.get(SIGNATURE_HEADER), request.body)
    document = json.loads(request.body)
    assert (document["kind"], document["recipient"]) == ("booking.confirmation", CONTACT)
    assert document["body"].startswith(f"【预订确认】尊敬的客户，您的预订 {code} 已生成")
    with runtime.db.read() as session:
        [record] = session.execute(select(ContactRecord).where(ContactRecord.instance_id == instance)).scalars()
    assert sorted(record.details["outbox_ids"]) == sorted([mail_row.id, hook_row.id])

    reminder_due = booked_at + timedelta(hours=24)  # booking_desk.payment_reminder_hours
    runtime.tick(reminder_due - timedelta(minutes=5))
    assert outbox(runtime, "booking.payment_reminder") == [], "not before its time"
    runtime.tick(reminder_due + timedelta(minutes=5))
    reminders = outbox(runtime, "booking.payment_reminder")
    assert [r.channel for r in reminders] == ["email", "webhook"]
    assert runtime.send_due_messages() == [], "queued for the moment the timer fired"
    runtime.send_due_messages(reminder_due + timedelta(minutes=5))
    assert [m["Subject"] for m in smtp.mails][-1] == f"【支付提醒】您的预订 {code} 尚未支付"
    assert len(hook.requests) == 2 and verify_signature(SECRET, hook.requests[1].headers.get(SIGNATURE_HEADER),
                                                        hook.requests[1].body)
    assert runtime.send_due_messages(reminder_due + timedelta(hours=1)) == [], "everything went once"
    assert len(smtp.mails) == 2 and sum(hook.applied.values()) == 2
