"""The process owner's modeler page: a deployed version or a draft opened in the bpmn-js Modeler,
linted live (POST /api/v1/lint) and saved as a draft (POST /api/v1/drafts) for the preview."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from engine.access.policy import Capability
from engine.run import drafts, queries
from webapp.app_state import runtime
from webapp.auth import capability_required
from webapp.i18n import gettext as _

bp = Blueprint("modeler", __name__)


@bp.route("/processes/<process_id>/edit")
@capability_required(Capability.DEPLOY)
def edit(process_id: str):
    """`?draft=ID` continues a draft of this process, `?version=N` starts from that version, else
    from the current version."""
    with runtime().reading() as session:
        versions = [v for v in queries.deployments(session) if v["process_id"] == process_id]
        draft_id, version = request.args.get("draft"), request.args.get("version")
        if not versions and draft_id is None:
            abort(404)
        current = next((v for v in versions if v["current"]), versions[0] if versions else None)
        if draft_id is not None:
            if not draft_id.isdigit() or len(draft_id) > 9:
                abort(404)
            draft = drafts.draft_row(session, int(draft_id))  # NotFound -> 404
            if draft.process_id != process_id:
                abort(404, _("草稿 {id} 不属于该流程", id=draft_id))
            source = {"xml": draft.bpmn_xml, "filename": draft.filename, "draft": draft.id, "version": None}
        else:
            chosen = current
            if version is not None:
                chosen = next((v for v in versions if str(v["version"]) == version), None)
                if chosen is None:
                    abort(404, _("没有版本 {version}", version=version[:20]))
            source = {"xml": None, "filename": chosen["filename"], "draft": None, "version": chosen["version"]}
    if source["xml"] is None:
        source["xml"] = runtime().deployment_xml(process_id, source["version"])
    name = current["name"] if current else process_id  # a draft of a process not deployed yet
    return render_template("processes/edit.html", process_id=process_id, name=name, source=source)
