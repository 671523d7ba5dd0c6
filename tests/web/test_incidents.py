"""Incidents in the web UI and the API: who sees them, who resolves them, and what resolving does.

The fixture process (tests/fixtures/incidents/incident_flow.bpmn) books a supplier in the
operator lane through `test_incident_supplier` below, then waits for a person to confirm:
a supplier that stays unreachable is a technical incident (after the 30 s and 60 s retries),
supplier "FULL" a business incident for the lane the handler names (`refer_to`, default sales).
"""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from engine.clock import frozen_at, utcnow
from engine.run.handlers import BusinessError, HandlerContext, handler
from tests.conftest import deploy
from tests.web.api_support import Api

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "incidents" / "incident_flow.bpmn"
UNREACHABLE = "ConnectionError: supplier HZ-01 unreachable (attempt {n})"


@handler("test_incident_supplier")
def incident_supplier(ctx: HandlerContext, supplier: str = "", fail_times: int = 0, channel: str = "") -> dict:
    """Unreachable for the first `fail_times` attempts; supplier FULL refuses every booking."""
    if supplier == "FULL":
        raise BusinessError(f"供应商 {supplier} 2026-12-20 满房，请更换供应商", lane=ctx.data.get("refer_to") or "sales")
    if ctx.attempt <= fail_times:
        raise ConnectionError(f"supplier {supplier} unreachable (attempt {ctx.attempt})")
    return {"supplier": supplier, "attempt": ctx.attempt, "actor": ctx.actor, "channel": channel}


@pytest.fixture
def rt(app, runtime):
    deploy(runtime, FIXTURE)
    return runtime


@pytest.fixture
def api(app, rt):
    return Api(app, rt)


def exhaust_retries(rt, instance_id: int, start) -> None:
    """Tick past the 30 s and then the 60 s backoff: the third failure raises the incident."""
    rt.tick(start + timedelta(seconds=31))
    rt.tick(start + timedelta(seconds=31 + 61))


def technical(rt, supplier: str = "HZ-01", **data) -> int:
    start = utcnow()
    with frozen_at(start):
        instance_id = rt.start("incident_flow", {"supplier": supplier, "fail_times": 99,
                                                 "customer_name": "林小雨", **data}, actor="sales1")
    assert rt.show(instance_id)["status"] == "retrying"
    exhaust_retries(rt, instance_id, start)
    assert rt.show(instance_id)["status"] == "error"
    return instance_id


def business(rt, **data) -> int:
    instance_id = rt.start("incident_flow", {"supplier": "FULL", "fail_times": 0, **data}, actor="sales1")
    assert rt.show(instance_id)["status"] == "error"
    return instance_id


def kinds(rt, instance_id: int) -> list[str]:
    return [e["kind"] for e in rt.events(instance_id)]


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def panel(page: str) -> str:
    start = page.index('<section class="card incident-panel"')
    return page[start:page.index("</section>", start)]


# ---- the list: who sees which incident -------------------------------------------------------
def test_a_technical_incident_is_listed_for_its_lane_and_those_who_see_all(rt, api):
    instance_id = technical(rt)
    [item] = api.as_("operator1").get("/api/v1/incidents").get_json()["items"]
    assert item == {
        "instance_id": instance_id, "process": "incident_flow", "process_name": "测试供应商预订", "version": 1,
        "business_key": None, "task": "book_supplier", "task_name": "向供应商预订",
        "error": UNREACHABLE.format(n=3), "attempts": 3, "lane": "operator", "business": False, "routing": {},
        "summary": {"customer_name": "林小雨"}, "raised_at": item["raised_at"], "raised_count": 1,
        "can_resolve": True,
    }
    raised = [e for e in rt.events(instance_id) if e["kind"] == "incident_raised"]
    assert item["raised_at"] == raised[-1]["at"]
    for who in ("supervisor1", "owner1", "auditor1"):
        [seen] = api.as_(who).get("/api/v1/incidents").get_json()["items"]
        assert (seen["instance_id"], seen["can_resolve"]) == (instance_id, False), who
    for who in ("agent1", "sales1", "qc1", "guide1"):
        assert api.as_(who).get("/api/v1/incidents").get_json() == {"items": [], "total": 0}, who
    assert api.bearer("operator1").get("/api/v1/incidents").get_json()["total"] == 1


