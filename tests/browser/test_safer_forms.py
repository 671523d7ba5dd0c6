"""Safer forms in a real browser: two people on one task (the second submit answers 409 and keeps
what was typed), routing questions drawn unanswered, a pattern's rule shown as help and in its error.
Screenshots at desktop (1440x900) and phone (390x844) sizes go to test-artifacts/screenshots/."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.support.browser import login, set_field, shot, submit, task_form

pytestmark = pytest.mark.browser

SIZES = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}


def _values(customer: str) -> dict:
    return {"customer_name": customer, "contact_phone": "13812345678", "complaint_at": "2026-11-23T10:30",
            "time_class": "旅游前", "kind": "服务质量", "description": "报名后行程单迟迟未发",
            "customer_request": "尽快发送行程单", "involves_multiple_departments": False,
            "escalated_to_authority": False}


def _start_complaint(page) -> str:
    page.goto("/start")
    page.locator("section, li, tr, article").filter(has_text="游客投诉处理流程").get_by_role("button", name="发起").click()
    expect(page).to_have_url(re.compile(r"/tasks/\d+$"))
    return page.url


@pytest.mark.parametrize("size", sorted(SIZES))
def test_two_pages_on_one_task_the_second_submit_keeps_its_input(pages, live_server, screenshots, size):
    first, second = pages.new(), pages.new()
    first.set_viewport_size(SIZES[size])
    second.set_viewport_size(SIZES[size])
    login(first, "agent1")
    login(second, "receptionist1")
    task_url = _start_complaint(first)
    second.goto(task_url)  # both have the unclaimed task's form open

    # routing questions start unanswered: two radio buttons, neither checked
    for name in ("involves_multiple_departments", "escalated_to_authority"):
        radios = second.locator(f'input[type=radio][name="{name}"]')
        expect(radios).to_have_count(2)
        expect(second.locator(f'input[type=radio][name="{name}"]:checked')).to_have_count(0)
    # a pattern field says its rule below it
    expect(second.locator("#f-contact_phone-hint")).to_have_text("格式：7–20 位数字，可含 + - 空格")
    shot(second, screenshots, f"safer-forms-unanswered-{size}")

    customer = f"抢先{uuid.uuid4().hex[:6]}"
    for name, value in _values(customer).items():
        set_field(first, name, value)
    submit(first, "customer_request")

    typed = {**_values(f"后到{uuid.uuid4().hex[:6]}"), "description": "第二位同事记下的更详细的描述",
             "involves_multiple_departments": True}
    for name, value in typed.items():
        set_field(second, name, value)
    submit(second, "customer_request")

    expect(second.get_by_role("alert").filter(has_text="您的提交没有保存")).to_contain_text("agent1")
    expect(second.locator('[name="customer_name"]')).to_have_value(typed["customer_name"])
    expect(second.locator('[name="description"]')).to_have_value("第二位同事记下的更详细的描述")
    expect(second.locator('input[type=radio][name="involves_multiple_departments"][value="true"]')).to_be_checked()
    expect(second.get_by_role("button", name="提交并完成")).to_have_count(0)
    shot(second, screenshots, f"safer-forms-lost-race-{size}")


def test_a_phone_number_against_its_rule_is_refused_with_the_rule(pages, live_server, screenshots):
    page = pages.new()
    page.set_viewport_size(SIZES["desktop"])
    login(page, "agent1")
    _start_complaint(page)
    for name, value in {**_values(f"格式{uuid.uuid4().hex[:6]}"), "contact_phone": "call me"}.items():
        set_field(page, name, value)
    task_form(page, "contact_phone").evaluate("f => { f.noValidate = true; }")  # the server's own check
    submit(page, "contact_phone")
    phone = page.locator('[name="contact_phone"]')
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-contact_phone-err")).to_have_text("格式不正确：7–20 位数字，可含 + - 空格")
    expect(phone).to_have_value("call me")
    shot(page, screenshots, "safer-forms-pattern-rule-desktop")
