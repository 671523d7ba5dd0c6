"""Versioned deployments: a changed file (or form) makes version n+1; the same content deploys nothing."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.bpmn.canonical import canonical_digest
from engine.bpmn.form_files import FORM_SUFFIX, forms_folder, is_form_name
from engine.bpmn.lint_flow import catches_in
from engine.bpmn.lint_model import Finding
from engine.bpmn.specs import ProcessModel, load_forms, load_model, process_ids
from engine.bpmn.xmlsafe import read_bytes
from engine.clock import utcnow
from engine.errors import BpmnReadError, DeploymentError
from engine.run import versions
from engine.store import audit
from engine.store.audit import canonical_json
from engine.store.models import CurrentVersion, Deployment


@dataclass(frozen=True)
class DeployResult:
    file: str
    process_id: str
    version: int
    deployment_id: int
    created: bool
    current: bool = True  # new instances start on this version (engine/run/versions.py)
    warnings: tuple[Finding, ...] = ()  # lint warnings of the file: deployed all the same


def bpmn_files(paths: list[Path]) -> list[Path]:
    """Expand folders into their *.bpmn files (recursively, sorted)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.rglob("*.bpmn")))
        else:
            files.append(path)
    return files


def forms_dir_for(path: Path, process_id: str) -> Path:
    return forms_folder(path.parent, process_id)


def deploy_file(session: Session, path: Path, actor: str, known_messages: Collection[str] = ()) -> DeployResult:
    """`known_messages`: messages caught by files deployed along with this one (not yet stored)."""
    data = read_bytes(path)
    return deploy_bytes(session, data, str(path), None, actor, path=path, known_messages=known_messages)


def deployed_catches(session: Session, skip: str | None = None) -> set[str]:
    """The message names the current versions of the deployed processes (but `skip`) catch."""
    rows = session.execute(select(Deployment.process_id, Deployment.filename, Deployment.bpmn_xml)
                           .join(CurrentVersion, CurrentVersion.deployment_id == Deployment.id)).all()
    return {name for process_id, filename, xml in rows if process_id != skip
            for name in catches_in(xml.encode("utf-8"), filename)}


MAX_UPLOAD_FILES = 50


@dataclass(frozen=True)
class Upload:
    """One uploaded process: its .bpmn and every form it may use, the current version's forms
    filling in those not uploaded."""

    filename: str
    data: bytes
    forms: dict[str, bytes]
    process_id: str | None

    def forms_dir(self, folder: Path) -> Path:
        for name, text in self.forms.items():
            (folder / name).write_bytes(text)
        return folder


def split_upload(session: Session, files: list[tuple[str, bytes]]) -> Upload:
    """Check an upload's file names and gather its forms; DeploymentError says what is wrong."""
    bpmn = [(name, data) for name, data in files if name.lower().endswith(".bpmn")]
    forms = [(name, data) for name, data in files if is_form_name(name)]
    other = [name for name, _ in files if not name.lower().endswith(".bpmn") and not is_form_name(name)]
    if len(bpmn) != 1:
        raise DeploymentError(f"upload exactly one .bpmn file (got {len(bpmn)})", key="deploy.one_bpmn",
                              params={"count": len(bpmn)})
    if other:
        raise DeploymentError(f"only .bpmn and {FORM_SUFFIX} files can be deployed, not {', '.join(other)}",
                              key="deploy.wrong_files", params={"suffix": FORM_SUFFIX, "files": ", ".join(other)})
    if len(files) > MAX_UPLOAD_FILES:
        raise DeploymentError(f"at most {MAX_UPLOAD_FILES} files per upload", key="deploy.too_many_files",
                              params={"limit": MAX_UPLOAD_FILES})
    name, data = bpmn[0]
    process_id = first_process_id(data, Path(name).name)
    merged = previous_forms(session, process_id) if process_id else {}
    merged.update({Path(form_name).name: form_data for form_name, form_data in forms})
    return Upload(Path(name).name, data, merged, process_id)


def first_process_id(data: bytes, filename: str) -> str | None:
    """The process a single-file upload or draft is about: the file's first executable process
    (None: unreadable, or none; lint says why)."""
    try:
        ids = process_ids(data, filename)
    except BpmnReadError:
        return None
    return ids[0] if ids else None


def deploy_upload(session: Session, files: list[tuple[str, bytes]], actor: str) -> DeployResult:
    """Deploy one uploaded .bpmn with its forms (*.schema.json).

    Forms not uploaded are taken from the current version of the same process, so a process
    owner who changed only the diagram uploads only the diagram.
    """
    upload = split_upload(session, files)
    with tempfile.TemporaryDirectory() as folder:
        return deploy_bytes(session, upload.data, upload.filename, upload.forms_dir(Path(folder)), actor)


