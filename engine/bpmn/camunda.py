"""Files from Camunda Modeler 5 (Camunda Platform 7): map their `camunda:*` extensions onto
tourflow's conventions in memory, and name every one that cannot run (docs/bpmn-conventions.md,
"Files from Camunda Modeler").

`normalize(tree)` runs on the parsed tree before SpiffWorkflow and tourflow read it (specs.py for
the engine, lint.py for lint); the stored XML stays the file's own bytes. It adds SpiffWorkflow's
equivalents beside the Camunda originals, each added element carrying its original's
`sourceline`:
- `camunda:assignee` -> the `assigneeExpression` property (a user name, or `${var}` -> `var`);
- `camunda:formData` -> the `formJsonSchemaFilename` property of a generated JSON Schema form
  (`Mapping.generated_forms`, stored with the deployment's forms);
- `camunda:type="external" camunda:topic="X"` -> `spiffworkflow:serviceTaskOperator id="X"`, its
  result under `X_result`;
- a JUEL `${...}` condition (or multi-instance cardinality/completion) -> its Python expression
  (engine/bpmn/juel.py);
- a `camunda:property` naming one of tourflow's own properties -> that `spiffworkflow:property`.
`camunda:candidateGroups` gives the role of a user task no lane holds (`Mapping.task_roles`, by
the lane rule of engine/bpmn/lanes.py). Anything else is an `Unsupported` (lint: `camunda-unsupported`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from engine.access.roles import LANES
from engine.bpmn.camunda_forms import FormBuild, form_schema
from engine.bpmn.juel import is_juel, to_python
from engine.bpmn.lanes import lane_role, role_of_lane
from engine.bpmn.lint_messages import Text, msg
from engine.bpmn.lint_model import BPMN, SPIFF, described

CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
ZEEBE = "http://camunda.org/schema/zeebe/1.0"
RULE = "camunda-unsupported"
IGNORED_RULE = "camunda-ignored"  # a warning: written, understood, but something else decides
# What other rules say about an element the Camunda rule already refuses (a Java service task has
# no handler, a JUEL method call is no Python): the same problem again, in worse words.
ECHOED_RULES = frozenset({"spiff-parse", "unknown-handler", "script-syntax", "unsafe-script"})
# Execution hints of the Camunda engine that change nothing about what a process does here.
HARMLESS = frozenset({"asyncBefore", "asyncAfter", "exclusive", "jobPriority", "taskPriority", "historyTimeToLive",
                      "versionTag", "isStartableInTasklist", "priority"})
HARMLESS_VALUES = {"calledElementBinding": {"latest"}}
JAVA = frozenset({"class", "delegateExpression", "expression", "connector"})
LISTENERS = frozenset({"executionListener", "taskListener", "inputOutput", "in", "out", "properties", "field"})
# tourflow's own properties (docs/bpmn-conventions.md), written as camunda:property in the modeler's
# properties panel: the same as SpiffArena's spiffworkflow:property.
TOURFLOW_PROPERTIES = frozenset({"defaultLane", "routingKeys", "summaryKeys", "formJsonSchemaFilename",
                                 "assigneeExpression", "dueIn", "laneDueIn"})
FORM_ATTRIBUTES = frozenset({"formKey", "formRef", "formRefBinding", "formRefVersion", "formHandlerClass"})
# What to write instead, by kind of construct.
HINT_CAMUNDA8 = msg("camunda.hint.camunda8")
HINT_FORM = msg("camunda.hint.form")
HINT_FORM_FIELD = msg("camunda.hint.form-field")
HINT_JAVA = msg("camunda.hint.java")
HINT_JUEL = msg("camunda.hint.juel")
HINT_LISTENER = msg("camunda.hint.listener")
HINT_OTHER = msg("camunda.hint.other")
HINT_SCRIPT = msg("camunda.hint.script")
HINT_START_FORM = msg("camunda.hint.start-form")
HINT_TOPIC = msg("camunda.hint.topic")
_VARIABLE = re.compile(r"^\s*\$\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\s*$")
_USER_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_Q = {"bpmn": BPMN, "camunda": CAMUNDA}


@dataclass(frozen=True)
class Unsupported:
    """One Camunda construct that cannot run: where it is written, and what to say about it."""

    element: etree._Element
    text: Text

    @property
    def line(self) -> int:
        return self.element.sourceline or 1


@dataclass
class Mapping:
    task_roles: dict[str, str] = field(default_factory=dict)  # user task id -> role, for tasks no lane holds
    generated_forms: dict[str, dict[str, Any]] = field(default_factory=dict)  # form file name -> JSON Schema
    unsupported: list[Unsupported] = field(default_factory=list)
    ignored: list[Unsupported] = field(default_factory=list)  # warnings (IGNORED_RULE)


def uses_camunda(root: etree._Element) -> bool:
    return any(ns in (CAMUNDA, ZEEBE) for ns in root.nsmap.values()) or any(
        etree.QName(el).namespace in (CAMUNDA, ZEEBE) or _camunda_attributes(el)
        for el in root.iter(etree.Element))


def normalize(tree: etree._ElementTree) -> Mapping:
    """Map the Camunda extensions of a parsed BPMN tree in place (see the module docstring)."""
    root = tree.getroot()
    mapping = Mapping()
    if not uses_camunda(root):
        return mapping
    laned = _laned_nodes(root)
    for el in list(root.iter(etree.Element)):
        qname = etree.QName(el)
        parent = el.getparent()
        if qname.namespace == ZEEBE and (parent is None or etree.QName(parent).namespace != ZEEBE):  # not per part
            _refuse(mapping, el, f"zeebe:{qname.localname}", HINT_CAMUNDA8)
        elif qname.namespace == CAMUNDA:
            _extension(mapping, el, qname.localname)
        elif qname.namespace == BPMN:
            _bpmn_element(mapping, el, qname.localname, laned)
    return mapping


def _bpmn_element(mapping: Mapping, el: etree._Element, tag: str, laned: dict[str, str | None]) -> None:
    attributes = _camunda_attributes(el)
    for name in attributes:
        if etree.QName(name).namespace == ZEEBE:
            _refuse(mapping, el, f"zeebe:{etree.QName(name).localname}", HINT_CAMUNDA8)
    names = {etree.QName(name).localname: value for name, value in attributes.items()
             if etree.QName(name).namespace == CAMUNDA}
    if tag == "userTask":
        _user_task(mapping, el, names, laned)
    elif tag == "serviceTask":
        _service_task(mapping, el, names)
    elif tag == "scriptTask" and (el.get("scriptFormat") or "python").strip().lower() != "python":
        _refuse(mapping, el, f"scriptFormat=\"{el.get('scriptFormat')}\"", HINT_SCRIPT)
    elif tag in ("conditionExpression", "completionCondition", "loopCardinality"):
        _condition(mapping, el)
    for name, value in names.items():
        if name in HARMLESS or value in HARMLESS_VALUES.get(name, ()):
            continue
        if name in JAVA:
            _refuse(mapping, el, f"camunda:{name}", HINT_JAVA)
        elif name in FORM_ATTRIBUTES:
            _refuse(mapping, el, f"camunda:{name}=\"{value}\"", HINT_FORM)
        else:
            _refuse(mapping, el, f"camunda:{name}", HINT_OTHER)


def _user_task(mapping: Mapping, task: etree._Element, names: dict[str, str], laned: dict[str, str | None]) -> None:
    groups = names.pop("candidateGroups", None)
    role = _role_of_groups(mapping, task, groups) if groups is not None else None
    if role and task.get("id") not in laned:
        mapping.task_roles[task.get("id")] = role
    elif role and laned[task.get("id")] not in (None, role):
        mapping.ignored.append(Unsupported(task, msg("camunda.groups.lane", element=described(task), groups=groups,
                                                     lane=laned[task.get("id")])))
    assignee = names.pop("assignee", None)
    if assignee is not None:
        variable = _VARIABLE.match(assignee)
        if variable:
            _add_property(task, "assigneeExpression", variable.group(1))
        elif _USER_NAME.match(assignee.strip()):
            _add_property(task, "assigneeExpression", json.dumps(assignee.strip()))
        else:
            mapping.unsupported.append(Unsupported(task, msg("camunda.assignee", element=described(task),
                                                             value=assignee)))


def _role_of_groups(mapping: Mapping, task: etree._Element, groups: str) -> str | None:
    written = [g.strip() for g in groups.split(",") if g.strip()]
    roles = sorted({role for g in written if (role := lane_role(g, g))})
    listed = ", ".join(sorted(LANES))
    if len(roles) == 1 and all(lane_role(g, g) for g in written):
        return roles[0]
    text = (msg("camunda.groups.several", element=described(task), groups=groups, found=", ".join(roles), roles=listed)
            if len(roles) > 1 else msg("camunda.groups.unknown", element=described(task), groups=groups, roles=listed))
    mapping.unsupported.append(Unsupported(task, text))
    return None


def _service_task(mapping: Mapping, task: etree._Element, names: dict[str, str]) -> None:
    kind, topic = names.pop("type", None), names.pop("topic", None)
    if kind is None and topic is None:
        return
    if kind != "external" or not (topic or "").strip():
        _refuse(mapping, task, f"camunda:type=\"{kind or ''}\" camunda:topic=\"{topic or ''}\"", HINT_TOPIC)
        return
    topic = topic.strip()
    operator = etree.SubElement(_extension_elements(task), f"{{{SPIFF}}}serviceTaskOperator", id=topic,
                                resultVariable=result_key(topic))
    operator.sourceline = task.sourceline


def result_key(topic: str) -> str:
    """Where an external task's handler result goes in the data: `<topic>_result` (a Camunda worker
    sets variables itself; here the handler returns them)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", topic) + "_result"


