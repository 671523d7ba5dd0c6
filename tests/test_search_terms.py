"""The inbox search's index (engine/run/search_terms.py, table task_search_term): which terms a task gets,
that a search through it answers exactly what the LIKE alone answers, and that the index follows the
task rows (written with them, dropped when they close, filled by `tourflow search-backfill`)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, insert, select, text

from engine.bench import inbox as bench
from engine.bench.inbox_plans import inbox_plans
from engine.clock import utcnow
from engine.run import inbox_counts, queries
from engine.run.search_terms import EVERY, MAX_TERMS, terms_of, write_terms
from engine.run.task_search import TaskSearch, conditions, search_text
from engine.store.db import Database
from engine.store.models import HumanTask, TaskSearchTerm
from tests.support.complaint import COMPLAINT
from webapp.cli import main

pytestmark = pytest.mark.both_databases

AUDITOR = queries.Viewer("auditor1", frozenset({"auditor"}))
LONG_NAME = "".join(chr(0x4E00 + i) for i in range(MAX_TERMS + 1))  # as many distinct endings as characters


def test_terms_are_each_word_ending_of_names_and_codes_and_each_phone_ending_of_four_digits_or_more():
    text = search_text({"customer_name": "张建国", "tour_id": "SH-12", "contact_phone": "138 0123 4567"})
    assert terms_of(text) == {
        ("n", "张建国"), ("n", "建国"), ("n", "国"),
        ("c", "sh-12"), ("c", "h-12"), ("c", "-12"), ("c", "12"), ("c", "2"),
        *(("p", "13801234567"[-size:]) for size in range(4, 12)),
    }
    assert terms_of(None) == set() and terms_of(search_text({"contact_phone": "123"})) == set()
    long_word = terms_of(search_text({"customer_name": "abcdefghijklmnopqrstuvwxyz", "contact_phone": "8" * 16}))
    assert ("n", "abcdefghijkl") in long_word and max(len(term) for _, term in long_word) == 12
    assert ("p", "8" * 12) in long_word and ("p", "8" * 13) not in long_word, "phone endings up to 12 digits"


def test_a_task_with_more_terms_than_the_limit_gets_the_one_term_every_search_includes():
    assert len(terms_of(search_text({"customer_name": LONG_NAME[:MAX_TERMS]}))) == MAX_TERMS
    assert terms_of(search_text({"customer_name": LONG_NAME})) == {EVERY}


# Search texts as step.py writes them, and searches whose answers must not change with the index.
DATA = [
    {"customer_name": "John Smith", "contact_phone": "+86 138-0123-4567", "tour_id": "BJ-2026-0007"},
    {"customer_name": "张 建国", "contact_phone": "021 5555 0001", "booking_code": "BK77"},
    {"customer_name": "张建国", "customer_phone": "13700004567", "caller_number": "4567", "tour_id": "SH-4567"},
    {"customer_name": "abcdefghijklmnopqrstu", "contact_phone": "012345678901234", "tour_id": "t-abcdefghijklmnop"},
    {"customer_name": "李四", "tour_id": "100%_x\\y", "contact_phone": "13904567000"},
    {"customer_name": LONG_NAME, "tour_id": "MANY-4567"},
    {"kind": "no search text"},
    {"customer_handle": "smith", "booking_code": "john"},
]
SEARCHES = [
    TaskSearch(customer="john"), TaskSearch(customer="n smi"), TaskSearch(customer="OHN SMITH"),
    TaskSearch(customer="建国"), TaskSearch(customer="张 建"), TaskSearch(customer="张"), TaskSearch(customer="x"),
    TaskSearch(customer="klmnopqrstu"), TaskSearch(customer="abcdefghijklmnopq"), TaskSearch(customer=LONG_NAME[200:205]),
    TaskSearch(code="2026"), TaskSearch(code="bj-2026-0007"), TaskSearch(code="-"), TaskSearch(code="7"),
    TaskSearch(code="abcdefghijklmnop"), TaskSearch(code="100%"), TaskSearch(code="_x\\"), TaskSearch(code="john"),
    TaskSearch(phone="4567"), TaskSearch(phone="012345678901234"), TaskSearch(phone="2345678901234"),
    TaskSearch(phone="8901234"), TaskSearch(phone="0001"), TaskSearch(phone="0123"),
    TaskSearch(q="john 4567"), TaskSearch(q="bj"), TaskSearch(q="0007"), TaskSearch(q="smith"), TaskSearch(q="4567"),
    TaskSearch(q="张建国 sh"), TaskSearch(customer="李", phone="7000"), TaskSearch(q=LONG_NAME[:3], code="many"),
    TaskSearch(due="none", customer="张"),
]


@pytest.fixture
def crafted(db_url):
    """The bench's 40 seeded tasks, and one open task per DATA entry (ids FIRST_ID + 1000 + n), plus a
    closed one with the first entry's text; the index written as a step writes it."""
    db = Database(db_url)
    bench.seed(db, 40)
    inbox_counts.clear()
    now = utcnow()
    rows = []
    for n, data in enumerate([*DATA, DATA[0]]):
        row = {**bench.task_row(1000 + n, now), "search_text": search_text(data), "lane": "agent", "assignee": None,
               "instance_id": bench.FIRST_ID}
        rows.append({**row, "state": "completed"} if n == len(DATA) else row)
    with db.write() as session, session.begin():
        session.execute(insert(HumanTask), rows)
        write_terms(session, [(row["id"], row["search_text"]) for row in rows if row["state"] == "ready"])
    if db.engine.dialect.name == "postgresql":  # as autovacuum would have, once the rows are in
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE human_task"))
            conn.execute(text("ANALYZE task_search_term"))
    yield db
    db.dispose()


