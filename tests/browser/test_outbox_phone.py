"""Issue 19's pages in a real browser: 外发消息, a message's page, 消息模板 and 提醒设置 from a 360 px
phone to a desktop without sideways scrolling, and a user saving their alert settings on a phone.
Screenshots: test-artifacts/screenshots/i19-*.png."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.browser import login, shot
from tests.support.viewports import VIEWPORTS, page_width_problem

pytestmark = pytest.mark.browser


def test_the_message_pages_fit_every_screen(pages, screenshots):
    page = pages.new()
    page.set_viewport_size(VIEWPORTS["360x740"])
    login(page, "supervisor1")
    paths = ["/outbox?status=all", "/messages/templates?kind=booking.confirmation&channel=email",
             "/messages/templates?kind=staff.alert&channel=webhook", "/settings/alerts"]
    page.goto(paths[0])
    first = page.locator(".outbox-row a").first
    if first.count():
        paths.append(re.sub(r"^https?://[^/]+", "", first.get_attribute("href") or ""))
    problems = []
    for path in paths:
        page.set_viewport_size(VIEWPORTS["360x740"])
        page.goto(path)
        page.wait_for_load_state("networkidle")
        shot(page, screenshots, "i19-phone-" + re.sub(r"\W+", "-", path.strip("/")))
        for size, viewport in VIEWPORTS.items():
            page.set_viewport_size(viewport)
            page.wait_for_timeout(50)
            problem = page_width_problem(page)
            if problem:
                problems.append(f"{path} at {size}: {problem}")
    assert problems == []
    assert pages.problems == []


def test_a_user_saves_their_alert_settings_on_a_phone(pages, screenshots):
    page = pages.new()
    page.set_viewport_size(VIEWPORTS["360x740"])
    login(page, "agent1")
    page.goto("/settings/alerts")
    page.locator("input[name=channel][value=email]").check()
    page.locator("#address").fill("agent1-at-example")
    page.get_by_role("button", name="保存设置").click()
    expect(page.locator(".field-errors")).to_contain_text("请填写有效的邮箱地址")
    page.locator("#address").fill("agent1@example.com")
    page.get_by_role("button", name="保存设置").click()
    expect(page.locator(".flash-success")).to_contain_text("提醒设置已保存")
    expect(page.locator("#address")).to_have_value("agent1@example.com")
    assert page_width_problem(page) is None
    shot(page, screenshots, "i19-phone-alert-settings-saved")
