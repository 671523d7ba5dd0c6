"""The migration page's filter fields: the form as typed (kept when it is refused) and the engine's
filter arguments read from it."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from werkzeug.datastructures import MultiDict

from engine.clock import parse_iso_china
from engine.errors import FormInvalid
from webapp.i18n import gettext as _

_SEPARATORS = re.compile(r"[,，、\s]+")


def filter_form(values: MultiDict[str, str]) -> dict[str, Any]:
    return {"waiting_at": values.getlist("waiting_at"), "started_after": values.get("started_after", ""),
            "started_before": values.get("started_before", ""), "instances": values.get("instances", "")}


def filter_args(form: dict[str, Any]) -> dict[str, Any]:
    """The page's filter as migrate_instances' keyword arguments; FormInvalid naming the field."""
    return {"waiting_at": form["waiting_at"] or None, "instance_ids": _instance_ids(form["instances"]),
            "started_after": _moment(form["started_after"], "started_after", _("开始时间（起）")),
            "started_before": _moment(form["started_before"], "started_before", _("开始时间（止）"))}


def _instance_ids(text: str) -> list[int] | None:
    parts = [p for p in _SEPARATORS.split(text.strip()) if p]
    if not parts:
        return None
    if not all(p.isascii() and p.isdigit() and len(p) <= 12 for p in parts):
        raise FormInvalid(_("实例编号应是用逗号分隔的数字"), field="instances")
    return [int(p) for p in parts]


def _moment(text: str, field: str, label: str) -> datetime | None:
    """What people type is China time (a datetime-local field)."""
    if not text.strip():
        return None
    try:
        return parse_iso_china(text.strip())
    except ValueError:
        raise FormInvalid(_("{label}不是有效的日期时间", label=label), field=field) from None


__all__ = ["filter_args", "filter_form"]
