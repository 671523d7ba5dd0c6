"""外发消息 (/outbox): the supervisors' page of messages to customers and staff, failed ones first,
with each message's timeline and a retry; 消息模板 (/messages/templates): every message kind, its
files' problems and a preview with the customer's data masked (docs/messages.md)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from engine.access import policy
from engine.errors import FormInvalid, NotFound, TaskConflict
from engine.limits import REASON_MAX
from engine.outbox import queue
from engine.outbox.templates import CHANNEL_FILES
from engine.run import instance_access, outbox_list
from handlers.customer_messages import contact_history
from webapp import message_preview
from webapp.app_state import runtime
from webapp.auth import writer_required
from webapp.i18n import gettext as _

bp = Blueprint("outbox", __name__)

STATUS_LABELS = {"queued": "排队中", "sending": "发送中", "sent": "已发送", "delivered": "已送达", "failed": "发送失败",
                 "cancelled": "已取消"}
EVENT_LABELS = {"outbox_queued": "已排队", "outbox_sent": "已发送", "outbox_delivered": "已送达",
                "outbox_failed": "发送失败", "outbox_retried": "重新发送", "outbox_cancelled": "放弃发送"}
CHANNEL_LABELS = {"email": "邮件", "webhook": "Webhook（短信/群机器人）", "log": "日志（演示）"}


@bp.record_once
def _setup(state) -> None:
    state.app.jinja_env.globals.update(sees_outbox=sees_outbox, sees_templates=sees_templates,
                                       customer_messages=customer_messages,
                                       outbox_status_label=lambda s: _(STATUS_LABELS.get(s, s)),
                                       outbox_channel_label=lambda c: _(CHANNEL_LABELS.get(c, c)),
                                       outbox_event_label=lambda k: _(EVENT_LABELS.get(k, k)))


def sees_outbox() -> bool:
    return current_user.is_authenticated and policy.outbox_page_refusal(current_user.viewer) is None


def sees_templates() -> bool:
    return current_user.is_authenticated and policy.template_preview_refusal(current_user.viewer) is None


def customer_messages(instance_id: int) -> list[dict]:
    """The instance page's 客户消息 panel: what was sent to the customer and how far each message got;
    the contact and the text masked for a viewer who may not see the customer's data."""
    with runtime().reading() as session:
        history = contact_history(session, instance_id)
        shown = instance_access.may_see_personal_data(session, current_user.viewer, instance_id) if history else True
    if shown:
        return history
    return [{**item, "summary": None, "contact": queue.mask_recipient(item["contact"] or ""),
             "messages": [{**m, "recipient": queue.mask_recipient(m["recipient"])} for m in item["messages"]]}
            for item in history]


@bp.get("/outbox")
def index():
    if not sees_outbox():
        abort(403, _("外发消息清单仅供主管、流程负责人和审计员查看"))
    status = request.args.get("status", "failed")
    status = status if status in outbox_list.STATUSES else None  # anything else: every status
    with runtime().reading() as session:
        result = outbox_list.outbox_list(session, current_user.viewer, status=status)
    return render_template("outbox/index.html", result=result, statuses=outbox_list.STATUSES)


@bp.get("/outbox/<int:message_id>")
def detail(message_id: int):
    if not sees_outbox():
        abort(403, _("外发消息清单仅供主管、流程负责人和审计员查看"))
    return _detail(message_id)


def _detail(message_id: int, errors: dict[str, list[str]] | None = None, reason: str = "", status: int = 200):
    try:
        with runtime().reading() as session:
            message = outbox_list.outbox_message(session, current_user.viewer, message_id)
    except NotFound:
        abort(404)
    return render_template("outbox/detail.html", message=message, errors=errors or {}, reason=reason), status


@bp.post("/outbox/<int:message_id>/retry")
@writer_required
def retry(message_id: int):
    """Send a failed message again: the same command and rule as its incident (Runtime.resolve_delivery)."""
    policy.refuse_if(policy.outbox_page_refusal(current_user.viewer))
    reason = request.form.get("reason", "").strip()
    if not reason or len(reason) > REASON_MAX:
        return _detail(message_id, {"reason": [_("请填写重新发送的原因")]}, reason[:REASON_MAX], 422)
    try:
        runtime().resolve_delivery(message_id, current_user.username, "retry", reason)
    except NotFound:
        abort(404)
    except (TaskConflict, FormInvalid):
        return _detail(message_id, {"reason": [_("此消息不是发送失败状态，无需重新发送")]}, reason, 409)
    flash(_("消息 #{id} 已重新排队发送。", id=message_id), "success")
    return redirect(url_for("outbox.detail", message_id=message_id))


@bp.get("/messages/templates")
def templates_page():
    if not sees_templates():
        abort(403, _("消息模板仅供主管和流程负责人查看"))
    kinds = message_preview.kinds_with_problems()
    kind = request.args.get("kind") or (kinds[0]["kind"] if kinds else "")
    channel = request.args.get("channel") or "email"
    if channel not in message_preview.PREVIEW_CHANNELS:
        channel = "email"
    try:
        shown = message_preview.preview(kind, channel) if kind else None
    except NotFound:
        abort(404)
    return render_template("outbox/templates.html", kinds=kinds, shown=shown, kind=kind, channel=channel,
                           channels=message_preview.PREVIEW_CHANNELS, channel_files=CHANNEL_FILES)
