"""The live inbox: the stamp of a viewer's open tasks (engine/run/inbox_stamp.py), its poll route
`GET /api/v1/inbox/stamp` (304 while unchanged) and what one idle poll costs the database."""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event

from engine.access.policy import viewer_named
from engine.clock import frozen_at
from engine.run import queries
from engine.run.inbox_stamp import inbox_stamp, is_stamp
from tests.support.complaint import COMPLAINT, MONDAY_10

STAMP_URL = "/api/v1/inbox/stamp"
# SQL statements one idle poll may run: the session's user, its roles and its login session
# (webapp/auth.py load_user), the newest audit event id (a reading unit's BEGIN is transaction control,
# not a statement: engine/store/db.py). docs/inbox.md records the measured figure.
IDLE_POLL_STATEMENTS_MAX = 4


@pytest.fixture(autouse=True)
def _complaint_deployed(app):
    """The web app fixture deploys the complaint process: the engine-level tests here need it too."""
    return app


def stamp_of(rt, username: str):
    with rt.reading() as session:
        return inbox_stamp(session, viewer_named(session, username))


def intake(rt) -> dict:
    """A new complaint: its intake task waits in lane staff."""
    iid = rt.start("complaint_handling", actor="agent1")
    [task] = rt.tasks(instance_id=iid)
    return task


def to_guide(rt) -> dict:
    """A complaint received during the tour: its task waits for a guide (lane guide)."""
    task = intake(rt)
    rt.complete(task["id"], "agent1", COMPLAINT)
    [guide_task] = rt.tasks(instance_id=task["instance_id"])
    return guide_task


