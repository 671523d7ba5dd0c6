"""The agency's settings: the rules the documents leave open (a notice period, a redial interval, a
reminder), one JSON row per process in the `setting` table, each name with the documents' behaviour
as its default (docs/rules/ says which). Reading them merges the defaults; changing one checks its
type; whoever changes one records it in the audit log (`setting_changed`: key, name, old and new
value: webapp/cli/accounts.py), since handlers write no engine table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.errors import FormInvalid
from handlers import booking_desk, escalated, follow_ups, outbound
from handlers.domain.models import Setting

DEFAULTS: dict[str, dict[str, Any]] = {
    "booking_desk": booking_desk.DEFAULTS,
    "escalated_complaint": escalated.DEFAULTS,
    "follow_ups": follow_ups.DEFAULTS,
    "outbound_call": outbound.DEFAULTS,
}
# Names whose default is None (no rule) take a number when set.
NUMBER_OR_NONE = {("booking_desk", "cancel_notice_hours"), ("escalated_complaint", "reply_warning_percent")}


def _invalid(message: str) -> FormInvalid:
    return FormInvalid(message, field="value", errors=[{"field": "value", "message": message}])


def current(session: Session) -> dict[str, dict[str, Any]]:
    """Every known setting, stored values over the defaults."""
    result = {}
    for key, defaults in DEFAULTS.items():
        row = session.get(Setting, key)
        result[key] = {**defaults, **{k: v for k, v in (row.value if row else {}).items() if k in defaults}}
    return result


def check(key: str, name: str, value: Any) -> Any:
    """The value if it fits the setting; FormInvalid says what it must be."""
    if key not in DEFAULTS:
        raise _invalid(f"unknown setting {key!r} (known: {', '.join(sorted(DEFAULTS))})")
    if name not in DEFAULTS[key]:
        raise _invalid(f"{key} has no setting {name!r} (it has: {', '.join(sorted(DEFAULTS[key]))})")
    default = DEFAULTS[key][name]
    if name == "refund_rules":
        return _refund_rules(value)
    if value is None and (key, name) in NUMBER_OR_NONE:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or value != value:
        raise _invalid(f"{key}.{name} must be a number of at least 0" +
                       (" or null (no rule)" if (key, name) in NUMBER_OR_NONE else ""))
    if name.endswith("_percent") and value > 100:
        raise _invalid(f"{key}.{name} is a percentage: at most 100")
    return int(value) if isinstance(default, int) and not isinstance(default, bool) and value == int(value) else value


def _refund_rules(value: Any) -> list[dict[str, int]]:
    message = "refund_rules must be a list of {\"hours_before\": hours ≥ 0, \"refund_percent\": 0–100}"
    if not isinstance(value, list) or len(value) > 20:
        raise _invalid(message)
    rules = []
    for rule in value:
        if not isinstance(rule, dict) or set(rule) != {"hours_before", "refund_percent"}:
            raise _invalid(message)
        hours, percent = rule["hours_before"], rule["refund_percent"]
        if any(isinstance(v, bool) or not isinstance(v, int) for v in (hours, percent)) \
                or hours < 0 or not 0 <= percent <= 100:
            raise _invalid(message)
        rules.append({"hours_before": hours, "refund_percent": percent})
    return rules


def change(session: Session, key: str, name: str, value: Any, now: datetime) -> dict[str, Any]:
    """Set one setting; returns {"key", "name", "old", "new"} for the audit record."""
    value = check(key, name, value)
    row = session.get(Setting, key)
    old = current(session)[key][name]
    if row is None:
        row = Setting(key=key, value={}, updated_at=now)
        session.add(row)
    row.value = {**row.value, name: value}  # a new dict: the JSON column sees the change
    row.updated_at = now
    return {"key": key, "name": name, "old": old, "new": value}


__all__ = ["DEFAULTS", "change", "check", "current"]
