"""/api/v1: who may call what (401, CSRF, auditors), tokens, and JSON error bodies everywhere."""

from __future__ import annotations

import pytest
from flask import url_for

from engine.access.users import revoke_token
from tests.support.api import Api
from webapp.api import READING_POSTS
from webapp.openapi import MUTATING, api_rules, rule_methods

SAMPLE_ARGS = {"task_id": 1, "instance_id": 1, "process_id": "complaint_handling", "version": 1, "draft_id": 1,
               "message_id": 1, "kind": "booking.confirmation"}


@pytest.fixture
def api(app, runtime):
    return Api(app, runtime, language="en")  # these tests read the English messages (Accept-Language: en)


def _routes(app, mutating: bool | None = None) -> list[tuple[str, str, str]]:
    """(method, sample url, endpoint) of every /api/v1 rule: taken from url_map, so new routes are covered."""
    found = []
    with app.test_request_context():
        for rule in api_rules(app):
            for method in sorted(rule_methods(rule)):
                if mutating is None or (method in MUTATING) == mutating:
                    args = {name: SAMPLE_ARGS[name] for name in rule.arguments}
                    found.append((method, url_for(rule.endpoint, **args), rule.endpoint))
    assert found
    return found


# ---- not logged in -----------------------------------------------------------------------
def test_every_route_answers_401_json_without_login(app, api):
    anonymous = api.anonymous()
    for method, url, endpoint in _routes(app):
        response = anonymous.call(method, url, {} if method != "GET" else None)
        if endpoint == "api.openapi":
            assert response.status_code == 200
            continue
        assert response.status_code == 401, f"{method} {url}"
        assert response.get_json()["error"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_unknown_or_revoked_or_non_bearer_credentials_are_401(api, runtime):
    assert api.bearer("tf_not-a-token").get("/api/v1/me").status_code == 401
    token = api.token_for("agent1")
    caller = api.bearer(token)
    assert caller.get("/api/v1/me").status_code == 200
    with runtime.db.write() as session, session.begin():
        from engine.access.users import find_token_id

        assert revoke_token(session, find_token_id(session, token)) is True
    response = caller.get("/api/v1/me")
    assert response.status_code == 401
    assert response.get_json()["message"] == "the bearer token is unknown or revoked"
    basic = api.anonymous().get("/api/v1/me", headers={"Authorization": "Basic YWdlbnQxOmFnZW50MQ=="})
    assert basic.status_code == 401


# ---- who am I ----------------------------------------------------------------------------
def test_me_by_session_and_by_token(api):
    response = api.as_("agent1").get("/api/v1/me")
    assert response.headers["Cache-Control"] == "no-store"
    by_session = response.get_json()
    assert by_session == {"username": "agent1", "display_name": "agent1", "roles": ["agent", "staff"],
                          "read_only": False, "auth": "session"}
    by_token = api.bearer("auditor1").get("/api/v1/me").get_json()
    assert (by_token["username"], by_token["read_only"], by_token["auth"]) == ("auditor1", True, "token")


def test_a_presented_token_decides_even_beside_a_session(api):
    session = api.as_("agent1")
    token = api.token_for("guide1")
    me = session.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert (me["username"], me["auth"]) == ("guide1", "token")
    bad = session.get("/api/v1/me", headers={"Authorization": "Bearer tf_wrong"})
    assert bad.status_code == 401, "a bad token is refused, not silently replaced by the cookie"


# ---- CSRF --------------------------------------------------------------------------------
def test_every_change_by_session_without_csrf_header_is_400_csrf_failed(app, api):
    session = api.as_("agent1")
    for method, url, _ in _routes(app, mutating=True):
        response = session.call(method, url, {}, csrf=False)
        assert response.status_code == 400, f"{method} {url}: {response.get_json()}"
        assert response.get_json()["error"] == "csrf_failed"
        wrong = session.call(method, url, {}, headers={"X-CSRFToken": "forged"})
        assert (wrong.status_code, wrong.get_json()["error"]) == (400, "csrf_failed")


def test_token_auth_needs_no_csrf(api):
    instance = api.start()
    task = api.open_task(instance["id"], "receive_complaint")
    caller = api.bearer("agent1")
    assert caller.csrf is None
    response = caller.post(f"/api/v1/tasks/{task['id']}/claim")
    assert response.status_code == 200
    assert response.get_json()["assignee"] == "agent1"


def test_reads_by_session_need_no_csrf(api):
    assert api.as_("agent1").get("/api/v1/tasks", csrf=False).status_code == 200


# ---- auditors change nothing ------------------------------------------------------------
@pytest.mark.parametrize("by_token", [False, True])
def test_every_change_by_an_auditor_is_403(app, api, by_token):
    instance = api.start()
    task = api.open_task(instance["id"], "receive_complaint")
    real = {"task_id": task["id"], "instance_id": instance["id"]}
    auditor = api.bearer("auditor1") if by_token else api.as_("auditor1")
    with app.test_request_context():
        urls = [(method, url_for(rule.endpoint, **{n: real.get(n, SAMPLE_ARGS[n]) for n in rule.arguments}))
                for rule in api_rules(app) for method in sorted(rule_methods(rule) & MUTATING)
                if rule.endpoint not in READING_POSTS]  # lint and form preview read only (tests/web/test_modeler*.py)
    assert {"api.lint", "api.preview_form"} == READING_POSTS
    for method, url in urls:
        response = auditor.call(method, url, {"to": "agent1", "reason": "x"})
        assert response.status_code == 403, f"{method} {url}: {response.get_json()}"
        assert response.get_json()["error"] == "forbidden"
    events = api.as_("auditor1").get(f"/api/v1/instances/{instance['id']}/events").get_json()["items"]
    assert all(e["actor"] != "auditor1" for e in events)
    assert api.open_task(instance["id"], "receive_complaint")["assignee"] is None


# ---- JSON error bodies, never HTML -------------------------------------------------------
def test_unknown_routes_and_methods_answer_json(api):
    caller = api.as_("agent1")
    response = caller.get("/api/v1/no-such-thing")
    assert (response.status_code, response.get_json()["error"]) == (404, "not_found")
    response = caller.call("DELETE", "/api/v1/me")
    assert (response.status_code, response.get_json()["error"]) == (405, "method_not_allowed")
    response = caller.get("/api/v1/tasks/abc")
    assert response.status_code == 404


@pytest.mark.parametrize("url", [
    "/api/v1/tasks/999999", "/api/v1/tasks/999999/claim", "/api/v1/tasks/999999/unclaim",
    "/api/v1/tasks/999999/complete", "/api/v1/instances/999999", "/api/v1/instances/999999/events",
    "/api/v1/instances/999999/tasks", "/api/v1/instances/999999/diagram",
    "/api/v1/processes/no_such_process/instances", "/api/v1/processes/complaint_handling/versions/99/diagram",
    "/api/v1/processes/no_such_process/versions/1/diagram",
])
def test_unknown_ids_are_404_json(api, url):
    caller = api.as_("owner1" if "/versions/" in url else "agent1")  # versions: for who may read definitions
    response = caller.post(url) if url.endswith(("claim", "complete", "instances")) else caller.get(url)
    assert response.status_code == 404, response.get_json()
    assert response.get_json()["error"] == "not_found"


def test_reassign_of_an_unknown_task_is_404(api):
    response = api.as_("agent1").post("/api/v1/tasks/999999/reassign", {"to": "agent1", "reason": "leave"})
    assert response.status_code == 404


@pytest.mark.parametrize("raw, content_type, message", [
    ("{not json", "application/json", "not valid JSON"),
    ("[1, 2]", "application/json", "must be a JSON object"),
    ('"text"', "application/json", "must be a JSON object"),
    (b'{"a": "\xff"}', "application/json", "not UTF-8"),
    ("customer_name=x", "application/x-www-form-urlencoded", "as JSON"),
])
@pytest.mark.parametrize("by_token", [False, True])
def test_a_bad_json_body_is_400_json(api, raw, content_type, message, by_token):
    instance = api.start()
    task = api.open_task(instance["id"], "receive_complaint")
    caller = api.bearer("agent1") if by_token else api.as_("agent1")
    for url in (f"/api/v1/tasks/{task['id']}/complete", "/api/v1/processes/complaint_handling/instances",
                f"/api/v1/tasks/{task['id']}/reassign", f"/api/v1/tasks/{task['id']}/claim"):
        response = caller.call("POST", url, data=raw, content_type=content_type)
        assert response.status_code == 400, f"{url}: {response.get_json()}"
        body = response.get_json()
        assert body["error"] == "invalid_json" and message in body["message"], body


def test_an_unexpected_error_is_a_json_500_without_traceback(app, api, monkeypatch):
    def explode(*_args, **_kw):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(app.extensions["tourflow"].runtime, "startable", explode)
    response = app.test_client().get("/api/v1/processes",
                                     headers={"Authorization": f"Bearer {api.token_for('agent1')}"})
    assert response.status_code == 500
    assert response.get_json() == {"error": "internal_error", "field": None,
                                   "message": "服务器内部错误；详情见服务器日志"}, "no Accept-Language: Chinese"
    response = app.test_client().get("/api/v1/processes", headers={
        "Authorization": f"Bearer {api.token_for('agent1')}", "Accept-Language": "en"})
    assert response.get_json() == {"error": "internal_error", "field": None,
                                   "message": "internal error; the details are in the server log"}
    assert "secret internals" not in response.get_data(as_text=True)
