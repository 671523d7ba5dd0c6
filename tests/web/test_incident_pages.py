"""Incidents in the web pages: the list, the panel on the instance page, resolving and retrying from it.

The fixture process and its supplier handler: tests/support/incidents.py.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.support.incidents import (
    FIXTURE,
    UNREACHABLE,
    business,
    kinds,
    panel,
    technical,
    text,
)
from tests.support.world import deploy


@pytest.fixture
def rt(app, runtime):
    deploy(runtime, FIXTURE)
    return runtime


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
