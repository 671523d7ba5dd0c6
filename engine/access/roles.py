"""The access vocabulary: the roles (a lane id is a role id), the role sets the rules use, and the
capabilities. engine/access/policy.py decides with them; docs/access.md has the table."""

from __future__ import annotations

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
READ_ALL = frozenset({Role.AUDITOR})  # every task (their inbox lists all), instance and audit record
READ_ONLY = frozenset({Role.AUDITOR})  # changes nothing, whatever else they hold
# Supervisors recover any task (release it, reassign it to someone who can work it) whatever its
# lane or routing, so they open every task and instance; their inbox still lists their lanes.
TASK_RECOVERERS = frozenset({Role.SUPERVISOR})
INCIDENT_READERS = frozenset({Role.SUPERVISOR, Role.OWNER, Role.AUDITOR})  # every open incident
SYSTEM_RESOLVERS = frozenset({Role.SUPERVISOR, Role.OWNER})  # incidents of the system lane
OUTBOX_READERS = INCIDENT_READERS  # the outgoing messages page (engine/outbox)
# Resolve any failed message (send again, give up) whatever its lane, and read the message templates.
MESSAGE_OVERSEERS = SYSTEM_RESOLVERS
# Who supervises which lanes: sets and extends the due and follow-up dates of their tasks and sees
# their overdue list (docs/due-dates.md). The agency has one supervisor role (主管 / 上级主管) over
# every work lane; a supervisor with routing attributes supervises only the tasks of that routing.
SUPERVISORS = frozenset({Role.SUPERVISOR})
SUPERVISED_LANES = frozenset(Role) - {Role.AUDITOR, Role.OWNER, Role.INTEGRATION}
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
    REPORT_DELIVERIES = "report_deliveries"  # providers' delivery reports of outbox messages


CAPABILITY_ROLES: dict[Capability, frozenset[str]] = {
    # managers read the definitions to understand the heatmap and KPIs they are responsible for
    Capability.READ_DEFINITIONS: frozenset({Role.OWNER, Role.AUDITOR, Role.MANAGER}),
    Capability.DEPLOY: frozenset({Role.OWNER}),
    Capability.READ_HEATMAP: frozenset({Role.OWNER, Role.AUDITOR, Role.MANAGER, Role.SUPERVISOR}),
    Capability.READ_REPORTS: frozenset({Role.MANAGER, Role.SUPERVISOR, Role.QC, Role.OWNER, Role.AUDITOR}),
    Capability.READ_CHAINS: frozenset({Role.AUDITOR, Role.SUPERVISOR, Role.OWNER}),
    Capability.SEND_MESSAGES: frozenset({Role.SUPERVISOR, Role.OWNER, Role.INTEGRATION}),
    Capability.READ_MESSAGES: frozenset({Role.SUPERVISOR, Role.OWNER, Role.INTEGRATION, Role.AUDITOR}),
    Capability.CANCEL_INSTANCES: frozenset({Role.SUPERVISOR, Role.OWNER}),
    Capability.REPORT_DELIVERIES: frozenset({Role.INTEGRATION}),
}
WRITES = frozenset({Capability.DEPLOY, Capability.SEND_MESSAGES, Capability.CANCEL_INSTANCES,
                    Capability.REPORT_DELIVERIES})
CAPABILITY_TEXT = {
    Capability.READ_DEFINITIONS: "the process definitions and their diagrams are",
    Capability.DEPLOY: "deploying processes is",
    Capability.READ_HEATMAP: "the heatmap is",
    Capability.READ_REPORTS: "the KPI report is",
    Capability.READ_CHAINS: "the chain verdicts are",
    Capability.SEND_MESSAGES: "sending messages is",
    Capability.READ_MESSAGES: "reading messages is",
    Capability.CANCEL_INSTANCES: "cancelling an instance is",
    Capability.REPORT_DELIVERIES: "reporting message deliveries is",
}
