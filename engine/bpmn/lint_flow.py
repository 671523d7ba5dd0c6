"""Lint rules for what would leave an instance stuck: dead ends, boundary events going nowhere,
exclusive gateways whose conditions may all be false, messages nobody catches or throws.

`FLOW_RULES` run per file like the other rules; the message rules need every file linted
together, so `message_findings` is called by `lint.lint_paths` (and by a deploy, with the
messages the deployed processes catch).
"""

from __future__ import annotations

import ast
import json
from collections import deque
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from engine.bpmn.lint_messages import msg
from engine.bpmn.lint_model import NS, BpmnDocument, Finding, bpmn_tag, described
from engine.bpmn.xmlsafe import parse_bpmn_xml

Findings = Iterator[Finding]

FORM_PROPERTY = "formJsonSchemaFilename"
MAX_FORM_BYTES = 1024 * 1024
# A message the agency's integrations deliver (telephony, payments, chat): `<bpmn:message>` carries
# <spiffworkflow:property name="external" value="true" />, so nothing in the files has to throw it.
EXTERNAL_PROPERTY = "external"
NEEDS_OUTGOING = frozenset(
    ["startEvent", "intermediateCatchEvent", "intermediateThrowEvent", "task", "userTask", "manualTask",
     "serviceTask", "scriptTask", "sendTask", "receiveTask", "businessRuleTask", "callActivity", "subProcess",
     "transaction", "adHocSubProcess", "exclusiveGateway", "inclusiveGateway", "parallelGateway",
     "eventBasedGateway", "complexGateway"]
)
THROW_TAGS = frozenset({"intermediateThrowEvent", "endEvent", "sendTask"})
CATCH_TAGS = frozenset({"intermediateCatchEvent", "receiveTask", "boundaryEvent", "startEvent"})


# -- dead ends ------------------------------------------------------------------------------

def _compensation(node) -> bool:
    """A compensation handler, or the boundary event that names it: linked by an association."""
    return (node.get("isForCompensation") == "true"
            or (bpmn_tag(node) == "boundaryEvent" and node.find("bpmn:compensateEventDefinition", NS) is not None))


def check_dead_ends(doc: BpmnDocument) -> Findings:
    for node in doc.flow_nodes:
        tag = bpmn_tag(node)
        if doc.outgoing(node.get("id", "")) or _compensation(node):
            continue
        container = doc.container_of(node)
        if container is not None and bpmn_tag(container) == "adHocSubProcess":
            continue  # its tasks run in any order, flows optional
        if tag == "boundaryEvent":
            yield doc.error(node, "boundary-no-flow", msg("boundary-no-flow", element=described(node)))
        elif tag in NEEDS_OUTGOING:
            if node.get("triggeredByEvent") == "true":
                continue  # an event subprocess is started by its event, not by a flow
            if tag == "intermediateThrowEvent" and node.find("bpmn:linkEventDefinition", NS) is not None:
                continue  # a link throw continues at its link catch
            yield doc.error(node, "dead-end", msg("dead-end", element=described(node)))


# -- exclusive gateways: can every condition be false? ----------------------------------------

@dataclass
class Cover:
    """What a condition's truth says about one data key: it is one of `values`."""

    key: str
    values: set = field(default_factory=set)


def condition_cover(source: str, booleans: bool) -> Cover | None:
    """The values of one key a condition is true for, when it is a plain comparison of one key
    against literals (or `key` / `not key` for a boolean); None when that cannot be proved."""
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return _cover(tree.body, booleans)


def _cover(node: ast.expr, booleans: bool) -> Cover | None:
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
        parts = [_cover(value, booleans) for value in node.values]
        if any(p is None for p in parts) or len({p.key for p in parts}) != 1:
            return None
        return Cover(parts[0].key, set().union(*(p.values for p in parts)))
    if isinstance(node, ast.Name) and booleans:
        return Cover(node.id, {True})
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not) and isinstance(node.operand, ast.Name) \
            and booleans:
        return Cover(node.operand.id, {False})
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        left, op, right = node.left, node.ops[0], node.comparators[0]
        if isinstance(op, ast.Eq):
            if isinstance(right, ast.Name) and isinstance(left, ast.Constant):
                left, right = right, left
            if isinstance(left, ast.Name) and isinstance(right, ast.Constant):
                return Cover(left.id, {right.value})
        if (isinstance(op, ast.In) and isinstance(left, ast.Name) and isinstance(right, ast.Tuple | ast.List | ast.Set)
                and all(isinstance(e, ast.Constant) for e in right.elts)):
            return Cover(left.id, {e.value for e in right.elts})
    return None


def _form_choices(doc: BpmnDocument, task) -> dict[str, list]:
    """Top-level fields of a user task's form that take a fixed set of values: enum or boolean."""
    if doc.forms_dir is None:
        return {}
    path = "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property"
    names = [p.get("value", "") for p in task.iterfind(path, NS) if p.get("name") == FORM_PROPERTY]
    if not names or "/" in names[0] or "\\" in names[0] or names[0].startswith("."):
        return {}
    try:
        file = Path(doc.forms_dir) / names[0]
        if not file.is_file() or file.stat().st_size > MAX_FORM_BYTES:
            return {}
        schema = json.loads(file.read_bytes())
    except (OSError, ValueError, RecursionError):
        return {}
    properties = schema.get("properties") if isinstance(schema, dict) else None
    choices: dict[str, list] = {}
    for key, spec in (properties or {}).items():
        if not isinstance(spec, dict):
            continue
        if isinstance(spec.get("enum"), list) and spec["enum"]:
            choices[key] = spec["enum"]
        elif spec.get("type") == "boolean":
            choices[key] = [True, False]
    return choices


