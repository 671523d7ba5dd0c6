"""Time helpers handlers share: the agency works in China time (UTC+8, no daylight saving)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from engine.clock import CHINA, parse_iso_china

__all__ = ["CHINA", "china_iso", "parse_time"]


def china_iso(moment: datetime) -> str:
    """A moment as ISO 8601 in China time, to the second (naive moments are UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(CHINA).isoformat(timespec="seconds")


def parse_time(value: Any) -> datetime | None:
    """An ISO date-time from form data (naive = China time), or None when empty or unreadable."""
    if not value:
        return None
    try:
        return parse_iso_china(value)
    except ValueError:
        return None
