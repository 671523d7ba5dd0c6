"""Six weeks of finished work for the demo, so the KPI dashboard (/reports) has figures to show.

Everything runs through the real processes with the clock set back (engine.clock.frozen_at):
complaints taken in and solved locally or by QC (one reported late, which breaches the 1-hour
rule), calls answered and archived, follow-up calls after tours, desk bookings paid and served.
This week adds lodging complaints, so the early warning has something to flag. What is left
open waits for QC, not in a front-line inbox; no incident is raised, and the desk bookings take two seats of
the big restaurant on past dates, so the demo's browser walk-throughs see what they always saw.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.clock import CHINA, frozen_at, parse_iso_utc, utcnow
from engine.run import queries
from engine.run.runtime import Runtime
from handlers.domain.seed import CUSTOMERS as SEED_CUSTOMERS
from webapp.demo_users import BRANCH_SALES

# (days back, hour in China, kind, time class, how it ends: local / qc / open / late)
COMPLAINTS = [
    (40, 10, "导游服务", "旅游过程中", "local"), (37, 15, "行程安排", "旅游前", "qc"),
    (33, 11, "住宿餐饮", "旅游后", "qc"), (30, 9, "导游服务", "旅游过程中", "local"),
    (26, 14, "服务质量", "旅游前", "qc"), (23, 10, "导游服务", "旅游后", "late"),
    (19, 16, "行程安排", "旅游过程中", "local"), (15, 9, "服务质量", "旅游后", "qc"),
    (12, 11, "导游服务", "旅游过程中", "local"), (8, 15, "行程安排", "旅游前", "open"),
    (5, 10, "服务质量", "旅游过程中", "local"),
]
# minutes back: this week's rising kind (the open one waits for QC, not in a front-line inbox)
RECENT_LODGING = [(90, "旅游过程中", "local"), (60, "旅游过程中", "local"), (30, "旅游后", "open")]
CUSTOMERS = [("张建国", "13801234567"), ("李秀英", "13912345678"), ("王小明", "13700001111"), ("赵雪", "13655556666"),
             ("孙立伟", "13522223333"), ("周海燕", "13344445555"), ("吴志强", "13966667777")]
SEED_BRANCH_OF_PHONE = {phone: branch for _name, phone, _city, _level, branch in SEED_CUSTOMERS}
CALLS = [  # days back, hour, desk (None: the caller chose no desk), request type, summary
    (39, 10, "邮轮", "咨询", "咨询日本邮轮航线舱位"), (34, 14, "旅游", "业务办理", "修改云南团出行人信息"),
    (29, 9, None, None, ""), (25, 11, "自由行", "咨询", "三亚自由行酒店推荐"), (20, 16, "旅游", "咨询", "黄山团报名截止日期"),
    (16, 10, "邮轮", "建议", "建议增加邮轮儿童活动介绍"), (11, 15, "旅游", "咨询", "西安团是否含门票"),
    (6, 9, None, None, ""), (4, 14, "自由行", "业务办理", "清迈自由行改签"), (1, 10, "邮轮", "咨询", "东南亚邮轮签证"),
]
FOLLOWUPS = [(36, 5), (31, 4), (24, 4), (18, 3), (13, 5), (9, 2), (3, 4)]  # days back, score
BOOKINGS = [(27, "电话"), (17, "在线咨询"), (7, "到店")]  # days back, inquiry channel
LOCAL = {"resolved_locally": True, "local_action": "导游当场协调解决，游客认可"}
FILING = {"filing_note": "已在当地解决，报质检培训部备案"}
QC_STEPS = [
    ("investigate_facts", "qc1", {"facts": "经核实情况属实", "evidence": "游客陈述与导游记录"}),
    ("determine_responsibility", "qc1", {"responsible_department": "计调部", "responsible_person": "杨帆"}),
    ("make_handling_plan", "qc1", {"handling_plan": "致歉并退还差价", "compensation_amount": 200,
                                   "advance_payment": False, "serious_problem": False}),
    ("implement_plan", "operator1", {"solved": True, "implementation_note": "已退差价"}),
    ("feedback_result", "qc1", {"feedback": "已向游客说明处理结果及原因", "customer_satisfied": True}),
    ("qc_follow_up", "qc1", {"follow_up_note": "一周后回访，游客满意"}),
]


def _at(now: datetime, days: int = 0, hour: int | None = None, minutes: int = 0) -> datetime:
    """`days` back at `hour` China time (or `minutes` back from now), as UTC."""
    moment = now - timedelta(days=days, minutes=minutes)
    if hour is not None:
        moment = moment.astimezone(CHINA).replace(hour=hour, minute=20, second=0, microsecond=0)
    return moment.astimezone(UTC)


class _Steps:
    """Completes the open task of an instance, as a named user, at a given moment."""

    def __init__(self, runtime: Runtime, instance_id: int):
        self.rt, self.id = runtime, instance_id

    def do(self, task: str, user: str | None, at: datetime, data: dict[str, Any]) -> None:
        found = [t for t in self.rt.tasks(instance_id=self.id) if t["task"] == task]
        if not found:
            raise LookupError(f"demo history: {task} is not open in instance {self.id}")
        with frozen_at(at):
            self.rt.complete(found[0]["id"], user or found[0]["assignee"], data)


def _complaint(rt: Runtime, at: datetime, n: int, kind: str, time_class: str, end: str) -> None:
    name, phone = CUSTOMERS[n % len(CUSTOMERS)]
    with frozen_at(at):
        steps = _Steps(rt, rt.start("complaint_handling", actor="agent1"))
    intake = {"customer_name": name, "contact_phone": phone, "complaint_at": at.isoformat(), "time_class": time_class,
              "kind": kind, "description": f"{kind}方面的问题，游客要求说明原因", "customer_request": "说明原因并妥善处理",
              "involves_multiple_departments": False, "escalated_to_authority": False}
    if end == "late":  # taken in after the working hour: the rule is breached and the supervisor steps in
        [intake_task] = [t for t in rt.tasks(instance_id=steps.id) if t["task"] == "receive_complaint"]
        due = parse_iso_utc(intake_task["due_at"])  # one working hour later (engine/calendar.py)
        rt.tick(due + timedelta(minutes=1))
        steps.do("escalate_late_report", "supervisor1", due + timedelta(minutes=10), {"action_taken": "已督促立即上报"})
        at = due + timedelta(minutes=15)
    steps.do("receive_complaint", "agent1", at, intake)
    if end in ("local", "late") and time_class == "旅游过程中":
        steps.do("resolve_locally", "guide1", at + timedelta(minutes=10), LOCAL)
        steps.do("file_local_resolution", "guide1", at + timedelta(minutes=20), FILING)
    elif end != "open":
        for task, user, data in QC_STEPS:
            at += timedelta(hours=6)
            steps.do(task, user, at, data)


def _call(rt: Runtime, at: datetime, n: int, desk: str | None, request_type: str | None, summary: str) -> None:
    with frozen_at(at):
        started = rt.message("incoming_call", f"CALL-HIST-{n}", {"caller_number": CUSTOMERS[n % 7][1], "desk": desk})
    if desk is None:
        return  # the caller chose no desk: the system wraps up and archives
    steps = _Steps(rt, started["delivered_to"])
    steps.do("call_opening", None, at + timedelta(minutes=1), {"request_type": request_type, "request_summary": summary})
    steps.do("make_solution", None, at + timedelta(minutes=4), {"solution_kind": "业务咨询解决方案",
                                                                "solution": "按客户需求给出方案", "customer_accepted": True})
    steps.do("solve_problem", None, at + timedelta(minutes=6), {"resolution_note": "已办理"})
    steps.do("close_and_register", None, at + timedelta(minutes=8),
             {"redirect_channel": "无", "register_note": "客户满意", "follow_up_needed": False})


def _followup(rt: Runtime, at: datetime, n: int, score: int) -> None:
    name, phone = CUSTOMERS[n % len(CUSTOMERS)]
    with frozen_at(at):
        started = rt.message("tour_finished", f"TOUR-HIST-{n}", {"tour_id": f"TOUR-HIST-{n}", "customer_name": name,
                                                                 "phone": phone})
    caller = BRANCH_SALES.get(SEED_BRANCH_OF_PHONE.get(phone, ""), "sales1")  # the customer's branch calls
    _Steps(rt, started["delivered_to"]).do("record_followup", caller, at + timedelta(hours=1), {
        "satisfaction": score, "customer_situation": "行程结束，已平安返回",
        "problems": "" if score > 2 else "导游讲解较少", "service_problem": False})


def _booking(rt: Runtime, at: datetime, n: int, channel: str) -> None:
    service_day = (at + timedelta(days=3)).astimezone(CHINA).date().isoformat()
    name, phone = CUSTOMERS[n % len(CUSTOMERS)]
    with frozen_at(at):
        steps = _Steps(rt, rt.start("booking_desk", actor="agent1"))
    steps.do("record_inquiry", "agent1", at, {"service_date": service_day, "service_time": "12:00", "party_size": 2,
                                              "services": ["泰安团餐餐厅"], "inquiry_channel": channel,
                                              "manual_entry": False})
    steps.do("confirm_booking", "agent1", at + timedelta(minutes=5), {
        "customer_name": name, "contact": phone, "payment_method": "在线支付", "details_confirmed": True})
    code = rt.show(steps.id)["data"]["booking"]["code"]
    with frozen_at(at + timedelta(hours=2)):
        rt.message("payment_received", code, {"paid_via": "在线支付", "transaction_ref": f"TX-HIST-{n}"})


def load(runtime: Runtime, now: datetime | None = None, echo: Callable[[str], None] = print) -> None:
    """Walk the history through the deployed processes (skipping those not deployed)."""
    now = now or utcnow()
    deployed = {d["process_id"] for d in runtime.startable("owner1")} | _deployed(runtime)
    if "complaint_handling" in deployed:
        for n, (days, hour, kind, time_class, end) in enumerate(COMPLAINTS):
            _complaint(runtime, _at(now, days, hour), n, kind, time_class, end)
        for n, (minutes, time_class, end) in enumerate(RECENT_LODGING):
            _complaint(runtime, _at(now, minutes=minutes), n, "住宿餐饮", time_class, end)
    if "inbound_call" in deployed:
        for n, (days, hour, desk, request_type, summary) in enumerate(CALLS):
            _call(runtime, _at(now, days, hour), n, desk, request_type, summary)
    if "followup_call" in deployed:
        for n, (days, score) in enumerate(FOLLOWUPS):
            _followup(runtime, _at(now, days, 11), n, score)
    if "booking_desk" in deployed:
        for n, (days, channel) in enumerate(BOOKINGS):
            _booking(runtime, _at(now, days, 10), n, channel)
    runtime.tick(now)  # the bookings' service dates have passed: they are served and archived
    echo("demo history: six weeks of complaints, calls, follow-ups and bookings (see /reports)")


def _deployed(runtime: Runtime) -> set[str]:
    with runtime.reading() as session:
        return {d["process_id"] for d in queries.deployments(session)}
