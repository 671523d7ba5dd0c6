"""The KPI dashboard's figures (docs 001 ch. 10, 003, 004): plain dicts read from the store.

Nothing here loads a workflow: the figures come from the agency tables the handlers write
(`contact_record`, `complaint`, `followup`, `desk_booking`, `resource_booking`,
`archive_record`), from `process_instance` rows (process, status, start and end, data) and from
the `sla_breached` / `sla_warning` audit events. A report covers the China-time dates
[start, end) cut into days, ISO weeks or months (handlers/domain/kpi_periods.py); every figure is counted
in the period of the moment named below. docs/kpi.md explains each one.

- **Inquiries**: contacts a customer started. Archived contact records of the channels
  `inbound_call`, `chat` and `walk_in` (by the contact's start), plus inquiries taken at the
  booking desk (`booking_desk` instances) and tour inquiries (`tour_operation` instances, whose
  first step is 接听咨询电话), by their start, cancelled ones left out. A contact still in
  progress has no record yet and is counted once archived. Outbound calls are the agency's own
  and are shown apart (`outbound_calls`), not counted. The `desk` filter keeps the contact records
  of that desk only (booking-desk and tour inquiries have no desk and drop out).
  Contact resolution: of the archived contacts an agent handled (all but `self_service` calls
  that chose no desk and `auto_closed` chats the customer left), those solved (`resolved`,
  `promise_kept`, `promise_late`); forwarded complaints count as not solved here and are
  followed under complaints.
- **Complaints**, **resolution**, **early warning**: handlers/domain/kpi_complaints.py.
- **SLA**: every `sla_breached` and `sla_warning` event (a deadline timer that fired), by the
  moment it fired, per process and task, grouped into the documents' rules: the 1-hour report of
  P6, promised resolution times (P1, P3, P4) and authority reply deadlines (P7). Beside them:
  promises of archived contacts (kept, late, still pending) by the contact's start, and P7 cases
  filed (`archive_record` kind `escalated_complaint`) by filing time, answered by the deadline or
  not. The `process` filter narrows all three.
- **Satisfaction**: the follow-up calls (`followup`, P5) by call time: count, average of the
  1-5 score, distribution, and how many scored 2 or less.
- **Bookings**: desk bookings (`desk_booking`, P10) by the time the customer booked (`taken_at`,
  the original time for bookings written by hand during an outage), with how many were manual and
  how many are now changed or cancelled, and their inquiry channel; tour and itinerary bookings:
  `tour_operation` / `itinerary_management` instances that held resources, by their first hold.
  **Booking accuracy cannot be computed**: no record says a booking was wrong. A change or
  cancellation records the customer's request, not whether the agency erred, so `accuracy`
  says so instead of giving a number.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from engine.clock import iso_z, utcnow
from engine.run.queries import process_names
from engine.store.audit import READ_BY_KIND_TERM
from engine.store.models import AuditEvent, ProcessInstance
from engine.store.states import InstanceStatus
from handlers.domain import kpi_complaints
from handlers.domain.kpi_periods import Buckets, periods, utc_moment
from handlers.domain.models import ArchiveRecord, ContactRecord, DeskBooking, FollowUp, ResourceBooking

CONTACT_CHANNELS = ("inbound_call", "chat", "walk_in")
INQUIRY_PROCESSES = {"booking_desk": "booking_desk", "tour_operation": "tour_inquiry"}
INQUIRY_CHANNELS = (*CONTACT_CHANNELS, *INQUIRY_PROCESSES.values())
OUTBOUND = "outbound_call"
REQUEST_TYPES = ("咨询", "业务办理", "投诉", "建议")
UNRECORDED = kpi_complaints.UNRECORDED
SOLVED = ("resolved", "promise_kept", "promise_late")
NOT_HANDLED = ("self_service", "auto_closed")
PROCESS_OF_CHANNEL = {"inbound_call": "inbound_call", "chat": "ecommerce_chat", "walk_in": "walk_in_reception"}
SLA_KINDS = {"sla_breached": "breaches", "sla_warning": "warnings"}
SLA_RULES = {  # (process, task the deadline is attached to) -> the documents' rule
    ("complaint_handling", "receive_complaint"): "report_1h",
    ("inbound_call", "resolve_by_promise"): "promised_time",
    ("ecommerce_chat", "resolve_by_promise"): "promised_time",
    ("walk_in_reception", "fulfil_promise"): "promised_time",
    ("escalated_complaint", "handle_within_deadline"): "authority_deadline",
}
RULES = ("report_1h", "promised_time", "authority_deadline", "other")
SCORES = ("1", "2", "3", "4", "5")
LOW_SATISFACTION = 2
BOOKING_CHANNELS = ("电话", "在线咨询", "到店")  # booking_desk record_inquiry's inquiry_channel
HELD_BY = {"tour_operation": "tour", "itinerary_management": "itinerary"}
METRICS = ("inquiries", "complaints", "resolution", "warnings", "sla", "satisfaction", "bookings")


def report(session: Session, start: date, end: date, granularity: str, *, now: datetime | None = None,
           desk: str | None = None, process: str | None = None) -> dict[str, Any]:
    """Every figure of the dashboard for China dates [start, end), per period and in total."""
    items = periods(start, end, granularity)
    if not items:
        raise ValueError(f"empty report range {start} .. {end}")
    buckets = Buckets(items)
    lo, hi = utc_moment(start), utc_moment(end)
    as_of = min(hi, now or utcnow())
    earliest = min(lo, utc_moment(kpi_complaints.baseline_start(items[-1], granularity)))
    complaints, handed = kpi_complaints.load(session, earliest, hi)
    in_range = [c for c in complaints if c["at"] >= lo]
    handed_in_range = sum(at >= lo for at in handed)
    return {
        "range": {"from": start.isoformat(), "to": end.isoformat(), "granularity": granularity,
                  "timezone": "Asia/Shanghai", "as_of": iso_z(as_of), "desk": desk, "process": process},
        "periods": [p.as_dict() for p in items],
        "inquiries": inquiries(session, buckets, lo, hi, desk),
        "complaints": kpi_complaints.volume(in_range, buckets, handed_in_range),
        "resolution": kpi_complaints.resolution(in_range, buckets, as_of),
        "warnings": kpi_complaints.warnings(complaints, items[-1], granularity),
        "sla": sla(session, buckets, lo, hi, process),
        "satisfaction": satisfaction(session, buckets, lo, hi),
        "bookings": bookings(session, buckets, lo, hi),
    }


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# ---- inquiries ---------------------------------------------------------------------------
def inquiries(session: Session, buckets: Buckets, lo: datetime, hi: datetime, desk: str | None) -> dict[str, Any]:
    def empty() -> dict[str, Any]:
        return {"total": 0, "by_channel": dict.fromkeys(INQUIRY_CHANNELS, 0),
                "by_request_type": dict.fromkeys((*REQUEST_TYPES, UNRECORDED), 0), "outbound_calls": 0,
                "handled_contacts": 0, "solved_contacts": 0, "contact_resolution_rate": None}

    rows = [{"period": p.key, **empty()} for p in buckets.items]
    total = empty()
    query = select(ContactRecord.channel, ContactRecord.request_type, ContactRecord.outcome,
                   ContactRecord.started_at).where(ContactRecord.channel.in_((*CONTACT_CHANNELS, OUTBOUND)),
                                                   ContactRecord.started_at >= lo, ContactRecord.started_at < hi)
    if desk:
        query = query.where(ContactRecord.desk == desk)
    for channel, request_type, outcome, started_at in session.execute(query):
        index = buckets.index(started_at)
        if index is None:
            continue
        for target in (rows[index], total):
            if channel == OUTBOUND:
                target["outbound_calls"] += 1
                continue
            target["total"] += 1
            target["by_channel"][channel] += 1
            target["by_request_type"][request_type if request_type in REQUEST_TYPES else UNRECORDED] += 1
            if outcome not in NOT_HANDLED:
                target["handled_contacts"] += 1
                target["solved_contacts"] += outcome in SOLVED
    if not desk:
        started = session.execute(select(ProcessInstance.process_id, ProcessInstance.started_at).where(
            ProcessInstance.process_id.in_(INQUIRY_PROCESSES), ProcessInstance.status != InstanceStatus.CANCELLED,
            ProcessInstance.started_at >= lo, ProcessInstance.started_at < hi))
        for process_id, started_at in started:
            index = buckets.index(started_at)
            if index is None:
                continue
            for target in (rows[index], total):
                target["total"] += 1
                target["by_channel"][INQUIRY_PROCESSES[process_id]] += 1
    for target in (*rows, total):
        target["contact_resolution_rate"] = _rate(target["solved_contacts"], target["handled_contacts"])
    return {"channels": list(INQUIRY_CHANNELS), "request_types": [*REQUEST_TYPES, UNRECORDED],
            "rows": rows, "total": total}


# ---- deadlines ---------------------------------------------------------------------------
def sla(session: Session, buckets: Buckets, lo: datetime, hi: datetime, process: str | None) -> dict[str, Any]:
    rows = [{"period": p.key, "breaches": 0, "warnings": 0} for p in buckets.items]
    total = {"breaches": 0, "warnings": 0, "by_rule": {r: {"breaches": 0, "warnings": 0} for r in RULES}}
    by_task: dict[tuple[str, str], dict[str, Any]] = {}
    names = process_names(session)
    query = (select(AuditEvent.at, AuditEvent.kind, AuditEvent.payload, ProcessInstance.process_id)
             .join(ProcessInstance, ProcessInstance.id == AuditEvent.instance_id)
             .where(READ_BY_KIND_TERM, AuditEvent.kind.in_(SLA_KINDS), AuditEvent.at >= lo,
                    AuditEvent.at < hi))
    if process:
        query = query.where(ProcessInstance.process_id == process)
    for at, kind, payload, process_id in session.execute(query):
        index = buckets.index(at)
        if index is None:
            continue
        body = json.loads(payload)
        task = str(body.get("task") or "")
        rule = SLA_RULES.get((process_id, task), "other")
        field = SLA_KINDS[kind]
        entry = by_task.setdefault((process_id, task), {
            "process": process_id, "process_name": names.get(process_id, process_id), "task": task,
            "task_name": body.get("name") or task, "rule": rule, "breaches": 0, "warnings": 0})
        entry[field] += 1
        rows[index][field] += 1
        total[field] += 1
        total["by_rule"][rule][field] += 1
    return {"rows": rows, "total": total, "by_task": [by_task[k] for k in sorted(by_task)],
            "promises": _promises(session, lo, hi, process),
            "authority_replies": _authority_replies(session, lo, hi, process)}


def _promises(session: Session, lo: datetime, hi: datetime, process: str | None) -> dict[str, int]:
    """Archived contacts with a promised resolution time: kept, late, still pending."""
    counts = {"kept": 0, "late": 0, "pending": 0}
    channels = [c for c, p in PROCESS_OF_CHANNEL.items() if process in (None, p)]
    rows = session.execute(select(ContactRecord.outcome, ContactRecord.details).where(
        ContactRecord.channel.in_(channels), ContactRecord.outcome.in_(("promise_kept", "promise_late", "escalated")),
        ContactRecord.started_at >= lo, ContactRecord.started_at < hi))
    for outcome, details in rows:
        if outcome == "promise_kept":
            counts["kept"] += 1
        elif outcome == "promise_late":
            counts["late"] += 1
        elif (details or {}).get("promised_at"):
            counts["pending"] += 1
    return counts


def _authority_replies(session: Session, lo: datetime, hi: datetime, process: str | None) -> dict[str, int]:
    """P7 cases filed in the range: answered by the authority's deadline, after it, or not recorded."""
    counts = {"met": 0, "missed": 0, "unknown": 0}
    if process not in (None, kpi_complaints.AUTHORITY):
        return counts
    payloads = session.execute(select(ArchiveRecord.payload).where(
        ArchiveRecord.kind == "escalated_complaint", ArchiveRecord.archived_at >= lo,
        ArchiveRecord.archived_at < hi)).scalars()
    for payload in payloads:
        met = (payload or {}).get("deadline_met")
        counts["met" if met is True else "missed" if met is False else "unknown"] += 1
    return counts


