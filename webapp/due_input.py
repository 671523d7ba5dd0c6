"""Reading a due-date change (the page's form and the API's body): dates in ISO 8601, text without
an offset is China time (what people type in a datetime-local field)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from engine.clock import parse_iso_china
from engine.limits import check_reason, invalid


def parse_moment(field: str, value: Any) -> datetime | None:
    """None for an empty value; a FormInvalid naming `field` for one that is not a date and time."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise invalid(field, "must be a date and time in ISO 8601, e.g. 2026-12-03T18:00+08:00")
    try:
        return parse_iso_china(value.strip()).astimezone(UTC)
    except (ValueError, OverflowError):
        raise invalid(field, f"{value!r} is not a date and time in ISO 8601, e.g. 2026-12-03T18:00+08:00") from None


def due_change(values: dict[str, Any]) -> tuple[datetime | None, datetime | None, str]:
    """(due_at, follow_up_at, reason) of a change; FormInvalid on the first bad field."""
    due_at = parse_moment("due_at", values.get("due_at"))
    follow_up_at = parse_moment("follow_up_at", values.get("follow_up_at"))
    reason = check_reason(values.get("reason"))
    if due_at is None and follow_up_at is None:
        raise invalid("due_at", "give a new due date, a follow-up date or both")
    return due_at, follow_up_at, reason
