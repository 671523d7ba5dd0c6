"""The e-commerce chat process (ecommerce_chat.bpmn): chats, the customer's messages, the agent's offers
and the customer's answers, and the sequence flows each scenario walks (`PATHS`)."""

from __future__ import annotations

from datetime import UTC, datetime

from lxml import etree
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from engine.access.users import create_user
from engine.config import DEFAULT_PROCESSES_DIR
from engine.run.messaging import waits_for
from handlers.domain.models import AgentStatus
from tests.support.flows import Walk

BPMN = DEFAULT_PROCESSES_DIR / "ecommerce_chat.bpmn"
HANDLE = "tmall_zhang_jg"
OFFER_AGAIN, ASK_SUPERVISOR = "再次提供", "请上级主管协助"  # the agent's choice after a refusal

# The smallest event-based gateway: does the engine see that it waits for a message?
PROBE = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:message id="m" name="probe_message" />
  <bpmn:process id="probe" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:eventBasedGateway id="g"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:outgoing>f3</bpmn:outgoing></bpmn:eventBasedGateway>
    <bpmn:intermediateCatchEvent id="c"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:messageEventDefinition id="cm" messageRef="m" /></bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="t"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing>
      <bpmn:timerEventDefinition id="tt"><bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="e1"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="e2"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="g" />
    <bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="c" />
    <bpmn:sequenceFlow id="f3" sourceRef="g" targetRef="t" />
    <bpmn:sequenceFlow id="f4" sourceRef="c" targetRef="e1" />
    <bpmn:sequenceFlow id="f5" sourceRef="t" targetRef="e2" />
  </bpmn:process>
</bpmn:definitions>"""


def engine_sees_event_based_gateways() -> bool:
    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(etree.fromstring(PROBE).getroottree(), filename="probe.bpmn")
    workflow = BpmnWorkflow(parser.get_spec("probe"))
    workflow.do_engine_steps()
    return waits_for(workflow, "probe_message")


def chat_opened(runtime, key: str, desk: str | None = "旅游", platform: str = "天猫旺旺", **extra) -> Walk:
    """The platform reports a new chat: the message start `chat_opened` (business key = chat id)."""
    result = runtime.message("chat_opened", key, {"platform": platform, "customer_handle": HANDLE, "desk": desk,
                                                  **extra})
    assert result["started"] is True
    return Walk(runtime, result["delivered_to"], BPMN)


def say(runtime, key: str, text: str = "你好，想问一下黄山三日游") -> dict:
    """The customer's next message in the chat (correlated by the chat id)."""
    return runtime.message("chat_message", key, {"message_text": text})


def offer(walk: Walk, user: str, n: int = 1, kind: str = "业务咨询解决方案", solution: str | None = None) -> None:
    """The agent sends offer `n` to the customer (the chat then waits for the customer's answer)."""
    assert walk.open_tasks()["make_solution"]["summary"]["offer_round"] == n, "the agent sees the count"
    walk.do("make_solution", user, solution_kind=kind, solution=solution or f"方案{n}：黄山三日游团期与价格")


def answer(walk: Walk, key: str, user: str, accepted: bool, next_step: str = OFFER_AGAIN,
           text: str | None = None, reason: str = "价格偏高") -> None:
    """The customer answers in the chat; the agent records the answer (and, after a refusal, what comes next)."""
    said = say(walk.rt, key, text or ("好的，就这个" if accepted else "太贵了"))
    assert said["delivered_to"] == walk.id
    refused = {} if accepted else {"refusal_reason": reason, "next_step": next_step}
    walk.do("answer_offer", user, customer_accepted=accepted, **refused)


def add_agent(runtime, username: str, desk: str, status: str = "available", max_chats: int = 3) -> None:
    with runtime.db.write() as session, session.begin():
        create_user(session, username, username, ["agent", "staff"], attributes={"desk": desk})
        session.add(AgentStatus(username=username, desk=desk, status=status, max_chats=max_chats,
                                updated_at=datetime(2026, 1, 1, tzinfo=UTC)))


START = {"opened_to_assign", "assign_to_await"}
SPOKE = START | {"await_to_message", "message_to_opening", "chat_opening_to_query", "query_to_complaint_check"}
SENT = {"merge_to_solution", "solution_merge_to_make", "make_to_await_answer"}
OFFER = SENT | {"await_to_answer", "answer_to_answer_offer", "answer_offer_to_record_offer", "record_offer_to_accepted"}
AUTO_CLOSED = {"auto_close_chat_to_archive", "archive_merge_to_archive", "archive_chat_to_promise_check",
               "no_promise_to_closed"}
CLOSE = {"close_merge_to_register", "register_to_end_chat", "no_follow_up", "end_chat_to_archive", "archive_merge_to_archive",
         "archive_chat_to_promise_check"}
REFUSED = {"not_accepted_to_refusal_check", "refusal_to_optimise"}
PATHS = {
    "silent": START | {"await_to_silent", "silent_to_auto_close"} | AUTO_CLOSED,
    "silent_at_answer": SPOKE | {"no_complaint_to_merge"} | SENT
    | {"await_answer_to_silent", "answer_silent_to_auto_close"} | AUTO_CLOSED,
    "silent_at_second_answer": SPOKE | {"no_complaint_to_merge"} | OFFER | REFUSED
    | {"await_answer_to_silent", "answer_silent_to_auto_close"} | AUTO_CLOSED,
    "accepted": SPOKE | {"no_complaint_to_merge"} | OFFER | {"accepted_to_solve", "solve_to_close"} | CLOSE
    | {"no_promise_to_closed"},
    "promise_breached": SPOKE | {"no_complaint_to_merge"} | OFFER | REFUSED
    | {"refused_to_supervisor", "supervisor_to_close"} | CLOSE
    | {"promise_to_resolve", "resolve_to_record_kept", "record_kept_to_closed", "overdue_to_chase", "chase_to_closed"},
    "complaint": SPOKE | {"complaint_to_record", "record_to_forward", "forward_to_merge"} | OFFER | REFUSED
    | {"accepted_to_solve", "solve_to_close"} | CLOSE | {"no_promise_to_closed"},
}
OPENING = {"request_type": "咨询", "request_summary": "咨询黄山宏村三日游十二月团期", "customer_phone": "13655556666"}
CLOSING = {"redirect_channel": "无", "register_note": "已答复团期与价格", "follow_up_needed": False}
FOLLOW_UP_FLOWS = {"follow_up_to_request", "request_to_follow_up_thrown", "follow_up_thrown_to_next"}
PATHS["follow_up"] = PATHS["accepted"] - {"no_follow_up"} | FOLLOW_UP_FLOWS
