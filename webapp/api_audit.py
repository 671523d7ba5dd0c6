"""The auditor's endpoints of /api/v1 (added to the api blueprint by webapp/api.py;
documented in webapp/openapi_audit.py): an instance's audit trail with chain verdicts, its step-through
replay, the verdict on every hash chain, and the instance search."""

from __future__ import annotations

from typing import Any

from flask import current_app, request

from engine.access.policy import Capability
from engine.errors import FormInvalid
from engine.history.replay import replay
from engine.limits import PAGE_MAX
from engine.run.queries import PER_PAGE_MAX
from webapp import privacy
from webapp.api_args import Routes, bool_arg, int_arg
from webapp.app_state import runtime
from webapp.audit import chain_report, check_viewable, instance_trail
from webapp.auth import capability_required
from webapp.search import PROBLEMS, parse, run

routes = Routes()


@routes.get("/instances/<int:instance_id>/audit")
def instance_audit(instance_id: int):
    """Every event of the instance with `chain_ok`, and the verdict on its chain."""
    check_viewable(instance_id)
    trail = instance_trail(instance_id)
    return {"instance_id": instance_id, **trail, "events": privacy.events(trail["events"], privacy.masker(instance_id))}


@routes.get("/instances/<int:instance_id>/replay")
def instance_replay(instance_id: int):
    """The instance re-run from its record, a snapshot per event (engine/history/replay.py)."""
    check_viewable(instance_id)
    result = replay(runtime(), instance_id)
    mask = privacy.masker(instance_id)
    return {"instance_id": instance_id, "identical": result.identical, "difference": mask(result.difference),
            "snapshots": mask(result.snapshots)}


@routes.get("/audit/chains")
@capability_required(Capability.READ_CHAINS)
def audit_chains():
    broken_only = bool_arg("broken")
    page = int_arg("page", 1, 1, PAGE_MAX)
    per_page = int_arg("per_page", current_app.config.get("PER_PAGE", 25), 1, PER_PAGE_MAX)
    return chain_report(broken_only, page, per_page)


@routes.get("/search")
def search_instances():
    parsed = parse(request.args)
    if parsed.errors:
        name, code = next(iter(parsed.errors.items()))
        raise FormInvalid(f"field '{name}': {PROBLEMS[code][0]}", field=name, key="form.invalid", params={"field": name},
                          errors=[{"field": f, "message": PROBLEMS[c][0]} for f, c in parsed.errors.items()])
    result: dict[str, Any] = run(parsed.flt)
    return result