def test_a_business_incident_belongs_to_the_lane_the_handler_named(rt, api):
    instance_id = business(rt)
    assert "retry_scheduled" not in kinds(rt, instance_id)
    [item] = api.as_("sales1").get("/api/v1/incidents").get_json()["items"]
    assert (item["instance_id"], item["lane"], item["business"], item["attempts"], item["can_resolve"]) == (
        instance_id, "sales", True, 1, True)
    assert item["error"] == "BusinessError: 供应商 FULL 2026-12-20 满房，请更换供应商"
    assert api.as_("operator1").get("/api/v1/incidents").get_json()["total"] == 0, "the node's lane is not asked"


def test_agents_see_the_incidents_of_their_desk_only(rt, api):
    instance_id = business(rt, refer_to="agent", desk="旅游")
    [item] = api.as_("agent2").get("/api/v1/incidents").get_json()["items"]  # the 旅游 desk
    assert (item["instance_id"], item["routing"], item["can_resolve"]) == (instance_id, {"desk": "旅游"}, True)
    assert api.as_("agent1").get("/api/v1/incidents").get_json()["total"] == 0  # the 邮轮 desk
    before = len(rt.events(instance_id))
    response = api.as_("agent1").post(f"/api/v1/instances/{instance_id}/incident/resolve", {"reason": "换供应商"})
    assert (response.status_code, response.get_json()["error"]) == (403, "forbidden")
    assert len(rt.events(instance_id)) == before


def test_the_list_is_newest_first_and_filtered_by_process(rt, api):
    first = business(rt)
    second = business(rt)
    items = api.as_("auditor1").get("/api/v1/incidents").get_json()["items"]
    assert [i["instance_id"] for i in items] == [second, first]
    assert api.as_("auditor1").get("/api/v1/incidents?process=incident_flow").get_json()["total"] == 2
    assert api.as_("auditor1").get("/api/v1/incidents?process=complaint_handling").get_json()["total"] == 0
    assert api.anonymous().get("/api/v1/incidents").status_code == 401


# ---- one incident ------------------------------------------------------------------------------
def test_the_incident_of_an_instance_has_its_attempts_and_the_data_its_handler_reads(rt, api):
    instance_id = technical(rt)
    incident = api.as_("operator1").get(f"/api/v1/instances/{instance_id}/incident").get_json()
    assert incident["handler"] == "test_incident_supplier"
    assert [(h["kind"], h["attempt"], h["error"]) for h in incident["history"]] == [
        ("handler_called", n, UNREACHABLE.format(n=n)) for n in (1, 2, 3)]
    assert [h["actor"] for h in incident["history"]] == ["sales1", "system", "system"]
    assert incident["inputs"] == {"supplier": "HZ-01", "fail_times": 99}, "the literal channel is no data"
    assert api.as_("supervisor1").get(f"/api/v1/instances/{instance_id}").status_code == 200, \
        "who sees the incident may open its instance"
    response = api.as_("qc1").get(f"/api/v1/instances/{instance_id}/incident")
    assert (response.status_code, response.get_json()["error"]) == (403, "forbidden")


def test_the_history_of_a_step_run_again_starts_after_its_last_success(rt, api):
    """The step is booked once (after a failure), then run again through the rebook loop, and refused."""
    start = utcnow()
    with frozen_at(start):
        instance_id = rt.start("incident_flow", {"supplier": "HZ-01", "fail_times": 1}, actor="sales1")
    rt.tick(start + timedelta(seconds=31))  # the second attempt books
    [confirm] = rt.tasks(instance_id=instance_id)
    rt.complete(confirm["id"], "sales1", {"confirmed": False, "supplier": "FULL"})
    assert rt.show(instance_id)["status"] == "error"
    incident = api.as_("sales1").get(f"/api/v1/instances/{instance_id}/incident").get_json()
    assert [(h["kind"], h["attempt"], h["error"][:13]) for h in incident["history"]] == [
        ("handler_called", 1, "BusinessError")], "the first round's failure is history of a step that succeeded"
    assert incident["inputs"] == {"supplier": "FULL", "fail_times": 1}
    assert kinds(rt, instance_id).count("handler_called") == 3


