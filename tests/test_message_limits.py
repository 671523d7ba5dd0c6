"""engine/run/messaging.py's limits: a chain of messages that never ends (a loop in the diagrams) is
cut at MAX_HOPS deep and the cut is recorded; a step that throws many messages side by side (QC
forwarding every problem it found) sends them all."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from engine.run.messaging import MAX_HOPS
from engine.store.models import Message, ProcessInstance
from tests.support.world import deploy

FIXTURES = Path(__file__).parent / "fixtures" / "messages"


def test_a_message_loop_is_cut_and_the_cut_is_recorded(runtime):
    deploy(runtime, FIXTURES / "ping_chain.bpmn")
    first = runtime.start("ping_chain", {"hop": 0})
    with runtime.db.read() as session:
        instances = session.execute(select(ProcessInstance).order_by(ProcessInstance.id)).scalars().all()
    assert len(instances) == MAX_HOPS + 1 and instances[0].id == first
    assert all(i.status == "completed" for i in instances)
    assert [i.data["hop"] for i in instances] == list(range(MAX_HOPS + 1))
    [cut] = [e for e in runtime.events(instances[-1].id) if e["kind"] == "message_sent"]
    assert cut["payload"] == {"name": "ping", "delivered_to": None,
                              "error": f"a chain of more than {MAX_HOPS} messages (a loop?); stopped"}


def test_one_step_sends_many_messages_side_by_side(runtime):
    deploy(runtime, FIXTURES / "fan_out.bpmn")
    instance = runtime.start("fan_out", {"targets": list(range(60))})
    sent = [e["payload"] for e in runtime.events(instance) if e["kind"] == "message_sent"]
    assert len(sent) == 60 and not [s for s in sent if "error" in s]
    with runtime.db.read() as session:
        keys = sorted(session.execute(select(Message.correlation_key).where(Message.name == "fanned")).scalars())
    assert keys == sorted(f"fan-{n}" for n in range(60)), "each one kept for whoever will wait for it"
    assert runtime.show(instance)["status"] == "completed"
