"""Complaint figures of the KPI dashboard: volume by kind, time class and source, the resolution
rate, and the early warning when a kind rises (docs 001 8.1.3, 8.2.5 and ch. 10; doc 003).

Definitions (docs/kpi.md says the same):

- **A complaint** is an instance of `complaint_handling` (P6, the agency's own intake: staff by
  hand, or a call, chat, visit, follow-up or tour that forwarded one) or of `escalated_complaint`
  (P7, sent down by a higher authority), counted in the period of its China-time start, i.e.
  when the agency took it in. Cancelled instances are not complaints. A P6 complaint whose intake
  says the customer took it to a higher authority (`escalated_to_authority`) is archived and starts
  its P7 case at once (the P7 data names it: `source_instance_id`): it is counted as that P7 case
  only, so the case is not counted twice; `handed_to_authority` says how many there were.
- **Kind** and **time class** (旅游前 / 旅游过程中 / 旅游后) come from the archived `complaint`
  row when there is one, else from the instance data; before the intake form is done they are
  `未登记` (not recorded yet).
- **Resolved**: the instance completed before the end of the range (or before now, when the range
  reaches into the future): a cohort figure, "of the complaints received in this period, how many
  were closed by the end of the report". The route is `local` (solved on the spot and filed with
  QC), `qc` (QC investigation) or `authority` (a P7 case, answered to the authority and closed).
  Resolution rate = resolved / received, null when nothing was received.
- **Early warning**: for each kind, the count of the latest period of the range is compared with
  the mean of the WARNING["baseline_periods"] calendar periods before it (they may lie before the
  range's start). A kind is flagged when count >= WARNING["min_count"] and
  count >= WARNING["factor"] x mean. `未登记` is never flagged.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.store.models import ProcessInstance
from engine.store.states import InstanceStatus
from handlers.domain.kpi_periods import Buckets, Period, china_date, period_key, period_start, previous_start
from handlers.domain.models import Complaint

OWN, AUTHORITY = "complaint_handling", "escalated_complaint"
SOURCES = {OWN: "own", AUTHORITY: "authority"}
KINDS = ("服务质量", "行程安排", "住宿餐饮", "导游服务")  # doc 001 8.1.3, the intake form's enum
TIME_CLASSES = ("旅游前", "旅游过程中", "旅游后")
UNRECORDED = "未登记"
ROUTES = ("local", "qc", "authority")
WARNING = {"baseline_periods": 4, "min_count": 2, "factor": 1.5}


def load(session: Session, lo: datetime, hi: datetime) -> tuple[list[dict[str, Any]], list[datetime]]:
    """Complaints taken in between lo and hi (naive UTC), and when the P6 intakes handed to an
    authority instead (not counted) were taken in."""
    rows = session.execute(
        select(ProcessInstance.id, ProcessInstance.process_id, ProcessInstance.status, ProcessInstance.started_at,
               ProcessInstance.ended_at, ProcessInstance.data, Complaint.kind, Complaint.time_class,
               Complaint.handled_by)
        .outerjoin(Complaint, Complaint.instance_id == ProcessInstance.id)
        .where(ProcessInstance.process_id.in_(SOURCES), ProcessInstance.status != InstanceStatus.CANCELLED,
               ProcessInstance.started_at >= lo, ProcessInstance.started_at < hi)
        .order_by(ProcessInstance.id)
    ).all()
    complaints: list[dict[str, Any]] = []
    handed: list[datetime] = []
    seen: set[int] = set()
    for row in rows:
        if row.id in seen:
            continue
        seen.add(row.id)
        data = row.data or {}
        if row.process_id == OWN and data.get("escalated_to_authority") is True:
            handed.append(row.started_at)
            continue
        complaints.append({
            "instance_id": row.id,
            "source": SOURCES[row.process_id],
            "at": row.started_at,
            "kind": row.kind or data.get("kind") or UNRECORDED,
            "time_class": row.time_class or data.get("time_class") or UNRECORDED,
            "closed_at": row.ended_at if row.status == InstanceStatus.COMPLETED else None,
            "route": _route(row.process_id, row.handled_by, data),
        })
    return complaints, handed


def _route(process_id: str, handled_by: str | None, data: dict[str, Any]) -> str:
    if process_id == AUTHORITY:
        return "authority"
    if handled_by in ("local", "qc"):
        return handled_by
    return "local" if data.get("resolved_locally") else "qc"


def _ordered(found: set[str], known: tuple[str, ...]) -> list[str]:
    return [*known, *sorted(found - set(known) - {UNRECORDED}), UNRECORDED]


def volume(complaints: list[dict[str, Any]], buckets: Buckets, handed: int) -> dict[str, Any]:
    """Complaints per period: total, by kind, by time class, by source."""
    kinds = _ordered({c["kind"] for c in complaints}, KINDS)
    classes = _ordered({c["time_class"] for c in complaints}, TIME_CLASSES)

    def empty() -> dict[str, Any]:
        return {"total": 0, "by_kind": dict.fromkeys(kinds, 0), "by_time_class": dict.fromkeys(classes, 0),
                "by_source": {"own": 0, "authority": 0}}

    rows = [{"period": p.key, **empty()} for p in buckets.items]
    total = empty()
    for complaint in complaints:
        index = buckets.index(complaint["at"])
        if index is None:
            continue
        for target in (rows[index], total):
            target["total"] += 1
            target["by_kind"][complaint["kind"]] += 1
            target["by_time_class"][complaint["time_class"]] += 1
            target["by_source"][complaint["source"]] += 1
    return {"kinds": kinds, "time_classes": classes, "rows": rows, "total": total,
            "handed_to_authority": handed}


def resolution(complaints: list[dict[str, Any]], buckets: Buckets, as_of: datetime) -> dict[str, Any]:
    """Of the complaints received in each period, how many were closed by `as_of`, and by which route."""

    def empty() -> dict[str, Any]:
        return {"received": 0, "resolved": 0, "open": 0, "rate": None, "by_route": dict.fromkeys(ROUTES, 0)}

    rows = [{"period": p.key, **empty()} for p in buckets.items]
    total = empty()
    for complaint in complaints:
        index = buckets.index(complaint["at"])
        if index is None:
            continue
        closed = complaint["closed_at"] is not None and complaint["closed_at"] < as_of
        for target in (rows[index], total):
            target["received"] += 1
            if closed:
                target["resolved"] += 1
                target["by_route"][complaint["route"]] += 1
            else:
                target["open"] += 1
    for target in (*rows, total):
        target["rate"] = round(target["resolved"] / target["received"], 4) if target["received"] else None
    return {"rows": rows, "total": total}


def baseline_periods(latest: Period, granularity: str) -> list[tuple[date, date]]:
    """The WARNING["baseline_periods"] whole calendar periods before the latest one, oldest first."""
    out: list[tuple[date, date]] = []
    cursor = period_start(latest.start, granularity)
    for _ in range(WARNING["baseline_periods"]):
        cursor, following = previous_start(cursor, granularity), cursor
        out.insert(0, (cursor, following))
    return out


def baseline_start(latest: Period, granularity: str) -> date:
    return baseline_periods(latest, granularity)[0][0]


def warnings(complaints: list[dict[str, Any]], latest: Period, granularity: str) -> dict[str, Any]:
    """The early-warning check of the latest period against its baseline (rule in the module doc)."""
    baseline = baseline_periods(latest, granularity)
    kinds = [k for k in _ordered({c["kind"] for c in complaints}, KINDS) if k != UNRECORDED]
    counts = {kind: [0] * len(baseline) for kind in kinds}
    latest_counts = dict.fromkeys(kinds, 0)
    for complaint in complaints:
        if complaint["kind"] == UNRECORDED:
            continue
        day = china_date(complaint["at"])
        if latest.start <= day < latest.end:
            latest_counts[complaint["kind"]] += 1
        for position, (first, after) in enumerate(baseline):
            if first <= day < after:
                counts[complaint["kind"]][position] += 1
    items = []
    for kind in kinds:
        mean = sum(counts[kind]) / len(baseline)
        count = latest_counts[kind]
        flagged = count >= WARNING["min_count"] and count >= WARNING["factor"] * mean
        items.append({"kind": kind, "count": count, "baseline_counts": counts[kind],
                      "baseline_mean": round(mean, 2), "ratio": round(count / mean, 2) if mean else None,
                      "flagged": flagged})
    return {"rule": dict(WARNING), "period": latest.key,
            "baseline": [period_key(first, granularity) for first, _ in baseline],
            "baseline_labels": [Period.of(first, after, granularity).label for first, after in baseline],
            "items": items, "flagged": [i["kind"] for i in items if i["flagged"]]}
