"""Which running instances a migration picks: those waiting at some nodes, started before or after
a moment, or named by id. The parts combine with AND; each bad value names its field."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement

from engine.clock import iso_z, parse_iso_utc
from engine.errors import FormInvalid
from engine.limits import ID_MAX, KEY_MAX
from engine.run.waiting import waiting_at
from engine.store.models import ProcessInstance

MAX_NODES = 200
MAX_INSTANCES = 10_000


def field_invalid(field: str, message: str, key: str, **params: object) -> FormInvalid:
    return FormInvalid(f"field '{field}': {message}", field=field, errors=[{"field": field, "message": message}],
                       key=key, params={"field": field, **params})


@dataclass(frozen=True)
class InstanceFilter:
    """`instances=None`: every running instance of the version; `waiting_at=()`: wherever they wait."""

    waiting_at: tuple[str, ...] = ()
    started_before: datetime | None = None
    started_after: datetime | None = None
    instances: tuple[int, ...] | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """The conditions on ProcessInstance besides the version and the ids."""
        found: list[ColumnElement[bool]] = []
        if self.waiting_at:
            found.append(waiting_at(self.waiting_at))
        if self.started_before is not None:
            found.append(ProcessInstance.started_at < self.started_before)
        if self.started_after is not None:
            found.append(ProcessInstance.started_at >= self.started_after)
        return found

    def check_nodes(self, known: set[str], version: int) -> None:
        """FormInvalid when `waiting_at` names a node the version does not have."""
        unknown = sorted(set(self.waiting_at) - known)
        if unknown:
            raise field_invalid("waiting_at", f"version {version} has no node {unknown[0]!r}", "migration.unknown_node",
                                version=version, node=unknown[0])

    def as_dict(self) -> dict[str, Any]:
        return {"waiting_at": list(self.waiting_at), "started_before": iso_z(self.started_before),
                "started_after": iso_z(self.started_after),
                "instances": None if self.instances is None else list(self.instances)}


def _moment(field: str, value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise field_invalid(field, "must have a time zone", "migration.no_timezone")
        return value
    if not isinstance(value, str) or not value.strip() or len(value) > 40:
        raise field_invalid(field, "must be an ISO 8601 date-time, like 2026-12-01T08:00:00Z", "migration.bad_time")
    try:
        return parse_iso_utc(value.strip())
    except ValueError:
        raise field_invalid(field, "must be an ISO 8601 date-time, like 2026-12-01T08:00:00Z",
                            "migration.bad_time") from None


def instance_filter(waiting_at: Any = None, started_before: Any = None, started_after: Any = None,
                    instances: Any = None) -> InstanceFilter:
    """Check the parts of a filter (FormInvalid naming the field) and build it. Moments are
    datetimes with a zone or ISO 8601 text (text without an offset is UTC)."""
    if waiting_at is None:
        waiting_at = []
    if not isinstance(waiting_at, list | tuple) or len(waiting_at) > MAX_NODES or not all(
            isinstance(n, str) and 0 < len(n) <= KEY_MAX for n in waiting_at):
        raise field_invalid("waiting_at", f"must be a list of node ids, at most {MAX_NODES} of them", "migration.nodes",
                            limit=MAX_NODES)
    if instances is not None and (not isinstance(instances, list | tuple) or len(instances) > MAX_INSTANCES
                                  or not all(type(i) is int and 0 < i <= ID_MAX for i in instances)):
        raise field_invalid("instances", "must be a list of instance ids", "migration.instances")
    before, after = _moment("started_before", started_before), _moment("started_after", started_after)
    if before is not None and after is not None and after >= before:
        raise field_invalid("started_after", "must be earlier than started_before", "migration.time_order")
    return InstanceFilter(tuple(dict.fromkeys(waiting_at)), before, after,
                          None if instances is None else tuple(dict.fromkeys(instances)))


__all__ = ["InstanceFilter", "field_invalid", "instance_filter"]
