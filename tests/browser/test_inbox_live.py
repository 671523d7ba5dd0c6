"""The live inbox (webapp/static/js/inbox-live.js): with the inbox open, a task another actor creates
for the user's lane appears within 3 s without a reload, highlighted and announced, the tab title
counts the open tasks, and a task someone else claims leaves the list in place."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.browser import login, shot

pytestmark = pytest.mark.browser

APPEAR_MS = 3_000
# operator1 holds lane staff with no desk: every complaint intake task is theirs. Oldest first and
# every row on one page, so the new task is the last row whatever the demo holds.
INBOX = "/?lane=staff&sort=age&per_page=200"
TITLE = re.compile(r"^\((\d+)\) 收件箱 · tourflow$")


def title_count(page) -> int:
    match = TITLE.match(page.title())
    assert match, f"the tab title carries no count: {page.title()!r}"
    return int(match.group(1))


def start_complaint(server) -> int:
    """Another actor (agent1, through the CLI: not this page) records a complaint: its intake task
    waits in lane staff. Returns the instance's id."""
    return int(server.cli("start", "complaint_handling", "--as", "agent1").strip())


def intake_task(server, instance_id: int) -> int:
    [task] = server.cli_json("tasks", "--instance", str(instance_id))
    return task["id"]


def new_intake(server) -> int:
    return intake_task(server, start_complaint(server))


# Rows highlighted as new, whenever it happened (the highlight lasts 4 s; the CLI may be slower).
WATCH_HIGHLIGHTS = """() => {
    window.tfHighlighted = [];
    new MutationObserver(() => document.querySelectorAll("tr.live-new a.step-link").forEach(a => {
        if (!window.tfHighlighted.includes(a.getAttribute("href"))) window.tfHighlighted.push(a.getAttribute("href"));
    })).observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ["class"]});
}"""


def wait_for_idle_poll(page, polls: list[int], timeout_ms: int = 6_000) -> None:
    """Wait until the page has polled once more and the server answered 304 (nothing changed)."""
    seen = len(polls)
    for _ in range(timeout_ms // 100):
        if 304 in polls[seen:]:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"no idle poll answered 304 within {timeout_ms} ms: {polls}")


def test_a_new_task_appears_without_reload_and_the_title_counts_it(pages, live_server, screenshots):
    page = pages.new()
    page.set_viewport_size({"width": 1440, "height": 900})
    polls: list[int] = []
    page.on("response", lambda r: "/api/v1/inbox/stamp" in r.url and polls.append(r.status))
    login(page, "operator1")
    page.goto(INBOX)
    expect(page).to_have_title(TITLE)
    before, links = title_count(page), page.locator("tbody a.step-link")
    rows_before = links.count()
    page.evaluate("window.tfNoReload = true")  # gone if the page reloads
    page.evaluate(WATCH_HIGHLIGHTS)
    wait_for_idle_poll(page, polls)  # nothing changed yet: the poll costs no page render

    instance_id = start_complaint(live_server)
    expect(links).to_have_count(rows_before + 1, timeout=APPEAR_MS)
    expect(page.locator("#inbox-live-notice")).to_have_text("有 1 个新任务")
    expect(page).to_have_title(f"({before + 1}) 收件箱 · tourflow")
    shot(page, screenshots, "i17-live-desktop")
    task_id = intake_task(live_server, instance_id)
    expect(page.locator(f'tbody a[href="/tasks/{task_id}"]')).to_have_count(1)
    assert page.evaluate("window.tfHighlighted") == [f"/tasks/{task_id}"], "the new row, and only it, lit up"
    assert page.evaluate("window.tfNoReload") is True, "the page was reloaded"
    assert page.url.endswith(INBOX), "filters, sort and page are kept"
    expect(page.locator("select[name=lane]")).to_have_value("staff")
    assert 200 in polls, f"the poll that saw the new task answered 200: {polls}"
    wait_for_idle_poll(page, polls)  # the page took the new stamp: idle again

    phone = pages.new()
    phone.set_viewport_size({"width": 390, "height": 844})
    login(phone, "operator1")
    phone.goto(INBOX)
    phone_before, phone_links = title_count(phone), phone.locator("tbody a.step-link")
    phone_rows = phone_links.count()
    start_complaint(live_server)
    expect(phone_links).to_have_count(phone_rows + 1, timeout=APPEAR_MS)
    expect(phone).to_have_title(f"({phone_before + 1}) 收件箱 · tourflow")
    shot(phone, screenshots, "i17-live-phone")
    assert not pages.problems, pages.problems


