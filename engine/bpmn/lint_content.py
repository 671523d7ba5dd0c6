"""The content lint rules: expressions and scripts, timers, forms, service-task handlers, data keys.

Every piece of Python in a diagram goes through `scripts.check_source`, the same check the
runtime applies before it compiles anything, so lint and runtime never disagree.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from engine.access import privacy
from engine.bpmn import form_patterns
from engine.bpmn.form_files import shown_form_path
from engine.bpmn.json_locate import locate
from engine.bpmn.lint_messages import Term, Text, msg
from engine.bpmn.lint_model import BPMN, FLOW_NODE_TAGS, NS, SPIFF, BpmnDocument, Finding, bpmn_tag, described
from engine.bpmn.lint_reasons import reason_text
from engine.bpmn.lint_routing import gateway_keys, routing_field_problems
from engine.bpmn.specs import ROUTING_PROPERTY, SUMMARY_PROPERTY
from engine.bpmn.timer_literals import ISO_LIKE, TIMER_PARSERS, parses
from engine.plugins.handlers import handler_names
from engine.sandbox.scripts import check_source

Findings = Iterator[Finding]

RESERVED_KEY = "typename"
FORM_PROPERTY = "formJsonSchemaFilename"
MAX_FORM_BYTES = 1024 * 1024

# (element, how it runs): everything the script engine evaluates or executes.
EXPRESSION_ELEMENTS = (
    (f"{{{BPMN}}}conditionExpression", "eval", "condition"),
    (f"{{{BPMN}}}condition", "eval", "condition"),
    (f"{{{BPMN}}}completionCondition", "eval", "completion condition"),
    (f"{{{BPMN}}}loopCardinality", "eval", "loop cardinality"),
    (f"{{{BPMN}}}loopCondition", "eval", "loop condition"),
    (f"{{{BPMN}}}script", "exec", "script"),
    (f"{{{SPIFF}}}preScript", "exec", "pre-script"),
    (f"{{{SPIFF}}}postScript", "exec", "post-script"),
    (f"{{{SPIFF}}}messagePayload", "eval", "message payload"),
)
# Bare text meant as ISO 8601 that is not (`PT1X`, `R3/PTX`): Python would read it as a data key.
ISO_ATTEMPT = re.compile(r"^(R\d*/\S+|PT?\d[0-9A-Z.,]*|\d{4}-\S+)$")


def _owner(el) -> Text:
    """The flow node or sequence flow around `el` (else the nearest element with an id)."""
    around = list(el.iterancestors())
    for node in around:
        if bpmn_tag(node) in FLOW_NODE_TAGS or bpmn_tag(node) == "sequenceFlow":
            return described(node)
    return next((described(node) for node in around if node.get("id")), msg("the-document"))


def _snippet(source: str) -> str:
    flat = " ".join(source.split())
    return flat if len(flat) <= 80 else flat[:77] + "..."


def _source_findings(doc: BpmnDocument, el, text: str, mode: str, what: Term | Text,
                     in_attribute: bool = False) -> Findings:
    """unsafe-script / script-syntax findings for one piece of Python, placed in the file.

    `text` is the element text as written; expressions are stripped first, as the runtime does.
    """
    source, line_offset, first_col = _as_run(text, mode)
    try:
        problems = check_source(source, mode)
    except (RecursionError, MemoryError):  # CPython's parser on absurd nesting, e.g. "-" * 20000
        problems = [(1, 1, msg("source.too-deep"))]
    for line, col, message in problems:
        rule = "script-syntax" if str(message).startswith("syntax error") else "unsafe-script"
        if in_attribute:
            file_line, file_col = el.sourceline or 1, 1
        elif line == 1:  # the first line shares the tag's line unless a newline was stripped
            file_line, file_col = (el.sourceline or 1) + line_offset, (first_col + col if first_col is not None else 1)
        else:
            file_line, file_col = (el.sourceline or 1) + line_offset + line - 1, col
        yield doc.error(el, rule, msg("source", what=what, owner=_owner(el), problem=reason_text(message),
                                  snippet=_snippet(source)),
                        line=file_line, col=file_col)


def _as_run(text: str, mode: str) -> tuple[str, int, int | None]:
    """(source the runtime sees, lines cut before it, columns cut before it on its first line or
    None when that line is the tag's own). The runtime strips expressions, never scripts."""
    if mode == "exec":
        return text, 0, None
    lead = text[: len(text) - len(text.lstrip())]
    if "\n" not in lead:
        return text.strip(), 0, None
    return text.strip(), lead.count("\n"), len(lead) - lead.rfind("\n") - 1


def check_expressions(doc: BpmnDocument) -> Findings:
    tags = {tag: (mode, Term(what)) for tag, mode, what in EXPRESSION_ELEMENTS}
    for el in doc.root.iter(*tags):
        mode, what = tags[el.tag]
        text = el.text or ""
        if not text.strip():
            if what == Term("script"):
                yield doc.error(el, "script-syntax", msg("script-syntax.empty", owner=_owner(el)))
            continue
        yield from _source_findings(doc, el, text, mode, what)
        if mode == "exec":
            yield from _reserved_assignments(doc, el, text)
    for param in doc.root.iter(f"{{{SPIFF}}}parameter"):
        value = param.get("value")
        if value is not None:
            yield from _source_findings(doc, param, value, "eval", msg("source.parameter", id=param.get("id", "?")),
                                        in_attribute=True)


def _reserved_assignments(doc: BpmnDocument, el, script: str) -> Findings:
    try:
        tree = ast.parse(script, mode="exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return  # reported as script-syntax
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id == RESERVED_KEY:
            yield doc.error(el, "reserved-key", msg("reserved-key.script", owner=_owner(el), key=RESERVED_KEY),
                            line=(el.sourceline or 1) + node.lineno - 1)


# -- timers -------------------------------------------------------------------------------

def check_timers(doc: BpmnDocument) -> Findings:
    for el in doc.root.iter(*(f"{{{BPMN}}}{kind}" for kind in TIMER_PARSERS)):
        kind = el.tag.split("}")[1]
        source = (el.text or "").strip()
        where = msg("timer.where", kind=Term(kind), owner=_owner(el))
        if not source:
            yield doc.error(el, "timer-unquoted", msg("timer-unquoted.empty", where=where))
            continue
        if ISO_LIKE.match(source) or ISO_ATTEMPT.match(source):
            if parses(kind, source):
                yield doc.warning(el, "timer-unquoted", msg("timer-unquoted", where=where, source=source))
            else:
                yield doc.error(el, "timer-invalid",
                                msg("timer-invalid.unquoted", where=where, source=source, unit=Term(kind[4:].lower())))
            continue
        literal = _string_literal(source)
        if literal is None:  # a computed timer, e.g. from instance data: it must be safe
            yield from _source_findings(doc, el, el.text, "eval", Term(kind))
            continue
        if not parses(kind, literal):
            yield doc.error(el, "timer-invalid",
                            msg("timer-invalid", where=where, literal=literal, unit=Term(kind[4:].lower())))


def _string_literal(source: str) -> str | None:
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    body = tree.body
    return body.value if isinstance(body, ast.Constant) and isinstance(body.value, str) else None


# -- forms ----------------------------------------------------------------------------------

def check_forms(doc: BpmnDocument) -> Findings:
    for task in doc.of_type("userTask"):
        prop = _form_property(task)
        filename = (prop.get("value") or "").strip() if prop is not None else ""
        if not filename:
            yield doc.warning(task, "missing-form", msg("forms.none", element=described(task), prop=FORM_PROPERTY))
        elif doc.forms_dir is not None and filename not in doc.generated_forms:  # generated: valid as made
            yield from _check_form_file(doc, task, prop, filename)


def _form_property(task):
    for prop in task.iterfind("bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS):
        if prop.get("name") == FORM_PROPERTY:
            return prop
    return None


def _check_form_file(doc: BpmnDocument, task, prop, filename: str) -> Findings:
    shown, element = shown_form_path(doc.process_id, filename), described(task)
    if "/" in filename or "\\" in filename or filename.startswith(".") or not filename.endswith(".json"):
        yield doc.error(prop, "form-invalid",
                        msg("form-invalid.name", element=element, filename=filename, process=doc.process_id))
        return
    schema, problem, at = _load_schema(Path(doc.forms_dir) / filename)
    if problem:
        where = f"{shown}:{at[0]}:{at[1]}" if at else shown  # the place in the form file itself
        yield doc.error(prop, "form-invalid", msg("form-invalid", shown=where, element=element, problem=problem))
        return
    for path in _reserved_properties(schema, "$"):
        yield doc.error(prop, "reserved-key",
                        msg("reserved-key.form", shown=shown, element=element, key=RESERVED_KEY, path=path))
    for path, value in privacy.bad_kinds(schema):
        yield doc.error(prop, "personal-kind",
                        msg("personal-kind", shown=shown, element=element, flag=privacy.FLAG, path=path,
                            value=repr(value), kinds=", ".join(privacy.KINDS)))
    for path, name in privacy.unflagged_fields(schema):
        yield doc.warning(prop, "personal-unflagged",
                          msg("personal-unflagged", shown=shown, element=element, name=name, path=path,
                              flag=privacy.FLAG))
    for pointer, why in form_patterns.problems(schema):
        yield doc.error(prop, "form-pattern", msg("form-pattern", shown=shown, element=element, pointer=pointer,
                                                   why=reason_text(why)))
    for name, problem in routing_field_problems(schema, gateway_keys(doc)):
        text = (msg("routing-field-default.default", shown=shown, element=element, name=name) if problem == "default"
                else msg("routing-field-default.optional", shown=shown, element=element, name=name))
        yield doc.warning(prop, "routing-field-default", text)


def _load_schema(path: Path) -> tuple[object, Text | None, tuple[int, int] | None]:
    """The JSON Schema in `path`, or a message saying why it is not a usable form and, when
    known, the line and column in the file where it goes wrong."""
    try:
        if not path.is_file():
            return None, msg("form.not-found"), None
        if path.stat().st_size > MAX_FORM_BYTES:
            return None, msg("form.too-large", limit=MAX_FORM_BYTES), None
        data = path.read_bytes()
        schema = json.loads(data)
    except OSError as exc:
        return None, msg("form.unreadable", reason=str(exc.strerror)), None
    except ValueError as exc:  # JSONDecodeError and bad UTF-8 alike
        at = (exc.lineno, exc.colno) if isinstance(exc, json.JSONDecodeError) else None
        return None, msg("form.bad-json", error=str(getattr(exc, "msg", exc)), line=getattr(exc, "lineno", "?")), at
    except RecursionError:
        return None, msg("form.json-too-deep"), None
    problem = schema_problem(schema)
    if problem is None:
        return schema, None, None
    return None, problem, _schema_error_at(data, schema)


def _schema_error_at(data: bytes, schema: object) -> tuple[int, int] | None:
    """Line and column in the file of the part of `schema` the metaschema refuses."""
    try:
        Draft202012Validator.check_schema(schema, format_checker=form_patterns.SCHEMA_FORMAT_CHECKER)
        return locate(data.decode("utf-8"), [])  # valid, but not an object: the top
    except SchemaError as exc:
        return locate(data.decode("utf-8"), list(exc.absolute_path))
    except (RecursionError, UnicodeDecodeError):
        return None


def schema_problem(schema: object) -> Text | None:
    """Why a parsed JSON value cannot be a form's schema, None if it can (patterns aside)."""
    try:
        Draft202012Validator.check_schema(schema, format_checker=form_patterns.SCHEMA_FORMAT_CHECKER)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or msg("form.top-level")
        return msg("form.bad-schema", error=exc.message, where=where)
    except RecursionError:
        return msg("form.schema-too-deep")
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return msg("form.not-object")
    return None


def form_problems(schema: object) -> list[Text]:
    """Everything that keeps a schema from being a form: what `schema_problem` says, else each
    pattern forms cannot use (the form editor's preview shows them)."""
    problem = schema_problem(schema)
    if problem is not None:
        return [problem]
    return [msg("form.pattern-at", pointer=pointer, why=reason_text(why))
            for pointer, why in form_patterns.problems(schema)]


def _reserved_properties(schema, path: str) -> Iterator[str]:
    if isinstance(schema, dict):
        properties = schema.get("properties")
        if isinstance(properties, dict) and RESERVED_KEY in properties:
            yield f"{path}.properties.{RESERVED_KEY}"
        for key, value in schema.items():
            yield from _reserved_properties(value, f"{path}.{key}")
    elif isinstance(schema, list):
        for i, value in enumerate(schema):
            yield from _reserved_properties(value, f"{path}[{i}]")


# -- service tasks --------------------------------------------------------------------------

def check_service_tasks(doc: BpmnDocument) -> Findings:
    tasks = doc.of_type("serviceTask")
    if not tasks:
        return
    known, registry_problem = _handler_names()
    for task in tasks:
        operator = task.find("bpmn:extensionElements/spiffworkflow:serviceTaskOperator", NS)
        if operator is None:
            yield doc.error(task, "unknown-handler", msg("unknown-handler.no-operator", element=described(task)))
            continue
        name = operator.get("id", "")
        if name and name == task.get("id"):
            yield doc.error(operator, "operator-id-clash", msg("operator-id-clash", element=described(task), name=name))
        if registry_problem:
            yield doc.error(operator, "unknown-handler", msg("unknown-handler.registry", name=name, problem=registry_problem))
        elif name not in known:
            listed = ", ".join(sorted(known)) or msg("none")
            yield doc.error(operator, "unknown-handler",
                            msg("unknown-handler", name=name, element=described(task), listed=listed))
        if operator.get("resultVariable") == RESERVED_KEY:
            yield doc.error(operator, "reserved-key", msg("reserved-key.result", element=described(task), key=RESERVED_KEY))


def _handler_names() -> tuple[set[str], Text | None]:
    try:
        return handler_names(), None
    except Exception as exc:  # a broken handler module must not crash lint
        return set(), msg("handler.registry-failed", error=f"{type(exc).__name__}: {exc}")


def check_process_keys(doc: BpmnDocument) -> Findings:
    """The process's `routingKeys` / `summaryKeys` (docs/bpmn-conventions.md) name data keys."""
    if doc.process is None:
        return
    for name in (ROUTING_PROPERTY, SUMMARY_PROPERTY):
        path = f"bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property[@name='{name}']"
        for prop in doc.process.iterfind(path, NS):
            value = (prop.get("value") or "").strip()
            for key in (k.strip() for k in value.split(",") if value):
                if not key.isidentifier() or key == RESERVED_KEY:
                    yield doc.error(prop, "process-keys", msg("process-keys", name=name, process=doc.process_id, key=key))


CONTENT_RULES = (check_expressions, check_timers, check_forms, check_service_tasks, check_process_keys)
