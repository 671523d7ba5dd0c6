"""Who may do what: the one access policy of tourflow, read by the pages, the API and the CLI.

Every rule lives here (docs/access.md has the table, role x capability):

- a lane id is a role id; a task goes to the holders of its lane, and of those, routed: a user with
  attribute k=v works only the tasks whose routing k (a routing key its process declares, e.g. the
  agency's `desk` and `branch`) is unset or v (a user without attribute k works every value of k);
- a task claimed by someone is theirs: only they complete it; they or a supervisor release or
  reassign it, and a reassignment's target must be able to work the task;
- supervisors recover any task (release or reassign it, whatever its lane or routing) and
  see every incident; auditors read everything and change nothing;
- definitions, deployments, reports, audit chains and messages each have their readers.

The SQL forms of the task and instance rules (`lane_access`, `instance_access`) are here too, so
a list and a single check can never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import and_, exists, or_, select, true
from sqlalchemy.orm import Session

from engine.access.roles import (  # the vocabulary the rules below use; imported from here too
    CAPABILITY_ROLES,
    CAPABILITY_TEXT,
    FRONT_LINE,
    INCIDENT_READERS,
    MESSAGE_OVERSEERS,
    OUTBOX_READERS,
    SUPERVISED_LANES,
    SUPERVISORS,
    SYSTEM_LANE,
    SYSTEM_RESOLVERS,
    WRITES,
    Capability,
    Role,
)
from engine.access.viewer import Viewer, attributes_of, viewer_named, viewer_of  # noqa: F401 (re-exported)
from engine.errors import Refusal, refused
from engine.store.models import HumanTask, ProcessInstance
from engine.store.states import HumanTaskState, InstanceStatus


def require(allowed: bool, message: str) -> None:
    if not allowed:
        raise refused(message)


def refuse_if(refusal: str | None) -> None:
    """Raise NotAllowed with the reason one of the `*_refusal` rules gave, if it gave one."""
    if refusal is not None:
        raise refused(refusal)


# ---- capabilities ----------------------------------------------------------------------------
def may(viewer: Viewer, capability: Capability) -> bool:
    if capability in WRITES and viewer.read_only:
        return False
    return viewer.has(CAPABILITY_ROLES[capability])


def require_capability(viewer: Viewer, capability: Capability) -> None:
    roles = ", ".join(sorted(CAPABILITY_ROLES[capability]))
    require(may(viewer, capability), Refusal(f"{CAPABILITY_TEXT[capability]} for the roles {roles}",
                                             "access.capability", capability=capability.value, roles=roles))


def require_writer(viewer: Viewer) -> None:
    require(not viewer.read_only, Refusal("auditors read everything and change nothing", "access.auditor"))


def start_refusal(viewer: Viewer, start_lane: str | None) -> str | None:
    """Why this viewer may not start a process whose plain start event is in `start_lane`
    (None: anyone who changes things may start it), or None."""
    if viewer.read_only:
        return Refusal("auditors read everything and change nothing", "access.auditor")
    if start_lane and start_lane not in viewer.roles:
        return lane_refusal(viewer, start_lane)
    return None


def lane_refusal(viewer: Viewer, lane: str) -> Refusal:
    roles = ", ".join(sorted(viewer.roles))
    return Refusal(f"user {viewer.username!r} (roles: {roles or 'none'}) does not hold lane {lane!r}",
                   "access.lane", user=viewer.username, roles=roles, lane=lane)


# ---- tasks -----------------------------------------------------------------------------------
# What the instance rules ask the run layer: the open incident of an instance (None if none).
IncidentOf = Callable[[Session, int], "dict[str, Any] | None"]


class TaskLike(Protocol):
    """A task row (models.HumanTask) or anything with its routing and assignment."""

    id: int
    lane: str
    routing: Mapping[str, Any]
    assignee: str | None
    completed_by: str | None


@dataclass(frozen=True)
class TaskFacts:
    """A task's routing and assignment, from a task dict of the pages and the API."""

    id: int
    lane: str
    routing: Mapping[str, Any] = field(default_factory=dict, hash=False)
    assignee: str | None = None
    completed_by: str | None = None

    @classmethod
    def of(cls, task: Mapping[str, Any]) -> TaskFacts:
        return cls(task["id"], task["lane"], task.get("routing") or {}, task.get("assignee"),
                   task.get("completed_by"))


