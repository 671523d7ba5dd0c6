"""The inbox search in a real browser: the last 4 digits of a phone find the task, a saved view is
a tab that brings its filters back, a click anywhere on a row opens the task, and the keyboard
works the list (j/k select, Enter opens, c claims, / searches, ? lists the shortcuts).
Screenshots: test-artifacts/screenshots/i17-search-*.png (desktop 1440x900 and phone 390x844)."""

from __future__ import annotations

import json
import re
import secrets

import pytest
from playwright.sync_api import expect

from tests.support.browser import login, shot

pytestmark = pytest.mark.browser

SIZES = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}


def start_complaint(live_server, customer: str, phone: str) -> int:
    """A complaint waiting at intake (lane staff: agent1 works it), started with its customer."""
    data = {"customer_name": customer, "contact_phone": phone, "tour_id": f"SH-{phone[-4:]}"}
    return int(live_server.cli("start", "complaint_handling", "--data", json.dumps(data, ensure_ascii=False),
                               "--as", "agent1").strip())


def digits(n: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(n))


@pytest.mark.parametrize("size", sorted(SIZES))
def test_last_four_phone_digits_find_the_task_and_a_saved_view_brings_it_back(pages, live_server, screenshots, size):
    last4 = digits(4)
    customer = f"搜索{secrets.token_hex(3)}"
    start_complaint(live_server, customer, f"1390{digits(3)}{last4}")
    page = pages.new()
    page.set_viewport_size(SIZES[size])
    login(page, "agent1")
    page.goto("/")
    page.locator("input[name=phone]").fill(last4)
    page.locator("form.filters button[type=submit]").click()
    rows = page.locator("tbody tr.task-row")
    expect(rows.filter(has_text=customer)).to_have_count(1)
    for text in rows.all_inner_texts():
        assert re.search(rf"\*{{4}}{last4}", text), "every row found ends in those digits, masked"
    shot(page, screenshots, f"i17-search-phone-{size}")

    view = f"尾号{last4}-{size}"
    page.locator("form.save-view input[name=name]").fill(view)
    page.get_by_role("button", name="保存视图").click()
    expect(page.locator(".flash-success")).to_contain_text(f"已保存视图「{view}」")
    page.goto("/")
    expect(page.locator("input[name=phone]")).to_have_value("")
    page.locator(".view-tabs").get_by_role("link", name=view).click()
    expect(page).to_have_url(re.compile(rf"phone={last4}"))
    expect(page.locator("input[name=phone]")).to_have_value(last4)
    expect(page.locator("tbody tr.task-row").filter(has_text=customer)).to_have_count(1)
    expect(page.locator(".view-tab.active")).to_contain_text(view)
    shot(page, screenshots, f"i17-search-saved-view-{size}")


def test_keyboard_and_whole_row_click_work_the_list(pages, live_server, screenshots):
    tag = secrets.token_hex(3)
    first_id = start_complaint(live_server, f"甲{tag}", f"1370000{digits(4)}")
    second_id = start_complaint(live_server, f"乙{tag}", f"1370001{digits(4)}")
    page = pages.new()
    page.set_viewport_size(SIZES["desktop"])
    login(page, "agent1")
    page.goto(f"/?q={tag}&sort=age")
    rows = page.locator("tbody tr.task-row")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(f"甲{tag}")

    page.keyboard.press("j")
    expect(rows.nth(0)).to_have_class(re.compile(r"\bis-selected\b"))
    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_class(re.compile(r"\bis-selected\b"))
    expect(rows.nth(0)).not_to_have_class(re.compile(r"\bis-selected\b"))
    page.keyboard.press("k")
    expect(rows.nth(0)).to_have_class(re.compile(r"\bis-selected\b"))

    page.keyboard.press("?")
    expect(page.locator("#inbox-shortcuts")).to_be_visible()
    shot(page, screenshots, "i17-search-shortcuts-desktop")
    page.keyboard.press("Escape")
    expect(page.locator("#inbox-shortcuts")).to_be_hidden()

    page.keyboard.press("/")
    expect(page.locator("#inbox-search")).to_be_focused()
    page.keyboard.type("jk")  # typing in a field (its text was selected, so replaced): no shortcut
    expect(page.locator("#inbox-search")).to_have_value("jk")
    expect(rows.nth(0)).to_have_class(re.compile(r"\bis-selected\b"))
    page.locator("#inbox-search").fill(tag)
    page.locator("body").click(position={"x": 5, "y": 5})

    rows.nth(0).locator("td.cell-step a.step-link").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/tasks/\d+$"))
    expect(page.locator("body")).to_contain_text(f"甲{tag}")
    assert str(first_id) in page.content()

    page.goto(f"/?q={tag}&sort=age")
    page.locator("tbody tr.task-row").nth(1).locator("td.cell-lane").click()  # not on a link: the row opens
    expect(page).to_have_url(re.compile(r"/tasks/\d+$"))
    assert str(second_id) in page.content()
    second_url = page.url

    page.goto(f"/?q={tag}&sort=age")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("c")
    expect(page).to_have_url(second_url)
    expect(page.locator(".flash-success")).to_contain_text("已认领")
    page.goto(f"/?q={tag}&sort=age")
    expect(page.locator("tbody tr.task-row").nth(1).locator(".assignee.me")).to_have_text("agent1")
    expect(page.locator("tbody tr.task-row").nth(0)).to_contain_text("未认领")
    shot(page, screenshots, "i17-search-claimed-desktop")