# ---- satisfaction ------------------------------------------------------------------------
def satisfaction(session: Session, buckets: Buckets, lo: datetime, hi: datetime) -> dict[str, Any]:
    def empty() -> dict[str, Any]:
        return {"count": 0, "sum": 0, "average": None, "low": 0, "distribution": dict.fromkeys(SCORES, 0)}

    rows = [{"period": p.key, **empty()} for p in buckets.items]
    total = empty()
    scores = session.execute(select(FollowUp.satisfaction, FollowUp.called_at).where(
        FollowUp.called_at >= lo, FollowUp.called_at < hi))
    for score, called_at in scores:
        index = buckets.index(called_at)
        if index is None:
            continue
        for target in (rows[index], total):
            target["count"] += 1
            target["sum"] += score
            target["low"] += score <= LOW_SATISFACTION
            if str(score) in target["distribution"]:
                target["distribution"][str(score)] += 1
    for target in (*rows, total):
        total_score = target.pop("sum")
        target["average"] = round(total_score / target["count"], 2) if target["count"] else None
    return {"scores": list(SCORES), "rows": rows, "total": total}


# ---- bookings ----------------------------------------------------------------------------
def bookings(session: Session, buckets: Buckets, lo: datetime, hi: datetime) -> dict[str, Any]:
    def empty() -> dict[str, Any]:
        return {"total": 0, "desk": 0, "tour": 0, "itinerary": 0, "desk_manual": 0, "desk_changed": 0,
                "desk_cancelled": 0, "desk_by_channel": dict.fromkeys((*BOOKING_CHANNELS, UNRECORDED), 0)}

    rows = [{"period": p.key, **empty()} for p in buckets.items]
    total = empty()
    desk_rows = session.execute(
        select(DeskBooking.taken_at, DeskBooking.source, DeskBooking.status, ProcessInstance.data)
        .outerjoin(ProcessInstance, ProcessInstance.id == DeskBooking.instance_id)
        .where(DeskBooking.taken_at >= lo, DeskBooking.taken_at < hi))
    for taken_at, source, status, data in desk_rows:
        index = buckets.index(taken_at)
        if index is None:
            continue
        channel = (data or {}).get("inquiry_channel")
        for target in (rows[index], total):
            target["total"] += 1
            target["desk"] += 1
            target["desk_manual"] += source == "manual"
            target["desk_changed"] += status == "changed"
            target["desk_cancelled"] += status == "cancelled"
            target["desk_by_channel"][channel if channel in BOOKING_CHANNELS else UNRECORDED] += 1
    first_hold = func.min(ResourceBooking.created_at)
    held = session.execute(
        select(ResourceBooking.instance_id, ProcessInstance.process_id, first_hold)
        .join(ProcessInstance, ProcessInstance.id == ResourceBooking.instance_id)
        .where(ProcessInstance.process_id.in_(HELD_BY))
        .group_by(ResourceBooking.instance_id, ProcessInstance.process_id)
        .having(and_(first_hold >= lo, first_hold < hi)))
    for _instance_id, process_id, first in held:
        index = buckets.index(first)
        if index is None:
            continue
        for target in (rows[index], total):
            target["total"] += 1
            target[HELD_BY[process_id]] += 1
    return {"rows": rows, "total": total, "channels": [*BOOKING_CHANNELS, UNRECORDED],
            "accuracy": {"available": False, "reason": "no_error_cause_recorded",
                         "message": "No record says a booking was wrong: changes and cancellations record the "
                                    "customer's request, not an agency error, so booking accuracy is not computed."}}
