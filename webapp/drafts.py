"""Process owner pages for drafts: an uploaded file previewed (lint, diff, instances waiting on what
changes) before it is deployed or discarded (engine/run/drafts.py)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user

from engine.access.policy import Capability
from engine.errors import DeploymentError
from engine.run import drafts
from webapp.app_state import runtime
from webapp.auth import capability_required
from webapp.errors import message_of
from webapp.i18n import gettext as _

bp = Blueprint("drafts", __name__)


def render_draft(draft_id: int, status: int = 200, message: str | None = None):
    with runtime().reading() as session:
        preview = drafts.preview(session, drafts.draft_row(session, draft_id))  # NotFound -> 404
    return render_template("processes/draft.html", draft=preview, message=message), status


@bp.route("/processes/drafts/<int:draft_id>")
@capability_required(Capability.DEPLOY)
def show(draft_id: int):
    return render_draft(draft_id)


@bp.post("/processes/drafts/<int:draft_id>/deploy")
@capability_required(Capability.DEPLOY)
def deploy(draft_id: int):
    try:
        with runtime().transaction() as tx:
            result = drafts.deploy_draft(tx.session, draft_id, current_user.username)
    except DeploymentError as exc:
        return render_draft(draft_id, 422, message_of(exc))
    if result.created:
        flash(_("已部署 {process} 版本 {version}", process=result.process_id, version=result.version), "success")
    else:
        flash(_("{process} 内容未变化，仍为版本 {version}", process=result.process_id, version=result.version), "info")
    return redirect(url_for("processes.index"), 303)


@bp.post("/processes/drafts/<int:draft_id>/discard")
@capability_required(Capability.DEPLOY)
def discard(draft_id: int):
    with runtime().transaction() as tx:
        drafts.discard_draft(tx.session, draft_id, current_user.username)
    flash(_("草稿已丢弃"), "info")
    return redirect(url_for("processes.index"), 303)
