"""P3 ecommerce_chat: assignment to the least-loaded agent, the inactivity race, the solve/accept loop.

Same method as test_inbound_call: each scenario declares the flows it walks (`PATHS`) and checks
them against the flows its instance really took (from the task history);
`test_the_scenarios_cover_every_sequence_flow` checks the union covers the whole diagram.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from sqlalchemy import select

from engine.access.users import create_user
from engine.clock import frozen_at, utcnow
from engine.config import DEFAULT_PROCESSES_DIR
from engine.errors import FormInvalid, NotAllowed
from engine.run.messaging import waits_for
from engine.store.models import HumanTask
from handlers.domain.models import AgentStatus
from tests.support.contact_center import contact_records, iso, jobs
from tests.support.flows import Walk, diagram
from tests.support.follow_ups import close_chat
from tests.support.world import deploy

BPMN = DEFAULT_PROCESSES_DIR / "ecommerce_chat.bpmn"
HANDLE = "tmall_zhang_jg"

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


def _engine_sees_event_based_gateways() -> bool:
    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(etree.fromstring(PROBE).getroottree(), filename="probe.bpmn")
    workflow = BpmnWorkflow(parser.get_spec("probe"))
    workflow.do_engine_steps()
    return waits_for(workflow, "probe_message")


def test_the_engine_routes_messages_to_an_event_based_gateway():
    """The chat's inactivity race rests on it: SpiffWorkflow makes the gateway itself the waiting
    task (one MultipleEventDefinition with the message and the timer)."""
    assert _engine_sees_event_based_gateways()


@pytest.fixture
def chat_runtime(runtime):
    deploy(runtime, BPMN)
    return runtime


@pytest.fixture
def with_complaints(chat_runtime):
    deploy(chat_runtime, DEFAULT_PROCESSES_DIR / "complaint_handling.bpmn")
    return chat_runtime


def chat_opened(runtime, key: str, desk: str | None = "旅游", platform: str = "天猫旺旺", **extra) -> Walk:
    """The platform reports a new chat: the message start `chat_opened` (business key = chat id)."""
    result = runtime.message("chat_opened", key, {"platform": platform, "customer_handle": HANDLE, "desk": desk,
                                                  **extra})
    assert result["started"] is True
    return Walk(runtime, result["delivered_to"], BPMN)


def say(runtime, key: str, text: str = "你好，想问一下黄山三日游") -> dict:
    """The customer's next message in the chat (correlated by the chat id)."""
    return runtime.message("chat_message", key, {"message_text": text})


def add_agent(runtime, username: str, desk: str, status: str = "available", max_chats: int = 3) -> None:
    with runtime.db.write() as session, session.begin():
        create_user(session, username, username, ["agent", "staff"], attributes={"desk": desk})
        session.add(AgentStatus(username=username, desk=desk, status=status, max_chats=max_chats,
                                updated_at=datetime(2026, 1, 1, tzinfo=UTC)))


START = {"opened_to_assign", "assign_to_await"}
SPOKE = START | {"await_to_message", "message_to_opening", "chat_opening_to_query", "query_to_complaint_check"}
OFFER = {"merge_to_solution", "solution_merge_to_make", "make_to_record_offer", "record_offer_to_accepted"}
CLOSE = {"close_merge_to_register", "register_to_end_chat", "no_follow_up", "end_chat_to_archive", "archive_merge_to_archive",
         "archive_chat_to_promise_check"}
PATHS = {
    "silent": START | {"await_to_silent", "silent_to_auto_close", "auto_close_chat_to_archive",
                       "archive_merge_to_archive", "archive_chat_to_promise_check", "no_promise_to_closed"},
    "accepted": SPOKE | {"no_complaint_to_merge"} | OFFER | {"accepted_to_solve", "solve_to_close"} | CLOSE
    | {"no_promise_to_closed"},
    "promise_breached": SPOKE | {"no_complaint_to_merge"} | OFFER
    | {"not_accepted_to_refusal_check", "refusal_to_optimise", "refused_to_supervisor", "supervisor_to_close"}
    | CLOSE | {"promise_to_resolve", "resolve_to_record_kept", "record_kept_to_closed", "overdue_to_chase",
               "chase_to_closed"},
    "complaint": SPOKE | {"complaint_to_record", "record_to_forward", "forward_to_merge"} | OFFER
    | {"not_accepted_to_refusal_check", "refusal_to_optimise", "accepted_to_solve", "solve_to_close"} | CLOSE
    | {"no_promise_to_closed"},
}
FOLLOW_UP_FLOWS = {"follow_up_to_request", "request_to_follow_up_thrown", "follow_up_thrown_to_next"}
PATHS["follow_up"] = PATHS["accepted"] - {"no_follow_up"} | FOLLOW_UP_FLOWS
OPENING = {"request_type": "咨询", "request_summary": "咨询黄山宏村三日游十二月团期", "customer_phone": "13655556666"}
CLOSING = {"redirect_channel": "无", "register_note": "已答复团期与价格", "follow_up_needed": False}


