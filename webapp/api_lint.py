"""/api/v1/lint and /api/v1/forms/preview: what the modeler checks while an owner edits, storing
nothing: the findings of `tourflow lint` for the diagram (with the forms being edited), and a form
schema drawn as the fields staff will see."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from flask import abort, render_template

from engine.access.policy import Capability
from engine.bpmn.form_files import FORM_NAME_HINT, is_form_name
from engine.bpmn.lint import lint_bytes
from engine.bpmn.lint_content import form_problems
from engine.bpmn.lint_messages import language
from engine.bpmn.lint_model import NS
from engine.bpmn.xmlsafe import MAX_BPMN_BYTES, parse_bpmn_xml
from engine.limits import NAME_MAX
from engine.run.deployments import MAX_UPLOAD_FILES, previous_forms
from webapp.api_args import Routes, invalid, json_body
from webapp.app_state import runtime
from webapp.auth import capability_required
from webapp.form_fields import build_fields
from webapp.i18n import get_locale

routes = Routes()


@routes.post("/lint")
@capability_required(Capability.READ_DEFINITIONS)
def lint():
    """Lint `bpmn_xml` with the forms of the current version of `process_id` (default: the XML's process)."""
    body = json_body()
    xml = body.get("bpmn_xml")
    if not isinstance(xml, str) or not xml.strip():
        raise invalid("bpmn_xml", "send the diagram's BPMN XML as a non-empty string")
    data = xml.encode("utf-8", "surrogatepass")
    if len(data) > MAX_BPMN_BYTES:
        abort(413, description=f"the diagram has {len(data)} bytes; at most {MAX_BPMN_BYTES} are accepted")
    process_id = body.get("process_id")
    if process_id is not None and (not isinstance(process_id, str) or not 0 < len(process_id) <= NAME_MAX):
        raise invalid("process_id", f"a process id of 1 to {NAME_MAX} characters, or absent")
    own_id = _process_id_of(data)
    process_id = process_id or own_id
    edited = edited_forms(body.get("forms"))
    with runtime().reading() as session:
        forms = previous_forms(session, process_id) if process_id else {}
    forms.update(edited)
    filename = f"{own_id or process_id or 'process'}.bpmn"
    with tempfile.TemporaryDirectory() as folder:
        for name, text in forms.items():
            (Path(folder) / Path(name).name).write_bytes(text)
        findings = lint_bytes(data, filename, Path(folder) if process_id or edited else None)
    return {"process_id": process_id, "findings": [finding_json(f) for f in findings],
            "errors": sum(f.severity == "error" for f in findings),
            "warnings": sum(f.severity == "warning" for f in findings)}


def edited_forms(value: Any) -> dict[str, bytes]:
    """The `forms` of a lint request: {"name.schema.json": schema object} -> file contents."""
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_UPLOAD_FILES:
        raise invalid("forms", f"an object of at most {MAX_UPLOAD_FILES} forms: file name -> JSON Schema")
    out: dict[str, bytes] = {}
    for name, schema in value.items():
        if not is_form_name(name) or "/" in name:
            raise invalid("forms", f"'{name[:80]}' is not a form file name ({FORM_NAME_HINT})")
        if not isinstance(schema, dict):
            raise invalid("forms", f"the form {name} must be a JSON Schema object")
        out[name] = json.dumps(schema, ensure_ascii=False).encode("utf-8")
    return out


@routes.post("/forms/preview")
@capability_required(Capability.READ_DEFINITIONS)
def preview_form():
    """`schema` drawn as the task page draws it (`html`), with what keeps it from being used."""
    schema = json_body().get("schema")
    if not isinstance(schema, dict):
        raise invalid("schema", "send the form's JSON Schema as an object")
    problems = [p.render(language(get_locale())) for p in form_problems(schema)]
    fields = build_fields(schema) if not problems else []
    html = render_template("processes/_form_preview.html", schema=schema, fields=fields)
    return {"valid": not problems, "problems": problems, "html": html,
            "fields": [{"name": f.name, "label": f.label, "widget": f.widget, "required": f.required}
                       for f in fields]}


def finding_json(finding) -> dict[str, Any]:
    """A finding as the API shows it: `message` in the user's language (Chinese unless they chose English)."""
    return {"severity": finding.severity, "rule": finding.rule, "line": finding.line, "col": finding.col,
            **finding.messages(get_locale()), "element": finding.element}


def _process_id_of(data: bytes) -> str | None:
    """The id of the file's executable process (as the lint rules pick it), None when it does not read."""
    try:
        root = parse_bpmn_xml(data, "lint.bpmn").getroot()
    except Exception:  # lint reports what is wrong with the file
        return None
    processes = root.findall("bpmn:process", NS)
    chosen = [p for p in processes if p.get("isExecutable") == "true"] or processes
    return chosen[0].get("id") if chosen else None
