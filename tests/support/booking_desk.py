"""The booking desk process (booking_desk.bpmn): an inquiry and a customer, a walk through one
booking that records the sequence flows it took (`TAKEN`, per test), and readers of its rows."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select

from engine.clock import frozen_at
from engine.config import DEFAULT_PROCESSES_DIR
from handlers.domain.models import DeskBooking, Resource, ResourceBooking
from tests.support.flows import taken_flows
from tests.support.world import set_setting

BPMN = DEFAULT_PROCESSES_DIR / "booking_desk.bpmn"
T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 2026-12-01 10:00 China time
SERVICE_AT = datetime(2026, 12, 20, 10, 0, tzinfo=UTC)  # 2026-12-20 18:00 China time
INQUIRY = {"service_date": "2026-12-20", "service_time": "18:00", "party_size": 4,
           "services": ["泰安团餐餐厅", "地陪导游"], "inquiry_channel": "电话", "manual_entry": False}
DETAILS = {k: v for k, v in INQUIRY.items() if k not in ("inquiry_channel", "manual_entry")}
AMOUNT = Decimal("500.00")  # 团餐 50 元/人 × 4 人 + 地陪导游 300 元/天 × 1
CUSTOMER = {"customer_name": "赵雪", "contact": "13655556666", "payment_method": "在线支付"}
TAKEN: dict[str, set[str]] = {}  # test name -> sequence flows its instances took (from the workflow state)


def flow_map() -> dict[tuple[str, str], str]:
    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
    root = ET.parse(BPMN).getroot()
    return {(f.get("sourceRef"), f.get("targetRef")): f.get("id") for f in root.iterfind(".//bpmn:sequenceFlow", ns)}


class Walk:
    """One booking and the steps the desk, the customer and the clock take on it."""

    def __init__(self, runtime, request, at=T0, starter="agent1"):
        self.rt, self.at = runtime, at
        with frozen_at(at):
            self.id = runtime.start("booking_desk", actor=starter)
        TAKEN.setdefault(request.node.name, set())
        self.name = request.node.name

    def open_tasks(self) -> dict[str, dict]:
        return {t["task"]: t for t in self.rt.tasks(instance_id=self.id)}

    def do(self, task: str, user: str = "agent1", at=None, **data):
        open_tasks = self.open_tasks()
        assert task in open_tasks, f"{task} is not open; open: {sorted(open_tasks)}"
        with frozen_at(at or self.at):
            result = self.rt.complete(open_tasks[task]["id"], user, data)
        self.record()
        return result

    def message(self, name: str, at, **data):
        with frozen_at(at):
            result = self.rt.message(name, self.code(), data)
        self.record()
        return result

    def tick(self, at):
        fired = self.rt.tick(at)
        self.record()
        return fired

    def record(self):
        TAKEN[self.name] |= taken_flows(self.rt, self.id)

    def show(self) -> dict:
        return self.rt.show(self.id)

    def data(self) -> dict:
        return self.show()["data"]

    def code(self) -> str:
        return self.data()["booking"]["code"]

    def kinds(self) -> list[str]:
        return [e["kind"] for e in self.rt.events(self.id)]

    def book(self, customer=None, inquiry=None):
        """Inquiry → available → confirmed → booked (waiting for payment)."""
        self.do("record_inquiry", **(inquiry or INQUIRY))
        assert set(self.open_tasks()) == {"confirm_booking"}
        self.do("confirm_booking", **(customer or CUSTOMER), details_confirmed=True)
        return self

    def pay(self, at):
        sent = self.message("payment_received", at, paid_via="在线支付", transaction_ref="TX-1")
        assert (sent["delivered_to"], sent["started"], sent["state"]) == (self.id, False, "delivered")
        return self


def desk_booking(runtime, code) -> DeskBooking:
    with runtime.db.read() as session:
        return session.execute(select(DeskBooking).where(DeskBooking.code == code)).scalar_one()


def rows(runtime, model, *where):
    with runtime.db.read() as session:
        return list(session.execute(select(model).where(*where)).scalars())


def held(runtime, code) -> list[tuple[str, str, int]]:
    with runtime.db.read() as session:
        rows = session.execute(select(Resource.code, ResourceBooking.on_date, ResourceBooking.units).join(
            Resource, Resource.id == ResourceBooking.resource_id).where(
            ResourceBooking.tour_id == code, ResourceBooking.status == "held").order_by(Resource.code)).all()
    return [(c, d.isoformat(), u) for c, d, u in rows]


def fill_guides(runtime, day: str):
    """The agency's four local guides are all out with tours that day."""
    with runtime.db.write() as session, session.begin():
        guide = session.execute(select(Resource).where(Resource.code == "GUIDE-POOL")).scalar_one()
        session.add(ResourceBooking(idempotency_key=f"tour:{day}", resource_id=guide.id,
                                    on_date=datetime.fromisoformat(day).date(), units=4, tour_id="TA-TOUR",
                                    instance_id=0, status="held", created_at=T0))


def configure(runtime, **values):
    """Change the desk's settings (the `booking_desk` row of the setting table) for one test."""
    set_setting(runtime, "booking_desk", values)
