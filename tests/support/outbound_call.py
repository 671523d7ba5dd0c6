"""The outbound call process (outbound_call.bpmn): a call plan as an agent enters it, a follow-up
request as a closed contact throws it, and the agency settings P2 reads."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.config import DEFAULT_PROCESSES_DIR
from tests.support import world

BPMN = DEFAULT_PROCESSES_DIR / "outbound_call.bpmn"
T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
PLAN = {
    "campaign_goal": "向老客户推介云南冬季跟团游，争取十二月成团",
    "purpose": "新产品推介",
    "desk": "旅游",
    "target_customers": ["1", "13912345678", "3", "999"],  # 张建国 by number, 李秀英 by phone, 王小明, unknown
    "window_start": "2026-11-24T08:30:00+08:00",
    "window_end": "2026-11-27T18:00:00+08:00",
    "talking_points": "冬季特惠，老客户立减300元",
    "product_code": "TR-YN-7",
}
FOLLOW_UP = {  # what a closed contact's `follow_up_requested` message carries (handlers/follow_ups.py)
    "customer_id": 1,
    "customer_name": "张建国",
    "contact_phone": "13801234567",
    "desk": "邮轮",
    "purpose": "客户回访",
    "matter": "咨询十二月日本邮轮航线的舱位和价格",
    "campaign_goal": "回访: 咨询十二月日本邮轮航线的舱位和价格",
    "next_contact_at": "2026-11-25T10:00:00+08:00",
    "window_start": "2026-11-25T10:00:00+08:00",
    "window_end": "2026-11-25T18:00:00+08:00",
    "source_process": "inbound_call",
    "source_instance_id": 77,
}


def set_setting(runtime, key: str, value: dict) -> None:
    """An agency setting (the `setting` table), as a process owner would change it."""
    world.set_setting(runtime, key, value, replace=True)
