"""The KPI dashboard: /reports, its CSV export and GET /api/v1/reports/kpi. Who may see them (the
auditor among the readers), and what they show on the hand-computed data set of tests/test_kpi.py."""

from __future__ import annotations

import csv
import io
import re

import pytest

from engine.clock import frozen_at
from tests.support.api import Api
from tests.support.kpi import NOW, seed
from webapp import reports
from webapp.i18n import EN

RANGE = "from=2026-10-26&to=2026-11-23&granularity=week"
PAGE = f"/reports?{RANGE}"
API = f"/api/v1/reports/kpi?{RANGE}"
READERS = ["manager1", "supervisor1", "qc1", "owner1", "auditor1"]
OTHERS = ["agent1", "receptionist1", "sales1", "operator1", "guide1"]


@pytest.fixture
def seeded(app, runtime):
    """test_kpi's data set, read on test_kpi.NOW (after the range), whatever the real date."""
    seed(runtime)
    with frozen_at(NOW):
        yield app


def export(client, metric: str, query: str = RANGE):
    return client.get(f"/reports/export.csv?metric={metric}&{query}")


def table(response) -> list[list[str]]:
    body = response.get_data()
    assert body.startswith("\ufeff".encode()), "Excel needs the UTF-8 BOM to read Chinese"
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


# ---- the page ----------------------------------------------------------------------------
def test_page_shows_tiles_charts_tables_and_the_early_warning(seeded, client_for):
    response = client_for("manager1").get(PAGE)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "运营指标" in html and "2026-10-26 至 2026-11-22" in html
    # tiles: 15 inquiries, 17 complaints (c15 counted as the P7 case it started), 7/17 resolved, 3 deadlines missed, 3.25 average, 7 bookings
    tiles = dict((label, number) for number, label in re.findall(
        r'<span class="tile-n">([^<]+)</span><span class="tile-l">([^<]+)</span>', html))
    assert tiles == {"咨询量": "15", "投诉量": "17", "投诉解决率": "41.2%", "超时次数": "3",
                     "平均满意度（5分制）": "3.25", "预订量": "7"}
    # six charts drawn inline, no script anywhere on the page but the app's own
    assert html.count("<svg ") == 6
    assert not re.search(r'<script[^>]+src="(https?:)?//', html)
    # the warning banner names the rising kind with its baseline
    banner = re.search(r'<div class="warning-banner".*?</div>', html, re.S).group(0)
    assert "住宿餐饮" in banner and "导游服务" not in banner and "0.5" in banner
    assert re.search(r'<tr class="row-warn"><th scope="row">住宿餐饮</th><td class="num strong">4</td>', html)
    # a table beneath each chart, per period: W47's complaints row ends with its total, 9
    assert re.search(r"11-16~11-22</th>(<td[^>]*>\d+</td>\s*)+<td class=\"num strong\">9</td>", html)
    assert 'id="booking-accuracy"' in html and "预订准确率：无法计算" in html
    for metric in reports.CSV_METRICS:
        assert f"/reports/export.csv?metric={metric}&amp;from=2026-10-26&amp;to=2026-11-23" in html


def test_filters_are_kept_and_narrow_the_figures(seeded, client_for):
    html = client_for("qc1").get(f"{PAGE}&desk=邮轮&process=escalated_complaint").get_data(as_text=True)
    assert '<option value="邮轮" selected>' in html
    assert '<option value="escalated_complaint" selected>' in html
    assert re.search(r'<span class="tile-n">3</span><span class="tile-l">咨询量</span>', html)   # contacts 1 11 12
    assert re.search(r'<span class="tile-n">1</span><span class="tile-l">超时次数</span>', html)  # a2's deadline


def test_default_range_and_an_empty_store(client_for):
    html = client_for("supervisor1").get("/reports").get_data(as_text=True)
    assert "共 8 期" in html and "按周" in html
    assert 'class="warning-banner"' not in html
    assert html.count("<svg ") == 6


