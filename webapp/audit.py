"""The auditor's workspace: an instance's audit trail, every event with its chain verdict and a
step-through replay (static/js/replay.js), and the tamper evidence of every hash chain.

The chain verdicts come from engine/store/audit.py (`check_stream`, `stream_statuses`): the same walk
`tourflow audit verify` does, so the page, the API and the CLI name the same seq.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from flask import Blueprint, render_template
from flask_login import current_user

from engine.access.policy import Capability
from engine.errors import NotAllowed
from engine.run import queries, reads
from engine.run.instance_access import require_viewable
from engine.store import audit, state_hash
from webapp import display, privacy
from webapp.app_state import runtime
from webapp.auth import capability_required
from webapp.errors import wants_json
from webapp.i18n import gettext as _
from webapp.page_args import flag_arg, int_arg

bp = Blueprint("audit", __name__)

CHAINS_PER_PAGE = 50
# How each problem a chain walk finds is said on the pages ({seq}, {found}, {head} filled in).
PROBLEM_TEXT = {
    audit.HASH_MISMATCH: "第 {seq} 条事件的内容与其哈希不符：记录被改动",
    audit.SEQ_GAP: "缺少第 {seq} 条事件（之后是第 {found} 条）：记录被删除或序号被改动",
    audit.PREV_MISMATCH: "第 {seq} 条事件的前序哈希与上一条不符：记录被调换、插入或重新串链",
    audit.TAIL_MISSING: "第 {seq} 条起的事件缺失（链头记录到第 {head} 条）：最新的记录被删除",
    audit.HEAD_MISMATCH: "第 {seq} 条事件与链头记录不符：链头被改动，或有记录绕过系统写入",
    audit.STATE_MISMATCH: "实例当前的存储状态与第 {seq} 条事件记录的状态不符：流程数据、任务或作业在系统之外被改动",
}
CHAIN_LABELS = {"ok": "校验通过", "broken": "断裂处", "after_break": "不可信"}
# Payload keys shown as "the data" of an event, by kind (task_completed: submitted data and diff).
DATA_KEYS = {"instance_started": "data", "message_received": "data", "message_sent": "data",
             "incident_resolved": "data", "handler_called": "input"}
REASON_KINDS = ("task_reassigned", "instance_cancelled", "incident_resolved", "task_due_changed")


@bp.app_context_processor
def _helpers():
    return {"problem_text": problem_text, "stream_label": stream_label, "utc_time": utc_time,
            "chain_label": lambda c: _(CHAIN_LABELS[c]) if c in CHAIN_LABELS else c}


def problem_text(broken: dict[str, Any] | None, head_seq: int | None = None) -> str:
    """A chain break (`audit.break_dict`) in the page's language."""
    if not broken:
        return ""
    text = PROBLEM_TEXT.get(broken["problem"])
    if text is None:
        return broken["reason"]
    return _(text, seq=broken["seq"], found=broken.get("found_seq") or "—", head=head_seq or "—")


def stream_label(stream: str) -> str:
    instance_id = audit.stream_instance_id(stream)
    if instance_id is not None:
        return _("实例 #{id}", id=instance_id)
    return _("系统") if stream == audit.SYSTEM_STREAM else stream


