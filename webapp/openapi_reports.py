"""The OpenAPI entry of GET /api/v1/reports/kpi (webapp/api_reports.py), merged into webapp/openapi.py's
SCHEMAS and OPERATIONS.
docs/kpi.md defines every figure."""

from __future__ import annotations

from typing import Any

from handlers.domain.kpi_periods import GRANULARITIES, MAX_PERIODS
from handlers.domain.models import DESKS
from webapp.openapi_spec import Op, nullable, query, ref
from webapp.reports import REPORT_ROLES, SLA_PROCESSES

INT = {"type": "integer", "minimum": 0}
COUNTS = {"type": "object", "additionalProperties": INT}
RATE = nullable("number", minimum=0, maximum=1, description="A fraction (0.25 = 25 %), null when the base is 0.")
DATE = {"type": "string", "format": "date"}


def obj(properties: dict[str, Any], description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "required": list(properties), "properties": properties}
    if description:
        schema["description"] = description
    return schema


def per_period(figures: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    """A section: one row per period (`period` = the period's key) and the same figures in total."""
    return obj({"rows": {"type": "array", "items": obj({"period": {"type": "string"}, **figures})},
                "total": obj(figures), **extra}, description)


INQUIRY = {"total": INT, "by_channel": COUNTS, "by_request_type": COUNTS, "outbound_calls": INT,
           "handled_contacts": INT, "solved_contacts": INT, "contact_resolution_rate": RATE}
COMPLAINT = {"total": INT, "by_kind": COUNTS, "by_time_class": COUNTS,
             "by_source": obj({"own": INT, "authority": INT})}
RESOLUTION = {"received": INT, "resolved": INT, "open": INT, "rate": RATE,
              "by_route": obj({"local": INT, "qc": INT, "authority": INT})}
SATISFACTION = {"count": INT, "average": nullable("number"), "low": INT, "distribution": COUNTS}
BOOKING = {"total": INT, "desk": INT, "tour": INT, "itinerary": INT, "desk_manual": INT, "desk_changed": INT,
           "desk_cancelled": INT, "desk_by_channel": COUNTS}
STRINGS = {"type": "array", "items": {"type": "string"}}

KPI_REPORT: dict[str, Any] = obj({
    "range": obj({"from": DATE, "to": {**DATE, "description": "Exclusive."}, "granularity": {"enum": list(GRANULARITIES)},
                  "timezone": {"const": "Asia/Shanghai"},
                  "as_of": {"type": "string", "format": "date-time",
                            "description": "Complaints closed before this moment count as resolved: the range's "
                                           "end, or now when that is earlier."},
                  "desk": nullable("string"), "process": nullable("string")}),
    "periods": {"type": "array", "items": obj({
        "key": {"type": "string", "examples": ["2026-11-23", "2026-W48", "2026-11"]},
        "label": {"type": "string"}, "start": DATE, "end": {**DATE, "description": "Exclusive."},
        "partial": {"type": "boolean", "description": "Clipped by the range."}})},
    "inquiries": per_period(INQUIRY, "Contacts customers started (calls, chats, visits, booking-desk and tour "
                                     "inquiries); outbound calls apart.", channels=STRINGS, request_types=STRINGS),
    "complaints": per_period(COMPLAINT, "P6 and P7 complaints by intake time.", kinds=STRINGS, time_classes=STRINGS,
                             handed_to_authority=INT),
    "resolution": per_period(RESOLUTION, "Of the complaints received in each period, those closed by `as_of`."),
    "warnings": obj({
        "rule": obj({"baseline_periods": INT, "min_count": INT, "factor": {"type": "number"}}),
        "period": {"type": "string"}, "baseline": STRINGS, "baseline_labels": STRINGS,
        "items": {"type": "array", "items": obj({
            "kind": {"type": "string"}, "count": INT, "baseline_counts": {"type": "array", "items": INT},
            "baseline_mean": {"type": "number"}, "ratio": nullable("number"), "flagged": {"type": "boolean"}})},
        "flagged": STRINGS}, "Early warning: a kind flagged when the latest period's count >= min_count and >= "
                             "factor x the mean of the baseline periods before it."),
    "sla": obj({
        "rows": {"type": "array", "items": obj({"period": {"type": "string"}, "breaches": INT, "warnings": INT})},
        "total": obj({"breaches": INT, "warnings": INT, "by_rule": {
            "type": "object", "additionalProperties": obj({"breaches": INT, "warnings": INT})}}),
        "by_task": {"type": "array", "items": obj({
            "process": {"type": "string"}, "process_name": {"type": "string"}, "task": {"type": "string"},
            "task_name": {"type": "string"},
            "rule": {"enum": ["report_1h", "promised_time", "authority_deadline", "other"]},
            "breaches": INT, "warnings": INT})},
        "promises": obj({"kept": INT, "late": INT, "pending": INT}),
        "authority_replies": obj({"met": INT, "missed": INT, "unknown": INT})},
        "Deadline timers that fired (sla_breached, sla_warning events), promises of contacts, authority replies."),
    "satisfaction": per_period(SATISFACTION, "Follow-up calls: count, average 1-5 score, distribution, scores <= 2.",
                               scores=STRINGS),
    "bookings": per_period(BOOKING, "Desk bookings by booking time; tours and itineraries by their first hold.",
                           channels=STRINGS, accuracy=obj({
                               "available": {"type": "boolean"}, "reason": {"type": "string"},
                               "message": {"type": "string"}},
                               "Booking accuracy is not computed: no record says a booking was wrong.")),
}, "The KPI dashboard's figures for China dates [from, to), per period and in total (docs/kpi.md).")

REPORT_PARAMETERS = [
    query("from", DATE, "First China date (default: the start of the 8th period back, today included)."),
    query("to", DATE, "China date after the last one (exclusive; default: tomorrow)."),
    query("granularity", {"enum": list(GRANULARITIES), "default": "week"},
          f"day, week (ISO, Monday first) or month; at most {MAX_PERIODS} periods."),
    query("desk", {"enum": list(DESKS)}, "Inquiries of this call-centre desk only."),
    query("process", {"enum": list(SLA_PROCESSES)}, "Deadlines of this process only."),
]

REPORT_SCHEMAS: dict[str, dict[str, Any]] = {"KpiReport": KPI_REPORT}
REPORT_OPERATIONS: dict[str, Op] = {"api.report_kpi": Op(
    "GET", "KPI figures: inquiries, complaints, resolution, early warning, deadlines, satisfaction, bookings",
    "reports", ref("KpiReport"), roles=", ".join(REPORT_ROLES), parameters=REPORT_PARAMETERS, errors=(403, 422),
    description="The numbers of the /reports page. 422 names the bad parameter (a date that is not YYYY-MM-DD, "
                "`to` not after `from`, too many periods, an unknown granularity, desk or process).")}