def _condition(mapping: Mapping, condition: etree._Element) -> None:
    language = (condition.get("language") or "").strip()
    if language:
        _refuse(mapping, condition, f"language=\"{language}\"", HINT_SCRIPT)
        return
    text = condition.text or ""
    if not is_juel(text):
        return
    python = to_python(text)
    if python is None:
        _refuse(mapping, condition, text.strip(), HINT_JUEL)
    else:
        condition.text = python


def _extension(mapping: Mapping, el: etree._Element, name: str) -> None:
    """A camunda:* element: only formData (and what it holds) maps; each other one at the top
    of an extensionElements is refused once (not again for what it holds)."""
    parent = el.getparent()
    if name == "formData" and parent is not None and etree.QName(parent).localname == "extensionElements":
        owner = parent.getparent()
        if owner is not None and etree.QName(owner).localname == "userTask":
            _generated_form(mapping, owner, el)
        else:
            _refuse(mapping, el, "camunda:formData", HINT_START_FORM)
        return
    if parent is None or etree.QName(parent).namespace == CAMUNDA:
        return
    if name == "properties" and etree.QName(parent).localname == "extensionElements":
        _properties(mapping, parent.getparent(), el)
        return
    hint = HINT_LISTENER if name in LISTENERS else (
        HINT_JAVA if name in JAVA else HINT_OTHER)
    _refuse(mapping, el, f"camunda:{name}", hint)