def utc_time(value: str | None) -> str:
    moment = display.parse_time(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC" if moment else ""


def check_viewable(instance_id: int) -> None:
    """NotFound for an unknown instance; NotAllowed unless the viewer may see it (engine/access/policy.py):
    the rule of the instance page, its API and its audit record."""
    with runtime().reading() as session:
        try:
            require_viewable(session, current_user.viewer, instance_id)
        except NotAllowed as refused:
            raise (refused if wants_json() else NotAllowed(_("您无权查看此流程实例"))) from None


def instance_trail(instance_id: int) -> dict[str, Any]:
    """The instance's events, each with its chain verdict, and the verdict on its stream."""
    with runtime().reading() as session:
        check = audit.check_stream(session, audit.instance_stream(instance_id))
        state = state_hash.check_states(session, [instance_id])[instance_id] if check.brk is None else None
    brk = check.brk or (state_hash.state_break(state) if state else None)
    return {"stream": check.stream, "ok": brk is None, "head_seq": check.head_seq,
            "broken": audit.break_dict(brk), "events": audit.checked_events(check),
            "state": {"verdict": state.verdict, "seq": state.seq, "message": state.message} if state else None}


def entry(event: dict[str, Any], forms: dict[str, Any]) -> dict[str, Any]:
    """One row of the audit timeline: what, who, when, with what data, why, and the chain verdict."""
    summary = display.event_summary(event, forms)
    payload = event.get("payload") if isinstance(event.get("payload"), dict) else {}
    kind = event.get("kind")
    reason = payload.get("reason") if kind in REASON_KINDS else None
    note = summary["note"]
    if kind == "task_reassigned":
        note = _("{name}：{old} → {new}", name=payload.get("name", ""), old=payload.get("from") or _("无"),
                 new=payload.get("to", ""))
    elif kind == "instance_cancelled":
        note = ""  # the reason is the whole story, shown below
    elif kind == "incident_resolved":
        note = payload.get("task") or ""
    fields = summary["fields"]
    data = payload.get(DATA_KEYS.get(kind, ""))
    if not fields and isinstance(data, dict) and data:
        labels, props = display.form_labels(forms)
        fields = [{"label": labels.get(k, k), "value": display.show_value(v, props.get(k))} for k, v in data.items()]
    return {**summary, "note": note, "fields": fields, "reason": reason,
            "output": display.show_value(payload["output"]) if "output" in payload else None,
            "chain": event["chain"], "hash": event["hash"], "prev_hash": event["prev_hash"],
            "computed_hash": event["computed_hash"],
            "payload_json": json.dumps(payload, ensure_ascii=False, indent=2, sort_keys=True)}


@bp.route("/instances/<int:instance_id>/audit")
def timeline(instance_id: int):
    check_viewable(instance_id)
    rt = runtime()
    forms = rt.instance_forms(instance_id)
    mask = privacy.masker(instance_id, forms)
    instance = mask(rt.show(instance_id))
    trail = instance_trail(instance_id)
    with rt.reading() as session:
        names = queries.process_names(session)
    events = [entry(e, forms) for e in privacy.events(trail["events"], mask)]
    labels = list(display.form_labels(forms)[0].items())  # pairs: the JSON keeps the forms' order
    replay_events = {e["seq"]: {"label": e["kind_label"], "note": e["note"], "actor": e["actor"],
                                "at": display.local_time(e["at"], "%Y-%m-%d %H:%M:%S")} for e in events}
    return render_template(
        "audit/timeline.html", instance=instance, process_name=names.get(instance["process"], instance["process"]),
        events=events, trail=trail, data_labels=labels, replay_events=replay_events,
        replay_text=replay_texts())


def replay_texts() -> dict[str, str]:
    """The words replay.js shows, in the page's language."""
    return {"position": _("第 {n}/{total} 步"), "loading": _("正在重放…"), "identical": _("重放结果与存储状态一致"),
            "different": _("重放结果与存储状态不一致：{difference}"), "failed": _("重放失败：{error}"),
            "empty": _("暂无数据"), "changed": _("本步变更"), "yes": _("是"), "no": _("否")}


# ---- tamper evidence of every chain ------------------------------------------------------
def sorted_statuses(statuses: list[audit.StreamStatus]) -> list[audit.StreamStatus]:
    """The system stream first, then instances, newest first."""
    return sorted(statuses, key=lambda s: (s.instance_id is not None, -(s.instance_id or 0), s.stream))


def chain_report(broken_only: bool, page: int, per_page: int) -> dict[str, Any]:
    """Every stream checked: the broken ones, and one page of all of them (or of the broken ones),
    each with its instance's process and whether the viewer may open its timeline."""
    viewer = current_user.viewer
    with runtime().reading() as session:
        statuses = sorted_statuses(state_hash.with_states(session, audit.stream_statuses(session)))
        broken = [s for s in statuses if s.brk is not None]
        rows = broken if broken_only else statuses
        per_page = max(1, min(per_page, queries.PER_PAGE_MAX))
        pages = max(1, -(-len(rows) // per_page))
        page = max(1, min(page, pages))
        shown = rows[(page - 1) * per_page:page * per_page]
        ids = {s.instance_id for s in [*shown, *broken] if s.instance_id is not None}
        found = reads.instance_processes(session, ids)
        visible = reads.visible_instance_ids(session, viewer, found)
        names = queries.process_names(session)

    def row(status: audit.StreamStatus) -> dict[str, Any]:
        process = found.get(status.instance_id)
        return {**audit.status_dict(status), "process": process,
                "process_name": names.get(process, process) if process else None,
                "can_view": status.instance_id in visible}

    return {"checked": len(statuses), "broken_count": len(broken), "events": sum(s.events for s in statuses),
            "broken": [row(s) for s in broken], "items": [row(s) for s in shown], "total": len(rows),
            "page": page, "per_page": per_page, "pages": pages}


@bp.route("/audit")
@capability_required(Capability.READ_CHAINS)
def chains():
    broken_only = flag_arg("broken")
    report = chain_report(broken_only, int_arg("page", 1), CHAINS_PER_PAGE)
    return render_template("audit/chains.html", report=report, broken_only=broken_only)
