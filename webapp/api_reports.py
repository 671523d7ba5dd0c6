"""GET /api/v1/reports/kpi: the KPI dashboard's figures as JSON (registered on the api blueprint,
documented in webapp/openapi_reports.py). Same parameters and roles as the /reports page."""

from __future__ import annotations

from flask import request
from flask_login import current_user

from engine.errors import NotAllowed
from engine.kpi_periods import RangeError

from . import openapi_reports  # noqa: F401 - documents the route below
from .api import bp, invalid
from .reports import REPORT_ROLES, compute, parse


@bp.get("/reports/kpi")
def report_kpi():
    if not current_user.has_role(*REPORT_ROLES):
        raise NotAllowed(f"the KPI report is for the roles {', '.join(REPORT_ROLES)}")
    try:
        params = parse(request.args)
    except RangeError as exc:
        raise invalid(exc.field, exc.message) from None
    return compute(params)
