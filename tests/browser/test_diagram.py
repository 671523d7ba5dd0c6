"""js/diagram.js on the real pages: a process version (no markers), a failed node, a load error."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.browser import first_inbox_instance, login, shot

pytestmark = pytest.mark.browser


def test_process_version_diagram(pages, screenshots):
    """A deployed version's diagram: drawn, with no instance markers and so no legend."""
    page = pages.new()
    login(page, "owner1")
    page.goto("/processes")
    card = page.locator(".process-card", has=page.locator("code", has_text="complaint_handling"))
    card.get_by_role("link", name="查看流程图").first.click()
    expect(page.locator("#diagram[data-state=ready]")).to_have_count(1, timeout=20_000)
    expect(page.locator('#diagram .djs-element[data-element-id="receive_complaint"]')).to_have_count(1)
    expect(page.locator("#diagram .djs-element.tf-completed, #diagram .djs-element.tf-active")).to_have_count(0)
    expect(page.locator("#diagram .diagram-legend")).to_have_count(0)
    shot(page, screenshots, "10-process-version-diagram")
    assert pages.problems == []


def test_diagram_failed_marker_and_load_error(pages, screenshots):
    """diagram.js on the real instance page, with the diagram answer altered in the browser:
    a failed node is drawn red, and an error answer leaves a readable message, not a blank box."""
    page = pages.new()
    login(page, "agent1")
    instance_id = first_inbox_instance(page)

    def with_failed_node(route):
        body = route.fetch().json()
        body["nodes"]["failed"] = ["archive_complaint", "no_such_element"]
        route.fulfill(json=body)

    page.route("**/api/v1/instances/*/diagram", with_failed_node)
    page.goto(f"/instances/{instance_id}")
    expect(page.locator("#diagram[data-state=ready]")).to_have_count(1, timeout=20_000)
    failed = page.locator('#diagram .djs-element.tf-failed[data-element-id="archive_complaint"]')
    expect(failed).to_have_count(1)
    expect(page.locator("#diagram")).to_have_attribute("data-failed", "1")  # the unknown id is skipped
    stroke = failed.locator(".djs-visual > :first-child").evaluate("e => getComputedStyle(e).stroke")
    assert stroke == "rgb(198, 40, 40)", stroke
    page.unroute("**/api/v1/instances/*/diagram")

    page.route("**/api/v1/instances/*/diagram", lambda route: route.fulfill(
        status=404, json={"error": "not_found", "message": "instance does not exist", "field": None}))
    page.reload()
    expect(page.locator("#diagram[data-state=error]")).to_have_count(1)
    expect(page.locator("#diagram").get_by_role("alert")).to_contain_text("流程图加载失败")
    expect(page.locator("#diagram").get_by_role("alert")).to_contain_text("HTTP 404 · instance does not exist")
    shot(page, screenshots, "11-diagram-load-error")


def test_process_heatmap(pages, screenshots):
    """The heatmap of the demo's complaints: shaded nodes with a badge of instances and median time."""
    page = pages.new()
    login(page, "owner1")
    page.goto("/processes")
    card = page.locator(".process-card", has=page.locator("code", has_text="complaint_handling"))
    card.get_by_role("link", name="热力图").first.click()
    expect(page.locator("#diagram[data-state=ready]")).to_have_count(1, timeout=20_000)
    expect(page.locator("#diagram[data-heat-nodes]")).to_have_count(1)
    painted = int(page.locator("#diagram").get_attribute("data-heat-nodes"))
    assert painted >= 2
    expect(page.locator('#diagram .tf-heat-badge[data-node="receive_complaint"]')).to_have_count(1)
    expect(page.locator("#heat-table tbody tr")).to_have_count(painted)
    shot(page, screenshots, "30-process-heatmap")
    assert pages.problems == []
