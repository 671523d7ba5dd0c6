"""The process owner's modeler page: a deployed version or a draft opened in the bpmn-js Modeler,
linted live (POST /api/v1/lint) and saved as a draft (POST /api/v1/drafts) for the preview."""

from __future__ import annotations

import json

from flask import Blueprint, abort, render_template, request

from engine.access.policy import Capability
from engine.access.roles import LANES, ROLE_NAMES
from engine.run import drafts, queries, versions
from webapp.app_state import runtime
from webapp.auth import capability_required
from webapp.i18n import gettext as _
from webapp.modeler_texts import panel_texts

bp = Blueprint("modeler", __name__)


@bp.route("/processes/<process_id>/edit")
@capability_required(Capability.DEPLOY)
def edit(process_id: str):
    """`?draft=ID` continues a draft of this process, `?version=N` starts from that version, else
    from the current version."""
    with runtime().reading() as session:
        deployed = [v for v in queries.deployments(session) if v["process_id"] == process_id]
        draft_id, version = request.args.get("draft"), request.args.get("version")
        if not deployed and draft_id is None:
            abort(404)
        current = next((v for v in deployed if v["current"]), deployed[0] if deployed else None)
        if draft_id is not None:
            if not draft_id.isdigit() or len(draft_id) > 9:
                abort(404)
            draft = drafts.draft_row(session, int(draft_id))  # NotFound -> 404
            if draft.process_id != process_id:
                abort(404, _("草稿 {id} 不属于该流程", id=draft_id))
            source = {"xml": draft.bpmn_xml, "filename": draft.filename, "draft": draft.id, "version": None,
                      "forms": {name: _parsed(text) for name, text in draft.forms.items()}}
        else:
            chosen = current
            if version is not None:
                chosen = next((v for v in deployed if str(v["version"]) == version), None)
                if chosen is None:
                    abort(404, _("没有版本 {version}", version=version[:20]))
            row = versions.version_row(session, process_id, chosen["version"])
            source = {"xml": row.bpmn_xml, "filename": chosen["filename"], "draft": None, "version": chosen["version"],
                      "forms": dict(row.forms)}
    name = current["name"] if current else process_id  # a draft of a process not deployed yet
    return render_template("processes/edit.html", process_id=process_id, name=name, source=source,
                           context=modeler_context(source["forms"]), texts=panel_texts())


@bp.route("/processes/handlers")
@capability_required(Capability.READ_DEFINITIONS)
def handlers():
    """The handler catalogue: what each service-task handler does, takes and returns, and who calls it."""
    return render_template("processes/handlers.html", handlers=runtime().handlers())


def _parsed(text: str):
    """A draft's form as an object; text that is not JSON stays text (the editor shows it to fix)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def modeler_context(forms: dict) -> dict:
    """What the properties panel offers: the roles a lane may be, the registered handlers, the
    message names the processes share, and the forms of the version or draft being edited."""
    rt = runtime()
    return {
        "roles": [{"id": role, "name": ROLE_NAMES.get(role, role)} for role in sorted(LANES)],
        "handlers": rt.handlers(),
        "messages": [{"name": name, "processes": ids} for name, ids in rt.process_vocabulary()["messages"].items()],
        "forms": forms,
    }
