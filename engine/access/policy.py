"""Who may do what: the one access policy of tourflow, read by the pages, the API and the CLI.

Every rule lives here (docs/access.md has the table, role x capability):

- a lane id is a role id; a task goes to the holders of its lane, and of those, when the task
  has a `desk` / `branch`, to the users of that desk / branch only (a user without one sees all);
- a task claimed by someone is theirs: only they complete it; they or a supervisor release or
  reassign it, and a reassignment's target must be able to work the task;
- supervisors recover any task (release or reassign it, whatever its lane, desk or branch) and
  see every incident; auditors read everything and change nothing;
- definitions, deployments, reports, audit chains and messages each have their readers.

The SQL forms of the task and instance rules (`lane_access`, `instance_access`) are here too, so
a list and a single check can never disagree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session, selectinload

from engine.errors import NotAllowed
from engine.store.models import HumanTask, ProcessInstance, User
from engine.store.states import HumanTaskState, InstanceStatus


class Role(StrEnum):
    """The roles (a lane id is a role id). Members are strings: `Role.AUDITOR == "auditor"`."""

    STAFF = "staff"  # 各部门工作人员, "any employee" in the documents: every front-line role holds it too
    AGENT = "agent"
    RECEPTIONIST = "receptionist"
    SALES = "sales"
    QC = "qc"
    SUPERVISOR = "supervisor"
    OPERATOR = "operator"
    GUIDE = "guide"
    MANAGER = "manager"
    AUDITOR = "auditor"
    OWNER = "owner"
    INTEGRATION = "integration"  # accounts of other systems (phone switch, web shop, bank) sending messages


ROLE_NAMES: dict[str, str] = {
    Role.STAFF: "各部门工作人员",
    Role.AGENT: "坐席专员",
    Role.RECEPTIONIST: "接待人员",
    Role.SALES: "销售人员",
    Role.QC: "质检培训部",
    Role.SUPERVISOR: "主管",
    Role.OPERATOR: "计调",
    Role.GUIDE: "导游",
    Role.MANAGER: "项目经理",
    Role.AUDITOR: "审计",
    Role.OWNER: "流程负责人",
    Role.INTEGRATION: "系统对接",
}
# Front-line roles also hold the `staff` lane.
FRONT_LINE = frozenset({Role.AGENT, Role.RECEPTIONIST, Role.SALES, Role.OPERATOR, Role.GUIDE})
# The lane of a step that belongs to no person (a handler that kept failing): its incidents go to
# the SYSTEM_RESOLVERS.
SYSTEM_LANE = "system"

# ---- capabilities by role ------------------------------------------------------------------
READ_ALL = frozenset({Role.AUDITOR})  # every task (their inbox lists all), instance and audit record
READ_ONLY = frozenset({Role.AUDITOR})  # changes nothing, whatever else they hold
# Supervisors recover any task (release it, reassign it to someone who can work it) whatever its
# lane, desk or branch, so they open every task and instance; their inbox still lists their lanes.
TASK_RECOVERERS = frozenset({Role.SUPERVISOR})
INCIDENT_READERS = frozenset({Role.SUPERVISOR, Role.OWNER, Role.AUDITOR})  # every open incident
SYSTEM_RESOLVERS = frozenset({Role.SUPERVISOR, Role.OWNER})  # incidents of the system lane
# Roles that are no work lane of any process: the inbox offers no lane filter for them.
NOT_LANES = frozenset({Role.AUDITOR, Role.OWNER, Role.INTEGRATION})
# The lanes a process may use (lint: an unknown lane is a finding): the working roles and `system`.
LANES = frozenset(Role) - NOT_LANES | {SYSTEM_LANE}


class Capability(StrEnum):
    """What a role may do regardless of any one task or instance."""

    READ_DEFINITIONS = "read_definitions"  # process versions, their BPMN XML (scripts too) and lint findings
    DEPLOY = "deploy"
    READ_HEATMAP = "read_heatmap"
    READ_REPORTS = "read_reports"  # the KPI dashboard, its CSV and the API's report
    READ_CHAINS = "read_chains"  # tamper evidence of every hash chain
    SEND_MESSAGES = "send_messages"
    READ_MESSAGES = "read_messages"
    CANCEL_INSTANCES = "cancel_instances"


CAPABILITY_ROLES: dict[Capability, frozenset[str]] = {
    Capability.READ_DEFINITIONS: frozenset({Role.OWNER, Role.AUDITOR}),
    Capability.DEPLOY: frozenset({Role.OWNER}),
    Capability.READ_HEATMAP: frozenset({Role.OWNER, Role.AUDITOR, Role.MANAGER, Role.SUPERVISOR}),
    Capability.READ_REPORTS: frozenset({Role.MANAGER, Role.SUPERVISOR, Role.QC, Role.OWNER, Role.AUDITOR}),
    Capability.READ_CHAINS: frozenset({Role.AUDITOR, Role.SUPERVISOR, Role.OWNER}),
    Capability.SEND_MESSAGES: frozenset({Role.SUPERVISOR, Role.OWNER, Role.INTEGRATION}),
    Capability.READ_MESSAGES: frozenset({Role.SUPERVISOR, Role.OWNER, Role.INTEGRATION, Role.AUDITOR}),
    Capability.CANCEL_INSTANCES: frozenset({Role.SUPERVISOR, Role.OWNER}),
}
WRITES = frozenset({Capability.DEPLOY, Capability.SEND_MESSAGES, Capability.CANCEL_INSTANCES})
CAPABILITY_TEXT = {
    Capability.READ_DEFINITIONS: "the process definitions and their diagrams are",
    Capability.DEPLOY: "deploying processes is",
    Capability.READ_HEATMAP: "the heatmap is",
    Capability.READ_REPORTS: "the KPI report is",
    Capability.READ_CHAINS: "the chain verdicts are",
    Capability.SEND_MESSAGES: "sending messages is",
    Capability.READ_MESSAGES: "reading messages is",
    Capability.CANCEL_INSTANCES: "cancelling an instance is",
}


@dataclass(frozen=True)
class Viewer:
    """Who is asking: a user name, the roles (= lanes) they hold, their desk and branch."""

    username: str
    roles: frozenset[str]
    desk: str | None = None  # agents see the tasks of their own desk only
    branch: str | None = None  # branch staff see the tasks of their own branch only

    def has(self, roles: Iterable[str]) -> bool:
        return bool(self.roles & set(roles))

    @property
    def reads_all(self) -> bool:
        return self.has(READ_ALL)

    @property
    def read_only(self) -> bool:
        return self.has(READ_ONLY)

    @property
    def recovers_tasks(self) -> bool:
        return self.has(TASK_RECOVERERS) and not self.read_only

    @property
    def sees_every_instance(self) -> bool:
        return self.reads_all or self.recovers_tasks


def viewer_of(user: User) -> Viewer:
    """The Viewer of a user row (roles loaded)."""
    return Viewer(user.username, frozenset(user.role_ids), user.desk, user.branch_code)


def require(allowed: bool, message: str) -> None:
    if not allowed:
        raise NotAllowed(message)


def refuse_if(refusal: str | None) -> None:
    """Raise NotAllowed with the reason one of the `*_refusal` rules gave, if it gave one."""
    if refusal is not None:
        raise NotAllowed(refusal)


def viewer_named(session: Session, username: str) -> Viewer | None:
    """The Viewer of an active user, None for an unknown or inactive one."""
    user = session.execute(
        select(User).options(selectinload(User.roles)).where(User.username == username)
    ).scalar_one_or_none()
    return viewer_of(user) if user is not None and user.active else None


# ---- capabilities ----------------------------------------------------------------------------
def may(viewer: Viewer, capability: Capability) -> bool:
    if capability in WRITES and viewer.read_only:
        return False
    return viewer.has(CAPABILITY_ROLES[capability])


def require_capability(viewer: Viewer, capability: Capability) -> None:
    roles = ", ".join(sorted(CAPABILITY_ROLES[capability]))
    require(may(viewer, capability), f"{CAPABILITY_TEXT[capability]} for the roles {roles}")


def require_writer(viewer: Viewer) -> None:
    require(not viewer.read_only, "auditors read everything and change nothing")


def start_refusal(viewer: Viewer, start_lane: str | None) -> str | None:
    """Why this viewer may not start a process whose plain start event is in `start_lane`
    (None: anyone who changes things may start it), or None."""
    if viewer.read_only:
        return "auditors read everything and change nothing"
    if start_lane and start_lane not in viewer.roles:
        return (f"user {viewer.username!r} (roles: {', '.join(sorted(viewer.roles)) or 'none'}) "
                f"does not hold lane {start_lane!r}")
    return None


def may_start(viewer: Viewer, start_lane: str | None) -> bool:
    return start_refusal(viewer, start_lane) is None


# ---- tasks -----------------------------------------------------------------------------------
class TaskLike(Protocol):
    """A task row (models.HumanTask) or anything with its routing and assignment."""

    id: int
    lane: str
    desk: str | None
    branch: str | None
    assignee: str | None
    completed_by: str | None


@dataclass(frozen=True)
class TaskFacts:
    """A task's routing and assignment, from a task dict of the pages and the API."""

    id: int
    lane: str
    desk: str | None = None
    branch: str | None = None
    assignee: str | None = None
    completed_by: str | None = None

    @classmethod
    def of(cls, task: Mapping[str, Any]) -> TaskFacts:
        return cls(task["id"], task["lane"], task.get("desk"), task.get("branch"), task.get("assignee"),
                   task.get("completed_by"))


