"""Follow-ups (handlers/follow_ups.py): closing a P1 call, a P3 chat or a P4 visit with
"需要后期跟进", and the outbound_call instances such closes start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from engine.clock import frozen_at
from engine.config import DEFAULT_PROCESSES_DIR
from engine.store.models import ProcessInstance
from tests.support import inbound_call, walk_in_reception
from tests.support.flows import Walk
from tests.support.world import deploy

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # Tuesday 10:00 in Shanghai
NEXT_CONTACT = "2026-11-26T15:00:00+08:00"     # Thursday afternoon
NEXT_CONTACT_UTC = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
PROCESSES = ("inbound_call", "ecommerce_chat", "walk_in_reception", "outbound_call")
FOLLOW_UP = {"follow_up_needed": True, "next_contact_at": NEXT_CONTACT}
CHAT = {"platform": "天猫旺旺", "customer_handle": "tb_zhaoxue", "desk": "旅游"}
CHAT_CLOSING = {"redirect_channel": "无", "register_note": "客户要与家人商量后再定", "follow_up_needed": False}


def deploy_all(runtime) -> None:
    for name in PROCESSES:
        deploy(runtime, DEFAULT_PROCESSES_DIR / f"{name}.bpmn")


def follow_up_instances(runtime) -> list[ProcessInstance]:
    with runtime.db.read() as session:
        return list(session.execute(select(ProcessInstance).where(ProcessInstance.process_id == "outbound_call")
                                    .order_by(ProcessInstance.id)).scalars())


def close_call(runtime, key: str, at: datetime = T0, **closing) -> Walk:
    """P1: a cruise caller, one accepted solution, then 电话收尾并登记 with `closing`."""
    with frozen_at(at):
        walk = inbound_call.incoming_call(runtime, key)
        walk.do("call_opening", "agent1", **inbound_call.OPENING)
        inbound_call.offer(walk, "agent1", accepted=True)
        walk.do("solve_problem", "agent1", resolution_note="已发送舱位报价")
        walk.do("close_and_register", "agent1", **{**inbound_call.CLOSING, **closing})
    return walk


def close_chat(runtime, key: str, at: datetime = T0, **closing) -> Walk:
    """P3: a Tmall chat on the tour desk, one accepted solution, then 对话收尾并登记 with `closing`."""
    with frozen_at(at):
        started = runtime.message("chat_opened", key, CHAT)
        walk = Walk(runtime, started["delivered_to"], DEFAULT_PROCESSES_DIR / "ecommerce_chat.bpmn")
    with frozen_at(at + timedelta(minutes=1)):
        runtime.message("chat_message", key, {"message_text": "想问一下黄山三日游十二月的团期"})
        walk.do("chat_opening", "agent2", request_type="咨询", request_summary="咨询黄山宏村三日游十二月团期",
                customer_phone="13655556666")
        walk.do("make_solution", "agent2", solution_kind="业务咨询解决方案", solution="12月5日团期尚有余位")
        runtime.message("chat_message", key, {"message_text": "好的，就这个团期"})
        walk.do("answer_offer", "agent2", customer_accepted=True)
        walk.do("solve_problem", "agent2", resolution_note="已发送报名链接")
        walk.do("close_and_register", "agent2", **{**CHAT_CLOSING, **closing})
    return walk


def close_visit(runtime, at: datetime = walk_in_reception.T0, **wrap) -> walk_in_reception.Visit:
    """P4: the accepted visit of the walk-in tests, wrapped up with `wrap`."""
    visit = walk_in_reception.Visit(runtime, at=at)
    visit.welcome()
    visit.do("review_records", "receptionist1", walk_in_reception.REVIEW_OK)
    visit.do("handle_matter", "receptionist1", {**walk_in_reception.SOLUTION, "customer_response": "接受"})
    visit.do("resolve_problem", "receptionist1", walk_in_reception.RESOLVE)
    visit.do("wrap_up_visit", "receptionist1", {**walk_in_reception.WRAP, **wrap}, at + timedelta(minutes=40))
    return visit
