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

from dataclasses import dataclass
from enum import StrEnum


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
READ_ALL = frozenset({Role.AUDITOR})  # every task, instance and audit record
READ_ONLY = frozenset({Role.AUDITOR})  # changes nothing, whatever else they hold
TASK_RECOVERERS = frozenset({Role.SUPERVISOR})  # release / reassign any task, open any task and instance
INCIDENT_READERS = frozenset({Role.SUPERVISOR, Role.OWNER, Role.AUDITOR})  # every open incident
SYSTEM_RESOLVERS = frozenset({Role.SUPERVISOR, Role.OWNER})  # incidents of the system lane
CHAIN_READERS = frozenset({Role.AUDITOR, Role.SUPERVISOR, Role.OWNER})  # tamper evidence of every chain
DEFINITION_READERS = frozenset({Role.OWNER, Role.AUDITOR})  # process versions, their XML and lint findings
DEPLOYERS = frozenset({Role.OWNER})
HEATMAP_READERS = frozenset({Role.OWNER, Role.AUDITOR, Role.MANAGER, Role.SUPERVISOR})
REPORT_READERS = frozenset({Role.MANAGER, Role.SUPERVISOR, Role.QC, Role.OWNER, Role.AUDITOR})
MESSAGE_SENDERS = frozenset({Role.SUPERVISOR, Role.OWNER, Role.INTEGRATION})
MESSAGE_READERS = MESSAGE_SENDERS | {Role.AUDITOR}
# Roles that are no work lane of any process: the inbox offers no lane filter for them.
NOT_LANES = frozenset({Role.AUDITOR, Role.OWNER, Role.INTEGRATION})


@dataclass(frozen=True)
class Viewer:
    """Who is asking: a user name, the roles (= lanes) they hold, their desk and branch."""

    username: str
    roles: frozenset[str]
    desk: str | None = None  # agents see the tasks of their own desk only
    branch: str | None = None  # branch staff see the tasks of their own branch only

    def has(self, roles: frozenset[str] | set[str] | tuple[str, ...]) -> bool:
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


# ---- personal data (engine/privacy.py masks it; docs/privacy.md has the table) ------------------
# Customers' phones, names and ID numbers are shown whole to the people serving them: supervisors
# (escalations, promised call-backs) on every instance they open, the front-line lanes and QC (who
# call complainants back) on the instances they work. Managers, owners, auditors and other
# systems see them masked.
PERSONAL_DATA_ALWAYS = frozenset({Role.SUPERVISOR})
PERSONAL_DATA_SERVING = FRONT_LINE | {Role.STAFF, Role.QC}


def may_see_personal_data(session, viewer: Viewer, instance_id: int) -> bool:
    """May this viewer see the personal data of this instance unmasked? Never for a read-only
    viewer; always for a supervisor; else only in a serving role that works the instance (a task
    in its lanes, desk and branch, or one it completed or holds, or the instance started by it)."""
    from dataclasses import replace  # local imports: engine.queries imports this module

    from sqlalchemy import exists, select

    from .models import ProcessInstance
    from .queries import instance_access

    if viewer.read_only:
        return False
    if viewer.has(PERSONAL_DATA_ALWAYS):
        return True
    serving = viewer.roles & PERSONAL_DATA_SERVING
    if not serving:
        return False
    condition = instance_access(replace(viewer, roles=frozenset(serving)))
    return bool(session.execute(select(exists().where(ProcessInstance.id == instance_id, condition))).scalar())