def test_a_silent_customer_gets_the_automatic_message_and_the_chat_is_closed(chat_runtime):
    rt = chat_runtime
    start = utcnow().replace(microsecond=0)
    with frozen_at(start):
        walk = chat_opened(rt, "CHAT-0001")
    data = walk.data()
    assert (data["assigned_agent"], data["desk"], data["inactivity_minutes"]) == ("agent2", "旅游", 10)
    assert data["assignment"]["platform"] == "天猫旺旺" and data["assignment"]["chat_ref"] == "CHAT-0001"
    assert walk.open_tasks() == {}, "nobody works a chat before the customer speaks"
    [job] = jobs(rt, walk.id)
    assert (job.task, job.state) == ("customer_silent", "pending")
    assert rt.tick(start + timedelta(minutes=9, seconds=59)) == []
    fired = rt.tick(start + timedelta(minutes=10, seconds=1))
    assert [f["timer"] for f in fired] == ["customer_silent"]
    assert walk.status() == "completed"
    walk.assert_path(PATHS["silent"])
    assert "sla_breached" not in walk.kinds(), "the inactivity timer is no task's deadline"
    [record] = contact_records(rt)
    assert (record.channel, record.contact, record.desk, record.outcome, record.request_type) == (
        "chat", HANDLE, "旅游", "auto_closed", None)
    assert "长时间未回复" in record.details["system_message"]
    assert (record.details["platform"], record.details["chat_ref"]) == ("天猫旺旺", "CHAT-0001")
    late = say(rt, "CHAT-0001", "在吗？")  # the closed chat takes nothing: the message waits, then expires
    assert (late["buffered"], late["delivered_to"]) == (True, None)
    assert walk.status() == "completed"


def test_the_inactivity_time_comes_from_the_data(chat_runtime):
    rt = chat_runtime
    start = utcnow().replace(microsecond=0)
    with frozen_at(start):
        walk = chat_opened(rt, "CHAT-0002", inactivity_minutes=3)
    assert rt.tick(start + timedelta(minutes=2, seconds=59)) == []
    assert [f["timer"] for f in rt.tick(start + timedelta(minutes=3, seconds=1))] == ["customer_silent"]
    assert walk.status() == "completed"


def test_a_message_after_the_silence_time_comes_second_even_before_the_worker_fired(chat_runtime):
    """The inactivity timer was due at 10 minutes but no worker had fired it when the customer spoke
    at 15: the timer came first, so the chat is closed automatically (once) and the late message
    waits in the buffer until it expires, instead of also opening the conversation."""
    rt = chat_runtime
    start = utcnow().replace(microsecond=0)
    with frozen_at(start):
        walk = chat_opened(rt, "CHAT-0009")
    with frozen_at(start + timedelta(minutes=15)):
        said = say(rt, "CHAT-0009")
    assert (said["buffered"], said["delivered_to"]) == (True, None)
    assert walk.open_tasks() == {} and walk.kinds().count("message_received") == 1, "only the chat_opened start"
    fired = rt.tick(start + timedelta(minutes=15, seconds=1))
    assert [f["timer"] for f in fired] == ["customer_silent"]
    assert walk.status() == "completed"
    walk.assert_path(PATHS["silent"])
    [record] = contact_records(rt)
    assert record.outcome == "auto_closed"


def test_the_customer_speaks_in_time_and_the_assigned_agent_solves_it(chat_runtime):
    rt = chat_runtime
    start = utcnow().replace(microsecond=0)
    with frozen_at(start):
        walk = chat_opened(rt, "CHAT-0003")
    with frozen_at(start + timedelta(minutes=4)):
        said = say(rt, "CHAT-0003")
        assert (said["delivered_to"], said["started"], said["state"]) == (walk.id, False, "delivered")
    assert walk.data()["message_text"] == "你好，想问一下黄山三日游"
    task = walk.open_tasks()["chat_opening"]
    assert (task["name"], task["lane"], task["assignee"]) == ("开场", "agent", "agent2")
    assert [j.state for j in jobs(rt, walk.id)] == ["cancelled"], "the message won the race"
    assert rt.tick(start + timedelta(hours=1)) == []
    assert rt.tasks(user="agent1") == [] and rt.tasks(user="agent3") == []
    walk.do("chat_opening", "agent2", **OPENING)
    lookup = walk.data()["lookup"]
    assert lookup["customer"]["name"] == "赵雪"
    assert [b["code"] for b in lookup["bookings"]] == ["BK20260005"]
    assert {p["desk"] for p in lookup["products"]} == {"旅游"}
    walk.do("make_solution", "agent2", solution_kind="业务咨询解决方案", solution="12月5日团期尚有余位，价格1299元/人",
            customer_accepted=True)
    walk.do("solve_problem", "agent2", resolution_note="已发送报名链接")
    walk.do("close_and_register", "agent2", **CLOSING)
    assert walk.status() == "completed"
    walk.assert_path(PATHS["accepted"])
    [record] = contact_records(rt)
    assert (record.channel, record.contact, record.customer_id, record.outcome, record.handled_by) == (
        "chat", HANDLE, lookup["customer"]["id"], "resolved", "agent2")
    assert record.details["message_text"] == "你好，想问一下黄山三日游"
    assert record.details["offers"][0]["accepted"] is True


