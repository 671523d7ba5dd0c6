"""Delivery incidents on the incident page: listed for their lane with the recipient masked, resolved there."""

from __future__ import annotations

from tests.support.outbox import failed_message, messages
from tests.support.web import page_text


def test_the_lane_sees_its_failed_message_and_sends_it_again_from_the_incident_page(client_for, runtime):
    message_id = failed_message(runtime, lane="agent")
    agent = client_for("agent1")
    page = agent.get("/incidents").get_data(as_text=True)
    assert "发送失败的消息" in page and f'id="message-{message_id}"' in page
    assert "138****5678" in page and "13812345678" not in page and "HTTP 400: bad phone" in page
    assert 'value="retry"' in page
    assert "发送失败的消息" not in client_for("qc1").get("/incidents").get_data(as_text=True)
    supervisor_page = client_for("supervisor1").get("/incidents").get_data(as_text=True)
    assert f'id="message-{message_id}"' in supervisor_page and 'value="retry"' in supervisor_page  # any lane's
    assert 'value="retry"' not in client_for("auditor1").get("/incidents").get_data(as_text=True)
    refused = client_for("qc1").post(f"/outbox/{message_id}/resolve", {"action": "retry", "reason": "试试"})
    assert refused.status_code == 403
    done = agent.post(f"/outbox/{message_id}/resolve", {"action": "retry", "reason": "客户更正了手机号"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/incidents")
    assert f"消息 #{message_id} 已重新排队发送。" in page_text(agent.get("/incidents"))
    assert [(m.status, m.attempts) for m in messages(runtime)] == [("queued", 0)]
    again = agent.post(f"/outbox/{message_id}/resolve", {"action": "give_up", "reason": "客户取消"})
    assert again.status_code == 302 and messages(runtime)[0].status == "cancelled"