@pytest.mark.parametrize("query, field", [
    ("from=2026-11-31", "开始日期"), ("from=2026-11-10&to=2026-11-01", "截止日期"),
    ("granularity=hour", "统计粒度"), ("desk=火星", "席别"), ("from=2020-01-01&to=2026-01-01&granularity=day", "开始日期"),
])
def test_bad_parameters_are_a_422_naming_the_field(client_for, query, field):
    response = client_for("manager1").get(f"/reports?{query}")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(rf'id="range-error">「{field}」有误：', html)
    assert "<svg " not in html


def test_the_nav_shows_the_link_to_readers_only(client_for):
    assert 'href="/reports"' in client_for("qc1").get("/").get_data(as_text=True)
    assert 'href="/reports"' not in client_for("agent1").get("/").get_data(as_text=True)


def test_english_switch(seeded, client_for):
    manager = client_for("manager1")
    manager.get("/lang/en")
    html = manager.get(PAGE).get_data(as_text=True)
    for text in ("KPIs", "Complaints by kind", "Complaint early warning", "Lodging &amp; meals", "During the tour",
                 "Booking accuracy: not computed.", "Weekly", "Inbound calls"):
        assert text in html, text
    for text in ("投诉量", "住宿餐饮", "预订准确率", "按周"):
        assert text not in html, text


def test_every_label_the_reports_translate_has_english():
    tables = [reports.GRANULARITY_LABELS, reports.CHANNEL_LABELS, reports.SOURCE_LABELS, reports.ROUTE_LABELS,
              reports.RULE_LABELS, reports.BOOKING_LABELS, reports.FIELD_LABELS, reports.RANGE_PROBLEMS]
    values = [v for t in tables for v in t.values()] + list(reports.VALUE_LABELS) + ["邮轮", "旅游", "自由行"]
    assert [v for v in values if v not in EN] == []


# ---- CSV ---------------------------------------------------------------------------------
def test_complaints_csv_is_excel_ready_utf8_with_the_hand_computed_numbers(seeded, client_for):
    response = export(client_for("owner1"), "complaints")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == \
        'attachment; filename="kpi-complaints-2026-10-26-2026-11-23-week.csv"'
    rows = table(response)
    assert rows[0] == ["期间", "开始日期", "结束日期（不含）", "服务质量", "行程安排", "住宿餐饮", "导游服务", "未登记",
                       "旅游前", "旅游过程中", "旅游后", "未登记", "自行受理", "上级下转", "投诉合计"]
    assert rows[4] == ["2026-W47", "2026-11-16", "2026-11-23", "1", "1", "4", "2", "1",
                       "3", "3", "2", "1", "7", "2", "9"]   # c8..c14, a2 and a3 (c15's P7 case)
    assert rows[-1] == ["合计", "2026-10-26", "2026-11-23", "1", "2", "5", "8", "1", "5", "6", "5", "1", "14", "3", "17"]


def test_other_metrics_as_csv(seeded, client_for):
    qc = client_for("qc1")
    resolution = table(export(qc, "resolution"))
    assert resolution[0][3:8] == ["受理", "已解决", "未结", "解决率(%)", "当地解决"]
    assert resolution[-1][3:] == ["17", "7", "10", "41.18", "5", "1", "1"]
    warnings = table(export(qc, "warnings"))
    assert warnings[0] == ["投诉类别", "本期 2026-W47", "2026-W43", "2026-W44", "2026-W45", "2026-W46", "前 4 期均值",
                           "倍数", "预警"]
    assert ["住宿餐饮", "4", "1", "0", "1", "0", "0.5", "8.0", "是"] in warnings
    assert ["导游服务", "2", "0", "2", "2", "2", "1.5", "1.33", "否"] in warnings
    satisfaction = table(export(qc, "satisfaction"))
    assert satisfaction[2][3:5] == ["0", ""]                      # W45: no follow-up, no average
    assert satisfaction[-1][3:] == ["8", "3.25", "1", "2", "1", "2", "2", "3"]
    tasks = table(export(qc, "sla_tasks"))
    assert tasks[1:] == [["游客投诉处理流程", "受理投诉并上报质检培训部", "1小时内上报质检", "2", "0"],
                         ["上级部门下转投诉处理流程", tasks[2][1], "上级部门答复期限", "1", "1"]]
    days = table(export(qc, "inquiries", "from=2026-11-22&to=2026-11-23&granularity=day"))
    assert [r[0] for r in days] == ["期间", "2026-11-22", "合计"]
    assert days[1][3:8] == ["0", "1", "0", "0", "0"]              # contact 11's chat, at 23:59:59


