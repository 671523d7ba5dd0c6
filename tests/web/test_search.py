"""Search (/search and GET /api/v1/search): by process, customer name or phone (last 4 digits too),
tour id or business key, status, China start dates and actor; paged; everyone only sees what
they may see; a bad filter is a 422."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from engine.clock import frozen_at
from engine.run.queries import Viewer
from handlers.domain.search import SearchFilter, conditions
from tests.support.api import Api
from tests.support.complaint import COMPLAINT

PROCESS = "complaint_handling"
# 2026-03-01 17:30 UTC is 2026-03-02 01:30 in China: the day the agency says it started.
LATE_EVENING_UTC = datetime(2026, 3, 1, 17, 30, tzinfo=UTC)
APRIL_10 = datetime(2026, 4, 10, 2, 0, tzinfo=UTC)  # 10:00 in China: zhang and li, well apart from wang


@pytest.fixture
def api(app, runtime):
    return Api(app, runtime)


def take_in(rt, actor="agent1", **data) -> int:
    iid = rt.start(PROCESS, actor=actor)
    [task] = rt.tasks(instance_id=iid)
    rt.complete(task["id"], actor, {**COMPLAINT, **data})
    return iid


@pytest.fixture
def world(app, runtime):
    """zhang: taken in by agent1 on 10 April, solved on the spot by guide1 (business key SH-…); li:
    a phone with dashes, after the tour, so it went to QC; wang: started late on 1 March UTC, cancelled.
    Every step at a fixed moment: the start-date filters must not depend on the real date."""
    with frozen_at(APRIL_10):
        zhang = take_in(runtime)
        [guide_task] = runtime.tasks(instance_id=zhang)
        runtime.complete(guide_task["id"], "guide1", {"resolved_locally": True, "local_action": "换房"})
    with frozen_at(APRIL_10 + timedelta(hours=1)):
        li = take_in(runtime, "agent2", customer_name="李四", contact_phone="139-0000-5678",
                     tour_id="BJ-2026-0301", time_class="旅游后")
    with frozen_at(LATE_EVENING_UTC):
        wang = take_in(runtime, "receptionist1", customer_name="王五", contact_phone="13600001111", tour_id="")
    with frozen_at(APRIL_10 + timedelta(hours=2)):
        runtime.cancel(wang, "supervisor1", "重复登记")
    return {"zhang": zhang, "li": li, "wang": wang}


def found(caller, query: str) -> list[int]:
    response = caller.get(f"/api/v1/search?{query}")
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def listed(response) -> list[int]:
    page = response.get_data(as_text=True)
    body = page[page.index("<tbody>"):page.index("</tbody>")]
    return [int(i) for i in re.findall(r'<tr data-instance="(\d+)">', body)]


def test_each_filter_finds_what_it_should(world, api):
    zhang, li, wang = world["zhang"], world["li"], world["wang"]
    auditor = api.as_("auditor1")
    assert found(auditor, "") == [wang, li, zhang], "everything, newest first"
    assert found(auditor, f"process={PROCESS}") == [wang, li, zhang]
    assert found(auditor, "process=other") == []
    assert found(auditor, "customer=张建") == [zhang], "part of a name"
    assert found(auditor, "customer=李四") == [li]
    assert found(auditor, "customer=13801234567") == [zhang], "the whole number"
    assert found(auditor, "customer=5678") == [li], "the last 4 digits, dashes ignored"
    assert found(auditor, "customer=1390000") == [li], "part of the number"
    assert found(auditor, "customer=0123") == [], "four digits match the end, not the middle"
    assert found(auditor, "customer=4567") == [zhang]
    assert found(auditor, "tour=BJ-2026") == [li]
    assert found(auditor, "tour=sh-2026-1118") == [zhang], "tour ids case-insensitively"
    assert found(auditor, "tour=%25") == [], "LIKE wildcards are taken literally"
    assert found(auditor, "status=cancelled") == [wang]
    assert found(auditor, "status=running") == [li, zhang]
    assert found(auditor, "actor=guide1") == [zhang], "anyone who acted on it"
    assert found(auditor, "actor=supervisor1") == [wang]
    assert found(auditor, "actor=agent2") == [li]
    assert found(auditor, "actor=nobody") == []
    assert found(auditor, "customer=王五&status=cancelled&actor=receptionist1") == [wang], "filters combine"
    assert found(auditor, "customer=王五&status=running") == []


def test_a_cancelled_instance_is_found_by_its_customer(world, api):
    """A cancelled instance keeps its data and its tasks' summaries: both still name the customer."""
    wang = world["wang"]
    auditor = api.as_("auditor1")
    assert found(auditor, "customer=王五") == [wang]
    assert found(auditor, "customer=1111") == [wang]
    [hit] = auditor.get("/api/v1/search?status=cancelled").get_json()["items"]
    assert (hit["customer_name"], hit["phone"]) == ("王*", "136****1111"), "masked for auditors (docs/privacy.md)"