def _routing_refusal(viewer: Viewer, task: TaskLike) -> str | None:
    if viewer.desk and task.desk and task.desk != viewer.desk:
        return f"task {task.id} belongs to the {task.desk} desk; {viewer.username} works the {viewer.desk} desk"
    if viewer.branch and task.branch and task.branch != viewer.branch:
        return f"task {task.id} belongs to branch {task.branch}; {viewer.username} works at branch {viewer.branch}"
    return None


def work_refusal(viewer: Viewer, task: TaskLike) -> str | None:
    """Why this viewer may not work (claim, complete) this task, or None: they must hold its lane,
    work its desk and branch (a task of none is everyone's in the lane) and change things."""
    if viewer.read_only:
        return "auditors read everything and change nothing"
    if task.lane not in viewer.roles:
        return (f"user {viewer.username!r} (roles: {', '.join(sorted(viewer.roles)) or 'none'}) "
                f"does not hold lane {task.lane!r}")
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
    return _routing_refusal(viewer, task) or f"task {task.id} is in lane {task.lane!r}, which {viewer.username} does not hold"


def assignment_refusal(viewer: Viewer, task: TaskLike, verb: str) -> str | None:
    """Why this viewer may not release / reassign ("release", "reassign") this task: its workers may,
    while nobody else holds it; supervisors always may."""
    if viewer.recovers_tasks:
        return None
    refusal = work_refusal(viewer, task)
    if refusal:
        return refusal
    if task.assignee not in (None, viewer.username):
        return f"task {task.id} is claimed by {task.assignee}; only they or a supervisor may {verb} it"
    return None


