"""Issue 17, readable diagrams (js/diagram.js): zoom in / zoom out / show-all buttons, drag to pan,
a first view with readable labels around the current step, on instance, heatmap and replay pages,
at phone and desktop size. Screenshots: test-artifacts/screenshots/i17-diagram-*.png."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.browser import first_inbox_instance, login, shot
from tests.support.viewports import (
    MIN_TAP,
    PHONE,
    VIEWPORTS,
    contains,
    element_box,
    page_width_problem,
    viewbox,
)

pytestmark = pytest.mark.browser

READABLE = 10 / 12  # scale at which bpmn-js's 12px labels are 10px on screen
SIZES = {"phone": PHONE, "desktop": VIEWPORTS["1440x900"]}


def ready(page, selector: str = "#diagram"):
    expect(page.locator(f"{selector}[data-state=ready]")).to_have_count(1, timeout=20_000)
    return page.locator(selector)


def check_buttons(page, selector: str = "#diagram") -> None:
    """Zoom in and out change the viewbox; show-all shows the whole process."""
    diagram = page.locator(selector)
    before = viewbox(page, selector)
    diagram.get_by_role("button", name="放大").click()
    zoomed_in = viewbox(page, selector)
    assert zoomed_in["scale"] > before["scale"] * 1.2 and zoomed_in["width"] < before["width"]
    diagram.get_by_role("button", name="缩小").click()
    diagram.get_by_role("button", name="缩小").click()
    zoomed_out = viewbox(page, selector)
    assert zoomed_out["scale"] < before["scale"] and zoomed_out["width"] > before["width"]
    diagram.get_by_role("button", name="显示全图").click()
    whole = viewbox(page, selector)
    assert contains(whole, whole["inner"]), whole


@pytest.mark.parametrize("size", SIZES)
def test_instance_diagram_starts_readable_around_the_current_step(pages, screenshots, size):
    page = pages.new()
    page.set_viewport_size(SIZES[size])
    login(page, "agent1")
    instance_id = first_inbox_instance(page)
    page.goto(f"/instances/{instance_id}")
    diagram = ready(page)
    active = diagram.locator(".djs-element.tf-active").first.get_attribute("data-element-id")
    view = viewbox(page)
    assert contains(view, element_box(page, active)), (active, view)
    assert view["scale"] >= READABLE - 0.01 or contains(view, view["inner"]), view
    label_px = diagram.locator(f'.djs-element[data-element-id="{active}"] text').first.evaluate(
        "t => t.getBoundingClientRect().height")
    assert label_px >= 9, label_px
    tools = diagram.locator(".diagram-tools button")
    expect(tools).to_have_count(3)
    if size == "phone":
        assert tools.first.bounding_box()["height"] >= MIN_TAP
        box = diagram.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert page_width_problem(page) is None
    shot(page, screenshots, f"i17-diagram-instance-{size}")
    check_buttons(page)
    shot(page, screenshots, f"i17-diagram-instance-fit-{size}")
    assert pages.problems == []


def test_drag_pans_the_diagram(pages):
    page = pages.new()
    page.set_viewport_size(PHONE)
    login(page, "agent1")
    page.goto(f"/instances/{first_inbox_instance(page)}")
    diagram = ready(page)
    before = viewbox(page)
    box = diagram.locator(".diagram-canvas").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 60, y - 30, steps=6)
    page.mouse.up()
    after = viewbox(page)
    assert after["x"] > before["x"] + 20 and after["y"] > before["y"] + 10, (before, after)
    # a finger: pointer events of type touch (what a phone sends)
    diagram.locator(".diagram-canvas").evaluate("""c => {
        const r = c.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
        const send = (type, dx) => c.dispatchEvent(new PointerEvent(type, {pointerId: 7, pointerType: 'touch',
            isPrimary: true, clientX: x + dx, clientY: y, bubbles: true, cancelable: true}));
        send('pointerdown', 0); send('pointermove', 40); send('pointermove', 80); send('pointerup', 80);
    }""")
    touched = viewbox(page)
    assert touched["x"] < after["x"] - 50, (after, touched)
    assert pages.problems == []


@pytest.mark.parametrize("size", SIZES)
def test_heatmap_diagram_zooms(pages, screenshots, size):
    page = pages.new()
    page.set_viewport_size(SIZES[size])
    login(page, "owner1")
    page.goto("/processes")
    card = page.locator(".process-card", has=page.locator("code", has_text="complaint_handling"))
    card.locator("a[href$='/heatmap']").first.click()
    ready(page)
    expect(page.locator("#diagram[data-heat-nodes]")).to_have_count(1)
    view = viewbox(page)
    assert view["scale"] >= READABLE - 0.01 or contains(view, view["inner"]), view
    assert page_width_problem(page) is None
    shot(page, screenshots, f"i17-diagram-heatmap-{size}")
    check_buttons(page)
    assert pages.problems == []


@pytest.mark.parametrize("size", SIZES)
def test_replay_diagram_zooms(pages, screenshots, size):
    page = pages.new()
    page.set_viewport_size(SIZES[size])
    login(page, "auditor1")
    page.goto("/instances")
    page.locator("main .grid a[href^='/instances/']").first.click()
    page.locator("main a[href$='/audit']").first.click()
    expect(page).to_have_url(re.compile(r"/instances/\d+/audit$"))
    ready(page, "#replay-diagram")
    expect(page.locator("#replay[data-state=ready]")).to_have_count(1)
    assert page_width_problem(page) is None
    shot(page, screenshots, f"i17-diagram-replay-{size}")
    check_buttons(page, "#replay-diagram")
    assert pages.problems == []


def test_replay_brings_the_step_into_view(pages, screenshots):
    """Stepping the replay with the diagram panned away: the step's active node comes back into view."""
    page = pages.new()
    page.set_viewport_size(PHONE)
    login(page, "auditor1")
    page.goto("/instances")
    page.locator("main .grid a[href^='/instances/']").first.click()
    page.locator("main a[href$='/audit']").first.click()
    ready(page, "#replay-diagram")
    expect(page.locator("#replay[data-state=ready]")).to_have_count(1)
    page.locator("#replay-diagram").evaluate("""d => {
        const canvas = d.tfViewer.get('canvas'), v = canvas.viewbox();
        canvas.viewbox({x: v.inner.x + v.inner.width + 500, y: v.y, width: v.width, height: v.height});
    }""")
    page.get_by_role("button", name="下一步 ›").click()
    expect(page.locator("#replay-diagram[data-replay-seq='2']")).to_have_count(1)
    active = page.locator("#replay-diagram .djs-element.tf-active")
    expect(active.first).to_be_attached()
    ids = [active.nth(n).get_attribute("data-element-id") for n in range(active.count())]
    view = viewbox(page, "#replay-diagram")
    assert any(contains(view, element_box(page, i, "#replay-diagram")) for i in ids), (ids, view)
    shot(page, screenshots, "i17-diagram-replay-step-phone")
    assert pages.problems == []