def test_no_incident_or_no_instance_is_404(rt, api):
    running = rt.start("complaint_handling", actor="agent1")
    response = api.as_("agent1").get(f"/api/v1/instances/{running}/incident")
    assert (response.status_code, response.get_json()["error"]) == (404, "not_found")
    assert "no open incident" in response.get_json()["message"]
    assert api.as_("agent1").get("/api/v1/instances/99999/incident").status_code == 404
    response = api.as_("operator1").post("/api/v1/instances/99999/incident/resolve", {"reason": "x"})
    assert (response.status_code, response.get_json()["error"]) == (404, "not_found")


# ---- resolving through the API -----------------------------------------------------------------
def test_resolve_with_data_changes_what_the_handler_sees_and_the_instance_moves_on(rt, api):
    instance_id = technical(rt)
    url = f"/api/v1/instances/{instance_id}/incident/resolve"
    response = api.as_("operator1").post(url, {"reason": "HZ-01 停服，改由 HZ-02 预订",
                                                "data": {"supplier": "HZ-02", "fail_times": 0}})
    assert response.status_code == 200
    instance = response.get_json()
    assert (instance["status"], instance["error"]) == ("running", None)
    assert instance["data"]["booking"] == {"supplier": "HZ-02", "attempt": 1, "actor": "operator1", "channel": "api"}
    resolved = next(e for e in rt.events(instance_id) if e["kind"] == "incident_resolved")
    assert (resolved["actor"], resolved["payload"]["reason"]) == ("operator1", "HZ-01 停服，改由 HZ-02 预订")
    assert resolved["payload"]["data"] == {"supplier": "HZ-02", "fail_times": 0}
    assert resolved["payload"]["previous_error"] == UNREACHABLE.format(n=3)
    assert api.as_("operator1").get("/api/v1/incidents").get_json()["total"] == 0
    assert api.as_("operator1").get(f"/api/v1/instances/{instance_id}/incident").status_code == 404
    diagram = api.as_("operator1").get(f"/api/v1/instances/{instance_id}/diagram").get_json()
    assert diagram["nodes"]["failed"] == [] and "book_supplier" in diagram["nodes"]["completed"]
    [confirm] = rt.tasks(instance_id=instance_id)
    assert confirm["task"] == "confirm_booking"
    rt.complete(confirm["id"], "sales1", {"confirmed": True})
    assert rt.show(instance_id)["status"] == "completed"

    again = api.as_("operator1").post(url, {"reason": "再来一次"})
    assert (again.status_code, again.get_json()["error"]) == (409, "conflict")
    assert "no open incident" in again.get_json()["message"]


def test_a_second_resolve_of_the_same_incident_is_409(rt, api):
    instance_id = business(rt)
    url = f"/api/v1/instances/{instance_id}/incident/resolve"
    assert api.as_("sales1").post(url, {"reason": "客户改选", "data": {"supplier": "HZ-02"}}).status_code == 200
    count = len(rt.events(instance_id))
    response = api.bearer("sales1").post(url, {"reason": "客户改选", "data": {"supplier": "HZ-03"}})
    assert (response.status_code, response.get_json()["error"]) == (409, "conflict")
    assert len(rt.events(instance_id)) == count
    assert rt.show(instance_id)["data"]["booking"]["supplier"] == "HZ-02"


def test_a_retry_that_fails_again_shows_the_new_error_and_raises_a_new_incident(rt, api):
    instance_id = technical(rt)
    url = f"/api/v1/instances/{instance_id}/incident/resolve"
    start = utcnow()
    with frozen_at(start):
        instance = api.as_("operator1").post(url, {"reason": "供应商说已恢复", "data": None}).get_json()
    # the retried step starts a new round of attempts: it is retried again before a new incident
    assert (instance["status"], instance["error"]) == ("retrying", UNREACHABLE.format(n=1))
    assert api.as_("operator1").get("/api/v1/incidents").get_json()["total"] == 0
    exhaust_retries(rt, instance_id, start)
    assert kinds(rt, instance_id).count("incident_raised") == 2
    incident = api.as_("operator1").get(f"/api/v1/instances/{instance_id}/incident").get_json()
    assert (incident["error"], incident["raised_count"], incident["attempts"]) == (UNREACHABLE.format(n=3), 2, 3)
    assert [h["kind"] for h in incident["history"]] == ["handler_called"] * 3 + ["incident_resolved"] + \
        ["handler_called"] * 3
    assert incident["history"][3]["reason"] == "供应商说已恢复"


