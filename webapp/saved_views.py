"""Saved inbox views (engine/run/saved_views.py): save the inbox's current filters under a name,
delete one. They show as tabs above the inbox (webapp/templates/inbox/_views.html)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from engine.clock import utcnow
from engine.run import saved_views
from webapp.app_state import runtime
from webapp.auth import writer_required
from webapp.i18n import gettext as _
from webapp.inbox import render_inbox

bp = Blueprint("saved_views", __name__)

# Why a view was not saved, in the page's language (engine/run/saved_views.py ViewInvalid.problem).
PROBLEMS = {
    "name_missing": "请填写视图名称",
    "name_long": "视图名称最多 {n} 个字符",
    "name_taken": "您已有名为「{name}」的视图，请换一个名称",
    "too_many": "最多保存 {max} 个视图，请先删除一个",
    "query_long": "筛选条件过长",
}


def _inbox_url(query: str) -> str:
    return url_for("inbox.index") + (f"?{query}" if query else "")


@bp.post("/inbox/views")
@writer_required
def save():
    name = request.form.get("name", "")
    query = request.form.get("query", "")
    try:
        with runtime().transaction() as tx:
            view = saved_views.save_view(tx.session, current_user.username, name, query, utcnow())
    except saved_views.ViewInvalid as exc:
        message = _(PROBLEMS[exc.problem], n=saved_views.NAME_MAX, name=" ".join(name.split()),
                    max=saved_views.VIEWS_MAX)
        args = MultiDict(saved_views.parse_query(saved_views.clean_query(query)))
        return render_inbox(args, status=422, view_form={"name": name, "error": message})
    flash(_("已保存视图「{name}」。", name=view["name"]), "success")
    return redirect(_inbox_url(view["query"]))


@bp.post("/inbox/views/<int:view_id>/delete")
@writer_required
def delete(view_id: int):
    with runtime().transaction() as tx:
        name = saved_views.delete_view(tx.session, current_user.username, view_id)
    flash(_("已删除视图「{name}」。", name=name), "success")
    return redirect(url_for("inbox.index"))
