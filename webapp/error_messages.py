"""The catalogue of engine errors in the user's language: one language per message, never mixed.

An engine error carries its English `message` (also its `str()`, for logs and scripts) and a `key`
with `params` (engine/errors.py). English is that message; Chinese is the template of its key
here, filled with the same parameters. An error without a key (or with a key missing here) shows
the generic message of its `code` in Chinese, so no English sentence reaches a Chinese page; a
message the web layer already wrote with `_()` is shown as it is. tests/web/test_error_language.py
checks that every key the code raises has a template here.
"""

from __future__ import annotations

import re
from typing import Any

from engine.errors import FormInvalid, TourflowError

CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")

STATUS_ZH = {"running": "进行中", "retrying": "重试中", "error": "出错", "completed": "已完成",
             "cancelled": "已取消", "ready": "待办"}

ZH: dict[str, str] = {
    # tasks and instances
    "task.missing": "任务 {id} 不存在",
    "task.not_ready": "任务 {id} 在流程中已不可办理",
    "task.claimed_by_other": "任务 {id} 已由 {assignee} 认领；请联系认领人或主管转派",
    "task.already_claimed": "任务 {id} 已由 {assignee} 认领",
    "instance.missing": "流程实例 {id} 不存在",
    "instance.not_yours": "流程实例 {id} 中没有您泳道的任务：您无权查看",
    "instance.changed": "流程实例刚被他人修改，请刷新后重试",
    "instance.no_incident": "流程实例 {id} 没有待处理的故障（状态：{status}）",
    "instance.no_failed_step": "流程实例 {id} 没有可重试的失败步骤",
    "instance.already_ended": "流程实例 {id} 已结束（{status}）",
    "job.no_data": "该作业将按原样重新执行：请先排除原因，再不带数据地处理",
    "draft.missing": "草稿 {id} 不存在",
    "view.missing": "视图 {id} 不存在",
    # the inbox search's fields (engine/run/task_search.py MESSAGES; the page's own in webapp/inbox_search.py)
    "search.long": "内容过长（最多 {n} 个字符）",
    "search.phone": "请填写电话号码的后 4 位或更多数字（可含空格、- 和 +）",
    "search.due": "请选择有效的期限：overdue、today、week 或 none",
    # due dates (engine/run/due_commands.py) and task drafts (engine/run/task_edits.py)
    "due.past": "必须晚于现在（现在是 {now}）",
    "due.nothing": "请填写新的截止时间、跟进时间或两者",
    "due.task_closed": "任务 {id} 的状态是“{status}”，已不能调整期限",
    "draft.not_object": "草稿必须是表单字段值的对象",
    "draft.unknown_field": "不是此任务表单的字段",
    "draft.bad_value": "必须是文字、文字列表或空值",
    "draft.too_big": "草稿最多 {max} 字节",
    "draft.task_closed": "任务 {id} 的状态是“{status}”，已无可编辑的内容",
    # reasons and data
    "reason.reassign": "转派任务必须填写原因",
    "reason.resolve": "处理故障必须填写原因",
    "reason.cancel": "取消流程实例必须填写原因",
    "data.not_object": "数据必须是 JSON 对象",
    "limit.required": "此项必填",
    "limit.not_string": "必须是文本",
    "limit.too_long": "最多 {limit} 个字符（现有 {got} 个）",
    "limit.surrogate": "含有无效的 Unicode 字符（单独的 UTF-16 代理项）",
    "limit.nul": "含有无法保存的 NUL 字符（\\u0000）",
    "limit.too_deep": "嵌套超过 {depth} 层",
    "limit.key_not_string": "对象的键必须是文本",
    "limit.key_too_long": "有一个键长 {got} 个字符；键最多 {limit} 个字符",
    "limit.int_range": "整数必须在 64 位范围内（-2^63 至 2^63-1）",
    "limit.not_finite": "必须是有限的数字",
    "form.invalid": "内容不符合表单要求",
    "arg.bool": "必须是 true 或 false",
    "arg.int": "必须是整数",
    "arg.range": "必须在 {low} 到 {high} 之间",
    "arg.min": "至少为 {low}",
    "form.broken": "表单定义有误（unevaluatedProperties 与 patternProperties 不能同用），请联系流程负责人修改",
    "migration.mapping": "应把旧节点 id 映射到新节点 id（文本），最多 {limit} 项",
    "migration.no_source": "映射 {source} → {target}：实例所在的版本中没有节点 {source}",
    "migration.no_target": "映射 {source} → {target}：目标版本中没有节点 {target}",
    "migration.kind_change": "映射 {source} → {target}：两个节点的类型不同，不能迁移",
    "migration.problems": "无法迁移：有 {count} 处节点在目标版本中没有对应",
    "migration.stale": "迁移后仍会有任务指向目标版本中没有的节点：{nodes}",
    "migration.same_version": "这些实例已经在版本 {version}",
    "migration.other_version": "实例 {id} 在版本 {version}",
    "migration.not_running": "实例 {id} 的状态是“{status}”，不能迁移",
    "migration.unknown_node": "版本 {version} 中没有节点 {node}",
    "migration.no_timezone": "必须带时区",
    "migration.bad_time": "必须是 ISO 8601 日期时间，如 2026-12-01T08:00:00Z",
    "migration.nodes": "必须是节点 id 的列表，最多 {limit} 个",
    "migration.instances": "必须是实例编号的列表",
    "migration.time_order": "必须早于 started_before",
    # messages
    "message.ttl": "ttl_seconds 必须是正数，且不超过允许的最长时间",
    "message.name": "消息名称应为 1 到 {limit} 个字符",
    "message.key": "关联键和 message_ref 应为 1 到 {limit} 个字符的文本",
    "message.nobody": "没有流程实例在等待消息 {name}，也没有流程由它发起；没有关联键时它不能在缓冲区等待",
    # the outbox
    "outbox.unknown_channel": "没有名为 {channel} 的发送渠道（可用：email、webhook、log）",
    "outbox.missing": "消息 {id} 不存在",
    "outbox.state": "消息 {id} 的状态是 {status}，不能执行此操作",
    "outbox.action": "处理方式必须是 retry（重新发送）或 give_up（放弃发送）",
    "outbox.report_item": "{field} 不正确",
    "outbox.report_items": "items 必须是非空列表，最多 {limit} 项",
    "outbox.setting_number": "设置 {name} 必须是正数，而不是“{value}”",
    # access
    "access.auditor": "审计员只能查看，不能修改",
    "access.due_supervisor": "任务 {task} 的期限只能由其泳道（{lane}）的主管调整",
    "access.overdue_list": "超期清单仅供主管和审计员查看",
    "access.outbox": "外发消息清单仅供主管、流程负责人和审计员查看",
    "access.templates": "消息模板仅供主管和流程负责人查看",
    "alerts.channel": "提醒方式应为 none、email 或 webhook 之一",
    "alerts.email": "邮件提醒需要有效的邮箱地址",
    "alerts.handle": "短信或群机器人提醒需要接收人的手机号或账号（2 到 200 个字符，不含空格）",
    "alerts.events": "提醒事项应为 new_task、overdue、incident 组成的列表",
    "template.problem": "消息模板 {where} 有误：{problem}",
    "template.kind": "没有消息类型 {kind}",
    "template.channel": "渠道应为 email、webhook 或 log 之一",
    "access.lane": "用户 {user}（角色：{roles}）不在泳道 {lane} 中",
    "access.routing": "该事项属于 {attribute} {theirs}；{user} 负责的是 {attribute} {mine}",
    "access.read_lane": "任务 {task} 在泳道 {lane} 中，{user} 不在此泳道",
    "access.claimed": "任务 {task} 已由 {assignee} 认领；只有认领人或主管可以释放或转派",
    "access.target_read_only": "用户 {user} 只读，不能办理任务 {task}",
    "access.target_lane": "用户 {user} 不在泳道 {lane} 中",
    "access.target_routing": "用户 {user} 不能办理任务 {task}",
    "access.system_lane": "系统泳道中的故障由主管或流程负责人处理，{user} 无权处理",
    "access.incident_lane": "用户 {user} 不在失败步骤所在的泳道 {lane} 中",
    "access.capability": "您的角色无权执行此操作（需要以下角色之一：{roles}）",
    "user.inactive": "用户 {user} 不存在或已停用",
    "user.missing": "用户 {user} 不存在",
    "user.password_short": "密码至少 {limit} 个字符",
    "token.label": "令牌标签最多 {limit} 个字符",
    "token.missing": "令牌 {id} 不存在",
    # processes and deploys
    "process.no_version": "流程 {process} 没有版本 {version}",
    "process.not_deployed": "流程 {process} 尚未部署",
    "process.already_current": "{process} 的版本 {version} 已是当前版本",
    "deploy.one_bpmn": "请只上传一个 .bpmn 文件（收到 {count} 个）",
    "deploy.wrong_files": "只能部署 .bpmn 和 {suffix} 文件（或一个 .zip），不能部署：{files}",
    "deploy.too_many_files": "每次最多部署 {limit} 个文件",
    "deploy.no_bpmn": "没有可部署的 .bpmn 文件",
    "deploy.same_name": "同一次部署中有两个同名的 .bpmn 文件",
    "deploy.refused": "{file}：发现 {count} 处错误，未部署任何内容",
    "deploy.needs_files": "{file}：无法单独读取该流程，请与它需要的文件一起部署；未部署任何内容",
    "deploy.not_utf8": "{file}：文件必须是 UTF-8 编码",
    "zip.unreadable": "无法读取该 zip 文件",
    "zip.too_many": "该 zip 有 {count} 个条目，最多 {limit} 个",
    "zip.encrypted": "zip 条目 {name} 已加密；请不设密码重新打包",
    "zip.outside": "zip 条目 {name} 指向 zip 之外；请使用普通的相对路径",
    "zip.too_large": "该 zip 解压后超过 {limit} 字节",
    "zip.entry_unreadable": "无法读取 zip 条目 {name}",
    "bpmn.unreadable": "{file}：无法读取文件",
    "bpmn.too_large": "{file}：文件有 {size} 字节，上限为 {limit} 字节",
    "bpmn.empty": "{file}：文件是空的",
    "bpmn.doctype": "{file}：BPMN 文件中不允许 DOCTYPE/ENTITY 声明",
    "bpmn.malformed": "{file}：XML 格式错误（第 {line} 行第 {col} 列）",
    "bpmn.too_many_elements": "{file}：文件有 {count} 个 XML 元素，上限为 {limit}",
    "bpmn.not_bpmn": "{file}：不是 BPMN 2.0 文件（根元素应为 bpmn:definitions）",
    "bpmn.unsupported": "{file}：{detail_zh}",
    "bpmn.no_process": "{file}：没有可执行的流程 {process}",
    "bpmn.process_count": "{file}：应恰好有一个可执行的流程，实际有 {count} 个",
    "bpmn.invalid_process": "{file}：SpiffWorkflow 无法解析该流程（第 {line} 行）",
    "bpmn.form_missing": "{file}：找不到任务 {task} 的表单 {form}",
    "bpmn.form_not_json": "{file}：表单不是有效的 JSON（第 {line} 行）",
    # scripts, timers, the command line
    "script.no_dispatch": "服务任务 {operation} 没有可用的处理程序",
    "timer.bad_start": "定时开始事件 {timer} 的时间设置无效",
    "cli.bad_json": "{what} 不是有效的 JSON",
    "cli.bad_at": "--at {value} 不是 ISO 8601 日期时间",
}

