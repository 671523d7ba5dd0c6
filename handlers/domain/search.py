"""Finding instances (the auditor's search): by process, customer, tour, status, start date and actor.

Everyone searches only what they may see (`policy.instance_access`, as on the instances page;
auditors see all). Customers and tours are found in the instance data under the keys the forms
use for names, phones and tours, and in the summaries of the instance's tasks. A phone matches on its
digits (spaces, dashes and `+` ignored), four digits on the number's last four. Dates are the agency's (China) calendar days. The actor filter is
`instance id IN (SELECT instance_id FROM audit_event WHERE actor = ?)`: the index on
audit_event (actor, instance_id) (migration 0006) makes it an index-only lookup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from engine.access.policy import Viewer, instance_conditions
from engine.clock import CHINA, iso_z
from engine.run.queries import instance_page, process_names
from engine.store.models import AuditEvent, HumanTask, ProcessInstance

# The data keys the processes' forms use for a customer's name and phone, and for a tour.
NAME_KEYS = ("customer_name", "complainant_name", "problem_customer_name")
PHONE_KEYS = ("contact_phone", "customer_phone", "complainant_phone", "problem_contact_phone", "caller_number")
TOUR_KEYS = ("tour_id", "problem_tour_id", "booking_code")
TEXT_MAX = 120
_PHONE_NOISE = re.compile(r"[\s\-+()（）]")


@dataclass(frozen=True)
class SearchFilter:
    process: str | None = None
    customer: str | None = None  # a name (part of it) or a phone number (whole, part, or its last 4 digits)
    tour: str | None = None  # tour id, booking code or business key (part of it)
    status: str | None = None
    started_from: date | None = None  # China calendar days, both included
    started_to: date | None = None
    actor: str | None = None  # anyone who acted on the instance: an audit event's actor
    page: int = 1
    per_page: int = 25


def china_day_start(day: date) -> datetime:
    """00:00 of a China calendar day, in UTC."""
    return datetime.combine(day, time(0), tzinfo=CHINA).astimezone(UTC)


def phone_digits(text: str) -> str | None:
    """The digits of a query that is a phone number (or part of one, at least 4 digits), else None."""
    digits = _PHONE_NOISE.sub("", text)
    return digits if len(digits) >= 4 and digits.isdigit() else None


def _field(column, key: str):
    return column[key].as_string()


def _normalized_phone(column, key: str):
    value = _field(column, key)
    for noise in ("-", " ", "+"):
        value = func.replace(value, noise, "")
    return value


def _customer_in(column, name_keys: tuple[str, ...], phone_keys: tuple[str, ...], text: str):
    digits = phone_digits(text)
    if digits is None:
        return or_(*(_field(column, key).icontains(text, autoescape=True) for key in name_keys))
    if len(digits) == 4:
        return or_(*(_normalized_phone(column, key).endswith(digits, autoescape=True) for key in phone_keys))
    return or_(*(_normalized_phone(column, key).contains(digits, autoescape=True) for key in phone_keys))


def _in_summaries(condition):
    """Some task of the instance has it in its summary: kept even when the instance's own data is
    not (a cancelled instance's data is empty)."""
    return exists().where(HumanTask.instance_id == ProcessInstance.id, condition)


def customer_condition(text: str):
    return or_(_customer_in(ProcessInstance.data, NAME_KEYS, PHONE_KEYS, text),
               _in_summaries(_customer_in(HumanTask.summary, NAME_KEYS, PHONE_KEYS, text)))


def tour_condition(text: str):
    return or_(ProcessInstance.business_key.icontains(text, autoescape=True),
               *(_field(ProcessInstance.data, key).icontains(text, autoescape=True) for key in TOUR_KEYS),
               _in_summaries(or_(*(_field(HumanTask.summary, key).icontains(text, autoescape=True)
                                   for key in TOUR_KEYS))))


def actor_condition(actor: str):
    return ProcessInstance.id.in_(
        select(AuditEvent.instance_id).where(AuditEvent.actor == actor, AuditEvent.instance_id.is_not(None)))


def conditions(viewer: Viewer, flt: SearchFilter) -> list[Any]:
    found: list[Any] = instance_conditions(viewer)
    if flt.process:
        found.append(ProcessInstance.process_id == flt.process)
    if flt.status:
        found.append(ProcessInstance.status == flt.status)
    # The first and last days there are (0001-01-01, 9999-12-31) bound nothing, and their China
    # midnights are out of datetime's range in UTC.
    if flt.started_from and flt.started_from > date.min:
        found.append(ProcessInstance.started_at >= china_day_start(flt.started_from))
    if flt.started_to and flt.started_to < date.max:
        found.append(ProcessInstance.started_at < china_day_start(flt.started_to + timedelta(days=1)))
    if flt.customer:
        found.append(customer_condition(flt.customer))
    if flt.tour:
        found.append(tour_condition(flt.tour))
    if flt.actor:
        found.append(actor_condition(flt.actor))
    return found


def search(session: Session, viewer: Viewer, flt: SearchFilter) -> dict[str, Any]:
    """One page of the matching instances the viewer may see, newest first."""
    result = instance_page(session, conditions(viewer, flt), flt.page, flt.per_page)
    rows = result["items"]
    names = process_names(session)
    summaries = _summaries(session, [r.id for r in rows])
    items = []
    for r in rows:
        data = {**summaries.get(r.id, {}), **{k: v for k, v in (r.data or {}).items() if v not in (None, "")}}
        items.append({"id": r.id, "process": r.process_id, "process_name": names.get(r.process_id, r.process_id),
                      "version": r.version, "status": r.status, "business_key": r.business_key,
                      "customer_name": _first(data, NAME_KEYS), "phone": _first(data, PHONE_KEYS),
                      "tour_id": _first(data, TOUR_KEYS), "started_at": _iso(r.started_at),
                      "started_by": r.started_by, "ended_at": _iso(r.ended_at)})
    result["items"] = items
    return result


def _summaries(session: Session, ids: list[int]) -> dict[int, dict[str, Any]]:
    """instance id -> what its tasks' summaries say, the newest task's last."""
    found: dict[int, dict[str, Any]] = {}
    if ids:
        rows = session.execute(select(HumanTask.instance_id, HumanTask.summary)
                               .where(HumanTask.instance_id.in_(ids)).order_by(HumanTask.id))
        for instance_id, summary in rows:
            found.setdefault(instance_id, {}).update({k: v for k, v in (summary or {}).items() if v not in (None, "")})
    return found


def _first(data: dict[str, Any] | None, keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = (data or {}).get(key)
        if value not in (None, ""):
            return str(value)
    return None


def _iso(moment: datetime | None) -> str | None:
    return iso_z(moment)
