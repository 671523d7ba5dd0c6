"""Plain data without a JSON round trip (engine/sandbox/plain.py) and the handler dispatch built on it.

The shortcut must answer exactly what the JSON round trip or the deep copy answered, and leave
every other value to them; a service-task step must then write no JSON it does not need.
"""

from __future__ import annotations

import copy
import enum
import hashlib
import json
import math
from datetime import UTC, datetime

import pytest

from engine.bench.core import BENCH_USER, prepare
from engine.errors import ScriptError
from engine.run import step as step_module
from engine.run.workflow_data import json_safe
from engine.sandbox import calls
from engine.sandbox.plain import PLAIN_DEPTH, deep_copy, is_plain, plain_copy
from engine.sandbox.scripts import data_lookup
from engine.store import audit
from engine.store.models import AuditEvent

PLAIN = [
    {}, [], "", 0, -7, 2**70, 1.5, -0.0, 1e300, True, False, None, "确认 \"quoted\" \\ \n",
    {"counter": {"n": 7}, "items": [{"code": "A"}, {"code": "B", "tags": []}], "flag": True, "x": None},
    [[[[1]]], {"a": [1.25, "b", {"c": False}]}],
]


class Level(enum.IntEnum):
    HIGH = 1


def _shared() -> dict:
    inner = {"n": 1}
    return {"a": inner, "b": inner}


def _cycle() -> dict:
    value: dict = {}
    value["self"] = value
    return value


def _deep(levels: int) -> list:
    value: list = []
    for _ in range(levels):
        value = [value]
    return value


NOT_PLAIN = [(1, 2), {1: "a"}, {"t": (1,)}, {"d": datetime(2026, 1, 1, tzinfo=UTC)}, {"s": {1, 2}}, Level.HIGH,
             {"e": Level.HIGH}, _shared(), _cycle(), _deep(PLAIN_DEPTH + 1), b"bytes"]


@pytest.mark.parametrize("value", PLAIN, ids=range(len(PLAIN)))
def test_a_plain_copy_is_the_json_round_trip_and_the_deep_copy(value):
    copied = plain_copy(value)
    assert copied is not None and is_plain(value)
    assert json.dumps(copied[0]) == json.dumps(json.loads(json.dumps(value))) == json.dumps(copy.deepcopy(value))
    assert copied[0] == value
    if isinstance(value, dict | list) and value:
        assert copied[0] is not value  # a copy: the handler's changes stay its own


@pytest.mark.parametrize("value", NOT_PLAIN, ids=range(len(NOT_PLAIN)))
def test_anything_else_is_left_to_the_json_round_trip(value):
    assert plain_copy(value) is None and not is_plain(value)


@pytest.mark.parametrize("value", PLAIN + NOT_PLAIN[:-4] + [_shared()], ids=range(len(PLAIN) + len(NOT_PLAIN) - 3))
def test_json_safe_and_deep_copy_answer_what_the_round_trip_and_deepcopy_answered(value):
    """What a step stores and records (workflow_data.json_safe) and the copies it makes (plain.deep_copy):
    the shortcut for plain data, the JSON round trip and copy.deepcopy for the rest, the same values."""
    assert json.dumps(json_safe(value)) == json.dumps(json.loads(json.dumps(value, default=str)))
    copied, expected = deep_copy(value), copy.deepcopy(value)
    assert type(copied) is type(expected) and repr(copied) == repr(expected)
    if isinstance(value, dict) and value.get("a") is value.get("b") is not None:
        assert copied["a"] is copied["b"], "deepcopy keeps what the value shared"


def test_a_deep_but_allowed_nesting_and_non_finite_floats():
    assert is_plain(_deep(PLAIN_DEPTH - 1))
    for number in (math.nan, math.inf, -math.inf):
        assert is_plain({"x": number}) and plain_copy({"x": number}) is not None
        assert plain_copy({"x": number}, finite=True) is None  # JSON with allow_nan=False refuses it