# The words of an error's `code` (the API's `error`): for an error without a catalogued key.
GENERIC: dict[str, tuple[str, str]] = {
    "not_found": ("找不到所请求的内容", "The requested item does not exist"),
    "conflict": ("操作与当前状态冲突，请刷新后重试", "The action conflicts with the current state; reload and retry"),
    "forbidden": ("您无权执行此操作", "You may not do this"),
    "validation_error": ("提交的数据不符合要求", "The submitted data is not valid"),
    "deployment_invalid": ("部署被拒绝：文件有误", "The deploy was refused: the files have errors"),
    "bpmn_invalid": ("无法读取该 BPMN 文件", "The BPMN file cannot be read"),
    "script_error": ("脚本或表达式出错", "A script or expression failed"),
    "invalid_json": ("不是有效的 JSON", "Not valid JSON"),
    "bad_request": ("请求有误", "Bad request"),
    "unauthorized": ("请先登录，或发送 Authorization: Bearer 令牌", "Log in or send 'Authorization: Bearer <token>'"),
    "csrf_failed": ("表单已过期，请刷新页面后重试", "The form has expired; reload the page and retry"),
    "too_large": ("内容过大", "The request is too large"),
    "internal_error": ("服务器内部错误；详情见服务器日志", "internal error; the details are in the server log"),
    "error": ("操作未完成", "The action could not be completed"),
}