def test_a_chat_without_a_phone_number_still_gets_the_desk_products(chat_runtime):
    rt = chat_runtime
    walk = chat_opened(rt, "CHAT-0004", desk="自由行", platform="官网QQ")
    say(rt, "CHAT-0004", "三亚有什么自由行")
    walk.do("chat_opening", "agent3", request_type="咨询", request_summary="三亚自由行产品")
    lookup = walk.data()["lookup"]
    assert (lookup["found"], lookup["customer"], lookup["bookings"]) == (False, None, [])
    assert {p["code"] for p in lookup["products"]} == {"FT-SY-5", "FT-CM-6"}
    assert walk.data()["customer_phone"] == "", "the optional phone defaults to empty"


def test_chats_go_to_the_least_loaded_free_agent_of_the_desk_up_to_their_limit(chat_runtime):
    rt = chat_runtime
    add_agent(rt, "agent5", "旅游", max_chats=1)
    add_agent(rt, "agent6", "旅游", status="offline")
    walks = []
    for n in range(1, 6):
        walk = chat_opened(rt, f"CHAT-01{n:02d}")
        say(rt, f"CHAT-01{n:02d}")
        walks.append(walk)
    assigned = [w.data()["assigned_agent"] for w in walks]
    # agent2 (limit 3) and agent5 (limit 1); agent6 is offline; then nobody is free.
    assert assigned == ["agent2", "agent5", "agent2", "agent2", None]
    assert walks[3].data()["assignment"]["candidates"] == {"agent2": 2}
    queued = walks[4].open_tasks()["chat_opening"]
    assert queued["assignee"] is None, "nobody free: the chat waits in the desk's queue"
    with rt.db.read() as session:
        claimed = session.execute(select(HumanTask.assignee).where(HumanTask.state == "ready")).scalars().all()
    assert sorted(a or "-" for a in claimed) == ["-", "agent2", "agent2", "agent2", "agent5"]
    assert queued["id"] in [t["id"] for t in rt.tasks(user="agent6")], "any agent of the desk may take it"
    walks[0].do("chat_opening", "agent2", **OPENING)