def routing_refusal(viewer: Viewer, routing: Mapping[str, Any] | None, what: str) -> str | None:
    """Why `what` ("task 7", "the failed step") with this routing is not this viewer's, or None:
    for each attribute k=v of the viewer, its routing k must be unset or v."""
    for key, mine in viewer.attributes.items():
        theirs = (routing or {}).get(key)
        if mine and theirs and theirs != mine:
            return Refusal(f"{what} belongs to {key} {theirs}; {viewer.username} works at {key} {mine}",
                           "access.routing", attribute=key, theirs=theirs, user=viewer.username, mine=mine)
    return None


def _routing_refusal(viewer: Viewer, task: TaskLike) -> str | None:
    return routing_refusal(viewer, task.routing, f"task {task.id}")


def work_refusal(viewer: Viewer, task: TaskLike) -> str | None:
    """Why this viewer may not work (claim, complete) this task, or None: they must hold its lane,
    match its routing (a task without a routing key's value is everyone's in the lane) and change things."""
    if viewer.read_only:
        return Refusal("auditors read everything and change nothing", "access.auditor")
    if task.lane not in viewer.roles:
        return lane_refusal(viewer, task.lane)
    return _routing_refusal(viewer, task)


def may_work(viewer: Viewer, task: TaskLike) -> bool:
    return work_refusal(viewer, task) is None


def may_read_task(viewer: Viewer, task: TaskLike) -> bool:
    """Its workers, whoever holds or completed it, supervisors and auditors."""
    if viewer.reads_all or viewer.recovers_tasks:
        return True
    if viewer.username in (task.assignee, task.completed_by):
        return True
    return task.lane in viewer.roles and _routing_refusal(viewer, task) is None


def read_task_refusal(viewer: Viewer, task: TaskLike) -> str | None:
    if may_read_task(viewer, task):
        return None
    return _routing_refusal(viewer, task) or Refusal(
        f"task {task.id} is in lane {task.lane!r}, which {viewer.username} does not hold",
        "access.read_lane", task=task.id, lane=task.lane, user=viewer.username)


def task_edit_refusal(viewer: Viewer, task: TaskLike) -> str | None:
    """Why this viewer may not say they have the task's form open nor keep a draft of it, or None:
    who may open the task page may (`may_read_task`), except read-only viewers (auditors)."""
    if viewer.read_only:
        return Refusal("auditors read everything and change nothing", "access.auditor")
    return read_task_refusal(viewer, task)


def assignment_refusal(viewer: Viewer, task: TaskLike, verb: str) -> str | None:
    """Why this viewer may not release / reassign ("release", "reassign") this task: its workers may,
    while nobody else holds it; supervisors always may."""
    if viewer.recovers_tasks:
        return None
    refusal = work_refusal(viewer, task)
    if refusal:
        return refusal
    if task.assignee not in (None, viewer.username):
        return Refusal(f"task {task.id} is claimed by {task.assignee}; only they or a supervisor may {verb} it",
                       "access.claimed", task=task.id, assignee=task.assignee)
    return None


def reassign_target_refusal(target: Viewer, task: TaskLike) -> str | None:
    """A task goes only to someone who can work it: else it is in nobody's inbox."""
    refusal = work_refusal(target, task)
    if refusal is None:
        return None
    if target.read_only:
        return Refusal(f"user {target.username!r} is read-only and cannot work task {task.id}",
                       "access.target_read_only", user=target.username, task=task.id)
    if task.lane not in target.roles:
        return Refusal(f"user {target.username!r} does not hold lane {task.lane!r}",
                       "access.target_lane", user=target.username, lane=task.lane)
    return Refusal(f"user {target.username!r} cannot work task {task.id}: {refusal}",
                   "access.target_routing", user=target.username, task=task.id)


def task_actions(viewer: Viewer, task: TaskLike, state: str) -> dict[str, bool]:
    """Which buttons of the task page work for this viewer (the engine checks again)."""
    ready = state == HumanTaskState.READY
    works = may_work(viewer, task)
    return {
        "claim": ready and works and task.assignee is None,
        "unclaim": ready and task.assignee is not None and assignment_refusal(viewer, task, "release") is None,
        "reassign": ready and assignment_refusal(viewer, task, "reassign") is None,
        "complete": ready and works and task.assignee in (None, viewer.username),
    }


