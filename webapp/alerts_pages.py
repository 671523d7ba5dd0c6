"""每个人自己的提醒设置 (/settings/alerts): how a user hears of new tasks, overdue tasks and incidents
(engine/outbox/staff_alerts.py). Each user sets their own; auditors read and change nothing.
Decision (docs/messages.md): supervisors do not set others' addresses, since an address is the
user's own to give; `tourflow alerts set USER ...` is there for the operator."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from engine.clock import utcnow
from engine.errors import FormInvalid
from engine.outbox import staff_alerts
from webapp.app_state import runtime
from webapp.auth import writer_required
from webapp.i18n import gettext as _

bp = Blueprint("alerts", __name__)

FIELD_ERRORS = {"alerts.channel": "请选择提醒方式", "alerts.email": "请填写有效的邮箱地址",
                "alerts.handle": "请填写接收人的手机号或账号（2 到 200 个字符，不含空格）"}


def _page(values: dict[str, Any], errors: dict[str, list[str]] | None = None, status: int = 200):
    with runtime().reading() as session:
        recent = staff_alerts.recent_alerts(session, current_user.username)
    minutes = round(staff_alerts.window().total_seconds() / 60, 1)
    return render_template("settings/alerts.html", form=values, errors=errors or {}, recent=recent,
                           window_minutes=f"{minutes:g}", event_titles=staff_alerts.EVENT_TITLES,
                           events=staff_alerts.EVENTS), status


@bp.get("/settings/alerts")
def settings():
    with runtime().reading() as session:
        values = staff_alerts.preference(session, current_user.username)
    return _page(values)


@bp.post("/settings/alerts")
@writer_required
def save():
    values = {"channel": request.form.get("channel", ""), "address": request.form.get("address", "")[:400],
              "events": request.form.getlist("events")}
    try:
        with runtime().transaction() as tx:
            staff_alerts.set_preference(tx.session, current_user.username, channel=values["channel"],
                                        address=values["address"], events=values["events"],
                                        actor=current_user.username, now=utcnow())
    except FormInvalid as exc:
        return _page(values, {exc.field or "channel": [_(FIELD_ERRORS.get(exc.key or "", "请检查填写的内容"))]}, 422)
    flash(_("提醒设置已保存。"), "success")
    return redirect(url_for("alerts.settings"))
