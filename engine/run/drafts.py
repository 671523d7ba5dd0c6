"""Drafts: a process file kept on the server for a preview before it is deployed. A draft never
runs. Its preview shows what deploying it would do: the lint findings (errors block the deploy),
what changes against the current version, and how many running instances wait on each node that
changes (their open tasks and timers). Deploying a draft deploys exactly the previewed content."""

from __future__ import annotations

import contextlib
import json
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.bpmn.diff import diff_versions
from engine.bpmn.lint import lint_bytes
from engine.bpmn.specs import ProcessModel, load_forms, load_model
from engine.bpmn.xmlsafe import read_bytes
from engine.clock import utcnow
from engine.errors import BpmnReadError, DeploymentError, NotFound
from engine.run import versions
from engine.run.deploy_set import bpmn_sources, called_files, deploy_together
from engine.run.deployments import (
    DeployResult,
    Upload,
    deployed_catches,
    first_process_id,
    forms_dir_for,
    split_upload,
)
from engine.run.waiting import waiting_on
from engine.store import audit
from engine.store.models import CurrentVersion, Deployment, ProcessDraft


def _upload(draft: ProcessDraft) -> Upload:
    forms = {name: text.encode() for name, text in draft.forms.items()}
    return Upload(draft.filename, draft.bpmn_xml.encode("utf-8"), forms, draft.process_id)


def save_draft(session: Session, files: list[tuple[str, bytes]], actor: str, now: datetime) -> ProcessDraft:
    """Keep an upload as a draft (audited as `draft_saved`); DeploymentError for a bad upload."""
    upload = split_upload(session, files)
    try:
        text = upload.data.decode("utf-8")
        forms = {name: data.decode("utf-8") for name, data in upload.forms.items()}
    except UnicodeDecodeError:
        raise DeploymentError(f"{upload.filename}: the files must be UTF-8 encoded", key="deploy.not_utf8",
                              params={"file": upload.filename}) from None
    draft = ProcessDraft(process_id=upload.process_id, filename=upload.filename, bpmn_xml=text, forms=forms,
                         saved_by=actor, saved_at=now)
    session.add(draft)
    session.flush()
    audit.append(session, kind="draft_saved", actor=actor, at=now,
                 payload={"draft_id": draft.id, "process": upload.process_id, "file": upload.filename})
    return draft


def draft_row(session: Session, draft_id: int) -> ProcessDraft:
    draft = session.get(ProcessDraft, draft_id)
    if draft is None:
        raise NotFound(f"draft {draft_id} does not exist", key="draft.missing", params={"id": draft_id})
    return draft


def preview(session: Session, draft: ProcessDraft) -> dict[str, Any]:
    """Lint findings, the diff against the current version, and the running instances it touches."""
    upload = _upload(draft)
    with tempfile.TemporaryDirectory() as folder:
        forms_dir = upload.forms_dir(Path(folder))
        findings = lint_bytes(upload.data, upload.filename, forms_dir,
                              known_messages=deployed_catches(session, skip=draft.process_id),
                              known_processes=deployed_ids(session))
        forms = None
        with contextlib.suppress(BpmnReadError, DeploymentError, ValueError, OSError):
            forms = load_forms(draft_model(session, upload), forms_dir)
    current_row = versions.current_row(session, draft.process_id) if draft.process_id else None
    current = session.get(Deployment, current_row.deployment_id) if current_row else None
    changes, waiting = None, {}
    if current is not None and forms is not None:
        with contextlib.suppress(BpmnReadError):
            changes = diff_versions(current.bpmn_xml.encode("utf-8"), current.forms, upload.data, forms,
                                    upload.filename).as_dict()
    if changes is not None:
        touched = [e["id"] for e in changes["removed"]] + [c["id"] for c in changes["changed"]]
        waiting = waiting_on(session, current.id, touched)
    return {**draft_head(draft), "current_version": current.version if current else None,
            "findings": [{"severity": f.severity, "rule": f.rule, "line": f.line, "col": f.col, **f.messages("en")}
                         for f in findings],
            "deployable": not any(f.severity == "error" for f in findings) and draft.process_id is not None,
            "diff": changes, "waiting": waiting}


def deploy_draft(session: Session, draft_id: int, actor: str) -> DeployResult:
    """Deploy what the draft holds (refused, with the lint errors, like any deploy); the draft is gone."""
    draft = draft_row(session, draft_id)
    upload = _upload(draft)
    # A draft holds one file: deployed as a set of one, so its call activities resolve to the
    # deployed processes and each of its processes becomes a version. The forms were merged with
    # the current version's when the draft was saved.
    results = deploy_together(session, [(upload.filename, upload.data), *upload.forms.items()], actor,
                              inherit_forms=False, max_files=None)
    result = next((r for r in results if r.process_id == draft.process_id), results[0])
    discard_draft(session, draft_id, actor, deployed_as=result.version)
    return result


def draft_model(session: Session, upload: Upload) -> ProcessModel:
    """The model of the draft's process, its call activities resolved as its deploy would."""
    sources, _ = bpmn_sources([(upload.filename, upload.data)], max_files=None)
    pinned = called_files(session, upload.process_id, sources[0], sources) if upload.process_id else {}
    return load_model(upload.data, upload.filename, upload.process_id, pinned)


def deployed_ids(session: Session) -> set[str]:
    return set(session.execute(select(CurrentVersion.process_id)).scalars())


def discard_draft(session: Session, draft_id: int, actor: str, deployed_as: int | None = None) -> None:
    draft = draft_row(session, draft_id)
    audit.append(session, kind="draft_deleted", actor=actor, at=utcnow(),
                 payload={"draft_id": draft.id, "process": draft.process_id, "deployed_as": deployed_as})
    session.delete(draft)


def preview_file(session: Session, path: Path, actor: str, now: datetime) -> dict[str, Any]:
    """The preview of a file on disk (with the forms beside it, forms/<process>/), stored nowhere:
    what `tourflow deploy --preview` prints."""
    data = read_bytes(path)
    process_id = first_process_id(data, path.name)
    forms: dict[str, str] = {}
    folder = forms_dir_for(path, process_id) if process_id else None
    if folder is not None and folder.is_dir():
        forms = {f.name: f.read_text(encoding="utf-8", errors="replace") for f in sorted(folder.glob("*.json"))}
    draft = ProcessDraft(process_id=process_id, filename=path.name, bpmn_xml=data.decode("utf-8", "replace"),
                         forms=forms, saved_by=actor, saved_at=now)
    return preview(session, draft)


def draft_head(draft: ProcessDraft) -> dict[str, Any]:
    """What both the summary and the preview of a draft begin with."""
    return {"id": draft.id, "process_id": draft.process_id, "filename": draft.filename,
            "saved_by": draft.saved_by, "saved_at": draft.saved_at.isoformat()}


def summary(draft: ProcessDraft) -> dict[str, Any]:
    return {**draft_head(draft), "size": len(draft.bpmn_xml) + len(json.dumps(draft.forms))}


__all__ = ["deploy_draft", "discard_draft", "draft_head", "draft_row", "preview", "preview_file", "save_draft", "summary",
           "waiting_on"]
