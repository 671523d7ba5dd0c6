"""P2 outbound_call: a plan, one call per target customer (multi-instance), the campaign summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engine.clock import frozen_at
from engine.errors import FormInvalid, NotAllowed
from engine.plugins.handlers import HandlerContext, handler_writes
from engine.store.models import Job
from handlers.domain.models import ContactRecord
from handlers.outbound import archive_call, gather_outcomes
from tests.support.flows import sequence_flows, taken_flows
from tests.support.outbound_call import BPMN, FOLLOW_UP, PLAN, T0, set_setting
from tests.support.world import deploy

# ---- walking an outbound plan ------------------------------------------------------------------

class Campaign:
    def __init__(self, runtime, agent="agent2", **plan):
        self.rt = runtime
        self.agent = agent
        self.id = runtime.start("outbound_call", actor=agent)
        [task] = runtime.tasks(instance_id=self.id)
        assert task["task"] == "make_call_plan" and task["lane"] == "agent"
        runtime.complete(task["id"], agent, {**PLAN, **plan})

    def open(self) -> list[dict]:
        return self.rt.tasks(instance_id=self.id)

    def task_for(self, customer: str, task: str) -> dict:
        found = [t for t in self.open() if t["task"] == task and t["summary"].get("customer_name") == customer]
        assert len(found) == 1, f"{task} for {customer}: {[(t['task'], t['summary']) for t in self.open()]}"
        return found[0]

    def do(self, customer: str, task: str, **data):
        return self.rt.complete(self.task_for(customer, task)["id"], self.agent, data)

    def status(self) -> str:
        return self.rt.show(self.id)["status"]

    def data(self) -> dict:
        return self.rt.show(self.id)["data"]


def _records(runtime, instance_id) -> list[ContactRecord]:
    with runtime.db.read() as session:
        return list(session.execute(select(ContactRecord).where(ContactRecord.instance_id == instance_id)
                                    .order_by(ContactRecord.customer_id)).scalars())


@pytest.fixture
def outbound(runtime):
    deploy(runtime, BPMN)
    return runtime


def walk_mixed_campaign(rt) -> int:
    """Three customers: goal achieved after one optimised plan, no intention, and a redial that ends
    in a refused plan; an unknown target is reported. The agency set a two-hour redial wait."""
    set_setting(rt, "outbound_call", {"redial_after_minutes": 120})
    with frozen_at(T0):
        c = Campaign(rt)
        dials = c.open()
        assert sorted(t["summary"]["customer_name"] for t in dials) == ["张建国", "李秀英", "王小明"]
        assert {t["task"] for t in dials} == {"dial_customer"}
        assert all(t["summary"]["desk"] == "旅游" and t["due_at"] == "2026-11-27T10:00:00Z" for t in dials), \
            "a call is due by the end of the plan's time window"
        assert c.task_for("李秀英", "dial_customer")["summary"]["contact_phone"] == "13912345678"
        # 张建国: interested in the second, optimised plan
        c.do("张建国", "dial_customer", answered=True, redial_later=False, has_intention=True, customer_needs="十二月想带父母去云南")
        c.do("张建国", "make_service_plan", service_plan="云南7日跟团游标准团", offered_product_code="TR-YN-7",
             plan_quote=7798, customer_interested=False, optimise_again=True)
        c.do("张建国", "make_service_plan", service_plan="云南7日游升级酒店、老人优惠", offered_product_code="TR-YN-7",
             plan_quote=7200, customer_interested=True, optimise_again=False)
        c.do("张建国", "wrap_up_call", call_summary="客户同意报名，待确认出发日期", follow_up_needed=True,
             next_contact_at="2026-11-26T10:00:00+08:00")
        # 李秀英: no need after repeated guidance
        c.do("李秀英", "dial_customer", answered=True, redial_later=False, has_intention=False)
        c.do("李秀英", "record_reasons", reason_category="暂无出行计划", reason_detail="近期工作忙，明年春天再考虑")
        c.do("李秀英", "wrap_up_call", call_summary="礼貌结束，明年春季再联系")
        # 王小明: no answer, call again two hours later
        c.do("王小明", "dial_customer", answered=False, has_intention=False, redial_later=True)
        assert [t["task"] for t in c.open()] == [], "the redial waits for its timer"
    assert rt.tick(T0 + timedelta(hours=1)) == []
    fired = rt.tick(T0 + timedelta(hours=2, seconds=1))
    assert [f["timer"] for f in fired] == ["redial_wait"]
    with frozen_at(T0 + timedelta(hours=3)):
        c.do("王小明", "dial_customer", answered=True, redial_later=False, has_intention=True, customer_needs="考虑三亚")
        c.do("王小明", "make_service_plan", service_plan="三亚5天4晚机票+酒店", plan_quote=4299,
             customer_interested=False, optimise_again=False)
        c.do("王小明", "record_reasons", reason_category="价格因素", reason_detail="觉得价格偏高，已在其他平台比价")
        assert c.status() == "running"
        c.do("王小明", "wrap_up_call", call_summary="客户暂不考虑")
    [summary] = c.open()
    assert (summary["task"], summary["lane"], summary["summary"]["desk"]) == ("track_and_analyse", "agent", "旅游")
    report = c.data()["campaign_report"]
    assert (report["total_targets"], report["called"], report["unknown_targets"]) == (3, 3, ["999"])
    assert report["by_outcome"] == {"achieved": 1, "not_interested": 1, "no_intention": 1, "no_answer": 0,
                                    "not_called": 0}
    assert report["success_rate"] == round(1 / 3, 4)
    assert {(call["customer_name"], call["outcome_label"]) for call in report["calls"]} == {
        ("张建国", "目标达成"), ("李秀英", "无需求和意向"), ("王小明", "最终不满意服务方案")}
    assert report["not_called"] == []
    assert set(c.data()["call_results"]) == {"1", "2", "3"}, "one result per target, keyed by customer id"
    with frozen_at(T0 + timedelta(hours=4)):
        rt.complete(summary["id"], "agent2", {
            "goal_met": False, "success_tracking": "张建国：11月26日确认出发日期并发送行程",
            "failure_analysis": "价格敏感客户占比高", "improvements": "下次呼出前先准备老客户专享价"})
    assert c.status() == "completed"
    return c.id


def walk_unanswered_and_window_closed(rt) -> int:
    """One customer never answers (no redial); the other is still undialled when the window closes."""
    with frozen_at(T0):
        c = Campaign(rt, target_customers=["4", "5"], window_end="2026-11-25T18:00:00+08:00")
        c.do("赵雪", "dial_customer", answered=False, has_intention=False, redial_later=False)
        assert [t["summary"]["customer_name"] for t in c.open()] == ["孙立伟"]
    assert rt.tick(datetime(2026, 11, 25, 9, 59, tzinfo=UTC)) == []
    fired = rt.tick(datetime(2026, 11, 25, 10, 0, 1, tzinfo=UTC))  # 18:00:01 in Shanghai
    assert [f["timer"] for f in fired] == ["window_closed"]
    [summary] = c.open()
    assert summary["task"] == "track_and_analyse"
    report = c.data()["campaign_report"]
    assert report["by_outcome"]["no_answer"] == 1 and report["by_outcome"]["not_called"] == 1
    assert report["not_called"] == [{"customer_id": 5, "customer_name": "孙立伟", "phone": "13522223333"}]
    rt.complete(summary["id"], "agent2", {"goal_met": False, "success_tracking": "无",
                                          "failure_analysis": "时间窗太短", "improvements": "延长沟通时间"})
    assert c.status() == "completed"
    return c.id


def test_mixed_campaign_archives_one_record_per_customer(outbound):
    rt = outbound
    instance_id = walk_mixed_campaign(rt)
    records = _records(rt, instance_id)
    assert [(r.customer_id, r.channel, r.outcome) for r in records] == [
        (1, "outbound_call", "achieved"), (2, "outbound_call", "no_intention"), (3, "outbound_call", "not_interested")]
    assert {(r.handled_by, r.desk, r.request_type) for r in records} == {("agent2", "旅游", "新产品推介")}
    zhang, li, wang = records
    assert zhang.contact == "13801234567" and zhang.details["follow_up_needed"] is True
    assert zhang.details["service_plan"] == "云南7日游升级酒店、老人优惠", "the plan the customer took"
    assert li.details["reason_category"] == "暂无出行计划"
    assert wang.details["reason_detail"] == "觉得价格偏高，已在其他平台比价"
    assert wang.started_at == (T0 + timedelta(hours=3))
    events = rt.events(instance_id)
    assert [e["kind"] for e in events].count("handler_called") == 6  # load + redial interval + 3 archives + gather
    assert [e["payload"]["task"] for e in events if e["kind"] == "task_completed"].count("make_service_plan") == 3


def test_unanswered_call_and_closed_window(outbound):
    rt = outbound
    instance_id = walk_unanswered_and_window_closed(rt)
    [record] = _records(rt, instance_id)
    assert (record.customer_id, record.outcome, record.summary) == (4, "no_answer", "未接通")
    assert "sla_breached" not in [e["kind"] for e in rt.events(instance_id)], "the window is a deadline, not an SLA"


def test_a_plan_whose_window_has_passed_goes_straight_to_the_summary(outbound):
    rt = outbound
    with frozen_at(T0):
        c = Campaign(rt, target_customers=["1", "2"], window_end="2026-11-23T18:00:00+08:00")
    [summary] = c.open()
    assert summary["task"] == "track_and_analyse"
    assert c.data()["campaign_report"]["by_outcome"]["not_called"] == 2
    assert _records(rt, c.id) == []


def test_calls_open_when_the_time_window_starts(outbound):
    rt = outbound
    with frozen_at(T0):
        c = Campaign(rt, target_customers=["1"], window_start="2026-11-24T14:00:00+08:00")
    assert c.open() == [] and c.status() == "running"
    assert rt.tick(datetime(2026, 11, 24, 5, 59, tzinfo=UTC)) == []
    assert [f["timer"] for f in rt.tick(datetime(2026, 11, 24, 6, 0, 1, tzinfo=UTC))] == ["window_open"]
    assert [t["task"] for t in c.open()] == ["dial_customer"]


def test_a_plan_with_no_known_customer_goes_to_the_summary(outbound):
    rt = outbound
    with frozen_at(T0):
        c = Campaign(rt, target_customers=["999", "13000000000"])
    [summary] = c.open()
    assert summary["task"] == "track_and_analyse"
    report = c.data()["campaign_report"]
    assert (report["total_targets"], report["unknown_targets"], report["success_rate"]) == (
        0, ["999", "13000000000"], 0.0)


def test_a_redial_due_after_the_window_closed_is_archived_unanswered(outbound):
    rt = outbound
    set_setting(rt, "outbound_call", {"redial_after_minutes": 120})
    with frozen_at(datetime(2026, 11, 25, 9, 0, tzinfo=UTC)):  # 17:00 in Shanghai, window ends at 18:00
        c = Campaign(rt, target_customers=["3"], window_end="2026-11-25T18:00:00+08:00")
        c.do("王小明", "dial_customer", answered=False, has_intention=False, redial_later=True)
    fired = rt.tick(datetime(2026, 11, 25, 11, 5, tzinfo=UTC))
    assert [f["timer"] for f in fired] == ["redial_wait"]
    [summary] = c.open()
    assert summary["task"] == "track_and_analyse", "no call is offered after the window closed"
    [record] = _records(rt, c.id)
    assert (record.outcome, record.handled_by) == ("no_answer", None)
    assert c.data()["campaign_report"]["by_outcome"]["no_answer"] == 1


def test_a_customer_named_twice_is_called_once(outbound):
    rt = outbound
    with frozen_at(T0):
        c = Campaign(rt, target_customers=["1", "13801234567", "2"])
    assert sorted(t["summary"]["customer_name"] for t in c.open()) == ["张建国", "李秀英"]


def test_the_window_closes_at_exactly_its_end(outbound):
    rt = outbound
    with frozen_at(T0):
        c = Campaign(rt, target_customers=["5"], window_end="2026-11-25T18:00:00+08:00")
    assert [f["timer"] for f in rt.tick(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))] == ["window_closed"]
    assert [t["task"] for t in c.open()] == ["track_and_analyse"]
    fired = [e["payload"]["timer"] for e in rt.events(c.id) if e["kind"] == "timer_fired"]
    assert fired == ["window_open", "window_closed"], "the open window (already due when reached), then its end"


def test_calls_are_for_the_plans_desk_only(outbound):
    rt = outbound
    with frozen_at(T0):
        c = Campaign(rt)
    mine = {t["id"] for t in rt.tasks(user="agent2")}
    assert {t["id"] for t in c.open()} <= mine
    assert rt.tasks(user="agent1") == [] and rt.tasks(user="agent3") == [], "cruise and free-travel desks see none"
    with pytest.raises(NotAllowed, match="belongs to desk 旅游; agent1 works at desk 邮轮"):
        rt.complete(c.task_for("张建国", "dial_customer")["id"], "agent1", {"answered": False, "has_intention": False, "redial_later": False})


def test_bad_plans_and_call_forms_are_refused_with_the_field(outbound):
    rt = outbound
    instance_id = rt.start("outbound_call", actor="agent2")
    [plan] = rt.tasks(instance_id=instance_id)
    for bad, field in [({**PLAN, "target_customers": []}, "target_customers"),
                       ({**PLAN, "target_customers": ["12ab"]}, "target_customers"),
                       ({**PLAN, "desk": "国内游"}, "desk"),
                       ({k: v for k, v in PLAN.items() if k != "window_end"}, "window_end"),
                       ({**PLAN, "window_start": "明天上午"}, "window_start"),
                       ({**PLAN, "caller": "agent2"}, "caller")]:
        with pytest.raises(FormInvalid) as refused:
            rt.complete(plan["id"], "agent2", bad)
        assert refused.value.field == field
    with pytest.raises(NotAllowed, match="does not hold lane 'agent'"):
        rt.complete(plan["id"], "sales1", PLAN)
    with pytest.raises(NotAllowed):
        rt.complete(plan["id"], "qc1", PLAN)
    with pytest.raises(NotAllowed):
        rt.start("outbound_call", actor="receptionist1")
    with frozen_at(T0):
        rt.complete(plan["id"], "agent2", {**PLAN, "target_customers": ["1"]})
    [dial] = rt.tasks(instance_id=instance_id)
    for bad, field in [({"answered": True, "redial_later": False, "has_intention": True}, "customer_needs"),
                       ({"answered": True, "redial_later": True, "has_intention": False}, "redial_later"),
                       ({"answered": False, "redial_later": False, "has_intention": True, "customer_needs": "想去"}, "has_intention"),
                       ({}, "answered")]:
        with pytest.raises(FormInvalid) as refused:
            rt.complete(dial["id"], "agent2", bad)
        assert refused.value.field == field
    rt.complete(dial["id"], "agent2", {"answered": True, "redial_later": False, "has_intention": False})
    [reasons] = rt.tasks(instance_id=instance_id)
    with pytest.raises(FormInvalid) as refused:
        rt.complete(reasons["id"], "agent2", {"reason_category": "太贵", "reason_detail": "价格偏高了"})
    assert refused.value.field == "reason_category"
    rt.complete(reasons["id"], "agent2", {"reason_category": "价格因素", "reason_detail": "价格偏高了"})
    [wrap_up] = rt.tasks(instance_id=instance_id)
    with pytest.raises(FormInvalid) as refused:
        rt.complete(wrap_up["id"], "agent2", {"call_summary": "再联系", "follow_up_needed": True})
    assert refused.value.field == "next_contact_at"
    kinds = [e["kind"] for e in rt.events(instance_id)]
    assert kinds.count("task_completed") == 3, "refused forms write nothing"


def test_archiving_a_call_twice_writes_one_record(outbound):
    rt = outbound
    data = {"target": {"customer_id": 1, "customer_name": "张建国", "phone": "13801234567"}, "desk": "旅游",
            "purpose": "促销活动", "answered": True, "has_intention": True, "customer_interested": True,
            "call_summary": "已报名"}
    with rt.db.write() as session, session.begin():
        ctx = HandlerContext(session=session, now=T0, instance_id=4242, process_id="outbound_call",
                             task_id="t-1", task_spec="archive_call", idempotency_key="4242:t-1", attempt=1,
                             data=data)
        first = archive_call(ctx)
        again = archive_call(ctx)
        other = archive_call(HandlerContext(**{**ctx.__dict__, "idempotency_key": "4242:t-2", "task_id": "t-2"}))
    assert first == again and first["outcome"] == "achieved"
    assert other["contact_record_id"] != first["contact_record_id"]
    assert len(_records(rt, 4242)) == 2
    not_dialled = archive_call(HandlerContext(**{**ctx.__dict__, "data": {"target": data["target"]}}))
    assert not_dialled["outcome"] == "not_called" and not_dialled["contact_record_id"] is None
    assert not handler_writes(gather_outcomes), "the summary only reads"


def test_flow_history_names_only_the_flows_walked(outbound):
    rt = outbound
    with frozen_at(T0):
        c = Campaign(rt, target_customers=["2"])
        c.do("李秀英", "dial_customer", answered=True, redial_later=False, has_intention=False)
    taken = taken_flows(rt, c.id)
    assert taken == {"start_to_plan", "plan_to_load", "load_to_window_open", "window_open_to_calls", "merge_to_calls",
                     "call_start_to_dial", "dial_to_answered", "answered_to_intention", "no_intention_to_reasons"}


def test_every_sequence_flow_is_walked_by_a_test(outbound):
    rt = outbound
    taken = taken_flows(rt, walk_mixed_campaign(rt)) | taken_flows(rt, walk_unanswered_and_window_closed(rt))
    taken |= taken_flows(rt, walk_redial_at_once(rt)) | taken_flows(rt, walk_follow_up(rt))
    all_flows = set(sequence_flows(BPMN).values())
    assert len(all_flows) == 31
    assert all_flows - taken == set()


def walk_redial_at_once(rt) -> int:
    """Default settings (the documents give no redial rule): the agent may dial again at once."""
    set_setting(rt, "outbound_call", {})  # nothing set: the defaults apply
    with frozen_at(T0):
        c = Campaign(rt, target_customers=["3"])
        c.do("王小明", "dial_customer", answered=False, has_intention=False, redial_later=True)
        [again] = c.open()
        assert again["task"] == "dial_customer", "no automatic wait: the call is offered again at once"
        with rt.db.read() as session:
            assert [j.task for j in session.execute(select(Job).where(Job.instance_id == c.id)).scalars()
                    if j.state == "pending"] == ["window_closed"], "no redial timer"
        c.do("王小明", "dial_customer", answered=False, has_intention=False, redial_later=False)
    assert [t["task"] for t in c.open()] == ["track_and_analyse"]
    return c.id


def test_an_unanswered_call_can_be_dialled_again_at_once_by_default(outbound):
    rt = outbound
    instance_id = walk_redial_at_once(rt)
    fired = [e["payload"]["timer"] for e in rt.events(instance_id) if e["kind"] == "timer_fired"]
    assert fired == ["window_open"], "the window was open already; no redial timer fired"
    [record] = _records(rt, instance_id)
    assert record.outcome == "no_answer"


def walk_follow_up(rt, key: str = "follow-up-inbound_call-77") -> int:
    """A follow-up request: one call to the contact's customer at `next_contact_at`, linked to it."""
    with frozen_at(T0):
        result = rt.message("follow_up_requested", key, FOLLOW_UP)
    assert result["started"] is True
    instance_id = result["delivered_to"]
    assert rt.tasks(instance_id=instance_id) == [], "the follow-up waits for its time"
    assert rt.tick(datetime(2026, 11, 25, 1, 59, tzinfo=UTC)) == []
    fired = rt.tick(datetime(2026, 11, 25, 2, 0, 1, tzinfo=UTC))  # 10:00:01 in Shanghai
    assert [f["timer"] for f in fired] == ["follow_up_due"]
    [dial] = rt.tasks(instance_id=instance_id)
    assert (dial["task"], dial["lane"], dial["summary"]["customer_name"], dial["summary"]["desk"]) == (
        "dial_customer", "agent", "张建国", "邮轮")
    with frozen_at(datetime(2026, 11, 25, 2, 30, tzinfo=UTC)):
        rt.complete(dial["id"], "agent1", {"answered": True, "redial_later": False, "has_intention": True, "customer_needs": "确认舱位"})
        [plan] = rt.tasks(instance_id=instance_id)
        rt.complete(plan["id"], "agent1", {"service_plan": "歌诗达6天5晚阳台房", "customer_interested": True, "optimise_again": False})
        [wrap_up] = rt.tasks(instance_id=instance_id)
        rt.complete(wrap_up["id"], "agent1", {"call_summary": "客户确认报名", "follow_up_needed": False})
    return instance_id


