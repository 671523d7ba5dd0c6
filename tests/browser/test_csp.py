"""The Content-Security-Policy (script-src 'self', no inline script or style) breaks nothing: the main
pages, diagrams, heatmap, replay and forms load with no CSP violation reported by chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.browser import first_inbox_instance, login

pytestmark = pytest.mark.browser

# Debian's chromium prints every blocked load or inline script/style as a console message like
# "Refused to apply inline style because it violates the following Content Security Policy directive".
CSP_WORDS = ("Content Security Policy", "Content-Security-Policy")


def _watch(page, violations: list[str]) -> None:
    page.on("console", lambda msg: any(w in msg.text for w in CSP_WORDS)
            and violations.append(f"{page.url}: {msg.text}"))
    # The DOM event as well: it names the directive even when the console wording changes.
    page.add_init_script("""document.addEventListener("securitypolicyviolation", function (e) {
        console.error("Content Security Policy violation: " + e.violatedDirective + " " + e.blockedURI);
    });""")


def _diagram_ready(page, selector: str = "#diagram") -> None:
    expect(page.locator(f"{selector}[data-state=ready]")).to_have_count(1, timeout=20_000)


def test_main_pages_report_no_csp_violation(pages):
    violations: list[str] = []
    page = pages.new()
    _watch(page, violations)
    page.goto("/login")
    response = page.request.get("/login")
    assert "script-src 'self'" in response.headers["content-security-policy"]

    login(page, "agent1")
    instance_id = first_inbox_instance(page)
    for url in ("/", "/start", "/instances", "/search"):
        page.goto(url)
        page.wait_for_load_state("load")
    page.goto(f"/instances/{instance_id}")
    _diagram_ready(page)
    page.goto("/")
    task_link = page.locator('a[href*="/tasks/"]').first
    task_link.click()
    expect(page.locator("form [name]").first).to_be_attached()
    now_button = page.locator("[data-now-for]")
    if now_button.count():  # the 现在 button (static js/now-button.js) still fills its field
        target = now_button.first.get_attribute("data-now-for")
        now_button.first.click()
        expect(page.locator(f"#{target}")).not_to_have_value("")

    owner = pages.new()
    _watch(owner, violations)
    login(owner, "owner1")
    owner.goto("/processes")
    card = owner.locator(".process-card", has=owner.locator("code", has_text="complaint_handling"))
    card.get_by_role("link", name="查看流程图").first.click()
    _diagram_ready(owner)
    owner.goto("/processes")
    card.get_by_role("link", name="热力图").first.click()
    _diagram_ready(owner)
    owner.goto("/processes/complaint_handling/edit")  # the bpmn-js Modeler, linted once loaded
    _diagram_ready(owner, "#modeler")
    expect(owner.locator("#lint-list[data-lint-round]")).to_have_count(1, timeout=20_000)

    auditor = pages.new()
    _watch(auditor, violations)
    login(auditor, "auditor1")
    for url in ("/reports", "/audit", "/incidents"):
        auditor.goto(url)
        auditor.wait_for_load_state("load")
    auditor.goto(f"/instances/{instance_id}/audit")
    expect(auditor.locator("#replay[data-state=ready]")).to_have_count(1, timeout=20_000)
    _diagram_ready(auditor, "#replay-diagram")

    assert violations == []
    assert pages.problems == []
