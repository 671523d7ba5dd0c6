"""The migration page in a real browser: the from-version's waiting nodes are offered as checkboxes
with their counts, and a refused request keeps what the owner picked."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.browser import login, shot

pytestmark = pytest.mark.browser


def test_owner_picks_waiting_nodes_and_a_refusal_keeps_the_form(pages, screenshots):
    page = pages.new()
    login(page, "owner1")
    page.goto("/processes/complaint_handling/migrate")
    boxes = page.locator(".migrate-waiting input[name=waiting_at]")
    expect(boxes.first).to_be_visible()
    expect(page.locator(".migrate-waiting")).to_contain_text("个实例在此等待")
    node = boxes.first.get_attribute("value")
    boxes.first.check()
    page.get_by_label("实例编号（逗号分隔，可留空=全部）").fill("1, x")
    page.get_by_label("原因（记入每个实例的审计日志）").fill("只迁移等在这里的")
    page.get_by_role("button", name="预演（不改变任何数据）").click()
    expect(page.locator(".error-message")).to_contain_text("实例编号应是用逗号分隔的数字")
    expect(page.locator(f'.migrate-waiting input[value="{node}"]')).to_be_checked()
    expect(page.get_by_label("实例编号（逗号分隔，可留空=全部）")).to_have_value("1, x")
    shot(page, screenshots, "45-migrate-filter")
    assert pages.problems == []