def test_csv_refuses_an_unknown_metric_or_range(client_for):
    manager = client_for("manager1")
    assert export(manager, "passwords").status_code == 400
    assert export(manager, "complaints", "from=yesterday").status_code == 400


# ---- the API -------------------------------------------------------------------------------
def test_api_answers_the_same_numbers_documented_in_openapi(seeded, runtime):
    api = Api(seeded, runtime)
    body = api.as_("manager1").get(API).get_json()      # Api checks the body against the OpenAPI schema
    assert body["complaints"]["total"]["total"] == 17
    assert body["resolution"]["total"]["rate"] == 0.4118
    assert body["warnings"]["flagged"] == ["住宿餐饮"]
    assert body["satisfaction"]["total"]["average"] == 3.25
    assert [p["key"] for p in body["periods"]] == ["2026-W44", "2026-W45", "2026-W46", "2026-W47"]
    by_token = api.bearer("auditor1").get(f"{API}&process=escalated_complaint").get_json()
    assert by_token["sla"]["total"]["breaches"] == 1 and by_token["range"]["process"] == "escalated_complaint"


@pytest.mark.parametrize("query, field", [
    ("from=2026-13-01", "from"), ("from=2026-11-10&to=2026-11-10", "to"), ("granularity=quarter", "granularity"),
    ("process=bench_timer", "process"), ("desk=x", "desk"),
])
def test_api_bad_parameters_are_422(app, runtime, query, field):
    response = Api(app, runtime).as_("qc1").get(f"/api/v1/reports/kpi?{query}")
    assert response.status_code == 422
    assert response.get_json()["field"] == field


# ---- who may see what ----------------------------------------------------------------------
@pytest.mark.parametrize("user", READERS)
def test_readers_open_page_csv_and_api(app, runtime, client_for, user):
    client = client_for(user)
    assert client.get("/reports").status_code == 200
    assert export(client, "bookings").status_code == 200
    assert Api(app, runtime).as_(user).get("/api/v1/reports/kpi").status_code == 200


@pytest.mark.parametrize("user", OTHERS)
def test_other_roles_get_403_on_page_csv_and_api(app, runtime, client_for, user):
    client = client_for(user)
    assert client.get("/reports").status_code == 403
    assert export(client, "bookings").status_code == 403
    response = Api(app, runtime).as_(user).get("/api/v1/reports/kpi")
    assert response.status_code == 403 and response.get_json()["error"] == "forbidden"


def test_anonymous_is_sent_to_login_or_401(app, runtime, client_for):
    assert client_for(None).get("/reports").status_code == 302
    assert export(client_for(None), "complaints").status_code == 302
    assert Api(app, runtime).anonymous().get("/api/v1/reports/kpi").status_code == 401


def test_the_reports_only_read(app):
    """No route of the dashboard changes anything (tests/web/test_auditors_change_nothing.py checks
    that every mutating route of the app refuses the auditor)."""
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("reports.") or r.endpoint == "api.report_kpi"]
    assert len(rules) == 3
    assert all(set(r.methods) <= {"GET", "HEAD", "OPTIONS"} for r in rules)
