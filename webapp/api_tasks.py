"""/api/v1 tasks: the inbox as JSON, one task, claim, unclaim, reassign and complete."""

from __future__ import annotations

from flask import current_app, jsonify, request
from flask_login import current_user

from engine.access import policy
from engine.limits import NAME_MAX, PAGE_MAX, check_reason, check_text
from engine.run import queries
from engine.run.inbox_page import BadCursor
from webapp import inbox_search, privacy
from webapp.api_args import Routes, actor, bool_arg, int_arg, invalid, json_body, text_arg
from webapp.app_state import runtime

SORTS = ("due", "age")
routes = Routes()


def inbox_filter() -> queries.InboxFilter:
    sort = request.args.get("sort") or "due"
    if sort not in SORTS:
        raise invalid("sort", f"must be one of {', '.join(SORTS)}")
    search = inbox_search.search_of(request.args)
    if problem := inbox_search.api_problem(search):
        raise problem
    return queries.InboxFilter(
        lane=text_arg("lane"), process=text_arg("process"),
        routing={"desk": desk} if (desk := text_arg("desk")) else {},
        overdue=bool_arg("overdue"), mine=bool_arg("mine"), unclaimed=bool_arg("unclaimed"),
        page=int_arg("page", 1, 1, PAGE_MAX),
        per_page=int_arg("per_page", current_app.config.get("PER_PAGE", 25), 1, queries.PER_PAGE_MAX),
        sort=sort, search=search, after=text_arg("after"),
    )


# ---- tasks -------------------------------------------------------------------------------
@routes.get("/tasks")
def list_tasks():
    flt = inbox_filter()
    with runtime().reading() as session:
        try:
            result = queries.inbox(session, current_user.viewer, flt)
        except BadCursor as exc:
            raise invalid("after", f"{exc}: pass `next` of the page before, with the same sort") from exc
        items = privacy.rows(result["items"], "instance_id", session, task_rows=True)
    return jsonify({**result, "items": items})


@routes.get("/tasks/<int:task_id>")
def get_task(task_id: int):
    task = runtime().task(task_id, current_user.viewer)
    return privacy.task(task, privacy.masker(task["instance_id"]))


@routes.post("/tasks/<int:task_id>/claim")
def claim_task(task_id: int):
    json_body()
    runtime().claim(task_id, actor())
    return runtime().task(task_id)


@routes.post("/tasks/<int:task_id>/unclaim")
def unclaim_task(task_id: int):
    json_body()
    runtime().unclaim(task_id, actor())
    return runtime().task(task_id)


@routes.post("/tasks/<int:task_id>/reassign")
def reassign_task(task_id: int):
    body = json_body()
    unknown = sorted(set(body) - {"to", "reason"})
    if unknown:
        raise invalid(unknown[0], "unknown field (expected: to, reason)")
    to_user, reason = body.get("to"), body.get("reason")
    if not isinstance(to_user, str) or not to_user.strip():
        raise invalid("to", "the user name to hand the task to is required")
    if not isinstance(reason, str) or not reason.strip():
        raise invalid("reason", "a reason is required to reassign a task")
    check_text("to", to_user, NAME_MAX)
    check_reason(reason)
    task = policy.TaskFacts.of(runtime().task(task_id))
    policy.refuse_if(policy.assignment_refusal(current_user.viewer, task, "reassign"))  # 403 before the target
    with runtime().reading() as session:
        target = policy.viewer_named(session, to_user.strip())
    if target is None:
        raise invalid("to", f"unknown or inactive user {to_user.strip()!r}")
    refusal = policy.reassign_target_refusal(target, task)
    if refusal:
        raise invalid("to", refusal)
    runtime().reassign(task_id, actor(), to_user.strip(), reason)
    return runtime().task(task_id)


@routes.post("/tasks/<int:task_id>/complete")
def complete_task(task_id: int):
    data = json_body()
    answer = runtime().complete_answered(task_id, actor(), data, current_user.viewer)
    instance, open_tasks = privacy.step_answer(answer)
    return {"instance": instance, "open_tasks": open_tasks}