def lane_access(viewer: Viewer):
    """The SQL condition 'a task row this viewer may work on': their lanes, and for each of their
    attributes k=v, routing k unset or v (as `routing_refusal`)."""
    return _routed(viewer, HumanTask.lane.in_(viewer.roles))


def _routed(viewer: Viewer, condition):
    """`condition`, and for each of the viewer's attributes k=v: routing k unset or v."""
    for key, mine in sorted(viewer.attributes.items()):
        if mine:
            theirs = HumanTask.routing_key(key)
            condition = and_(condition, or_(theirs.is_(None), theirs == mine))
    return condition


# ---- supervision: due and follow-up dates, the overdue list (docs/due-dates.md) ---------------
def supervised_lanes(viewer: Viewer) -> frozenset[str]:
    """The lanes whose tasks this viewer supervises (none for a read-only viewer)."""
    if viewer.read_only or not viewer.has(SUPERVISORS):
        return frozenset()
    return frozenset(SUPERVISED_LANES)


def due_change_refusal(viewer: Viewer, task: TaskLike) -> str | None:
    """Why this viewer may not set or extend this task's due or follow-up date, or None: a
    supervisor of its lane, of its routing (a supervisor with attribute k=v: routing k unset or v)."""
    if viewer.read_only:
        return Refusal("auditors read everything and change nothing", "access.auditor")
    if task.lane not in supervised_lanes(viewer):
        return Refusal(f"the due date of task {task.id} (lane {task.lane!r}) is set by a supervisor of that lane, "
                       f"not by {viewer.username!r}", "access.due_supervisor", task=task.id, lane=task.lane)
    return _routing_refusal(viewer, task)


def overdue_list_refusal(viewer: Viewer) -> str | None:
    """The overdue list is for supervisors (their lanes) and auditors (every lane, read-only)."""
    if viewer.reads_all or supervised_lanes(viewer):
        return None
    return Refusal(f"the overdue list is for supervisors and auditors, not for {viewer.username!r}",
                   "access.overdue_list")


# ---- outgoing messages (engine/outbox): the page, failed messages, the template previews ----------
def outbox_page_refusal(viewer: Viewer) -> str | None:
    if viewer.has(OUTBOX_READERS):
        return None
    return Refusal(f"the outgoing messages are for supervisors, owners and auditors, not for {viewer.username!r}",
                   "access.outbox")


def delivery_refusal(viewer: Viewer, lane: str | None, routing: Mapping[str, Any] | None = None) -> str | None:
    """Why this viewer may not send a failed message again or give it up, or None: supervisors and
    owners (any message, from the outgoing-messages page), else as a failed step of its lane."""
    if not viewer.read_only and viewer.has(MESSAGE_OVERSEERS):
        return None
    return resolve_refusal(viewer, lane, routing)


def template_preview_refusal(viewer: Viewer) -> str | None:
    if viewer.has(MESSAGE_OVERSEERS):
        return None
    return Refusal(f"message templates are for supervisors and process owners, not for {viewer.username!r}",
                   "access.templates")


def supervision_access(viewer: Viewer):
    """The SQL condition 'a task row of this viewer's overdue list': every task for an auditor,
    else the supervised lanes and routing (as `due_change_refusal`)."""
    if viewer.reads_all:
        return true()
    return _routed(viewer, HumanTask.lane.in_(supervised_lanes(viewer)))


# ---- instances and their audit records -------------------------------------------------------
def instance_access(viewer: Viewer):
    """The SQL condition 'an instance this viewer may see' for a viewer who does not see every
    instance: started by them, or with a task in their lanes (and routing), completed by or assigned
    to them."""
    return or_(
        ProcessInstance.started_by == viewer.username,
        exists().where(HumanTask.instance_id == ProcessInstance.id,
                       or_(lane_access(viewer), HumanTask.completed_by == viewer.username,
                           HumanTask.assignee == viewer.username)),
    )


def instance_conditions(viewer: Viewer) -> list[Any]:
    """WHERE conditions of a query of instances: nothing for those who see every instance."""
    return [] if viewer.sees_every_instance else [instance_access(viewer)]


