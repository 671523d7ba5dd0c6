"""P5 followup_call (after a tour) and followup_monthly_report (the month-end summary for QC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engine.clock import frozen_at
from engine.config import DEFAULT_PROCESSES_DIR
from engine.errors import FormInvalid, NotAllowed
from engine.plugins.handlers import HandlerContext, handler_writes
from engine.store.models import Job, ProcessInstance
from handlers.domain.models import FollowUp
from handlers.followup import gather_month, load_customer, save_followup
from tests.support.flows import diagram, sequence_flows, taken_flows
from tests.support.followup_call import HAPPY, TOUR_FINISHED
from tests.support.world import deploy

FOLLOWUP = DEFAULT_PROCESSES_DIR / "followup_call.bpmn"
MONTHLY = DEFAULT_PROCESSES_DIR / "followup_monthly_report.bpmn"
NOV_23 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
NOV_CLOSE = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # 18:00 in Shanghai, the month-end close
DEC_CLOSE = datetime(2026, 12, 31, 10, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)

PROBLEM = {"satisfaction": 2, "customer_situation": "西安行程基本顺利",
           "problems": "导游在第三天擅自增加两个购物点，压缩了华清池游览时间", "service_problem": True}


@pytest.fixture
def followups(complaint_runtime):
    deploy(complaint_runtime, FOLLOWUP)
    return complaint_runtime


def _followup_rows(rt) -> list[FollowUp]:
    with rt.db.read() as session:
        return list(session.execute(select(FollowUp).order_by(FollowUp.id)).scalars())


def _instances(rt, process_id) -> list[tuple[int, str | None]]:
    with rt.db.read() as session:
        return list(session.execute(select(ProcessInstance.id, ProcessInstance.business_key)
                                    .where(ProcessInstance.process_id == process_id)
                                    .order_by(ProcessInstance.id)).all())


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
    """Started by hand (the start message carries the form data); a service problem is recorded for QC."""
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


def test_a_service_problem_on_a_call_is_recorded_for_the_qc_summary_not_sent_on_its_own(followups):
    """Doc 000's flowchart: 回访并记录 → 定期发送回访表至质检培训部 → 质检培训部汇总 → 发现服务质量存在问题时
    重新进入质检培训部受理流程. The problem gateway is QC's, at the monthly summary; a call starts no P6."""
    rt = followups
    sender = walk_problem_found(rt)
    [row] = _followup_rows(rt)
    assert (row.branch_code, row.satisfaction, row.service_problem, row.problems) == (
        "HZ01", 2, True, PROBLEM["problems"])
    assert row.reported_in is None, "it waits for the month-end summary"
    assert [e for e in rt.events(sender) if e["kind"] == "message_sent"] == []
    assert _instances(rt, "complaint_handling") == []
    flows, _nodes, _boundaries = diagram(FOLLOWUP)
    assert "complaint_received" not in FOLLOWUP.read_text(encoding="utf-8")
    assert {target for _source, target in flows.values()} == {"load_followup_customer", "record_followup",
                                                              "save_followup", "followup_done"}


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
                       ({**PROBLEM, "problem_kind": "导游服务"}, "problem_kind"),  # QC's, not the call's
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
        october = gather_month(_ctx(session, "o", {}, now=NOV_CLOSE))
        report = gather_month(_ctx(session, "m", {}, now=DEC_CLOSE))
        again = gather_month(_ctx(session, "m", {}, now=DEC_CLOSE))
    assert (october["period"], october["followup_ids"]) == ("2026-10", []), "November's form waits for December's close"
    assert report == again and (report["period"], report["followup_ids"]) == ("2026-11", [first["followup_id"]])
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


def _close(rt, moment: datetime) -> int:
    """The month-end start timer fires at `moment`: the report instance, started by the system."""
    [fired] = [f for f in rt.tick(moment) if f["kind"] == "start_timer"]
    shown = rt.show(fired["instance_id"])
    assert (shown["process"], shown["started_by"]) == ("followup_monthly_report", "system")
    return fired["instance_id"]


def _quiet_summary(rt, report_id: int, at: datetime) -> None:
    [task] = rt.tasks(instance_id=report_id)
    assert (task["task"], task["lane"]) == ("qc_monthly_summary", "qc")
    with pytest.raises(NotAllowed):
        rt.complete(task["id"], "sales1", {"summary_note": "本月正常", "quality_problem_found": False})
    with frozen_at(at):
        rt.complete(task["id"], "qc1", {"summary_note": "各网点回访正常", "improvement_actions": "加强导游购物点管理培训",
                                        "quality_problem_found": False})
    assert rt.show(report_id)["status"] == "completed"


