"""SpiffArena's conventions (issue 16, docs/bpmn-conventions.md "Files from SpiffArena").

SpiffArena keeps a process model's form files beside its .bpmn (`<name>-schema.json`, UI schema
`<name>-uischema.json`, named by the user task properties `formJsonSchemaFilename` and
`formUiSchemaFilename`); tourflow keeps them in `forms/<process id>/`. Both are read: the
`forms/<process id>/` folder when it exists, else the folder of the .bpmn.

What SpiffArena exports and tourflow cannot run (DMN decisions, data stores, signal buttons, guest
access) is a located `spiff-unsupported` error, so a process never deploys to fail later.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from engine.bpmn.form_files import shown_form_path
from engine.bpmn.json_locate import line_col
from engine.bpmn.lint_messages import msg
from engine.bpmn.lint_model import NS, SPIFF, BpmnDocument, Finding, bpmn_tag, described

UI_PROPERTY = "formUiSchemaFilename"
MAX_UI_SCHEMA_BYTES = 256 * 1024
PROPERTY_PATH = "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property"

# spiffworkflow:* extension elements that SpiffArena writes and tourflow does not run -> message
# key; spiffworkflow:unitTests and taskMetadataValues are ignored (harmless: script unit tests
# and SpiffArena's task list columns).
UNSUPPORTED_EXTENSIONS = {
    "calledDecisionId": "spiff-unsupported.dmn",
    "signalButtonLabel": "spiff-unsupported.signal-button",
    "allowGuest": "spiff-unsupported.guest",
    "guestConfirmation": "spiff-unsupported.guest",
}
UNSUPPORTED_ELEMENTS = frozenset({"dataStore", "dataStoreReference"})


def ui_schema_ref(task) -> str | None:
    """The UI schema file a user task names (`formUiSchemaFilename`), None without one."""
    for prop in task.iterfind(PROPERTY_PATH, NS):
        if prop.get("name") == UI_PROPERTY and (prop.get("value") or "").strip():
            return prop.get("value").strip()
    return None


def _ui_property(task):
    return next((p for p in task.iterfind(PROPERTY_PATH, NS) if p.get("name") == UI_PROPERTY), None)


def check_ui_schemas(doc: BpmnDocument) -> Iterator[Finding]:
    """A user task's UI schema must be there and be a JSON object, like its form."""
    if doc.forms_dir is None:
        return
    for task in doc.of_type("userTask"):
        prop = _ui_property(task)
        name = ui_schema_ref(task)
        if prop is None or name is None:
            continue
        element = described(task)
        if "/" in name or "\\" in name or name.startswith(".") or not name.endswith(".json"):
            yield doc.error(prop, "form-invalid",
                            msg("form-invalid.name", element=element, filename=name, process=doc.process_id))
            continue
        path = Path(doc.forms_dir) / name
        shown = shown_form_path(doc.process_id, name)
        problem, at = ui_schema_problem(path)
        if problem is not None:
            where = f"{shown}:{at[0]}:{at[1]}" if at else shown
            yield doc.error(prop, "form-invalid", msg("form-invalid", shown=where, element=element, problem=problem))


def ui_schema_problem(path: Path):
    """(why the file is no usable UI schema, (line, col) inside it when known); (None, None) if it is."""
    try:
        if not path.is_file():
            return msg("form.not-found"), None
        if path.stat().st_size > MAX_UI_SCHEMA_BYTES:
            return msg("form.too-large", limit=MAX_UI_SCHEMA_BYTES), None
        text = path.read_bytes().decode("utf-8")
        value = json.loads(text)
    except OSError as exc:
        return msg("form.unreadable", reason=str(exc.strerror)), None
    except UnicodeDecodeError as exc:
        return msg("form.bad-json", error=str(exc.reason), line=1), (1, 1)
    except json.JSONDecodeError as exc:
        return msg("form.bad-json", error=exc.msg, line=exc.lineno), (exc.lineno, exc.colno)
    except RecursionError:
        return msg("form.json-too-deep"), None
    if not isinstance(value, dict):
        return msg("ui-schema.not-object"), line_col(text, len(text) - len(text.lstrip()))
    return None, None


def check_spiff_unsupported(doc: BpmnDocument) -> Iterator[Finding]:
    for el in doc.root.iter(f"{{{SPIFF}}}*"):
        local = el.tag.split("}", 1)[1]
        key = UNSUPPORTED_EXTENSIONS.get(local)
        holder = el.getparent().getparent() if el.getparent() is not None else None  # extensionElements' owner
        if key is None or holder is None:
            continue
        element, extension = described(holder), f"spiffworkflow:{local}"
        if key == "spiff-unsupported.dmn":
            text = msg("spiff-unsupported.dmn", element=element, decision=(el.text or "").strip())
        elif key == "spiff-unsupported.signal-button":
            text = msg("spiff-unsupported.signal-button", element=element)
        else:
            text = msg("spiff-unsupported.guest", element=element, extension=extension)
        yield doc.error(el, "spiff-unsupported", text)
    for el in doc.root.iter():
        if bpmn_tag(el) in UNSUPPORTED_ELEMENTS:
            yield doc.error(el, "spiff-unsupported", msg("spiff-unsupported.data-store", element=described(el)))


SPIFF_RULES = (check_ui_schemas, check_spiff_unsupported)

__all__ = ["SPIFF_RULES", "UI_PROPERTY", "check_spiff_unsupported", "check_ui_schemas", "ui_schema_problem", "ui_schema_ref"]
