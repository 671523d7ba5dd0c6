"""Which role works a node: lanes as modelers draw them, and the default lane (docs/bpmn-conventions.md).

The one rule, used by the engine (specs.py: where a task lands, who may start) and by lint:
- a lane whose id is a lane of `roles.LANES` (`qc`, `system`) is that role;
- else a lane whose `name` is a role id or a role's Chinese name (`Lane_0abc` named `qc` or
  `质检培训部`) is that role (names compared without surrounding space, ids case-insensitively);
- else the lane is unknown (lint: `unknown-lane`, an error: nobody could work its tasks).
A user task, manual task or start event that no lane holds goes to the process's default lane:
its `spiffworkflow:property name="defaultLane"`, else the role of the lane holding its start event
(the starter's role: whoever starts an instance holds it), else `staff` (every front-line employee).
"""

from __future__ import annotations

from lxml import etree

from engine.access.roles import LANES, ROLE_NAMES, Role

DEFAULT_LANE_PROPERTY = "defaultLane"  # on the bpmn:process element, like routingKeys
FALLBACK_LANE = Role.STAFF.value
_SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
_BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_BY_NAME = {name: str(role) for role, name in ROLE_NAMES.items() if role in LANES}
# Nodes that a person works or starts: outside every lane they go to the default lane.
DEFAULTED_TAGS = frozenset({"userTask", "manualTask", "startEvent"})


def lane_role(lane_id: str | None, name: str | None) -> str | None:
    """The role a lane stands for (see the module docstring), None when neither its id nor its name is one."""
    if lane_id in LANES:
        return lane_id
    text = (name or "").strip()
    if text.lower() in LANES:
        return text.lower()
    return _BY_NAME.get(text)


def role_of_lane(lane: etree._Element) -> str | None:
    """`lane_role` of a bpmn:lane element."""
    return lane_role(lane.get("id"), lane.get("name"))


def default_lane_property(process: etree._Element) -> str | None:
    """The process's `defaultLane` property as written (None when absent or empty)."""
    for prop in process.iterfind(f"{{{_BPMN}}}extensionElements/{{{_SPIFF}}}properties/{{{_SPIFF}}}property"):
        if prop.get("name") == DEFAULT_LANE_PROPERTY:
            return (prop.get("value") or "").strip() or None
    return None


def default_lane(process: etree._Element) -> str:
    """Where a user task or start event outside every lane goes: `defaultLane` (a role id or a
    role's Chinese name), else the starter's role (the lane of a start event), else `staff`."""
    written = default_lane_property(process)
    return (lane_role(written, written) if written else None) or starter_role(process) or FALLBACK_LANE


def starter_role(process: etree._Element) -> str | None:
    """The role of the lane that holds one of the process's start events (the first in the file)."""
    starts = {el.get("id") for el in process.iterfind(f"{{{_BPMN}}}startEvent")}
    for lane in process.iterfind(f".//{{{_BPMN}}}lane"):
        refs = {(ref.text or "").strip() for ref in lane.iterfind(f"{{{_BPMN}}}flowNodeRef")}
        if refs & starts and (role := role_of_lane(lane)):
            return role
    return None
