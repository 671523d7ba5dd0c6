"""The engine's caps on what users send (engine/limits.py), for every caller: API, pages and CLI."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.errors import FormInvalid, TourflowError
from engine.limits import JSON_DEPTH_MAX, NAME_MAX, REASON_MAX, TEXT_MAX
from engine.store.models import ProcessInstance
from tests.fixtures.worker_handlers import flaky_booking as _registers_test_flaky  # noqa: F401
from tests.support.messages import ORDER_FLOW
from tests.support.world import deploy

pytestmark = pytest.mark.both_databases


def _first_task(rt, instance_id: int) -> dict:
    return rt.tasks(instance_id=instance_id)[0]


def _kinds(rt, instance_id: int) -> list[str]:
    return [e["kind"] for e in rt.events(instance_id)]


def test_reasons_longer_than_the_cap_are_refused_and_nothing_is_recorded(complaint_runtime):
    rt = complaint_runtime
    instance_id = rt.start("complaint_handling", actor="agent1")
    task = _first_task(rt, instance_id)
    with pytest.raises(FormInvalid, match=f"at most {REASON_MAX}") as caught:
        rt.reassign(task["id"], "agent1", "agent1", "x" * 1_000_000)
    assert caught.value.field == "reason"
    with pytest.raises(FormInvalid) as caught:
        rt.cancel(instance_id, "supervisor1", "y" * (REASON_MAX + 1))
    assert caught.value.field == "reason"
    with pytest.raises(FormInvalid) as caught:
        rt.resolve_incident(instance_id, "supervisor1", "z" * (REASON_MAX + 1))
    assert caught.value.field == "reason"
    with pytest.raises(FormInvalid) as caught:
        rt.reassign(task["id"], "agent1", "u" * (NAME_MAX + 1), "why")
    assert caught.value.field == "to"
    kinds = _kinds(rt, instance_id)
    assert "task_reassigned" not in kinds and "instance_cancelled" not in kinds
    rt.reassign(task["id"], "agent1", "agent1", "r" * REASON_MAX)  # the cap itself is fine
    assert _kinds(rt, instance_id).count("task_reassigned") == 1


@pytest.mark.parametrize(("data", "field", "words"), [
    ({"note": "\ud800"}, "data.note", "surrogate"),
    ({"\udfff": 1}, "data.?", "surrogate"),
    ({"items": [1, {"deep": 2**63}]}, "data.items[1].deep", "64 bits"),
    ({"amount": float("inf")}, "data.amount", "finite"),
    ({"amount": float("nan")}, "data.amount", "finite"),
    ({"note": "字" * (TEXT_MAX + 1)}, "data.note", f"at most {TEXT_MAX}"),
    ({"k" * (NAME_MAX + 1): 1}, "data", f"at most {NAME_MAX}"),
])
def test_data_the_store_cannot_keep_is_refused_naming_the_field(complaint_runtime, data, field, words):
    rt = complaint_runtime
    with pytest.raises(FormInvalid, match=words) as caught:
        rt.start("complaint_handling", data, actor="agent1")
    assert caught.value.field == field
    assert _instances(rt) == []


def _instances(rt) -> list[int]:
    with rt.db.read() as session:
        return list(session.execute(select(ProcessInstance.id)).scalars())


def test_nesting_past_the_limit_is_refused(complaint_runtime):
    nested: object = 1
    for _ in range(JSON_DEPTH_MAX + 1):
        nested = [nested]
    with pytest.raises(FormInvalid, match=f"deeper than {JSON_DEPTH_MAX}") as caught:
        complaint_runtime.start("complaint_handling", {"x": nested}, actor="agent1")
    assert caught.value.field == "data"
    assert _instances(complaint_runtime) == []


def test_form_data_with_a_lone_surrogate_is_refused(complaint_runtime):
    rt = complaint_runtime
    instance_id = rt.start("complaint_handling", actor="agent1")
    task = _first_task(rt, instance_id)
    with pytest.raises(FormInvalid, match="surrogate") as caught:
        rt.complete(task["id"], "agent1", {"customer_name": "张\ud800"})
    assert caught.value.field == "customer_name"


@pytest.mark.parametrize("ttl", [1e308, float("inf"), float("nan")])
def test_a_huge_or_infinite_ttl_is_refused(runtime, ttl):
    deploy(runtime, ORDER_FLOW)
    with pytest.raises(FormInvalid, match="ttl_seconds may be at most") as caught:
        runtime.message("payment_received", "K", {}, ttl_seconds=ttl)
    assert caught.value.field == "ttl_seconds"
    assert runtime.messages() == []


def test_message_data_is_checked_too(runtime):
    deploy(runtime, ORDER_FLOW)
    with pytest.raises(FormInvalid, match="surrogate") as caught:
        runtime.message("payment_received", "K\ud800", {})
    assert caught.value.field == "correlation_key"
    with pytest.raises(TourflowError):
        runtime.message("payment_received", "K", {"paid": "\ud800"})
    assert runtime.messages() == []


@pytest.mark.parametrize(("data", "words"), [
    ('{"a": ' + "9" * 5000 + "}", "more than 4300 digits"),
    ("[" * 5000 + "]" * 5000, "nested too deeply"),
    ('{"a": NaN}', "NaN is not a JSON number"),
])
def test_the_cli_reads_hostile_json_without_a_traceback(cli, data, words):
    proc = cli.run("message", "payment_received", "--key", "K", "--data", data)
    assert proc.returncode == 1
    assert words in proc.stderr and "Traceback" not in proc.stderr


def test_the_cli_refuses_a_long_reason_with_exit_code_2(cli, complaint_runtime):
    instance_id = complaint_runtime.start("complaint_handling", actor="agent1")
    proc = cli.run("cancel", str(instance_id), "--as", "supervisor1", "--reason", "x" * (REASON_MAX + 1))
    assert proc.returncode == 2
    assert f"at most {REASON_MAX}" in proc.stderr


@pytest.mark.parametrize("args", [("show", str(2**31)), ("events", str(2**63)), ("cancel", str(10**30))])
def test_the_cli_refuses_ids_past_the_id_columns(cli, args):
    proc = cli.run(*args, "--as", "supervisor1", "--reason", "r") if args[0] == "cancel" else cli.run(*args)
    assert proc.returncode == 2
    assert "not in the range" in proc.stderr and "internal error" not in proc.stderr