def _upstream_user_tasks(doc: BpmnDocument, gateway) -> list:
    incoming: dict[str, list[str]] = {}
    for flow in doc.sequence_flows:
        incoming.setdefault(flow.get("targetRef", ""), []).append(flow.get("sourceRef", ""))
    seen, queue, found = {gateway.get("id")}, deque([gateway.get("id")]), []
    while queue:
        for source in incoming.get(queue.popleft(), []):
            if source in seen:
                continue
            seen.add(source)
            queue.append(source)
            node = doc.elements_by_id.get(source)
            if node is not None and bpmn_tag(node) == "userTask":
                found.append(node)
    return found


def check_gateway_coverage(doc: BpmnDocument) -> Findings:
    for gateway in doc.of_type("exclusiveGateway"):
        flows = doc.outgoing(gateway.get("id", ""))
        conditions = [_condition_text(f) for f in flows]
        if gateway.get("default") or len(flows) < 2 or not all(conditions):
            continue  # check_gateways of lint_rules speaks about these
        choices: dict[str, list] = {}
        for task in _upstream_user_tasks(doc, gateway):
            for key, values in _form_choices(doc, task).items():
                choices.setdefault(key, values)
        covers = [condition_cover(c, booleans=True) for c in conditions]
        keys = {c.key for c in covers if c is not None}
        key = next(iter(keys)) if len(keys) == 1 and None not in covers else None
        if key in choices and choices[key] != [True, False]:  # `key` / `not key` say nothing of an enum
            covers = [condition_cover(c, booleans=False) for c in conditions]
        if key not in choices or None in covers:
            yield doc.warning(gateway, "gateway-no-default", msg("gateway-no-default.unproved", element=described(gateway)))
            continue
        covered = set().union(*(c.values for c in covers))
        missing = [v for v in choices[key] if v not in covered]
        if missing:
            yield doc.error(gateway, "gateway-no-default",
                            msg("gateway-no-default.uncovered", element=described(gateway), key=key,
                                values=", ".join(json.dumps(v, ensure_ascii=False) for v in missing)))


def _condition_text(flow) -> str:
    condition = flow.find("bpmn:conditionExpression", NS)
    return (condition.text or "").strip() if condition is not None else ""


FLOW_RULES = (check_dead_ends, check_gateway_coverage)


# -- messages across files -------------------------------------------------------------------

@dataclass
class MessageUse:
    """Who throws and who catches which message name in one document."""

    doc: BpmnDocument
    thrown: dict[str, list] = field(default_factory=dict)
    caught: dict[str, list] = field(default_factory=dict)  # not counting process start events
    starts: set[str] = field(default_factory=set)  # messages that start a process
    external: set[str] = field(default_factory=set)


def message_use(doc: BpmnDocument) -> MessageUse:
    use = MessageUse(doc)
    names = {}
    for message in doc.root.iterfind("bpmn:message", NS):
        name = message.get("name") or message.get("id", "")
        names[message.get("id", "")] = name
        for prop in message.iterfind("bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS):
            if prop.get("name") == EXTERNAL_PROPERTY and (prop.get("value") or "").lower() == "true":
                use.external.add(name)
    for node in doc.flow_nodes:
        tag = bpmn_tag(node)
        definition = node.find("bpmn:messageEventDefinition", NS)
        ref = definition.get("messageRef") if definition is not None else node.get("messageRef")
        if not ref or tag not in THROW_TAGS | CATCH_TAGS:
            continue
        name = names.get(ref, ref)
        if tag in THROW_TAGS:
            use.thrown.setdefault(name, []).append(node)
        elif tag == "startEvent" and node.getparent() is doc.process:
            use.starts.add(name)
        else:
            use.caught.setdefault(name, []).append(node)
    return use


def caught_names(uses: Collection[MessageUse]) -> set[str]:
    """Every message name some process of `uses` waits for or starts on."""
    return {name for use in uses for name in (*use.caught, *use.starts)}


def catches_in(data: bytes, filename: str) -> set[str]:
    """The message names a BPMN document waits for or starts on; none when it cannot be read
    (its own lint says why)."""
    try:
        return caught_names([message_use(BpmnDocument(parse_bpmn_xml(data, filename), filename))])
    except Exception:  # an unreadable file catches nothing; lint reports it where it is linted
        return set()


def message_findings(uses: Collection[MessageUse], known_catches: Collection[str] = (),
                     check_catches: bool = False) -> list[Finding]:
    """message-uncaught for throws nothing catches (here or in `known_catches`); with
    `check_catches` (a folder linted as a whole) message-never-thrown for catches nothing throws."""
    caught = caught_names(uses) | set(known_catches)
    thrown = {name for use in uses for name in use.thrown}
    external = {name for use in uses for name in use.external}
    findings = []
    for use in uses:
        for name, nodes in use.thrown.items():
            if name not in caught:
                findings += [use.doc.warning(n, "message-uncaught", msg("message-uncaught", element=described(n),
                                                                        message=name)) for n in nodes]
        if check_catches:
            for name, nodes in use.caught.items():
                if name not in thrown and name not in external:
                    findings += [use.doc.warning(n, "message-never-thrown",
                                                 msg("message-never-thrown", element=described(n), message=name,
                                                     prop=EXTERNAL_PROPERTY)) for n in nodes]
    return findings


__all__ = ["FLOW_RULES", "MessageUse", "catches_in", "caught_names", "condition_cover", "message_findings", "message_use"]
