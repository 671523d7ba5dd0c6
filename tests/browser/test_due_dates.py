"""Due dates in a real browser: the overdue list shows a task past due (made with the clock set back,
never by waiting), a supervisor extends its due date with a reason and sees the new date on the task
and the change in the audit timeline. Screenshots test-artifacts/screenshots/i17-due-*.png."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from engine.clock import CHINA, frozen_at
from engine.run.runtime import Runtime
from engine.store.db import Database
from tests.support.browser import login, shot
from tests.support.complaint import COMPLAINT

pytestmark = pytest.mark.browser

SIZES = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
TAKEN_AT = datetime(2026, 11, 2, 10, 0, tzinfo=CHINA)  # a Monday: QC's working day ends Tuesday 10:00


def open_task(rt: Runtime, instance_id: int, spec: str) -> dict:
    """The instance's open task `spec`. Not the only one: the live server's job worker runs on the real clock,
    and may fire the intake's report timer (due an hour after TAKEN_AT) at any moment, opening the
    escalation task beside it."""
    [task] = [t for t in rt.tasks(instance_id=instance_id) if t["task"] == spec]
    return task


def overdue_qc_task(server, customer: str) -> int:
    """A complaint handed to QC on TAKEN_AT, through the engine with the clock set back: its QC step
    (laneDueIn qc=working:P1D) was due on 3 November."""
    db = Database(server.env["TOURFLOW_DATABASE_URL"])
    try:
        rt = Runtime(db)
        with frozen_at(TAKEN_AT):
            instance_id = rt.start("complaint_handling", actor="agent1")
            intake = open_task(rt, instance_id, "receive_complaint")
            rt.complete(intake["id"], "agent1", {**COMPLAINT, "customer_name": customer, "time_class": "旅游后"})
        task = open_task(rt, instance_id, "investigate_facts")
        assert (task["task"], task["due_at"]) == ("investigate_facts", "2026-11-03T02:00:00Z")
        return task["id"]
    finally:
        db.dispose()


def test_a_supervisor_sees_the_overdue_task_and_extends_its_due_date(pages, live_server, screenshots):
    customer = f"超期{uuid.uuid4().hex[:6]}"
    task_id = overdue_qc_task(live_server, customer)
    page = pages.new()
    page.set_viewport_size(SIZES["desktop"])
    login(page, "supervisor1")

    page.get_by_role("link", name="超期清单").click()
    expect(page).to_have_url(re.compile(r"/tasks/overdue$"))
    row = page.locator(f"tr.overdue-row[data-task-id='{task_id}']")
    expect(row).to_contain_text("调查事实经过")
    expect(row).to_contain_text("已超期")  # in words, not colour alone
    expect(row).to_contain_text("2026-11-03 10:00")
    shot(page, screenshots, "i17-due-overdue-list-desktop")

    row.get_by_role("link", name="调查事实经过").click()
    expect(page).to_have_url(re.compile(rf"/tasks/{task_id}$"))
    expect(page.locator(".head-badges")).to_contain_text("已超期")
    expect(page.locator(".due-facts")).to_contain_text("泳道默认期限")
    page.locator(".due-change summary").click()
    new_due = (datetime.now(UTC) + timedelta(days=3)).astimezone(CHINA).replace(hour=17, minute=30, second=0,
                                                                                 microsecond=0)
    page.locator("#due_at").fill(new_due.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="保存期限").click()
    expect(page.locator("#due_reason:invalid")).to_have_count(1)  # the browser asks for the reason first
    page.locator("#due_reason").fill("等待酒店出具书面说明，与客户约定三天内答复")
    page.get_by_role("button", name="保存期限").click()

    expect(page).to_have_url(re.compile(rf"/tasks/{task_id}$"))
    expect(page.locator(".flash")).to_contain_text("已调整「调查事实经过」的期限")
    expect(page.locator("dd.due-at")).to_have_text(new_due.strftime("%Y-%m-%d %H:%M"))
    expect(page.locator(".head-badges")).not_to_contain_text("已超期")
    shot(page, screenshots, "i17-due-task-extended-desktop")

    instance = page.locator(".crumbs a").nth(1).get_attribute("href")
    page.goto(f"{instance}/audit")
    event = page.locator("tr.ev-task_due_changed")
    expect(event).to_have_count(1)
    expect(event).to_contain_text("调整期限")
    expect(event).to_contain_text("supervisor1")
    expect(event).to_contain_text("2026-11-03 10:00 → " + new_due.strftime("%Y-%m-%d %H:%M"))
    expect(event).to_contain_text("等待酒店出具书面说明")
    shot(page, screenshots, "i17-due-audit-desktop")

    page.goto("/tasks/overdue")
    expect(page.locator(f"tr.overdue-row[data-task-id='{task_id}']")).to_have_count(0)
    assert not pages.problems, pages.problems


def test_the_overdue_list_and_the_task_dates_fit_a_phone(pages, live_server, screenshots):
    customer = f"手机{uuid.uuid4().hex[:6]}"
    task_id = overdue_qc_task(live_server, customer)
    page = pages.new()
    page.set_viewport_size(SIZES["phone"])
    login(page, "supervisor1")
    page.goto("/tasks/overdue")
    expect(page.locator(f"tr.overdue-row[data-task-id='{task_id}']")).to_contain_text("已超期")
    shot(page, screenshots, "i17-due-overdue-list-phone")
    page.goto(f"/tasks/{task_id}")
    page.locator(".due-change summary").click()
    expect(page.locator("#due_reason")).to_be_visible()
    shot(page, screenshots, "i17-due-task-form-phone")
    login_as_qc = pages.new()
    login(login_as_qc, "qc1")
    login_as_qc.goto(f"/tasks/{task_id}")
    expect(login_as_qc.locator(".due-facts")).to_be_visible()
    expect(login_as_qc.locator(".due-change")).to_have_count(0), "only supervisors change due dates"
    login_as_qc.goto("/tasks/overdue")
    expect(login_as_qc.get_by_role("link", name="超期清单")).to_have_count(0)
    assert not pages.problems, pages.problems