def may_view_instance(session: Session, viewer: Viewer, instance_id: int, open_incident: IncidentOf) -> bool:
    """The instance page, its data, tasks, diagram, events and audit record: supervisors and auditors
    see every instance; others those of `instance_access`, or whose open incident they may see
    (`open_incident(session, instance_id)`: engine/run/instance_access.py passes the run layer's)."""
    if viewer.sees_every_instance:
        return True
    if session.execute(select(exists().where(ProcessInstance.id == instance_id,
                                             instance_access(viewer)))).scalar():
        return True
    incident = open_incident(session, instance_id)
    return incident is not None and may_see_incident(viewer, incident)


# ---- incidents -------------------------------------------------------------------------------
def sees_every_incident(viewer: Viewer) -> bool:
    return viewer.has(INCIDENT_READERS)


def _works_task_row(viewer: Viewer, task: TaskLike) -> bool:
    """Does this task row satisfy `instance_access`'s task condition for this viewer (their lane and
    routing as `lane_access` says it in SQL, or completed by or assigned to them)? False when unsure:
    a routing value that is not a string is left to the query."""
    if viewer.username in (task.assignee, task.completed_by):
        return True
    if task.lane not in viewer.roles:
        return False
    routing = task.routing or {}
    return all(not mine or routing.get(key) is None or routing.get(key) == mine
               for key, mine in viewer.attributes.items())


def may_see_incident(viewer: Viewer, incident: dict[str, Any]) -> bool:
    """Supervisors, owners and auditors: every incident; others those of their lanes (and routing)."""
    if sees_every_incident(viewer):
        return True
    return incident["lane"] in viewer.roles and routing_refusal(viewer, incident.get("routing"), "") is None


def resolve_refusal(viewer: Viewer, lane: str | None, routing: Mapping[str, Any] | None = None) -> str | None:
    """Why this viewer may not resolve an incident of `lane` (None or SYSTEM_LANE: the system's), or None."""
    if viewer.read_only:
        return Refusal("auditors read everything and change nothing", "access.auditor")
    if not lane or lane == SYSTEM_LANE:
        if viewer.has(SYSTEM_RESOLVERS):
            return None
        return Refusal(f"a failure in the system lane is resolved by a supervisor or process owner, "
                       f"not by {viewer.username!r}", "access.system_lane", user=viewer.username)
    if lane not in viewer.roles:
        return Refusal(f"user {viewer.username!r} does not hold lane {lane!r} of the failed step",
                       "access.incident_lane", user=viewer.username, lane=lane)
    return routing_refusal(viewer, routing, "the failed step")


def may_resolve_incident(viewer: Viewer, incident: dict[str, Any]) -> bool:
    return resolve_refusal(viewer, incident["lane"], incident.get("routing")) is None


# ---- personal data (engine/access/privacy.py masks it; docs/privacy.md has the table) ------------------
# Customers' phones, names and ID numbers are shown whole to the people serving them: supervisors
# (escalations, promised call-backs) on every instance they open, the front-line lanes and QC (who
# call complainants back) on the instances they work. Managers, owners, auditors and other
# systems see them masked.
PERSONAL_DATA_ALWAYS = frozenset({Role.SUPERVISOR})
PERSONAL_DATA_SERVING = FRONT_LINE | {Role.STAFF, Role.QC}


def may_see_personal_data(session: Session, viewer: Viewer, instance_id: int, open_incident: IncidentOf,
                          known_task: TaskLike | None = None, started_by: str | None = None) -> bool:
    """May this viewer see the personal data of this instance unmasked? Never for a read-only
    viewer; always for a supervisor; else only in a serving role that works the instance (a task
    in its lanes and routing, or one it completed or holds, the instance started by it, or its
    open incident to resolve). `known_task`: a task row of this instance the caller already holds
    (an inbox row, the task just completed); when it alone shows that the viewer works the
    instance, no query is needed (the query's answer would be the same); so with `started_by`, its starter."""
    if viewer.read_only:
        return False
    if viewer.has(PERSONAL_DATA_ALWAYS):
        return True
    serving = Viewer(viewer.username, frozenset(viewer.roles & PERSONAL_DATA_SERVING), viewer.attributes)
    if not serving.roles:
        return False
    if started_by == viewer.username or (known_task is not None and _works_task_row(serving, known_task)):
        return True
    if session.execute(select(exists().where(ProcessInstance.id == instance_id, instance_access(serving)))).scalar():
        return True
    if session.execute(select(ProcessInstance.status).where(ProcessInstance.id == instance_id)).scalar() != InstanceStatus.ERROR:
        return False
    incident = open_incident(session, instance_id)
    return incident is not None and may_see_incident(serving, incident)
