"""The KPI dashboard (/reports) and its CSV export: the figures of handlers/domain/kpi.py with charts drawn
as inline SVG, for managers, supervisors, QC, process owners and auditors (403 for the others).

The query parameters are the API's (GET /api/v1/reports/kpi): `from` and `to` (China dates,
`to` exclusive), `granularity` (day / week / month), `desk` (inquiries) and `process` (deadlines).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_login import current_user

from engine.access.policy import CAPABILITY_ROLES, Capability
from engine.clock import utcnow
from engine.run.queries import deployments, process_names
from handlers.domain import kpi
from handlers.domain.kpi_periods import MAX_PERIODS, RangeError, parse_range, today_in_china
from handlers.domain.models import DESKS
from webapp.app_state import runtime
from webapp.auth import capability_required
from webapp.charts import lines, stacked_bars
from webapp.i18n import gettext as _

bp = Blueprint("reports", __name__)

REPORT_ROLES = tuple(sorted(CAPABILITY_ROLES[Capability.READ_REPORTS]))  # for the OpenAPI document
SLA_PROCESSES = ("complaint_handling", "inbound_call", "ecommerce_chat", "walk_in_reception", "escalated_complaint")
GRANULARITY_LABELS = {"day": "按日", "week": "按周", "month": "按月"}
CHANNEL_LABELS = {"inbound_call": "电话呼入", "chat": "在线咨询", "walk_in": "上门接待", "booking_desk": "预订台咨询",
                  "tour_inquiry": "团队咨询"}
SOURCE_LABELS = {"own": "自行受理", "authority": "上级下转"}
ROUTE_LABELS = {"local": "当地解决", "qc": "质检处理", "authority": "上级下转"}
RULE_LABELS = {"report_1h": "1小时内上报质检", "promised_time": "承诺解决时间", "authority_deadline": "上级部门答复期限",
               "other": "其他时限"}
BOOKING_LABELS = {"desk": "预订台", "tour": "团队", "itinerary": "行程"}
# Data values shown as they are stored (form enums); _() gives their English.
VALUE_LABELS = ("服务质量", "行程安排", "住宿餐饮", "导游服务", "旅游前", "旅游过程中", "旅游后", "未登记",
                "咨询", "业务办理", "投诉", "建议", "电话", "在线咨询", "到店")


@dataclass(frozen=True)
class Params:
    start: date
    end: date
    granularity: str
    desk: str | None
    process: str | None

    def query(self) -> dict[str, str]:
        out = {"from": self.start.isoformat(), "to": self.end.isoformat(), "granularity": self.granularity}
        out.update({k: v for k, v in (("desk", self.desk), ("process", self.process)) if v})
        return out


def parse(args: Mapping[str, str]) -> Params:
    """The report's parameters from a query string; RangeError names the bad one."""
    start, end, granularity = parse_range(args.get("from") or None, args.get("to") or None,
                                          args.get("granularity") or None, today_in_china(utcnow()))
    desk, process = args.get("desk") or None, args.get("process") or None
    if desk is not None and desk not in DESKS:
        raise RangeError("desk", f"must be one of {', '.join(DESKS)}")
    if process is not None and process not in SLA_PROCESSES:
        raise RangeError("process", f"must be one of {', '.join(SLA_PROCESSES)}")
    return Params(start, end, granularity, desk, process)


def compute(params: Params) -> dict[str, Any]:
    with runtime().reading() as session:
        return kpi.report(session, params.start, params.end, params.granularity, desk=params.desk,
                          process=params.process)


def label(value: str) -> str:
    """A stored value (a kind, a time class...) in the user's language."""
    return _(value)


# ---- the page ----------------------------------------------------------------------------
FIELD_LABELS = {"from": "开始日期", "to": "截止日期", "granularity": "统计粒度", "desk": "席别", "process": "流程"}
RANGE_PROBLEMS = {"date": "请填写 2000-01-01 至 2999-12-31 之间的日期（YYYY-MM-DD）",
                  "order": "截止日期须晚于开始日期", "span": "统计期数不能超过 {n} 期，请缩短区间或改用更大的粒度",
                  "choice": "不是可选的值"}


@bp.app_template_filter("kpi_pct")
def kpi_pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


