"""GET /api/v1/reports/kpi: the KPI dashboard's figures as JSON (added to the api blueprint by
webapp/api.py, documented in webapp/openapi_reports.py). Same parameters and roles as the /reports page."""

from __future__ import annotations

from flask import request

from engine.access.policy import Capability
from handlers.domain.kpi_periods import RangeError
from webapp.api_args import Routes, invalid
from webapp.auth import capability_required
from webapp.reports import compute, parse

routes = Routes()


@routes.get("/reports/kpi")
@capability_required(Capability.READ_REPORTS)
def report_kpi():
    try:
        params = parse(request.args)
    except RangeError as exc:
        raise invalid(exc.field, exc.message) from None
    return compute(params)