def test_a_business_incident_retried_unchanged_is_raised_again_at_once(rt, api):
    instance_id = business(rt)
    instance = api.as_("sales1").post(f"/api/v1/instances/{instance_id}/incident/resolve",
                                      {"reason": "再试一次"}).get_json()
    assert instance["status"] == "error" and "满房" in instance["error"]
    assert kinds(rt, instance_id).count("incident_raised") == 2
    [item] = api.as_("sales1").get("/api/v1/incidents").get_json()["items"]
    assert item["raised_count"] == 2


@pytest.mark.parametrize("body, field", [
    ({}, "reason"),
    ({"reason": "  "}, "reason"),
    ({"reason": 5}, "reason"),
    ({"reason": "x", "data": [1, 2]}, "data"),
    ({"reason": "x", "data": "supplier=HZ-02"}, "data"),
    ({"reason": "x", "fail_times": 0}, "fail_times"),
])
def test_resolve_validation_is_422_and_changes_nothing(rt, api, body, field):
    instance_id = technical(rt)
    count = len(rt.events(instance_id))
    response = api.as_("operator1").post(f"/api/v1/instances/{instance_id}/incident/resolve", body)
    assert response.status_code == 422
    assert (response.get_json()["error"], response.get_json()["field"]) == ("validation_error", field)
    assert len(rt.events(instance_id)) == count and rt.show(instance_id)["status"] == "error"


@pytest.mark.parametrize("who", ["agent1", "guide1", "supervisor1", "auditor1"])
def test_resolve_outside_the_lane_or_as_auditor_is_403_and_changes_nothing(rt, api, who):
    instance_id = technical(rt)
    count = len(rt.events(instance_id))
    for caller in (api.as_(who), api.bearer(who)):
        response = caller.post(f"/api/v1/instances/{instance_id}/incident/resolve",
                               {"reason": "试试", "data": {"fail_times": 0}})
        assert (response.status_code, response.get_json()["error"]) == (403, "forbidden")
    assert len(rt.events(instance_id)) == count
    assert rt.show(instance_id)["status"] == "error"


def test_resolve_by_cookie_needs_the_csrf_header(rt, api):
    instance_id = technical(rt)
    count = len(rt.events(instance_id))
    response = api.as_("operator1").post(f"/api/v1/instances/{instance_id}/incident/resolve",
                                         {"reason": "x"}, csrf=False)
    assert (response.status_code, response.get_json()["error"]) == (400, "csrf_failed")
    assert len(rt.events(instance_id)) == count


def test_a_system_lane_incident_is_for_supervisors_and_owners(rt, api, tmp_path):
    """A handler failing in the system lane (as every service task of processes/ is) is nobody's
    lane: supervisors and process owners resolve it."""
    text_ = FIXTURE.read_text(encoding="utf-8").replace('<bpmn:lane id="operator" name="计调">',
                                                        '<bpmn:lane id="system" name="系统">')
    text_ = text_.replace('bpmnElement="operator"', 'bpmnElement="system"').replace('id="operator_di"',
                                                                                    'id="system_di"')
    bpmn = tmp_path / "incident_flow.bpmn"
    bpmn.write_text(text_, encoding="utf-8")
    forms = tmp_path / "forms" / "incident_flow"
    forms.mkdir(parents=True)
    (forms / "confirm_booking.schema.json").write_bytes(
        (FIXTURE.parent / "forms" / "incident_flow" / "confirm_booking.schema.json").read_bytes())
    deploy(rt, bpmn)
    instance_id = technical(rt)
    assert rt.show(instance_id)["version"] == 2
    assert api.as_("operator1").get("/api/v1/incidents").get_json()["total"] == 0
    for who in ("supervisor1", "owner1"):
        [item] = api.as_(who).get("/api/v1/incidents").get_json()["items"]
        assert (item["lane"], item["can_resolve"]) == ("system", True), who
    response = api.as_("operator1").post(f"/api/v1/instances/{instance_id}/incident/resolve", {"reason": "x"})
    assert response.status_code == 403
    instance = api.as_("owner1").post(f"/api/v1/instances/{instance_id}/incident/resolve",
                                      {"reason": "接口已修复", "data": {"fail_times": 0}}).get_json()
    assert instance["status"] == "running" and instance["data"]["booking"]["actor"] == "owner1"