@contextmanager
def counting_statements(rt):
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(rt.db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(rt.db.engine, "before_cursor_execute", count)


# ---- the stamp -------------------------------------------------------------------------------
def test_stamp_is_steady_while_nothing_changes(runtime):
    intake(runtime)
    first = stamp_of(runtime, "agent1")
    assert is_stamp(first.stamp) and first.open == 1
    assert stamp_of(runtime, "agent1").digest == first.digest


@pytest.mark.both_databases
def test_stamp_changes_when_a_task_arrives_is_claimed_released_or_completed(runtime):
    seen = {stamp_of(runtime, "guide1").digest}

    def changed() -> None:
        stamp = stamp_of(runtime, "guide1").digest
        assert stamp not in seen
        seen.add(stamp)

    task = intake(runtime)
    changed()
    runtime.claim(task["id"], "operator1")  # claimed by someone else: it leaves guide1's list
    changed()
    runtime.unclaim(task["id"], "operator1")
    changed()
    runtime.complete(task["id"], "agent1", COMPLAINT)  # done; the next step waits in lane guide
    changed()
    assert stamp_of(runtime, "guide1").open == 1


def test_stamp_changes_when_a_task_is_handed_between_two_others(runtime):
    task = intake(runtime)
    runtime.claim(task["id"], "operator1")
    before = stamp_of(runtime, "agent2")
    runtime.reassign(task["id"], "supervisor1", "guide1", "导游在现场")
    assert stamp_of(runtime, "agent2").digest != before.digest, "the assignee column of the row changed"


@pytest.mark.both_databases
def test_stamp_changes_when_a_due_time_passes(runtime):
    with frozen_at(MONDAY_10):
        task = intake(runtime)  # due in one working hour (the process's timer boundary)
    due = datetime.fromisoformat(task["due_at"])
    with frozen_at(due - timedelta(minutes=1)):
        before = stamp_of(runtime, "agent1")
        assert stamp_of(runtime, "agent1").digest == before.digest
    with frozen_at(due + timedelta(minutes=1)):
        assert stamp_of(runtime, "agent1").digest != before.digest, "the task is overdue now"


@pytest.mark.parametrize("username", ["agent1", "guide1", "qc1", "supervisor1", "manager1", "auditor1"])
def test_stamp_counts_what_the_inbox_counts(runtime, username):
    intake(runtime)
    to_guide(runtime)
    with runtime.reading() as session:
        viewer = viewer_named(session, username)
        counted = queries.inbox(session, viewer, queries.InboxFilter())["counts"]["all"]
        assert inbox_stamp(session, viewer).open == counted


def test_a_task_in_a_lane_one_does_not_see_leaves_the_stamp_alone(runtime):
    qc_before, auditor_before = stamp_of(runtime, "qc1"), stamp_of(runtime, "auditor1")
    guide_before = stamp_of(runtime, "guide1")
    intake(runtime)  # lane staff
    assert stamp_of(runtime, "qc1").digest == qc_before.digest
    assert stamp_of(runtime, "auditor1").digest != auditor_before.digest, "auditors read every lane"
    assert stamp_of(runtime, "guide1").digest != guide_before.digest, "guides hold lane staff too"


# ---- GET /api/v1/inbox/stamp -----------------------------------------------------------------
@pytest.mark.both_databases
def test_poll_answers_the_stamp_then_304_until_something_changes(runtime, client_for):
    client = client_for("agent1")
    first = client.get(STAMP_URL)
    assert first.status_code == 200
    body = first.get_json()
    assert body["open"] == 0 and body["newest_task_id"] is None and is_stamp(body["stamp"])
    assert first.headers["ETag"] == f'"{body["stamp"]}"' and first.headers["Cache-Control"] == "no-store"
    unchanged = client.get(f"{STAMP_URL}?since={body['stamp']}")
    assert unchanged.status_code == 304 and unchanged.get_data() == b""
    assert client.get(STAMP_URL, headers={"If-None-Match": f'"{body["stamp"]}"'}).status_code == 304
    task = intake(runtime)
    changed = client.get(f"{STAMP_URL}?since={body['stamp']}")
    assert changed.status_code == 200
    assert changed.get_json()["open"] == 1 and changed.get_json()["newest_task_id"] == task["id"]


@pytest.mark.parametrize("since", ["abc", "1.2.3.0123456789ABCDEF", "1.2.3.0123456789abcdef0", "0123456789abcdef",
                                   "'; drop table x", "１.２.３.0123456789abcdef", "1.2.0123456789abcdef"])
def test_a_malformed_since_is_a_422_naming_it(client_for, since):
    response = client_for("agent1").get(STAMP_URL, query_string={"since": since})
    assert response.status_code == 422
    assert response.get_json()["field"] == "since"


def test_an_empty_or_stale_since_answers_the_stamp(client_for):
    client = client_for("qc1")
    assert client.get(f"{STAMP_URL}?since=").status_code == 200
    assert client.get(f"{STAMP_URL}?since=1.2.3.0123456789abcdef").status_code == 200
    assert client.get(STAMP_URL, headers={"If-None-Match": '"not-a-stamp"'}).status_code == 200


def test_anonymous_poll_is_a_401(client_for):
    assert client_for(None).get(STAMP_URL).status_code == 401


@pytest.mark.parametrize("username,expected_open", [
    ("agent1", 1), ("operator1", 1), ("guide1", 2), ("qc1", 0), ("supervisor1", 0), ("manager1", 0),
    ("owner1", 0), ("auditor1", 2),
])
def test_every_role_polls_its_own_inbox(runtime, client_for, username, expected_open):
    intake(runtime)
    to_guide(runtime)
    response = client_for(username).get(STAMP_URL)
    assert response.status_code == 200
    assert response.get_json()["open"] == expected_open
    inbox = client_for(username).get("/").get_data(as_text=True)
    assert f'data-open="{expected_open}"' in inbox


# ---- what an idle inbox costs ----------------------------------------------------------------
def idle_poll(runtime, client, since: str):
    with counting_statements(runtime) as statements:
        response = client.get(f"{STAMP_URL}?since={since}")
    return response, statements


def on_tasks(statements: list[str]) -> list[str]:
    return [s for s in statements if "human_task" in s]


def etag(response) -> str:
    return response.headers["ETag"].strip('"')


@pytest.mark.both_databases
def test_an_idle_poll_runs_at_most_a_few_statements_and_none_reads_the_tasks(runtime, client_for):
    for _ in range(3):
        to_guide(runtime)
    client = client_for("guide1")
    with frozen_at(MONDAY_10):
        stamp = client.get(STAMP_URL).get_json()["stamp"]
    with frozen_at(MONDAY_10 + timedelta(seconds=20)):
        response, statements = idle_poll(runtime, client, stamp)
    assert response.status_code == 304 and etag(response) == stamp
    assert len(statements) <= IDLE_POLL_STATEMENTS_MAX, statements
    assert on_tasks(statements) == [], "nothing was written: the newest audit event id says so"
    assert sum("audit_event" in s for s in statements) == 1


def test_a_poll_counts_again_after_a_write_or_30_s_and_answers_304_when_the_tasks_are_the_same(runtime, client_for):
    client = client_for("qc1")
    with frozen_at(MONDAY_10):
        stamp = client.get(STAMP_URL).get_json()["stamp"]
        intake(runtime)  # written, but not in lane qc
        response, statements = idle_poll(runtime, client, stamp)
    assert response.status_code == 304 and len(on_tasks(statements)) == 1, "counted again: one statement"
    newer = etag(response)
    assert newer != stamp, "the next poll holds the newer audit event id"
    with frozen_at(MONDAY_10 + timedelta(seconds=29)):
        response, statements = idle_poll(runtime, client, newer)
    assert response.status_code == 304 and on_tasks(statements) == []
    with frozen_at(MONDAY_10 + timedelta(seconds=31)):  # a change below a seen id would show now
        response, statements = idle_poll(runtime, client, newer)
    assert response.status_code == 304 and len(on_tasks(statements)) == 1


def test_a_poll_counts_again_when_a_task_falls_due(runtime, client_for):
    with frozen_at(MONDAY_10):
        task = intake(runtime)
    due = datetime.fromisoformat(task["due_at"])
    client = client_for("agent1")
    with frozen_at(due - timedelta(seconds=10)):
        stamp = client.get(STAMP_URL).get_json()["stamp"]
    with frozen_at(due + timedelta(seconds=5)):
        response, statements = idle_poll(runtime, client, stamp)
    assert response.status_code == 200 and len(on_tasks(statements)) == 1, "overdue now: the inbox changed"


# ---- the page --------------------------------------------------------------------------------
def test_inbox_page_starts_polling_from_its_stamp_with_no_inline_script(runtime, client_for):
    intake(runtime)
    client = client_for("agent1")
    page = client.get("/").get_data(as_text=True)
    [stamp] = re.findall(r'data-stamp="([^"]+)"', page)
    assert client.get(f"{STAMP_URL}?since={stamp}").status_code == 304, "the page's stamp is current"
    assert 'data-stamp-url="/api/v1/inbox/stamp"' in page
    assert 'src="/static/js/inbox-live.js"' in page
    assert 'aria-live="polite"' in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page), "no inline script (CSP)"
    assert client.get("/static/js/inbox-live.js").status_code == 200
