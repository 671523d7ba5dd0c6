"""P1 inbound_call: every path of the diagram, walked the way the switch, agents and supervisors would.

Each scenario declares the sequence flows it walks (`PATHS`); `Walk.flows_taken()` derives the
flows an instance really took from its SpiffWorkflow task history (a completed task and the
nearest completed flow node above it), and every test asserts the two are equal.
`test_the_scenarios_cover_every_sequence_flow` then checks that the declared paths together
cover every sequence flow of the file.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.clock import frozen_at, utcnow
from engine.config import DEFAULT_PROCESSES_DIR
from engine.errors import FormInvalid, NotAllowed
from engine.plugins.handlers import HandlerContext, get_handler, handler_writes
from handlers.contact_center import contact_archive, contact_promise_kept
from tests.support.contact_center import contact_records, iso, jobs
from tests.support.flows import Walk, diagram
from tests.support.inbound_call import (
    ASK_SUPERVISOR,
    BPMN,
    CLOSING,
    CRUISE_CALLER,
    FOLLOW_UP_FLOWS,
    OFFER_AGAIN,
    OPENING,
    PATHS,
    UNKNOWN_CALLER,
    incoming_call,
    offer,
    refuse_until_supervisor,
)
from tests.support.world import deploy

# ---- this process -------------------------------------------------------------------------------

@pytest.fixture
def call_runtime(runtime):
    deploy(runtime, BPMN)
    return runtime


@pytest.fixture
def with_complaints(call_runtime):
    deploy(call_runtime, DEFAULT_PROCESSES_DIR / "complaint_handling.bpmn")
    return call_runtime


def test_a_call_without_a_desk_is_wrapped_up_by_the_system_and_archived(call_runtime):
    rt = call_runtime
    walk = incoming_call(rt, "CALL-0001", caller=UNKNOWN_CALLER, desk=None)
    assert walk.status() == "completed"
    assert walk.open_tasks() == {}
    walk.assert_path(PATHS["no_desk"])
    data = walk.data()
    assert data["ivr"]["desk_chosen"] is False and data["desk"] is None
    assert data["ivr"]["call_ref"] == "CALL-0001"
    assert "感谢您致电" in data["system_wrap_up"]["message"]
    [record] = contact_records(rt)
    assert (record.channel, record.instance_id, record.contact, record.desk, record.outcome) == (
        "inbound_call", walk.id, UNKNOWN_CALLER, None, "self_service")
    assert record.details["system_message"] == data["system_wrap_up"]["message"]
    assert [e["payload"]["handler"] for e in walk.events("handler_called")] == [
        "call_answer", "call_system_wrap_up", "contact_archive"]


def test_an_unknown_desk_counts_as_no_choice(call_runtime):
    walk = incoming_call(call_runtime, "CALL-0002", desk="国际机票")
    assert walk.status() == "completed"
    walk.assert_path(PATHS["no_desk"])


def test_a_call_is_routed_to_its_desk_looked_up_solved_and_archived_once(call_runtime):
    rt = call_runtime
    walk = Walk(rt, rt.start("inbound_call", {"caller_number": CRUISE_CALLER, "desk": "邮轮"},
                             business_key="CALL-0003"), BPMN)
    shown = walk.show()
    assert (shown["business_key"], shown["started_by"]) == ("CALL-0003", "system")
    assert walk.events("message_received")[0]["payload"]["name"] == "incoming_call"
    [task] = walk.open_tasks().values()
    assert (task["task"], task["name"], task["lane"], task["assignee"]) == ("call_opening", "电话开场", "agent", "agent1")
    assert task["summary"]["desk"] == "邮轮" and task["summary"]["caller_number"] == CRUISE_CALLER
    assert [t["task"] for t in rt.tasks(user="agent1")] == ["call_opening"]
    assert rt.tasks(user="agent2") == [] and rt.tasks(user="agent3") == [], "other desks do not see the call"
    assert walk.data()["routing"]["candidates"] == {"agent1": 0}

    walk.do("call_opening", "agent1", **OPENING)
    lookup = walk.data()["lookup"]
    assert lookup["found"] is True
    assert lookup["customer"]["name"] == "张建国" and lookup["customer"]["level"] == "VIP"
    assert {b["product_code"] for b in lookup["bookings"]} == {"TR-YN-7", "CR-JP-6"}
    assert {p["desk"] for p in lookup["products"]} == {"邮轮"}
    assert {p["code"] for p in lookup["products"]} == {"CR-JP-6", "CR-SEA-8"}

    offer(walk, "agent1", accepted=True)
    assert set(walk.open_tasks()) == {"solve_problem"}
    walk.do("solve_problem", "agent1", resolution_note="已为客户预留阳台房两间")
    walk.do("close_and_register", "agent1", **CLOSING)
    assert walk.status() == "completed"
    walk.assert_path(PATHS["accepted"])
    data = walk.data()
    assert data["offers"] == [{"round": 1, "solution_kind": "业务咨询解决方案", "solution": "方案1：推荐歌诗达6天5晚阳台房",
                               "accepted": True, "refusal_reason": "", "next_step": None}]
    assert data["refusals"] == 0 and "max_refusals" not in data
    assert data["archive"]["promise_pending"] is False
    [record] = contact_records(rt)
    assert (record.channel, record.customer_id, record.contact, record.desk, record.request_type) == (
        "inbound_call", lookup["customer"]["id"], CRUISE_CALLER, "邮轮", "咨询")
    assert (record.summary, record.outcome, record.handled_by) == (OPENING["request_summary"], "resolved", "agent1")
    assert record.details["call_ref"] == "CALL-0003"
    assert record.details["resolution_note"] == "已为客户预留阳台房两间"
    assert len(record.details["offers"]) == 1
    assert walk.kinds()[-3:] == ["handler_called", "instance_completed", "state_written"]
    assert walk.kinds().count("handler_called") == 5  # answer, route, lookup, end, archive


def test_a_refused_solution_is_optimised_and_offered_again(call_runtime):
    walk = incoming_call(call_runtime, "CALL-0004")
    walk.do("call_opening", "agent1", **OPENING)
    offer(walk, "agent1", accepted=False, n=1)
    assert set(walk.open_tasks()) == {"make_solution"}, "one refusal: optimise and offer again"
    offer(walk, "agent1", accepted=True, n=2)
    walk.do("solve_problem", "agent1", resolution_note="按方案2办理")
    walk.do("close_and_register", "agent1", **CLOSING)
    assert walk.status() == "completed"
    walk.assert_path(PATHS["refused_then_accepted"])
    data = walk.data()
    assert [(o["round"], o["accepted"]) for o in data["offers"]] == [(1, False), (2, True)]
    assert data["offers"][0]["refusal_reason"] == "第1次：价格偏高"
    assert data["refusals"] == 1
    assert walk.completed_steps().count("make_solution") == 2


def test_still_refused_after_two_offers_the_supervisor_promises_a_time_kept_in_time(call_runtime):
    rt = call_runtime
    start = utcnow().replace(microsecond=0)
    promised = start + timedelta(days=2)
    with frozen_at(start):
        walk = incoming_call(rt, "CALL-0005", caller="13912345678", desk="旅游")
        walk.do("call_opening", "agent2", request_type="业务办理", request_summary="要求改签西安团的返程日期")
        refuse_until_supervisor(walk, "agent2")
        task = walk.open_tasks()["supervisor_assist"]
        assert (task["lane"], task["assignee"]) == ("supervisor", None)
        assert [t["task"] for t in rt.tasks(user="supervisor1")] == ["supervisor_assist"]
        walk.do("supervisor_assist", "supervisor1", assist_note="协调计调部加开返程座位",
                promise_content="两天内确认改签结果", promised_at=iso(promised))
        assert set(walk.open_tasks()) == {"close_and_register"}
        walk.do("close_and_register", "agent2", redirect_channel="呼叫中心电话", register_note="改签待计调确认，需跟进",
                follow_up_needed=True)
    [record] = contact_records(rt)
    assert (record.outcome, record.desk, record.handled_by) == ("escalated", "旅游", "agent2")
    assert record.details["promised_at"] == iso(promised)
    assert record.details["follow_up_needed"] is True
    task = walk.open_tasks()["resolve_by_promise"]
    assert (task["lane"], task["assignee"]) == ("agent", "agent2")
    assert task["due_at"] == promised.strftime("%Y-%m-%dT%H:%M:%SZ"), "the promised time is the task's due date"
    assert [j.task for j in jobs(rt, walk.id) if j.state == "pending"] == ["promise_overdue"]
    assert rt.tick(promised - timedelta(minutes=1)) == []
    with frozen_at(promised - timedelta(hours=3)):
        walk.do("resolve_by_promise", "agent2", promise_resolution="已改签至12月3日返程", customer_informed=True)
    assert walk.status() == "completed"
    walk.assert_path(PATHS["promise_kept"] - {"no_follow_up"} | FOLLOW_UP_FLOWS)  # follow_up_needed: a follow-up too
    assert rt.tick(promised + timedelta(hours=1)) == [], "the timer ended with its task"
    assert "sla_breached" not in walk.kinds()
    assert [j.state for j in jobs(rt, walk.id)] == ["cancelled"]
    [record] = contact_records(rt)
    assert record.outcome == "promise_kept"
    assert record.details["promise_breached"] is False
    assert record.details["promise_resolution"] == "已改签至12月3日返程"
    assert len(contact_records(rt)) == 1, "the promise updates the archived record; it adds no row"


def test_a_promise_not_kept_in_time_is_breached_and_chased_by_the_supervisor(call_runtime):
    rt = call_runtime
    start = utcnow().replace(microsecond=0)
    promised = start + timedelta(hours=4)
    with frozen_at(start):
        walk = incoming_call(rt, "CALL-0006", desk="自由行", caller="13700001111")
        walk.do("call_opening", "agent3", request_type="建议", request_summary="建议三亚自由行增加接送机")
        refuse_until_supervisor(walk, "agent3")
        walk.do("supervisor_assist", "supervisor1", assist_note="联系产品经理评估", promise_content="4小时内回复",
                promised_at=iso(promised))
        walk.do("close_and_register", "agent3", **CLOSING)
    fired = rt.tick(promised + timedelta(seconds=1))
    assert [f["timer"] for f in fired] == ["promise_overdue"]
    breach = walk.events("sla_breached")
    assert [(e["payload"]["task"], e["payload"]["timer"]) for e in breach] == [("resolve_by_promise", "promise_overdue")]
    tasks = walk.open_tasks()
    assert set(tasks) == {"resolve_by_promise", "chase_promise"}, "non-interrupting: the agent's task stays open"
    assert tasks["chase_promise"]["lane"] == "supervisor"
    assert rt.tick(promised + timedelta(days=1)) == [], "a timer fires once"
    walk.do("chase_promise", "supervisor1", chase_action="已督促坐席当日回复客户")
    with frozen_at(promised + timedelta(hours=2)):
        walk.do("resolve_by_promise", "agent3", promise_resolution="已答复：可加购接送机", customer_informed=True)
    assert walk.status() == "completed"
    walk.assert_path(PATHS["promise_breached"])
    [record] = contact_records(rt)
    assert (record.outcome, record.details["promise_breached"]) == ("promise_late", True)


def test_the_agent_decides_when_the_supervisor_is_brought_in(call_runtime):
    """经努力客户仍不接受时: no fixed number of refusals routes by itself; the agent chooses."""
    walk = incoming_call(call_runtime, "CALL-0007", max_refusals=1)  # an old start field: ignored
    walk.do("call_opening", "agent1", **OPENING)
    for n in (1, 2, 3):
        offer(walk, "agent1", accepted=False, n=n, next_step=OFFER_AGAIN)
        assert set(walk.open_tasks()) == {"make_solution"}, f"refusal {n} + 再次提供: the agent offers again"
    assert walk.open_tasks()["make_solution"]["summary"]["offer_round"] == 4
    offer(walk, "agent1", accepted=True, n=4)
    assert set(walk.open_tasks()) == {"solve_problem"}
    assert [(o["round"], o["next_step"]) for o in walk.data()["offers"]] == [
        (1, OFFER_AGAIN), (2, OFFER_AGAIN), (3, OFFER_AGAIN), (4, None)]
    first = incoming_call(call_runtime, "CALL-0016")
    first.do("call_opening", "agent1", **OPENING)
    offer(first, "agent1", accepted=False, n=1, next_step=ASK_SUPERVISOR)
    assert set(first.open_tasks()) == {"supervisor_assist"}, "a first refusal may go to the supervisor at once"
    assert first.data()["refusals"] == 1


def test_a_complaint_during_the_call_starts_complaint_handling_and_the_call_goes_on(with_complaints):
    rt = with_complaints
    walk = incoming_call(rt, "CALL-0008", desk="旅游", caller="13801234567")
    walk.do("call_opening", "agent2", request_type="投诉", request_summary="云南团酒店与合同不符")
    assert set(walk.open_tasks()) == {"record_complaint"}
    complaint = {"customer_name": "张建国", "time_class": "旅游后", "kind": "住宿餐饮",
                 "complaint_description": "云南团第三晚酒店降级，空调损坏", "customer_request": "退还差价并道歉",
                 "tour_id": "YN-2026-1118"}
    walk.do("record_complaint", "agent2", **complaint)
    [sent] = walk.events("message_sent")
    assert (sent["payload"]["name"], sent["payload"]["key"], sent["payload"]["started"]) == (
        "complaint_received", "complaint-CALL-0008", True)
    p6_id = sent["payload"]["delivered_to"]
    p6 = rt.show(p6_id)
    assert (p6["process"], p6["business_key"], p6["status"]) == ("complaint_handling", "complaint-CALL-0008", "running")
    expected = {"customer_name": "张建国", "contact_phone": "13801234567", "time_class": "旅游后", "kind": "住宿餐饮",
                "description": complaint["complaint_description"], "customer_request": "退还差价并道歉",
                "tour_id": "YN-2026-1118"}
    assert {k: p6["data"][k] for k in expected} == expected
    assert datetime.fromisoformat(p6["data"]["complaint_at"]) <= utcnow()
    received = next(e for e in rt.events(p6_id) if e["kind"] == "message_received")
    assert (received["payload"]["name"], received["payload"]["from_instance"]) == ("complaint_received", walk.id)
    [receive] = rt.tasks(instance_id=p6_id)
    assert (receive["task"], receive["lane"]) == ("receive_complaint", "staff")
    assert receive["due_at"] is not None, "the 1-hour rule runs in complaint_handling"
    rt.complete(receive["id"], "agent2", {**{k: p6["data"][k] for k in expected}, "complaint_at": p6["data"]["complaint_at"],
                                          "involves_multiple_departments": False, "escalated_to_authority": False})
    assert {t["task"] for t in rt.tasks(instance_id=p6_id)} == {"investigate_facts"}

    assert set(walk.open_tasks()) == {"make_solution"}, "the call goes on to its close"
    walk.do("make_solution", "agent2", solution_kind="投诉建议解决方案", solution="致歉并告知质检培训部将在1小时内受理",
            customer_accepted=True)
    walk.do("solve_problem", "agent2", resolution_note="已安抚客户并转质检培训部")
    walk.do("close_and_register", "agent2", **CLOSING)
    assert walk.status() == "completed"
    walk.assert_path(PATHS["complaint"])
    [record] = contact_records(rt)
    assert (record.request_type, record.details["complaint_key"], record.details["customer_name"]) == (
        "投诉", "complaint-CALL-0008", "张建国")


def test_bad_form_data_is_refused_with_the_field_named(call_runtime):
    rt = call_runtime
    walk = incoming_call(rt, "CALL-0009")
    opening = walk.open_tasks()["call_opening"]["id"]
    with pytest.raises(FormInvalid) as bad:
        rt.complete(opening, "agent1", {**OPENING, "request_type": "闲聊"})
    assert bad.value.field == "request_type"
    with pytest.raises(FormInvalid) as missing:
        rt.complete(opening, "agent1", {"request_type": "咨询"})
    assert missing.value.field == "request_summary"
    with pytest.raises(FormInvalid) as extra:
        rt.complete(opening, "agent1", {**OPENING, "mood": "angry"})
    assert extra.value.field == "mood"
    walk.do("call_opening", "agent1", **OPENING)
    solution = walk.open_tasks()["make_solution"]["id"]
    with pytest.raises(FormInvalid) as reason:
        rt.complete(solution, "agent1", {"solution_kind": "业务咨询解决方案", "solution": "方案一", "customer_accepted": False,
                                         "next_step": OFFER_AGAIN})
    assert reason.value.field == "refusal_reason", "a refusal must say why"
    with pytest.raises(FormInvalid) as choice:
        rt.complete(solution, "agent1", {"solution_kind": "业务咨询解决方案", "solution": "方案一", "customer_accepted": False,
                                         "refusal_reason": "太贵"})
    assert choice.value.field == "next_step", "after a refusal the agent says what comes next"
    refuse_until_supervisor(walk, "agent1")
    assist = walk.open_tasks()["supervisor_assist"]["id"]
    with pytest.raises(FormInvalid) as when:
        rt.complete(assist, "supervisor1", {"assist_note": "协调", "promise_content": "明天答复", "promised_at": "明天下午"})
    assert when.value.field == "promised_at"
    assert walk.kinds().count("task_completed") == 3, "refused attempts write nothing"


def test_wrong_lane_wrong_desk_and_someone_elses_call_are_refused(call_runtime):
    rt = call_runtime
    walk = incoming_call(rt, "CALL-0010")
    opening = walk.open_tasks()["call_opening"]["id"]
    with pytest.raises(NotAllowed, match="does not hold lane 'agent'"):
        rt.complete(opening, "receptionist1", OPENING)
    with pytest.raises(NotAllowed, match="belongs to desk 邮轮; agent2 works at desk 旅游"):
        rt.complete(opening, "agent2", OPENING)
    walk.do("call_opening", "agent1", **OPENING)
    refuse_until_supervisor(walk, "agent1")
    assist = walk.open_tasks()["supervisor_assist"]["id"]
    with pytest.raises(NotAllowed, match="does not hold lane 'supervisor'"):
        rt.complete(assist, "agent1", {"assist_note": "x", "promise_content": "yy", "promised_at": iso(utcnow())})


def test_with_no_agent_free_the_call_waits_in_the_desk_queue(call_runtime):
    rt = call_runtime
    from handlers.domain.models import AgentStatus

    with rt.db.write() as session, session.begin():
        session.get(AgentStatus, "agent1").status = "busy"
    walk = incoming_call(rt, "CALL-0011")
    task = walk.open_tasks()["call_opening"]
    assert task["assignee"] is None and walk.data()["assigned_agent"] is None
    assert [t["id"] for t in rt.tasks(user="agent1")] == [task["id"]], "the desk still sees it"
    assert rt.tasks(user="agent2") == []
    rt.claim(task["id"], "agent1")
    walk.do("call_opening", "agent1", **OPENING)


def test_calls_go_to_the_agent_with_the_fewest_open_calls(call_runtime):
    rt = call_runtime
    from engine.access.users import create_user
    from handlers.domain.models import AgentStatus

    with rt.db.write() as session, session.begin():
        create_user(session, "agent4", "agent4", ["agent", "staff"], attributes={"desk": "邮轮"})
        session.add(AgentStatus(username="agent4", desk="邮轮", status="available", updated_at=datetime(2026, 1, 1, tzinfo=UTC)))
    first = incoming_call(rt, "CALL-0012")
    second = incoming_call(rt, "CALL-0013")
    third = incoming_call(rt, "CALL-0014")
    assert [w.data()["assigned_agent"] for w in (first, second, third)] == ["agent1", "agent4", "agent1"]
    assert third.data()["routing"]["candidates"] == {"agent1": 1, "agent4": 1}


def test_archive_and_promise_handlers_write_once_per_step(call_runtime):
    """A retried step calls its handler again with the same idempotency key: nothing is written twice."""
    rt = call_runtime
    promised = utcnow().replace(microsecond=0) + timedelta(days=1)
    walk = incoming_call(rt, "CALL-0015")
    walk.do("call_opening", "agent1", **OPENING)
    refuse_until_supervisor(walk, "agent1")
    walk.do("supervisor_assist", "supervisor1", assist_note="协调", promise_content="明天答复", promised_at=iso(promised))
    walk.do("close_and_register", "agent1", **CLOSING)
    walk.do("resolve_by_promise", "agent1", promise_resolution="已答复", customer_informed=True)
    [record] = contact_records(rt)
    data = walk.data()
    kept_at = record.details["promise_kept_at"]

    def ctx(session, key: str, now: datetime) -> HandlerContext:
        return HandlerContext(session=session, now=now, instance_id=walk.id, process_id="inbound_call",
                              task_id=key.split(":")[1], task_spec="archive_call", idempotency_key=key, attempt=2,
                              data=data)

    later = utcnow() + timedelta(days=3)
    with rt.db.write() as session, session.begin():
        again = contact_archive(ctx(session, record.idempotency_key, later), channel="inbound_call")
        assert again["contact_record_id"] == record.id
        kept = contact_promise_kept(ctx(session, record.details["promise_kept_key"], later), record_id=record.id)
        assert (kept["outcome"], kept["promise_breached"]) == ("promise_kept", False)
    [same] = contact_records(rt)
    assert (same.outcome, same.details["promise_kept_at"], same.archived_at) == ("promise_kept", kept_at, record.archived_at)
    with rt.db.write() as session, session.begin():
        other = contact_archive(ctx(session, f"{walk.id}:another-step", later), channel="inbound_call")
    assert other["contact_record_id"] != record.id, "the key is the step's, not the instance's"
    assert len(contact_records(rt)) == 2
    assert [name for name in ("call_answer", "call_system_wrap_up", "assign_agent", "lookup_customer", "contact_end",
                              "chat_auto_close") if handler_writes(get_handler(name))] == [], "read-only handlers"
    assert handler_writes(get_handler("contact_archive")) and handler_writes(get_handler("contact_promise_kept"))


def test_the_scenarios_cover_every_sequence_flow():
    flows, _nodes, _boundaries = diagram(BPMN)
    declared = set().union(*PATHS.values())
    assert declared - set(flows) == set(), "a scenario names a flow the diagram does not have"
    assert set(flows) - declared == set(), "flows no scenario walks"
