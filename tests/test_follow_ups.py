"""Gap 10: "需要后期跟进" on closing a P1 call, a P3 chat or a P4 visit starts one outbound_call (P2)
follow-up that waits until `next_contact_at`, then offers the call to the agents; without it nothing
starts; the follow-up carries the link to the contact it follows up."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.clock import frozen_at
from tests.support import inbound_call, walk_in_reception
from tests.support.follow_ups import (
    FOLLOW_UP,
    NEXT_CONTACT_UTC,
    T0,
    close_call,
    close_chat,
    close_visit,
    deploy_all,
    follow_up_instances,
)
from tests.support.outbound_call import set_setting


@pytest.fixture
def rt(runtime):
    deploy_all(runtime)
    return runtime


def assert_follow_up_waits_then_offers_the_call(rt, source_id: int, source_process: str, customer: str,
                                                contact: str, desk: str, matter: str) -> int:
    [p2] = follow_up_instances(rt)
    assert p2.business_key == f"follow-up-{source_process}-{source_id}"
    data = rt.show(p2.id)["data"]
    assert (data["source_process"], data["source_instance_id"]) == (source_process, source_id)
    assert (data["customer_name"], data["contact_phone"], data["desk"]) == (customer, contact, desk)
    assert data["campaign_goal"] == f"回访: {matter}"
    assert rt.tasks(instance_id=p2.id) == [], "the follow-up waits until the next contact time"
    assert rt.tick(NEXT_CONTACT_UTC - timedelta(minutes=1)) == []
    fired = rt.tick(NEXT_CONTACT_UTC + timedelta(seconds=1))
    assert [(f["instance_id"], f["timer"]) for f in fired] == [(p2.id, "follow_up_due")]
    [dial] = rt.tasks(instance_id=p2.id)
    assert (dial["task"], dial["lane"], dial["summary"]["customer_name"]) == ("dial_customer", "agent", customer)
    return p2.id


def test_a_call_closed_with_a_follow_up_starts_one_follow_up_call(rt):
    walk = close_call(rt, "CALL-F1", **FOLLOW_UP)
    assert walk.status() == "completed"
    walk.assert_path(inbound_call.PATHS["follow_up"])
    p2 = assert_follow_up_waits_then_offers_the_call(
        rt, walk.id, "inbound_call", "张建国", inbound_call.CRUISE_CALLER, "邮轮", inbound_call.OPENING["request_summary"])
    assert [t["id"] for t in rt.tasks(user="agent1")] == [t["id"] for t in rt.tasks(instance_id=p2)]
    assert rt.tasks(user="agent2") == [], "the cruise desk's follow-up"
    assert walk.data()["follow_up"]["business_key"] == rt.show(p2)["business_key"], "the link both ways"


def test_a_chat_closed_with_a_follow_up_starts_one_follow_up_call(rt):
    walk = close_chat(rt, "CHAT-F1", **FOLLOW_UP)
    assert walk.status() == "completed"
    assert_follow_up_waits_then_offers_the_call(rt, walk.id, "ecommerce_chat", "赵雪", "13655556666", "旅游",
                                                "咨询黄山宏村三日游十二月团期")


def test_a_visit_closed_with_a_follow_up_starts_one_follow_up_call(rt):
    visit = close_visit(rt, **FOLLOW_UP)
    assert visit.show()["status"] == "completed"
    assert_follow_up_waits_then_offers_the_call(rt, visit.id, "walk_in_reception", "张建国", "13801234567", "邮轮",
                                                walk_in_reception.TALK["matter"])


def test_without_a_follow_up_nothing_starts(rt):
    close_call(rt, "CALL-F2")
    close_chat(rt, "CHAT-F2")
    close_visit(rt)
    assert follow_up_instances(rt) == []
    assert rt.tick(NEXT_CONTACT_UTC + timedelta(days=2)) == []


def test_a_follow_up_without_a_time_takes_the_default_delay(rt):
    close_call(rt, "CALL-F3", follow_up_needed=True)
    [p2] = follow_up_instances(rt)
    assert rt.show(p2.id)["data"]["next_contact_at"] == "2026-11-25T10:00:00+08:00", "24 hours by default"
    set_setting(rt, "follow_ups", {"default_delay_hours": 2})
    close_chat(rt, "CHAT-F3", follow_up_needed=True)
    [_, chat_p2] = follow_up_instances(rt)
    assert rt.show(chat_p2.id)["data"]["next_contact_at"] == "2026-11-24T12:01:00+08:00"


def test_a_next_contact_time_in_the_past_is_an_incident_for_the_agent_to_correct(rt):
    walk = close_call(rt, "CALL-F4", follow_up_needed=True, next_contact_at="2026-11-24T09:00:00+08:00")
    assert walk.status() == "error" and follow_up_instances(rt) == []
    [incident] = walk.events("incident_raised")
    assert (incident["payload"]["task"], incident["payload"]["lane"], incident["payload"]["business"]) == (
        "request_follow_up", "agent", True)
    assert "必须晚于登记时间" in incident["payload"]["error"]
    with frozen_at(T0 + timedelta(minutes=5)):
        rt.resolve_incident(walk.id, "agent1", "客户改约周四下午", {"next_contact_at": FOLLOW_UP["next_contact_at"]})
    assert walk.status() == "completed"
    [p2] = follow_up_instances(rt)
    assert rt.show(p2.id)["data"]["next_contact_at"] == FOLLOW_UP["next_contact_at"]