def previous_forms(session: Session, process_id: str) -> dict[str, bytes]:
    """The form files of the current version (the newest, if none is current)."""
    current = versions.current_row(session, process_id)
    previous = session.get(Deployment, current.deployment_id) if current is not None else session.execute(
        select(Deployment).where(Deployment.process_id == process_id).order_by(Deployment.version.desc()).limit(1)
    ).scalar_one_or_none()
    return {ref: canonical_json(schema).encode() for ref, schema in (previous.forms if previous else {}).items()}


def same_content(session: Session, process_id: str, data: bytes, forms: dict) -> Deployment | None:
    """A deployed version with these forms whose BPMN differs from `data` only in formatting (a
    modeler's round trip: indentation, attribute order, namespace prefixes), newest first."""
    digest = None
    for row in session.execute(select(Deployment).where(Deployment.process_id == process_id)
                               .order_by(Deployment.version.desc())).scalars():
        if row.forms != forms:
            continue
        digest = digest or canonical_digest(data)
        if canonical_digest(row.bpmn_xml.encode("utf-8"), row.filename) == digest:
            return row
    return None


def deploy_bytes(session: Session, data: bytes, filename: str, forms_dir: Path | None, actor: str,
                 path: Path | None = None, known_messages: Collection[str] = ()) -> DeployResult:
    """Lint, parse and store one BPMN file; refuses it whole on any lint error. A message it throws
    that no deployed process, no file of `known_messages` and not itself catches is a warning."""
    from engine.bpmn.lint import has_errors, lint_bytes

    model, unread = None, None
    try:
        model = load_model(data, filename)
    except BpmnReadError as exc:  # lint reports it with line and column
        unread = exc
    if forms_dir is None and path is not None and model is not None:
        forms_dir = forms_dir_for(path, model.process_id)
    known = deployed_catches(session, skip=model.process_id if model is not None else None)
    findings = lint_bytes(data, filename, forms_dir, known_messages=known | set(known_messages))
    if has_errors(findings) or model is None:
        errors = [f for f in findings if f.severity == "error"]
        if not errors and unread is not None:  # e.g. two processes, or a call to another file
            raise DeploymentError(f"{filename}: {unread.message}; deploy it with the files it needs "
                                  "(tourflow deploy, or the upload of the Processes page or the API); nothing deployed",
                                  findings, key="deploy.needs_files", params={"file": filename})
        raise DeploymentError(f"{filename}: {len(errors)} error(s); nothing deployed", findings,
                              key="deploy.refused", params={"file": filename, "count": len(errors)})
    warnings = tuple(f for f in findings if f.severity == "warning")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DeploymentError(f"{filename}: the file must be UTF-8 encoded (byte {exc.start})", key="deploy.not_utf8",
                              params={"file": filename}) from None
    forms = load_forms(model, forms_dir)
    return store_version(session, model, text, filename, forms, actor, warnings)


def store_version(session: Session, model: ProcessModel, text: str, filename: str, forms: dict, actor: str,
                  warnings: tuple[Finding, ...] = (), called_files: dict[str, str] | None = None) -> DeployResult:
    """Store one linted process as its next version (nothing when the same content is deployed)
    and make it current. `called_files`: the other files its call activities resolved to."""
    data = text.encode("utf-8")
    called_files = called_files or {}
    pinned = canonical_json(called_files).encode() if called_files else b""
    digest = hashlib.sha256(data + canonical_json(forms).encode() + pinned).hexdigest()
    existing = session.execute(
        select(Deployment).where(Deployment.process_id == model.process_id, Deployment.sha256 == digest)
    ).scalar_one_or_none() or (None if called_files else same_content(session, model.process_id, data, forms))
    if existing is not None:
        current = versions.current_row(session, model.process_id)
        return DeployResult(filename, model.process_id, existing.version, existing.id, False,
                            current is not None and current.deployment_id == existing.id, warnings)
    version = (session.execute(
        select(func.max(Deployment.version)).where(Deployment.process_id == model.process_id)
    ).scalar() or 0) + 1
    now = utcnow()
    deployment = Deployment(
        process_id=model.process_id, version=version, name=model.name, sha256=digest,
        filename=Path(filename).name, bpmn_xml=text, forms=forms,
        node_lanes=model.node_lanes, deployed_at=now, deployed_by=actor, called_files=called_files,
    )
    session.add(deployment)
    session.flush()
    audit.append(session, kind="process_deployed", actor=actor, at=now,
                 payload={"process": model.process_id, "version": version, "sha256": digest,
                          "file": Path(filename).name, "deployment_id": deployment.id, "current": True})
    versions.make_current(session, deployment, model, actor, now)
    return DeployResult(filename, model.process_id, version, deployment.id, True, warnings=warnings)
