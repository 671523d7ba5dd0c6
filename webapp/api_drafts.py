"""/api/v1 drafts: keep a process file, preview what deploying it would do, then deploy or discard it."""

from __future__ import annotations

from flask import request
from sqlalchemy import select

from engine.access.policy import Capability
from engine.clock import utcnow
from engine.run import drafts
from engine.store.models import ProcessDraft
from webapp.api_args import Routes, actor, invalid
from webapp.app_state import runtime
from webapp.auth import capability_required

routes = Routes()


@routes.post("/drafts")
@capability_required(Capability.DEPLOY)
def save_draft():
    """Keep an uploaded .bpmn (multipart `files`, with any *.schema.json forms) and preview it."""
    files = [(f.filename or "", f.read()) for f in request.files.getlist("files")]
    if not files:
        raise invalid("files", "upload a .bpmn file (multipart field 'files')")
    with runtime().transaction() as tx:
        draft = drafts.save_draft(tx.session, files, actor(), utcnow())
        return drafts.preview(tx.session, draft), 201


@routes.get("/drafts")
@capability_required(Capability.DEPLOY)
def list_drafts():
    with runtime().reading() as session:
        rows = session.execute(select(ProcessDraft).order_by(ProcessDraft.id.desc())).scalars()
        return {"items": [drafts.summary(d) for d in rows]}


@routes.get("/drafts/<int:draft_id>")
@capability_required(Capability.DEPLOY)
def get_draft(draft_id: int):
    with runtime().reading() as session:
        return drafts.preview(session, drafts.draft_row(session, draft_id))


@routes.post("/drafts/<int:draft_id>/deploy")
@capability_required(Capability.DEPLOY)
def deploy_draft(draft_id: int):
    with runtime().transaction() as tx:
        result = drafts.deploy_draft(tx.session, draft_id, actor())
    body = {"process_id": result.process_id, "version": result.version, "deployment_id": result.deployment_id,
            "created": result.created, "current": result.current}
    return body, 201 if result.created else 200


@routes.post("/drafts/<int:draft_id>/discard")
@capability_required(Capability.DEPLOY)
def discard_draft(draft_id: int):
    with runtime().transaction() as tx:
        drafts.discard_draft(tx.session, draft_id, actor())
    return {"discarded": draft_id}
