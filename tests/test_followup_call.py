"""P5 followup_call (after a tour) and followup_monthly_report (the month-end summary for QC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engine.clock import frozen_at
from engine.config import DEFAULT_PROCESSES_DIR
from engine.errors import FormInvalid, NotAllowed
from engine.plugins.handlers import HandlerContext, handler_writes
from engine.store.models import Job
from handlers.domain.models import FollowUp
from handlers.followup import gather_month, load_customer, save_followup
from tests.support.flows import sequence_flows, taken_flows
from tests.support.followup_call import HAPPY, TOUR_FINISHED
from tests.support.world import deploy

FOLLOWUP = DEFAULT_PROCESSES_DIR / "followup_call.bpmn"
MONTHLY = DEFAULT_PROCESSES_DIR / "followup_monthly_report.bpmn"
NOV_23 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
NOV_CLOSE = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # 18:00 in Shanghai, the month-end close
DEC_CLOSE = datetime(2026, 12, 31, 10, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)

PROBLEM = {"satisfaction": 2, "customer_situation": "西安行程基本顺利",
           "problems": "导游在第三天擅自增加两个购物点，压缩了华清池游览时间", "service_problem": True,
           "problem_kind": "导游服务", "customer_request": "退还压缩游览的费用并道歉"}


@pytest.fixture
def followups(complaint_runtime):
    deploy(complaint_runtime, FOLLOWUP)
    return complaint_runtime


def _followup_rows(rt) -> list[FollowUp]:
    with rt.db.read() as session:
        return list(session.execute(select(FollowUp).order_by(FollowUp.id)).scalars())


def _kinds(rt, instance_id) -> list[str]:
    return [e["kind"] for e in rt.events(instance_id)]


def walk_tour_finished_satisfied(rt, at=NOV_23) -> int:
    """The tour process says a tour ended; sales calls, the customer is satisfied."""
    with frozen_at(at):
        started = rt.message("tour_finished", "YN-2026-1118", TOUR_FINISHED)
        assert started["started"] is True
        instance_id = started["delivered_to"]
        shown = rt.show(instance_id)
        assert (shown["process"], shown["business_key"]) == ("followup_call", "YN-2026-1118")
        who = shown["data"]["followup_customer"]
        assert who == {"customer_id": 1, "customer_name": "张建国", "phone": "13801234567", "level": "VIP",
                       "branch_code": "SH01", "branch_name": "上海人民广场营业部", "tour_id": "YN-2026-1118",
                       "booking_code": "BK20260001", "product": "云南昆明大理丽江 7日跟团游",
                       "depart_on": "2026-11-18", "party_size": 2}
        [task] = rt.tasks(instance_id=instance_id)
        assert (task["task"], task["lane"]) == ("record_followup", "sales")
        assert task["summary"] == {"customer_name": "张建国", "contact_phone": "13801234567", "tour_id": "YN-2026-1118"}
        rt.complete(task["id"], "sales1", HAPPY)
    assert rt.show(instance_id)["status"] == "completed"
    assert "message_sent" not in _kinds(rt, instance_id)
    return instance_id


def walk_problem_found(rt, at=NOV_23) -> int:
    """Started by hand (the start message carries the form data); a service problem goes to QC intake."""
    with frozen_at(at):
        instance_id = rt.start("followup_call", {"tour_id": "XA-2026-1102", "phone": "13912345678"},
                               actor="sales1", business_key="XA-2026-1102")
        who = rt.show(instance_id)["data"]["followup_customer"]
        assert (who["customer_name"], who["branch_code"], who["product"]) == ("李秀英", "HZ01", "西安兵马俑华清池 5日跟团游")
        [task] = rt.tasks(instance_id=instance_id)
        assert task["summary"]["customer_name"] == "李秀英", "the name is looked up from the phone"
        assert rt.tasks(user="sales1") == [], "an HZ01 customer's follow-up is the HZ01 branch's work"
        with pytest.raises(NotAllowed, match="belongs to branch HZ01; sales1 works at branch SH01"):
            rt.complete(task["id"], "sales1", PROBLEM)
        assert [t["id"] for t in rt.tasks(user="sales3")] == [task["id"]]
        rt.complete(task["id"], "sales3", PROBLEM)
    assert rt.show(instance_id)["status"] == "completed"
    return instance_id


def test_tour_finished_message_starts_a_followup_that_is_saved_once(followups):
    rt = followups
    instance_id = walk_tour_finished_satisfied(rt)
    [row] = _followup_rows(rt)
    assert (row.instance_id, row.tour_id, row.customer_id, row.customer_name, row.branch_code, row.sales) == (
        instance_id, "YN-2026-1118", 1, "张建国", "SH01", "sales1")
    assert (row.satisfaction, row.problems, row.service_problem, row.reported_in) == (5, "", False, None)
    assert row.called_at == NOV_23
    assert rt.show(instance_id)["data"]["followup_record"] == {
        "followup_id": row.id, "branch_code": "SH01", "called_at": "2026-11-23T02:00:00+00:00", "reported_in": None}
    assert _kinds(rt, instance_id)[:2] == ["instance_started", "message_received"]


def test_a_service_problem_starts_complaint_handling_with_the_followup_data(followups):
    rt = followups
    sender = walk_problem_found(rt)
    [row] = _followup_rows(rt)
    assert (row.branch_code, row.satisfaction, row.service_problem) == ("HZ01", 2, True)
    sent = next(e for e in rt.events(sender) if e["kind"] == "message_sent")
    assert (sent["payload"]["name"], sent["payload"]["key"], sent["payload"]["started"]) == (
        "complaint_received", f"followup-{row.id}", True)
    complaint = rt.show(sent["payload"]["delivered_to"])
    assert (complaint["process"], complaint["business_key"], complaint["status"]) == (
        "complaint_handling", f"followup-{row.id}", "running")
    expected = {"customer_name": "李秀英", "contact_phone": "13912345678", "complaint_at": "2026-11-23T02:00:00+00:00",
                "time_class": "旅游后", "kind": "导游服务", "description": PROBLEM["problems"],
                "customer_request": "退还压缩游览的费用并道歉", "tour_id": "XA-2026-1102"}
    assert {k: complaint["data"][k] for k in expected} == expected
    received = next(e for e in rt.events(complaint["id"]) if e["kind"] == "message_received")
    assert received["payload"]["from_instance"] == sender
    [intake] = rt.tasks(instance_id=complaint["id"])
    assert (intake["task"], intake["lane"]) == ("receive_complaint", "staff")
    assert intake["due_at"] == "2026-11-23T03:00:00Z", "the 1-hour reporting rule runs from the follow-up call"
    with frozen_at(NOV_23 + timedelta(minutes=20)):
        rt.complete(intake["id"], "sales1", {k: complaint["data"][k] for k in expected})
    [investigate] = rt.tasks(instance_id=complaint["id"])
    assert (investigate["task"], investigate["lane"]) == ("investigate_facts", "qc"), "after the tour: QC intake"


def test_bad_followup_forms_and_wrong_people_are_refused(followups):
    rt = followups
    with pytest.raises(NotAllowed, match="does not hold lane 'sales'"):
        rt.start("followup_call", {"tour_id": "YN-2026-1118", "customer_id": 1}, actor="agent1")
    instance_id = rt.start("followup_call", {"tour_id": "YN-2026-1118", "customer_id": 1}, actor="sales1")
    [task] = rt.tasks(instance_id=instance_id)
    for bad, field in [({**HAPPY, "satisfaction": 6}, "satisfaction"),
                       ({**HAPPY, "satisfaction": 0}, "satisfaction"),
                       ({**HAPPY, "satisfaction": "很好"}, "satisfaction"),
                       ({k: v for k, v in HAPPY.items() if k != "customer_situation"}, "customer_situation"),
                       ({**PROBLEM, "problem_kind": "天气"}, "problem_kind"),
                       ({k: v for k, v in PROBLEM.items() if k != "problem_kind"}, "problem_kind"),
                       ({k: v for k, v in PROBLEM.items() if k != "customer_request"}, "customer_request"),
                       ({**PROBLEM, "problems": "差"}, "problems"),
                       ({**HAPPY, "score": 5}, "score")]:
        with pytest.raises(FormInvalid) as refused:
            rt.complete(task["id"], "sales1", bad)
        assert refused.value.field == field, bad
    for user in ("agent1", "qc1", "receptionist1"):
        with pytest.raises(NotAllowed):
            rt.complete(task["id"], user, HAPPY)
    assert _followup_rows(rt) == []
    assert _kinds(rt, instance_id).count("task_completed") == 0


def test_a_followup_without_a_customer_is_an_incident_sales_can_resolve(followups):
    rt = followups
    instance_id = rt.start("followup_call", {"tour_id": "XA-2026-1102"}, actor="sales1")
    shown = rt.show(instance_id)
    assert shown["status"] == "error" and "customer_name" in shown["error"]
    incident = next(e for e in rt.events(instance_id) if e["kind"] == "incident_raised")
    assert (incident["payload"]["task"], incident["payload"]["business"], incident["payload"]["lane"]) == (
        "load_followup_customer", True, "sales")
    assert "retry_scheduled" not in _kinds(rt, instance_id), "retrying cannot find a customer"
    assert rt.tasks(instance_id=instance_id) == []
    rt.resolve_incident(instance_id, "sales1", "补录游客电话", {"phone": "13912345678"})
    assert rt.show(instance_id)["data"]["followup_customer"]["customer_name"] == "李秀英"
    [task] = rt.tasks(instance_id=instance_id)
    assert task["task"] == "record_followup"


def _ctx(session, key, data, now=NOV_23, instance_id=7001):
    return HandlerContext(session=session, now=now, instance_id=instance_id, process_id="followup_call",
                          task_id=key, task_spec="save_followup", idempotency_key=f"{instance_id}:{key}", attempt=1,
                          data=data)


def test_followup_and_month_handlers_write_once(runtime):
    data = {**HAPPY, "problems": "", "service_problem": False,
            "followup_customer": {"customer_id": 4, "customer_name": "赵雪", "branch_code": "SH01", "tour_id": "HS-1"}}
    with runtime.db.write() as session, session.begin():
        first = save_followup(_ctx(session, "a", data))
        assert save_followup(_ctx(session, "a", data)) == first
        report = gather_month(_ctx(session, "m", {}, now=NOV_CLOSE))
        again = gather_month(_ctx(session, "m", {}, now=NOV_CLOSE))
    assert report == again and report["followup_ids"] == [first["followup_id"]]
    [row] = _followup_rows(runtime)
    assert (row.reported_in, row.sales) == ("2026-11", "system"), "no person completed a task in this step"
    assert not handler_writes(load_customer)


# ---- the month-end report ------------------------------------------------------------------------

@pytest.fixture
def monthly(followups):
    with frozen_at(NOV_23):
        deploy(followups, MONTHLY)
    return followups


def _pending_start(rt) -> list[datetime]:
    with rt.db.read() as session:
        return [j.due_at for j in session.execute(
            select(Job).where(Job.kind == "start_timer", Job.state == "pending")).scalars()]


def walk_month_end_without_problem(rt) -> tuple[int, list[int]]:
    """Two follow-ups in November; the month-end close reports them per branch; QC finds no problem."""
    followup_ids = [walk_tour_finished_satisfied(rt, at=NOV_23), walk_problem_found(rt, at=NOV_23 + timedelta(hours=3))]
    assert _pending_start(rt) == [NOV_CLOSE]
    assert [f for f in rt.tick(NOV_CLOSE - SECOND) if f["kind"] == "start_timer"] == []
    [fired] = [f for f in rt.tick(NOV_CLOSE) if f["kind"] == "start_timer"]
    report_id = fired["instance_id"]
    shown = rt.show(report_id)
    assert (shown["process"], shown["started_by"]) == ("followup_monthly_report", "system")
    report = shown["data"]["monthly_report"]
    assert (report["period"], report["total"], report["avg_satisfaction"]) == ("2026-11", 2, 3.5)
    assert report["generated_at"] == "2026-11-30T18:00:00+08:00"
    branches = {b["branch_code"]: b for b in report["branches"]}
    assert set(branches) == {"SH01", "SH02", "HZ01", "DZ01"}, "a branch that sent no forms is listed too"
    assert (branches["SH01"]["count"], branches["SH01"]["avg_satisfaction"], branches["SH01"]["problems"]) == (1, 5.0, [])
    assert (branches["HZ01"]["count"], branches["HZ01"]["low_satisfaction"], branches["HZ01"]["service_problems"]) == (
        1, 1, 1)
    [problem] = branches["HZ01"]["problems"]
    assert (problem["customer_name"], problem["contact_phone"], problem["satisfaction"]) == ("李秀英", "13912345678", 2)
    assert (branches["DZ01"]["count"], branches["DZ01"]["avg_satisfaction"]) == (0, None)
    assert {r.reported_in for r in _followup_rows(rt)} == {"2026-11"}
    [task] = rt.tasks(instance_id=report_id)
    assert (task["task"], task["lane"]) == ("qc_monthly_summary", "qc")
    with pytest.raises(NotAllowed):
        rt.complete(task["id"], "sales1", {"summary_note": "本月正常", "quality_problem_found": False})
    with frozen_at(NOV_CLOSE + timedelta(hours=16)):
        rt.complete(task["id"], "qc1", {"summary_note": "两个网点共回访2人，杭州网点导游问题已转投诉处理",
                                        "improvement_actions": "加强导游购物点管理培训",
                                        "quality_problem_found": False})
    assert rt.show(report_id)["status"] == "completed"
    assert _pending_start(rt) == [DEC_CLOSE], "next month's close is scheduled"
    return report_id, followup_ids


def walk_month_end_with_problem(rt) -> int:
    """A December follow-up with a low score; QC finds a service-quality problem in December's report."""
    with frozen_at(datetime(2026, 12, 5, 2, 0, tzinfo=UTC)):
        instance_id = rt.message("tour_finished", "HS-2026-1205", {
            "tour_id": "HS-2026-1205", "customer_id": 4, "customer_name": "赵雪", "phone": "13655556666",
            "branch_code": "SH01"})["delivered_to"]
        [task] = rt.tasks(instance_id=instance_id)
        rt.complete(task["id"], "sales1", {"satisfaction": 1, "customer_situation": "黄山行程住宿差",
                                           "problems": "酒店与合同不符，房间潮湿"})
    [fired] = [f for f in rt.tick(DEC_CLOSE + SECOND) if f["kind"] == "start_timer"]
    report_id = fired["instance_id"]
    report = rt.show(report_id)["data"]["monthly_report"]
    assert (report["period"], report["total"]) == ("2026-12", 1), "November's forms are not reported again"
    [task] = rt.tasks(instance_id=report_id)
    with pytest.raises(FormInvalid) as refused:
        rt.complete(task["id"], "qc1", {"summary_note": "上海网点酒店问题", "quality_problem_found": True})
    assert refused.value.field == "problem_customer_name"
    with frozen_at(DEC_CLOSE + 2 * SECOND):  # QC at the close: the complaint's working hour has not run out
        rt.complete(task["id"], "qc1", {
            "summary_note": "上海网点酒店问题", "quality_problem_found": True, "problem_customer_name": "赵雪",
            "problem_contact_phone": "13655556666", "problem_tour_id": "HS-2026-1205", "problem_kind": "住宿餐饮",
            "problem_description": "黄山团酒店与合同标准不符，房间潮湿", "problem_request": "核实酒店标准并向游客补偿"})
    assert rt.show(report_id)["status"] == "completed"
    return report_id


