"""The task page: SOP, data, the generated form, claim / release / reassign / complete, and starting."""

from __future__ import annotations

import re

import pytest

from tests.support.complaint import COMPLAINT
from tests.support.web import field_block
from tests.support.web import page_text as text

FORM = {**COMPLAINT, "complaint_at": "2026-11-20T09:30", "involves_multiple_departments": "false",
        "escalated_to_authority": "false"}


def start(rt, actor="agent1") -> int:
    return rt.start("complaint_handling", actor=actor)


def open_task(rt, instance_id: int, task: str) -> dict:
    found = [t for t in rt.tasks(instance_id=instance_id) if t["task"] == task]
    assert found, f"{task} is not open in instance {instance_id}"
    return found[0]


def at_resolve_locally(rt) -> tuple[int, dict]:
    iid = start(rt)
    rt.complete(open_task(rt, iid, "receive_complaint")["id"], "agent1", COMPLAINT)
    return iid, open_task(rt, iid, "resolve_locally")




# ---- viewing ---------------------------------------------------------------------------
def test_task_page_shows_sop_as_a_list_and_the_generated_form(runtime, client_for):
    iid = start(runtime)
    task = open_task(runtime, iid, "receive_complaint")
    response = client_for("agent1").get(f"/tasks/{task['id']}")
    assert response.status_code == 200
    page = text(response)
    assert "<h1>受理投诉并上报质检培训部</h1>" in page
    assert "游客投诉处理流程" in page and f"/instances/{iid}" in page
    sop = page[page.index('<div class="sop">'):page.index("</ol>")]
    assert sop.count("<li>") == 6, "the six numbered SOP lines are list items"
    assert "各部门工作人员在工作日接到投诉的必须在1个小时内上报质检培训部" in sop
    assert "(1)" not in sop, "the numbers become the list's own"
    # labels are the schema titles, with required marks and help text
    name = field_block(page, "customer_name")
    assert "游客姓名" in name and 'class="req"' in name and 'type="text"' in name and 'maxlength="100"' in name
    phone = field_block(page, "contact_phone")
    assert 'pattern="^[0-9+\\- ]{7,20}$"' in phone and "上报质检培训部时须将客人的联系方式一并告知" in phone
    assert 'type="datetime-local"' in field_block(page, "complaint_at")
    kind = field_block(page, "kind")
    assert "<select" in kind and all(f'<option value="{k}"' in kind for k in ("服务质量", "行程安排", "住宿餐饮", "导游服务"))
    assert "<textarea" in field_block(page, "description")
    assert "<textarea" in field_block(page, "customer_request"), "maxLength > 200 -> textarea"
    assert 'class="req"' not in field_block(page, "tour_id"), "optional fields carry no mark"
    multi = field_block(page, "involves_multiple_departments")
    assert multi.count('type="radio"') == 2 and "checked" not in multi, "a routing question starts unanswered"
    assert "提交并完成" in page and "/claim" in page and "/reassign" in page


def test_task_page_shows_instance_data_with_form_labels_and_readable_values(runtime, client_for):
    iid, task = at_resolve_locally(runtime)
    page = text(client_for("guide1").get(f"/tasks/{task['id']}"))
    data = page[page.index('<dl class="data-list">'):]
    assert re.search(r"<dt[^>]*>游客姓名</dt><dd>张建国</dd>", data)
    assert re.search(r"<dt[^>]*>联系电话</dt><dd>13801234567</dd>", data)
    assert re.search(r"<dt[^>]*>涉及多个部门</dt><dd>否</dd>", data), "booleans read 是/否"
    assert re.search(r"<dt[^>]*>投诉时间</dt><dd>2026-11-20 09:30</dd>", data), "times in Shanghai time"
    assert 'type="radio"' in field_block(page, "resolved_locally")


