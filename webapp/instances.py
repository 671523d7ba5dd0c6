"""Instance pages: the list of instances a user may see, and one instance's data, tasks and history
(with the open incident, if any, and the forms to resolve it: webapp/incidents.py)."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request
from flask_login import current_user

from engine.access import policy
from engine.access.privacy import Masker
from engine.errors import NotFound
from engine.run import incidents, instance_access, queries
from webapp import display, privacy
from webapp.app_state import runtime
from webapp.errors import message_of
from webapp.i18n import gettext as _
from webapp.page_args import int_arg

bp = Blueprint("instances", __name__)


@bp.route("/instances")
def index():
    process = request.args.get("process") or None
    status = request.args.get("status") or None
    if status not in queries.INSTANCE_STATUSES:
        status = None
    with runtime().reading() as session:
        result = queries.instances(
            session, current_user.viewer, process=process, status=status, page=int_arg("page", 1),
            per_page=int_arg("per_page", current_app.config.get("PER_PAGE", 25), 1, queries.PER_PAGE_MAX))
        names = queries.process_names(session)
    result["items"] = privacy.rows(result["items"])
    return render_template("instances/index.html", result=result, processes=names, process=process,
                           status=status, statuses=queries.INSTANCE_STATUSES)


@bp.route("/instances/<int:instance_id>")
def detail(instance_id: int):
    return render_instance(instance_id)


def render_instance(instance_id: int, status: int = 200, incident_form: dict[str, Any] | None = None,
                    alert: str | None = None):
    """The instance page; `incident_form` keeps what was typed into a refused incident form."""
    rt = runtime()
    viewer = current_user.viewer
    with rt.reading() as session:
        incident = incidents.incident_of(session, instance_id, viewer)
        allowed = instance_access.may_view_instance(session, viewer, instance_id)
        tasks = queries.instance_tasks(session, instance_id) if allowed else []
        names = queries.process_names(session)
    try:
        instance = rt.show(instance_id)
    except NotFound as exc:
        abort(404, message_of(exc))
    if not allowed:
        abort(403, _("您无权查看此流程实例"))
    forms = rt.instance_forms(instance_id)
    mask = privacy.masker(instance_id, forms)
    instance = mask(instance)
    events = [display.event_summary(e, forms) for e in privacy.events(rt.events(instance_id), mask)]
    return render_template(
        "instances/detail.html", instance=instance, process_name=names.get(instance["process"], instance["process"]),
        instance_data=display.data_panel(instance["data"], forms), tasks=[privacy.task(t, mask) for t in tasks],
        events=events, task_link=lambda t: policy.may_read_task(viewer, policy.TaskFacts.of(t)),
        incident=mask(incident), incident_form=incident_form or _blank_form(incident, mask), alert=alert,
    ), status


def _blank_form(incident: dict[str, Any] | None, mask: Masker) -> dict[str, Any]:
    """The resolve form as first shown: the data the failed step's handler reads, ready to correct
    (without the personal values the user may not see: what is left out is kept as it is)."""
    inputs = mask.drop((incident or {}).get("inputs") or {})
    return {"action": None, "reason": "", "errors": {},
            "data": json.dumps(inputs, ensure_ascii=False, indent=2, sort_keys=True)}
