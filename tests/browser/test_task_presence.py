"""Who is editing, and drafts that survive a closed browser (webapp/static/js/task-edit.js), in a real
browser: two users of the lane on one unclaimed task (the second sees the first as editing), and a
draft typed, the browser closed and the task opened again in a new one (empty localStorage): the
server's draft comes back, with a notice and a discard button. Screenshots: i17-presence-*.png."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.support.browser import login, set_field, shot

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


def _start_complaint(page) -> str:
    page.goto("/start")
    page.locator("section, li, tr, article").filter(has_text="游客投诉处理流程").get_by_role("button", name="发起").click()
    expect(page).to_have_url(re.compile(r"/tasks/\d+$"))
    # The URL changes before the task page's deferred scripts run; typing before task-edit.js listens would
    # never be saved (a busy machine showed it). DOMContentLoaded comes after the deferred scripts.
    page.wait_for_load_state("domcontentloaded")
    return page.url


@pytest.mark.parametrize(("size", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_two_tabs_on_one_task_the_second_sees_the_first_editing(pages, live_server, screenshots, size, viewport):
    first, second = pages.new(), pages.new()  # two browser contexts: two people
    first.set_viewport_size(viewport)
    second.set_viewport_size(viewport)
    login(first, "agent1")
    login(second, "receptionist1")
    task_url = _start_complaint(first)
    first_notice = first.locator(".task-edit-others")
    expect(first.locator("#task-edit")).to_be_attached()
    expect(first_notice).to_be_hidden()  # nobody else yet

    second.goto(task_url)
    others = second.locator(".task-edit-others")
    expect(others).to_be_visible()
    expect(others).to_have_text("王丽（坐席） 正在编辑此任务（刚刚）")
    shot(second, screenshots, f"i17-presence-two-tabs-{size}")
    # the first page learns of the second at its next heartbeat (every ~10 s)
    expect(first_notice).to_have_text("李娜（接待） 正在编辑此任务（刚刚）", timeout=15_000)
    assert not pages.problems, pages.problems


def test_a_typed_draft_comes_back_in_a_new_browser_and_can_be_discarded(pages, live_server, screenshots):
    page = pages.new()
    page.set_viewport_size(DESKTOP)
    login(page, "agent1")
    task_url = _start_complaint(page)
    customer = f"草稿{uuid.uuid4().hex[:6]}"
    set_field(page, "customer_name", customer)
    set_field(page, "description", "客人说酒店空调坏了，还没问完")
    set_field(page, "involves_multiple_departments", True)
    expect(page.locator(".task-edit-saved")).to_contain_text("草稿已自动保存", timeout=10_000)
    stored = page.evaluate("() => Object.keys(localStorage).filter(k => k.startsWith('tourflow:task-draft:agent1:'))")
    assert len(stored) == 1
    page.context.close()  # the browser is closed: nothing of it is left

    again = pages.new()  # a new browser: its localStorage is empty, so the draft is the server's
    again.set_viewport_size(DESKTOP)
    login(again, "agent1")
    again.goto(task_url)
    notice = again.locator(".task-edit-restored")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text(re.compile(r"已恢复 \d\d:\d\d 保存的草稿"))
    expect(again.locator('[name="customer_name"]')).to_have_value(customer)
    expect(again.locator('[name="description"]')).to_have_value("客人说酒店空调坏了，还没问完")
    expect(again.locator('input[type=radio][name="involves_multiple_departments"][value="true"]')).to_be_checked()
    shot(again, screenshots, "i17-presence-draft-restored-desktop")

    again.get_by_role("button", name="放弃草稿").click()
    expect(again.locator(".task-edit-restored")).to_be_hidden()
    expect(again.locator('[name="customer_name"]')).not_to_have_value(customer)
    again.reload()
    expect(again.locator('[name="customer_name"]')).not_to_have_value(customer)
    expect(again.locator(".task-edit-restored")).to_be_hidden()
    assert not pages.problems, pages.problems


def test_a_local_draft_is_cleared_on_submit_and_passwords_are_never_kept(pages, live_server):
    page = pages.new()
    page.set_viewport_size(DESKTOP)
    login(page, "agent1")
    _start_complaint(page)
    # a password input in the form (none is today) must never reach the draft
    page.locator("form.task-form").evaluate(
        "f => { const p = document.createElement('input'); p.type = 'password'; p.name = 'customer_name';"
        " f.appendChild(p); }")
    page.locator('input[type=password][name="customer_name"]').fill("secret-pw")
    set_field(page, "description", "只填了描述")
    expect(page.locator(".task-edit-saved")).to_contain_text("草稿已自动保存", timeout=10_000)
    kept = page.evaluate("() => Object.entries(localStorage).filter(([k]) => k.startsWith('tourflow:task-draft:'))"
                         ".map(([, v]) => v).join()")
    assert "只填了描述" in kept and "secret-pw" not in kept
    page.locator('input[type=password][name="customer_name"]').evaluate("p => p.remove()")
    page.locator("form.task-form").evaluate("f => { f.noValidate = true; }")
    page.get_by_role("button", name="提交并完成").click()  # refused (422): fields are missing
    expect(page.locator(".form-errors")).to_be_visible()
    assert page.evaluate("() => Object.keys(localStorage).filter(k => k.startsWith('tourflow:task-draft:'))") == []
    assert not pages.problems, pages.problems


def test_an_editor_seen_a_while_ago_shows_how_long_ago(pages, live_server, screenshots):
    page = pages.new()
    page.set_viewport_size(DESKTOP)
    login(page, "agent1")
    # the server's answer, as it would be with 李娜 last seen 70 s ago (a hidden tab pauses its heartbeat)
    answer = {"editors": [{"username": "receptionist1", "display_name": "李娜（接待）",
                           "seen_at": "2026-12-03T10:00:00Z"}], "now": "2026-12-03T10:01:10Z"}
    page.route(re.compile(r".*/api/v1/tasks/\d+/presence$"), lambda route: route.fulfill(json=answer))
    _start_complaint(page)
    expect(page.locator(".task-edit-others")).to_have_text("李娜（接待） 正在编辑此任务（1 分钟前）")
    shot(page, screenshots, "i17-presence-minute-ago-desktop")


def test_logging_out_forgets_the_drafts_this_browser_kept(pages, live_server):
    page = pages.new()
    page.set_viewport_size(DESKTOP)
    login(page, "agent1")
    _start_complaint(page)
    set_field(page, "description", "下一位同事不该看到")
    expect(page.locator(".task-edit-saved")).to_contain_text("草稿已自动保存", timeout=10_000)
    drafts = "() => Object.keys(localStorage).filter(k => k.startsWith('tourflow:task-draft:'))"
    assert len(page.evaluate(drafts)) == 1
    page.evaluate("() => localStorage.setItem('unrelated', 'kept')")
    page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(re.compile(r"/login"))
    assert page.evaluate(drafts) == [], "a shared desk computer keeps no one's typing"
    assert page.evaluate("() => localStorage.getItem('unrelated')") == "kept"
    assert not pages.problems, pages.problems
