"""Logging out ends the session on the server: the same cookie, copied or replayed, no longer works.
A password change or a deactivation ends every session of the user; sessions expire after
SESSION_LIFETIME_HOURS."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.access.users import set_active, set_password
from engine.clock import frozen_at, utcnow
from engine.store.models import LoginSession

pytestmark = pytest.mark.both_databases


def _copy(app, client):
    """A second browser holding a copy of the client's session cookie (as a thief would)."""
    thief = app.test_client()
    thief.set_cookie("session", client.http.get_cookie("session").value)
    return thief


def _logged_in(http) -> bool:
    page = http.get("/")
    if page.status_code == 302:
        assert page.location.startswith("/login")
        return False
    assert page.status_code == 200
    return True


def test_a_copied_cookie_stops_working_after_logout(app, client_for):
    agent = client_for("agent1")
    thief = _copy(app, agent)
    assert _logged_in(thief) and thief.get("/api/v1/me").status_code == 200
    assert agent.post("/logout").status_code == 302
    assert not _logged_in(agent)
    assert not _logged_in(thief)
    answer = thief.get("/api/v1/me")
    assert answer.status_code == 401 and answer.get_json()["error"] == "unauthorized"


def test_logging_out_ends_only_that_session(app, client_for):
    laptop, phone = client_for("agent1"), client_for("agent1")
    laptop.post("/logout")
    assert not _logged_in(laptop)
    assert _logged_in(phone)


def test_a_password_change_ends_every_session_of_the_user(app, client_for, runtime):
    laptop, phone, other = client_for("agent1"), client_for("agent1"), client_for("guide1")
    with runtime.db.write() as session, session.begin():
        set_password(session, "agent1", "a-new-secret")
    assert not _logged_in(laptop) and not _logged_in(phone)
    assert _logged_in(other)
    laptop.login("agent1", "a-new-secret")
    assert _logged_in(laptop)


def test_deactivation_ends_the_sessions_for_good(app, client_for, runtime):
    agent = client_for("agent1")
    with runtime.db.write() as session, session.begin():
        set_active(session, "agent1", False)
    assert not _logged_in(agent)
    with runtime.db.write() as session, session.begin():
        set_active(session, "agent1", True)
    assert not _logged_in(agent), "reactivating the user does not bring an old session back"


def test_a_session_expires_after_its_lifetime(app, client_for):
    app.config["SESSION_LIFETIME_HOURS"] = 8
    agent = client_for("agent1")
    with frozen_at(utcnow() + timedelta(hours=7, minutes=59)):
        assert _logged_in(agent)
    with frozen_at(utcnow() + timedelta(hours=8, minutes=1)):
        assert not _logged_in(agent)


def test_a_cookie_from_before_the_session_table_is_not_accepted(app):
    """A session cookie naming a user but carrying no server-side session id (forged with the key,
    or issued before this release) is logged out."""
    http = app.test_client()
    with http.session_transaction() as cookie:
        cookie["_user_id"] = "agent1"
        cookie["_fresh"] = True
    assert not _logged_in(http)


def test_the_database_keeps_only_a_digest_of_the_session_secret(app, client_for, runtime):
    agent = client_for("agent1")
    with agent.http.session_transaction() as cookie:
        secret = cookie["tf_sid"]
    with runtime.db.read() as session:
        ids = session.execute(select(LoginSession.id)).scalars().all()
    assert len(ids) == 1 and secret not in ids[0] and len(ids[0]) == 64
    agent.post("/logout")
    with runtime.db.read() as session:
        assert session.execute(select(func.count()).select_from(LoginSession)).scalar_one() == 0


def test_cli_password_and_deactivate(cli, runtime):
    changed = cli.run("user", "password", "agent1", "--password", "longer-secret")
    assert changed.returncode == 0, changed.stderr
    assert "sessions have ended" in changed.stdout
    short = cli.run("user", "password", "agent1", "--password", "short")
    assert short.returncode == 1 and "at least 8 characters" in short.stderr
    unknown = cli.run("user", "deactivate", "nobody")
    assert unknown.returncode == 1 and "user 'nobody' does not exist" in unknown.stderr
    assert cli.run("user", "deactivate", "agent1").returncode == 0
    from engine.store.models import User

    with runtime.db.read() as session:
        assert session.execute(select(User.active).where(User.username == "agent1")).scalar_one() is False
