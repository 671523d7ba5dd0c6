"""Every route of the app (pages and /api/v1) x every kind of caller: the expected status of each
in ONE table, `MATRIX`. A route added without a row fails `test_every_route_has_a_row`.

The callers are the test users (tests/support/world.py: one per role, the three desk agents, the
branch sales staff), an account of another system (role integration), anonymous, and a bearer
token (agent1's). Each caller runs the whole table
on a fresh database holding real objects:

- `task`: the complaint intake task of the 旅游 desk and the HZ01 branch (lane staff): agent2
  (旅游) and sales3 (HZ01) work it, as do operator1 and guide1 (staff, no desk or branch); agent1,
  agent3 (other desks), sales1, sales2 and receptionist1 (other branches) do not;
- `instance`: its instance, started by the system;
- `incident`: an instance of tests/fixtures/incidents/incident_flow.bpmn stopped by a technical
  incident of the operator lane, started by sales1;
- `message`: an outbox message of the operator lane that failed for good (a delivery incident);
- the complaint process, deployed as version 1.

Changing rows run in the table's order (claim before unclaim, logout last), so one caller's own
actions never decide another caller's answer. The rules are engine/access/policy.py's; docs/access.md
has them as a table of roles.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from engine.access.policy import Role
from engine.access.users import create_token, create_user
from engine.config import DEFAULT_PROCESSES_DIR
from engine.store.models import User
from tests.support.api import DocChecker
from tests.support.incidents import FIXTURE as INCIDENT_FLOW
from tests.support.incidents import technical
from tests.support.outbox import failed_message
from tests.support.web import Client
from tests.support.world import deploy

USERS = ("agent1", "agent2", "agent3", "receptionist1", "sales1", "sales2", "sales3", "operator1", "guide1",
         "qc1", "supervisor1", "manager1", "auditor1", "owner1", "integration1")
CALLERS = ("anonymous", "bearer", *USERS)
BEARER_OF = "agent1"  # whose token the bearer caller presents

EVERYONE = frozenset(USERS)
FRONT_LINE = frozenset({"agent1", "agent2", "agent3", "receptionist1", "sales1", "sales2", "sales3", "operator1",
                        "guide1"})  # they hold `staff`, the complaint process's start lane
WORKERS = frozenset({"agent2", "sales3", "operator1", "guide1"})  # may work `task`
TASK_READERS = WORKERS | {"supervisor1", "auditor1"}
INSTANCE_VIEWERS = TASK_READERS  # `instance` has no other task and was started by the system
INCIDENT_VIEWERS = frozenset({"sales1", "operator1", "supervisor1", "owner1", "auditor1"})
INCIDENT_RESOLVERS = frozenset({"operator1"})
RECOVERERS = WORKERS | {"supervisor1"}  # release / reassign `task`
TASK_EDITORS = TASK_READERS - {"auditor1"}  # say they have its form open, keep a draft of it
WRITERS = EVERYONE - {"auditor1"}
DEFINITIONS = frozenset({"owner1", "auditor1", "manager1"})
HEATMAP = DEFINITIONS | {"supervisor1"}
REPORTS = frozenset({"manager1", "supervisor1", "qc1", "owner1", "auditor1"})
CHAINS = frozenset({"auditor1", "supervisor1", "owner1"})
SENDERS = frozenset({"supervisor1", "owner1", "integration1"})
MESSAGE_READERS = SENDERS | {"auditor1"}
SUPERVISORS = frozenset({"supervisor1"})  # set due dates of `task` (lane staff); see the overdue list
OVERDUE_READERS = SUPERVISORS | {"auditor1"}
OUTBOX_READERS = frozenset({"supervisor1", "owner1", "auditor1"})  # the outgoing messages page
OUTBOX_RETRIERS = frozenset({"supervisor1", "owner1"})  # any failed message, whatever its lane
TEMPLATE_READERS = OUTBOX_RETRIERS  # message templates and their masked previews
DELIVERY_REPORTERS = frozenset({"integration1"})


@dataclass(frozen=True)
class Row:
    """One route: the URL to call (ids filled in), what to send, and the expected status per caller."""

    kind: str  # "page" or "api"
    url: str
    users: dict[str, int]
    body: dict[str, Any] | None = None
    upload: bool = False  # multipart `files`: the complaint process, unchanged
    callers: dict[str, int] = field(default_factory=dict)  # anonymous / bearer, when not the usual

    def expected(self, caller: str, method: str) -> int:
        if caller in self.callers:
            return self.callers[caller]
        if caller == "anonymous":
            return 302 if self.kind == "page" else 401  # the login page / a JSON 401
        if caller == "bearer":  # a token is for the API only; a page POST without a CSRF token is a 400
            return self.users[BEARER_OF] if self.kind == "api" else (302 if method == "GET" else 400)
        return self.users[caller]


def grid(allowed: dict[frozenset[str], int], refused: int = 403) -> dict[str, int]:
    """{group: status} for the users in a group, `refused` for every other user."""
    result = {user: refused for user in USERS}
    for group, status in allowed.items():
        result.update(dict.fromkeys(group, status))
    return result


def page(url: str, allowed: dict[frozenset[str], int], refused: int = 403, **kw) -> Row:
    return Row("page", url, grid(allowed, refused), **kw)


def api(url: str, allowed: dict[frozenset[str], int], refused: int = 403, **kw) -> Row:
    return Row("api", url, grid(allowed, refused), **kw)


ALL_200 = {EVERYONE: 200}
TASK = "/tasks/{task}"
INSTANCE = "/instances/{instance}"
API_TASK = "/api/v1/tasks/{task}"
API_INSTANCE = "/api/v1/instances/{instance}"
VERSION = "{process}/versions/{version}"
NOBODY = "nobody-such"
COMPLAINT_XML = (DEFAULT_PROCESSES_DIR / "complaint_handling.bpmn").read_text(encoding="utf-8")

MATRIX: dict[tuple[str, str], Row] = {
    # ---- pages ---------------------------------------------------------------------------------
    ("GET", "/"): page("/", ALL_200),
    ("GET", "/static/<path:filename>"): page("/static/app.css", ALL_200,
                                             callers={"anonymous": 200, "bearer": 200}),
    ("GET", "/lang/<code>"): page("/lang/en", {EVERYONE: 302}, callers={"anonymous": 302, "bearer": 302}),
    ("GET", "/login"): page("/login", {EVERYONE: 302}, callers={"anonymous": 200, "bearer": 200}),
    ("POST", "/login"): page("/login", {EVERYONE: 302}, body={"username": NOBODY, "password": "wrong"},
                             callers={"anonymous": 401, "bearer": 400}),
    ("GET", "/tasks/<int:task_id>"): page(TASK, {TASK_READERS: 200}),
    ("POST", "/tasks/<int:task_id>/claim"): page(TASK + "/claim", {WORKERS: 302}),
    ("POST", "/tasks/<int:task_id>/unclaim"): page(TASK + "/unclaim", {RECOVERERS: 302}),
    ("POST", "/tasks/<int:task_id>/reassign"): page(TASK + "/reassign", {RECOVERERS: 422},
                                                    body={"to_user": NOBODY, "reason": "x"}),
    ("POST", "/tasks/<int:task_id>"): page(TASK, {WORKERS: 422}, body={}),
    # an empty reason: a supervisor passes the check and is told what is missing, nothing changes
    ("POST", "/tasks/<int:task_id>/due"): page(TASK + "/due", {SUPERVISORS: 422}, body={"due_at": "", "reason": ""}),
    ("GET", "/tasks/overdue"): page("/tasks/overdue", {OVERDUE_READERS: 200}),
    ("GET", "/start"): page("/start", {WRITERS: 200}),
    ("POST", "/start/<process_id>"): page("/start/{process}", {FRONT_LINE: 302}),
    ("GET", "/instances"): page("/instances", ALL_200),
    ("GET", "/instances/<int:instance_id>"): page(INSTANCE, {INSTANCE_VIEWERS: 200}),
    ("GET", "/instances/<int:instance_id>/audit"): page(INSTANCE + "/audit", {INSTANCE_VIEWERS: 200}),
    ("GET", "/incidents"): page("/incidents", ALL_200),
    ("POST", "/outbox/<int:message_id>/resolve"): page(
        "/outbox/{message}/resolve", {INCIDENT_RESOLVERS | OUTBOX_RETRIERS: 422}, body={"action": "retry", "reason": ""}),
    ("POST", "/instances/<int:instance_id>/incident/retry"): page(
        "/instances/{incident}/incident/retry", {INCIDENT_RESOLVERS: 422}, body={"reason": ""}),
    ("POST", "/instances/<int:instance_id>/incident/resolve"): page(
        "/instances/{incident}/incident/resolve", {INCIDENT_RESOLVERS: 422}, body={"reason": "", "data": ""}),
    ("GET", "/search"): page("/search", ALL_200),
    ("POST", "/inbox/views"): page("/inbox/views", {WRITERS: 302}, body={"name": "我的导游任务", "query": "lane=guide"}),
    # no view 999999 (nor anyone else's): a writer passes the check and finds nothing
    ("POST", "/inbox/views/<int:view_id>/delete"): page("/inbox/views/999999/delete", {WRITERS: 404}),
    ("GET", "/processes"): page("/processes", {DEFINITIONS: 200}),
    ("GET", "/processes/<process_id>/diff"): page("/processes/{process}/diff", {DEFINITIONS: 200}),
    ("GET", "/processes/<process_id>/edit"): page("/processes/{process}/edit", {frozenset({"owner1"}): 200}),
    ("GET", "/processes/handlers"): page("/processes/handlers", {DEFINITIONS: 200}),
    # no draft 999999: the owner passes the check and finds nothing
    ("GET", "/processes/drafts/<int:draft_id>"): page("/processes/drafts/999999", {frozenset({"owner1"}): 404}),
    ("POST", "/processes/drafts/<int:draft_id>/deploy"): page(
        "/processes/drafts/999999/deploy", {frozenset({"owner1"}): 404}),
    ("POST", "/processes/drafts/<int:draft_id>/discard"): page(
        "/processes/drafts/999999/discard", {frozenset({"owner1"}): 404}),
    ("GET", "/processes/<process_id>/migrate"): page("/processes/{process}/migrate", {frozenset({"owner1"}): 200}),
    # from version 1 to version 1: the owner passes the check and is told there is nothing to move
    ("POST", "/processes/<process_id>/migrate"): page(
        "/processes/{process}/migrate", {frozenset({"owner1"}): 409}, body={"from": "1", "to": "1", "reason": "x"}),
    ("GET", "/processes/<process_id>/<int:version>"): page("/processes/{process}/{version}", {DEFINITIONS: 200}),
    ("GET", "/processes/<process_id>/<int:version>/heatmap"): page("/processes/{process}/{version}/heatmap",
                                                                   {HEATMAP: 200}),
    ("POST", "/processes/deploy"): page("/processes/deploy", {frozenset({"owner1"}): 302}, upload=True),
    # version 1 is current already: the owner passes the check and gets the conflict, nothing changes
    ("POST", "/processes/<process_id>/<int:version>/activate"): page(
        "/processes/{process}/{version}/activate", {frozenset({"owner1"}): 409}, body={"reason": "x"}),
    ("GET", "/reports"): page("/reports", {REPORTS: 200}),
    ("GET", "/reports/export.csv"): page("/reports/export.csv?metric=inquiries", {REPORTS: 200}),
    ("GET", "/audit"): page("/audit", {CHAINS: 200}),
    # each user's own alert settings; an address that is no e-mail address: told what is wrong, nothing saved
    ("GET", "/settings/alerts"): page("/settings/alerts", ALL_200),
    ("POST", "/settings/alerts"): page("/settings/alerts", {WRITERS: 422}, body={"channel": "email", "address": "x"}),
    ("GET", "/outbox"): page("/outbox", {OUTBOX_READERS: 200}),
    ("GET", "/outbox/<int:message_id>"): page("/outbox/999999", {OUTBOX_READERS: 404}),
    # no message 999999: a supervisor or owner passes the check and finds nothing
    ("POST", "/outbox/<int:message_id>/retry"): page("/outbox/999999/retry", {OUTBOX_RETRIERS: 404}, body={"reason": "x"}),
    ("GET", "/messages/templates"): page("/messages/templates", {TEMPLATE_READERS: 200}),
    # ---- the API -------------------------------------------------------------------------------
    ("GET", "/api/v1/openapi.json"): api("/api/v1/openapi.json", ALL_200, callers={"anonymous": 200}),
    ("GET", "/api/v1/me"): api("/api/v1/me", ALL_200),
    ("GET", "/api/v1/tasks"): api("/api/v1/tasks", ALL_200),
    ("GET", "/api/v1/inbox/stamp"): api("/api/v1/inbox/stamp", ALL_200),
    ("GET", "/api/v1/tasks/<int:task_id>"): api(API_TASK, {TASK_READERS: 200}),
    ("POST", "/api/v1/tasks/<int:task_id>/claim"): api(API_TASK + "/claim", {WORKERS: 200}),
    ("POST", "/api/v1/tasks/<int:task_id>/unclaim"): api(API_TASK + "/unclaim", {RECOVERERS: 200}),
    ("POST", "/api/v1/tasks/<int:task_id>/reassign"): api(API_TASK + "/reassign", {RECOVERERS: 422},
                                                          body={"to": NOBODY, "reason": "x"}),
    ("POST", "/api/v1/tasks/<int:task_id>/complete"): api(API_TASK + "/complete", {WORKERS: 422}, body={}),
    # who has the form open, one's own draft: who may open the task page, not auditors
    ("POST", "/api/v1/tasks/<int:task_id>/presence"): api(API_TASK + "/presence", {TASK_EDITORS: 200}),
    ("GET", "/api/v1/tasks/<int:task_id>/draft"): api(API_TASK + "/draft", {TASK_EDITORS: 200}),
    ("POST", "/api/v1/tasks/<int:task_id>/draft"): api(API_TASK + "/draft", {TASK_EDITORS: 422}, body={}),
    ("POST", "/api/v1/tasks/<int:task_id>/draft/discard"): api(API_TASK + "/draft/discard", {TASK_EDITORS: 200}),
    ("POST", "/api/v1/tasks/<int:task_id>/due"): api(API_TASK + "/due", {SUPERVISORS: 422}, body={"reason": ""}),
    ("GET", "/api/v1/tasks/overdue"): api("/api/v1/tasks/overdue", {OVERDUE_READERS: 200}),
    ("GET", "/api/v1/processes"): api("/api/v1/processes", ALL_200),
    ("POST", "/api/v1/processes/<process_id>/instances"): api("/api/v1/processes/{process}/instances",
                                                              {FRONT_LINE: 201}, body={}),
    ("GET", "/api/v1/processes/<process_id>/versions/<int:version>/diagram"): api(
        "/api/v1/processes/" + VERSION + "/diagram", {DEFINITIONS: 200}),
    ("GET", "/api/v1/processes/<process_id>/versions/<int:version>/heatmap"): api(
        "/api/v1/processes/" + VERSION + "/heatmap", {HEATMAP: 200}),
    ("GET", "/api/v1/deployments"): api("/api/v1/deployments", {DEFINITIONS: 200}),
    ("GET", "/api/v1/handlers"): api("/api/v1/handlers", {DEFINITIONS: 200}),
    ("GET", "/api/v1/processes/<process_id>/diff"): api(
        "/api/v1/processes/{process}/diff?from=1&to=1", {DEFINITIONS: 200}),
    ("POST", "/api/v1/deployments"): api("/api/v1/deployments", {frozenset({"owner1"}): 200}, upload=True),
    ("POST", "/api/v1/drafts"): api("/api/v1/drafts", {frozenset({"owner1"}): 201}, upload=True),
    ("GET", "/api/v1/drafts"): api("/api/v1/drafts", {frozenset({"owner1"}): 200}),
    ("POST", "/api/v1/lint"): api("/api/v1/lint", {DEFINITIONS: 200}, body={"bpmn_xml": COMPLAINT_XML}),
    ("GET", "/api/v1/processes/<process_id>/versions/<int:version>/waiting"): api(
        "/api/v1/processes/{process}/versions/1/waiting", {DEFINITIONS: 200}),
    ("POST", "/api/v1/forms/preview"): api("/api/v1/forms/preview", {DEFINITIONS: 200},
                                           body={"schema": {"type": "object", "properties": {}}}),
    ("GET", "/api/v1/drafts/<int:draft_id>"): api("/api/v1/drafts/999999", {frozenset({"owner1"}): 404}),
    ("POST", "/api/v1/drafts/<int:draft_id>/deploy"): api("/api/v1/drafts/999999/deploy", {frozenset({"owner1"}): 404}),
    ("POST", "/api/v1/drafts/<int:draft_id>/discard"): api(
        "/api/v1/drafts/999999/discard", {frozenset({"owner1"}): 404}),
    ("POST", "/api/v1/processes/<process_id>/migrations"): api(
        "/api/v1/processes/{process}/migrations", {frozenset({"owner1"}): 409}, body={"from": 1, "to": 1, "reason": "x"}),
    ("POST", "/api/v1/processes/<process_id>/versions/<int:version>/activate"): api(
        "/api/v1/processes/" + VERSION + "/activate", {frozenset({"owner1"}): 409}, body={"reason": "x"}),
    ("GET", "/api/v1/instances"): api("/api/v1/instances", ALL_200),
    ("GET", "/api/v1/instances/<int:instance_id>"): api(API_INSTANCE, {INSTANCE_VIEWERS: 200}),
    ("GET", "/api/v1/instances/<int:instance_id>/events"): api(API_INSTANCE + "/events", {INSTANCE_VIEWERS: 200}),
    ("GET", "/api/v1/instances/<int:instance_id>/tasks"): api(API_INSTANCE + "/tasks", {INSTANCE_VIEWERS: 200}),
    ("GET", "/api/v1/instances/<int:instance_id>/diagram"): api(API_INSTANCE + "/diagram",
                                                                {INSTANCE_VIEWERS: 200}),
    ("GET", "/api/v1/instances/<int:instance_id>/audit"): api(API_INSTANCE + "/audit", {INSTANCE_VIEWERS: 200}),
    ("GET", "/api/v1/instances/<int:instance_id>/replay"): api(API_INSTANCE + "/replay", {INSTANCE_VIEWERS: 200}),
    ("GET", "/api/v1/incidents"): api("/api/v1/incidents", ALL_200),
    ("GET", "/api/v1/instances/<int:instance_id>/incident"): api("/api/v1/instances/{incident}/incident",
                                                                 {INCIDENT_VIEWERS: 200}),
    ("POST", "/api/v1/instances/<int:instance_id>/incident/resolve"): api(
        "/api/v1/instances/{incident}/incident/resolve", {INCIDENT_RESOLVERS: 422}, body={"reason": ""}),
    ("GET", "/api/v1/search"): api("/api/v1/search", ALL_200),
    ("GET", "/api/v1/audit/chains"): api("/api/v1/audit/chains", {CHAINS: 200}),
    ("GET", "/api/v1/reports/kpi"): api("/api/v1/reports/kpi", {REPORTS: 200}),
    ("POST", "/api/v1/messages"): api("/api/v1/messages", {SENDERS: 202},
                                      body={"name": "access_matrix_probe", "correlation_key": "K-1"}),
    ("GET", "/api/v1/messages"): api("/api/v1/messages", {MESSAGE_READERS: 200}),
    ("GET", "/api/v1/me/alerts"): api("/api/v1/me/alerts", ALL_200),
    ("POST", "/api/v1/me/alerts"): api("/api/v1/me/alerts", {WRITERS: 422}, body={"channel": "email", "address": "x"}),
    ("GET", "/api/v1/message-templates"): api("/api/v1/message-templates", {TEMPLATE_READERS: 200}),
    ("GET", "/api/v1/message-templates/<kind>"): api("/api/v1/message-templates/booking.confirmation",
                                                     {TEMPLATE_READERS: 200}),
    # an unknown id is a per-item result, so the integration account gets its 200
    ("POST", "/api/v1/deliveries"): api("/api/v1/deliveries", {DELIVERY_REPORTERS: 200},
                                        body={"items": [{"id": 2**31 - 1, "status": "delivered"}]}),
    ("POST", "/api/v1/outbox/<int:message_id>/resolve"): api(
        "/api/v1/outbox/{message}/resolve", {INCIDENT_RESOLVERS | OUTBOX_RETRIERS: 422}, body={"action": "retry", "reason": ""}),
    # ---- last: the session ends ------------------------------------------------------------------
    ("POST", "/logout"): page("/logout", {EVERYONE: 302}, callers={"anonymous": 302}),
}


def _routes(app) -> set[tuple[str, str]]:
    return {(method, rule.rule) for rule in app.url_map.iter_rules()
            for method in rule.methods - {"HEAD", "OPTIONS"}}


def test_every_route_has_a_row(app):
    routes = _routes(app)
    assert not sorted(routes - set(MATRIX)), "routes without a row in MATRIX (who may call them?)"
    assert not sorted(set(MATRIX) - routes), "rows of MATRIX for routes that do not exist"


def add_integration_account(runtime) -> None:
    with runtime.db.write() as session, session.begin():
        create_user(session, "integration1", "integration1", [Role.INTEGRATION])


def test_the_callers_hold_every_role(runtime):
    add_integration_account(runtime)
    with runtime.db.read() as session:
        held = {role for user in session.execute(select(User).where(User.username.in_(USERS))).scalars()
                for role in user.role_ids}
    assert held == set(Role)


@pytest.fixture
def objects(app, runtime) -> dict[str, Any]:
    add_integration_account(runtime)
    deploy(runtime, INCIDENT_FLOW)
    instance = runtime.start("complaint_handling", {"desk": "旅游", "branch": "HZ01", "customer_name": "赵六",
                                                     "contact_phone": "13800001111"})
    [task] = runtime.tasks(instance_id=instance)
    assert (task["lane"], task["routing"]) == ("staff", {"desk": "旅游", "branch": "HZ01"})
    return {"task": task["id"], "instance": instance, "incident": technical(runtime), "process": "complaint_handling",
            "version": 1, "message": failed_message(runtime, lane="operator")}


class Caller:
    """Sends a row's request as one caller: a logged-in browser, nobody, or a bearer token."""

    def __init__(self, app, runtime, name: str):
        self.name = name
        if name == "bearer":
            with runtime.db.write() as session, session.begin():
                token = create_token(session, BEARER_OF, "access matrix")
            self.http, self.headers, self.client = app.test_client(), {"Authorization": f"Bearer {token}"}, None
        else:
            self.client = Client(app, None if name == "anonymous" else name)
            self.http, self.headers = self.client.http, {}

    def csrf(self) -> str | None:
        return None if self.client is None else self.client.token()

    def send(self, method: str, row: Row, url: str):
        headers = dict(self.headers)
        if method == "GET":
            return self.http.get(url, headers=headers)
        if row.kind == "page":
            data: dict[str, Any] = dict(row.body or {})
            if self.csrf():
                data["csrf_token"] = self.csrf()
            if row.upload:
                data["files"] = (io.BytesIO(COMPLAINT_BPMN.read_bytes()), COMPLAINT_BPMN.name)
            return self.http.post(url, data=data, headers=headers)
        if self.csrf():
            headers["X-CSRFToken"] = self.csrf()
        if row.upload:
            return self.http.post(url, data={"files": (io.BytesIO(COMPLAINT_BPMN.read_bytes()), COMPLAINT_BPMN.name)},
                                  headers=headers, content_type="multipart/form-data")
        return self.http.post(url, json=row.body if row.body is not None else {}, headers=headers)


COMPLAINT_BPMN = DEFAULT_PROCESSES_DIR / "complaint_handling.bpmn"


@pytest.mark.parametrize("caller", CALLERS)
def test_every_route_answers_each_caller_as_the_table_says(app, runtime, objects, caller):
    who = Caller(app, runtime, caller)
    checker = DocChecker(app)
    wrong = []
    for (method, _rule), row in MATRIX.items():
        url = row.url.format(**objects)
        response = who.send(method, row, url)
        expected = row.expected(caller, method)
        if response.status_code != expected:
            wrong.append(f"{method} {url}: {response.status_code}, expected {expected}"
                         f" ({response.get_data(as_text=True)[:160]!r})")
            continue
        if row.kind == "api":
            checker.check(method, url, response)  # documented status, body of the documented shape
        if response.status_code in (401, 403):
            assert "13800001111" not in response.get_data(as_text=True), f"{method} {url} leaks the phone"
    assert not wrong, f"{caller}:\n" + "\n".join(wrong)
