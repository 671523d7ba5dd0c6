"""What the url rules of the core /api/v1 endpoints cannot say: one `Op` per endpoint."""

from __future__ import annotations

from engine.limits import PAGE_MAX
from engine.run.queries import INSTANCE_STATUSES, PER_PAGE_MAX
from engine.run.task_search import DUE_CHOICES, TEXT_MAX
from webapp.openapi_spec import BOOL, Op, items_of, query, ref

INBOX_PARAMETERS = [
    query("lane", {"type": "string"}, "Only this lane (role id)."),
    query("process", {"type": "string"}, "Only this process id."),
    query("desk", {"type": "string"}, "Only this desk."),
    query("overdue", BOOL, "Only tasks past their due time."),
    query("mine", BOOL, "Only tasks claimed by me."),
    query("unclaimed", BOOL, "Only unclaimed tasks (ignored with mine)."),
    query("page", {"type": "integer", "minimum": 1, "maximum": PAGE_MAX, "default": 1}, "Page number."),
    query("per_page", {"type": "integer", "minimum": 1, "maximum": PER_PAGE_MAX, "default": 25}, "Rows per page."),
    query("sort", {"enum": ["due", "age"], "default": "due"}, "due: earliest due first; age: oldest first."),
    query("after", {"type": "string", "maxLength": 200, "pattern": "^[A-Za-z0-9_-]+$"},
          "A keyset cursor: `next` of the page before (same filters and sort). The page after it, at the "
          "same cost however deep it lies; `page` is ignored."),
    query("q", {"type": "string", "maxLength": TEXT_MAX},
          "Free text: every word must be part of the customer's name or a tour/booking code, or (4+ digits) "
          "the end of a phone number."),
    query("customer", {"type": "string", "maxLength": TEXT_MAX}, "Part of the customer's name."),
    query("phone", {"type": "string", "maxLength": TEXT_MAX},
          "The end of a phone number: at least 4 digits (spaces, dashes and + ignored), e.g. its last 4."),
    query("code", {"type": "string", "maxLength": TEXT_MAX}, "Part of the tour id or booking code."),
    query("due", {"enum": list(DUE_CHOICES)},
          "overdue: past its due time; today / week: due this China calendar day / week (Monday to Sunday); "
          "none: no due date."),
]



