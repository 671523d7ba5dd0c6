"""How values look on the pages: local times, ages, masked phones, SOP text, instance data.

Shared by the inbox, task, instance and process pages; registered as Jinja filters by `init_app`.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import bleach
import markdown
from flask import Flask, request
from markupsafe import Markup

from engine.access import privacy
from engine.clock import CHINA, parse_iso
from webapp.i18n import gettext as _

LOCAL_TZ = CHINA  # the agency's time zone (engine/clock.py)

# Labels of the things the engine names in English (statuses, event kinds, task states).
STATUS_LABELS = {
    "running": "进行中",
    "retrying": "重试中",
    "error": "出错",
    "completed": "已完成",
    "cancelled": "已取消",
    "ready": "待办",
}
DUE_LABELS = {"ok": "未到期", "due_soon": "即将到期", "overdue": "已超期", "none": "无期限",
              "waiting_long": "等待已久"}
EVENT_LABELS = {
    "instance_started": "流程发起",
    "task_ready": "任务就绪",
    "task_claimed": "认领任务",
    "task_unclaimed": "释放任务",
    "task_reassigned": "转派任务",
    "task_due_changed": "调整期限",
    "task_completed": "完成任务",
    "task_cancelled": "任务取消",
    "handler_called": "调用服务",
    "retry_scheduled": "安排重试",
    "timer_fired": "定时器触发",
    "message_received": "收到消息",
    "sla_breached": "超出时限",
    "instance_completed": "流程结束",
    "instance_cancelled": "流程取消",
    "incident_raised": "发生故障",
    "incident_resolved": "故障解除",
    "sla_warning": "时限预警",
    "message_sent": "发出消息",
    "message_expired": "消息过期",
    "job_failed": "作业失败",
    "business_key_set": "确定业务编号",
    "state_written": "记录状态",
    "outbox_queued": "消息排队待发",
    "outbox_sent": "消息已发出",
    "outbox_delivered": "消息已送达",
    "outbox_failed": "消息发送失败",
    "outbox_retried": "重新发送消息",
    "outbox_cancelled": "放弃发送消息",
}

_NUMBERED = re.compile(r"^\s*[(（]\s*(\d+)\s*[)）]\s*(.*)$")
_SOP_TAGS = ["p", "ol", "ul", "li", "strong", "em", "code", "br", "a", "blockquote"]


def parse_time(value: str | datetime | None) -> datetime | None:
    """An ISO string from the engine ('...Z' or naive UTC) or a datetime -> aware datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            return parse_iso(value)  # no offset: UTC
        except ValueError:
            return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def local_time(value: str | datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A moment in the agency's time zone (Asia/Shanghai)."""
    moment = parse_time(value)
    return moment.astimezone(LOCAL_TZ).strftime(fmt) if moment else ""


def age(seconds: int | float | None) -> str:
    """'刚刚', '3 分钟', '2 小时', '1 天'."""
    if seconds is None:
        return ""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return _("刚刚")
    if seconds < 3600:
        return _("{n} 分钟", n=seconds // 60)
    if seconds < 86400:
        return _("{n} 小时", n=seconds // 3600)
    return _("{n} 天", n=seconds // 86400)


def duration(seconds: int | float | None) -> str:
    """Time spent, to one decimal: '12 秒', '3.5 分钟', '1.2 小时', '2.0 天'."""
    if seconds is None:
        return ""
    seconds = max(0.0, float(seconds))
    for unit, label in ((86400, "{n} 天"), (3600, "{n} 小时"), (60, "{n} 分钟")):
        if seconds >= unit:
            return _(label, n=f"{seconds / unit:.1f}")
    return _("{n} 秒", n=f"{seconds:.0f}" if seconds >= 10 or seconds < 0.05 else f"{seconds:.1f}")


def mask_phone(value: Any) -> str:
    """138****4567: enough to recognise a caller, not enough to copy the number."""
    return "" if value is None else privacy.mask_phone(str(value).strip())


def render_sop(text: str | None) -> Markup:
    """SOP documentation: '(1) ...' lines become an ordered list, other text Markdown (sanitised)."""
    if not text or not text.strip():
        return Markup("")
    blocks: list[tuple[str, list[str]]] = []
    for line in text.strip().splitlines():
        numbered = _NUMBERED.match(line)
        kind = "ol" if numbered else "text"
        content = numbered.group(2) if numbered else line
        if blocks and blocks[-1][0] == kind:
            blocks[-1][1].append(content)
        else:
            blocks.append((kind, [content]))
    html = []
    for kind, lines in blocks:
        if kind == "ol":
            html.append("<ol class=\"sop-steps\">" + "".join(f"<li>{_inline_md(li)}</li>" for li in lines) + "</ol>")
        else:
            html.append(_clean(markdown.markdown("\n".join(lines))))
    return Markup("".join(html))


def _inline_md(text: str) -> str:
    rendered = markdown.markdown(text)
    rendered = re.sub(r"^<p>(.*)</p>$", r"\1", rendered.strip(), flags=re.S)
    return _clean(rendered)


def _clean(html: str) -> str:
    return bleach.clean(html, tags=_SOP_TAGS, attributes={"a": ["href", "title"]},
                        protocols=["http", "https", "mailto"], strip=True)


def form_labels(forms: dict[str, Any] | None) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """key -> Chinese title, and key -> property schema, from every form of a process version."""
    labels: dict[str, str] = {}
    props: dict[str, dict[str, Any]] = {}
    for schema in (forms or {}).values():
        for name, prop in ((schema or {}).get("properties") or {}).items():
            if isinstance(prop, dict):
                props.setdefault(name, prop)
                if prop.get("title"):
                    labels.setdefault(name, prop["title"])
    return labels, props


def show_value(value: Any, prop: dict[str, Any] | None = None) -> str:
    """A data value the way people read it: 是/否, local times, lists joined."""
    prop = prop or {}
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if isinstance(value, str) and prop.get("format") == "date-time":
        return local_time(value) or value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "、".join(show_value(v, prop.get("items") if isinstance(prop.get("items"), dict) else None)
                        for v in value) or "—"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def data_rows(data: dict[str, Any] | None, forms: dict[str, Any] | None) -> list[dict[str, str]]:
    """Instance data as labelled rows: keys the forms know first (in form order), then the rest."""
    data = data or {}
    labels, props = form_labels(forms)
    known = [k for k in props if k in data]
    rest = sorted(k for k in data if k not in props)
    return [{"key": k, "label": labels.get(k, k), "value": show_value(data[k], props.get(k))}
            for k in known + rest]


def data_panel(data: dict[str, Any] | None, forms: dict[str, Any] | None) -> dict[str, list[dict[str, str]]]:
    """The instance page's data: `fields`, the keys a form of the version describes, under their form
    titles (in form order); `technical`, the rest (routing, handler results, `_` keys), by key."""
    data = data or {}
    labels, props = form_labels(forms)
    fields = [k for k in props if k in data and not k.startswith("_")]
    technical = sorted(k for k in data if k not in fields)
    return {"fields": [{"key": k, "label": labels.get(k, k), "value": show_value(data[k], props[k])} for k in fields],
            "technical": [{"key": k, "label": k, "value": show_value(data[k])} for k in technical]}


def event_summary(event: dict[str, Any], forms: dict[str, Any] | None) -> dict[str, Any]:
    """A timeline entry: the kind in words, a one-line note, and (for completions) data and diff."""
    payload = event.get("payload") or {}
    labels, props = form_labels(forms)
    kind = event.get("kind", "")
    note = ""
    fields: list[dict[str, str]] = []
    diff: list[dict[str, str]] = []
    if kind in ("task_ready", "task_claimed", "task_unclaimed", "task_cancelled", "task_completed"):
        note = payload.get("name") or payload.get("task") or ""
    if kind == "task_claimed":
        note = _("{name}，认领人 {who}", name=note, who=payload.get("assignee", ""))
    elif kind == "task_unclaimed":
        note = _("{name}，原认领人 {who}", name=note, who=payload.get("previous_assignee", ""))
    elif kind == "task_reassigned":
        note = _("{name}：{old} → {new}；原因：{reason}", name=payload.get("name", ""),
                 old=payload.get("from") or _("无"), new=payload.get("to", ""), reason=payload.get("reason", ""))
    elif kind == "task_due_changed":
        note = _("{name}：期限 {old} → {new}；跟进 {old_follow} → {new_follow}", name=payload.get("name", ""),
                 old=local_time(payload.get("old_due_at")) or "—", new=local_time(payload.get("new_due_at")) or "—",
                 old_follow=local_time(payload.get("old_follow_up_at")) or "—",
                 new_follow=local_time(payload.get("new_follow_up_at")) or "—")
    elif kind == "instance_cancelled":
        note = _("原因：{reason}", reason=payload.get("reason", ""))
    elif kind == "instance_started":
        note = f"{payload.get('process', '')} v{payload.get('version', '')}"
    elif kind in ("timer_fired", "sla_breached"):
        note = payload.get("name") or payload.get("timer") or ""
    elif kind == "message_received":
        note = f"{payload.get('name', '')} ({payload.get('key') or '—'})"
    elif kind == "handler_called":
        note = payload.get("handler", "")
        if payload.get("error"):
            note += " · " + _("失败：{error}", error=payload["error"])
    elif kind in ("incident_raised", "retry_scheduled"):
        note = payload.get("error", "")
    elif kind == "incident_resolved":
        note = _("原因：{reason}", reason=payload.get("reason", ""))
    elif kind == "state_written":
        note = _("状态哈希 {digest}…", digest=str(payload.get("state_sha256", ""))[:12])
    if kind == "task_completed":
        for key, value in (payload.get("submitted") or {}).items():
            fields.append({"label": labels.get(key, key), "value": show_value(value, props.get(key))})
        for key, pair in (payload.get("diff") or {}).items():
            old, new = (pair + [None, None])[:2] if isinstance(pair, list) else (None, pair)
            diff.append({"label": labels.get(key, key), "old": show_value(old, props.get(key)),
                         "new": show_value(new, props.get(key))})
    return {"seq": event.get("seq"), "at": event.get("at"), "actor": event.get("actor"), "kind": kind,
            "kind_label": _(EVENT_LABELS[kind]) if kind in EVENT_LABELS else kind,
            "note": note, "fields": fields, "diff": diff}


def url_with(**changes: Any) -> str:
    """The current page's URL with some query parameters changed (None or '' removes them)."""
    args = request.args.to_dict()
    for key, value in changes.items():
        if value is None or value == "" or value is False:
            args.pop(key, None)
        else:
            args[key] = value
    query = urlencode(args)
    return request.path + ("?" + query if query else "")


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(local_time=local_time, age=age, mask_phone=mask_phone, sop=render_sop,
                                 show_value=show_value, duration=duration)
    app.jinja_env.globals.update(
        url_with=url_with, status_label=lambda s: _(STATUS_LABELS[s]) if s in STATUS_LABELS else s,
        due_label=lambda s: _(DUE_LABELS[s]) if s in DUE_LABELS else s, lane_label=lane_label,
    )


def lane_label(lane: str | None) -> str:
    """A lane id (= role id) in words."""
    from engine.access.users import ROLES

    if not lane:
        return ""
    if lane == "system":
        return _("系统")
    return _(ROLES[lane]) if lane in ROLES else lane
