"""A process owner compares two versions on their diagrams and rolls back with one button."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from engine.config import DEFAULT_PROCESSES_DIR
from tests.support.browser import login, shot

pytestmark = pytest.mark.browser

SOURCE = DEFAULT_PROCESSES_DIR / "outbound_call.bpmn"


def test_owner_diffs_two_versions_and_rolls_back(pages, live_server, screenshots, tmp_path):
    changed = tmp_path / SOURCE.name
    changed.write_text(SOURCE.read_text(encoding="utf-8").replace('name="通话结束"', 'name="通话结束并登记"'),
                       encoding="utf-8")
    (tmp_path / "forms").mkdir()
    (tmp_path / "forms" / "outbound_call").symlink_to(DEFAULT_PROCESSES_DIR / "forms" / "outbound_call")
    assert "version 2 (deployed)" in live_server.cli("deploy", str(changed), "--as", "owner1")

    page = pages.new()
    login(page, "owner1")
    page.goto("/processes")
    card = page.locator(".process-card", has=page.locator("code", has_text="outbound_call"))
    card.get_by_role("link", name="与上一版本比较").click()
    expect(page.locator(".diagram[data-state=ready]")).to_have_count(2, timeout=20_000)
    for side in (page.locator("#diagram"), page.locator("#diagram-new")):
        expect(side.locator('.djs-element.tf-changed[data-element-id="call_end"]')).to_have_count(1)
        expect(side).to_have_attribute("data-changed", "1")
        expect(side.locator(".diagram-legend")).to_contain_text("修改")
    expect(page.locator(".diff-table")).to_contain_text("通话结束并登记")
    shot(page, screenshots, "40-version-diff")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, screenshots, "41-version-diff-phone")
    page.set_viewport_size({"width": 1440, "height": 900})

    page.goto("/processes")
    card = page.locator(".process-card", has=page.locator("code", has_text="outbound_call"))
    old = card.locator(".version", has=page.locator(".version-name", has_text="v1"))
    old.get_by_label("设为当前版本的原因").fill("v2 的结束节点名称不对")
    old.get_by_role("button", name="设为当前版本").click()
    expect(page.locator(".flash-success")).to_contain_text("将从版本 1 发起")
    current = card.locator(".version.current .version-name")
    expect(current).to_have_text("v1")
    assert pages.problems == []