def test_number_fields_get_min_and_step(runtime, client_for):
    iid, task = at_resolve_locally(runtime)
    runtime.complete(task["id"], "guide1", {"resolved_locally": False, "local_action": "无法解决"})
    runtime.complete(open_task(runtime, iid, "investigate_facts")["id"], "qc1", {"facts": "事实"})
    runtime.complete(open_task(runtime, iid, "determine_responsibility")["id"], "qc1",
                     {"responsible_department": "计调部"})
    plan = open_task(runtime, iid, "make_handling_plan")
    page = text(client_for("qc1").get(f"/tasks/{plan['id']}"))
    amount = field_block(page, "compensation_amount")
    assert 'type="number"' in amount and 'min="0"' in amount and 'step="any"' in amount and 'value="0"' in amount


def test_task_page_requires_login(runtime, client_for):
    task = open_task(runtime, start(runtime), "receive_complaint")
    response = client_for(None).get(f"/tasks/{task['id']}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_task_of_another_lane_is_forbidden_but_auditors_read_it(runtime, client_for):
    task = open_task(runtime, start(runtime), "receive_complaint")
    assert client_for("qc1").get(f"/tasks/{task['id']}").status_code == 403
    response = client_for("auditor1").get(f"/tasks/{task['id']}")
    assert response.status_code == 200
    page = text(response)
    assert "只读视图" in page
    assert "提交并完成" not in page and "/claim" not in page and "/reassign" not in page and "/unclaim" not in page


def test_unknown_task_is_404(client_for):
    assert client_for("agent1").get("/tasks/999999").status_code == 404


# ---- completing ------------------------------------------------------------------------
def test_bad_value_is_refused_with_the_message_next_to_the_field_and_input_kept(runtime, client_for):
    iid = start(runtime)
    task = open_task(runtime, iid, "receive_complaint")
    agent = client_for("agent1")
    response = agent.post(f"/tasks/{task['id']}", data={**FORM, "contact_phone": "call me", "kind": ""})
    assert response.status_code == 422
    page = text(response)
    phone = field_block(page, "contact_phone")
    assert "has-error" in phone and "格式不正确" in phone and 'value="call me"' in phone
    assert "此项必填" in field_block(page, "kind"), "every error is shown, not only the first"
    assert 'value="SH-2026-1118"' in field_block(page, "tour_id"), "the other inputs are kept"
    assert "酒店房间与合同标准不符" in field_block(page, "description")
    assert 'value="2026-11-20T09:30"' in field_block(page, "complaint_at")
    assert [e["kind"] for e in runtime.events(iid)].count("task_completed") == 0


def test_values_that_are_not_numbers_are_refused_before_the_engine(runtime, client_for):
    iid, task = at_resolve_locally(runtime)
    runtime.complete(task["id"], "guide1", {"resolved_locally": False, "local_action": "无法解决"})
    runtime.complete(open_task(runtime, iid, "investigate_facts")["id"], "qc1", {"facts": "事实"})
    runtime.complete(open_task(runtime, iid, "determine_responsibility")["id"], "qc1",
                     {"responsible_department": "计调部"})
    plan = open_task(runtime, iid, "make_handling_plan")
    qc = client_for("qc1")
    response = qc.post(f"/tasks/{plan['id']}", data={"compensation_amount": "六百", "serious_problem": "false"})
    assert response.status_code == 422
    page = text(response)
    assert "请输入数字" in field_block(page, "compensation_amount")
    assert "此项必填" in field_block(page, "handling_plan"), "other fields are checked in the same round"
    response = qc.post(f"/tasks/{plan['id']}", data={"handling_plan": "退差价", "compensation_amount": "-5",
                                                     "serious_problem": "false"})
    assert response.status_code == 422 and "不能小于 0" in field_block(text(response), "compensation_amount")
    response = qc.post(f"/tasks/{plan['id']}", data={"handling_plan": "退差价", "compensation_amount": "600.5",
                                                     "advance_payment": "true", "serious_problem": "false"})
    assert response.status_code == 302
    data = runtime.show(iid)["data"]
    assert (data["compensation_amount"], data["advance_payment"], data["serious_problem"]) == (600.5, True, False)


def test_valid_form_completes_with_typed_values_and_shanghai_time(runtime, client_for):
    iid = start(runtime)
    task = open_task(runtime, iid, "receive_complaint")
    agent = client_for("agent1")
    response = agent.post(f"/tasks/{task['id']}", data=FORM)
    assert response.status_code == 302
    assert response.headers["Location"] == "/", "the next step is the guide's, so back to the inbox"
    data = runtime.show(iid)["data"]
    assert data["complaint_at"] == "2026-11-20T09:30:00+08:00"
    assert data["involves_multiple_departments"] is False and data["escalated_to_authority"] is False
    assert data["contact_phone"] == "13801234567"
    assert "已完成「受理投诉并上报质检培训部」" in text(agent.get("/"))  # the flash


def test_completing_goes_on_to_the_next_task_of_my_lane(runtime, client_for):
    iid, task = at_resolve_locally(runtime)
    guide = client_for("guide1")
    response = guide.post(f"/tasks/{task['id']}", data={"resolved_locally": "true", "local_action": "更换酒店"})
    assert response.status_code == 302
    following = open_task(runtime, iid, "file_local_resolution")
    assert response.headers["Location"] == f"/tasks/{following['id']}"
    assert "下一步「上报质检培训部备案」也由您办理" in text(guide.get(response.headers["Location"]))


def test_completing_an_already_completed_task_is_a_conflict_and_no_double_step(runtime, client_for):
    iid = start(runtime)
    task = open_task(runtime, iid, "receive_complaint")
    agent, receptionist = client_for("agent1"), client_for("receptionist1")
    page_before = receptionist.get(f"/tasks/{task['id']}")  # both have the form open
    assert page_before.status_code == 200
    assert agent.post(f"/tasks/{task['id']}", data=FORM).status_code == 302
    response = receptionist.post(f"/tasks/{task['id']}", data=FORM)
    assert response.status_code == 409
    page = text(response)
    assert "此任务已由 agent1 于" in page and "您的提交没有保存" in page
    assert "提交并完成" not in page
    assert [e["kind"] for e in runtime.events(iid)].count("task_completed") == 1
    assert len(runtime.tasks(instance_id=iid)) == 1, "exactly one next step"


def test_task_claimed_by_someone_else_cannot_be_completed(runtime, client_for):
    task = open_task(runtime, start(runtime), "receive_complaint")
    runtime.claim(task["id"], "agent1")
    receptionist = client_for("receptionist1")
    page = text(receptionist.get(f"/tasks/{task['id']}"))
    assert "此任务已被 agent1 认领" in page and "提交并完成" not in page
    response = receptionist.post(f"/tasks/{task['id']}", data=FORM)
    assert response.status_code == 409 and "此任务已被 agent1 认领" in text(response)


def test_complete_refused_for_wrong_role_auditor_missing_csrf_and_anonymous(runtime, client_for):
    task = open_task(runtime, start(runtime), "receive_complaint")
    url = f"/tasks/{task['id']}"
    assert client_for("qc1").post(url, data=FORM).status_code == 403
    assert client_for("auditor1").post(url, data=FORM).status_code == 403
    assert client_for("agent1").post(url, data=FORM, csrf=False).status_code == 400
    anonymous = client_for(None).post(url, data=FORM, csrf=False)
    assert anonymous.status_code in (302, 400)
    assert runtime.tasks(instance_id=task["instance_id"])[0]["id"] == task["id"], "nothing was completed"


# ---- claim, release, reassign -----------------------------------------------------------
def test_claim_and_release(runtime, client_for):
    task = open_task(runtime, start(runtime), "receive_complaint")
    agent = client_for("agent1")
    response = agent.post(f"/tasks/{task['id']}/claim")
    assert response.status_code == 302 and response.headers["Location"] == f"/tasks/{task['id']}"
    assert runtime.task(task["id"])["assignee"] == "agent1"
    page = text(agent.get(f"/tasks/{task['id']}"))
    assert "已认领「受理投诉并上报质检培训部」" in page and "/unclaim" in page
    response = agent.post(f"/tasks/{task['id']}/unclaim")
    assert response.status_code == 302 and runtime.task(task["id"])["assignee"] is None


def test_claiming_a_task_someone_else_claimed_is_a_conflict(runtime, client_for):
    task = open_task(runtime, start(runtime), "receive_complaint")
    runtime.claim(task["id"], "agent1")
    response = client_for("receptionist1").post(f"/tasks/{task['id']}/claim")
    assert response.status_code == 409 and "此任务已被 agent1 认领" in text(response)
    # and only agent1 or a supervisor may release it
    assert client_for("receptionist1").post(f"/tasks/{task['id']}/unclaim").status_code == 403


def test_reassign_needs_a_reason_and_a_colleague_of_the_lane(runtime, client_for):
    task = open_task(runtime, start(runtime), "receive_complaint")
    agent = client_for("agent1")
    page = text(agent.get(f"/tasks/{task['id']}"))
    targets = page[page.index('id="to_user"'):page.index("</select>", page.index('id="to_user"'))]
    assert 'value="receptionist1"' in targets and 'value="guide1"' in targets, "front-line staff hold lane staff"
    assert 'value="qc1"' not in targets and 'value="auditor1"' not in targets
    response = agent.post(f"/tasks/{task['id']}/reassign", data={"to_user": "receptionist1", "reason": "  "})
    assert response.status_code == 422
    page = text(response)
    reason = page[page.index('for="reason"'):page.index("</details>")]
    assert "请填写转派原因" in reason
    assert 'value="receptionist1" selected' in page, "the choice is kept"
    response = agent.post(f"/tasks/{task['id']}/reassign", data={"to_user": "qc1", "reason": "质检处理"})
    assert response.status_code == 422 and "qc1 不在「各部门工作人员」泳道" in text(response)
    assert runtime.task(task["id"])["assignee"] is None
    response = agent.post(f"/tasks/{task['id']}/reassign", data={"to_user": "receptionist1", "reason": "客人在前台"})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert runtime.task(task["id"])["assignee"] == "receptionist1"
    event = [e for e in runtime.events(task["instance_id"]) if e["kind"] == "task_reassigned"][-1]
    assert event["payload"]["reason"] == "客人在前台"


@pytest.mark.parametrize("action", ["claim", "unclaim", "reassign"])
def test_task_actions_refused_for_auditor_wrong_role_missing_csrf_and_anonymous(runtime, client_for, action):
    task = open_task(runtime, start(runtime), "receive_complaint")
    url = f"/tasks/{task['id']}/{action}"
    data = {"to_user": "receptionist1", "reason": "原因"}
    assert client_for("auditor1").post(url, data=data).status_code == 403
    assert client_for("qc1").post(url, data=data).status_code == 403
    assert client_for("agent1").post(url, data=data, csrf=False).status_code == 400
    assert client_for(None).post(url, data=data, csrf=False).status_code in (302, 400)
    assert runtime.task(task["id"])["assignee"] is None


# ---- starting ----------------------------------------------------------------------------
def test_start_page_lists_what_my_roles_may_start(client_for):
    response = client_for("agent1").get("/start")
    assert response.status_code == 200
    page = text(response)
    assert "游客投诉处理流程" in page and 'action="/start/complaint_handling"' in page and "v1" in page
    page = text(client_for("qc1").get("/start"))
    assert "/start/complaint_handling" not in page and "您的角色没有可以发起的流程" in page


def test_start_leads_to_the_first_task(runtime, client_for):
    response = client_for("agent1").post("/start/complaint_handling")
    assert response.status_code == 302
    [task] = runtime.tasks(user="agent1")
    assert response.headers["Location"] == f"/tasks/{task['id']}"
    assert task["task"] == "receive_complaint"


def test_start_refused_for_wrong_role_auditor_unknown_process_csrf_and_anonymous(runtime, client_for):
    assert client_for("qc1").post("/start/complaint_handling").status_code == 403
    assert client_for("auditor1").post("/start/complaint_handling").status_code == 403
    assert client_for("auditor1").get("/start").status_code == 403
    assert client_for("agent1").post("/start/no_such_process").status_code == 404
    assert client_for("agent1").post("/start/complaint_handling", csrf=False).status_code == 400
    assert client_for(None).get("/start").status_code == 302
    assert runtime.tasks() == [], "nothing was started"


def test_every_missing_required_field_is_marked(runtime, client_for):
    task = open_task(runtime, start(runtime), "receive_complaint")
    response = client_for("agent1").post(f"/tasks/{task['id']}", data={"customer_name": "王小明"})
    assert response.status_code == 422
    page = text(response)
    for name in ("contact_phone", "complaint_at", "time_class", "kind", "description", "customer_request",
                 "escalated_to_authority", "involves_multiple_departments"):
        assert "此项必填" in field_block(page, name), name
    assert "此项必填" not in field_block(page, "customer_name") and 'value="王小明"' in page
    assert "此项必填" not in field_block(page, "tour_id"), "optional"
    assert "请修正下面标出的 8 处问题" in page, "a summary above the form"


def test_a_list_field_is_typed_one_per_line_and_a_bad_line_is_named(runtime, client_for):
    """P2's plan: the target customers are typed one per line, as its help says, not as JSON."""
    from engine.config import DEFAULT_PROCESSES_DIR
    from tests.support.outbound_call import PLAN
    from tests.support.world import deploy

    deploy(runtime, DEFAULT_PROCESSES_DIR / "outbound_call.bpmn")
    iid = runtime.start("outbound_call", actor="agent2")
    task = open_task(runtime, iid, "make_call_plan")
    agent = client_for("agent2")
    block = field_block(text(agent.get(f"/tasks/{task['id']}")), "target_customers")
    assert "<textarea" in block and 'placeholder="每行一项"' in block and "每行一位客户" in block
    form = {**{k: v for k, v in PLAN.items() if not isinstance(v, list)},
            "window_start": "2026-11-24T08:30", "window_end": "2026-11-27T18:00"}
    response = agent.post(f"/tasks/{task['id']}", data={**form, "target_customers": "1\n13912345678\n139-1234\n"})
    assert response.status_code == 422
    assert "第 3 行：格式不正确" in field_block(text(response), "target_customers")
    assert runtime.show(iid)["data"].get("target_customers") is None, "nothing written"
    response = agent.post(f"/tasks/{task['id']}", data={**form, "target_customers": "1\r\n13912345678\r\n\r\n3\r\n"})
    assert response.status_code == 302
    assert runtime.show(iid)["data"]["target_customers"] == ["1", "13912345678", "3"]


def test_branch_staff_see_and_work_only_their_branch_s_follow_ups(runtime, client_for):
    from engine.config import DEFAULT_PROCESSES_DIR
    from tests.support.world import deploy

    deploy(runtime, DEFAULT_PROCESSES_DIR / "followup_call.bpmn")
    iid = runtime.start("followup_call", {"tour_id": "XA-2026-1102", "phone": "13912345678"}, actor="sales1")
    task = open_task(runtime, iid, "record_followup")  # 李秀英 is a customer of the HZ01 branch
    hangzhou, shanghai = client_for("sales3"), client_for("sales1")
    assert f"/tasks/{task['id']}" in text(hangzhou.get("/"))
    assert f"/tasks/{task['id']}" not in text(shanghai.get("/"))
    response = shanghai.post(f"/tasks/{task['id']}", data={"satisfaction": "4", "customer_situation": "满意",
                                                           "service_problem": "false"})
    assert response.status_code == 403
    assert runtime.show(iid)["status"] == "running"
