"""The audit's canonical JSON written by the encoder's C part built once (engine/store/audit.py
`canonical_plain_json`, for plain payloads and state parts) is exactly `canonical_json`'s text."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pytest

from engine.store import audit
from engine.store.states import HumanTaskState, InstanceStatus

VALUES = [
    {}, [], "", "确认 \u2028 \"quoted\" \\ \n", 0, -1, 2**70, 1.5, 1e-7, 1e300, math.inf, -math.inf, True, None,
    {"b": 1, "a": [1, 2.0, {"z": None, "é": "ü", "": []}], "c": {"nested": {"deep": [[], {}]}}},
    {"status": InstanceStatus.RUNNING, "state": HumanTaskState.READY, "when": datetime(2026, 12, 1, tzinfo=UTC)},
    {"data": {"approved": True, "note": "ok"}, "diff": {"approved": [None, True]}, "submitted": {"x": [1, "2"]}},
    ("a", "tuple"), {"nan": math.nan},
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_plain_json_is_the_canonical_text(value):
    assert audit.canonical_plain_json(value) == audit.canonical_json(value)
    assert audit.canonical_json(value) == json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                                                     default=str)


def test_what_the_encoder_refuses_it_refuses_too_and_odd_values_are_written_by_str():
    with pytest.raises(TypeError):
        audit.canonical_json({1: "a", "b": 2})  # keys that cannot be sorted together
    with pytest.raises(TypeError):
        audit.canonical_plain_json({1: "a", "b": 2})
    odd = {"set": {1}, "bytes": b"x", "object": object()}
    assert audit.canonical_plain_json(odd) == audit.canonical_json(odd)
