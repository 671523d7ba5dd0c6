"""The follow-up call process (followup_call.bpmn): a finished tour and a satisfied customer's answers."""

from __future__ import annotations

TOUR_FINISHED = {"tour_id": "YN-2026-1118", "customer_id": 1, "customer_name": "张建国", "phone": "13801234567",
                 "branch_code": "SH01"}
HAPPY = {"satisfaction": 5, "customer_situation": "老两口对云南行程非常满意，明年想去邮轮",
         "added_service_needs": "日本邮轮线路报价", "retention_note": "一月推送邮轮早鸟价"}
