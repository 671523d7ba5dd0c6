"""Process owner pages: deployed processes and versions, their lint findings, their diagrams."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, render_template

from engine import queries
from engine.lint import lint_bytes

from . import runtime
from .auth import roles_required

bp = Blueprint("processes", __name__)

# Deployed versions never change, so their findings are cached by the XML's digest.
_FINDINGS: dict[str, list[dict[str, Any]]] = {}


def findings_of(xml: str, filename: str) -> list[dict[str, Any]]:
    data = xml.encode("utf-8")
    key = hashlib.sha256(data).hexdigest() + ":" + filename
    if key not in _FINDINGS:
        _FINDINGS[key] = [{"severity": f.severity, "rule": f.rule, "line": f.line, "col": f.col,
                           "message": f.message} for f in lint_bytes(data, filename, None)]
    return _FINDINGS[key]


def _versions() -> list[dict[str, Any]]:
    with runtime().db.read() as session:
        return queries.deployments(session)


@bp.route("/processes")
@roles_required("owner", "auditor")
def index():
    rt = runtime()
    grouped: dict[str, dict[str, Any]] = {}
    for version in _versions():
        entry = grouped.setdefault(version["process_id"], {"process_id": version["process_id"],
                                                           "name": version["name"], "versions": []})
        xml = rt.deployment_xml(version["process_id"], version["version"])
        entry["versions"].append({**version, "findings": findings_of(xml, version["filename"])})
    return render_template("processes/index.html", processes=list(grouped.values()))


@bp.route("/processes/<process_id>/<int:version>")
@roles_required("owner", "auditor")
def version(process_id: str, version: int):
    rt = runtime()
    xml = rt.deployment_xml(process_id, version)  # NotFound -> 404
    info = next(v for v in _versions() if v["process_id"] == process_id and v["version"] == version)
    return render_template("processes/version.html", v=info, findings=findings_of(xml, info["filename"]))