# ---- the pages -----------------------------------------------------------------------------------
def test_the_incidents_page_lists_them_with_links_and_the_nav_counts_them(rt, client_for):
    instance_id = technical(rt)
    business(rt)  # the sales lane's: not the operator's
    operator = client_for("operator1")
    response = operator.get("/incidents")
    assert response.status_code == 200
    page = text(response)
    assert "<h1>故障</h1>" in page and "由我的泳道负责处理的故障" in page
    body = page[page.index("<tbody>"):page.index("</tbody>")]
    assert sorted(set(re.findall(r'href="/instances/(\d+)#incident"', body))) == [str(instance_id)]
    assert "向供应商预订" in body and UNREACHABLE.format(n=3) in body and "技术故障" in body and "计调" in body
    assert "测试供应商预订" in body and "林小雨" in body and "可处理" in body
    assert re.search(r'href="/incidents" class="active">故障 <span class="nav-count"[^>]*>1</span>', page)
    assert 'class="nav-count"' not in text(client_for("agent1").get("/"))
    assert 'href="/incidents"' not in text(client_for("agent1").get("/")), "no incidents of agent1's lanes"
    supervisor = text(client_for("supervisor1").get("/"))
    assert re.search(r'href="/incidents" class="">故障 <span class="nav-count"[^>]*>2</span>', supervisor)
    assert "没有待处理的故障" in text(client_for("agent1").get("/incidents"))


def test_the_incidents_page_filters_by_process_and_speaks_english(rt, client_for):
    technical(rt)
    auditor = client_for("auditor1")
    assert "所有因步骤失败而停止的流程实例" in text(auditor.get("/incidents"))
    page = text(auditor.get("/incidents?process=complaint_handling"))
    assert "没有待处理的故障" in page and 'option value="complaint_handling" selected' in page
    assert '<option value="incident_flow" >测试供应商预订 (1)</option>' in text(auditor.get("/incidents"))
    auditor.get("/lang/en")
    page = text(auditor.get("/incidents"))
    for label in ("Incidents", "Failed step", "Responsible lane", "Every instance stopped by a failed step",
                  "Technical"):
        assert label in page, label
    assert "故障" not in page.replace("测试供应商预订", "")


def test_the_instance_page_shows_the_incident_panel_with_both_actions(rt, client_for):
    instance_id = technical(rt)
    page = text(client_for("operator1").get(f"/instances/{instance_id}"))
    box = panel(page)
    assert page.index("incident-panel") < page.index("diagram-card"), "the panel comes first"
    assert "故障：向供应商预订" in box and "负责泳道：<strong>计调</strong>" in box and "已尝试：3 次" in box
    assert f'<pre class="incident-error" aria-label="错误">{UNREACHABLE.format(n=3)}</pre>' in box
    assert [int(n) for n in re.findall(r'<td class="num">(\d)</td>', box)] == [1, 2, 3]
    assert f'action="/instances/{instance_id}/incident/retry"' in box
    assert f'action="/instances/{instance_id}/incident/resolve"' in box
    assert box.count('name="csrf_token"') == 2
    prefilled = re.search(r'<textarea id="resolve-data"[^>]*>(.*?)</textarea>', box, re.S).group(1)
    assert json.loads(prefilled) == {"fail_times": 99, "supplier": "HZ-01"}
    assert "<strong>错误：</strong>" not in page, "the panel replaces the one-line error"


@pytest.mark.parametrize("who, note", [
    ("auditor1", "只读视图：审计人员可以查看故障，但不能处理。"),
    ("supervisor1", "此故障由「计调」泳道处理，您的角色无权处理"),
])
def test_the_panel_has_no_actions_for_who_may_not_resolve(rt, client_for, who, note):
    instance_id = technical(rt)
    response = client_for(who).get(f"/instances/{instance_id}")
    assert response.status_code == 200
    box = panel(text(response))
    assert note in box and "<form" not in box and UNREACHABLE.format(n=3) in box


