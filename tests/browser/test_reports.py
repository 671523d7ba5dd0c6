"""The KPI dashboard in a real browser, on the demo database (whose history, webapp/demo_history.py,
gives it six weeks of complaints, calls, follow-ups and bookings): manager1 opens 运营指标 from the
top bar, sees the tiles, the charts drawn as inline SVG and their tables, narrows the range to days,
and downloads a CSV."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support.browser import login, shot

pytestmark = pytest.mark.browser


def test_manager_reads_the_kpi_dashboard(pages, screenshots):
    page = pages.new()
    login(page, "manager1")
    page.locator(".mainnav").get_by_role("link", name="运营指标").click()
    expect(page).to_have_url(re.compile(r"/reports$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("运营指标")
    expect(page.locator(".range-note")).to_contain_text("按周，共 8 期")

    # The demo's history shows in every section: no tile is empty, every chart has bars or points.
    tiles = page.locator(".kpi-tiles .tile-n")
    expect(tiles).to_have_count(6)
    complaints = int(page.locator(".tile", has_text="投诉量").locator(".tile-n").inner_text())
    assert complaints >= 10
    for chart in ("inquiries", "complaints", "sla", "bookings"):
        assert page.locator(f"#chart-{chart} rect.bar").count() > 0, chart
    for chart in ("resolution", "satisfaction"):
        assert page.locator(f"#chart-{chart} circle.dot").count() > 0, chart
    expect(page.locator("#complaints table tbody tr")).to_have_count(8)
    expect(page.locator("#booking-accuracy")).to_contain_text("无法计算")
    shot(page, screenshots, "40-reports-weekly")

    # By day: with the dates cleared, the last fourteen days.
    page.locator("input[name=from]").fill("")
    page.locator("input[name=to]").fill("")
    page.locator("select[name=granularity]").select_option("day")
    page.get_by_role("button", name="查看").click()
    expect(page).to_have_url(re.compile(r"granularity=day"))
    expect(page.locator(".range-note")).to_contain_text("按日，共 14 期")
    expect(page.locator("#satisfaction table tbody tr")).to_have_count(14)
    shot(page, screenshots, "41-reports-daily")

    # The CSV of the complaints, as Excel would get it.
    with page.expect_download() as download:
        page.locator("#complaints").get_by_role("link", name="导出 CSV").click()
    data = Path(download.value.path()).read_bytes()
    assert download.value.suggested_filename.startswith("kpi-complaints-")
    assert data.startswith("\ufeff".encode()) and "住宿餐饮".encode() in data
    assert pages.problems == []
