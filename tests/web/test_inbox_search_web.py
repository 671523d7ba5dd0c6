"""Inbox search on the page and in GET /api/v1/tasks: customer, last phone digits, tour/booking code,
due; bad fields are a form error (page) or a 422 naming the field (API); phones stay masked."""

from __future__ import annotations

import pytest

from tests.support.api import Api
from tests.support.complaint import COMPLAINT
from tests.support.web import page_text
from webapp.error_messages import ZH

EVERY_ROLE = ("agent1", "receptionist1", "sales1", "operator1", "guide1", "qc1", "supervisor1", "manager1",
              "auditor1", "owner1")


@pytest.fixture
def api(app, runtime):
    return Api(app, runtime)


def to_guide(rt, **overrides) -> int:
    iid = rt.start("complaint_handling", actor="agent1")
    [task] = rt.tasks(instance_id=iid)
    rt.complete(task["id"], "agent1", {**COMPLAINT, **overrides})
    return iid


@pytest.fixture
def two(runtime) -> dict[str, int]:
    return {"zhang": to_guide(runtime),  # 张建国 13801234567 SH-2026-1118
            "li": to_guide(runtime, customer_name="李四", contact_phone="13907654321", tour_id="BJ-2026-0007")}


CODES = {"phone": "phone", "due": "due", "customer": "long"}


def instance_ids(answer) -> set[int]:
    return {row["instance_id"] for row in answer.get_json()["items"]}


def test_api_finds_by_phone_end_customer_code_and_free_text(api, two):
    guide = api.as_("guide1")
    assert instance_ids(guide.get("/api/v1/tasks?phone=4567")) == {two["zhang"]}
    assert instance_ids(guide.get("/api/v1/tasks?phone=0123")) == set(), "the middle of a number is not its end"
    assert instance_ids(guide.get("/api/v1/tasks?customer=李")) == {two["li"]}
    assert instance_ids(guide.get("/api/v1/tasks?code=bj-2026")) == {two["li"]}
    assert instance_ids(guide.get("/api/v1/tasks?q=SH-2026")) == {two["zhang"]}
    assert instance_ids(guide.get("/api/v1/tasks?q=4321&lane=guide")) == {two["li"]}
    assert instance_ids(guide.get("/api/v1/tasks?due=none&lane=guide")) == set(), "every step has a due date"
    assert instance_ids(guide.get("/api/v1/tasks?due=overdue")) == set()


def test_api_masks_the_phone_it_matched_unless_the_policy_shows_it(api, two):
    [row] = api.as_("auditor1").get("/api/v1/tasks?phone=4567").get_json()["items"]
    assert row["summary"]["contact_phone"] == "138****4567", "read-only: masked, though the search matched it"
    assert "张" in row["summary"]["customer_name"] and row["summary"]["customer_name"] != "张建国"
    [row] = api.as_("guide1").get("/api/v1/tasks?phone=4567").get_json()["items"]
    assert row["summary"]["contact_phone"] == "13801234567", "the guide serves the instance"


@pytest.mark.parametrize(("query", "field", "message"), [
    ("phone=12a", "phone", "must be at least 4 digits (spaces, dashes and + allowed)"),
    ("phone=123", "phone", "must be at least 4 digits (spaces, dashes and + allowed)"),
    ("due=soon", "due", "must be one of overdue, today, week, none"),
    ("customer=" + "x" * 121, "customer", "must be at most 120 characters"),
])
def test_api_bad_search_field_is_a_422_naming_it(app, runtime, query, field, message):
    answer = Api(app, runtime, language="en").as_("agent1").get(f"/api/v1/tasks?{query}")
    assert answer.status_code == 422
    assert answer.get_json()["errors"] == [{"field": field, "message": message}]
    chinese = Api(app, runtime).as_("agent1").get(f"/api/v1/tasks?{query}").get_json()
    assert chinese["errors"][0]["field"] == field
    assert chinese["errors"][0]["message"] == ZH["search." + CODES[field]].format(n=120)


@pytest.mark.parametrize("user", EVERY_ROLE)
def test_every_role_searches_only_its_lanes(api, two, user):
    answer = api.as_(user).get("/api/v1/tasks?phone=4567")
    assert answer.status_code == 200
    sees_guide_lane = user in ("guide1", "auditor1")
    assert instance_ids(answer) == ({two["zhang"]} if sees_guide_lane else set())
    assert api.as_(user).get("/api/v1/tasks?due=later").status_code == 422


def test_page_search_by_phone_end_keeps_the_phone_masked(client_for, two):
    response = client_for("guide1").get("/?phone=4567")
    page = page_text(response)
    assert response.status_code == 200
    assert "张建国" in page and "李四" not in page
    assert "138****4567" in page and "13801234567" not in page
    assert 'name="phone" value="4567"' in page, "the form keeps what was searched"


def test_page_free_text_and_due_choices(client_for, two):
    page = page_text(client_for("guide1").get("/?q=BJ-2026-0007"))
    assert "李四" in page and "张建国" not in page
    page = page_text(client_for("guide1").get("/?due=overdue"))  # both are due hours from now
    assert "没有符合条件的待办任务" in page
    assert '<option value="overdue" selected>已超期</option>' in page


def test_page_bad_phone_is_a_form_error_in_the_pages_language(client_for, two):
    client = client_for("guide1")
    response = client.get("/?phone=12")
    assert response.status_code == 422
    assert "请填写电话号码的后 4 位或更多数字（可含空格、- 和 +）" in page_text(response)
    assert 'aria-invalid="true" aria-describedby="search-phone-error"' in page_text(response)
    client.get("/lang/en")
    english = page_text(client.get("/?due=soon"))
    assert "Choose a valid due filter" in english


def test_rows_open_on_click_and_keep_their_link(client_for, two):
    page = page_text(client_for("guide1").get("/"))
    assert page.count('<tr class="task-row') == 2 and 'class="step-link"' in page
    assert "js/inbox-keys.js" in page and 'id="inbox-shortcuts"' in page and 'id="inbox-search"' in page
    assert "data-inbox-keys data-can-claim" in page
    assert "data-can-claim" not in page_text(client_for("auditor1").get("/")), "c claims nothing for auditors"
