"""Process owner pages: deployed processes and versions, their lint findings, their diagrams."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from engine.access.policy import Capability
from engine.bpmn.lint import lint_bytes
from engine.clock import utcnow
from engine.errors import DeploymentError, FormInvalid, TaskConflict
from engine.limits import DEPLOYED_CACHE_MAX, BoundedCache
from engine.run import queries
from engine.run.deploy_set import deploy_together
from engine.run.drafts import save_draft, summary
from engine.store.models import ProcessDraft
from webapp.app_state import runtime
from webapp.auth import capability_required
from webapp.errors import message_of
from webapp.i18n import gettext as _
from webapp.migration_form import filter_args, filter_form

bp = Blueprint("processes", __name__)

# Deployed versions never change, so their findings are cached by the XML's digest (bounded).
LINT_FINDINGS: BoundedCache[str, list[dict[str, Any]]] = BoundedCache(DEPLOYED_CACHE_MAX)


def findings_of(xml: str, filename: str) -> list[dict[str, Any]]:
    data = xml.encode("utf-8")
    key = hashlib.sha256(data).hexdigest() + ":" + filename
    return LINT_FINDINGS.get_or_make(key, lambda: [
        {"severity": f.severity, "rule": f.rule, "line": f.line, "col": f.col, **f.messages("en")}
        for f in lint_bytes(data, filename, None)])


def _versions() -> list[dict[str, Any]]:
    with runtime().reading() as session:
        return queries.deployments(session)


@bp.route("/processes")
@capability_required(Capability.READ_DEFINITIONS)
def index():
    return render_template("processes/index.html", processes=_grouped(), drafts=_drafts())


def _drafts() -> list[dict[str, Any]]:
    if not current_user.may("deploy"):
        return []
    with runtime().reading() as session:
        return [summary(d) for d in session.execute(select(ProcessDraft).order_by(ProcessDraft.id.desc())).scalars()]


def _grouped() -> list[dict[str, Any]]:
    rt = runtime()
    grouped: dict[str, dict[str, Any]] = {}
    for version in _versions():
        entry = grouped.setdefault(version["process_id"], {"process_id": version["process_id"],
                                                           "name": version["name"], "versions": []})
        xml = rt.deployment_xml(version["process_id"], version["version"])
        entry["versions"].append({**version, "findings": findings_of(xml, version["filename"])})
    return list(grouped.values())


@bp.post("/processes/deploy")
@capability_required(Capability.DEPLOY)
def deploy():
    files = [(f.filename or "", f.read()) for f in request.files.getlist("files") if f.filename]
    try:
        if not files:
            raise DeploymentError(_("请选择要部署的 .bpmn 文件或 .zip 文件"))
        with runtime().transaction() as tx:
            if request.form.get("preview") == "1":
                draft = save_draft(tx.session, files, current_user.username, utcnow())
                return redirect(url_for("drafts.show", draft_id=draft.id), 303)
            results = deploy_together(tx.session, files, current_user.username)
    except DeploymentError as exc:
        findings = [{"severity": f.severity, "rule": f.rule, "line": f.line, "col": f.col,
                     **{k: f"{f.file}: {text}" for k, text in f.messages("en").items()}}
                    for f in exc.findings if f.severity == "error"]
        return render_template("processes/index.html", processes=_grouped(), drafts=_drafts(),
                               deploy_message=message_of(exc), deploy_findings=findings), 422
    for result in results:
        if result.created:
            flash(_("已部署 {process} 版本 {version}", process=result.process_id, version=result.version), "success")
        elif result.current:
            flash(_("{process} 内容未变化，仍为版本 {version}", process=result.process_id, version=result.version),
                  "info")
        else:
            flash(_("{process} 内容与版本 {version} 相同，未产生新版本；该版本不是当前版本，可在下方“设为当前版本”。",
                    process=result.process_id, version=result.version), "info")
    return redirect(url_for("processes.index"))


@bp.post("/processes/<process_id>/<int:version>/activate")
@capability_required(Capability.DEPLOY)
def activate(process_id: str, version: int):
    try:
        runtime().activate_version(process_id, version, current_user.username, request.form.get("reason", ""))
    except FormInvalid:
        flash(_("请填写设为当前版本的原因"), "error")
        return redirect(url_for("processes.index"), 303)
    flash(_("{process} 的新实例将从版本 {version} 发起；运行中的实例不受影响", process=process_id, version=version),
          "success")
    return redirect(url_for("processes.index"), 303)


@bp.route("/processes/<process_id>/<int:version>")
@capability_required(Capability.READ_DEFINITIONS)
def version(process_id: str, version: int):
    rt = runtime()
    xml = rt.deployment_xml(process_id, version)  # NotFound -> 404
    info = next(v for v in _versions() if v["process_id"] == process_id and v["version"] == version)
    return render_template("processes/version.html", v=info, findings=findings_of(xml, info["filename"]))


@bp.route("/processes/<process_id>/<int:version>/heatmap")
@capability_required(Capability.READ_HEATMAP)
def heatmap(process_id: str, version: int):
    from engine.history.heatmap import heatmap as build

    data = build(runtime(), process_id, version)  # NotFound -> 404
    info = next(v for v in _versions() if v["process_id"] == process_id and v["version"] == version)
    rows = sorted(data["heat"].items(), key=lambda item: (-item[1]["median_s"], item[0]))
    return render_template("processes/heatmap.html", v=info, heat=data, rows=rows)


@bp.route("/processes/<process_id>/diff")
@capability_required(Capability.READ_DEFINITIONS)
def diff(process_id: str):
    """Two versions side by side, what changed coloured on both diagrams and listed below."""
    versions = [v for v in _versions() if v["process_id"] == process_id]
    if not versions:
        abort(404)
    numbers = [v["version"] for v in versions]  # newest first
    new = _version_arg("to", numbers[0], numbers)
    old = _version_arg("from", max((n for n in numbers if n < new), default=new), numbers)
    changes = runtime().version_diff(process_id, old, new)
    return render_template("processes/diff.html", process_id=process_id, name=versions[0]["name"],
                           numbers=numbers, old=old, new=new, diff=changes)


def _version_arg(name: str, default: int, numbers: list[int]) -> int:
    raw = request.values.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) not in numbers:
        abort(404, _("没有版本 {version}", version=raw[:20]))
    return int(raw)


@bp.route("/processes/<process_id>/migrate", methods=["GET", "POST"])
@capability_required(Capability.DEPLOY)
def migrate(process_id: str):
    """Move running instances between versions: a dry run first, then the real move."""
    versions = [v for v in _versions() if v["process_id"] == process_id]
    if not versions:
        abort(404)
    numbers = [v["version"] for v in versions]
    current = next((v["version"] for v in versions if v["current"]), numbers[0])
    form = {"from": _version_arg("from", next((n for n in numbers if n != current), current), numbers),
            "to": _version_arg("to", current, numbers), "mapping": request.form.get("mapping", ""),
            "reason": request.form.get("reason", ""), **filter_form(request.form)}
    report, error, status = None, None, 200
    if request.method == "POST":
        try:
            mapping = _mapping_lines(form["mapping"])
            report = runtime().migrate_instances(process_id, form["from"], form["to"], current_user.username,
                                                 form["reason"], mapping, dry_run=request.form.get("dry_run") == "1",
                                                 **filter_args(form))
        except (FormInvalid, TaskConflict) as exc:
            error, status = message_of(exc), 422 if isinstance(exc, FormInvalid) else 409
    running = {v["version"]: v["running"] for v in versions}
    return render_template("processes/migrate.html", process_id=process_id, name=versions[0]["name"],
                           numbers=numbers, current=current, form=form, running=running, report=report,
                           error=error, waiting=runtime().waiting_nodes(process_id, form["from"])), status


def _mapping_lines(text: str) -> dict[str, str]:
    """`old=new` per line (blank lines ignored) -> {old: new}."""
    mapping = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        old, sep, new = line.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise FormInvalid(_("映射第 {n} 行应写成 旧节点=新节点", n=number), field="mapping")
        mapping[old.strip()] = new.strip()
    return mapping
