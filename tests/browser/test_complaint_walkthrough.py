"""The issue's walk-through in a real browser: an agent takes in a complaint, the guide solves
it on the spot and files it, the task leaves the inbox, and the instance diagram shows it done.
Plus the language switch.

Selectors follow the page contract: form inputs are named after the JSON Schema properties,
buttons and links are found by their role and text. Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.support.browser import (
    first_inbox_instance,
    login,
    logout,
    open_task_from_inbox,
    set_field,
    shot,
    submit,
    task_form,
)

pytestmark = pytest.mark.browser

PROCESS_NAME = "游客投诉处理流程"


def test_complaint_from_inbox_to_done_diagram(pages, live_server, screenshots):
    customer = f"浏览器测试{uuid.uuid4().hex[:6]}"
    page = pages.new()

    # The login page lists the demo users.
    page.goto("/login")
    expect(page.locator("body")).to_contain_text("agent1")
    expect(page.locator("body")).to_contain_text("guide1")
    shot(page, screenshots, "01-login")

    # agent1 starts the complaint process.
    login(page, "agent1")
    page.goto("/start")
    shot(page, screenshots, "02-start-agent1")
    start = page.locator("section, li, tr, article").filter(has_text=PROCESS_NAME)
    start.get_by_role("button", name="发起").click()
    # agent1 holds the first lane, so the new instance opens on its first task.
    expect(page).to_have_url(re.compile(r"/tasks/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("受理投诉并上报质检培训部")
    receive_task = int(re.search(r"/tasks/(\d+)", page.url).group(1))
    instance_id = next(t["instance_id"] for t in live_server.cli_json("tasks", "--user", "agent1")
                       if t["id"] == receive_task)

    values = {
        "customer_name": customer,
        "contact_phone": "13812345678",
        "complaint_at": "2026-11-23T10:30",
        "time_class": "旅游过程中",
        "kind": "住宿餐饮",
        "description": "酒店房间热水器损坏，前台两小时未处理",
        "customer_request": "当天更换房间",
        "tour_id": "BJ-2026-1123",
        "involves_multiple_departments": False,
        "escalated_to_authority": False,
    }
    for name, value in values.items():
        if name != "customer_request":
            set_field(page, name, value)
    # Server-side validation: a required field left empty (the browser's own check turned off).
    task_form(page, "customer_request").evaluate("f => { f.noValidate = true; }")
    submit(page, "customer_request")
    expect(page).to_have_url(re.compile(rf"/tasks/{receive_task}$"))
    invalid = page.locator('[name="customer_request"]')
    expect(invalid).to_have_attribute("aria-invalid", "true")
    error = page.locator("#" + invalid.get_attribute("aria-describedby").split()[-1])
    expect(error).to_have_text("此项必填")
    expect(page.locator('[name="customer_name"]')).to_have_value(customer)  # what was typed is kept
    expect(page.locator('[name="time_class"]')).to_have_value("旅游过程中")
    shot(page, screenshots, "03-task-form-validation-error")

    set_field(page, "customer_request", values["customer_request"])
    submit(page, "customer_request")
    expect(page).not_to_have_url(re.compile(rf"/tasks/{receive_task}$"))
    page.goto("/")
    expect(page.locator("tr").filter(has_text=customer)).to_have_count(0)  # agent1 holds no guide lane
    logout(page)

    # guide1 solves it on the spot and files it.
    login(page, "guide1")
    page.goto("/")
    expect(page.locator("tr").filter(has_text=customer)).to_have_count(1)
    shot(page, screenshots, "04-inbox-guide1")
    open_task_from_inbox(page, customer, "在当地解决")
    set_field(page, "resolved_locally", True)
    set_field(page, "local_action", "已为游客更换同级别房间，游客表示满意")
    shot(page, screenshots, "05-task-form-resolve-locally")
    submit(page, "local_action")
    expect(page.locator('[name="local_action"]')).to_have_count(0)  # accepted, not sent back

    open_task_from_inbox(page, customer, "上报质检培训部备案")
    set_field(page, "filing_note", "热水器故障，当地更换房间解决，游客满意")
    submit(page, "filing_note")
    expect(page.locator('[name="filing_note"]')).to_have_count(0)

    # Gone from the inbox.
    page.goto("/")
    expect(page.locator("tr").filter(has_text=customer)).to_have_count(0)
    shot(page, screenshots, "06-inbox-guide1-after")

    # The instance is completed and its diagram shows the path taken.
    page.goto(f"/instances/{instance_id}")
    expect(page.locator(".page-head")).to_contain_text("已完成")
    diagram = page.locator("#diagram[data-state=ready]")
    expect(diagram).to_have_count(1, timeout=20_000)
    completed = page.locator("#diagram .djs-element.tf-completed")
    assert completed.count() > 0
    for element_id in ("receive_complaint", "resolve_locally", "file_local_resolution"):
        expect(page.locator(f'#diagram .djs-element.tf-completed[data-element-id="{element_id}"]')).to_have_count(1)
    expect(page.locator("#diagram .djs-element.tf-active")).to_have_count(0)
    expect(page.locator("#diagram .djs-element.tf-failed")).to_have_count(0)
    expect(page.locator("#diagram .diagram-legend")).to_contain_text("已完成")
    shot(page, screenshots, "07-instance-diagram")
    assert live_server.cli_json("show", str(instance_id))["status"] == "completed"
    assert pages.problems == []


def test_english_switch(pages, screenshots):
    page = pages.new()
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    login(page, "agent1")
    expect(page.get_by_role("heading", level=1)).to_have_text("Inbox")
    expect(page.get_by_role("link", name="Inbox").first).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    shot(page, screenshots, "08-inbox-english")

    # The diagram's legend follows the page language too.
    instance_id = first_inbox_instance(page)
    page.goto(f"/instances/{instance_id}")
    expect(page.locator("#diagram[data-state=ready]")).to_have_count(1, timeout=20_000)
    expect(page.locator("#diagram .diagram-legend")).to_contain_text("Completed")
    expect(page.locator("#diagram .djs-element.tf-active").first).to_be_attached()
    shot(page, screenshots, "09-instance-english")

    page.get_by_role("link", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("button", name="退出")).to_be_visible()
    assert pages.problems == []
