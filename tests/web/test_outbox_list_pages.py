"""外发消息 (the supervisors' page of outgoing messages, with retry), 消息模板 (previews, masked) and
提醒设置 (each user's alert preference): who sees what, success, validation, English."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.clock import utcnow
from engine.outbox import events, queue
from engine.store.models import AuditEvent, OutboxMessage
from engine.store.states import OutboxStatus
from tests.support.booking_desk import BPMN as BOOKING_BPMN
from tests.support.booking_desk import INQUIRY, Walk
from tests.support.web import page_text
from tests.support.world import deploy

PHONE = "13812345678"


def queue_message(runtime, *, status=OutboxStatus.FAILED, instance=True, recipient=PHONE) -> int:
    """A customer message of a running complaint (or a staff alert), left in `status`."""
    instance_id = runtime.start("complaint_handling", {"desk": "旅游", "customer_name": "赵六",
                                                        "contact_phone": PHONE}) if instance else None
    now = utcnow()
    with runtime.transaction() as tx:
        message = queue.enqueue(tx.session, kind="booking.confirmation", channel="webhook", recipient=recipient,
                                subject="【预订确认】您的预订 BD1 已生成", body="尊敬的赵六：您的预订已生成",
                                payload={}, idempotency_key=f"test:{now.isoformat()}:{recipient}", now=now,
                                instance_id=instance_id)
        message.status, message.attempts = status, 8
        message.last_error = "HTTP 500 from the SMS provider" if status == OutboxStatus.FAILED else None
        message.failed_at = now if status == OutboxStatus.FAILED else None
        return message.id


def message(runtime, message_id: int) -> OutboxMessage:
    with runtime.db.read() as session:
        return session.get(OutboxMessage, message_id)


def test_the_supervisor_sees_failed_messages_whole_others_masked_staff_not_at_all(runtime, client_for):
    failed = queue_message(runtime)
    sent = queue_message(runtime, status=OutboxStatus.SENT, recipient="13900001111")
    page = page_text(client_for("supervisor1").get("/outbox"))
    assert f'data-message-id="{failed}"' in page and f'data-message-id="{sent}"' not in page, "failed ones first"
    assert PHONE in page and "HTTP 500 from the SMS provider" in page
    assert f'data-message-id="{sent}"' in page_text(client_for("supervisor1").get("/outbox?status=sent"))
    for masked_viewer in ("owner1", "auditor1"):
        shown = page_text(client_for(masked_viewer).get("/outbox"))
        assert "138****5678" in shown and PHONE not in shown, masked_viewer
        detail = page_text(client_for(masked_viewer).get(f"/outbox/{failed}"))
        assert "正文含客户个人信息" in detail and "尊敬的赵六" not in detail
    assert "尊敬的赵六" in page_text(client_for("supervisor1").get(f"/outbox/{failed}"))
    for outsider in ("agent2", "manager1", "qc1"):
        assert client_for(outsider).get("/outbox").status_code == 403
    assert "外发消息" in page_text(client_for("supervisor1").get("/")), "the navigation links it"
    assert 'href="/outbox"' not in page_text(client_for("agent2").get("/"))


def test_a_failed_message_is_sent_again_with_a_reason(runtime, client_for):
    failed = queue_message(runtime)
    supervisor = client_for("supervisor1")
    refused = supervisor.post(f"/outbox/{failed}/retry", {"reason": "  "})
    assert refused.status_code == 422 and "请填写重新发送的原因" in page_text(refused)
    assert message(runtime, failed).status == OutboxStatus.FAILED
    assert client_for("auditor1").post(f"/outbox/{failed}/retry", {"reason": "x"}).status_code == 403
    done = supervisor.post(f"/outbox/{failed}/retry", {"reason": "短信平台已恢复"})
    assert done.status_code == 302
    again = message(runtime, failed)
    assert (again.status, again.attempts) == (OutboxStatus.QUEUED, 0)
    assert again.next_attempt_at <= utcnow() + timedelta(seconds=1)
    with runtime.db.read() as session:
        [event] = session.execute(select(AuditEvent).where(AuditEvent.kind == events.RETRIED)).scalars()
    assert (event.actor, event.instance_id) == ("supervisor1", again.instance_id)
    timeline = page_text(supervisor.get(f"/outbox/{failed}"))
    assert "短信平台已恢复" in timeline, "the timeline shows the reason"
    assert "重新发送" in timeline and "outbox_retried" not in timeline, "its steps are named in words"
    twice = supervisor.post(f"/outbox/{failed}/retry", {"reason": "再试"})
    assert twice.status_code == 409 and "此消息不是发送失败状态" in page_text(twice)


def test_the_template_page_previews_with_the_customer_masked(client_for):
    page = page_text(client_for("owner1").get("/messages/templates?kind=booking.confirmation&channel=email"))
    assert "booking.payment_reminder" in page and "staff.alert" in page
    assert "尊敬的张**：" in page and "张建国" not in page and "【预订确认】您的预订 BD2026120100042 已生成" in page
    assert "136" not in page.split("preview-body")[1][:20]
    sms = page_text(client_for("supervisor1").get("/messages/templates?kind=booking.receipt&channel=webhook"))
    assert "已收到 1360.00 元（在线支付）" in sms
    assert client_for("agent1").get("/messages/templates").status_code == 403
    api = client_for("supervisor1").api("GET", "/api/v1/message-templates/booking.expired?channel=webhook").get_json()
    assert api["body"] == "【预订取消】您的预订 BD2026120100042 超过有效期未支付，已自动取消。"
    assert api["data"]["customer_name"] == "张**"
    assert client_for("supervisor1").api("GET", "/api/v1/message-templates/no.such").status_code == 404
    listed = client_for("owner1").api("GET", "/api/v1/message-templates").get_json()["items"]
    assert all(item["problems"] == [] for item in listed)


def test_each_user_sets_their_own_alerts(runtime, client_for):
    agent = client_for("agent1")
    assert "提醒设置" in page_text(agent.get("/settings/alerts"))
    wrong = agent.post("/settings/alerts", {"channel": "email", "address": "agent1-at-example", "events": ["new_task"]})
    assert wrong.status_code == 422 and "请填写有效的邮箱地址" in page_text(wrong)
    assert 'value="agent1-at-example"' in page_text(wrong), "what was typed stays in the form"
    saved = agent.post("/settings/alerts", {"channel": "email", "address": "agent1@example.com",
                                            "events": ["new_task", "overdue"]})
    assert saved.status_code == 302
    mine = agent.api("GET", "/api/v1/me/alerts").get_json()
    assert (mine["channel"], mine["address"], mine["events"]) == ("email", "agent1@example.com", ["new_task", "overdue"])
    assert client_for("guide1").api("GET", "/api/v1/me/alerts").get_json()["channel"] == "none", "each their own"
    answer = agent.api("POST", "/api/v1/me/alerts", {"channel": "webhook", "address": "13800002222"})
    assert answer.status_code == 200 and answer.get_json()["events"] == ["new_task", "overdue", "incident"]
    bad = agent.api("POST", "/api/v1/me/alerts", {"channel": "webhook", "address": "138", "events": ["lunch"]})
    assert bad.status_code == 422 and bad.get_json()["field"] == "events"
    assert client_for("auditor1").post("/settings/alerts", {"channel": "none"}).status_code == 403


@pytest.mark.parametrize("path", ["/outbox", "/messages/templates", "/settings/alerts"])
def test_the_pages_read_in_english(client_for, path):
    supervisor = client_for("supervisor1")
    supervisor.get("/lang/en")
    page = page_text(supervisor.get(path))
    shown = page.split("<main")[1].split("template-preview")[0]  # a preview is the message itself: Chinese
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in shown), path


def test_the_instance_page_shows_the_customers_messages_and_how_far_they_got(runtime, client_for, request):
    deploy(runtime, BOOKING_BPMN)
    walk = Walk(runtime, request, at=utcnow() - timedelta(minutes=5))
    walk.book(inquiry={**INQUIRY, "service_date": (utcnow() + timedelta(days=30)).date().isoformat()})
    assert [r["status"] for r in runtime.send_due_messages()] == ["delivered"], "the log channel: delivered"
    page = page_text(client_for("supervisor1").get(f"/instances/{walk.id}"))
    panel = page.split("contact-history")[1]
    assert "booking.confirmation" in panel and "已送达" in panel and "13655556666" in panel
    assert "【预订确认】尊敬的客户" in panel
    masked = page_text(client_for("auditor1").get(f"/instances/{walk.id}")).split("contact-history")[1]
    assert "136****6666" in masked and "13655556666" not in masked and "【预订确认】" not in masked