def test_a_task_claimed_by_someone_else_leaves_the_list_in_place(pages, live_server, screenshots):
    task_id = new_intake(live_server)
    page = pages.new()
    login(page, "operator1")
    page.goto(INBOX)
    link = page.locator(f'tbody a[href="/tasks/{task_id}"]')
    expect(link).to_have_count(1)
    count = title_count(page)
    page.evaluate("window.tfNoReload = true")
    page.evaluate(WATCH_HIGHLIGHTS)
    live_server.cli("claim", str(task_id), "--as", "guide1")
    expect(link).to_have_count(0, timeout=APPEAR_MS)
    assert page.evaluate("window.tfNoReload") is True, "the page was reloaded"
    assert title_count(page) == count, "still open (claimed by guide1): 全部待办 counts it"
    shot(page, screenshots, "i17-live-claimed")
    live_server.cli("unclaim", str(task_id), "--as", "guide1")
    expect(link).to_have_count(1, timeout=APPEAR_MS)
    assert page.evaluate("window.tfHighlighted") == [], "a released task is back, not new"
    assert page.evaluate("window.tfNoReload") is True
    assert not pages.problems, pages.problems


def test_a_hidden_tab_polls_slowly_and_desktop_notifications_are_switched_on_by_a_button(pages, live_server):
    page = pages.new()
    page.context.grant_permissions(["notifications"])
    polls: list[str] = []
    page.on("request", lambda r: "/api/v1/inbox/stamp" in r.url and polls.append(r.url))
    login(page, "operator1")
    page.goto(INBOX)
    button = page.get_by_role("button", name="开启桌面通知")
    expect(button).to_be_visible()
    button.click()
    expect(button).to_be_hidden()
    expect(page.locator("#inbox-live-notice")).to_have_text("桌面通知已开启")
    assert page.evaluate("localStorage.getItem('tf-inbox-notify')") == "1"
    page.wait_for_timeout(4_500)
    assert len(polls) >= 2, f"a visible tab polls every 2 s: {polls}"
    page.evaluate("""() => {
        Object.defineProperty(document, "hidden", {configurable: true, get: () => true});
        document.dispatchEvent(new Event("visibilitychange"));
    }""")
    polls.clear()
    page.wait_for_timeout(6_000)
    assert polls == [], "a hidden tab waits 30 s between polls"
    page.reload()
    expect(page).to_have_title(TITLE)
    expect(page.get_by_role("button", name="开启桌面通知")).to_be_hidden()  # still on after a reload
    assert not pages.problems, pages.problems


def test_shortcuts_and_row_clicks_work_on_rows_that_arrived_live(pages, live_server):
    page = pages.new()
    page.set_viewport_size({"width": 1440, "height": 900})
    login(page, "operator1")
    page.goto(INBOX)
    links = page.locator("tbody a.step-link")
    rows_before = links.count()
    task_id = new_intake(live_server)
    expect(links).to_have_count(rows_before + 1, timeout=APPEAR_MS)
    new_row = page.locator("tr.task-row", has=page.locator(f'a[href="/tasks/{task_id}"]'))

    page.locator("body").click(position={"x": 5, "y": 5})
    for _ in range(rows_before + 1):  # down to the last row: the one that arrived
        page.keyboard.press("j")
    expect(new_row).to_have_class(re.compile(r"\bis-selected\b"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/tasks/{task_id}$"))

    page.go_back()
    page.locator("tr.task-row", has=page.locator(f'a[href="/tasks/{task_id}"]')).locator(
        "td.cell-lane"
    ).click()
    expect(page).to_have_url(re.compile(rf"/tasks/{task_id}$"))
    assert not pages.problems, pages.problems
