"""One complaint walked through the pages only, the way staff click through it."""

from __future__ import annotations

import html
import re

from tests.support.complaint import COMPLAINT

FORM = {**COMPLAINT, "complaint_at": "2026-11-20T09:30", "involves_multiple_departments": "false",
        "escalated_to_authority": "false"}


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def inbox_task(client, step: str) -> str:
    """The link of a step in the user's inbox."""
    page = text(client.get("/"))
    found = re.search(rf'<a class="step-link" href="(/tasks/\d+)">{step}</a>', page)
    assert found, f"{step} is not in the inbox"
    return found.group(1)


def test_a_complaint_through_the_pages_from_start_to_completed(runtime, client_for):
    agent, guide, auditor = client_for("agent1"), client_for("guide1"), client_for("auditor1")

    # agent1 starts the process and lands on its first task
    assert "游客投诉处理流程" in text(agent.get("/start"))
    response = agent.post("/start/complaint_handling")
    assert response.status_code == 302
    task_url = response.headers["Location"]
    assert re.fullmatch(r"/tasks/\d+", task_url)
    page = text(agent.get(task_url))
    assert "已发起「游客投诉处理流程」" in page and "<h1>受理投诉并上报质检培训部</h1>" in page

    # a bad phone number: refused next to the field, input kept
    response = agent.post(task_url, data={**FORM, "contact_phone": "电话未知"})
    assert response.status_code == 422
    page = text(response)
    assert "格式不正确" in page and 'value="电话未知"' in page and 'value="张建国"' in page

    # valid: done, back to the inbox (the next step is the guide's)
    response = agent.post(task_url, data=FORM)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "已完成「受理投诉并上报质检培训部」" in text(agent.get("/"))
    assert agent.post(task_url, data=FORM).status_code == 409, "a second submit changes nothing"

    # the guide sees resolve_locally, with the phone masked
    guide_page = text(guide.get("/"))
    assert "在当地解决" in guide_page and "138****4567" in guide_page
    resolve_url = inbox_task(guide, "在当地解决")
    assert guide.post(f"{resolve_url}/claim").status_code == 302
    assert "guide1" in text(guide.get("/?who=mine"))
    response = guide.post(resolve_url, data={"resolved_locally": "true", "local_action": "当晚更换同级酒店"})
    assert response.status_code == 302
    file_url = response.headers["Location"]
    assert file_url != "/" and "上报质检培训部备案" in text(guide.get(file_url)), "straight on to the next step"

    # the auditor watches, and can change nothing
    assert "上报质检培训部备案" in text(auditor.get("/"))
    assert auditor.post(file_url, data={"filing_note": "审计代填"}).status_code == 403
    assert auditor.post(f"{file_url}/claim").status_code == 403

    response = guide.post(file_url, data={"filing_note": "已在当地解决，报质检备案"})
    assert response.status_code == 302 and response.headers["Location"] == "/"

    instance_id = runtime.task(int(task_url.rsplit("/", 1)[1]))["instance_id"]
    page = text(agent.get(f"/instances/{instance_id}"))
    assert '<span class="badge status-completed">已完成</span>' in page
    assert "流程结束" in page and "当地已解决" in page
    assert text(guide.get("/")).count('class="step-link"') == 0, "nothing left to do"
    assert runtime.show(instance_id)["status"] == "completed"
