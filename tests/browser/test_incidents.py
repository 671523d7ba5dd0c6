"""An incident in a real browser, from a real process path: a tour group of 60 on an economy
budget does not fit the economy hotel, so booking the rooms (定房) stops with a business
incident for the operator. The operator finds it under 故障, opens the instance, and resolves
it with a bigger hotel; the panel goes and the diagram no longer marks the step failed.

The steps before the incident (sales and operator forms) run through the `tourflow` CLI on
the live server's database; the handler that refuses is the real `tour_book_rooms`.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.support.browser import login, shot
from tests.support.tour_operation import CONFIRM, INQUIRY

pytestmark = pytest.mark.browser

BIG_GROUP = {**INQUIRY, "customer_name": "浏览器故障测试", "head_count": 60, "days": 2, "reception_standard": "经济",
             "transport": "自备", "hui_guests": 0, "single_rooms": 0, "sights": ["SIGHT-TSQ"],
             "start_date": "2026-12-20"}


def _open_task(server, instance_id: int, task: str) -> int:
    found = [t for t in server.cli_json("tasks", "--instance", str(instance_id)) if t["task"] == task]
    assert found, f"{task} is not open in instance {instance_id}"
    return found[0]["id"]


def tour_stopped_by_capacity(server) -> int:
    """sales1 takes the inquiry, operator1 quotes, sales1 confirms: booking the rooms fails."""
    instance_id = server.cli_json("start", "tour_operation", "--as", "sales1")["id"]
    server.cli("complete", str(_open_task(server, instance_id, "take_inquiry")), "--as", "sales1",
               "--data", json.dumps(BIG_GROUP, ensure_ascii=False))
    total = server.cli_json("show", str(instance_id))["data"]["quoted_total"]
    server.cli("complete", str(_open_task(server, instance_id, "make_quote")), "--as", "operator1",
               "--data", json.dumps({"quoted_total": total, "itinerary_overview": "泰山两日"}, ensure_ascii=False))
    server.cli("complete", str(_open_task(server, instance_id, "confirm_team")), "--as", "sales1",
               "--data", json.dumps({**CONFIRM, "group_confirmed": True}, ensure_ascii=False))
    shown = server.cli_json("show", str(instance_id))
    assert shown["status"] == "error" and "HOTEL-QF-ECO" in shown["error"], shown
    return instance_id


def test_operator_resolves_a_capacity_incident_with_a_bigger_hotel(pages, live_server, screenshots):
    instance_id = tour_stopped_by_capacity(live_server)
    page = pages.new()
    login(page, "operator1")

    # The top bar counts the operator's incidents; the list links to the instance.
    nav = page.locator(".mainnav").get_by_role("link", name=re.compile("故障"))
    expect(nav.locator(".nav-count")).to_have_text("1")
    nav.click()
    expect(page).to_have_url(re.compile(r"/incidents$"))
    row = page.locator("tbody tr").filter(has_text=f"#{instance_id}")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("旅游业务操作流程")
    expect(row).to_contain_text("业务故障")
    expect(row).to_contain_text("计调")
    expect(row.locator(".cell-error")).to_contain_text("容量不足")
    shot(page, screenshots, "20-incidents-list")
    row.get_by_role("link", name="定房").click()
    expect(page).to_have_url(re.compile(rf"/instances/{instance_id}#incident$"))

    # The panel: the failed step, the real error in full, who resolves it, and the two actions.
    incident = page.locator("section.incident-panel")
    expect(incident.get_by_role("heading", level=2)).to_have_text("!故障：定房")
    expect(incident.locator(".incident-error")).to_contain_text("曲阜经济型酒店（HOTEL-QF-ECO）2026-12-20 剩余 25，需要 30：容量不足")
    expect(incident).to_contain_text("负责泳道：计调")
    expect(incident.locator(".attempts tbody tr")).to_have_count(1)
    expect(incident.get_by_role("button", name="重试", exact=True)).to_be_visible()
    expect(incident.get_by_role("button", name="修正数据后重试")).to_be_visible()
    expect(page.locator("#diagram[data-state=ready]")).to_have_count(1, timeout=20_000)
    expect(page.locator('#diagram .djs-element.tf-failed[data-element-id="book_rooms"]')).to_have_count(1)
    expect(incident.get_by_label("修正的数据")).to_have_value("{}")  # 定房 reads the whole data, no parameters
    expect(incident).to_contain_text("只需填写要修改的字段")
    shot(page, screenshots, "21-incident-panel")
    incident.screenshot(path=str(screenshots / "21b-incident-panel-detail.png"))

    # Not JSON: refused by the server (422), the message shown, what was typed kept.
    data = incident.get_by_label("修正的数据")
    reason = page.locator("#resolve-reason")
    data.fill('{"hotel_code": HOTEL-TA-STD}')
    reason.fill("曲阜经济型酒店满房，改住泰安舒适型酒店")
    with page.expect_navigation():
        incident.get_by_role("button", name="修正数据后重试").click()
    incident = page.locator("section.incident-panel")
    expect(incident.locator("#resolve-data-err")).to_contain_text("JSON 格式有误：第 1 行第 16 列")
    expect(incident.get_by_label("修正的数据")).to_have_value('{"hotel_code": HOTEL-TA-STD}')
    expect(page.locator("#resolve-reason")).to_have_value("曲阜经济型酒店满房，改住泰安舒适型酒店")
    shot(page, screenshots, "22-incident-invalid-json")
    incident.screenshot(path=str(screenshots / "22b-incident-invalid-json-detail.png"))

    # A bigger hotel: the rooms are booked and the tour goes on to the operator's approval.
    incident.get_by_label("修正的数据").fill('{"hotel_code": "HOTEL-TA-STD"}')
    with page.expect_navigation():
        incident.get_by_role("button", name="修正数据后重试").click()
    expect(page).to_have_url(re.compile(rf"/instances/{instance_id}$"))
    expect(page.locator(".flash-success")).to_have_text("已重新执行「定房」，流程继续运行。")
    expect(page.locator("section.incident-panel")).to_have_count(0)
    expect(page.locator(".head-badges .badge")).to_have_text("进行中")
    expect(page.locator("#diagram[data-state=ready]")).to_have_count(1, timeout=20_000)
    expect(page.locator("#diagram .djs-element.tf-failed")).to_have_count(0)
    expect(page.locator('#diagram .djs-element.tf-completed[data-element-id="book_rooms"]')).to_have_count(1)
    expect(page.locator('#diagram .djs-element.tf-active[data-element-id="approve_bookings"]')).to_have_count(1)
    expect(page.locator(".timeline")).to_contain_text("原因：曲阜经济型酒店满房，改住泰安舒适型酒店")
    expect(page.locator(".mainnav .nav-count")).to_have_count(0)
    shot(page, screenshots, "23-incident-resolved")

    shown = live_server.cli_json("show", str(instance_id))
    assert shown["status"] == "running" and shown["data"]["hotel_code"] == "HOTEL-TA-STD"
    assert pages.problems == []
