"""The structural lint rules of docs/bpmn-conventions.md: process, ids, flows, diagram, lanes, tasks.

Each rule is a small function `rule(doc) -> iterable of Finding`; `STRUCTURE_RULES` lists them
in the order a reader meets the conventions. Expression, form and handler rules live in
`lint_content.py`.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from engine.access.roles import SYSTEM_LANE
from engine.bpmn.lanes import (
    DEFAULT_LANE_PROPERTY,
    DEFAULTED_TAGS,
    default_lane,
    default_lane_property,
    lane_role,
    role_of_lane,
)
from engine.bpmn.lint_messages import msg
from engine.bpmn.lint_model import (
    CONTAINER_TAGS,
    HUMAN_TASK_TAGS,
    KNOWN_LANES,
    NS,
    BpmnDocument,
    Finding,
    bpmn_tag,
    described,
)
from engine.bpmn.sop import sop_element

Findings = Iterator[Finding]

# SpiffWorkflow creates task specs with these names itself; a BPMN element with the same id is lost.
RESERVED_IDS = frozenset({"Start", "End", "Root"})
NUMBERED_RULE = re.compile(r"[(（]\s*1\s*[)）]")
MAX_OVERLAP_SHAPES = 1000  # real processes have a few dozen; the pairwise check must stay cheap
MAX_OVERLAP_FINDINGS = 20


# -- file and process ---------------------------------------------------------------------

def check_processes(doc: BpmnDocument) -> Findings:
    if not doc.processes:
        collaboration = doc.root.find("bpmn:collaboration", NS)
        if collaboration is not None:
            yield doc.error(collaboration, "collaboration-only", msg("collaboration-only"))
        else:
            yield doc.error(doc.root, "no-process", msg("no-process.none"))
        return
    if not doc.executable_processes():
        yield doc.error(doc.process, "not-executable", msg("not-executable", process=doc.process_id))
    stem = Path(doc.filename).stem
    if doc.process_id != stem:
        yield doc.warning(doc.process, "process-id-mismatch",
                          msg("process-id-mismatch", process=doc.process_id, stem=stem))


def check_pool(doc: BpmnDocument) -> Findings:
    participants = doc.root.findall("bpmn:collaboration/bpmn:participant", NS)
    if not any(p.get("processRef") == doc.process_id for p in participants):
        yield doc.warning(doc.process, "no-pool", msg("no-pool", process=doc.process_id))


def check_ids(doc: BpmnDocument) -> Findings:
    reserved = RESERVED_IDS | {f"{doc.process_id}.EndJoin"}
    for el_id, el in doc.elements_by_id.items():
        if el_id in reserved:
            yield doc.error(el, "reserved-id",
                            msg("reserved-id", element=described(el), id=el_id, suggestion=f"{el_id.lower()}_event"))
    for el in doc.duplicate_ids:
        first = doc.elements_by_id[el.get("id")]
        yield doc.error(el, "duplicate-id", msg("duplicate-id", id=el.get("id"), line=first.sourceline))


# -- flow -----------------------------------------------------------------------------------

def check_start_end(doc: BpmnDocument) -> Findings:
    direct = {bpmn_tag(n) for n in doc.direct_flow_nodes()}
    if "startEvent" not in direct:
        yield doc.error(doc.process, "no-start", msg("no-start", process=doc.process_id))
    if "endEvent" not in direct:
        yield doc.error(doc.process, "no-end", msg("no-end", process=doc.process_id))


def check_dangling_flows(doc: BpmnDocument) -> Findings:
    for flow in doc.sequence_flows:
        for end in ("sourceRef", "targetRef"):
            ref = flow.get(end)
            if ref not in doc.flow_node_ids:
                flow_id = flow.get("id", "?")
                text = (msg("dangling-flow", flow=flow_id, end=end, ref=ref) if ref
                        else msg("dangling-flow.nothing", flow=flow_id, end=end))
                yield doc.error(flow, "dangling-flow", text)


def _successors(doc: BpmnDocument) -> dict[str, list[str]]:
    succ: dict[str, list[str]] = {}
    for flow in doc.sequence_flows:
        succ.setdefault(flow.get("sourceRef", ""), []).append(flow.get("targetRef", ""))
    links: dict[str, list[str]] = {}
    incoming = {f.get("targetRef") for f in doc.sequence_flows}
    for node in doc.flow_nodes:
        tag, node_id = bpmn_tag(node), node.get("id", "")
        if tag == "boundaryEvent":
            succ.setdefault(node.get("attachedToRef", ""), []).append(node_id)
        if tag in CONTAINER_TAGS:
            children = [c for c in node if bpmn_tag(c) and c.get("id") in doc.flow_node_ids]
            starts = [c for c in children
                      if bpmn_tag(c) == "startEvent" or (tag == "adHocSubProcess" and c.get("id") not in incoming)]
            succ.setdefault(node_id, []).extend(c.get("id") for c in starts)
        link = node.find("bpmn:linkEventDefinition", NS)
        if link is not None and tag == "intermediateCatchEvent":
            links.setdefault(link.get("name") or node.get("name") or "", []).append(node_id)
    for node in doc.of_type("intermediateThrowEvent"):
        link = node.find("bpmn:linkEventDefinition", NS)
        if link is not None:
            succ.setdefault(node.get("id", ""), []).extend(links.get(link.get("name") or node.get("name") or "", []))
    return succ


def check_reachability(doc: BpmnDocument) -> Findings:
    succ = _successors(doc)
    roots = [n.get("id") for n in doc.direct_flow_nodes() if bpmn_tag(n) == "startEvent"]
    if not roots:
        return  # no-start says it; every node unreachable would only bury it
    roots += [n.get("id") for n in doc.of_type("subProcess") if n.get("triggeredByEvent") == "true"]
    seen, queue = set(roots), deque(roots)
    while queue:
        for nxt in succ.get(queue.popleft(), []):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    for node in doc.flow_nodes:
        container = doc.container_of(node)
        container_reached = container is doc.process or container.get("id") in seen
        if node.get("id") not in seen and container_reached:
            yield doc.warning(node, "unreachable", msg("unreachable", element=described(node)))


# -- diagram --------------------------------------------------------------------------------

def _bounds(shape) -> tuple[float, float, float, float] | None:
    b = shape.find("dc:Bounds", NS)
    if b is None:
        return None
    try:
        return tuple(float(b.get(k, "")) for k in ("x", "y", "width", "height"))
    except ValueError:
        return None


def check_diagram(doc: BpmnDocument) -> Findings:
    if doc.root.find("bpmndi:BPMNDiagram", NS) is None:
        yield doc.warning(doc.root, "missing-di", msg("missing-di.diagram"))
        return
    participants = [p for p in doc.root.findall("bpmn:collaboration/bpmn:participant", NS)
                    if p.get("processRef") == doc.process_id]
    for el in doc.flow_nodes + doc.lanes() + participants:
        shape = doc.shapes.get(el.get("id", ""))
        if shape is None:
            yield doc.warning(el, "missing-di", msg("missing-di.shape", element=described(el)))
        elif _bounds(shape) is None:
            yield doc.warning(shape, "missing-di", msg("missing-di.bounds", element=described(el)))
    for flow in doc.sequence_flows:
        if flow.get("id", "") not in doc.edges:
            yield doc.warning(flow, "missing-di", msg("missing-di.edge", flow=flow.get("id", "?")))


def _may_overlap(a, b) -> bool:
    """Boundary events sit on their host, and nodes inside a subprocess inside its shape."""
    if a.get("attachedToRef") == b.get("id") or b.get("attachedToRef") == a.get("id"):
        return False
    return not (a in b.iterancestors() or b in a.iterancestors())


def check_overlap(doc: BpmnDocument) -> Findings:
    boxes = []  # (x, y, width, height, plane, node, shape)
    for node in doc.flow_nodes:
        shape = doc.shapes.get(node.get("id", ""))
        bounds = _bounds(shape) if shape is not None else None
        if bounds is not None:
            boxes.append((*bounds, shape.getparent(), node, shape))
    if len(boxes) > MAX_OVERLAP_SHAPES:
        yield doc.warning(doc.process, "overlap", msg("overlap.too-many", count=len(boxes)))
        return
    boxes.sort(key=lambda box: box[0])
    reported = 0
    for i, (ax, ay, aw, ah, plane_a, a, shape_a) in enumerate(boxes):
        for bx, by, _bw, bh, plane_b, b, shape_b in boxes[i + 1:]:
            if bx >= ax + aw:
                break  # sorted by x: nothing further right can touch `a`
            if plane_a is plane_b and ay < by + bh and by < ay + ah and _may_overlap(a, b):
                reported += 1
                if reported > MAX_OVERLAP_FINDINGS:
                    yield doc.warning(doc.process, "overlap", msg("overlap.more", limit=MAX_OVERLAP_FINDINGS))
                    return
                later = max(shape_a, shape_b, key=lambda s: s.sourceline or 0)
                first, second = sorted((a, b), key=lambda n: n.sourceline or 0)
                yield doc.warning(later, "overlap", msg("overlap", first=described(first), second=described(second)))


# -- lanes and human tasks ------------------------------------------------------------------

def check_lanes(doc: BpmnDocument) -> Findings:
    """Lanes are optional (a house convention, warnings); a lane nobody can hold is an error.
    engine/bpmn/lanes.py maps lanes to roles and gives the default lane, for lint and engine alike."""
    lanes = doc.lanes()
    fallback = default_lane(doc.process)
    yield from _check_default_lane(doc, fallback)
    if not lanes:
        yield doc.warning(doc.process, "lane-missing", msg("lanes.none-default", lane=fallback))
    for lane in lanes:
        if doc.is_leaf_lane(lane) and role_of_lane(lane) is None:
            yield doc.error(lane, "unknown-lane",
                            msg("lanes.unknown", lane=lane.get("id"), name=lane.get("name") or "",
                                roles=", ".join(sorted(KNOWN_LANES))))
    lanes_of = doc.leaf_lanes_of()
    for node in doc.direct_flow_nodes() if lanes else ():
        held_by = lanes_of.get(node.get("id", ""), [])
        if not held_by and node.get("id") not in doc.task_roles:  # camunda:candidateGroups gave it a role
            text = (msg("lanes.node-default", element=described(node), lane=fallback)
                    if bpmn_tag(node) in DEFAULTED_TAGS else msg("lane-missing.none", element=described(node)))
            yield doc.warning(node, "lane-missing", text)
        elif len(held_by) > 1:
            yield doc.error(node, "lane-missing",
                            msg("lane-missing.several", element=described(node), lanes=", ".join(held_by)))
    roles = {lane.get("id", ""): role_of_lane(lane) for lane in lanes}
    for task in doc.of_type(*HUMAN_TASK_TAGS):
        lane = doc.effective_lane(task, lanes_of)
        if (roles.get(lane) if lane is not None else doc.task_roles.get(task.get("id"), fallback)) == SYSTEM_LANE:
            yield doc.error(task, "user-task-in-system-lane", msg("user-task-in-system-lane", element=described(task)))


def _check_default_lane(doc: BpmnDocument, fallback: str) -> Findings:
    written = default_lane_property(doc.process)
    if written and lane_role(written, written) is None:
        yield doc.error(doc.process, "unknown-lane",
                        msg("lanes.default-unknown", lane=written, prop=DEFAULT_LANE_PROPERTY,
                            roles=", ".join(sorted(KNOWN_LANES)), fallback=fallback))


def check_documentation(doc: BpmnDocument) -> Findings:
    for task in doc.of_type(*HUMAN_TASK_TAGS):
        documentation = sop_element(task)  # bpmn:documentation, or SpiffArena's instructionsForEndUser
        text = (documentation.text or "").strip() if documentation is not None else ""
        if not text:
            yield doc.warning(task, "missing-documentation", msg("missing-documentation.none", element=described(task)))
        elif not NUMBERED_RULE.search(text):
            yield doc.warning(documentation, "missing-documentation",
                              msg("missing-documentation.unnumbered", element=described(task)))


def check_gateways(doc: BpmnDocument) -> Findings:
    for gateway in doc.of_type("exclusiveGateway", "inclusiveGateway"):
        flows = doc.outgoing(gateway.get("id", ""))
        default = gateway.get("default")
        if default and default not in {f.get("id") for f in flows}:
            yield doc.warning(gateway, "gateway-no-default",
                              msg("gateway-no-default.not-outgoing", element=described(gateway), flow=default))
            continue
        unconditioned = [f.get("id", "?") for f in flows if not _condition_text(f)]
        if len(flows) > 1 and not default and unconditioned:
            yield doc.warning(gateway, "gateway-no-default",
                              msg("gateway-no-default", element=described(gateway), flows=", ".join(unconditioned)))


def check_boundaries(doc: BpmnDocument) -> Findings:
    """SpiffWorkflow 3.2 crashes (TaskNotFoundException) when an interrupting boundary event
    fires on a multi-instance subprocess; a non-interrupting one, or one on a multi-instance
    task, works. Refused at deploy rather than found by a stuck instance."""
    for boundary in doc.of_type("boundaryEvent"):
        if boundary.get("cancelActivity", "true").lower() != "true":
            continue
        host = doc.elements_by_id.get(boundary.get("attachedToRef", ""))
        if (host is not None and bpmn_tag(host) in ("subProcess", "transaction")
                and host.find("bpmn:multiInstanceLoopCharacteristics", NS) is not None):
            yield doc.error(boundary, "interrupting-boundary-on-multi-instance",
                            msg("interrupting-boundary-on-multi-instance", element=described(boundary),
                                host=described(host)))


def _condition_text(flow) -> str:
    condition = flow.find("bpmn:conditionExpression", NS)
    return (condition.text or "").strip() if condition is not None else ""


STRUCTURE_RULES = (
    check_pool,
    check_ids,
    check_start_end,
    check_dangling_flows,
    check_reachability,
    check_diagram,
    check_overlap,
    check_lanes,
    check_documentation,
    check_gateways,
    check_boundaries,
)
