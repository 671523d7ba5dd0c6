"""What changed between two versions of a process: nodes and flows added, removed or changed (with
each changed detail: name, lane, SOP, condition, script, timer, handler, form, message ...), the
forms' fields, and which shapes moved on the diagram. The `tourflow diff` command, the API and the
diff page all read this one answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from engine.bpmn.xmlsafe import BPMN_MODEL_NS, parse_bpmn_xml

DI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
# Children that only restate the flows (incoming/outgoing) or are elements in their own right.
SKIPPED_CHILDREN = {"incoming", "outgoing", "flowNodeRef"}
CONTAINERS = {"subProcess", "adHocSubProcess", "transaction"}
FLOW_ELEMENTS = CONTAINERS | {
    "task", "userTask", "serviceTask", "scriptTask", "manualTask", "businessRuleTask", "sendTask", "receiveTask",
    "callActivity", "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway",
    "sequenceFlow", "dataObjectReference", "dataStoreReference", "textAnnotation", "association",
}
# Owner-facing names of the details, as the diff page and the CLI show them.
DETAIL_LABELS = {
    "documentation": "SOP", "conditionExpression": "condition", "script": "script", "timeDate": "timer",
    "timeDuration": "timer", "timeCycle": "timer", "messageRef": "message", "default": "default flow",
    "sourceRef": "from", "targetRef": "to", "attachedToRef": "attached to", "cancelActivity": "interrupting",
    "calledElement": "called process", "lane": "lane", "name": "name",
}


@dataclass(frozen=True)
class Element:
    """A node or a sequence flow as an owner sees it: kind, name, lane and its details."""

    id: str
    kind: str
    name: str
    lane: str | None
    details: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "name": self.name, "lane": self.lane, "details": self.details}


@dataclass(frozen=True)
class Change:
    id: str
    kind: str
    name: str
    fields: dict[str, tuple[str | None, str | None]]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "name": self.name,
                "fields": [{"field": k, "label": label_of(k), "old": old, "new": new}
                           for k, (old, new) in self.fields.items()]}


@dataclass
class VersionDiff:
    added: list[Element] = field(default_factory=list)
    removed: list[Element] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    forms: list[dict[str, Any]] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.forms or self.moved)

    def as_dict(self) -> dict[str, Any]:
        return {"added": [e.as_dict() for e in self.added], "removed": [e.as_dict() for e in self.removed],
                "changed": [c.as_dict() for c in self.changed], "forms": self.forms, "moved": self.moved}


def label_of(detail: str) -> str:
    base = detail.split(":", 1)[-1] if detail.startswith("property:") else detail.split("/")[-1]
    return base if detail.startswith("property:") else DETAIL_LABELS.get(base, detail)


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _text(el: etree._Element) -> str:
    return " ".join((el.text or "").split())


def _details(el: etree._Element) -> dict[str, str]:
    """Attributes (but the id and name) and the text of every descendant that is not an element of its
    own, keyed by path; extension properties by their name."""
    details = {k if "}" not in k else etree.QName(k).localname: " ".join(v.split())
               for k, v in el.attrib.items() if k not in ("id", "name")}

    def walk(node: etree._Element, path: str) -> None:
        for child in node:
            local = _local(child)
            if not local or local in SKIPPED_CHILDREN or _is_element(child):
                continue
            if local == "property" and child.get("name") is not None and child.get("value") is not None:
                details[f"property:{child.get('name')}"] = child.get("value")
                continue
            key = f"{path}/{local}" if path else local
            for attr, value in child.attrib.items():
                if attr != "id" and etree.QName(attr).localname != "type":  # xsi:type values carry a prefix
                    details[f"{key}@{etree.QName(attr).localname}"] = " ".join(value.split())
            if _text(child):
                details[key] = _text(child) if local not in ("script", "documentation") else (child.text or "").strip()
            walk(child, key)

    walk(el, "")
    return details


def _is_element(el: etree._Element) -> bool:
    """A flow node or flow of its own (also inside a subprocess), not a detail of its parent."""
    return etree.QName(el).namespace == BPMN_MODEL_NS and _local(el) in FLOW_ELEMENTS


def elements(data: bytes, filename: str) -> dict[str, Element]:
    """Every node and sequence flow of every process in the file, by id."""
    root = parse_bpmn_xml(data, filename).getroot()
    lanes = {ref.text.strip(): lane.get("id") for lane in root.iter(f"{{{BPMN_MODEL_NS}}}lane")
             for ref in lane.iterfind(f"{{{BPMN_MODEL_NS}}}flowNodeRef") if ref.text}
    found: dict[str, Element] = {}

    def collect(container: etree._Element) -> None:
        for child in container:
            if not isinstance(child.tag, str) or not _is_element(child):
                continue
            found[child.get("id")] = Element(child.get("id"), _local(child), child.get("name") or "",
                                             lanes.get(child.get("id")), _details(child))
            if _local(child) in CONTAINERS:
                collect(child)

    for process in root.iterfind(f"{{{BPMN_MODEL_NS}}}process"):
        collect(process)
    return found


def shapes(data: bytes, filename: str) -> dict[str, tuple[str, ...]]:
    """Where each element is drawn: bounds of shapes, waypoints of edges."""
    root = parse_bpmn_xml(data, filename).getroot()
    drawn: dict[str, tuple[str, ...]] = {}
    for shape in root.iter(f"{{{DI_NS}}}BPMNShape", f"{{{DI_NS}}}BPMNEdge"):
        points = [tuple(p.get(k) or "" for k in ("x", "y", "width", "height"))
                  for p in shape if _local(p) in ("Bounds", "waypoint")]
        drawn[shape.get("bpmnElement") or ""] = tuple(" ".join(p) for p in points)
    return drawn


def _form_fields(schema: Any) -> dict[str, Any]:
    return schema.get("properties", {}) if isinstance(schema, dict) else {}


def diff_forms(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """Per form file: added, removed, or which fields were added, removed or changed."""
    result = []
    for ref in sorted(set(old) | set(new)):
        if ref not in old:
            result.append({"form": ref, "change": "added", "fields_added": sorted(_form_fields(new[ref]))})
        elif ref not in new:
            result.append({"form": ref, "change": "removed", "fields_removed": sorted(_form_fields(old[ref]))})
        elif old[ref] != new[ref]:
            before, after = _form_fields(old[ref]), _form_fields(new[ref])
            result.append({
                "form": ref, "change": "changed",
                "fields_added": sorted(set(after) - set(before)),
                "fields_removed": sorted(set(before) - set(after)),
                "fields_changed": sorted(k for k in set(before) & set(after) if before[k] != after[k]),
                "required_changed": (old[ref].get("required") != new[ref].get("required"))
                if isinstance(old[ref], dict) and isinstance(new[ref], dict) else True,
            })
    return result


def diff_versions(old_xml: bytes, old_forms: dict[str, Any], new_xml: bytes, new_forms: dict[str, Any],
                  filename: str = "process.bpmn") -> VersionDiff:
    before, after = elements(old_xml, filename), elements(new_xml, filename)
    result = VersionDiff()
    result.added = [after[i] for i in after if i not in before]
    result.removed = [before[i] for i in before if i not in after]
    for element_id in (i for i in after if i in before):
        a, b = before[element_id], after[element_id]
        fields: dict[str, tuple[str | None, str | None]] = {}
        for key in ("kind", "name", "lane"):
            if getattr(a, key) != getattr(b, key):
                fields[key] = (getattr(a, key), getattr(b, key))
        for key in sorted(set(a.details) | set(b.details)):
            if a.details.get(key) != b.details.get(key):
                fields[key] = (a.details.get(key), b.details.get(key))
        if fields:
            result.changed.append(Change(element_id, b.kind, b.name or a.name, fields))
    result.forms = diff_forms(old_forms, new_forms)
    drawn_before, drawn_after = shapes(old_xml, filename), shapes(new_xml, filename)
    result.moved = sorted(i for i in drawn_after if i in drawn_before and drawn_before[i] != drawn_after[i]
                          and i in after)
    return result


__all__ = ["Change", "Element", "VersionDiff", "diff_forms", "diff_versions", "elements", "label_of", "shapes"]