OPERATIONS: dict[str, Op] = {
    "api.me": Op("GET", "Who am I: user, roles, read-only, how authenticated", "me", ref("Me")),
    "api.list_tasks": Op(
        "GET", "My inbox: the open tasks of my lanes (all lanes for auditors)", "tasks", ref("InboxPage"),
        description="The same filters, search, counts and pages as the inbox page. Unclaimed tasks and mine, "
                    "unless `mine` or `unclaimed` narrows them. Personal data stays masked in the rows "
                    "even when a search matched it. A bad search field is a 422 naming it. To walk the whole inbox, "
                    "follow `next` (pass it as `after`) until it is null.",
        parameters=INBOX_PARAMETERS, errors=(422,)),
    "api.get_task": Op(
        "GET", "One task with its form schema and documentation", "tasks", ref("TaskDetail"),
        roles="who may work it (lane, routing: desk, branch), its assignee or completer, supervisors, auditors",
        errors=(403,)),
    "api.claim_task": Op(
        "POST", "Claim a task for myself", "tasks", ref("TaskDetail"),
        roles="who may work it: its lane, desk and branch", errors=(409,),
        description="Claiming a task one holds already is a no-op; one claimed by someone else is a 409."),
    "api.unclaim_task": Op(
        "POST", "Release a claimed task back to its lane", "tasks", ref("TaskDetail"),
        roles="its assignee, or any supervisor", errors=(409,)),
    "api.reassign_task": Op(
        "POST", "Hand a task to another user of its lane, with a reason", "tasks", ref("TaskDetail"),
        roles="who may work it while unclaimed or theirs, or any supervisor; the target must be able to work it",
        body="ReassignRequest", body_required=True, errors=(409, 422)),
    "api.complete_task": Op(
        "POST", "Complete a task with its form data", "tasks", ref("CompleteResult"),
        roles="who may work it: its lane, desk and branch (its assignee when claimed)",
        description="The body is the form data, validated against the task's form schema. "
                    "409 when completed already, claimed by someone else, or a lost race.",
        body="FormData", errors=(409, 422)),
    "api.list_startable": Op(
        "GET", "The processes I may start (current version each)", "processes", items_of("StartableProcess")),
    "api.start_instance": Op(
        "POST", "Start the current version of a process (or the `version` given)", "processes", ref("StartResult"),
        ok_status=201, description="Answers the new instance and the tasks its starter may complete now, "
                                   "from the start's own transaction.",
        roles="holders of the process's start lane", body="StartRequest", errors=(422,),
        headers={"Location": {"description": "The new instance's URL.", "schema": {"type": "string"}}}),
    "api.process_diagram": Op(
        "GET", "One process version's BPMN XML, for bpmn-js", "processes", ref("Diagram"),
        roles="owner, auditor, manager (it holds the scripts)", errors=(403, 422),
        parameters=[query("against", {"type": "integer", "minimum": 1},
                          "Mark what differs from this version (nodes.added or .removed, nodes.changed).")]),
    "api.process_heatmap": Op(
        "GET", "Heatmap of one process version: instances per node, median and p90 time spent", "processes",
        ref("Heatmap"), roles="owner, auditor, manager, supervisor", errors=(403,),
        description="Built from replays of the version's instances (newest 2,000): a node is entered at the "
                    "first event after which it is active, waiting or done, and left when it is done."),
    "api.waiting_nodes": Op(
        "GET", "Where the running instances of one version wait (the choices of a migration's waiting_at)",
        "processes", ref("WaitingNodes"), roles="owner, auditor, manager", errors=(403,),
        description="Per node with an open task or a pending timer of a running instance of the version: its "
                    "name and how many instances wait there. 404 for an unknown process or version."),
    "api.list_deployments": Op(
        "GET", "Every deployed process version, with instance counts", "processes", items_of("Deployment"),
        roles="owner, auditor, manager", errors=(403,)),
    "api.deploy": Op(
        "POST", "Deploy processes: .bpmn files (or one .zip) plus their *.schema.json forms", "processes",
        ref("DeployResult"), ok_status=201, also_ok=(200,), roles="owner", body="DeployUpload", body_required=True,
        body_type="multipart/form-data", errors=(403, 422),
        description="multipart/form-data, field `files` (repeat it): one or more .bpmn files with their forms, or "
                    "one .zip of them (at most 200 entries and 20 MiB unpacked; no encrypted entries, no names "
                    "leaving the zip). The files deploy together in one transaction: every executable process "
                    "of every file becomes its own version (`deployments`), call activities resolve among the "
                    "files, else to the deployed process they name. Forms not uploaded are taken from the "
                    "newest deployed version. 201 when a version is new, 200 when the content is unchanged; "
                    "422 `deployment_invalid` with the reason and `findings` (file:line:col, rule, message) "
                    "when refused: nothing is written then."),
    "api.process_diff": Op(
        "GET", "What changed between two versions of a process", "processes", ref("VersionDiff"),
        roles="owner, auditor, manager", errors=(403, 422),
        parameters=[query("from", {"type": "integer", "minimum": 1}, "The older version.", required=True),
                    query("to", {"type": "integer", "minimum": 1}, "The newer version.", required=True)],
        description="Nodes and sequence flows added, removed or changed (each changed detail: name, lane, SOP, "
                    "condition, script, timer, handler and form properties, message), the forms' fields, and "
                    "the ids of shapes that moved on the diagram. 404 for an unknown process or version."),
    "api.migrate_instances": Op(
        "POST", "Move running instances to another version (or, with dry_run, report what would move)",
        "processes", ref("MigrationReport"), roles="owner", body="MigrationRequest", body_required=True,
        errors=(403, 409, 422),
        description="Each instance moves in its own transaction and is reported: `ok`, the waiting (or passed) "
                    "nodes whose id changed, the task rows re-pointed (lane, form; an assignee whose lane changed "
                    "is released), or the reason it cannot move (a waiting node the target does not have needs "
                    "a `mapping`). Recorded as `instance_migrated` with the reason; replay follows it. 409 for "
                    "a mapping that names unknown nodes or nodes of different kinds, or the same version. A "
                    "filter picks some of them: `instances`, `waiting_at` (open task or pending timer on one of "
                    "these nodes), `started_before`, `started_after`; its parts combine with AND and 422 names "
                    "the field of a bad one (a node `from` lacks, a date-time that is not ISO 8601)."),
    "api.save_draft": Op(
        "POST", "Keep a process file as a draft and preview what deploying it would do", "drafts",
        ref("DraftPreview"), ok_status=201, roles="owner", body="DeployUpload", body_required=True,
        body_type="multipart/form-data", errors=(403, 422),
        description="multipart/form-data, field `files`: one .bpmn and any *.schema.json forms (others are taken "
                    "from the current version). A draft never runs. The preview lists every lint finding "
                    "(errors make it not `deployable`), the diff against the current version, and per changed or "
                    "removed node how many running instances wait there (`waiting`)."),
    "api.list_drafts": Op("GET", "The drafts kept, newest first", "drafts", items_of("DraftSummary"),
                          roles="owner", errors=(403,)),
    "api.get_draft": Op("GET", "A draft's preview", "drafts", ref("DraftPreview"), roles="owner", errors=(403,)),
    "api.deploy_draft": Op(
        "POST", "Deploy a draft as the next version (the draft is then gone)", "drafts", ref("DeployResult"),
        ok_status=201, also_ok=(200,), roles="owner", errors=(403, 422),
        description="Exactly the content previewed; 422 `deployment_invalid` with the findings when lint refuses "
                    "it (the draft stays)."),
    "api.discard_draft": Op("POST", "Discard a draft", "drafts", ref("DraftDiscarded"), roles="owner",
                            errors=(403,)),
    "api.lint": Op(
        "POST", "Lint a diagram being edited: the findings of `tourflow lint`, with the element each is about",
        "processes", ref("LintResult"), roles="owner, auditor, manager", body="LintRequest", body_required=True,
        errors=(403, 413, 422),
        description="Nothing is stored; auditors may call it although it is a POST. Form rules read the forms of "
                    "the current version of `process_id`. `element` is the BPMN element id a finding is about "
                    "(null: the whole file). 413 when the diagram is larger than an uploaded .bpmn may be."),
    "api.preview_form": Op(
        "POST", "Draw a form schema as staff will see it (the form editor's live preview)", "processes",
        ref("FormPreview"), roles="owner, auditor, manager", body="FormPreviewRequest", body_required=True, errors=(403, 422),
        description="Nothing is stored. `html` is the fields as the task page draws them; `problems` says why the "
                    "schema cannot be a form (then no fields are drawn)."),
    "api.list_handlers": Op(
        "GET", "The service-task handlers a process may call", "processes", items_of("Handler"),
        roles="owner, auditor, manager", errors=(403,),
        description="Each registered handler (built in, or from a `tourflow.handlers` plug-in): what it does, "
                    "the parameters a service task passes it (`spiffworkflow:parameter`), and whether it writes."),
    "api.activate_version": Op(
        "POST", "Make a deployed version the one new instances start on (roll back or forward)", "processes",
        ref("Activated"), roles="owner", body="ActivateRequest", body_required=True, errors=(403, 409, 422),
        description="Running instances stay on their version. Recorded as `process_activated` with the reason. "
                    "409 when the version is already current; 404 for an unknown process or version."),
    "api.list_instances": Op(
        "GET", "The instances I may see, newest first", "instances", ref("InstancePage"),
        roles="any logged-in user: instances they started or with a task in their lanes (supervisors, auditors: all)",
        parameters=[
            query("process", {"type": "string"}, "Only this process id."),
            query("status", {"enum": list(INSTANCE_STATUSES)}, "Only this status."),
            query("page", {"type": "integer", "minimum": 1, "maximum": PAGE_MAX, "default": 1}, "Page number."),
            query("per_page", {"type": "integer", "minimum": 1, "maximum": PER_PAGE_MAX, "default": 25}, "Rows per page."),
        ],
        errors=(422,)),
    "api.get_instance": Op(
        "GET", "One instance: process, version, status, data", "instances", ref("Instance"),
        roles="its starter, who may work or worked one of its tasks, who may see its incident; supervisors and "
              "auditors: every instance", errors=(403,)),
    "api.instance_events": Op(
        "GET", "The instance's audit events, in order", "instances", items_of("Event"),
        roles="as for the instance", errors=(403,)),
    "api.instance_tasks": Op(
        "GET", "Every task of the instance, open and finished, oldest first", "instances",
        items_of("InstanceTask"), roles="as for the instance", errors=(403,)),
    "api.instance_diagram": Op(
        "GET", "The instance's BPMN XML with completed, active and failed nodes", "instances", ref("Diagram"),
        roles="as for the instance", errors=(403,)),
    "api.list_incidents": Op(
        "GET", "Open incidents I may see, newest first", "incidents", ref("IncidentPage"),
        roles="any logged-in user: incidents of the lanes they hold (of their desk, branch); supervisors, "
              "owners and auditors: all",
        parameters=[query("process", {"type": "string"}, "Only this process id.")]),
    "api.get_incident": Op(
        "GET", "The open incident of an instance, with its attempts", "incidents", ref("IncidentDetail"),
        roles="as for the instance, or for its incident",
        description="404 also when the instance has no open incident.", errors=(403,)),
    "api.resolve_incident": Op(
        "POST", "Resolve an incident: run the failed step again, with corrected data if given", "incidents",
        ref("Instance"), roles="holders of the incident's lane (system lane: supervisors, owners); not auditors",
        body="ResolveIncidentRequest", body_required=True, errors=(409, 422),
        description="Records `incident_resolved` (reason, data) and runs the step. The answer is the instance "
                    "afterwards: `running`/`completed` when the step went through, `retrying` or `error` (a new "
                    "incident) when it failed again. 409 when the instance has no open incident."),
    "api.send_message": Op(
        "POST", "Send a message: deliver, start a process, or buffer it until an instance waits", "messages",
        ref("Message"), roles="supervisor, owner, integration (accounts of other systems)",
        body="MessageRequest", body_required=True, errors=(403, 404, 422), also_ok=(202,),
        description="200 when an instance waiting under `correlation_key` caught it or it started a process "
                    "(`delivered_to`); 202 when nobody waits yet: it stays in the buffer until an instance with "
                    "that key waits for it, or until `expires_at`. 404 when nobody takes a message that has no "
                    "correlation key. A repeated `message_ref` changes nothing."),
    "api.list_messages": Op(
        "GET", "Routed messages, newest first", "messages", items_of("Message"),
        roles="supervisor, owner, integration, auditor",
        parameters=[
            query("state", {"enum": ["buffered", "delivered", "expired"]}, "Only this state."),
            query("name", {"type": "string"}, "Only this message name."),
            query("key", {"type": "string"}, "Only this correlation key."),
            query("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 200}, "At most this many."),
        ],
        errors=(403, 422)),
    "api.openapi": Op("GET", "This document", "meta", ref("OpenApiDocument"), roles="anyone", public=True),
}
