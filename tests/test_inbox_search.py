"""The inbox search (engine/run/task_search.py): a task is found by its customer, the last digits of a
phone, its tour or booking code and its due date, always within the lanes its viewer sees."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from engine.clock import frozen_at
from engine.run import queries
from engine.run.task_search import MESSAGES, TaskSearch, problems, search_text
from engine.store.models import HumanTask
from tests.support.complaint import COMPLAINT, MONDAY_10
from webapp.cli import main

pytestmark = pytest.mark.both_databases  # LIKE with escapes and the due windows, on PostgreSQL too

AGENT = queries.Viewer("agent1", frozenset({"agent", "staff"}))
GUIDE = queries.Viewer("guide1", frozenset({"guide", "staff"}))
QC = queries.Viewer("qc1", frozenset({"qc"}))
AUDITOR = queries.Viewer("auditor1", frozenset({"auditor"}))


def start(rt, **data) -> int:
    return rt.start("complaint_handling", actor="agent1", data=data or None)


def to_guide(rt, **overrides) -> int:
    """A complaint waiting for the guide (lane guide), with the complaint's data."""
    iid = start(rt)
    [task] = rt.tasks(instance_id=iid)
    rt.complete(task["id"], "agent1", {**COMPLAINT, **overrides})
    return iid


def found(rt, viewer=AUDITOR, **search) -> set[int]:
    with rt.reading() as session:
        result = queries.inbox(session, viewer, queries.InboxFilter(search=TaskSearch(**search), per_page=200))
    return {row["instance_id"] for row in result["items"]}


def test_search_text_holds_names_codes_and_phone_digits_lower_cased():
    text = search_text({"customer_name": "Zhang Jian", "contact_phone": "+86 138-0123-4567", "tour_id": "SH-2026|1118",
                        "booking_code": "BK77", "kind": "delay", "caller_number": "021 5555 0001"})
    assert text == "zhang jian | sh-2026/1118 bk77 | 8613801234567 02155550001 "
    assert search_text({"kind": "delay"}) is None
    assert search_text({"wechat_name": "小李"}, summary_keys=("wechat_name",)) == "小李 |  | "


def test_task_rows_carry_their_search_text(complaint_runtime):
    iid = to_guide(complaint_runtime)
    with complaint_runtime.reading() as session:
        row = session.execute(select(HumanTask).where(HumanTask.instance_id == iid,
                                                      HumanTask.state == "ready")).scalar_one()
    assert row.search_text == f"{COMPLAINT['customer_name'].lower()} | {COMPLAINT['tour_id'].lower()} | 13801234567 "


def test_phone_last_four_digits_match_the_end_of_a_number_only(complaint_runtime):
    rt = complaint_runtime
    mine = to_guide(rt, contact_phone="138 0123 4567")
    other = to_guide(rt, contact_phone="13904567000", tour_id="SH-4567", customer_name="李四")
    assert found(rt, phone="4567") == {mine}, "the tour SH-4567 and the middle of 13904567000 do not count"
    assert found(rt, phone="0123") == set(), "the middle of a number does not match"
    assert found(rt, phone="138-0123-4567") == {mine}
    assert found(rt, phone="7000") == {other}


def test_customer_and_tour_or_booking_code(complaint_runtime):
    rt = complaint_runtime
    zhang = to_guide(rt)
    li = to_guide(rt, customer_name="李四", tour_id="BJ-2026-0007")
    assert found(rt, customer="建国") == {zhang}
    assert found(rt, customer="李") == {li}
    assert found(rt, code="bj-2026") == {li}, "codes match case-insensitively"
    assert found(rt, code="李") == set(), "a name is not a code"
    assert found(rt, customer="bj") == set(), "a code is not a name"
    assert found(rt, q="sh-2026-1118") == {zhang}
    assert found(rt, q="李四 0007") == {li}, "every word must match"
    assert found(rt, q="4567") == {zhang, li}, "digits: the end of a phone"
    assert found(rt, q="100%") == set(), "LIKE wildcards in a query are plain characters"


def test_search_stays_within_the_viewers_lanes(complaint_runtime):
    rt = complaint_runtime
    at_agent = start(rt, customer_name="王五", contact_phone="13700004567")
    at_guide = to_guide(rt)
    assert found(rt, AGENT, phone="4567") == {at_agent}
    assert found(rt, GUIDE, phone="4567") == {at_agent, at_guide}, "guides hold lane staff too"
    assert found(rt, QC, phone="4567") == set()
    assert found(rt, AUDITOR, phone="4567") == {at_agent, at_guide}
    assert found(rt, GUIDE, phone="4567", customer="王") == {at_agent}


@pytest.mark.no_replay_check  # `undated` is a row as written before due dates: its record says otherwise
def test_due_overdue_today_this_week_and_none(complaint_runtime):
    rt = complaint_runtime
    with frozen_at(MONDAY_10 - timedelta(days=4)):  # the Thursday before: due that day
        last_week = start(rt)
    with frozen_at(MONDAY_10 - timedelta(hours=2)):  # due an hour ago
        late = start(rt)
    with frozen_at(MONDAY_10):
        fine = start(rt)  # due in an hour
        undated = to_guide(rt)
        with rt.transaction() as tx:  # every new step has a due date now: a row written before they did
            tx.session.execute(update(HumanTask).where(HumanTask.instance_id == undated).values(due_at=None))
        assert found(rt, due="overdue") == {last_week, late}
        assert found(rt, due="today") == {late, fine}
        assert found(rt, due="week") == {late, fine}
        assert found(rt, due="none") == {undated}


def test_bad_filters_are_named():
    assert problems(TaskSearch(phone="12a")) == {"phone": "phone"}
    assert problems(TaskSearch(phone="123")) == {"phone": "phone"}
    assert MESSAGES["phone"] == "must be at least 4 digits (spaces, dashes and + allowed)"
    assert problems(TaskSearch(due="soon")) == {"due": "due"}
    assert MESSAGES["due"] == "must be one of overdue, today, week, none"
    assert problems(TaskSearch(customer="x" * 121, phone="9" * 121)) == {"customer": "long", "phone": "long"}
    assert problems(TaskSearch(q="a", phone="1234", due="week")) == {}


def test_backfill_fills_open_rows_of_older_databases(complaint_runtime, db_url, monkeypatch):
    rt = complaint_runtime
    iid = to_guide(rt)
    open_row = (HumanTask.instance_id == iid) & (HumanTask.state == "ready")
    with rt.reading() as session:
        written = session.execute(select(HumanTask.search_text).where(open_row)).scalar_one()
    with rt.transaction() as tx:  # as a database from before migration 0013 had them
        tx.session.execute(update(HumanTask).values(search_text=None))
    assert found(rt, phone="4567") == set()
    monkeypatch.setenv("TOURFLOW_DATABASE_URL", db_url)
    result = CliRunner().invoke(main, ["search-backfill"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "1 open tasks made searchable", "the finished intake task stays as it is"
    with rt.reading() as session:
        assert session.execute(select(HumanTask.search_text).where(open_row)).scalar_one() == written
        assert session.execute(select(HumanTask.search_text).where(~open_row)).scalar_one() is None
    assert found(rt, phone="4567") == {iid}
