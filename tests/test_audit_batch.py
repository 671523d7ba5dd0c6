"""The audit batch's shortcuts answer what the slow paths answered (engine/store/audit.py, audit_buffer.py).

The canonical JSON from an encoder built once, the text of an event's moment reused across a step's
events, and SQLite's batch sent to the driver with SQLAlchemy's own statement and bind processing:
each is compared with the path it replaces, value by value and row by row.
"""

from __future__ import annotations

import decimal
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, text

from engine.clock import naive_utc
from engine.plugins.handlers import HandlerContext, handler
from engine.store import audit, audit_buffer, driver_sql
from engine.store.models import AuditEvent
from tests.support.world import deploy

pytestmark = pytest.mark.both_databases

VALUES = [
    {}, [], "", None, True, 0, -3, 2**70, 1.5, -0.0, 1e300, float("nan"), float("inf"),
    {"b": 1, "a": [1, {"d": None, "c": "确认 \"q\" \\ \n\t\x01\u2028"}], "é": "é\x7f"},
    {"at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "amount": decimal.Decimal("1.10"), "pair": (1, 2)},
    {2: "int keys", 1: {"z": {"y": {"x": [[], {}]}}}},
    {1: "int and str keys", "a": 2},  # refused (keys of two kinds cannot be sorted): refused alike
]


def _outcome(encode, value):
    try:
        return encode(value)
    except Exception as exc:  # noqa: BLE001 - the refusal is part of the answer
        return type(exc), str(exc)


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_canonical_json_is_json_dumps_with_the_canonical_options(value, db_backend):
    if db_backend != "sqlite":
        pytest.skip("no database involved: checked once")
    def expected(v):
        return json.dumps(v, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)

    assert _outcome(audit.canonical_json, value) == _outcome(expected, value)


def _expected_hash(event: audit.AppendedEvent) -> str:
    at = naive_utc(event.at).isoformat(timespec="microseconds")
    body = json.dumps({"stream": event.stream, "instance_id": event.instance_id, "seq": event.seq, "at": at,
                       "actor": event.actor, "kind": event.kind, "payload": event.payload},
                      sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((event.prev_hash + body).encode()).hexdigest()


def test_each_event_hashes_its_own_moment_when_moments_alternate(runtime, db_backend):
    """A step's events share one moment, whose text is reused; any other moment (another object, even an
    equal one, another time zone) is hashed from its own value."""
    if db_backend != "sqlite":
        pytest.skip("no database difference: counted once")
    first = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    moments = [first, first, first + timedelta(microseconds=1), first, datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
               first.astimezone(timezone(timedelta(hours=8))), first + timedelta(days=400), first]
    with runtime.db.write() as session, session.begin():
        events = [audit.append(session, kind="note", actor="t", at=at, payload={"i": i})
                  for i, at in enumerate(moments)]
    assert [event.hash for event in events] == [_expected_hash(event) for event in events]
    assert events[1].prev_hash == events[0].hash  # one chain
    with runtime.db.read() as session:
        assert audit.verify(session) == []


def _stored(session, stream: str) -> list[tuple]:
    """Every column but the row id and stream, as the database holds it (SQLite: the text of `at`)."""
    return [tuple(row) for row in session.execute(
        text("SELECT instance_id, seq, at, actor, kind, payload, prev_hash, hash FROM audit_event "
             "WHERE stream = :stream ORDER BY seq"), {"stream": stream})]


def test_the_batch_is_stored_as_sqlalchemys_own_insert_stores_it(runtime, db_backend):
    """The driver-level batch (SQLite) writes exactly the rows the Core INSERT writes: the same events
    written both ways, under two streams, read back column by column."""
    moments = [datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC), datetime(2026, 3, 4, 13, 6, 7, tzinfo=UTC),
               datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=timezone(timedelta(hours=8)))]
    with runtime.db.write() as session, session.begin():
        dialect = session.connection().dialect
        assert (driver_sql.driver_statement(dialect, audit_buffer.INSERT_EVENTS) is not None) == (db_backend == "sqlite")
        for i, at in enumerate(moments * 2):
            audit.append(session, kind="note", actor="张三", at=at, payload={"i": i, "é": [1.5, None]})
        rows = [dict(row) for row in audit_buffer.buffer_of(session).rows]
        audit_buffer.write_pending(session)  # the driver's batch on SQLite
        session.connection().execute(insert(AuditEvent.__table__),  # the same rows by Core, another stream
                                     [{**row, "stream": "copy"} for row in rows])
        assert _stored(session, "system")[-len(rows):] == _stored(session, "copy")
        head = session.execute(text("SELECT seq, hash FROM audit_head WHERE stream = 'system'")).one()
        assert tuple(head) == (rows[-1]["seq"], rows[-1]["hash"])
        session.rollback()
    with runtime.db.read() as session:
        assert audit.verify(session) == []


@handler("batch_probe_note", writes=False)
def _probe_note(ctx: HandlerContext, n: int = 0) -> dict[str, int]:
    return {"n": n + 1, "instance": ctx.instance_id, "started_by": ctx.started_by == ctx.actor}


def test_every_handler_call_of_a_step_is_recorded_with_its_input_and_output(runtime, tmp_path):
    """The step looks each handler up once and shares one reads object between its calls: each call is
    still its own event with its own input, output and hash, and reads its own instance."""
    steps = "".join(
        f'<bpmn:serviceTask id="s{i}"><bpmn:extensionElements><spiffworkflow:serviceTaskOperator '
        f'id="batch_probe_note" resultVariable="r{i}"><spiffworkflow:parameters><spiffworkflow:parameter id="n" '
        f'type="int" value="{i}"/></spiffworkflow:parameters></spiffworkflow:serviceTaskOperator>'
        f'</bpmn:extensionElements></bpmn:serviceTask>' for i in range(3))
    flows = "".join(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>'
                    for i, (a, b) in enumerate(zip(["start", "s0", "s1", "s2"], ["s0", "s1", "s2", "end"],
                                                   strict=True)))
    bpmn = tmp_path / "batch_probe.bpmn"
    bpmn.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">'
        '<bpmn:process id="batch_probe" name="批处理探针" isExecutable="true"><bpmn:startEvent id="start"/>'
        f'{steps}<bpmn:endEvent id="end"/>{flows}</bpmn:process></bpmn:definitions>', encoding="utf-8")
    deploy(runtime, bpmn)
    first, second = runtime.start("batch_probe"), runtime.start("batch_probe")
    for instance_id in (first, second):
        calls = [e for e in runtime.events(instance_id) if e["kind"] == "handler_called"]
        assert [(e["payload"]["task"], e["payload"]["input"], e["payload"]["output"]) for e in calls] == [
            (f"s{i}", {"n": i}, {"n": i + 1, "instance": instance_id, "started_by": True}) for i in range(3)]
    with runtime.db.read() as session:
        assert audit.verify(session) == []