def test_the_supervisor_promises_a_time_and_a_breach_is_chased(chat_runtime):
    rt = chat_runtime
    start = utcnow().replace(microsecond=0)
    promised = start + timedelta(days=1)
    with frozen_at(start):
        walk = chat_opened(rt, "CHAT-0005", desk="邮轮")
        say(rt, "CHAT-0005", "邮轮订单要退款")
        walk.do("chat_opening", "agent1", request_type="业务办理", request_summary="申请退订12月日本邮轮",
                customer_phone="138-0123-4567")
        assert walk.data()["lookup"]["customer"]["name"] == "张建国", "the phone is normalised for the look-up"
        for n in (1, 2):
            walk.do("make_solution", "agent1", solution_kind="业务查询办理解决方案", solution=f"方案{n}：按退订政策扣损",
                    customer_accepted=False, refusal_reason="不接受扣损")
        walk.do("supervisor_assist", "supervisor1", assist_note="与邮轮公司协商减免", promise_content="一天内答复减免结果",
                promised_at=iso(promised))
        walk.do("close_and_register", "agent1", redirect_channel="呼叫中心电话", register_note="待邮轮公司答复",
                follow_up_needed=True)
    task = walk.open_tasks()["resolve_by_promise"]
    assert (task["assignee"], task["due_at"]) == ("agent1", promised.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert [f["timer"] for f in rt.tick(promised + timedelta(minutes=1))] == ["promise_overdue"]
    assert [e["payload"]["task"] for e in walk.events("sla_breached")] == ["resolve_by_promise"]
    walk.do("chase_promise", "supervisor1", chase_action="督促坐席联系邮轮公司")
    with frozen_at(promised + timedelta(hours=1)):
        walk.do("resolve_by_promise", "agent1", promise_resolution="邮轮公司同意减免50%", customer_informed=True)
    assert walk.status() == "completed"
    walk.assert_path(PATHS["promise_breached"] - {"no_follow_up"} | FOLLOW_UP_FLOWS)  # follow_up_needed: a follow-up too
    [record] = contact_records(rt)
    assert (record.outcome, record.details["promise_breached"], record.details["refusals"]) == ("promise_late", True, 2)


def test_a_complaint_in_the_chat_starts_complaint_handling(with_complaints):
    rt = with_complaints
    walk = chat_opened(rt, "CHAT-0006")
    say(rt, "CHAT-0006", "我要投诉导游")
    walk.do("chat_opening", "agent2", request_type="投诉", request_summary="西安团导游强制购物")
    complaint = {"customer_name": "李秀英", "contact_phone": "13912345678", "time_class": "旅游后", "kind": "导游服务",
                 "complaint_description": "导游在兵马俑行程中强制购物两小时", "customer_request": "要求道歉并赔偿",
                 "tour_id": "XA-2026-1102"}
    walk.do("record_complaint", "agent2", **complaint)
    [sent] = walk.events("message_sent")
    assert (sent["payload"]["key"], sent["payload"]["started"]) == ("complaint-CHAT-0006", True)
    p6 = rt.show(sent["payload"]["delivered_to"])
    assert (p6["process"], p6["business_key"]) == ("complaint_handling", "complaint-CHAT-0006")
    assert {k: p6["data"][k] for k in ("customer_name", "contact_phone", "kind", "description", "tour_id")} == {
        "customer_name": "李秀英", "contact_phone": "13912345678", "kind": "导游服务",
        "description": complaint["complaint_description"], "tour_id": "XA-2026-1102"}
    assert [t["task"] for t in rt.tasks(instance_id=p6["id"])] == ["receive_complaint"]
    walk.do("make_solution", "agent2", solution_kind="投诉建议解决方案", solution="先致歉", customer_accepted=False,
            refusal_reason="只道歉不够")
    walk.do("make_solution", "agent2", solution_kind="投诉建议解决方案", solution="致歉并由质检培训部1小时内联系",
            customer_accepted=True)
    walk.do("solve_problem", "agent2", resolution_note="已转质检培训部")
    walk.do("close_and_register", "agent2", **CLOSING)
    assert walk.status() == "completed"
    walk.assert_path(PATHS["complaint"])
    [record] = contact_records(rt)
    assert record.details["complaint_key"] == "complaint-CHAT-0006"


def test_bad_data_wrong_lane_and_wrong_desk_are_refused(chat_runtime):
    rt = chat_runtime
    walk = chat_opened(rt, "CHAT-0007", desk="邮轮")
    say(rt, "CHAT-0007")
    opening = walk.open_tasks()["chat_opening"]["id"]
    with pytest.raises(FormInvalid) as phone:
        rt.complete(opening, "agent1", {**OPENING, "customer_phone": "call me"})
    assert phone.value.field == "customer_phone"
    with pytest.raises(NotAllowed, match="belongs to desk 邮轮; agent2 works at desk 旅游"):
        rt.complete(opening, "agent2", OPENING)
    with pytest.raises(NotAllowed, match="does not hold lane 'agent'"):
        rt.complete(opening, "qc1", OPENING)
    walk.do("chat_opening", "agent1", **{**OPENING, "request_type": "投诉"})
    record = walk.open_tasks()["record_complaint"]["id"]
    with pytest.raises(FormInvalid) as missing:
        rt.complete(record, "agent1", {"customer_name": "张建国", "time_class": "旅游后", "kind": "服务质量",
                                       "complaint_description": "服务态度差", "customer_request": "道歉"})
    assert missing.value.field == "contact_phone"
    with pytest.raises(FormInvalid) as kind:
        rt.complete(record, "agent1", {"customer_name": "张建国", "contact_phone": "13801234567", "time_class": "旅游后",
                                       "kind": "天气", "complaint_description": "服务态度差", "customer_request": "道歉"})
    assert kind.value.field == "kind"
    assert walk.kinds().count("task_completed") == 1


def test_the_scenarios_cover_every_sequence_flow():
    flows, _nodes, _boundaries = diagram(BPMN)
    declared = set().union(*PATHS.values())
    assert declared - set(flows) == set(), "a scenario names a flow the diagram does not have"
    assert set(flows) - declared == set(), "flows no scenario walks"


def test_a_chat_closed_with_a_follow_up_throws_the_follow_up_request(chat_runtime):
    """tests/test_follow_ups.py follows the request into outbound_call; here: the flows, and the throw."""
    walk = close_chat(chat_runtime, "CHAT-0099", follow_up_needed=True, next_contact_at="2026-11-26T15:00:00+08:00")
    walk.assert_path(PATHS["follow_up"])
    [sent] = walk.events("message_sent")
    assert (sent["payload"]["name"], sent["payload"]["key"]) == ("follow_up_requested", f"follow-up-ecommerce_chat-{walk.id}")
