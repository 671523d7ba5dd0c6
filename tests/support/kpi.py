"""The KPI data set (see tests/test_kpi.py): complaints walked through the real P6 and P7 processes,
a follow-up call, a desk booking and inquiries, and rows inserted as the handlers would write them.
Times are China time (UTC+8)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import select

from engine.clock import frozen_at
from engine.config import DEFAULT_PROCESSES_DIR
from handlers.domain.models import ContactRecord, DeskBooking, FollowUp, Resource, ResourceBooking
from tests.support.booking_desk import CUSTOMER as DESK_CUSTOMER
from tests.support.booking_desk import INQUIRY as DESK_INQUIRY
from tests.support.complaint import COMPLAINT, Walk
from tests.support.escalated import CASE, REGISTER, close, configure, investigate, reply
from tests.support.followup_call import HAPPY, TOUR_FINISHED
from tests.support.world import deploy

CN = timezone(timedelta(hours=8))
START, END = date(2026, 10, 26), date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # after the range: as_of is the range's end
WEEKS = ["2026-W44", "2026-W45", "2026-W46", "2026-W47"]
PROCESSES = ("complaint_handling", "escalated_complaint", "followup_call", "booking_desk", "tour_operation",
             "itinerary_management")


def cn(month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """A China-time moment of 2026, in UTC (the engine's clock is frozen at UTC moments)."""
    return datetime(2026, month, day, hour, minute, second, tzinfo=CN).astimezone(UTC)


class Complaint6:
    """A P6 complaint taken in at `at`; `intake` False leaves the intake form undone."""

    def __init__(self, rt, at: datetime, kind: str | None, time_class: str | None, **extra):
        self.rt = rt
        with frozen_at(at):
            self.walk = Walk(rt)
            if kind is not None:
                self.walk.do("receive_complaint", "agent1", **{**COMPLAINT, "kind": kind, "time_class": time_class,
                                                               "complaint_at": at.isoformat(), **extra})

    def do(self, at: datetime, task: str, user: str, **data):
        with frozen_at(at):
            self.walk.do(task, user, **data)

    def solve_locally(self, at: datetime):
        self.do(at, "resolve_locally", "guide1", resolved_locally=True, local_action="当地更换")
        self.do(at, "file_local_resolution", "guide1", filing_note="报质检备案")
        assert self.walk.status() == "completed"

    def through_qc(self, at: datetime):
        self.do(at, "investigate_facts", "qc1", facts="属实", evidence="照片")
        self.do(at, "determine_responsibility", "qc1", responsible_department="计调部", responsible_person="杨帆")
        self.do(at, "make_handling_plan", "qc1", handling_plan="退差价", compensation_amount=100,
                advance_payment=False, serious_problem=False)
        self.do(at, "implement_plan", "operator1", solved=True, implementation_note="已退")
        self.do(at, "feedback_result", "qc1", feedback="已致歉并退差价", customer_satisfied=True)
        self.do(at, "qc_follow_up", "qc1", follow_up_note="已回访")
        assert self.walk.status() == "completed"


class Case7:
    """A P7 case sent down by an authority at `at` (the interface of tests/support/escalated.py's helpers)."""

    def __init__(self, rt, at: datetime, case_no: str, kind: str, time_class: str, days: int):
        self.rt = rt
        case = {**CASE, "case_no": case_no, "kind": kind, "time_class": time_class,
                "reply_deadline": (at + timedelta(days=days)).isoformat()}
        with frozen_at(at):
            self.id = rt.message("authority_complaint", case_no, case)["delivered_to"]
        self.do("register_case", "qc1", at=at + timedelta(hours=1),
                **{**REGISTER, "case_no": case_no, "kind": kind, "time_class": time_class})

    def open_tasks(self) -> dict[str, dict]:
        return {t["task"]: t for t in self.rt.tasks(instance_id=self.id)}

    def do(self, task: str, user: str, at: datetime, **data):
        with frozen_at(at):
            return self.rt.complete(self.open_tasks()[task]["id"], user, data)


def add_rows(rt, *rows) -> None:
    with rt.db.write() as session, session.begin():
        session.add_all(rows)


def contact(n: int, channel: str, at: datetime, request_type: str | None, outcome: str, desk: str | None = None,
            **details) -> ContactRecord:
    return ContactRecord(idempotency_key=f"kpi-contact-{n}", instance_id=9000 + n, channel=channel, desk=desk,
                         request_type=request_type, outcome=outcome, started_at=at,
                         archived_at=at + timedelta(minutes=10), details=details)


def followup(n: int, at: datetime, score: int) -> FollowUp:
    return FollowUp(idempotency_key=f"kpi-followup-{n}", instance_id=9100 + n, customer_name="游客", sales="sales1",
                    satisfaction=score, called_at=at)


def desk_booking(n: int, taken: datetime, status: str, source: str = "system") -> DeskBooking:
    return DeskBooking(code=f"BD-KPI-{n}", idempotency_key=f"kpi-desk-{n}", instance_id=9200 + n, customer_name="赵雪",
                       contact="13655556666", service="泰安团餐餐厅", service_date=cn(12, 20, 18), party_size=2,
                       amount=Decimal("100.00"), status=status, source=source, taken_at=taken,
                       entered_at=taken + timedelta(hours=6 if source == "manual" else 0))


def hold(rt, n: int, instance_id: int, at: datetime) -> ResourceBooking:
    with rt.db.read() as session:
        resource_id = session.execute(select(Resource.id).order_by(Resource.id).limit(1)).scalar_one()
    return ResourceBooking(idempotency_key=f"kpi-hold-{n}", resource_id=resource_id, on_date=date(2026, 12, 5),
                           units=1, tour_id=f"KPI-{instance_id}", instance_id=instance_id, created_at=at)


def seed(rt) -> dict[str, int]:
    for name in PROCESSES:
        deploy(rt, DEFAULT_PROCESSES_DIR / f"{name}.bpmn")
    configure(rt, reply_warning_percent=75)  # P7's optional reminder (default none), so a warning is counted
    ids: dict[str, int] = {}
    # Complaints (P6 unless noted), in time order.
    Complaint6(rt, cn(10, 20, 10), "住宿餐饮", "旅游后")                               # c0  W43: baseline only
    Complaint6(rt, cn(10, 27, 9), "导游服务", "旅游过程中").solve_locally(cn(10, 27, 15))  # c1  W44 local
    Complaint6(rt, cn(11, 1, 23, 59), "导游服务", "旅游后")                             # c2  W44 (last minute), open
    c3 = Complaint6(rt, cn(11, 2, 0, 0), "住宿餐饮", "旅游前")                          # c3  W45 (first minute)
    c3.through_qc(cn(11, 5, 15))                                                      #     closed by QC 11-05 15:00
    Complaint6(rt, cn(11, 4, 10), "导游服务", "旅游过程中").solve_locally(cn(11, 4, 16))  # c4  W45 local
    Complaint6(rt, cn(11, 4, 11), "导游服务", "旅游后")                                # c5  W45 open
    Complaint6(rt, cn(11, 10, 9), "导游服务", "旅游过程中").solve_locally(cn(11, 10, 12))  # c6 W46 local
    a1 = Case7(rt, cn(11, 11, 10), "KPI-A1", "行程安排", "旅游后", days=8)              # a1  W46 authority
    investigate(a1, at=cn(11, 12, 14))
    reply(a1, cn(11, 13, 10))
    close(a1, cn(11, 14, 10))                                                         #     closed 11-14, in time
    c7 = Complaint6(rt, cn(11, 12, 9), None, None)                                    # c7  W46: intake late
    assert [f["timer"] for f in rt.tick(cn(11, 12, 10, 30))] == ["report_overdue"]    #     breach, W46
    c7.do(cn(11, 12, 11), "receive_complaint", "agent1",
          **{**COMPLAINT, "kind": "导游服务", "time_class": "旅游前"})
    Complaint6(rt, cn(11, 16, 8), "住宿餐饮", "旅游过程中").solve_locally(cn(11, 16, 20))  # c8 W47 local
    a2 = Case7(rt, cn(11, 17, 10), "KPI-A2", "行程安排", "旅游过程中", days=4)           # a2  W47, open
    Complaint6(rt, cn(11, 17, 12), "导游服务", "旅游前")                                # c11 W47 open
    Complaint6(rt, cn(11, 18, 9), "住宿餐饮", "旅游过程中").solve_locally(cn(11, 18, 18))  # c9 W47 local
    Complaint6(rt, cn(11, 18, 10), "住宿餐饮", "旅游前", escalated_to_authority=True,   # c15 handed over: counted
               authority_name="上海市文化和旅游局", reply_deadline=cn(12, 30, 18).isoformat())  # as its P7 case a3
    c16 = Complaint6(rt, cn(11, 19, 9), None, None)                                   # c16 cancelled: not counted
    with frozen_at(cn(11, 19, 9, 10)):
        rt.cancel(c16.walk.id, "system", "重复录入")
    Complaint6(rt, cn(11, 19, 15), "导游服务", "旅游后")                                # c12 W47 open
    Complaint6(rt, cn(11, 20, 9), "服务质量", "旅游前")                                 # c13 W47 open
    assert [f["timer"] for f in rt.tick(cn(11, 20, 12))] == ["reply_warning"]        # a2's 75 %, W47
    c14 = Complaint6(rt, cn(11, 20, 16, 30), None, None)  # c14 W47, never taken in; Friday: due 17:30 (working hour)
    fired = rt.tick(cn(11, 22, 12))                                                   # a2's deadline, c14's hour
    assert sorted(f["timer"] for f in fired) == ["reply_overdue", "report_overdue"]
    Complaint6(rt, cn(11, 22, 23, 30), "住宿餐饮", "旅游后")                            # c10 W47 open
    ids.update(a2=a2.id, c14=c14.walk.id)

    # Inquiries: contact records as the archive handlers write them, and P10 / P8 instances.
    add_rows(rt,
         contact(1, "inbound_call", cn(10, 28, 10), "咨询", "resolved", "邮轮"),            # W44
         contact(2, "inbound_call", cn(11, 1, 0, 30), "咨询", "resolved"),                  # W44
         contact(3, "chat", cn(10, 30, 15), "咨询", "auto_closed", "自由行"),                # W44
         contact(4, "inbound_call", cn(11, 2, 7), "业务办理", "promise_kept", "旅游",        # W45 (UTC: 11-01)
                 promised_at="2026-11-03T10:00:00+08:00"),
         contact(5, "walk_in", cn(11, 3, 10), "投诉", "escalated"),                        # W45
         contact(6, "outbound_call", cn(11, 4, 10), "回访", "achieved", "旅游"),             # W45, not an inquiry
         contact(7, "inbound_call", cn(11, 9, 0, 30), None, "self_service"),               # W46
         contact(8, "chat", cn(11, 11, 14), "咨询", "resolved", "自由行"),                   # W46
         contact(9, "inbound_call", cn(11, 16, 9), "投诉", "escalated", "旅游"),             # W47
         contact(10, "walk_in", cn(11, 17, 10), "咨询", "promise_late",                     # W47
                 promised_at="2026-11-17T12:00:00+08:00"),
         contact(11, "chat", cn(11, 22, 23, 59, 59), "建议", "unresolved", "邮轮"),          # W47 (last second)
         contact(12, "inbound_call", cn(11, 19, 11), "咨询", "resolved", "邮轮"),            # W47
         contact(13, "inbound_call", cn(11, 20, 15), "业务办理", "escalated", "旅游",         # W47, promise pending
                 promised_at="2026-11-24T10:00:00+08:00"),
         contact(14, "inbound_call", cn(11, 23, 0, 0), "咨询", "resolved", "邮轮"))          # after the range
    with frozen_at(cn(11, 10, 10)):
        rt.start("booking_desk", actor="agent1")                                          # W46 desk inquiry
    with frozen_at(cn(11, 18, 10)):                                                       # W47 desk inquiry,
        b2 = rt.start("booking_desk", actor="agent1")                                     # booked by phone
        tasks = {t["task"]: t for t in rt.tasks(instance_id=b2)}
        rt.complete(tasks["record_inquiry"]["id"], "agent1", DESK_INQUIRY)
        tasks = {t["task"]: t for t in rt.tasks(instance_id=b2)}
        rt.complete(tasks["confirm_booking"]["id"], "agent1", {**DESK_CUSTOMER, "details_confirmed": True})
    with frozen_at(cn(11, 19, 9)):
        tour = rt.start("tour_operation", actor="sales1")                                 # W47 tour inquiry
    with frozen_at(cn(11, 5, 9)):
        itinerary = rt.start("itinerary_management", actor="sales1")                     # not an inquiry

    # Follow-ups: one through P5, the others as followup_save writes them.
    with frozen_at(cn(11, 20, 10)):
        started = rt.message("tour_finished", "YN-2026-1118", TOUR_FINISHED)["delivered_to"]
        rt.complete(rt.tasks(instance_id=started)[0]["id"], "sales1", {**HAPPY, "satisfaction": 4})   # W47: 4
    add_rows(rt, followup(1, cn(10, 29, 10), 5), followup(2, cn(10, 31, 23, 30), 4),   # W44 (October)
         followup(3, cn(11, 1, 0, 30), 2),                                         # W44 (November)
         followup(4, cn(11, 10, 10), 2), followup(5, cn(11, 13, 10), 5),           # W46
         followup(6, cn(11, 15, 23, 59), 3),                                       # W46 (last minute)
         followup(7, cn(11, 16, 0, 0), 1),                                         # W47 (first minute)
         followup(8, cn(11, 23, 0, 0), 5))                                         # after the range

    # Bookings: desk bookings as booking_desk_record writes them (plus b2's real one), resource holds.
    add_rows(rt, desk_booking(1, cn(10, 28, 11), "paid"),                              # W44
         desk_booking(2, cn(11, 3, 9), "cancelled", source="manual"),               # W45, written by hand
         desk_booking(3, cn(11, 12, 15), "changed"),                                # W46
         desk_booking(4, cn(11, 22, 22), "reserved"),                               # W47
         hold(rt, 1, tour, cn(11, 20, 10)), hold(rt, 2, tour, cn(11, 21, 10)),      # W47: one tour, first hold
         hold(rt, 3, itinerary, cn(11, 6, 10)))                                     # W45: one itinerary
    return ids