def test_data_the_sandbox_would_refuse_is_still_refused():
    calls.check_plain({"counter": {"n": 1}}, {"objects": [1]})  # plain: accepted without its JSON
    calls.check_plain({"t": (1, 2), "shared": _shared()})  # not plain, but JSON writes it: accepted
    for refused in ({"d": datetime(2026, 1, 1, tzinfo=UTC)}, {1: "a", "b": 2}, _cycle()):
        with pytest.raises(ScriptError, match="holds a value scripts cannot read"):
            calls.check_plain(refused)
    with pytest.raises(ScriptError, match="the data objects"):
        calls.check_plain({}, {"d": {1, 2}})


def test_a_data_lookup_answers_the_json_copy_or_leaves_it_to_the_sandbox():
    data = {"items": [{"code": "A"}], "nan": math.nan, "shared": _shared(), "pair": (1, 2)}
    found = data_lookup("items", data)
    assert found == ([{"code": "A"}],) and found[0] is not data["items"]
    assert data_lookup("nan", data) is None  # the sandbox refuses it, as before
    assert data_lookup("shared", data) == ({"a": {"n": 1}, "b": {"n": 1}},)  # the JSON copy: no sharing
    assert data_lookup("pair", data) == ([1, 2],)  # JSON's reading of a tuple


@pytest.mark.both_databases
def test_the_event_hash_is_the_hash_of_the_canonical_json(runtime, db_backend):
    if db_backend != "sqlite":
        pytest.skip("no database difference: counted once")
    actors = ["张三 \"q\" \\ \n\t\x01\u2028", "system", "é\x7f"]
    with runtime.db.write() as session, session.begin():
        for actor in actors:
            at = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
            event = audit.append(session, kind="note", actor=actor, at=at, payload={"a": "é", "b": [1.5, None]})
            body = {"stream": event.stream, "instance_id": None, "seq": event.seq,
                    "at": "2026-01-02T03:04:05.000006", "actor": actor, "kind": "note", "payload": event.payload}
            expected = hashlib.sha256((event.prev_hash + audit.canonical_json(body)).encode()).hexdigest()
            assert event.hash == expected
    with runtime.db.read() as session:
        assert audit.verify(session) == []


@pytest.mark.both_databases
def test_a_service_chain_step_copies_and_encodes_only_what_it_needs(runtime, db_backend, monkeypatch):
    """Counted, not timed: ten handler calls make no deep copy of the task data, no JSON round trip of an
    event payload and no JSON of the data for the sandbox's check; what is recorded is unchanged.
    Before: 11 deep copies, 13 round trips (every event and the current data), 20 JSON texts (2 per
    parameter)."""
    if db_backend != "sqlite":
        pytest.skip("the same code on PostgreSQL: counted once")
    rt = prepare(runtime.db)
    counts = {"deepcopy": 0, "json_safe": 0, "sandbox json": 0}

    def counted(name, real):
        def wrapper(*args, **kwargs):
            counts[name] += 1
            return real(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(copy, "deepcopy", counted("deepcopy", copy.deepcopy))  # every module's deep copies
    monkeypatch.setattr(step_module, "json_safe", counted("json_safe", step_module.json_safe))
    class CountingJson:  # the sandbox's JSON module, as calls.py sees it, counting its texts
        loads = staticmethod(json.loads)
        dumps = staticmethod(counted("sandbox json", json.dumps))

    monkeypatch.setattr(calls, "json", CountingJson)
    instance_id = rt.start("bench_service_chain", actor=BENCH_USER)
    # left: the start data's copy (engine/run/unit.py) and the instance's current data in the write-back
    assert counts == {"deepcopy": 1, "json_safe": 1, "sandbox json": 0}
    with rt.db.read() as session:
        rows = session.query(AuditEvent).filter(AuditEvent.instance_id == instance_id,
                                                AuditEvent.kind == "handler_called").order_by(AuditEvent.seq).all()
    assert [json.loads(row.payload) for row in rows] == [
        {"attempt": 1, "handler": "bench_step", "input": {"n": n}, "output": {"n": n + 1}, "task": f"step_{n + 1:02d}"}
        for n in range(10)]