def test_start_dates_are_china_days(world, api):
    wang = world["wang"]
    auditor = api.as_("auditor1")
    assert found(auditor, "started_from=2026-03-02&started_to=2026-03-02") == [wang]
    assert found(auditor, "started_to=2026-03-01") == [], "1 March in UTC, but 2 March in China"
    assert found(auditor, "started_from=2026-03-03&started_to=2026-03-31") == []
    assert wang not in found(auditor, "started_from=2026-03-03")


def test_everyone_else_searches_only_what_they_may_see(world, api, client_for):
    zhang, li, wang = world["zhang"], world["li"], world["wang"]
    assert found(api.as_("qc1"), "") == [li], "only li has a QC task"
    assert found(api.as_("qc1"), "customer=张建国") == []
    assert found(api.as_("agent1"), "") == [wang, li, zhang], "every complaint has its intake in lane staff"
    assert found(api.as_("supervisor1"), "") == [wang, li, zhang], "supervisors see every instance (docs/access.md)"
    assert listed(client_for("qc1").get("/search")) == [li]
    assert listed(client_for("auditor1").get("/search?customer=5678")) == [li]
    assert wang in found(api.bearer("auditor1"), "")
    assert api.anonymous().get("/api/v1/search").status_code == 401


def test_results_page(world, api):
    auditor = api.as_("auditor1")
    first = auditor.get("/api/v1/search?per_page=2").get_json()
    assert (first["total"], first["pages"], first["page"], len(first["items"])) == (3, 2, 1, 2)
    second = auditor.get("/api/v1/search?per_page=2&page=2").get_json()
    assert [i["id"] for i in second["items"]] == [world["zhang"]]
    hit = second["items"][0]
    assert (hit["customer_name"], hit["phone"], hit["tour_id"], hit["status"]) == ("张**", "138****4567",
                                                                                   "SH-2026-1118", "running")


def test_bad_filters_are_422(api):
    auditor = api.as_("auditor1")
    for query, field in (("started_from=2026-13-01", "started_from"), ("started_to=yesterday", "started_to"),
                         ("started_from=2026-03-05&started_to=2026-03-01", "started_to"),
                         ("status=lost", "status"), ("page=0", "page"), ("per_page=201", "per_page"),
                         ("per_page=x", "per_page"), ("customer=" + "x" * 121, "customer"), ("actor=" + "a" * 200, "actor")):
        response = auditor.get(f"/api/v1/search?{query}")
        body = response.get_json()
        assert (response.status_code, body["error"], body["field"]) == (422, "validation_error", field), query
        assert body["errors"][0]["field"] == field


def test_the_search_page(world, client_for):
    auditor = client_for("auditor1")
    response = auditor.get("/search?customer=张建国")
    assert response.status_code == 200
    page = html.unescape(response.get_data(as_text=True))
    assert listed(response) == [world["zhang"]]
    assert f'href="/instances/{world["zhang"]}/audit"' in page, "results open the audit trail"
    assert "138****4567" in page and "13801234567" not in page.split("<tbody>")[1], "the phone masked"
    assert 'value="张建国"' in page, "the filter stays filled in"
    assert "查询" in page and "经办人" in page


def test_the_search_page_names_a_bad_filter(client_for):
    response = client_for("auditor1").get("/search?started_from=2026-03-05&started_to=2026-03-01&status=lost")
    assert response.status_code == 422
    page = html.unescape(response.get_data(as_text=True))
    assert "结束日期不能早于开始日期" in page and "请选择有效的状态" in page
    assert 'name="started_to" value="2026-03-01" aria-invalid="true"' in page
    assert "<tbody>" not in page, "no results for filters that make no sense"


def test_the_actor_filter_is_an_index_lookup(world, runtime):
    """The index on audit_event (actor, instance_id) (migration 0006) makes the actor filter read
    the index only, not the event rows."""
    from sqlalchemy import func, select

    from engine.store.models import ProcessInstance

    statement = select(func.count(ProcessInstance.id)).where(
        *conditions(Viewer("auditor1", frozenset({"auditor"})), SearchFilter(actor="guide1")))
    with runtime.db.engine.connect() as conn:
        sql = str(statement.compile(conn, compile_kwargs={"literal_binds": True}))
        plan = " | ".join(row[-1] for row in conn.execute(text("EXPLAIN QUERY PLAN " + sql)))
    assert "USING COVERING INDEX ix_audit_event_actor_instance" in plan, plan
    assert "SCAN audit_event" not in plan, plan
