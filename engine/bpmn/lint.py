"""`tourflow lint`: check BPMN files against docs/bpmn-conventions.md, as file:line:col findings.

Linting never raises: an unreadable or hostile file is one `xml` finding, a diagram that
SpiffWorkflow refuses is one `spiff-parse` finding, and each rule of `lint_rules` and
`lint_content` adds its own. The rules are plain functions over a `BpmnDocument`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from pathlib import Path

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from engine.bpmn.calls import call_activities
from engine.bpmn.camunda import ECHOED_RULES, IGNORED_RULE
from engine.bpmn.camunda import RULE as CAMUNDA_RULE
from engine.bpmn.camunda import normalize as normalize_camunda
from engine.bpmn.lint_content import CONTENT_RULES
from engine.bpmn.lint_due import DUE_RULES
from engine.bpmn.lint_flow import FLOW_RULES, MessageUse, message_findings, message_use
from engine.bpmn.lint_messages import msg
from engine.bpmn.lint_model import KNOWN_LANES, BpmnDocument, Finding, described
from engine.bpmn.lint_reasons import reason_text
from engine.bpmn.lint_rules import STRUCTURE_RULES, check_processes
from engine.bpmn.spiffarena import SPIFF_RULES
from engine.bpmn.xmlsafe import parse_bpmn_xml, read_bytes
from engine.errors import BpmnReadError

__all__ = ["KNOWN_LANES", "Finding", "has_errors", "lint_bytes", "lint_file", "lint_paths"]

Rule = Callable[[BpmnDocument], Iterable[Finding]]
RULES: tuple[Rule, ...] = STRUCTURE_RULES + CONTENT_RULES + DUE_RULES + FLOW_RULES + SPIFF_RULES
# When these fire, SpiffWorkflow's parse can only repeat them in its own words.
_PARSE_MOOT = {"no-process", "not-executable", "collaboration-only", "no-start", "dangling-flow"}


def lint_bytes(data: bytes, filename: str, forms_dir: Path | None,
               known_messages: Collection[str] | None = None,
               known_processes: Collection[str] | None = None, forms_root: Path | None = None) -> list[Finding]:
    """Lint one BPMN document; `forms_dir` holds its form schemas (None: do not check form files).

    `known_messages`: the message names the deployed processes catch; given, a message this file
    throws that neither they nor this file catch is a `message-uncaught` warning.
    `known_processes`: the process ids deployed or deployed along with this file; given, a call
    activity calling a process neither they nor this file hold is a `call-target-missing` error.
    `forms_root` (instead of `forms_dir`): each process's forms are in `<forms_root>/<process id>/`."""
    findings, use = _lint_use(data, filename, forms_root=forms_root, forms_dir=forms_dir)
    if known_messages is not None and use is not None:
        findings = _sorted(findings + message_findings([use], known_messages))
    if known_processes is not None and use is not None:
        findings = _sorted(findings + call_findings(use.doc, known_processes))
    return findings


def call_findings(doc: BpmnDocument, known_processes: Collection[str]) -> list[Finding]:
    """A located error for every call activity of the file whose calledElement is nowhere."""
    here = {p.get("id") for p in doc.processes}
    found = []
    for process in doc.executable_processes():
        for call in call_activities(process):
            called = (call.get("calledElement") or "").strip()
            if called and called not in here and called not in known_processes:
                found.append(doc.error(call, "call-target-missing",
                                       msg("call-target-missing", element=described(call), called=called)))
    return found


def lint_file(path: Path) -> list[Finding]:
    """Lint one file; its forms are in `<folder>/forms/<process id>/`, else beside it (SpiffArena)."""
    return _lint_file(path)[0]


def _lint_file(path: Path) -> tuple[list[Finding], MessageUse | None]:
    path = Path(path)
    try:
        data = read_bytes(path)
    except BpmnReadError as exc:
        return [_read_error(exc)], None
    except OSError as exc:  # read_bytes guards stat() only: a folder or an unreadable file fails here
        return [Finding.of(str(path), 1, 1, "error", "xml",
                           msg("xml.unreadable-file", reason=str(exc.strerror or exc)))], None
    return _lint_use(data, str(path), forms_root=path.parent / "forms")


def lint_paths(paths: list[Path]) -> list[Finding]:
    """Lint files and folders (every *.bpmn below a folder, in sorted order).

    The files are one set for messages: a message thrown that none of them catches is a warning,
    and, when a folder is linted, so is a catch none of them throws (docs/bpmn-conventions.md)."""
    findings: list[Finding] = []
    uses: list[MessageUse] = []
    folder = False
    for path in map(Path, paths):
        folder = folder or path.is_dir()
        files = sorted(path.rglob("*.bpmn")) if path.is_dir() else [path]
        for file in files:
            found, use = _lint_file(file)
            findings.extend(found)
            uses += [use] if use is not None else []
    return findings + message_findings(uses, check_catches=folder)


def has_errors(findings: Iterable[Finding], strict: bool = False) -> bool:
    """Any error; with `strict` (`tourflow lint --strict`, CI) a warning counts as one too: the
    house conventions of docs/bpmn-conventions.md are warnings that the agency's own files keep."""
    return any(f.severity == "error" or (strict and f.severity == "warning") for f in findings)


