"""Auditors change nothing: EVERY mutating route of the app (each POST/PUT/PATCH/DELETE rule of
url_map, pages and API alike, including routes added later) answers an auditor 403, with a valid
CSRF token and a plausible body, by session and by bearer token, and no table changes.

Only logging in and out, linting a diagram and previewing a form sent in the body are let through (they change
no record of the agency); they are listed here and must exist, so the list cannot go stale.
"""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from engine.config import DEFAULT_PROCESSES_DIR
from engine.store import models
from tests.support.api import Api
from tests.support.complaint import COMPLAINT
from tests.support.outbox import failed_message
from tests.support.web import Client

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
EXCEPTIONS = {"auth.login": "logging in writes nothing of the agency's",
              "auth.logout": "logging out ends one's own session only",
              "api.lint": "lints the diagram in the body (the modeler's live lint): stores nothing",
              "api.preview_form": "draws the form schema in the body (the form editor's preview): stores nothing"}
COUNTED = (models.AuditEvent, models.AuditHead, models.ProcessInstance, models.HumanTask, models.Job, models.Message,
           models.Deployment, models.ApiToken, models.SavedView, models.OutboxMessage)
BPMN = (DEFAULT_PROCESSES_DIR / "complaint_handling.bpmn").read_bytes()

# What a writer would send to each endpoint, so that a route missing its guard would really act.
JSON_BODIES = {
    "api.complete_task": COMPLAINT,
    "api.reassign_task": {"to": "agent2", "reason": "审计测试"},
    "api.start_instance": {"data": {}, "business_key": "AUDIT-1"},
    "api.resolve_incident": {"reason": "审计测试", "data": None},
    "api.send_message": {"name": "complaint_received", "correlation_key": "AUDIT-2", "data": {}},
    "api.resolve_delivery": {"action": "retry", "reason": "审计测试"},
    "api.report_deliveries": {"items": [{"id": 1, "status": "delivered"}]},
}
FORM_BODIES = {
    "tasks.complete": {k: str(v) for k, v in COMPLAINT.items()},
    "tasks.reassign": {"to_user": "agent2", "reason": "审计测试"},
    "incidents.resolve": {"reason": "审计测试", "data": "{}"},
    "incidents.retry": {"reason": "审计测试"},
    "incidents.resolve_delivery": {"action": "retry", "reason": "审计测试"},
    "saved_views.save": {"name": "审计视图", "query": "lane=guide"},
}
UPLOADS = {"api.deploy", "processes.deploy"}


@pytest.fixture
def api(app, runtime):
    return Api(app, runtime)


def mutating_rules(app):
    return sorted(((rule, method) for rule in app.url_map.iter_rules()
                   for method in sorted((rule.methods or set()) & MUTATING)), key=lambda rm: (rm[0].rule, rm[1]))


def counts(runtime) -> dict[str, int]:
    with runtime.db.read() as session:
        return {model.__tablename__: session.execute(select(func.count()).select_from(model)).scalar_one()
                for model in COUNTED}


def ready_task_rows(runtime) -> list[tuple]:
    with runtime.db.read() as session:
        return session.execute(select(models.HumanTask.id, models.HumanTask.state, models.HumanTask.assignee)
                               .order_by(models.HumanTask.id)).all()


def url_for_rule(app, rule, values) -> str:
    adapter = app.url_map.bind("localhost")
    return adapter.build(rule.endpoint, {name: values[name] for name in rule.arguments})


@pytest.fixture
def targets(runtime) -> dict:
    """Real things to aim at: an instance with a ready task, a message that failed for good."""
    instance_id = runtime.start("complaint_handling", actor="agent1")
    [task] = runtime.tasks(instance_id=instance_id)
    return {"instance_id": instance_id, "task_id": task["id"], "process_id": "complaint_handling", "version": 1,
            "draft_id": 999999, "view_id": 1, "message_id": failed_message(runtime, lane=None)}


def test_the_exceptions_exist_and_every_other_mutating_route_is_checked(app):
    endpoints = {rule.endpoint for rule, _ in mutating_rules(app)}
    assert set(EXCEPTIONS) <= endpoints, "an exception names a route that no longer exists"
    assert len(endpoints - set(EXCEPTIONS)) >= 16
    assert {e for e in endpoints if e.startswith("api.")} >= {"api.complete_task", "api.deploy", "api.send_message"}


def test_an_auditor_gets_403_from_every_mutating_route_and_nothing_changes(app, runtime, api, targets):
    page_client = Client(app, "auditor1")
    token = api.token_for("auditor1")  # (its row and event are made before counting)
    before, tasks_before = counts(runtime), ready_task_rows(runtime)
    checked = []
    for rule, method in mutating_rules(app):
        if rule.endpoint in EXCEPTIONS:
            continue
        url = url_for_rule(app, rule, targets)
        if rule.endpoint.startswith("api."):
            if rule.endpoint in UPLOADS:
                answers = [api.as_("auditor1").call(method, url, data={"files": (io.BytesIO(BPMN), "p.bpmn")},
                                                    content_type="multipart/form-data"),
                           api.bearer(token).call(method, url, data={"files": (io.BytesIO(BPMN), "p.bpmn")},
                                                  content_type="multipart/form-data")]
            else:
                body = JSON_BODIES.get(rule.endpoint, {})
                answers = [api.as_("auditor1").call(method, url, body), api.bearer(token).call(method, url, body)]
            for answer in answers:
                assert answer.get_json()["error"] == "forbidden", (method, url)
        else:
            data = dict(FORM_BODIES.get(rule.endpoint, {}))
            data["csrf_token"] = page_client.token()
            if rule.endpoint in UPLOADS:
                data["files"] = (io.BytesIO(BPMN), "p.bpmn")
            answers = [page_client.http.open(url, method=method, data=data)]
        for answer in answers:
            assert answer.status_code == 403, f"{method} {url} ({rule.endpoint}) answered an auditor {answer.status_code}"
        checked.append(rule.endpoint)
        assert counts(runtime) == before, f"{method} {url} changed something"
    assert ready_task_rows(runtime) == tasks_before, "no claim, release or reassignment either"
    assert len(checked) >= 16


def test_login_and_logout_are_the_only_exceptions_and_record_nothing(app, runtime):
    before = counts(runtime)
    client = Client(app, "auditor1")  # POST /login
    response = client.post("/logout")
    assert response.status_code == 302
    assert counts(runtime) == before
