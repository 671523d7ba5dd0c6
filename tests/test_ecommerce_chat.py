"""P3 ecommerce_chat: assignment to the least-loaded agent, the inactivity race, the solve/accept loop.

Same method as test_inbound_call: each scenario declares the flows it walks (`PATHS`) and checks
them against the flows its instance really took (from the task history);
`test_the_scenarios_cover_every_sequence_flow` checks the union covers the whole diagram.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.clock import frozen_at, utcnow
from engine.config import DEFAULT_PROCESSES_DIR
from engine.errors import FormInvalid, NotAllowed
from engine.store.models import HumanTask
from tests.support.contact_center import contact_records, iso, jobs
from tests.support.ecommerce_chat import (
    ASK_SUPERVISOR,
    BPMN,
    CLOSING,
    FOLLOW_UP_FLOWS,
    HANDLE,
    OFFER_AGAIN,
    OPENING,
    PATHS,
    add_agent,
    answer,
    chat_opened,
    engine_sees_event_based_gateways,
    offer,
    say,
)
from tests.support.flows import diagram
from tests.support.follow_ups import close_chat
from tests.support.world import deploy


def test_the_engine_routes_messages_to_an_event_based_gateway():
    """The chat's inactivity races rest on it: SpiffWorkflow makes the gateway itself the waiting
    task (one MultipleEventDefinition with the message and the timer). No xfail: if it breaks, the
    chat tests below fail with it."""
    assert engine_sees_event_based_gateways()


@pytest.fixture
def chat_runtime(runtime):
    deploy(runtime, BPMN)
    return runtime


@pytest.fixture
def with_complaints(chat_runtime):
    deploy(chat_runtime, DEFAULT_PROCESSES_DIR / "complaint_handling.bpmn")
    return chat_runtime


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


def test_silence_after_the_first_message_closes_the_chat_with_the_automatic_message(chat_runtime):
    """客户长时间不进行对话时 holds after the first message too: the customer spoke, the agent opened and
    sent an offer, then the customer went quiet. The wait for the answer races its own silence timer,
    counted from the offer."""
    rt = chat_runtime
    start = utcnow().replace(microsecond=0)
    with frozen_at(start):
        walk = chat_opened(rt, "CHAT-0010")
        say(rt, "CHAT-0010")
        walk.do("chat_opening", "agent2", **OPENING)
    sent = start + timedelta(minutes=6)
    with frozen_at(sent):
        offer(walk, "agent2")
    assert walk.open_tasks() == {}, "the chat waits for the customer"
    assert [(j.task, j.state) for j in jobs(rt, walk.id)] == [("customer_silent", "cancelled"),
                                                               ("answer_silent", "pending")]
    assert rt.tick(sent + timedelta(minutes=9, seconds=59)) == [], "counted from the offer, not the chat start"
    assert [f["timer"] for f in rt.tick(sent + timedelta(minutes=10, seconds=1))] == ["answer_silent"]
    assert walk.status() == "completed" and walk.open_tasks() == {}
    walk.assert_path(PATHS["silent_at_answer"])
    assert walk.data()["auto_close"]["silent_minutes"] == 10
    [record] = contact_records(rt)
    assert (record.outcome, record.request_type, record.handled_by) == ("auto_closed", "咨询", "agent2")
    assert "长时间未回复" in record.details["system_message"]
    late = say(rt, "CHAT-0010", "刚才在忙")
    assert (late["buffered"], late["delivered_to"]) == (True, None), "the closed chat takes nothing"


def test_silence_while_waiting_for_the_answer_to_a_second_offer_closes_the_chat(chat_runtime):
    """Every wait for the customer races the timer: the first answer came in time, the agent offered
    again, and the customer never answered the second offer."""
    rt = chat_runtime
    start = utcnow().replace(microsecond=0)
    with frozen_at(start):
        walk = chat_opened(rt, "CHAT-0011", inactivity_minutes=5)
        say(rt, "CHAT-0011")
        walk.do("chat_opening", "agent2", **OPENING)
        offer(walk, "agent2", 1)
    with frozen_at(start + timedelta(minutes=4)):
        answer(walk, "CHAT-0011", "agent2", accepted=False, reason="日期不合适")
    second = start + timedelta(minutes=12)
    with frozen_at(second):
        offer(walk, "agent2", 2)
    assert rt.tick(second + timedelta(minutes=4, seconds=59)) == [], "the first race ended with the answer"
    assert [f["timer"] for f in rt.tick(second + timedelta(minutes=5, seconds=1))] == ["answer_silent"]
    assert walk.status() == "completed" and walk.open_tasks() == {}
    walk.assert_path(PATHS["silent_at_second_answer"])
    [record] = contact_records(rt)
    assert (record.outcome, record.details["refusals"]) == ("auto_closed", 1)
    assert [(o["round"], o["answer"], o["accepted"]) for o in record.details["offers"]] == [(1, "太贵了", False)]
    assert "长时间未回复" in record.details["system_message"]


def test_the_agent_decides_when_to_bring_in_the_supervisor(chat_runtime):
    """经努力客户仍不接受时: no fixed number of refusals routes by itself; after each refusal the agent
    chooses to offer again or to ask the supervisor, seeing the offer count in the task summary."""
    rt = chat_runtime
    walk = chat_opened(rt, "CHAT-0012")
    say(rt, "CHAT-0012")
    walk.do("chat_opening", "agent2", **OPENING)
    for n in (1, 2, 3):
        offer(walk, "agent2", n)
        assert walk.open_tasks() == {}
        say(rt, "CHAT-0012", "还是不行")
        task = walk.open_tasks()["answer_offer"]
        assert (task["summary"]["offer_round"], task["summary"]["refusals"]) == (n, n - 1)
        with pytest.raises(FormInvalid) as choice:
            rt.complete(task["id"], "agent2", {"customer_accepted": False, "refusal_reason": "不合适"})
        assert choice.value.field == "next_step", "after a refusal the agent says what comes next"
        walk.do("answer_offer", "agent2", customer_accepted=False, refusal_reason=f"第{n}次不合适", next_step=OFFER_AGAIN)
        assert set(walk.open_tasks()) == {"make_solution"}, f"refusal {n} + 再次提供: the agent offers again"
    offer(walk, "agent2", 4)
    answer(walk, "CHAT-0012", "agent2", accepted=True)
    assert set(walk.open_tasks()) == {"solve_problem"}
    assert [(o["round"], o["next_step"]) for o in walk.data()["offers"]] == [
        (1, OFFER_AGAIN), (2, OFFER_AGAIN), (3, OFFER_AGAIN), (4, None)]
    first = chat_opened(rt, "CHAT-0013")
    say(rt, "CHAT-0013")
    first.do("chat_opening", "agent2", **OPENING)
    offer(first, "agent2", 1)
    answer(first, "CHAT-0013", "agent2", accepted=False, next_step=ASK_SUPERVISOR)
    assert set(first.open_tasks()) == {"supervisor_assist"}, "a first refusal may go to the supervisor at once"


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
    offer(walk, "agent2", solution="12月5日团期尚有余位，价格1299元/人")
    assert walk.open_tasks() == {}, "the offer is sent: the chat waits for the customer's answer"
    answer(walk, "CHAT-0003", "agent2", accepted=True)
    assert [j.state for j in jobs(rt, walk.id)] == ["cancelled", "cancelled"], "the answer won the second race"
    walk.do("solve_problem", "agent2", resolution_note="已发送报名链接")
    walk.do("close_and_register", "agent2", **CLOSING)
    assert walk.status() == "completed"
    walk.assert_path(PATHS["accepted"])
    [record] = contact_records(rt)
    assert (record.channel, record.contact, record.customer_id, record.outcome, record.handled_by) == (
        "chat", HANDLE, lookup["customer"]["id"], "resolved", "agent2")
    assert record.details["opening_message"] == "你好，想问一下黄山三日游"
    assert (record.details["offers"][0]["answer"], record.details["offers"][0]["accepted"]) == ("好的，就这个", True)


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
            offer(walk, "agent1", n, kind="业务查询办理解决方案", solution=f"方案{n}：按退订政策扣损")
            answer(walk, "CHAT-0005", "agent1", accepted=False, next_step=OFFER_AGAIN if n == 1 else ASK_SUPERVISOR,
                   reason="不接受扣损")
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
    offer(walk, "agent2", 1, kind="投诉建议解决方案", solution="先致歉")
    answer(walk, "CHAT-0006", "agent2", accepted=False, reason="只道歉不够")
    offer(walk, "agent2", 2, kind="投诉建议解决方案", solution="致歉并由质检培训部1小时内联系")
    answer(walk, "CHAT-0006", "agent2", accepted=True)
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
