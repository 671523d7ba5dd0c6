"""A field the schema requires only in some cases (if/then/else) is marked required, with its
asterisk, while that case holds, and the browser refuses to submit it empty; P4's talk with the
customer needs time class, kind and request for a complaint, the real need otherwise."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.support.browser import login, set_field, shot

pytestmark = pytest.mark.browser


def _open(live_server, instance_id: int, task: str) -> dict:
    [found] = [t for t in live_server.cli_json("tasks", "--user", "receptionist1")
               if t["instance_id"] == instance_id and t["task"] == task]
    return found


def _complete(live_server, instance_id: int, task: str, data: dict) -> None:
    live_server.cli("complete", str(_open(live_server, instance_id, task)["id"]), "--as", "receptionist1",
                    "--data", json.dumps(data, ensure_ascii=False))


def test_fields_required_only_for_a_complaint_follow_the_request_type(pages, live_server, screenshots):
    instance_id = int(live_server.cli("start", "walk_in_reception", "--as", "receptionist1").strip())
    _complete(live_server, instance_id, "greet_customer",
              {"visitor_count": 1, "greeted_warmly": True, "materials_ready": True, "offered_help": True})
    _complete(live_server, instance_id, "seat_customer",
              {"chair_pulled_out": True, "seated_after_customer": True, "water_served": True})
    task = _open(live_server, instance_id, "talk_with_customer")

    page = pages.new()
    login(page, "receptionist1")
    page.goto(f"/tasks/{task['id']}")
    kind, need = page.locator('[name="kind"]'), page.locator('[name="real_need"]')
    kind_star = page.locator(".field", has=kind).locator(".req")
    need_star = page.locator(".field", has=need).locator(".req")
    expect(kind).not_to_have_attribute("required", re.compile(".*"))
    expect(kind_star).to_be_hidden()
    expect(need_star).to_be_hidden()

    set_field(page, "request_type", "投诉")
    expect(kind).to_have_attribute("required", re.compile(".*"))
    expect(kind_star).to_be_visible()
    expect(page.locator('[name="customer_request"]')).to_have_attribute("required", re.compile(".*"))
    expect(need).not_to_have_attribute("required", re.compile(".*"))
    shot(page, screenshots, "50-conditional-required-complaint")

    set_field(page, "request_type", "咨询")
    expect(need).to_have_attribute("required", re.compile(".*"))
    expect(need_star).to_be_visible()
    expect(kind).not_to_have_attribute("required", re.compile(".*"))
    expect(kind_star).to_be_hidden()
    shot(page, screenshots, "51-conditional-required-inquiry")
