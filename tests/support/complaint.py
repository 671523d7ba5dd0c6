"""The complaint process (complaint_handling.bpmn): a complaint as staff record it, and a walk
through one instance."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.clock import CHINA

COMPLAINT_DETAILS = {
    "customer_name": "张建国",
    "contact_phone": "13801234567",
    "complaint_at": "2026-11-20T09:30:00+08:00",
    "time_class": "旅游过程中",
    "kind": "住宿餐饮",
    "description": "酒店房间与合同标准不符，空调损坏",
    "customer_request": "更换同级别酒店并赔偿差价",
    "tour_id": "SH-2026-1118",
}
# The routing questions of receive_complaint start unanswered: a walk answers them.
COMPLAINT = {**COMPLAINT_DETAILS, "escalated_to_authority": False, "involves_multiple_departments": False}


# Moments in China time (UTC+8) of weeks with no public holiday but the one named.
MONDAY_10 = datetime(2026, 11, 30, 10, 0, tzinfo=CHINA).astimezone(UTC)  # a working morning
FRIDAY_1730 = datetime(2026, 11, 27, 17, 30, tzinfo=CHINA).astimezone(UTC)  # half an hour before the weekend
NATIONAL_DAY_10 = datetime(2026, 10, 2, 10, 0, tzinfo=CHINA).astimezone(UTC)  # 国庆, Oct 1-7 off


def china(moment: datetime) -> str:
    """A moment as China-time ISO 8601 (what a form's date-time field holds)."""
    return moment.astimezone(CHINA).isoformat()


class Walk:
    """One complaint instance and the steps staff take on it."""

    def __init__(self, runtime, starter="agent1", data=None):
        self.rt = runtime
        self.id = runtime.start("complaint_handling", data, actor=starter)

    def open_tasks(self) -> dict[str, dict]:
        return {t["task"]: t for t in self.rt.tasks(instance_id=self.id)}

    def do(self, task: str, user: str, **data):
        open_tasks = self.open_tasks()
        assert task in open_tasks, f"{task} is not open; open: {sorted(open_tasks)}"
        return self.rt.complete(open_tasks[task]["id"], user, data)

    def status(self) -> str:
        return self.rt.show(self.id)["status"]

    def kinds(self) -> list[str]:
        return [e["kind"] for e in self.rt.events(self.id)]

    def completed_steps(self) -> list[str]:
        return [e["payload"]["task"] for e in self.rt.events(self.id) if e["kind"] == "task_completed"]
