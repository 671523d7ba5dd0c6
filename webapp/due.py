"""Due dates on the pages: the task page's panel (due and follow-up date, where the date came from,
the boundary timer, the supervisor's change form), the change itself, and the overdue list."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from engine.access import policy
from engine.clock import utcnow
from engine.errors import FormInvalid, TaskConflict
from engine.run.due_dates import due_state
from engine.run.overdue import overdue_tasks
from webapp import display, privacy
from webapp.app_state import runtime
from webapp.auth import writer_required
from webapp.due_input import due_change
from webapp.i18n import gettext as _

bp = Blueprint("due", __name__)

SOURCE_LABELS = {"timer": "流程计时器", "task": "步骤期限（dueIn）", "lane": "泳道默认期限（laneDueIn）",
                 "default": "系统默认期限"}


def field_error(exc: FormInvalid) -> tuple[str, str]:
    """The field a refused change names, and what is wrong in the page's words."""
    field = exc.field or "due_at"
    if field == "reason":
        return field, _("请填写调整原因")
    if "future" in exc.message:
        return field, _("时间必须晚于现在")
    if "ISO 8601" in exc.message:
        return field, _("时间格式不正确，应为 年-月-日 时:分")
    return field, _("请填写新的截止时间或跟进时间")


@bp.record_once
def _setup(state) -> None:
    """Template globals (not a context processor: imported macros see globals only)."""
    state.app.jinja_env.globals.update(due_panel=due_panel, sees_overdue_list=sees_overdue_list,
                                       due_source_label=due_source_label)


def due_source_label(source: str) -> str:
    return _(SOURCE_LABELS[source]) if source in SOURCE_LABELS else source


def sees_overdue_list() -> bool:
    return current_user.is_authenticated and policy.overdue_list_refusal(current_user.viewer) is None


def due_panel(task: dict[str, Any], form: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the task page shows of a task's dates, and whether this user may change them."""
    facts = runtime().due_facts(task["id"])
    now = utcnow()
    timer = facts["timer_due_at"]
    return {
        "state": due_state(display.parse_time(task["due_at"]), now, display.parse_time(task["created_at"])),
        "source": facts["source"], "timer_due_at": timer,
        "timer_differs": bool(timer and task["due_at"] and display.parse_time(timer) != display.parse_time(task["due_at"])),
        "can_change": task["state"] == "ready" and policy.due_change_refusal(current_user.viewer, policy.TaskFacts.of(task)) is None,
        "form": form or {"errors": {}, "due_at": "", "follow_up_at": "", "reason": ""},
    }


@bp.post("/tasks/<int:task_id>/due")
@writer_required
def change(task_id: int):
    task = runtime().task(task_id)
    if policy.due_change_refusal(current_user.viewer, policy.TaskFacts.of(task)) is not None:
        abort(403, _("只有该泳道的主管可以调整期限"))
    values = {k: request.form.get(k, "") for k in ("due_at", "follow_up_at", "reason")}
    try:
        due_at, follow_up_at, reason = due_change(values)
        runtime().set_due(task_id, current_user.username, reason, due_at=due_at, follow_up_at=follow_up_at)
    except FormInvalid as exc:
        field, text = field_error(exc)
        return _form_page(task, values, {field: [text]}, 422)
    except TaskConflict:
        return _form_page(task, values, {"due_at": [_("此任务已不可办理，期限不再调整")]}, 409)
    flash(_("已调整「{name}」的期限。", name=task["name"]), "success")
    return redirect(url_for("tasks.detail", task_id=task_id))


def _form_page(task: dict[str, Any], values: dict[str, str], errors: dict[str, list[str]], status: int):
    masked = privacy.task(task, privacy.masker(task["instance_id"]))
    return render_template("tasks/due_change.html", task=masked,
                           due=due_panel(task, {**values, "errors": errors})), status


@bp.route("/tasks/overdue")
def overdue():
    if not sees_overdue_list():
        abort(403, _("超期清单供主管和审计人员查看"))
    with runtime().reading() as session:
        result = overdue_tasks(session, current_user.viewer)
    result["items"] = privacy.rows(result["items"], "instance_id")
    return render_template("tasks/overdue.html", result=result)
