"""What every request pays outside the engine, made cheaper without changing any answer
(docs/performance.md, "Round 3"): the bearer token checked on a plain connection, answer headers added
without werkzeug's raising look-ups, Flask's per-request questions answered once per function, the
session cookie's serializer built once per secret key."""

from __future__ import annotations

import json

import pytest
from itsdangerous import BadSignature

from engine.access.logins import Limits
from engine.access.users import token_digest, token_holder_unless_blocked
from tests.support.api import Api
from webapp.flask_app import CachedSerializerSessions, TourflowFlask

SECURITY = ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy")


@pytest.fixture
def api(app, runtime):
    return Api(app, runtime)


def test_the_bearer_holder_on_a_connection_answers_what_the_session_read_answers(api, runtime):
    token = api.token_for("agent1")
    limits = Limits()
    for digest in (token_digest(token), token_digest("tf_unknown")):
        with runtime.reading() as session:
            expected = token_holder_unless_blocked(session, digest, "10.0.0.9", limits)
        assert runtime.bearer_token_holder(digest, "10.0.0.9", limits) == expected
    viewer, display_name = runtime.bearer_token_holder(token_digest(token), "10.0.0.9", limits)[0]
    assert viewer.username == "agent1" and "agent" in viewer.roles and display_name


def test_a_throttled_address_is_refused_on_the_connection_too(api, runtime):
    limits = Limits(per_address=2)
    api.app.config["LOGIN_LIMITS"] = limits
    http = api.app.test_client()

    def me(token: str) -> int:
        return http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code

    good = api.token_for("agent1")
    assert [me("tf_wrong"), me("tf_wrong")] == [401, 401]
    assert me("tf_wrong") == 429
    assert me(good) == 429, "past the limit, even a good token waits"
    holder, wait = runtime.bearer_token_holder(token_digest(good), "127.0.0.1", limits)
    assert holder is None and wait > 0


def test_api_answers_keep_every_header_once_in_the_same_order(api):
    caller = api.bearer(api.token_for("agent1"))
    for response in (caller.get("/api/v1/me"), caller.get("/api/v1/tasks"), caller.get("/api/v1/instances/999999"),
                     caller.get("/api/v1/me", headers={"Accept-Language": "en"})):
        names = [name for name, _value in response.headers]
        assert len(names) == len({n.lower() for n in names}), names
        tail = names[names.index("Cache-Control"):]
        assert tail == ["Cache-Control", *SECURITY, "Content-Language", "Vary"], names
        assert response.headers["Cache-Control"] == "no-store"
    assert caller.get("/api/v1/me", headers={"Accept-Language": "en"}).headers["Content-Language"] == "en"
    assert caller.get("/api/v1/me").headers["Content-Language"] == "zh-CN"


def test_a_header_an_answer_set_itself_is_kept(app, client_for):
    @app.get("/__test/own-headers")
    def own_headers():
        return "x", 200, {"X-Frame-Options": "SAMEORIGIN", "Content-Language": "fr", "Cache-Control": "max-age=1"}

    response = client_for("agent1").get("/__test/own-headers")
    assert response.status_code == 200
    assert response.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert response.headers.getlist("Content-Language") == ["fr"]
    assert response.headers.getlist("Cache-Control") == ["no-store"], "answers that are not static files: no-store"


def test_a_post_answer_equals_what_a_get_returns_right_after(api, runtime):
    caller = api.bearer(api.token_for("agent1"))
    created = caller.post("/api/v1/processes/complaint_handling/instances", {})
    assert created.status_code == 201
    answer = created.get_json()
    open_tasks = answer.pop("open_tasks")  # the start's answer is the instance and the starter's tasks
    shown = caller.get(created.headers["Location"])
    assert shown.status_code == 200 and shown.get_json() == answer
    tasks = caller.get(f"/api/v1/instances/{answer['id']}/tasks").get_json()["items"]
    assert open_tasks == [t for t in tasks if t["state"] == "ready"]
    task_id = open_tasks[0]["id"]
    claimed = caller.post(f"/api/v1/tasks/{task_id}/claim", {})
    assert claimed.status_code == 200
    assert caller.get(f"/api/v1/tasks/{task_id}").get_json() == claimed.get_json()


def test_the_session_serializer_is_built_once_per_secret_key(app, client_for):
    assert isinstance(app, TourflowFlask) and isinstance(app.session_interface, CachedSerializerSessions)
    sessions = app.session_interface
    first = sessions.get_signing_serializer(app)
    assert sessions.get_signing_serializer(app) is first
    signed = first.dumps({"a": 1})
    app.config["SECRET_KEY_FALLBACKS"] = [app.secret_key]
    app.secret_key = "another-secret"
    second = sessions.get_signing_serializer(app)
    assert second is not first and second.loads(signed) == {"a": 1}, "the former key is a fallback"
    assert sessions.get_signing_serializer(app) is second
    app.config["SECRET_KEY_FALLBACKS"] = []
    third = sessions.get_signing_serializer(app)
    assert third is not second
    with pytest.raises(BadSignature):
        third.loads(signed)


def test_logged_in_pages_still_work_with_the_cached_serializer(client_for):
    agent = client_for("agent1")
    assert agent.get("/").status_code == 200
    answer = agent.api("GET", "/api/v1/me")
    assert answer.status_code == 200 and json.loads(answer.data)["auth"] == "session"


def test_ensure_sync_is_asked_once_per_function(app):
    calls = []

    def view():
        return "ok"

    original = TourflowFlask.__mro__[1].ensure_sync

    def counting(self, func):
        calls.append(func)
        return original(self, func)

    TourflowFlask.__mro__[1].ensure_sync = counting
    try:
        assert app.ensure_sync(view) is view and app.ensure_sync(view) is view
    finally:
        TourflowFlask.__mro__[1].ensure_sync = original
    assert calls == [view]

    async def coroutine_view():
        return "ok"

    for _ in range(2):  # not kept on failure: asked again, and refused again
        with pytest.raises(RuntimeError, match="async"):
            app.ensure_sync(coroutine_view)