def searched(db: Database, search: TaskSearch) -> tuple[list[int], int]:
    with db.read() as session:
        result = queries.inbox(session, AUDITOR, queries.InboxFilter(search=search, per_page=200))
    return [item["id"] for item in result["items"]], result["total"]


def like_only(db: Database, search: TaskSearch) -> set[int]:
    """The search as the LIKE alone answers it (the query before the index): every open row read."""
    with db.read() as session:
        return set(session.execute(select(HumanTask.id).where(
            HumanTask.state == "ready", *conditions(search, utcnow()))).scalars())


def test_searches_through_the_index_answer_exactly_what_the_like_alone_answers(crafted):
    for search in SEARCHES:
        ids, total = searched(crafted, search)
        expected = like_only(crafted, search)
        assert set(ids) == expected and total == len(expected), search
    assert searched(crafted, TaskSearch(phone="4567"))[1] == 2, "John and 张建国 (one of two phones); not 李四 (middle)"
    assert searched(crafted, TaskSearch(code="4567"))[1] == 2, "SH-4567, and MANY-4567 of the task past the limit"
    assert searched(crafted, TaskSearch(customer="john"))[1] == 1, "the booking code 'john' is not a name"


def test_the_search_starts_from_the_index(crafted):
    with crafted.read() as session:
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":  # 50 rows may well be read whole: ask whether the index CAN serve
            session.execute(text("SET enable_seqscan = off"))
        plan = inbox_plans(session, AUDITOR, utcnow())["search"]
    assert "task_search_term_pkey" in plan["indexes"] and not plan["full_scan"], plan["plan"]
    if dialect == "sqlite":  # in the order written: the ids found, then their rows by primary key
        assert plan["indexes"] == ["human_task_pkey", "task_search_term_pkey"], plan["plan"]
        assert plan["plan"][-2:] == ["SCAN found", "SEARCH human_task USING INTEGER PRIMARY KEY (rowid=?)"], plan["plan"]


def index_of(session) -> dict[int, set[tuple[str, str]]]:
    found: dict[int, set[tuple[str, str]]] = {}
    for kind, term, task_id in session.execute(select(TaskSearchTerm.kind, TaskSearchTerm.term, TaskSearchTerm.task_id)):
        found.setdefault(task_id, set()).add((kind, term))
    return found


def expected_index(session) -> dict[int, set[tuple[str, str]]]:
    rows = session.execute(select(HumanTask.id, HumanTask.search_text).where(HumanTask.state == "ready")).all()
    return {task_id: terms_of(text) for task_id, text in rows if terms_of(text)}


def test_the_index_holds_the_open_tasks_terms_only_as_steps_open_and_close_them(complaint_runtime):
    rt = complaint_runtime
    iid = rt.start("complaint_handling", actor="agent1")
    [intake] = rt.tasks(instance_id=iid)
    rt.complete(intake["id"], "agent1", dict(COMPLAINT))
    with rt.reading() as session:
        index = index_of(session)
        assert index == expected_index(session) and len(index) == 1, "the guide's task, with the complaint's data"
    [at_guide] = rt.tasks(instance_id=iid)
    assert set(index) == {at_guide["id"]}
    rt.cancel(iid, "system", "客户撤回投诉")
    with rt.reading() as session:
        assert index_of(session) == {} == expected_index(session), "a cancelled instance's tasks leave the index"


def test_backfill_fills_the_index_of_open_tasks_written_before_it(complaint_runtime, db_url, monkeypatch):
    rt = complaint_runtime
    iid = rt.start("complaint_handling", actor="agent1")
    [intake] = rt.tasks(instance_id=iid)
    rt.complete(intake["id"], "agent1", {**COMPLAINT, "contact_phone": "13811112222"})
    with rt.transaction() as tx:  # as a database from before migration 0016 had it
        tx.session.execute(delete(TaskSearchTerm))
    assert searched_instances(rt, phone="2222") == set()
    monkeypatch.setenv("TOURFLOW_DATABASE_URL", db_url)
    result = CliRunner().invoke(main, ["search-backfill"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "1 open tasks made searchable"
    assert searched_instances(rt, phone="2222") == {iid}
    with rt.reading() as session:
        assert index_of(session) == expected_index(session)
    again = CliRunner().invoke(main, ["search-backfill"])
    assert again.output.strip() == "0 open tasks made searchable"


def searched_instances(rt, **search) -> set[int]:
    with rt.reading() as session:
        result = queries.inbox(session, AUDITOR, queries.InboxFilter(search=TaskSearch(**search)))
    return {row["instance_id"] for row in result["items"]}


def test_a_search_for_a_term_at_the_end_of_the_character_range_is_bounded(crafted):
    top = chr(0x10FFFF)
    assert searched(crafted, TaskSearch(customer=f"john{top}")) == ([], 0)
    assert searched(crafted, TaskSearch(code=chr(0xD7FF))) == ([], 0)
