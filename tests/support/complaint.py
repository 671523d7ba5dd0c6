"""The complaint process (complaint_handling.bpmn): a complaint as staff record it, and a walk
through one instance."""

from __future__ import annotations

COMPLAINT = {
    "customer_name": "张建国",
    "contact_phone": "13801234567",
    "complaint_at": "2026-11-20T09:30:00+08:00",
    "time_class": "旅游过程中",
    "kind": "住宿餐饮",
    "description": "酒店房间与合同标准不符，空调损坏",
    "customer_request": "更换同级别酒店并赔偿差价",
    "tour_id": "SH-2026-1118",
}


class Walk:
    """One complaint instance and the steps staff take on it."""

    def __init__(self, runtime, starter="agent1"):
        self.rt = runtime
        self.id = runtime.start("complaint_handling", actor=starter)

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
