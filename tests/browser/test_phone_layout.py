"""Issue 17, responsive layout: every main page of every role, from a 360 px phone to a desktop,
without sideways page scrolling; the folded menu with logout; inbox rows as cards on phones;
a task form that fits. Screenshots: test-artifacts/screenshots/i17-phone-*.png."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.browser import login, shot
from tests.support.viewports import MIN_TAP, PHONE, ROLE_USERS, VIEWPORTS, menu_links, page_width_problem

pytestmark = pytest.mark.browser

# Pages reached from another page (not the menu): (name, page it is linked from, path pattern).
# "from" is a path or the name of an earlier entry. Add pages here; a role that has no such link
# skips the entry.
LINKED_PAGES = [
    ("task", "/", r"^/tasks/\d+$"),
    ("instance", "/instances", r"^/instances/\d+$"),
    ("audit-trail", "instance", r"^/instances/\d+/audit$"),
    ("process-version", "/processes", r"^/processes/[^/]+/\d+$"),
    ("heatmap", "/processes", r"^/processes/[^/]+/\d+/heatmap$"),
    ("version-diff", "/processes", r"^/processes/[^/]+/diff"),
]


def linked_path(page, pattern: str) -> str | None:
    return page.evaluate("""pattern => {
        const re = new RegExp(pattern);
        const a = [...document.querySelectorAll('main a[href]')].find(a => re.test(new URL(a.href).pathname));
        return a ? new URL(a.href).pathname + new URL(a.href).search : null;
    }""", pattern)


def pages_of(page) -> dict[str, str]:
    """name -> path: the user's menu pages, then the LINKED_PAGES the user can reach."""
    page.goto("/")
    found = {re.sub(r"\W+", "-", path.strip("/")) or "inbox": path for path in menu_links(page)}
    for name, source, pattern in LINKED_PAGES:
        start = found.get(source, source if source.startswith("/") else None)
        if start is None:
            continue
        page.goto(start)
        path = linked_path(page, pattern)
        if path:
            found[name] = path
    return found


@pytest.mark.parametrize("user", ROLE_USERS)
def test_no_page_scrolls_sideways(pages, screenshots, user):
    """Each page at each size: document.documentElement.scrollWidth <= window.innerWidth."""
    page = pages.new()
    login(page, user)
    walk = pages_of(page)
    assert "inbox" in walk and len(walk) >= 3, walk
    problems = []
    for name, path in walk.items():
        page.set_viewport_size(PHONE)  # loaded on a phone, then turned into each size
        page.goto(path)
        page.wait_for_load_state("networkidle")
        shot(page, screenshots, f"i17-phone-{user}-{name}")
        for size, viewport in VIEWPORTS.items():
            page.set_viewport_size(viewport)
            page.wait_for_timeout(50)
            problem = page_width_problem(page)
            if problem:
                problems.append(f"{user} {path} at {size}: {problem}")
    assert problems == []
    assert pages.problems == []


@pytest.mark.parametrize("size", VIEWPORTS)
def test_login_page_fits(pages, screenshots, size):
    page = pages.new()
    page.set_viewport_size(VIEWPORTS[size])
    page.goto("/login")
    assert page_width_problem(page) is None
    button = page.locator("form button[type=submit]")
    box = button.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= VIEWPORTS[size]["width"]
    if VIEWPORTS[size]["width"] <= 720:
        assert box["height"] >= MIN_TAP
    shot(page, screenshots, f"i17-phone-login-{size}")


@pytest.mark.parametrize("size", ["360x740", "390x844", "768x1024"])
def test_menu_folds_and_shows_user_and_logout(pages, screenshots, size):
    page = pages.new()
    page.set_viewport_size(VIEWPORTS[size])
    login(page, "supervisor1")
    toggle = page.locator(".menu-toggle")
    logout = page.get_by_role("button", name="退出")
    expect(toggle).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(logout).to_be_hidden()
    assert toggle.bounding_box()["height"] >= MIN_TAP
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(logout).to_be_visible()
    expect(page.locator(".topmenu .who")).to_contain_text("陈静")
    expect(page.locator(".mainnav").get_by_role("link", name="流程实例")).to_be_visible()
    assert page_width_problem(page) is None
    shot(page, screenshots, f"i17-phone-menu-open-{size}")
    page.keyboard.press("Escape")
    expect(logout).to_be_hidden()
    toggle.click()
    page.locator(".mainnav").get_by_role("link", name="流程实例").click()
    expect(page).to_have_url(re.compile(r"/instances$"))
    expect(logout).to_be_hidden()  # a new page starts with the menu folded
    toggle.click()
    logout.click()
    expect(page.locator("input[name=password]")).to_be_visible()
    assert pages.problems == []