def walk_month_end_without_problem(rt) -> tuple[int, list[int]]:
    """Two follow-ups in November. November's close reports October (nothing due, nobody late);
    December's close reports November's two forms per branch; QC finds no problem."""
    followup_ids = [walk_tour_finished_satisfied(rt, at=NOV_23), walk_problem_found(rt, at=NOV_23 + timedelta(hours=3))]
    assert _pending_start(rt) == [NOV_CLOSE]
    assert [f for f in rt.tick(NOV_CLOSE - SECOND) if f["kind"] == "start_timer"] == []
    october_id = _close(rt, NOV_CLOSE)
    october = rt.show(october_id)["data"]["monthly_report"]
    assert (october["period"], october["total"], october["followup_ids"], october["late_branches"]) == (
        "2026-10", 0, [], []), "branches hand in LAST month's forms: November's wait for December's close"
    assert october["generated_at"] == "2026-11-30T18:00:00+08:00"
    assert {r.reported_in for r in _followup_rows(rt)} == {None}
    _quiet_summary(rt, october_id, NOV_CLOSE + timedelta(hours=16))
    assert _pending_start(rt) == [DEC_CLOSE], "next month's close is scheduled"
    report_id = _close(rt, DEC_CLOSE)
    report = rt.show(report_id)["data"]["monthly_report"]
    assert (report["period"], report["total"], report["avg_satisfaction"]) == ("2026-11", 2, 3.5)
    assert report["late_branches"] == [], "both November tours were followed up"
    branches = {b["branch_code"]: b for b in report["branches"]}
    assert set(branches) == {"SH01", "SH02", "HZ01", "DZ01"}, "a branch that sent no forms is listed too"
    assert (branches["SH01"]["count"], branches["SH01"]["avg_satisfaction"], branches["SH01"]["problems"]) == (1, 5.0, [])
    assert (branches["HZ01"]["count"], branches["HZ01"]["low_satisfaction"], branches["HZ01"]["service_problems"]) == (
        1, 1, 1)
    assert (branches["HZ01"]["tours_ended"], branches["HZ01"]["missing"], branches["HZ01"]["late"]) == (1, [], False)
    [problem] = branches["HZ01"]["problems"]
    assert (problem["customer_name"], problem["contact_phone"], problem["satisfaction"]) == ("李秀英", "13912345678", 2)
    assert (branches["DZ01"]["count"], branches["DZ01"]["avg_satisfaction"], branches["DZ01"]["late"]) == (0, None, False)
    assert {r.reported_in for r in _followup_rows(rt)} == {"2026-11"}
    _quiet_summary(rt, report_id, DEC_CLOSE + timedelta(hours=1))
    return report_id, followup_ids


FORWARDED = [
    {"customer_name": "李秀英", "contact_phone": "13912345678", "tour_id": "XA-2026-1102", "kind": "导游服务",
     "description": "杭州网点未回访，游客来电反映导游擅自增加购物点", "request": "核实并向游客道歉"},
    {"customer_name": "张建国", "contact_phone": "13801234567", "tour_id": "YN-2026-1118", "kind": "住宿餐饮",
     "description": "丽江酒店与合同标准不符", "request": "核实酒店标准并补偿差价"},
    {"customer_name": "张建国", "contact_phone": "13801234567", "kind": "行程安排",
     "description": "大理段自由活动时间被压缩", "request": "说明原因"},
]