def test_a_follow_up_request_calls_the_customer_at_the_time_and_keeps_the_link(outbound):
    rt = outbound
    instance_id = walk_follow_up(rt)
    shown = rt.show(instance_id)
    assert shown["business_key"] == "follow-up-inbound_call-77"
    assert (shown["data"]["source_process"], shown["data"]["source_instance_id"]) == ("inbound_call", 77)
    [record] = _records(rt, instance_id)
    assert (record.customer_id, record.outcome, record.desk, record.request_type) == (1, "achieved", "邮轮", "客户回访")
    assert (record.details["source_instance_id"], record.details["campaign_goal"]) == (
        77, "回访: 咨询十二月日本邮轮航线的舱位和价格")
    [summary] = rt.tasks(instance_id=instance_id)
    report = shown["data"]["campaign_report"]
    assert summary["task"] == "track_and_analyse" and report["total_targets"] == 1
    assert report["source"] == {"source_process": "inbound_call", "source_instance_id": 77,
                                "matter": "咨询十二月日本邮轮航线的舱位和价格"}


def test_a_follow_up_for_an_unknown_contact_calls_the_contact_as_given(outbound):
    rt = outbound
    payload = {**FOLLOW_UP, "customer_id": None, "customer_name": "", "contact_phone": "tb_wangxiaoli"}
    with frozen_at(T0):
        instance_id = rt.message("follow_up_requested", "follow-up-ecommerce_chat-5", payload)["delivered_to"]
    rt.tick(datetime(2026, 11, 25, 2, 0, 1, tzinfo=UTC))
    [dial] = rt.tasks(instance_id=instance_id)
    assert dial["summary"]["contact_phone"] == "tb_wangxiaoli"
