"""Deploying several files together: every executable process of every .bpmn becomes its own
deployment, call activities resolve among the files (else to the deployed process they name), and
one lint error anywhere refuses them all. The caller's transaction holds the whole set.

A set is a list of (name, bytes): .bpmn files and form files (`x.schema.json`: any process's,
`forms/<process id>/x.schema.json`: that process's), or one .zip holding them (engine/run/zip_bundle.py).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.bpmn.calls import processes_by_id, reachable_calls
from engine.bpmn.form_files import FORM_SUFFIX, is_form_name
from engine.bpmn.lint_flow import catches_in
from engine.bpmn.lint_model import Finding
from engine.bpmn.specs import load_forms, load_model, process_ids
from engine.bpmn.xmlsafe import parse_bpmn_xml
from engine.errors import BpmnReadError, DeploymentError
from engine.run.deployments import MAX_UPLOAD_FILES, DeployResult, previous_forms, store_version
from engine.run.zip_bundle import is_zip_name, read_zip
from engine.store.models import CurrentVersion, Deployment


@dataclass
class BpmnSource:
    name: str
    data: bytes
    process_ids: list[str]
    root: etree._Element | None  # None: unreadable (lint says why)


def bpmn_sources(files: list[tuple[str, bytes]], max_files: int | None = MAX_UPLOAD_FILES,
                 ) -> tuple[list[BpmnSource], dict[str, bytes]]:
    """The .bpmn files of a set and its forms by name; DeploymentError for anything else."""
    if len(files) == 1 and is_zip_name(files[0][0]):
        files = read_zip(files[0][1])
    other = [n for n, _ in files if not n.lower().endswith(".bpmn") and not is_form_name(n)]
    if other:
        raise DeploymentError(f"only .bpmn and {FORM_SUFFIX} files (or one .zip) can be deployed, not {', '.join(other)}",
                              key="deploy.wrong_files", params={"suffix": FORM_SUFFIX, "files": ", ".join(other)})
    if max_files is not None and len(files) > max_files:
        raise DeploymentError(f"at most {max_files} files per deploy", key="deploy.too_many_files", params={"limit": max_files})
    sources = []
    for name, data in files:
        if not name.lower().endswith(".bpmn"):
            continue
        root, ids = None, []
        with contextlib.suppress(BpmnReadError):
            root = parse_bpmn_xml(data, name).getroot()
            ids = process_ids(data, name)
        sources.append(BpmnSource(name, data, ids, root))
    if not sources:
        raise DeploymentError("no .bpmn file to deploy", key="deploy.no_bpmn")
    names = [PurePosixPath(s.name).name for s in sources]
    if len(set(names)) != len(names):
        raise DeploymentError("two .bpmn files of one deploy have the same name", key="deploy.same_name")
    return sources, {n: d for n, d in files if is_form_name(n)}


def forms_for(forms: dict[str, bytes], process_ids: Collection[str], inherited: dict[str, bytes],
              folder: Path) -> Path:
    """Write into `folder` the forms the processes may use: inherited ones, then the set's
    unscoped forms, then each process's own `forms/<id>/` ones (later ones win)."""
    chosen = dict(inherited)
    chosen.update({PurePosixPath(n).name: d for n, d in forms.items() if PurePosixPath(n).parent.name != "forms"
                   and PurePosixPath(n).parent.parent.name != "forms"})
    for process_id in process_ids:
        chosen.update({PurePosixPath(n).name: d for n, d in forms.items()
                       if PurePosixPath(n).parent.parts[-2:] == ("forms", process_id)})
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in chosen.items():
        (folder / name).write_bytes(data)
    return folder


def called_files(session: Session, process_id: str, source: BpmnSource, sources: list[BpmnSource]) -> dict[str, str]:
    """File name -> BPMN text of the files (other than the process's own) holding what it calls:
    a file of the set, else the current version of the deployed process (and what that pins)."""
    in_set = processes_by_id([s.root for s in [source, *sources] if s.root is not None])
    file_of = {pid: s for s in [source, *sources] if s.root is not None
               for pid in processes_by_id([s.root])}
    pinned: dict[str, str] = {}
    for called in reachable_calls(process_id, in_set):
        holder = file_of.get(called)
        if holder is source:
            continue
        if holder is not None:
            pinned[PurePosixPath(holder.name).name] = holder.data.decode("utf-8")
            continue
        row = session.execute(select(Deployment).join(CurrentVersion, CurrentVersion.deployment_id == Deployment.id)
                              .where(Deployment.process_id == called)).scalar_one_or_none()
        if row is not None:
            pinned[row.filename] = row.bpmn_xml
            pinned.update(row.called_files or {})
    return pinned


