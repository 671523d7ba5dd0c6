"""The clock's helpers, the UTC and state column types, the bounded cache."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import DateTime, select, update
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.exc import StatementError
from sqlalchemy.types import TypeDecorator

from engine import clock
from engine.clock import CHINA, iso_z, naive_utc, parse_iso, parse_iso_china, parse_iso_utc
from engine.limits import BoundedCache
from engine.store import audit
from engine.store.models import AuditEvent, Job
from engine.store.states import JobKind, JobState
from engine.store.types import StrEnumType, UtcDateTime

NOON_CHINA = datetime(2026, 12, 1, 12, 0, tzinfo=CHINA)


def test_china_is_utc_plus_8():
    assert NOON_CHINA.isoformat() == "2026-12-01T12:00:00+08:00"
    assert NOON_CHINA.astimezone(UTC) == datetime(2026, 12, 1, 4, 0, tzinfo=UTC)


def test_parse_iso_keeps_the_offset_written_and_reads_naive_text_as_told():
    assert parse_iso("2026-12-01T04:00:00Z").isoformat() == "2026-12-01T04:00:00+00:00"
    assert parse_iso("2026-12-01T12:00:00+08:00").isoformat() == "2026-12-01T12:00:00+08:00"
    assert parse_iso("2026-12-01T04:00:00") == datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
    assert parse_iso("2026-12-01T04:00:00", naive_zone=None).tzinfo is None
    assert parse_iso_china("2026-12-01T12:00") == NOON_CHINA
    assert parse_iso_utc("2026-12-01T12:00:00+08:00").tzinfo is UTC
    with pytest.raises(ValueError):
        parse_iso("not a time")


def test_iso_z_and_naive_utc():
    assert iso_z(NOON_CHINA) == "2026-12-01T04:00:00Z"
    assert iso_z(NOON_CHINA, "microseconds") == "2026-12-01T04:00:00.000000Z"
    assert iso_z(None) is None
    assert naive_utc(NOON_CHINA) == datetime(2026, 12, 1, 4, 0)
    # a UTC moment's own text with Z for its offset: the text of its naive UTC reading, every timespec
    for moment in (datetime(2026, 12, 1, 4, 0, tzinfo=UTC), datetime(2026, 12, 1, 4, 0, 5, 120, tzinfo=UTC),
                   datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)):
        for timespec in ("auto", "seconds", "milliseconds", "microseconds"):
            assert iso_z(moment, timespec) == naive_utc(moment).isoformat(timespec=timespec) + "Z"
    assert iso_z(datetime(2026, 12, 1, 4, 0, 5, 120, tzinfo=UTC)) == "2026-12-01T04:00:05.000120Z"


def test_timer_patch_is_explicit_and_idempotent():
    from SpiffWorkflow.bpmn.specs.event_definitions import timer

    clock.install_timer_patch()
    clock.install_timer_patch()
    with clock.frozen_at(NOON_CHINA):
        assert timer.datetime.now(UTC) == NOON_CHINA


def _job(session, **values) -> Job:
    row = Job(kind=JobKind.TIMER, due_at=NOON_CHINA, created_at=NOON_CHINA, **values)
    session.add(row)
    session.flush()
    return row


@pytest.mark.both_databases
def test_datetimes_are_stored_naive_utc_and_read_back_aware_utc(runtime):
    with runtime.transaction() as tx:
        job_id = _job(tx.session).id
    with runtime.reading() as session:
        job = session.get(Job, job_id)
        assert job.due_at == NOON_CHINA and job.due_at.tzinfo is UTC
        assert job.state is JobState.PENDING and job.state == "pending" and job.kind is JobKind.TIMER
        # bound parameters go through the type too: comparing with an aware moment in SQL
        hit = session.execute(select(Job.id).where(Job.due_at <= NOON_CHINA + timedelta(seconds=1))).scalar()
        assert hit == job_id


@pytest.mark.both_databases
def test_a_naive_datetime_or_an_unknown_state_is_refused(runtime):
    with pytest.raises(StatementError, match="aware"), runtime.transaction() as tx:
        tx.session.add(Job(kind=JobKind.TIMER, due_at=datetime(2026, 12, 1, 4), created_at=NOON_CHINA))
    with runtime.transaction() as tx:
        job_id = _job(tx.session).id
    with pytest.raises(StatementError, match="not a valid JobState"), runtime.transaction() as tx:
        tx.session.execute(update(Job).where(Job.id == job_id).values(state="finished"))


def test_sqlites_datetime_text_is_sqlalchemys_own():
    """UtcDateTime writes SQLite's DATETIME text itself (isoformat): the same text SQLAlchemy's DATETIME would
    write for the naive UTC moment, with and without microseconds, in every year, from any offset."""
    sqlite = sqlite_dialect.dialect()
    ours = UtcDateTime().dialect_impl(sqlite).bind_processor(sqlite)
    theirs = DateTime().dialect_impl(sqlite).bind_processor(sqlite)
    moments = [datetime(2026, 12, 5, 2, 36, 8, 0, tzinfo=UTC), datetime(2026, 12, 5, 10, 36, 8, 5, tzinfo=CHINA),
               datetime(1, 1, 2, tzinfo=UTC), datetime(999, 3, 4, 5, 6, 7, 890123, tzinfo=UTC),
               datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)]
    for moment in moments:
        assert ours(moment) == theirs(naive_utc(moment))
    assert ours(moments[1]) == "2026-12-05 02:36:08.000005"
    assert ours(None) is None
    with pytest.raises(ValueError, match="aware"):
        ours(datetime(2026, 12, 5))


def _theirs(column_type: TypeDecorator, dialect):
    """SQLAlchemy's own reading of a column of ours: its impl's result processing, then process_result_value."""
    return TypeDecorator.result_processor(column_type.dialect_impl(dialect), dialect, None)


def test_sqlites_datetime_text_is_read_as_sqlalchemy_reads_it():
    """UtcDateTime reads SQLite's DATETIME text in one call: the same aware UTC moment SQLAlchemy's parse and
    process_result_value give, for the text it writes and for any other text a row may hold."""
    sqlite = sqlite_dialect.dialect()
    ours = UtcDateTime().dialect_impl(sqlite).result_processor(sqlite, None)
    theirs = _theirs(UtcDateTime(), sqlite)
    texts = ["2026-12-05 02:36:08.000005", "2026-12-05 02:36:08.000000", "2026-12-05 02:36:08", "2026-12-05 02:36",
             "2026-12-05T02:36:08.5", "2026-12-05", "2026-12-05 10:36:08+08:00", "2026-12-05 02:36:08Z",
             "0001-01-01 00:00:00.000000", "9999-12-31 23:59:59.999999"]
    for text in texts:
        assert ours(text) == theirs(text) and ours(text).tzinfo is UTC, text
    assert ours("2026-12-05 10:36:08+08:00") == datetime(2026, 12, 5, 2, 36, 8, tzinfo=UTC)
    assert ours(None) is None
    for bad in ("", "x", "2026-13-01 00:00:00", "2026-12-05 02:36:08+"):
        with pytest.raises(ValueError):
            theirs(bad)
        with pytest.raises(ValueError):
            ours(bad)


@pytest.mark.parametrize("dialect", [sqlite_dialect.dialect(), postgresql_dialect.dialect()], ids=["sqlite", "pg"])
def test_a_state_column_reads_and_writes_the_member_the_enum_gives(dialect):
    column_type = StrEnumType(JobState, 20)
    ours = column_type.dialect_impl(dialect).result_processor(dialect, None)
    theirs = _theirs(column_type, dialect)
    for member in JobState:
        assert ours(member.value) is theirs(member.value) is member
    assert ours(None) is None
    with pytest.raises(ValueError, match="not a valid JobState"):
        ours("finished")
    bind = column_type.dialect_impl(dialect).bind_processor(dialect)
    theirs_bind = TypeDecorator.bind_processor(column_type.dialect_impl(dialect), dialect)
    for value in (*JobState, *(member.value for member in JobState)):
        assert bind(value) == theirs_bind(value) and type(bind(value)) is str, value
    assert bind(None) is theirs_bind(None) is None
    for bad in ("finished", JobKind.TIMER, 3):  # not a value of the enum's, another enum's member
        with pytest.raises(ValueError, match="not a valid JobState"):
            bind(bad)


def test_an_events_hash_reads_its_moment_as_naive_utc_whatever_zone_it_is_given_in():
    """The hash chain hashes a moment as its naive UTC text (microseconds): a UTC moment (the clock's, the
    store's), the same moment in China time, and its naive UTC reading hash alike; another moment does not."""
    moment = datetime(2026, 12, 5, 2, 36, 8, 120, tzinfo=UTC)

    def hash_at(at: datetime) -> str:
        return audit.recompute_hash(AuditEvent(stream="instance:1", instance_id=1, seq=1, at=at, actor="agent1",
                                               kind="task_completed", payload="{}", prev_hash=audit.GENESIS))

    assert hash_at(moment) == hash_at(moment.astimezone(CHINA)) == hash_at(naive_utc(moment))
    assert hash_at(moment) != hash_at(moment + timedelta(microseconds=1))
    whole = datetime(2026, 12, 5, tzinfo=UTC)  # its microseconds written even when 0, whichever way it is given
    assert hash_at(whole) == hash_at(whole.astimezone(CHINA)) == hash_at(whole.replace(tzinfo=None))


def test_bounded_cache_drops_the_least_recently_used():
    cache: BoundedCache[str, int] = BoundedCache(2)
    assert cache.get_or_make("a", lambda: 1) == 1
    cache.get_or_make("b", lambda: 2)
    assert cache.get_or_make("a", lambda: 99) == 1  # a hit: "a" is now the newest
    cache.get_or_make("c", lambda: 3)
    assert len(cache) == 2
    assert cache.get_or_make("b", lambda: 20) == 20, "b was dropped"


def test_a_command_runs_every_attempt_at_its_first_moment_and_lets_the_clock_go_after():
    from engine.sandbox.errors import ScriptTooSlowUnderLock
    from engine.sandbox.outcomes import lets_go_of_the_lock, remembered

    class SlowCall:  # a script that outlived the grace once: the command runs again with its outcome
        key = ("condition", "x > 1", "{}", "{}", "")

        def finish(self):
            return {"value": True}

    seen: list[datetime] = []

    @lets_go_of_the_lock
    def command(fail: bool = False):
        seen.append(clock.utcnow())
        if remembered(SlowCall.key) is None:
            raise ScriptTooSlowUnderLock(SlowCall())
        if fail:
            raise ValueError("refused")
        return len(seen)

    assert not clock.is_frozen() and command() == 2
    assert seen[0] == seen[1] and seen[0].tzinfo is UTC and not clock.is_frozen()
    seen.clear()
    with pytest.raises(ValueError):
        command(fail=True)
    assert len(seen) == 2 and seen[0] == seen[1] and not clock.is_frozen()
    with clock.frozen_at(datetime(2026, 12, 1, 4, 0)):  # frozen already: that moment, kept after
        seen.clear()
        assert command() == 2 and seen == [datetime(2026, 12, 1, 4, 0, tzinfo=UTC)] * 2
        assert clock.utcnow() == datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
    assert not clock.is_frozen()


def test_the_timer_patch_is_installed_again_after_anyone_undid_it(monkeypatch):
    from SpiffWorkflow.bpmn.specs.event_definitions import timer

    clock.install_timer_patch()
    patched = timer.datetime
    monkeypatch.setattr(timer, "datetime", datetime)
    clock.install_timer_patch()
    assert timer.datetime is patched and timer.datetime is not datetime
    with clock.frozen_at(datetime(2026, 12, 1, 4, 0)):
        assert timer.datetime.now(UTC) == datetime(2026, 12, 1, 4, 0, tzinfo=UTC)


def test_readings_of_moments_answer_each_moment_for_itself_even_when_its_id_comes_again():
    china = [datetime(2026, 12, 1, h, m, s, 123456, tzinfo=CHINA) for h in range(24) for m in (0, 59) for s in (0, 1)]
    for moment in china + china[::-1]:  # more moments than kept: forgotten and read again, alike
        expected = moment.astimezone(UTC).replace(tzinfo=None)
        assert naive_utc(moment) == expected and naive_utc(moment).tzinfo is None
        assert iso_z(moment) == expected.isoformat() + "Z"
        assert iso_z(moment, "seconds") == expected.isoformat(timespec="seconds") + "Z"
    for hour in range(200):  # short-lived moments: a new one may get a freed one's id, and its own reading
        moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=hour)
        assert naive_utc(moment) == datetime(2026, 1, 1) + timedelta(hours=hour)
        assert iso_z(moment) == (datetime(2026, 1, 1) + timedelta(hours=hour)).isoformat() + "Z"
    naive = datetime(2026, 12, 1, 4, 0)
    assert naive_utc(naive) is naive and iso_z(naive) == "2026-12-01T04:00:00Z" and iso_z(None) is None
