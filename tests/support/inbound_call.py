"""The inbound call process (inbound_call.bpmn): callers, an incoming call, and the sequence flows
each scenario walks (`PATHS`)."""

from __future__ import annotations

from engine.config import DEFAULT_PROCESSES_DIR
from tests.support.flows import Walk

BPMN = DEFAULT_PROCESSES_DIR / "inbound_call.bpmn"

CRUISE_CALLER = "13801234567"  # 张建国 (VIP): a tour taken, a cruise booked
UNKNOWN_CALLER = "021-55550000"


def incoming_call(runtime, key: str, caller: str = CRUISE_CALLER, desk: str | None = "邮轮", **extra) -> Walk:
    """The switch reports a call: the message start `incoming_call`."""
    result = runtime.message("incoming_call", key, {"caller_number": caller, "desk": desk, **extra})
    assert result["started"] is True
    return Walk(runtime, result["delivered_to"], BPMN)


START = {"received_to_answer", "answer_to_desk_check"}
ROUTED = START | {"desk_to_route", "route_to_opening", "call_opening_to_query", "query_to_complaint_check"}
OFFER = {"merge_to_solution", "solution_merge_to_make", "make_to_record_offer", "record_offer_to_accepted"}
CLOSE = {"close_merge_to_register", "register_to_end_call", "no_follow_up", "end_call_to_archive", "archive_merge_to_archive",
         "archive_call_to_promise_check"}
PROMISE = {"refused_to_supervisor", "supervisor_to_close", "promise_to_resolve", "resolve_to_record_kept",
           "record_kept_to_closed"}
PATHS = {
    "no_desk": START | {"no_desk_to_wrap_up", "system_wrap_up_to_archive", "archive_merge_to_archive",
                        "archive_call_to_promise_check", "no_promise_to_closed"},
    "accepted": ROUTED | {"no_complaint_to_merge"} | OFFER | {"accepted_to_solve", "solve_to_close"} | CLOSE
    | {"no_promise_to_closed"},
    "refused_then_accepted": ROUTED | {"no_complaint_to_merge"} | OFFER
    | {"not_accepted_to_refusal_check", "refusal_to_optimise", "accepted_to_solve", "solve_to_close"} | CLOSE
    | {"no_promise_to_closed"},
    "promise_kept": ROUTED | {"no_complaint_to_merge"} | OFFER
    | {"not_accepted_to_refusal_check", "refusal_to_optimise"} | CLOSE | PROMISE,
    "promise_breached": ROUTED | {"no_complaint_to_merge"} | OFFER
    | {"not_accepted_to_refusal_check", "refusal_to_optimise"} | CLOSE | PROMISE
    | {"overdue_to_chase", "chase_to_closed"},
    "complaint": ROUTED | {"complaint_to_record", "record_to_forward", "forward_to_merge"} | OFFER
    | {"accepted_to_solve", "solve_to_close"} | CLOSE | {"no_promise_to_closed"},
}
FOLLOW_UP_FLOWS = {"follow_up_to_request", "request_to_follow_up_thrown", "follow_up_thrown_to_next"}
PATHS["follow_up"] = PATHS["accepted"] - {"no_follow_up"} | FOLLOW_UP_FLOWS  # tests/test_follow_ups.py

OPENING = {"request_type": "咨询", "request_summary": "咨询十二月日本邮轮航线的舱位和价格"}
CLOSING = {"redirect_channel": "无", "register_note": "已答复舱位与价格，客户满意", "follow_up_needed": False}


OFFER_AGAIN, ASK_SUPERVISOR = "再次提供", "请上级主管协助"  # the agent's choice after a refusal


def offer(walk: Walk, user: str, accepted: bool, n: int = 1, next_step: str = OFFER_AGAIN, **extra):
    refused = {} if accepted else {"refusal_reason": f"第{n}次：价格偏高", "next_step": next_step}
    walk.do("make_solution", user, solution_kind="业务咨询解决方案", solution=f"方案{n}：推荐歌诗达6天5晚阳台房",
            customer_accepted=accepted, **refused, **extra)


def refuse_until_supervisor(walk: Walk, user: str, times: int = 2):
    """The customer refuses `times` offers; after the last one the agent asks the supervisor."""
    for n in range(1, times + 1):
        assert set(walk.open_tasks()) == {"make_solution"}
        assert walk.open_tasks()["make_solution"]["summary"]["offer_round"] == n, "the agent sees the count"
        offer(walk, user, accepted=False, n=n, next_step=ASK_SUPERVISOR if n == times else OFFER_AGAIN)
    assert set(walk.open_tasks()) == {"supervisor_assist"}