def deploy_together(session: Session, files: list[tuple[str, bytes]], actor: str,
                    inherit_forms: bool = True, known_messages: Collection[str] = (),
                    forms_beside: bool = False, max_files: int | None = MAX_UPLOAD_FILES) -> list[DeployResult]:
    """Lint every file of the set, then deploy each executable process of each; any error refuses
    the whole set (DeploymentError with every file's findings). `inherit_forms`: forms not in the
    set come from the process's current version (an upload of a changed diagram only).
    `forms_beside`: the names are paths on disk and lint reads each process's forms in
    `<folder>/forms/<process id>/` (the set holds them too, as `forms/<process id>/x.schema.json`).
    `max_files`: the cap on an upload's files (None: the operator's own folder)."""
    from engine.bpmn.lint import lint_bytes

    sources, forms = bpmn_sources(files, max_files)
    ids_here = {pid for s in sources for pid in s.process_ids}
    deployed = set(session.execute(select(CurrentVersion.process_id)).scalars())
    known = _catches_without(session, ids_here)
    for source in sources:
        known |= catches_in(source.data, source.name)
    known |= set(known_messages)
    findings: dict[str, list[Finding]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, source in enumerate(sources):
            inherited = _inherited(session, source.process_ids) if inherit_forms else {}
            folder = forms_for(forms, source.process_ids, inherited, Path(tmp) / f"lint{i}")
            findings[source.name] = lint_bytes(
                source.data, source.name, None if forms_beside else folder, known_messages=known,
                known_processes=ids_here | deployed, forms_root=Path(source.name).parent / "forms" if forms_beside else None)
        errors = [f for found in findings.values() for f in found if f.severity == "error"]
        broken = [s.name for s in sources if any(f.severity == "error" for f in findings[s.name])]
        if errors or not ids_here:
            names = ", ".join(broken or [s.name for s in sources])
            raise DeploymentError(f"{names}: {len(errors)} error(s); nothing deployed",
                                  [f for found in findings.values() for f in found],
                                  key="deploy.refused", params={"file": names, "count": len(errors)})
        results: list[DeployResult] = []
        in_set = processes_by_id([s.root for s in sources if s.root is not None])
        for source in sources:
            text = _utf8(source)
            warnings = tuple(f for f in findings[source.name] if f.severity == "warning")
            for process_id in source.process_ids:
                pinned = called_files(session, process_id, source, sources)
                try:
                    model = load_model(source.data, source.name, process_id, pinned)
                except BpmnReadError as exc:  # what lint let through but SpiffWorkflow refuses
                    raise DeploymentError(f"{source.name}: {exc.message}", key=exc.key,
                                          params={**exc.params, "file": source.name}) from None
                inherited = previous_forms(session, process_id) if inherit_forms else {}
                scope = [process_id, *reachable_calls(process_id, in_set)]  # a called process's forms too
                folder = forms_for(forms, scope, inherited, Path(tmp) / f"deploy{len(results)}")
                results.append(store_version(session, model, text, source.name, load_forms(model, folder), actor,
                                             warnings, pinned))
    return results


def _catches_without(session: Session, process_ids: set[str]) -> set[str]:
    """Messages the deployed processes catch, not counting the versions this set replaces."""
    rows = session.execute(select(Deployment.process_id, Deployment.filename, Deployment.bpmn_xml)
                           .join(CurrentVersion, CurrentVersion.deployment_id == Deployment.id)).all()
    return {name for process_id, filename, xml in rows if process_id not in process_ids
            for name in catches_in(xml.encode("utf-8"), filename)}


def _inherited(session: Session, ids: list[str]) -> dict[str, bytes]:
    inherited: dict[str, bytes] = {}
    for process_id in ids:
        inherited.update(previous_forms(session, process_id))
    return inherited


def _utf8(source: BpmnSource) -> str:
    try:
        return source.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DeploymentError(f"{source.name}: the file must be UTF-8 encoded (byte {exc.start})",
                              key="deploy.not_utf8", params={"file": source.name}) from None


__all__ = ["BpmnSource", "bpmn_sources", "called_files", "deploy_together", "forms_for"]