def reassign_target_refusal(target: Viewer, task: TaskLike) -> str | None:
    """A task goes only to someone who can work it: else it is in nobody's inbox."""
    refusal = work_refusal(target, task)
    if refusal is None:
        return None
    if target.read_only:
        return f"user {target.username!r} is read-only and cannot work task {task.id}"
    if task.lane not in target.roles:
        return f"user {target.username!r} does not hold lane {task.lane!r}"
    return f"user {target.username!r} cannot work task {task.id}: {refusal}"


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
    """The SQL condition 'a task row this viewer may work on': their lanes, and their desk and
    branch if they have them (a task of no desk or branch is everyone's in the lane)."""
    condition = HumanTask.lane.in_(viewer.roles)
    if viewer.desk:
        condition = and_(condition, or_(HumanTask.desk.is_(None), HumanTask.desk == viewer.desk))
    if viewer.branch:
        condition = and_(condition, or_(HumanTask.branch.is_(None), HumanTask.branch == viewer.branch))
    return condition


# ---- instances and their audit records -------------------------------------------------------
def instance_access(viewer: Viewer):
    """The SQL condition 'an instance this viewer may see' for a viewer who does not see every
    instance: started by them, or with a task in their lanes (desk, branch), completed by or assigned
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


def may_view_instance(session: Session, viewer: Viewer, instance_id: int) -> bool:
    """The instance page, its data, tasks, diagram, events and audit record: supervisors and auditors
    see every instance; others those of `instance_access`, or whose open incident they may see."""
    if viewer.sees_every_instance:
        return True
    if session.execute(select(exists().where(ProcessInstance.id == instance_id,
                                             instance_access(viewer)))).scalar():
        return True
    from engine.run.incidents import incident_of  # incidents reads this module's incident rules

    incident = incident_of(session, instance_id)
    return incident is not None and may_see_incident(viewer, incident)


# ---- incidents -------------------------------------------------------------------------------
def _incident_off_routing(viewer: Viewer, incident: dict[str, Any]) -> bool:
    desk, branch = incident.get("desk"), incident.get("branch")
    return bool((viewer.desk and desk and desk != viewer.desk)
                or (viewer.branch and branch and branch != viewer.branch))


def sees_every_incident(viewer: Viewer) -> bool:
    return viewer.has(INCIDENT_READERS)


def may_see_incident(viewer: Viewer, incident: dict[str, Any]) -> bool:
    """Supervisors, owners and auditors: every incident; others those of their lanes (desk, branch)."""
    if sees_every_incident(viewer):
        return True
    return incident["lane"] in viewer.roles and not _incident_off_routing(viewer, incident)


def resolve_refusal(viewer: Viewer, lane: str | None, desk: str | None = None,
                    branch: str | None = None) -> str | None:
    """Why this viewer may not resolve an incident of `lane` (None or SYSTEM_LANE: the system's), or None."""
    if viewer.read_only:
        return "auditors read everything and change nothing"
    if not lane or lane == SYSTEM_LANE:
        if viewer.has(SYSTEM_RESOLVERS):
            return None
        return f"a failure in the system lane is resolved by a supervisor or process owner, not by {viewer.username!r}"
    if lane not in viewer.roles:
        return f"user {viewer.username!r} does not hold lane {lane!r} of the failed step"
    if _incident_off_routing(viewer, {"desk": desk, "branch": branch}):
        return f"the failed step belongs to desk/branch {desk or branch}; {viewer.username} works elsewhere"
    return None


def may_resolve_incident(viewer: Viewer, incident: dict[str, Any]) -> bool:
    return resolve_refusal(viewer, incident["lane"], incident.get("desk"), incident.get("branch")) is None


# ---- personal data (engine/access/privacy.py masks it; docs/privacy.md has the table) ------------------
# Customers' phones, names and ID numbers are shown whole to the people serving them: supervisors
# (escalations, promised call-backs) on every instance they open, the front-line lanes and QC (who
# call complainants back) on the instances they work. Managers, owners, auditors and other
# systems see them masked.
PERSONAL_DATA_ALWAYS = frozenset({Role.SUPERVISOR})
PERSONAL_DATA_SERVING = FRONT_LINE | {Role.STAFF, Role.QC}


def may_see_personal_data(session: Session, viewer: Viewer, instance_id: int) -> bool:
    """May this viewer see the personal data of this instance unmasked? Never for a read-only
    viewer; always for a supervisor; else only in a serving role that works the instance (a task
    in its lanes, desk and branch, or one it completed or holds, the instance started by it, or its
    open incident to resolve)."""
    if viewer.read_only:
        return False
    if viewer.has(PERSONAL_DATA_ALWAYS):
        return True
    serving = dataclasses.replace(viewer, roles=frozenset(viewer.roles & PERSONAL_DATA_SERVING))
    if not serving.roles:
        return False
    if session.execute(select(exists().where(ProcessInstance.id == instance_id, instance_access(serving)))).scalar():
        return True
    if session.execute(select(ProcessInstance.status).where(ProcessInstance.id == instance_id)).scalar() != InstanceStatus.ERROR:
        return False
    from engine.run.incidents import incident_of  # incidents reads this module's incident rules

    incident = incident_of(session, instance_id)
    return incident is not None and may_see_incident(serving, incident)
