"""API tokens: created once in plaintext, stored as sha256 only, revocable; and the `tourflow token` CLI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.access.users import create_token, find_token_id, revoke_token, token_digest
from engine.errors import NotFound, TourflowError
from engine.store.models import ApiToken, AuditEvent, User
from tests.support.api import Api


@pytest.fixture
def api(app, runtime):
    return Api(app, runtime)


def _db_bytes(db_url: str) -> bytes:
    path = Path(db_url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def _rows(runtime) -> list[tuple[str, str, str, bool]]:
    with runtime.db.read() as session:
        rows = session.execute(select(User.username, ApiToken.token_sha256, ApiToken.label, ApiToken.revoked_at)
                               .join(User, User.id == ApiToken.user_id).order_by(ApiToken.id)).all()
    return [(u, digest, label, revoked is not None) for u, digest, label, revoked in rows]


def test_create_token_returns_plaintext_once_and_stores_its_sha256(runtime, db_url):
    with runtime.db.write() as session, session.begin():
        token = create_token(session, "agent1", "  laptop ")
    assert token.startswith("tf_") and len(token) > 40
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert token_digest(token) == digest
    assert _rows(runtime) == [("agent1", digest, "laptop", False)]
    assert token.encode() not in _db_bytes(db_url)
    with runtime.db.read() as session:
        [event] = session.execute(select(AuditEvent).where(AuditEvent.kind == "token_created")).scalars()
        assert token not in event.payload and json.loads(event.payload)["username"] == "agent1"


def test_create_token_refuses_unknown_users_and_long_labels(runtime):
    with runtime.db.write() as session, session.begin():
        with pytest.raises(NotFound):
            create_token(session, "nobody", "")
        with pytest.raises(TourflowError, match="at most 80"):
            create_token(session, "agent1", "x" * 81)


def test_a_revoked_token_is_refused(api, runtime):
    token = api.token_for("agent1")
    caller = api.bearer(token)
    assert caller.get("/api/v1/tasks").status_code == 200
    with runtime.db.write() as session, session.begin():
        token_id = find_token_id(session, token)
        assert revoke_token(session, token_id, actor="owner1") is True
    assert caller.get("/api/v1/tasks").status_code == 401
    assert caller.post("/api/v1/processes/complaint_handling/instances").status_code == 401
    with runtime.db.write() as session, session.begin():
        assert revoke_token(session, token_id) is False, "revoking twice changes nothing"
        with pytest.raises(NotFound):
            revoke_token(session, 999999)
    assert _rows(runtime)[0][3] is True


def test_tokens_of_one_user_are_independent(api, runtime):
    first, second = api.token_for("agent1", "a"), api.token_for("agent1", "b")
    with runtime.db.write() as session, session.begin():
        revoke_token(session, find_token_id(session, first))
    assert api.bearer(first).get("/api/v1/me").status_code == 401
    assert api.bearer(second).get("/api/v1/me").get_json()["username"] == "agent1"


# ---- the CLI ---------------------------------------------------------------------------------
def test_cli_token_create_prints_a_token_once_that_works_against_the_api(cli, app, api, runtime, db_url):
    out = cli.run("token", "create", "--user", "agent1", "--label", "ci", check=True).stdout
    lines = out.strip().splitlines()
    token = lines[-1]
    assert token.startswith("tf_") and out.count(token) == 1
    assert "agent1" in lines[0] and "not shown again" in lines[0]
    assert _rows(runtime) == [("agent1", hashlib.sha256(token.encode()).hexdigest(), "ci", False)]
    assert token.encode() not in _db_bytes(db_url), "only the sha256 is stored"

    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    me = client.get("/api/v1/me", headers=headers)
    assert (me.status_code, me.get_json()["username"], me.get_json()["auth"]) == (200, "agent1", "token")
    started = client.post("/api/v1/processes/complaint_handling/instances", headers=headers, json={})
    assert started.status_code == 201, "a token needs no CSRF header"
    api.checker.check("POST", "/api/v1/processes/complaint_handling/instances", started)

    token_id = int(lines[0].split()[1])
    assert cli.run("token", "revoke", str(token_id), check=True).stdout.strip() == f"token {token_id} revoked"
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    again = cli.run("token", "revoke", str(token_id), check=True).stdout
    assert "already revoked" in again


def test_cli_token_create_json_and_errors(cli, runtime):
    created = cli.json("token", "create", "--user", "guide1")
    assert (created["user"], created["label"]) == ("guide1", "")
    assert created["token"].startswith("tf_") and isinstance(created["id"], int)
    unknown = cli.run("token", "create", "--user", "nobody")
    assert unknown.returncode == 1 and "unknown or inactive user" in unknown.stderr
    missing = cli.run("token", "revoke", "424242")
    assert missing.returncode == 1 and "token 424242 does not exist" in missing.stderr
    assert cli.run("token", "create").returncode == 2, "--user is required"
