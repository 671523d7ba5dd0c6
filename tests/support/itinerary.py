"""The itinerary process (itinerary_management.bpmn): a customer's needs, a draft and a contract,
a trip walked through it, and the records and holds it leaves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from engine.clock import frozen_at
from engine.config import DEFAULT_PROCESSES_DIR
from handlers.domain.models import ArchiveRecord, ResourceBooking
from tests.support import flows

BPMN = DEFAULT_PROCESSES_DIR / "itinerary_management.bpmn"
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
REMINDER_AT = datetime(2026, 12, 13, 1, 0, tzinfo=UTC)  # 2026-12-13 09:00 Shanghai: one week before 12-20
DEPARTURE_AT = datetime(2026, 12, 19, 16, 0, tzinfo=UTC)  # 2026-12-20 00:00 Shanghai: changes close
TRIP_DONE_AT = datetime(2026, 12, 23, 2, 0, tzinfo=UTC)  # the day after the return, 10:00 Shanghai
NEEDS = {"customer_name": "周海燕", "contact_phone": "13344445555", "travel_purpose": "休闲度假", "destination": "泰山曲阜",
         "depart_on": "2026-12-20", "return_on": "2026-12-22", "party_size": 4, "budget": 12000,
         "preferences": "舒适型酒店，少走路", "special_needs": "一位老人同行"}
DRAFT = {"itinerary_plan": "D1 济南—泰安 泰山；D2 曲阜三孔；D3 返程", "hotel_code": "HOTEL-TA-STD", "rooms": 2,
         "transport_code": "TRAIN-JN-SH", "quoted_price": 9800}
ENTRY = {"itinerary_no": "IT-2026-1220", "depart_on": "2026-12-20", "return_on": "2026-12-22",
         "hotel_code": "HOTEL-TA-STD", "rooms": 2, "transport_code": "TRAIN-JN-SH"}
CONTRACT = {"contract_no": "HT-2026-0088", "signed_on": "2026-11-03", "total_price": 9800, "deposit": 3000}


def all_flows() -> set[str]:
    return flows.all_flows(BPMN)


class Trip:
    def __init__(self, runtime):
        self.rt = runtime
        with frozen_at(T0):
            self.id = runtime.start("itinerary_management", actor="sales1")

    def open_tasks(self) -> dict[str, dict]:
        return {t["task"]: t for t in self.rt.tasks(instance_id=self.id)}

    def do(self, task: str, user: str, at: datetime = T0 + timedelta(days=1), **data):
        open_tasks = self.open_tasks()
        assert task in open_tasks, f"{task} is not open; open: {sorted(open_tasks)}"
        with frozen_at(at):
            return self.rt.complete(open_tasks[task]["id"], user, data)

    def data(self) -> dict:
        return self.rt.show(self.id)["data"]

    def status(self) -> str:
        return self.rt.show(self.id)["status"]

    def events(self, kind: str) -> list[dict]:
        return [e for e in self.rt.events(self.id) if e["kind"] == kind]

    def handler_calls(self, name: str) -> list[dict]:
        return [e for e in self.events("handler_called") if e["payload"]["handler"] == name]


def records(runtime, kind: str) -> list[ArchiveRecord]:
    with runtime.db.read() as session:
        return list(session.execute(select(ArchiveRecord).where(ArchiveRecord.kind == kind)
                                    .order_by(ArchiveRecord.id)).scalars())


def holds(runtime, instance_id: int) -> list[tuple[str, str, int, str]]:
    with runtime.db.read() as session:
        rows = session.execute(select(ResourceBooking).where(ResourceBooking.instance_id == instance_id)
                               .order_by(ResourceBooking.id)).scalars()
        return [(r.on_date.isoformat(), r.status, r.units, r.tour_id) for r in rows]
