"""Safer task forms: routing questions start unanswered, pattern errors say the rule, and the input
of a submit that lost the race to another user stays on screen."""

from __future__ import annotations

from tests.support.complaint import COMPLAINT
from tests.support.web import field_block
from tests.support.web import page_text as text

FORM = {**COMPLAINT, "complaint_at": "2026-11-20T09:30", "involves_multiple_departments": "false",
        "escalated_to_authority": "false"}
PHONE_RULE = "7–20 位数字，可含 + - 空格"


def receive_task(rt) -> dict:
    iid = rt.start("complaint_handling", actor="agent1")
    [task] = [t for t in rt.tasks(instance_id=iid) if t["task"] == "receive_complaint"]
    return task




def test_routing_questions_are_drawn_unanswered_and_required(runtime, client_for):
    page = text(client_for("agent1").get(f"/tasks/{receive_task(runtime)['id']}"))
    for name in ("escalated_to_authority", "involves_multiple_departments"):
        block = field_block(page, name)
        assert block.count('type="radio"') == 2 and "checkbox" not in block
        assert "checked" not in block, f"{name} must not be pre-answered"
        assert block.count("required") == 2 and 'class="req"' in block


def test_leaving_a_routing_question_out_is_refused_beside_it(runtime, client_for):
    task = receive_task(runtime)
    data = {k: v for k, v in FORM.items() if k != "involves_multiple_departments"}
    response = client_for("agent1").post(f"/tasks/{task['id']}", data=data)
    assert response.status_code == 422
    assert "此项必填" in field_block(text(response), "involves_multiple_departments")
    assert runtime.task(task["id"])["state"] == "ready"


def test_a_pattern_field_shows_its_rule_as_help_and_in_its_error(runtime, client_for):
    task = receive_task(runtime)
    agent = client_for("agent1")
    phone = field_block(text(agent.get(f"/tasks/{task['id']}")), "contact_phone")
    assert f"格式：{PHONE_RULE}" in phone and f'title="{PHONE_RULE}"' in phone
    assert 'aria-describedby="f-contact_phone-help f-contact_phone-hint"' in phone
    response = agent.post(f"/tasks/{task['id']}", data={**FORM, "contact_phone": "call me"})
    assert response.status_code == 422
    assert f"格式不正确：{PHONE_RULE}" in field_block(text(response), "contact_phone")


def test_the_rule_is_english_after_the_switch(runtime, client_for):
    task = receive_task(runtime)
    agent = client_for("agent1")
    agent.get("/lang/en")
    response = agent.post(f"/tasks/{task['id']}", data={**FORM, "contact_phone": "call me"})
    phone = field_block(text(response), "contact_phone")
    assert "Wrong format: 7–20 digits; + - and spaces allowed" in phone
    assert "Format: 7–20 digits" in phone and PHONE_RULE not in phone


def test_a_submit_that_lost_the_race_keeps_what_was_typed(runtime, client_for):
    task = receive_task(runtime)
    agent, receptionist = client_for("agent1"), client_for("receptionist1")
    assert receptionist.get(f"/tasks/{task['id']}").status_code == 200  # both have the form open
    assert agent.post(f"/tasks/{task['id']}", data=FORM).status_code == 302
    typed = {**FORM, "customer_name": "李秀英", "description": "前台记下的另一段描述", "involves_multiple_departments": "true"}
    response = receptionist.post(f"/tasks/{task['id']}", data=typed)
    assert response.status_code == 409
    page = text(response)
    assert "您的提交没有保存" in page and "您填写的内容没有保存" in page
    assert 'value="李秀英"' in field_block(page, "customer_name")
    assert "前台记下的另一段描述" in field_block(page, "description")
    assert 'value="true" checked' in field_block(page, "involves_multiple_departments")
    assert "提交并完成" not in page, "nothing to submit: the task is done"
    assert runtime.show(task["instance_id"])["data"]["customer_name"] == "张建国"


def test_a_plain_visit_of_a_completed_task_shows_no_kept_input(runtime, client_for):
    task = receive_task(runtime)
    runtime.complete(task["id"], "agent1", COMPLAINT)
    page = text(client_for("receptionist1").get(f"/tasks/{task['id']}"))
    assert "您填写的内容没有保存" not in page and 'name="customer_name"' not in page