def test_resolve_with_data_from_the_page(rt, client_for):
    instance_id = technical(rt)
    operator = client_for("operator1")
    response = operator.post(f"/instances/{instance_id}/incident/resolve",
                             {"reason": "HZ-01 停服，改由 HZ-02", "data": '{"supplier": "HZ-02", "fail_times": 0}'})
    assert response.status_code == 302 and response.location.endswith(f"/instances/{instance_id}")
    page = text(operator.get(f"/instances/{instance_id}"))
    assert "已重新执行「向供应商预订」，流程继续运行。" in page
    assert "incident-panel" not in page and '<span class="badge status-running">进行中</span>' in page
    assert rt.show(instance_id)["data"]["booking"]["supplier"] == "HZ-02"
    timeline = page[page.index('<ol class="timeline">'):]
    assert "故障解除" in timeline and "原因：HZ-01 停服，改由 HZ-02" in timeline
    again = operator.post(f"/instances/{instance_id}/incident/retry", {"reason": "再试"})
    assert again.status_code == 409
    assert "此实例当前没有待处理的故障，可能已由他人处理。" in text(again)


def test_retry_from_the_page_when_the_step_fails_again(rt, client_for):
    instance_id = business(rt)
    sales = client_for("sales1")
    response = sales.post(f"/instances/{instance_id}/incident/retry", {"reason": "客户坚持原供应商"})
    assert response.status_code == 302
    page = text(sales.get(f"/instances/{instance_id}"))
    assert "「向供应商预订」再次失败，已重新记录故障：BusinessError: 供应商 FULL" in page
    box = panel(page)
    assert "人工处理后重试：客户坚持原供应商" in box and "BusinessError: 供应商 FULL" in box
    assert kinds(rt, instance_id).count("incident_raised") == 2


@pytest.mark.parametrize("form, field, message", [
    ({"reason": "改供应商", "data": '{"supplier": "HZ-02",}'}, "data", "JSON 格式有误：第 1 行第 22 列"),
    ({"reason": "改供应商", "data": '["HZ-02"]'}, "data", "数据必须是 JSON 对象，例如"),
    ({"reason": "改供应商", "data": "   "}, "data", "请填写修正后的数据（JSON 对象）"),
    ({"reason": " ", "data": '{"supplier": "HZ-02"}'}, "reason", "请填写处理原因"),
])
def test_invalid_resolve_form_is_422_shows_why_and_keeps_the_input(rt, client_for, form, field, message):
    instance_id = technical(rt)
    count = len(rt.events(instance_id))
    response = client_for("operator1").post(f"/instances/{instance_id}/incident/resolve", form)
    assert response.status_code == 422
    box = panel(text(response))
    widget = "resolve-data" if field == "data" else "resolve-reason"
    assert re.search(rf'<textarea id="{widget}"[^>]*aria-invalid="true"', box)
    error = box[box.index(f'id="{widget}-err"'):]
    assert message in error[:error.index("</ul>")]
    kept = re.search(r'<textarea id="resolve-data"[^>]*>(.*?)</textarea>', box, re.S).group(1)
    assert kept == form["data"], "what was typed is kept"
    assert re.search(r'<textarea id="resolve-reason"[^>]*>(.*?)</textarea>', box, re.S).group(1) == form["reason"]
    assert len(rt.events(instance_id)) == count and rt.show(instance_id)["status"] == "error"


def test_retry_without_a_reason_is_422(rt, client_for):
    instance_id = technical(rt)
    response = client_for("operator1").post(f"/instances/{instance_id}/incident/retry", {"reason": ""})
    assert response.status_code == 422
    box = panel(text(response))
    assert re.search(r'<textarea id="retry-reason"[^>]*aria-invalid="true"', box) and "请填写处理原因" in box
    assert rt.show(instance_id)["status"] == "error"


@pytest.mark.parametrize("who", ["agent1", "supervisor1", "auditor1"])
def test_resolving_from_the_page_outside_the_lane_is_403(rt, client_for, who):
    instance_id = technical(rt)
    count = len(rt.events(instance_id))
    for action in ("retry", "resolve"):
        response = client_for(who).post(f"/instances/{instance_id}/incident/{action}",
                                        {"reason": "试试", "data": '{"fail_times": 0}'})
        assert response.status_code == 403, (who, action)
    assert len(rt.events(instance_id)) == count and rt.show(instance_id)["status"] == "error"


def test_resolving_from_the_page_needs_csrf_and_an_instance(rt, client_for):
    instance_id = technical(rt)
    operator = client_for("operator1")
    response = operator.post(f"/instances/{instance_id}/incident/retry", {"reason": "x"}, csrf=False)
    assert response.status_code == 400 and rt.show(instance_id)["status"] == "error"
    assert operator.post("/instances/99999/incident/retry", {"reason": "x"}).status_code == 404
    assert operator.get("/instances/99999").status_code == 404
