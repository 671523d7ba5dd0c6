"""Incidents: the list of instances stopped by a failed step, and retrying that step from the
instance page (as it is, or with corrected data). engine/run/incidents.py says who sees and who
resolves what; `Runtime.resolve_incident` does the retry and checks again under lock."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from engine.access import policy
from engine.errors import TaskConflict
from engine.run import incidents, reads
from engine.run.delivery_incidents import delivery_incidents
from engine.store.states import InstanceStatus
from webapp import display, privacy
from webapp.app_state import runtime
from webapp.auth import writer_required
from webapp.i18n import gettext as _
from webapp.instances import render_instance

bp = Blueprint("incidents", __name__)


@bp.app_context_processor
def _nav():
    return {"incident_nav": nav_badge}


def nav_badge() -> dict[str, Any] | None:
    """For the top bar: {"count": n} when the link is shown (someone who sees every incident,
    or anyone with incidents of their lanes), else None. Never breaks the page it is on."""
    if not current_user.is_authenticated:
        return None
    viewer = current_user.viewer
    try:
        with runtime().reading() as session:
            count = incidents.incident_count(session, viewer) + len(delivery_incidents(session, viewer))
    except SQLAlchemyError:
        current_app.logger.exception("incident count failed")
        return None
    return {"count": count} if count or policy.sees_every_incident(viewer) else None


@bp.route("/incidents")
def index():
    process = request.args.get("process") or None
    with runtime().reading() as session:
        visible = incidents.open_incidents(session, current_user.viewer)
        deliveries = delivery_incidents(session, current_user.viewer)
    visible = privacy.rows(visible, "instance_id")
    processes: dict[str, dict[str, Any]] = {}
    for item in visible:
        entry = processes.setdefault(item["process"], {"name": item["process_name"], "count": 0})
        entry["count"] += 1
    items = [i for i in visible if process is None or i["process"] == process]
    deliveries = [d for d in deliveries if process is None or d["process"] == process]
    return render_template("incidents/index.html", items=items, total=len(visible), processes=processes,
                           process=process, sees_all=policy.sees_every_incident(current_user.viewer),
                           deliveries=deliveries)


@bp.post("/outbox/<int:message_id>/resolve")
@writer_required
def resolve_delivery(message_id: int):
    """A failed message: send it again or give it up, with a reason (the lane's holders; docs/outbox.md)."""
    action = request.form.get("action", "")
    row = runtime().resolve_delivery(message_id, current_user.username, action, request.form.get("reason"))
    if action == "retry":
        flash(_("消息 #{id} 已重新排队发送。", id=row["id"]), "success")
    else:
        flash(_("已放弃发送消息 #{id}。", id=row["id"]), "success")
    return redirect(url_for("incidents.index"))


# ---- resolving, from the instance page --------------------------------------------------
def _open_incident(instance_id: int) -> dict[str, Any] | None:
    """404 for an unknown instance; the open incident as this user sees it, None when there is none."""
    with runtime().reading() as session:
        if not reads.instance_exists(session, instance_id):
            abort(404)
        incident = incidents.incident_of(session, instance_id, current_user.viewer)
    if incident is not None and not incident["can_resolve"]:
        abort(403, _("此故障由「{lane}」泳道处理，您的角色无权处理", lane=display.lane_label(incident["lane"])))
    return incident


def _again(instance_id: int, alert: str | None = None, form: dict[str, Any] | None = None, status: int = 200):
    return render_instance(instance_id, status=status, incident_form=form, alert=alert)


def _no_incident(instance_id: int):
    return _again(instance_id, alert=_("此实例当前没有待处理的故障，可能已由他人处理。"), status=409)


@bp.post("/instances/<int:instance_id>/incident/retry")
@writer_required
def retry(instance_id: int):
    return _resolve(instance_id, with_data=False)


@bp.post("/instances/<int:instance_id>/incident/resolve")
@writer_required
def resolve(instance_id: int):
    return _resolve(instance_id, with_data=True)


def _resolve(instance_id: int, with_data: bool):
    incident = _open_incident(instance_id)
    if incident is None:
        return _no_incident(instance_id)
    reason = (request.form.get("reason") or "").strip()
    raw = request.form.get("data", "")
    errors: dict[str, str] = {}
    if not reason:
        errors["reason"] = _("请填写处理原因")
    data = None
    if with_data:
        data, problem = parse_data(raw)
        if problem:
            errors["data"] = problem
    if errors:
        form = {"action": "resolve" if with_data else "retry", "reason": request.form.get("reason", ""),
                "data": raw, "errors": errors}
        return _again(instance_id, form=form, status=422)
    try:
        result = runtime().resolve_incident(instance_id, current_user.username, reason, data)
    except TaskConflict:
        return _no_incident(instance_id)
    _flash_outcome(incident["task_name"], result)
    return redirect(url_for("instances.detail", instance_id=instance_id))


def parse_data(raw: str) -> tuple[dict[str, Any] | None, str | None]:
    """The corrected data typed into the form: a JSON object, or the reason it is not one."""
    if not raw.strip():
        return None, _("请填写修正后的数据（JSON 对象）")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, _("JSON 格式有误：第 {line} 行第 {col} 列，{msg}", line=exc.lineno, col=exc.colno, msg=exc.msg)
    except (ValueError, RecursionError):  # past Python's int-str limit, or nested too deeply
        return None, _("JSON 格式有误：数字过长或嵌套过深")
    if not isinstance(value, dict):
        return None, _("数据必须是 JSON 对象，例如 {example}", example='{"hotel_code": "HOTEL-TA-STD"}')
    return value, None


def _flash_outcome(name: str, result: dict[str, Any]) -> None:
    status, error = result["status"], result.get("error") or ""
    if status == InstanceStatus.ERROR:
        flash(_("「{name}」再次失败，已重新记录故障：{error}", name=name, error=error), "error")
    elif status == InstanceStatus.RETRYING:
        flash(_("「{name}」再次失败，系统将自动重试：{error}", name=name, error=error), "warning")
    else:
        flash(_("已重新执行「{name}」，流程继续运行。", name=name), "success")
