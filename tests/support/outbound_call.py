"""The outbound call process (outbound_call.bpmn): a call plan as an agent enters it."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.config import DEFAULT_PROCESSES_DIR

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
