"""What one API request costs the database, as shapes: statements and transactions per request kind.

A bearer-token request reads the user and their roles once (one statement, the throttle's count of
the address's failures a column of it, in one read transaction) and the engine's lane checks reuse them; a request that changes state answers
from its write transaction, with no read transaction after it. Counted with SQLAlchemy's engine
events on SQLite and PostgreSQL.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import select

from engine.access.users import create_token, create_user, revoke_token, set_active
from engine.bench.core import BENCH_DIR
from engine.store.models import ApiToken
from tests.support.listening import listening
from tests.support.step_count import one_attempt
from tests.support.world import deploy

pytestmark = pytest.mark.both_databases

PROCESS = "bench_approval"


class Transactions:
    """The statements each transaction ran, in order (a transaction starts at the engine's `begin`)."""

    def __init__(self, engine):
        self.engine = engine
        self.groups: list[list[str]] = []

    def _begin(self, _conn) -> None:
        self.groups.append([])

    def _statement(self, _conn, _cursor, statement, *_args) -> None:
        text = " ".join(statement.split())
        if text.upper().startswith("BEGIN"):
            return  # SQLite's explicit BEGIN (engine/store/db.py): the transaction itself, counted above
        if not self.groups:
            self.groups.append([])
        self.groups[-1].append(text)

    @contextmanager
    def counting(self):
        self.groups = []
        with listening(self.engine, begin=self._begin, before_cursor_execute=self._statement):
            yield self

    @property
    def statements(self) -> list[str]:
        return [s for group in self.groups for s in group]

    def user_reads(self) -> int:
        return sum(1 for s in self.statements if s.startswith("SELECT") and "FROM user_account" in s)


def _writes(group: list[str]) -> bool:
    return any(s.startswith(("INSERT", "UPDATE", "DELETE")) for s in group)


@pytest.fixture
def bench_api(app, runtime):
    deploy(runtime, BENCH_DIR / f"{PROCESS}.bpmn")
    with runtime.db.write() as session, session.begin():
        create_user(session, "approver", "approver-password", ["staff"])
        token = create_token(session, "approver", "statement counts")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    counter = Transactions(runtime.db.engine)

    def call(method: str, path: str, body=None, expect: int = 200):
        with one_attempt(), counter.counting():
            response = client.open(f"/api/v1{path}", method=method, json=body, headers=headers)
        assert response.status_code == expect, response.get_data(as_text=True)
        return response.get_json(), counter

    # One instance through first: app set-up, caches and the script sandbox's first start out of the way.
    created, _ = call("POST", f"/processes/{PROCESS}/instances", {}, expect=201)
    [task] = call("GET", f"/instances/{created['id']}/tasks")[0]["items"]
    call("POST", f"/tasks/{task['id']}/complete", {"approved": False})
    return call


def test_a_bearer_token_request_reads_its_user_once_in_one_transaction(bench_api):
    me, tx = bench_api("GET", "/me")
    assert me["auth"] == "token" and me["roles"] == ["staff"]
    assert len(tx.groups) == 1, tx.groups
    assert tx.user_reads() == 1, "the user and their roles come in one statement"
    assert len(tx.statements) == 1, tx.statements  # the user, with the bad-token throttle's count beside it


def test_creating_an_instance_answers_from_its_write_transaction(bench_api):
    created, tx = bench_api("POST", f"/processes/{PROCESS}/instances", {}, expect=201)
    assert created["process"] == PROCESS and created["status"] == "running"
    assert len(tx.groups) == 2, [g[:1] for g in tx.groups]  # the token's read, then the start
    assert not _writes(tx.groups[0]) and _writes(tx.groups[-1])
    assert tx.user_reads() == 1, "the start's lane check reuses the request's user"


def test_the_inbox_with_a_bearer_token_stays_within_its_statements(bench_api):
    bench_api("POST", f"/processes/{PROCESS}/instances", {}, expect=201)
    inbox, tx = bench_api("GET", f"/tasks?process={PROCESS}")
    assert [t["task"] for t in inbox["items"]] == ["bench_review"]
    assert not any(_writes(g) for g in tx.groups)
    assert tx.user_reads() == 1
    assert len(tx.statements) <= 9, tx.statements  # one for the token, the inbox's, none for masking its own rows
    assert len(tx.groups) == 2, "the token's read, then the inbox and its masking in one read"


def test_completing_a_task_runs_no_read_transaction_after_its_write(bench_api):
    created, _ = bench_api("POST", f"/processes/{PROCESS}/instances", {}, expect=201)
    inbox, _ = bench_api("GET", f"/tasks?process={PROCESS}")
    [task] = [t for t in inbox["items"] if t["instance_id"] == created["id"]]
    done, tx = bench_api("POST", f"/tasks/{task['id']}/complete", {"approved": True, "note": "ok"})
    assert done["instance"]["status"] == "completed" and done["instance"]["data"]["decision"] == "approved"
    assert done["open_tasks"] == []
    # the token's read, then the one write (the form checked in it): nothing before or after it
    assert len(tx.groups) == 2, "\n".join(f"{len(g)}: " + " | ".join(x[:60] for x in g) for g in tx.groups)
    assert [_writes(g) for g in tx.groups] == [False, True]
    assert tx.user_reads() == 1, "the lock's lane check reuses the request's user"


def test_a_revoked_token_or_a_deactivated_user_is_refused_at_once(bench_api, runtime):
    """Nothing about the user outlives the request: the next request reads them again."""
    bench_api("GET", "/me")
    with runtime.db.write() as session, session.begin():
        set_active(session, "approver", False)
    assert bench_api("GET", "/me", expect=401)[0]["error"] == "unauthorized"
    with runtime.db.write() as session, session.begin():
        set_active(session, "approver", True)
    bench_api("GET", "/me")
    with runtime.db.write() as session, session.begin():
        token_id = session.execute(select(ApiToken.id).where(ApiToken.label == "statement counts")).scalar_one()
        revoke_token(session, token_id)
    assert bench_api("GET", "/me", expect=401)[0]["error"] == "unauthorized"