def walk_month_end_with_problems(rt) -> tuple[int, int, list[int]]:
    """November: SH01 follows up its Yunnan tour, HZ01 never follows up the Xi'an tour that ended on
    November 6 (late); a December form waits. The report made on 2026-12-31 covers November, names
    HZ01, and QC forwards three problems: three complaint_handling instances."""
    november = walk_tour_finished_satisfied(rt, at=NOV_23)
    with frozen_at(datetime(2026, 12, 10, 2, 0, tzinfo=UTC)):
        december = rt.message("tour_finished", "HS-2026-1205", {
            "tour_id": "HS-2026-1205", "customer_id": 4, "customer_name": "赵雪", "phone": "13655556666",
            "branch_code": "SH01"})["delivered_to"]
        [task] = rt.tasks(instance_id=december)
        rt.complete(task["id"], "sales1", {"satisfaction": 1, "customer_situation": "黄山行程住宿差",
                                           "problems": "酒店与合同不符，房间潮湿"})
    october_id = _close(rt, NOV_CLOSE)
    _quiet_summary(rt, october_id, NOV_CLOSE + timedelta(hours=16))
    report_id = _close(rt, DEC_CLOSE)
    report = rt.show(report_id)["data"]["monthly_report"]
    [november_form] = [r for r in _followup_rows(rt) if r.tour_id == "YN-2026-1118"]
    assert (report["period"], report["total"], report["followup_ids"]) == ("2026-11", 1, [november_form.id])
    assert report["late_branches"] == ["HZ01"]
    branches = {b["branch_code"]: b for b in report["branches"]}
    assert (branches["HZ01"]["count"], branches["HZ01"]["tours_ended"], branches["HZ01"]["late"]) == (0, 1, True)
    assert branches["HZ01"]["missing"] == [{"tour_id": "XA-2026-1102", "customer_name": "李秀英",
                                            "branch_code": "HZ01", "ended_on": "2026-11-06"}]
    assert (branches["SH01"]["tours_ended"], branches["SH01"]["late"]) == (1, False)
    assert [r.reported_in for r in _followup_rows(rt) if r.tour_id == "HS-2026-1205"] == [None], \
        "December's form waits for January's close"
    [task] = rt.tasks(instance_id=report_id)
    with pytest.raises(FormInvalid) as refused:
        rt.complete(task["id"], "qc1", {"summary_note": "三个问题", "quality_problem_found": True})
    assert refused.value.field == "forwarded_problems"
    with pytest.raises(FormInvalid) as refused:
        rt.complete(task["id"], "qc1", {"summary_note": "三个问题", "quality_problem_found": True,
                                        "forwarded_problems": [{**FORWARDED[0], "kind": "天气"}]})
    assert refused.value.field == "forwarded_problems" and "天气" in str(refused.value)
    with frozen_at(DEC_CLOSE + timedelta(hours=1)):
        rt.complete(task["id"], "qc1", {"summary_note": "杭州网点迟交11月回访表；三个服务质量问题转受理",
                                        "late_branch_note": "已督促杭州武林营业部补交", "quality_problem_found": True,
                                        "forwarded_problems": FORWARDED})
    assert rt.show(report_id)["status"] == "completed"
    return report_id, october_id, [november, december]


def test_month_end_report_gathers_each_branch_and_marks_the_forms(monthly):
    walk_month_end_without_problem(monthly)


def test_the_report_on_december_31_covers_november_names_the_late_branch_and_forwards_every_problem(monthly):
    rt = monthly
    report_id, _october, _followups = walk_month_end_with_problems(rt)
    sent = [e["payload"] for e in rt.events(report_id) if e["kind"] == "message_sent"]
    assert [(m["name"], m["key"], m["started"]) for m in sent] == [
        ("complaint_received", f"followup-report-2026-11-{n}", True) for n in (1, 2, 3)]
    complaints = _instances(rt, "complaint_handling")
    assert [key for _id, key in complaints] == [f"followup-report-2026-11-{n}" for n in (1, 2, 3)]
    for (complaint_id, _key), problem in zip(complaints, FORWARDED, strict=True):
        data = rt.show(complaint_id)["data"]
        assert {k: data[k] for k in ("customer_name", "contact_phone", "kind", "description", "customer_request",
                                     "tour_id", "time_class", "complaint_at")} == {
            "customer_name": problem["customer_name"], "contact_phone": problem["contact_phone"],
            "kind": problem["kind"], "description": problem["description"], "customer_request": problem["request"],
            "tour_id": problem.get("tour_id", ""), "time_class": "旅游后",
            "complaint_at": "2026-12-31T18:00:00+08:00"}
        assert [t["task"] for t in rt.tasks(instance_id=complaint_id)] == ["receive_complaint"]


def test_every_sequence_flow_is_walked_by_a_test(monthly):
    rt = monthly
    problem_report, quiet_report, followup_ids = walk_month_end_with_problems(rt)
    followup_taken = set().union(*(taken_flows(rt, i) for i in followup_ids))
    assert set(sequence_flows(FOLLOWUP).values()) - followup_taken == set()
    quiet_taken = taken_flows(rt, quiet_report)
    assert "no_problem_to_done" in quiet_taken and "problem_to_forward" not in quiet_taken
    report_taken = quiet_taken | taken_flows(rt, problem_report)
    assert set(sequence_flows(MONTHLY).values()) - report_taken == set()
    assert len(sequence_flows(FOLLOWUP)) == 4 and len(sequence_flows(MONTHLY)) == 8