def _properties(mapping: Mapping, owner: etree._Element, properties: etree._Element) -> None:
    for prop in properties.iterchildren(etree.Element):
        name = prop.get("name") or ""
        if etree.QName(prop).localname == "property" and name in TOURFLOW_PROPERTIES:
            _add_property(owner, name, prop.get("value") or "", line=prop.sourceline)
        else:
            _refuse(mapping, prop, f"camunda:property name=\"{name}\"", HINT_LISTENER, owner=owner)


def _generated_form(mapping: Mapping, task: etree._Element, form_data: etree._Element) -> None:
    built: FormBuild = form_schema(task, form_data)
    for at, construct in built.refused:
        _refuse(mapping, at, construct, HINT_FORM_FIELD, owner=task)
    if built.refused:
        return
    filename = "camunda-" + re.sub(r"[^A-Za-z0-9_-]", "_", task.get("id") or "task")[:80] + ".schema.json"
    mapping.generated_forms[filename] = built.schema
    _add_property(task, "formJsonSchemaFilename", filename, line=form_data.sourceline)


# -- helpers -------------------------------------------------------------------------------

def _refuse(mapping: Mapping, el: etree._Element, construct: str, hint: Text,
            owner: etree._Element | None = None) -> None:
    about = owner if owner is not None else _owner(el)
    mapping.unsupported.append(Unsupported(el, msg("camunda.unsupported", element=described(about),
                                                   construct=construct, hint=hint)))


def _owner(el: etree._Element) -> etree._Element:
    """The BPMN element an extension belongs to (the element itself for a BPMN one)."""
    node = el
    while node is not None and not (etree.QName(node).namespace == BPMN and node.get("id")):
        node = node.getparent()
    return node if node is not None else el


def _camunda_attributes(el: etree._Element) -> dict[str, str]:
    return {name: value for name, value in el.attrib.items()
            if etree.QName(name).namespace in (CAMUNDA, ZEEBE)}


def _laned_nodes(root: etree._Element) -> dict[str, str | None]:
    """Id -> role (None: a lane that is no role) of the nodes a lane holds, the nodes inside a held
    subprocess included."""
    held = {(ref.text or "").strip(): role_of_lane(lane) for lane in root.iterfind(".//bpmn:lane", _Q)
            for ref in lane.iterfind("bpmn:flowNodeRef", _Q)}
    for sub in root.iterfind(".//bpmn:subProcess", _Q):
        if sub.get("id") in held:
            held |= {el.get("id"): held[sub.get("id")] for el in sub.iter(etree.Element) if el.get("id")}
    return held


def _extension_elements(el: etree._Element) -> etree._Element:
    found = el.find("bpmn:extensionElements", _Q)
    if found is None:
        found = etree.Element(f"{{{BPMN}}}extensionElements")
        found.sourceline = el.sourceline
        el.insert(1 if el.find("bpmn:documentation", _Q) is not None else 0, found)
    return found


def _add_property(el: etree._Element, name: str, value: str, line: int | None = None) -> None:
    """A spiffworkflow:property, unless the element already has one of that name (it wins)."""
    extensions = _extension_elements(el)
    properties = extensions.find(f"{{{SPIFF}}}properties")
    if properties is None:
        properties = etree.SubElement(extensions, f"{{{SPIFF}}}properties")
        properties.sourceline = line or el.sourceline
    if any(p.get("name") == name for p in properties.iterfind(f"{{{SPIFF}}}property")):
        return
    prop = etree.SubElement(properties, f"{{{SPIFF}}}property", name=name, value=value)
    prop.sourceline = line or el.sourceline