def _lint_use(data: bytes, filename: str, forms_root: Path | None = None,
              forms_dir: Path | None = None) -> tuple[list[Finding], MessageUse | None]:
    """The findings of one document, and the messages it throws and catches (None: unreadable)."""
    try:
        tree = parse_bpmn_xml(data, filename)
        _refuse_doctype(tree, filename)
    except BpmnReadError as exc:
        return [_read_error(exc)], None
    except Exception as exc:  # lxml or the reader failing in a way nobody foresaw
        return [Finding.of(filename, 1, 1, "error", "xml",
                           msg("xml.unreadable", error=f"{type(exc).__name__}: {exc}"))], None
    try:
        camunda = normalize_camunda(tree)  # Camunda Modeler's extensions, mapped in memory as for the engine
        doc = BpmnDocument(tree, filename, forms_root=forms_root, forms_dir=forms_dir,
                           task_roles=camunda.task_roles, generated_forms=camunda.generated_forms)
    except Exception as exc:  # a shape of document nobody foresaw: say so, do not crash the caller
        return [Finding.of(filename, 1, 1, "error", "lint-internal",
                           msg("lint-internal.index", error=f"{type(exc).__name__}: {exc}"))], None
    findings = _run_rule(check_processes, doc) + [doc.error(u.element, CAMUNDA_RULE, u.text) for u in camunda.unsupported]
    findings += [doc.warning(u.element, IGNORED_RULE, u.text) for u in camunda.ignored]
    use = None
    if doc.process is not None:
        # Every executable process of the file is checked on its own (lanes, start events, ...).
        docs = [doc] + [BpmnDocument(tree, filename, forms_root=forms_root, forms_dir=forms_dir, process=other,
                                     task_roles=camunda.task_roles, generated_forms=camunda.generated_forms)
                        for other in doc.executable_processes() if other is not doc.process]
        for each in docs:
            found = [f for rule in RULES for f in _run_rule(rule, each)]
            if not any(f.rule in _PARSE_MOOT for f in findings + found):
                found.extend(_spiff_parse(each, tree))
            findings.extend(f for f in found if f not in findings)  # file-wide rules report once
        try:
            use = message_use(doc)
            for each in docs[1:]:
                other = message_use(each)
                for name, nodes in other.thrown.items():
                    use.thrown.setdefault(name, []).extend(nodes)
                for name, nodes in other.caught.items():
                    use.caught.setdefault(name, []).extend(nodes)
                use.starts |= other.starts
        except Exception as exc:  # a rule bug must show up as a finding, never as a traceback
            findings.append(doc.error(doc.process, "lint-internal",
                                      msg("lint-internal.rule", rule="message_use", error=f"{type(exc).__name__}: {exc}")))
    refused = {f.element for f in findings if f.rule == CAMUNDA_RULE}
    return _sorted([f for f in findings if not (f.rule in ECHOED_RULES and f.element in refused)]), use


def _sorted(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.line, f.col, f.rule, f.message))


def _refuse_doctype(tree: etree._ElementTree, filename: str) -> None:
    """The reader refuses DOCTYPEs it sees in the first bytes; one in UTF-16 or after a long
    comment gets through (unexpanded), so refuse it here too."""
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise BpmnReadError(filename, "DOCTYPE/ENTITY declarations are not allowed in BPMN files", 1, 1,
                            key="bpmn.doctype")


def _read_error(exc: BpmnReadError) -> Finding:
    return Finding.of(exc.filename, exc.line or 1, exc.col or 1, "error", "xml", msg("xml.read-error", detail=reason_text(exc.message)))


def _run_rule(rule: Rule, doc: BpmnDocument) -> list[Finding]:
    try:
        return list(rule(doc))
    except Exception as exc:  # a rule bug must show up as a finding, never as a traceback
        return [doc.error(doc.process if doc.process is not None else doc.root, "lint-internal",
                          msg("lint-internal.rule", rule=rule.__name__, error=f"{type(exc).__name__}: {exc}"))]


def _spiff_parse(doc: BpmnDocument, tree: etree._ElementTree) -> list[Finding]:
    """Parse the process the way the runtime will; its refusal becomes one finding."""
    try:
        parser = SpiffBpmnParser()
        parser.add_bpmn_xml(tree, filename=doc.filename)
        parser.get_spec(doc.process_id)
    except ValidationException as exc:
        line = _validation_line(doc, exc)
        detail = " ".join(str(part) for part in (*exc.args[:1], *exc.notes))
        text = (msg("spiff-parse.at", tag=str(exc.tag), id=str(exc.id), detail=detail) if getattr(exc, "id", "")
                else msg("spiff-parse", detail=detail))
        about = doc.elements_by_id.get(getattr(exc, "id", "") or "")
        return [doc.error(doc.process if about is None else about, "spiff-parse", text, line=line)]
    except Exception as exc:
        return [doc.error(doc.process, "spiff-parse", msg("spiff-parse", detail=f"{type(exc).__name__}: {exc}"))]
    return []


def _validation_line(doc: BpmnDocument, exc: ValidationException) -> int:
    """SpiffWorkflow knows the element (its id) but rarely the line; find it in our tree."""
    line = getattr(exc, "line_number", None)
    if isinstance(line, int) and line > 0:
        return line
    element = doc.elements_by_id.get(getattr(exc, "id", "") or "")
    if element is not None and element.sourceline:
        return element.sourceline
    return doc.process.sourceline or 1