def has_cjk(text: str) -> bool:
    return bool(CJK.search(text or ""))


def generic(code: str, lang: str, field: str | None = None) -> str:
    """The message of an error code in `lang` (naming the field when there is one)."""
    zh, en = GENERIC.get(code, GENERIC["error"])
    if field:
        return f"字段 {field}：{zh}" if lang == "zh" else f"field '{field}': {en}"
    return zh if lang == "zh" else en


def _zh_value(name: str, value: Any) -> Any:
    if value in (None, ""):
        return "无"
    if name == "status":
        return STATUS_ZH.get(str(value), value)
    return value


def field_detail_zh(exc: TourflowError | None, error: dict[str, Any]) -> str | None:
    """The Chinese of a one-field 422's detail from its key (no field prefix: the detail names it)."""
    template = ZH.get(exc.key or "") if isinstance(exc, FormInvalid) else None
    if template is None or len(exc.errors) != 1 or error.get("field") != exc.field:
        return None
    return template.format(**{name: _zh_value(name, value) for name, value in exc.params.items()})


def render(exc: TourflowError, lang: str) -> str:
    """The message of an engine error in `lang` ("zh" or "en")."""
    field = getattr(exc, "field", None)
    if lang != "zh":
        return exc.message if not has_cjk(exc.message) else generic(exc.code, "en", field)
    template = ZH.get(exc.key or "")
    if template is None:
        return exc.message if has_cjk(exc.message) else generic(exc.code, "zh", field)
    text = template.format(**{name: _zh_value(name, value) for name, value in exc.params.items()})
    if isinstance(exc, FormInvalid) and field and not exc.key.startswith("message."):
        return f"字段 {field}：{text}"
    return text


def render_text(code: str, message: str, lang: str, field: str | None = None) -> str:
    """A message the web layer wrote (English, or Chinese through `_()`), in `lang` or the code's words."""
    return message if has_cjk(message) == (lang == "zh") else generic(code, lang, field)