def test_month_end_report_gathers_each_branch_and_marks_the_forms(monthly):
    walk_month_end_without_problem(monthly)


def test_month_end_problem_reenters_qc_intake(monthly):
    rt = monthly
    walk_month_end_without_problem(rt)
    report_id = walk_month_end_with_problem(rt)
    sent = next(e for e in rt.events(report_id) if e["kind"] == "message_sent")
    complaint = rt.show(sent["payload"]["delivered_to"])
    assert (complaint["process"], complaint["business_key"]) == ("complaint_handling", "followup-report-2026-12")
    assert {k: complaint["data"][k] for k in ("customer_name", "contact_phone", "kind", "time_class", "tour_id")} == {
        "customer_name": "赵雪", "contact_phone": "13655556666", "kind": "住宿餐饮", "time_class": "旅游后",
        "tour_id": "HS-2026-1205"}
    assert complaint["data"]["complaint_at"] == "2026-12-31T18:00:01+08:00", "when the report was made"
    assert [t["task"] for t in rt.tasks(instance_id=complaint["id"])] == ["receive_complaint"]


def test_every_sequence_flow_is_walked_by_a_test(monthly):
    rt = monthly
    quiet_report, followup_ids = walk_month_end_without_problem(rt)
    followup_taken = set().union(*(taken_flows(rt, i) for i in followup_ids))
    assert set(sequence_flows(FOLLOWUP).values()) - followup_taken == set()
    report_taken = taken_flows(rt, quiet_report) | taken_flows(rt, walk_month_end_with_problem(rt))
    assert set(sequence_flows(MONTHLY).values()) - report_taken == set()
    assert len(sequence_flows(FOLLOWUP)) == 7 and len(sequence_flows(MONTHLY)) == 6