@bp.app_template_filter("kpi_num")
def kpi_num(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


@bp.context_processor
def _helpers():
    return {"range_error": range_error, "last_day": last_day}


def range_error(exc: RangeError) -> str:
    problem = _(RANGE_PROBLEMS.get(exc.code, RANGE_PROBLEMS["choice"]), **({"n": MAX_PERIODS} if exc.code == "span" else {}))
    return _("「{field}」有误：{problem}", field=_(FIELD_LABELS.get(exc.field, exc.field)), problem=problem)


def last_day(end_text: str) -> str:
    """The last date a range covers (its `to` is exclusive)."""
    return (date.fromisoformat(end_text) - timedelta(days=1)).isoformat()


@bp.route("/reports")
@capability_required(Capability.READ_REPORTS)
def index():
    with runtime().reading() as session:
        names = process_names(session)
        heatmaps = current_heatmaps(session) if current_user.may(Capability.READ_HEATMAP) else []
    processes = [(p, names.get(p, p)) for p in SLA_PROCESSES]
    try:
        params = parse(request.args)
    except RangeError as exc:
        return render_template("reports/index.html", error=exc, r=None, params=None, args=request.args,
                               processes=processes, desks=DESKS, labels=_labels(), heatmaps=heatmaps), 422
    report = compute(params)
    return render_template("reports/index.html", error=None, r=report, params=params, args=params.query(),
                           processes=processes, desks=DESKS, charts=charts(report), labels=_labels(), heatmaps=heatmaps,
                           csv_url=lambda metric: _csv_url(params, metric))


def current_heatmaps(session) -> list[dict[str, Any]]:
    """The heatmap of each process's current version, for the links beside the figures."""
    return [{"name": v["name"] or v["process_id"],
             "url": url_for("processes.heatmap", process_id=v["process_id"], version=v["version"])}
            for v in deployments(session) if v["current"]]


def _csv_url(params: Params, metric: str) -> str:
    return url_for("reports.export", metric=metric, **params.query())


def _labels() -> dict[str, dict[str, str]]:
    return {"granularity": GRANULARITY_LABELS, "channel": CHANNEL_LABELS, "source": SOURCE_LABELS,
            "route": ROUTE_LABELS, "rule": RULE_LABELS, "booking": BOOKING_LABELS}


def charts(report: dict[str, Any]) -> dict[str, Any]:
    labels = [p["label"] for p in report["periods"]]
    inquiries, complaints = report["inquiries"], report["complaints"]
    resolution, sla = report["resolution"], report["sla"]
    satisfaction, bookings = report["satisfaction"], report["bookings"]

    def col(section: dict[str, Any], *path: str) -> list[Any]:
        out = []
        for row in section["rows"]:
            for key in path:
                row = row[key]
            out.append(row)
        return out

    return {
        "inquiries": stacked_bars(labels, [(_(CHANNEL_LABELS[c]), col(inquiries, "by_channel", c))
                                           for c in inquiries["channels"]]),
        "complaints": stacked_bars(labels, [(label(k), col(complaints, "by_kind", k)) for k in complaints["kinds"]]),
        "resolution": lines(labels, [(_("投诉解决率"), col(resolution, "rate")),
                                     (_("坐席接触解决率"), col(inquiries, "contact_resolution_rate"))],
                            fmt="{:.0%}", axis=(1.0, 0.25)),
        "sla": stacked_bars(labels, [(_("超时"), col(sla, "breaches")), (_("预警"), col(sla, "warnings"))]),
        "satisfaction": lines(labels, [(_("平均满意度"), col(satisfaction, "average"))], fmt="{:.1f}", axis=(5.0, 1.0)),
        "bookings": stacked_bars(labels, [(_(BOOKING_LABELS[k]), col(bookings, k)) for k in BOOKING_LABELS]),
    }


# ---- CSV ---------------------------------------------------------------------------------
Column = tuple[str, Callable[[dict[str, Any]], Any]]


def _pct(rate: float | None) -> float | str:
    return "" if rate is None else round(rate * 100, 2)


def _period_columns(metric: str, report: dict[str, Any]) -> list[Column]:
    """The columns of a per-period metric; each reads one row dict (a period's or the total)."""
    section = report[metric]
    if metric == "inquiries":
        return [*((_(CHANNEL_LABELS[c]), lambda r, c=c: r["by_channel"][c]) for c in section["channels"]),
                (_("咨询合计"), lambda r: r["total"]),
                *((label(t), lambda r, t=t: r["by_request_type"][t]) for t in section["request_types"]),
                (_("呼出电话（不计入）"), lambda r: r["outbound_calls"]),
                (_("坐席处理的接触"), lambda r: r["handled_contacts"]), (_("已解决"), lambda r: r["solved_contacts"]),
                (_("解决率(%)"), lambda r: _pct(r["contact_resolution_rate"]))]
    if metric == "complaints":
        return [*((label(k), lambda r, k=k: r["by_kind"][k]) for k in section["kinds"]),
                *((label(t), lambda r, t=t: r["by_time_class"][t]) for t in section["time_classes"]),
                *((_(SOURCE_LABELS[s]), lambda r, s=s: r["by_source"][s]) for s in SOURCE_LABELS),
                (_("投诉合计"), lambda r: r["total"])]
    if metric == "resolution":
        return [(_("受理"), lambda r: r["received"]), (_("已解决"), lambda r: r["resolved"]),
                (_("未结"), lambda r: r["open"]), (_("解决率(%)"), lambda r: _pct(r["rate"])),
                *((_(ROUTE_LABELS[k]), lambda r, k=k: r["by_route"][k]) for k in ROUTE_LABELS)]
    if metric == "sla":
        return [(_("超时"), lambda r: r["breaches"]), (_("预警"), lambda r: r["warnings"])]
    if metric == "satisfaction":
        return [(_("回访数"), lambda r: r["count"]), (_("平均满意度"), lambda r: "" if r["average"] is None else r["average"]),
                *((_("{n} 分", n=s), lambda r, s=s: r["distribution"][s]) for s in section["scores"]),
                (_("低分（≤2分）"), lambda r: r["low"])]
    return [*((_(BOOKING_LABELS[k]), lambda r, k=k: r[k]) for k in BOOKING_LABELS), (_("预订合计"), lambda r: r["total"]),
            (_("手工补录"), lambda r: r["desk_manual"]), (_("已变更"), lambda r: r["desk_changed"]),
            (_("已取消"), lambda r: r["desk_cancelled"]),
            *((label(c), lambda r, c=c: r["desk_by_channel"][c]) for c in section["channels"])]


def csv_table(metric: str, report: dict[str, Any]) -> list[list[Any]]:
    """The rows of one metric's CSV, header first."""
    if metric == "warnings":
        warnings = report["warnings"]
        head = [_("投诉类别"), _("本期 {period}", period=warnings["period"]), *warnings["baseline"],
                _("前 {n} 期均值", n=warnings["rule"]["baseline_periods"]), _("倍数"), _("预警")]
        return [head, *([label(i["kind"]), i["count"], *i["baseline_counts"], i["baseline_mean"],
                          "" if i["ratio"] is None else i["ratio"], _("是") if i["flagged"] else _("否")]
                         for i in warnings["items"])]
    if metric == "sla_tasks":
        head = [_("流程"), _("任务"), _("时限规则"), _("超时"), _("预警")]
        return [head, *([t["process_name"], t["task_name"], _(RULE_LABELS[t["rule"]]), t["breaches"], t["warnings"]]
                        for t in report["sla"]["by_task"])]
    columns = _period_columns(metric, report)
    section = report[metric]
    head = [_("期间"), _("开始日期"), _("结束日期（不含）"), *(name for name, _get in columns)]
    rows = [[p["key"], p["start"], p["end"], *(get(row) for _name, get in columns)]
            for p, row in zip(report["periods"], section["rows"], strict=True)]
    rows.append([_("合计"), report["range"]["from"], report["range"]["to"], *(get(section["total"]) for _n, get in columns)])
    return [head, *rows]


CSV_METRICS = ("inquiries", "complaints", "resolution", "warnings", "sla", "sla_tasks", "satisfaction", "bookings")
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula is quoted with a leading apostrophe."""
    return "'" + value if isinstance(value, str) and value.startswith(DANGEROUS) else value


@bp.route("/reports/export.csv")
@capability_required(Capability.READ_REPORTS)
def export():
    metric = request.args.get("metric", "")
    if metric not in CSV_METRICS:
        abort(400, _("未知的指标 {metric}，可选：{choices}", metric=metric[:40], choices=", ".join(CSV_METRICS)))
    try:
        params = parse(request.args)
    except RangeError as exc:
        abort(400, f"{exc.field}: {exc.message}")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in csv_table(metric, compute(params)):
        writer.writerow([_cell(v) for v in row])
    name = f"kpi-{metric}-{params.start}-{params.end}-{params.granularity}.csv"
    response = Response("\ufeff" + out.getvalue(), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response
