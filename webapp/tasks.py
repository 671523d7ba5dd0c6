"""The task page (SOP, data, form; claim, release, reassign, complete) and starting processes."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from engine.access import policy
from engine.bpmn import forms
from engine.clock import utcnow
from engine.errors import FormInvalid, NotAllowed, TaskConflict
from engine.run import queries
from webapp import display, privacy
from webapp.app_state import runtime
from webapp.auth import writer_required
from webapp.errors import message_of
from webapp.form_fields import GENERAL, build_fields, coerce, field_errors
from webapp.i18n import gettext as _
from webapp.task_data import pair_rows, parse_pairs
from webapp.ui_schema import apply_ui_schema

bp = Blueprint("tasks", __name__)


def _load(task_id: int) -> dict[str, Any]:
    """The task, if the user may see it (engine/access/policy.py: its workers, supervisors, auditors)."""
    try:
        return runtime().task(task_id, current_user.viewer)
    except NotAllowed:
        task = runtime().task(task_id)
        abort(403, _("此任务属于「{lane}」泳道（{where}），您无权查看或办理", lane=display.lane_label(task["lane"]),
                     where=" · ".join(str(v) for v in (task.get("routing") or {}).values() if v) or "—"))


def _permissions(task: dict[str, Any]) -> dict[str, bool]:
    return policy.task_actions(current_user.viewer, policy.TaskFacts.of(task), task["state"])


def _refuse(refusal: str | None) -> None:
    """403 before reading the form: who may not act learns nothing from its validation."""
    if refusal is not None:
        abort(403, _("您无权办理此任务"))


def _render(task: dict[str, Any], status: int = 200, posted=None, errors: dict[str, list[str]] | None = None,
            reassign: dict[str, Any] | None = None, alert: str | None = None, kept: bool = False):
    rt = runtime()
    process_forms = rt.instance_forms(task["instance_id"])
    mask = privacy.masker(task["instance_id"], process_forms)
    stored = rt.show(task["instance_id"])
    instance, task = mask(stored), privacy.task(task, mask)
    with rt.reading() as session:
        names = queries.process_names(session)
        targets = queries.task_workers(session, policy.TaskFacts.of(task))
    schema = task["form"]
    prefill = mask.drop(stored["data"] or {})  # a masked value must never be submitted back
    errors = errors or {}
    due_at = display.parse_time(task["due_at"])
    return render_template(
        "tasks/detail.html",
        task=task, instance=instance, process_name=names.get(instance["process"], instance["process"]),
        due_state=queries.due_state(due_at, utcnow(), display.parse_time(task["created_at"])) if due_at else "none",
        instance_data=display.data_panel(instance["data"], process_forms),
        schema=schema, fields=apply_ui_schema(build_fields(schema, prefill, posted, errors), task.get("ui_schema"))
        if schema else [],
        pairs=[] if schema else pair_rows(posted),
        general_errors=errors.get(GENERAL, []), bad_fields=len([k for k in errors if k != GENERAL]),
        can=_permissions(task),
        targets=[u for u in targets if u["username"] != task["assignee"]],
        reassign=reassign or {"errors": {}, "to_user": "", "reason": ""}, alert=alert, kept=kept,
    ), status


def _conflict(task_id: int, posted=None):
    """Someone else was faster: show the task as it is now, say what happened, write nothing (409).
    What the user typed (`posted`) stays on screen, so nothing typed is lost."""
    task = runtime().task(task_id)
    if task["state"] == "completed":
        message = _("此任务已由 {who} 于 {at} 完成，您的提交没有保存。", who=task["completed_by"] or "",
                    at=display.local_time(task["completed_at"]))
    elif task["assignee"] and task["assignee"] != current_user.username:
        message = _("此任务已被 {who} 认领；请联系认领人或主管转派。", who=task["assignee"])
    elif task["state"] != "ready":
        message = _("此任务已不可办理（{state}）。", state=display.STATUS_LABELS.get(task["state"], task["state"]))
    else:
        message = _("流程实例刚被他人修改，请刷新后重试。")
    return _render(task, status=409, alert=message, posted=posted, kept=posted is not None)


@bp.route("/tasks/<int:task_id>")
def detail(task_id: int):
    return _render(_load(task_id))


@bp.post("/tasks/<int:task_id>")
@writer_required
def complete(task_id: int):
    task = _load(task_id)
    _refuse(policy.work_refusal(current_user.viewer, policy.TaskFacts.of(task)))
    if task["state"] != "ready":
        return _conflict(task_id, request.form)
    schema = task["form"]
    data, errors = coerce(schema, request.form) if schema else ({}, {})
    if not schema:  # no form: the key/value editor's rows (webapp/task_data.py)
        data, general = parse_pairs(request.form)
        if general:
            return _render(task, status=422, posted=request.form, errors={GENERAL: general})
    if errors:
        try:
            forms.validate(schema, data)
        except FormInvalid as exc:  # report the other fields' problems in the same round
            for name, messages in field_errors(schema, exc.errors).items():
                errors.setdefault(name, messages)
        return _render(task, status=422, posted=request.form, errors=errors)
    try:
        runtime().complete(task_id, current_user.username, data)
    except FormInvalid as exc:
        return _render(task, status=422, posted=request.form,
                       errors=field_errors(schema, exc.errors, fallback=message_of(exc)))
    except TaskConflict:
        return _conflict(task_id, request.form)
    following = runtime().tasks(instance_id=task["instance_id"], user=current_user.username)
    if following:
        nxt = following[0]
        flash(_("已完成「{name}」。下一步「{next}」也由您办理。", name=task["name"], next=nxt["name"]), "success")
        return redirect(url_for("tasks.detail", task_id=nxt["id"]))
    flash(_("已完成「{name}」。", name=task["name"]), "success")
    return redirect(url_for("inbox.index"))


@bp.post("/tasks/<int:task_id>/claim")
@writer_required
def claim(task_id: int):
    return _change_assignment(task_id, runtime().claim, "已认领「{name}」。")


@bp.post("/tasks/<int:task_id>/unclaim")
@writer_required
def unclaim(task_id: int):
    return _change_assignment(task_id, runtime().unclaim, "已释放「{name}」，其他同事可以认领。")


def _change_assignment(task_id: int, action, message: str):
    task = _load(task_id)
    try:
        action(task_id, current_user.username)
    except TaskConflict:
        return _conflict(task_id)
    flash(_(message, name=task["name"]), "success")
    return redirect(url_for("tasks.detail", task_id=task_id))


@bp.post("/tasks/<int:task_id>/reassign")
@writer_required
def reassign(task_id: int):
    task = _load(task_id)
    to_user = (request.form.get("to_user") or "").strip()
    reason = (request.form.get("reason") or "").strip()
    facts = policy.TaskFacts.of(task)
    _refuse(policy.assignment_refusal(current_user.viewer, facts, "reassign"))
    errors: dict[str, list[str]] = {}
    with runtime().reading() as session:
        target = policy.viewer_named(session, to_user) if to_user else None
    if not to_user:
        errors["to_user"] = [_("请选择接收人")]
    elif target is None or task["lane"] not in target.roles:
        errors["to_user"] = [_("{user} 不在「{lane}」泳道", user=to_user, lane=display.lane_label(task["lane"]))]
    elif policy.reassign_target_refusal(target, facts):
        errors["to_user"] = [_("{user} 不能办理此任务：柜台或网点不同", user=to_user)]
    if not reason:
        errors["reason"] = [_("请填写转派原因")]
    if errors:
        return _render(task, status=422, reassign={"errors": errors, "to_user": to_user,
                                                   "reason": request.form.get("reason", "")})
    try:
        runtime().reassign(task_id, current_user.username, to_user, reason)
    except TaskConflict:
        return _conflict(task_id)
    flash(_("已将「{name}」转派给 {user}。", name=task["name"], user=to_user), "success")
    if to_user == current_user.username:
        return redirect(url_for("tasks.detail", task_id=task_id))
    return redirect(url_for("inbox.index"))


@bp.route("/start")
@writer_required
def start_list():
    return render_template("tasks/start.html", processes=runtime().startable(current_user.username))


@bp.post("/start/<process_id>")
@writer_required
def start(process_id: str):
    # The start answers with the starter's tasks and its version's name: no read transaction after it.
    answer = runtime().start_answered(process_id, actor=current_user.username)
    instance_id = answer["instance"]["id"]
    flash(_("已发起「{name}」（实例 #{id}）。", name=answer["process_name"] or process_id, id=instance_id), "success")
    if answer["open_tasks"]:  # the first by due date, as the inbox orders them
        first = min(answer["open_tasks"], key=lambda t: (t["due_at"] is None, t["due_at"] or "", t["id"]))
        return redirect(url_for("tasks.detail", task_id=first["id"]))
    return redirect(url_for("instances.detail", instance_id=instance_id))
