"""Pages people can now find, in a real browser at desktop and phone size: every demo user on the
login page, a manager's way from 运营指标 to a heatmap, an instance's technical data collapsed."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.support.browser import login, shot

pytestmark = pytest.mark.browser

SIZES = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.mark.parametrize("size", SIZES)
def test_demo_login_lists_every_user_by_role(pages, screenshots, size):
    page = pages.new()
    page.set_viewport_size(SIZES[size])
    page.goto("/login")
    agents = page.locator('.demo-role[data-role="agent"]')
    expect(agents.locator("dt")).to_have_text("坐席专员")
    expect(agents.locator("code")).to_have_text(["agent1", "agent2", "agent3"])
    expect(page.locator('.demo-role[data-role="sales"] code')).to_have_count(4)
    shot(page, screenshots, f"i17-login-demo-users-{size}")
    assert pages.problems == []


@pytest.mark.parametrize("size", SIZES)
def test_a_manager_goes_from_the_kpis_to_a_heatmap(pages, screenshots, size):
    page = pages.new()
    page.set_viewport_size(SIZES[size])
    login(page, "manager1")
    page.goto("/reports")
    links = page.locator("#heatmap-links a")
    expect(links.filter(has_text="游客投诉处理流程")).to_have_count(1)
    shot(page, screenshots, f"i17-kpi-heatmap-links-{size}")
    links.filter(has_text="游客投诉处理流程").click()
    expect(page.locator("#diagram[data-heatmap]")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"/processes/complaint_handling/\d+/heatmap$"))
    shot(page, screenshots, f"i17-manager-heatmap-{size}")
    assert pages.problems == []


@pytest.mark.parametrize("size", SIZES)
def test_technical_data_opens_on_click(pages, live_server, screenshots, size):
    data = {"customer_name": "浏览器测试", "contact_phone": "13800002222", "branch": "SH01", "archive_result": "A-1"}
    started = live_server.cli_json("start", "complaint_handling", "--as", "agent1", "--data", json.dumps(data))
    page = pages.new()
    page.set_viewport_size(SIZES[size])
    login(page, "supervisor1")
    page.goto(f"/instances/{started['id']}")
    panel = page.locator("aside.side-col")
    expect(panel.locator('dt[title="customer_name"]').first).to_have_text("游客姓名")
    technical = panel.locator("#technical-data")
    archive = technical.locator('dt[title="archive_result"]')
    expect(archive).to_be_hidden()
    shot(page, screenshots, f"i17-instance-data-collapsed-{size}")
    technical.locator("summary").click()
    expect(archive).to_be_visible()
    expect(technical.locator('dt[title="branch"]')).to_be_visible()
    shot(page, screenshots, f"i17-instance-data-technical-open-{size}")
    assert pages.problems == []