def test_desktop_shows_the_whole_menu(pages):
    page = pages.new()
    page.set_viewport_size(VIEWPORTS["1440x900"])
    login(page, "supervisor1")
    expect(page.locator(".menu-toggle")).to_be_hidden()
    expect(page.get_by_role("button", name="退出")).to_be_visible()
    expect(page.locator(".mainnav").get_by_role("link", name="流程实例")).to_be_visible()
    assert page.locator(".topbar").bounding_box()["height"] <= 53


def test_inbox_rows_are_cards_on_a_phone(pages, screenshots):
    page = pages.new()
    page.set_viewport_size(VIEWPORTS["360x740"])
    login(page, "agent1")
    card = page.locator(".inbox-table tbody tr").filter(has=page.locator(".badge[class*=due-]")).first
    expect(card).to_be_visible()
    expect(page.locator(".inbox-table thead th").first).to_be_hidden()
    due = card.locator(".cell-due .badge")
    expect(due).to_be_visible()
    colour = due.evaluate("e => getComputedStyle(e).color")
    assert colour != "rgb(71, 84, 103)", colour  # a due state's colour, not the plain badge grey
    label = card.locator(".cell-due").evaluate("e => getComputedStyle(e, '::before').content")
    assert label == '"期限"', label
    action = card.get_by_role("link", name="办理")
    expect(action).to_be_visible()
    for cell in ("cell-step", "cell-process", "cell-summary", "cell-assignee"):
        expect(card.locator(f".{cell}")).to_be_visible()
    box, action_box = card.bounding_box(), action.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360
    assert action_box["height"] >= MIN_TAP and action_box["x"] + action_box["width"] <= 360
    assert page_width_problem(page) is None
    shot(page, screenshots, "i17-phone-inbox-cards-360")
    action.click()
    expect(page).to_have_url(re.compile(r"/tasks/\d+#task-form$"))
    assert pages.problems == []


@pytest.mark.parametrize("size", ["768x1024", "1440x900"])
def test_inbox_is_a_table_on_a_tablet_and_a_desktop(pages, screenshots, size):
    page = pages.new()
    page.set_viewport_size(VIEWPORTS[size])
    login(page, "agent1")
    shot(page, screenshots, f"i17-phone-inbox-table-{size}")
    expect(page.locator(".inbox-table thead th").first).to_be_visible()
    expect(page.locator(".inbox-table .cell-action").first).to_be_hidden()
    row = page.locator(".inbox-table tbody tr").first
    assert row.evaluate("e => getComputedStyle(e).display") == "table-row"


@pytest.mark.parametrize("size", ["360x740", "390x844"])
def test_task_form_fits_a_phone(pages, screenshots, size):
    width = VIEWPORTS[size]["width"]
    page = pages.new()
    page.set_viewport_size(VIEWPORTS[size])
    login(page, "agent1")
    page.locator(".inbox-table a.step-link").first.click()
    form = page.locator("form.task-form")
    expect(form).to_be_visible()
    form_box = form.bounding_box()
    fields = form.locator("input:not([type=hidden]):not([type=checkbox]):not([type=radio]), select, textarea")
    assert fields.count() >= 1
    for n in range(fields.count()):
        box = fields.nth(n).bounding_box()
        if box is None:  # a field hidden by a condition
            continue
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, (n, box)
        assert box["width"] >= form_box["width"] * 0.6, (n, box, form_box)  # one column, full width
        assert box["height"] >= MIN_TAP, (n, box)
    submit = form.get_by_role("button", name="提交并完成")
    assert submit.bounding_box()["height"] >= MIN_TAP
    assert page_width_problem(page) is None
    shot(page, screenshots, f"i17-phone-task-form-{size}")
    assert pages.problems == []


def test_a_wide_table_scrolls_in_its_own_box_with_a_hint(pages, screenshots):
    page = pages.new()
    page.set_viewport_size(VIEWPORTS["360x740"])
    login(page, "auditor1")
    page.goto("/instances")
    page.locator("main .grid a[href^='/instances/']").first.click()
    page.locator("main a[href$='/audit']").first.click()
    box = page.locator(".scroll-x.is-wide").first
    expect(box).to_be_attached()
    assert box.evaluate("e => e.scrollWidth > e.clientWidth")
    hint = page.locator(".scroll-hint:not([hidden])").first
    expect(hint).to_be_visible()
    expect(hint).to_have_text("表格较宽，可左右滑动查看")
    assert page_width_problem(page) is None
    shot(page, screenshots, "i17-phone-wide-table-hint-360")
