"""Failed logins are throttled per user name and per client address, in the database every worker
shares; unknown users cost the same password-hash work as known ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

import engine.access.users
from engine.access.users import create_token, set_active
from engine.clock import frozen_at
from engine.store.models import LoginFailure
from tests.support.web import CSRF_META
from webapp import create_app

pytestmark = pytest.mark.both_databases

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _attempt(http, username: str, password: str, at: datetime, address: str = "203.0.113.7"):
    with frozen_at(at):
        token = CSRF_META.search(http.get("/login").get_data(as_text=True)).group(1)
        return http.post("/login", data={"username": username, "password": password, "csrf_token": token},
                         environ_base={"REMOTE_ADDR": address})


def test_five_failures_lock_the_user_name_until_the_window_has_passed(app):
    http = app.test_client()
    for i in range(5):
        assert _attempt(http, "agent1", "wrong", T0 + timedelta(seconds=i)).status_code == 401
    locked = _attempt(http, "agent1", "agent1", T0 + timedelta(minutes=1))  # the right password: still 429
    assert locked.status_code == 429
    assert locked.headers["Retry-After"] == str(15 * 60 - 60)  # the first failure leaves the window then
    assert "登录失败次数过多，请 14 分钟后再试" in locked.get_data(as_text=True)
    # another address is refused too: the limit is on the user name
    assert _attempt(http, "agent1", "agent1", T0 + timedelta(minutes=2), address="198.51.100.9").status_code == 429
    # other users are not affected
    assert _attempt(http, "guide1", "guide1", T0 + timedelta(minutes=2)).status_code == 302

    later = app.test_client()
    assert _attempt(later, "agent1", "agent1", T0 + timedelta(minutes=15, seconds=1)).status_code == 302


def test_the_throttle_message_is_english_after_the_switch(app):
    http = app.test_client()
    http.get("/lang/en")
    for i in range(5):
        _attempt(http, "agent1", "wrong", T0 + timedelta(seconds=i))
    locked = _attempt(http, "agent1", "wrong", T0 + timedelta(seconds=10))
    assert locked.status_code == 429
    assert "Too many failed logins: try again in 15 minutes" in locked.get_data(as_text=True)


def test_a_successful_login_does_not_count_and_clears_the_user_names_failures(app):
    http = app.test_client()
    for i in range(4):
        assert _attempt(http, "agent1", "wrong", T0 + timedelta(seconds=i)).status_code == 401
    assert _attempt(app.test_client(), "agent1", "agent1", T0 + timedelta(seconds=5)).status_code == 302
    for i in range(4):  # four more typos after a good login: still under the limit
        assert _attempt(http, "agent1", "wrong", T0 + timedelta(seconds=10 + i)).status_code == 401
    assert _attempt(app.test_client(), "agent1", "agent1", T0 + timedelta(seconds=20)).status_code == 302


def test_twenty_failures_from_one_address_lock_that_address(app):
    http = app.test_client()
    for i in range(20):  # a different name each time: only the address limit applies
        assert _attempt(http, f"guess{i}", "x", T0 + timedelta(seconds=i)).status_code == 401
    assert _attempt(http, "agent1", "agent1", T0 + timedelta(seconds=30)).status_code == 429
    elsewhere = _attempt(app.test_client(), "agent1", "agent1", T0 + timedelta(seconds=30), address="198.51.100.9")
    assert elsewhere.status_code == 302
    assert _attempt(app.test_client(), "agent1", "agent1", T0 + timedelta(minutes=15, seconds=1)).status_code == 302


def test_the_count_is_shared_by_every_worker_process(app, db_url, runtime):
    """gunicorn runs several workers: each has its own app; the failures are counted in the database."""
    others = []
    for _ in range(5):
        other = create_app({"TESTING": True, "SECRET_KEY": "test-secret", "DATABASE_URL": db_url})
        other.extensions["tourflow"].use_runtime(runtime)
        others.append(other)
    for i, worker in enumerate(others):
        assert _attempt(worker.test_client(), "agent1", "wrong", T0 + timedelta(seconds=i)).status_code == 401
    assert _attempt(app.test_client(), "agent1", "agent1", T0 + timedelta(seconds=10)).status_code == 429


def test_old_failures_are_forgotten(app, runtime):
    http = app.test_client()
    for i in range(3):
        _attempt(http, "agent1", "wrong", T0 + timedelta(seconds=i))
    _attempt(http, "agent1", "wrong", T0 + timedelta(hours=1))
    with runtime.db.read() as session:
        assert session.execute(select(func.count()).select_from(LoginFailure)).scalar_one() == 1


def _bearer(http, token: str, at: datetime, address: str = "203.0.113.7"):
    with frozen_at(at):
        return http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"},
                        environ_base={"REMOTE_ADDR": address})


def test_bad_bearer_tokens_are_throttled_per_address(app, runtime):
    with runtime.db.write() as session, session.begin():
        good = create_token(session, "agent1")
    http = app.test_client()
    for i in range(20):
        assert _bearer(http, f"tf_guess{i}", T0 + timedelta(seconds=i)).status_code == 401
    refused = _bearer(http, good, T0 + timedelta(seconds=30))
    assert refused.status_code == 429
    assert refused.get_json()["error"] == "too_many_requests"
    assert refused.get_json()["field"] is None
    assert refused.headers["Retry-After"] == str(15 * 60 - 30)
    assert _bearer(http, "tf_guess-again", T0 + timedelta(seconds=31)).status_code == 429  # an unknown token too
    assert _bearer(http, good, T0 + timedelta(seconds=30), address="198.51.100.9").status_code == 200
    assert _bearer(http, good, T0 + timedelta(minutes=16)).status_code == 200


class _CountingHashChecks:
    """Counts the password-hash verifications the login makes (the real check still runs)."""

    def __init__(self, monkeypatch):
        self.calls = 0
        real = engine.access.users.check_password_hash

        def counting(pwhash: str, password: str) -> bool:
            self.calls += 1
            return real(pwhash, password)

        monkeypatch.setattr(engine.access.users, "check_password_hash", counting)


@pytest.mark.parametrize("username, password", [
    ("agent1", "wrong"),          # known user, wrong password
    ("nobody", "whatever"),       # unknown user
    ("guide1", "guide1"),         # inactive user, right password
])
def test_every_refused_login_verifies_one_password_hash(app, runtime, monkeypatch, username, password):
    with runtime.db.write() as session, session.begin():
        set_active(session, "guide1", False)
    http = app.test_client()
    counter = _CountingHashChecks(monkeypatch)
    assert _attempt(http, username, password, T0).status_code == 401
    assert counter.calls == 1


def test_the_dummy_hash_is_made_like_the_users_hashes(runtime):
    from engine.store.models import User

    with runtime.db.read() as session:
        real = session.execute(select(User.password_hash).where(User.username == "agent1")).scalar_one()
    assert engine.access.users.dummy_password_hash().split("$")[0] == real.split("$")[0]  # same method and cost
