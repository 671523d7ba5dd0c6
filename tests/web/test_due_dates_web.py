"""Due dates on the pages and the API: a supervisor sets or extends a task's due and follow-up date
with a reason (success, validation failures, every role), the task page and the inbox show the
dates in words, the overdue list. The clock is frozen: no date is compared with the real one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.clock import frozen_at
from tests.support.api import Api
from tests.support.complaint import COMPLAINT, MONDAY_10, Walk
from tests.support.web import page_text

NOON = MONDAY_10 + timedelta(hours=2)  # Monday 12:00 China time
TUESDAY_11 = MONDAY_10 + timedelta(days=1, hours=1)  # an hour past the QC step's working day
CHANGE = {"due_at": "2026-12-03T18:00:00+08:00", "follow_up_at": "2026-12-02T09:00", "reason": "等待酒店书面说明"}
NOT_SUPERVISORS = ("agent1", "agent2", "qc1", "guide1", "operator1", "manager1", "owner1")  # integration: the matrix


@pytest.fixture
def api(app, runtime):
    return Api(app, runtime)


@pytest.fixture
def qc_task(runtime, app):
    """An investigate_facts task (lane qc) ready since Monday 10:00, due Tuesday 10:00 (qc=working:P1D)."""
    with frozen_at(MONDAY_10):
        walk = Walk(runtime)
        walk.do("receive_complaint", "agent1", **{**COMPLAINT, "time_class": "旅游后"})
    task = walk.open_tasks()["investigate_facts"]
    assert task["due_at"] == "2026-12-01T02:00:00Z"
    return task


# ---- the API ---------------------------------------------------------------------------------
def test_a_supervisor_extends_a_due_date_through_the_api(api, runtime, qc_task):
    with frozen_at(NOON):
        response = api.as_("supervisor1").post(f"/api/v1/tasks/{qc_task['id']}/due", CHANGE)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["due_at"], body["follow_up_at"]) == ("2026-12-03T10:00:00Z", "2026-12-02T01:00:00Z")
    [event] = [e for e in runtime.events(qc_task["instance_id"]) if e["kind"] == "task_due_changed"]
    assert event["actor"] == "supervisor1"
    assert {k: event["payload"][k] for k in ("old_due_at", "new_due_at", "reason")} == {
        "old_due_at": "2026-12-01T02:00:00Z", "new_due_at": "2026-12-03T10:00:00Z", "reason": "等待酒店书面说明"}


@pytest.mark.parametrize(("body", "field"), [
    ({"due_at": "2026-11-30T11:00:00+08:00", "reason": "x"}, "due_at"),  # an hour ago
    ({"follow_up_at": "2026-11-29T09:00", "reason": "x"}, "follow_up_at"),
    ({"due_at": "2026-12-03T18:00"}, "reason"),
    ({"due_at": "2026-12-03T18:00", "reason": "   "}, "reason"),
    ({"due_at": "下周三", "reason": "x"}, "due_at"),
    ({"due_at": 20261203, "reason": "x"}, "due_at"),
    ({"reason": "只有原因"}, "due_at"),
    ({"due_at": "2026-12-03T18:00", "reason": "x", "note": "?"}, "note"),
])
def test_a_bad_change_is_422_naming_the_field_and_changes_nothing(api, runtime, qc_task, body, field):
    with frozen_at(NOON):
        response = api.as_("supervisor1").post(f"/api/v1/tasks/{qc_task['id']}/due", body)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["field"] == field
    assert runtime.task(qc_task["id"])["due_at"] == "2026-12-01T02:00:00Z"
    assert "task_due_changed" not in [e["kind"] for e in runtime.events(qc_task["instance_id"])]


@pytest.mark.parametrize("user", [*NOT_SUPERVISORS, "auditor1"])
def test_only_supervisors_change_due_dates_through_the_api(api, qc_task, user):
    with frozen_at(NOON):
        assert api.as_(user).post(f"/api/v1/tasks/{qc_task['id']}/due", CHANGE).status_code == 403
        assert api.bearer(user).post(f"/api/v1/tasks/{qc_task['id']}/due", CHANGE).status_code == 403
    assert api.anonymous().post(f"/api/v1/tasks/{qc_task['id']}/due", CHANGE).status_code == 401


def test_a_finished_task_is_409(api, runtime, qc_task):
    with frozen_at(NOON):
        runtime.complete(qc_task["id"], "qc1", {"facts": "事实"})
        assert api.as_("supervisor1").post(f"/api/v1/tasks/{qc_task['id']}/due", CHANGE).status_code == 409


def test_the_overdue_list_api_is_for_supervisors_and_auditors(api, runtime, qc_task):
    with frozen_at(TUESDAY_11):
        items = api.as_("supervisor1").get("/api/v1/tasks/overdue").get_json()["items"]
        assert [(i["id"], i["reasons"], i["since"]) for i in items] == [
            (qc_task["id"], ["overdue"], "2026-12-01T02:00:00Z")]
        assert api.bearer("auditor1").get("/api/v1/tasks/overdue").get_json()["total"] == 1
        for user in NOT_SUPERVISORS:
            assert api.as_(user).get("/api/v1/tasks/overdue").status_code == 403, user
    with frozen_at(MONDAY_10 + timedelta(hours=3)):
        assert api.as_("supervisor1").get("/api/v1/tasks/overdue").get_json()["items"] == []


# ---- the pages -------------------------------------------------------------------------------
def test_the_task_page_shows_the_dates_and_only_supervisors_the_form(client_for, qc_task):
    with frozen_at(NOON):
        supervisor = page_text(client_for("supervisor1").get(f"/tasks/{qc_task['id']}"))
        qc = page_text(client_for("qc1").get(f"/tasks/{qc_task['id']}"))
    for page in (supervisor, qc):
        assert "泳道默认期限（laneDueIn）" in page and "2026-12-01 10:00" in page
    assert 'action="/tasks/{}/due"'.format(qc_task["id"]) in supervisor and "调整原因" in supervisor
    assert "/due" not in qc.split("实例数据")[0] and "调整期限" not in qc


def test_a_supervisor_changes_the_dates_on_the_page_and_the_audit_timeline_says_so(client_for, qc_task):
    supervisor = client_for("supervisor1")
    form = {"due_at": "2026-12-03T18:00", "follow_up_at": "2026-12-02T09:00", "reason": "等待酒店书面说明"}
    with frozen_at(NOON):
        response = supervisor.post(f"/tasks/{qc_task['id']}/due", form)
        assert response.status_code == 302 and response.headers["Location"].endswith(f"/tasks/{qc_task['id']}")
        page = page_text(supervisor.get(f"/tasks/{qc_task['id']}"))
        assert "已调整「调查事实经过」的期限" in page
        assert "2026-12-03 18:00" in page and "2026-12-02 09:00" in page
        inbox = page_text(client_for("qc1").get("/"))
        assert "跟进" in inbox and "12-02 09:00" in inbox
        timeline = page_text(supervisor.get(f"/instances/{qc_task['instance_id']}/audit"))
    assert "调整期限" in timeline and "等待酒店书面说明" in timeline
    assert "调查事实经过：期限 2026-12-01 10:00 → 2026-12-03 18:00；跟进 — → 2026-12-02 09:00" in timeline


@pytest.mark.parametrize(("form", "text"), [
    ({"due_at": "2026-11-30T11:00", "reason": "x"}, "时间必须晚于现在"),
    ({"due_at": "2026-12-03T18:00", "reason": ""}, "请填写调整原因"),
    ({"due_at": "明天下午", "reason": "x"}, "时间格式不正确"),
    ({"due_at": "", "follow_up_at": "", "reason": "x"}, "请填写新的截止时间或跟进时间"),
])
def test_a_bad_change_on_the_page_is_422_with_the_rule(client_for, runtime, qc_task, form, text):
    with frozen_at(NOON):
        response = client_for("supervisor1").post(f"/tasks/{qc_task['id']}/due", form)
    assert response.status_code == 422
    page = page_text(response)
    assert text in page and 'role="alert"' in page
    assert runtime.task(qc_task["id"])["due_at"] == "2026-12-01T02:00:00Z"


@pytest.mark.parametrize("user", [*NOT_SUPERVISORS, "auditor1"])
def test_only_supervisors_change_due_dates_on_the_page(client_for, qc_task, user):
    with frozen_at(NOON):
        assert client_for(user).post(f"/tasks/{qc_task['id']}/due", CHANGE).status_code == 403


def test_the_overdue_page_lists_late_tasks_with_links_and_words(client_for, qc_task):
    with frozen_at(TUESDAY_11):
        page = page_text(client_for("supervisor1").get("/tasks/overdue"))
        inbox = page_text(client_for("qc1").get("/"))
        refused = client_for("qc1").get("/tasks/overdue").status_code
    assert f'href="/tasks/{qc_task["id"]}"' in page and "已超期" in page and "2026-12-01 10:00" in page
    assert "due-overdue" in inbox and "已超期" in inbox
    assert refused == 403


def test_a_task_waiting_for_days_is_flagged_in_words(client_for, runtime, qc_task):
    with frozen_at(NOON):
        client_for("supervisor1").post(f"/tasks/{qc_task['id']}/due", {"due_at": "2026-12-10T18:00", "reason": "长期"})
    with frozen_at(MONDAY_10 + timedelta(days=3, hours=1)):
        inbox = page_text(client_for("qc1").get("/"))
    assert "due-waiting_long" in inbox and "等待已久" in inbox


def test_due_date_refusals_speak_the_callers_language(app, runtime, qc_task):
    chinese, english = Api(app, runtime), Api(app, runtime, language="en")
    url = f"/api/v1/tasks/{qc_task['id']}/due"
    with frozen_at(NOON):
        assert chinese.as_("agent1").post(url, CHANGE).get_json()["message"] == (
            f"任务 {qc_task['id']} 的期限只能由其泳道（qc）的主管调整")
        assert english.as_("agent1").post(url, CHANGE).get_json()["message"].startswith(
            f"the due date of task {qc_task['id']} (lane 'qc') is set by a supervisor of that lane")
        assert chinese.as_("auditor1").post(url, CHANGE).get_json()["message"] == "审计员只能查看，不能修改"
        assert chinese.as_("agent1").get("/api/v1/tasks/overdue").get_json()["message"] == "超期清单仅供主管和审计员查看"
        past = chinese.as_("supervisor1").post(url, {**CHANGE, "due_at": "2026-11-01T10:00:00+08:00"}).get_json()
        assert past["errors"][0]["message"].startswith("必须晚于现在"), past
        runtime.complete(qc_task["id"], "qc1", {"facts": "事实"})
        assert "已不能调整期限" in chinese.as_("supervisor1").post(url, CHANGE).get_json()["message"]
