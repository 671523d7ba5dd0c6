"""Chinese first, English on request. UI strings are written in Chinese in the code and
templates (`_("收件箱")`); `EN` gives their English. A missing English entry shows the Chinese,
and a test lists every `_()` string without one.

We keep a dictionary instead of gettext catalogs: the UI has a few hundred short strings,
and there is no compile step to forget.
"""

from __future__ import annotations

from flask import Blueprint, Flask, redirect, request, session, url_for

LANGUAGES = ("zh", "en")
DEFAULT = "zh"

bp = Blueprint("i18n", __name__)

EN: dict[str, str] = {
    # shell
    "途流 · 旅行社流程": "tourflow · agency processes",
    "收件箱": "Inbox",
    "发起流程": "Start",
    "流程实例": "Instances",
    "流程定义": "Processes",
    "退出": "Log out",
    "登录": "Log in",
    "用户名": "User name",
    "密码": "Password",
    "用户名或密码错误": "Wrong user name or password",
    "演示账号（仅供演示，密码与用户名相同）": "Demo users (demo only: password = user name)",
    "请登录": "Please log in",
    # deployment
    "部署流程": "Deploy a process",
    "部署": "Deploy",
    "上传一个 .bpmn 文件及其表单（*.schema.json）；未上传的表单沿用当前版本。内容未变不会产生新版本。":
        "Upload one .bpmn file and its forms (*.schema.json); forms left out are kept from the current "
        "version. Unchanged content makes no new version.",
    "请选择要部署的 .bpmn 文件": "Choose the .bpmn file to deploy",
    "已部署 {process} 版本 {version}": "Deployed {process} version {version}",
    "{process} 内容未变化，仍为版本 {version}": "{process} is unchanged: still version {version}",
    # errors
    "出错了": "Something went wrong",
    "页面不存在": "Page not found",
    "无权访问": "Not allowed",
    "表单已过期，请刷新页面后重试": "The form has expired; reload the page and try again",
    "返回收件箱": "Back to the inbox",
    "请求有误": "Bad request",
    "冲突": "Conflict",
    # roles
    "各部门工作人员": "Staff (any department)",
    "坐席专员": "Call-centre agent",
    "接待人员": "Receptionist",
    "销售人员": "Sales",
    "质检培训部": "Quality control & training",
    "主管": "Supervisor",
    "计调": "Tour operator",
    "导游": "Guide",
    "项目经理": "Project manager",
    "审计": "Auditor",
    "流程负责人": "Process owner",
    "系统": "System",

    # pages: shared
    "刚刚": "just now",
    "{n} 分钟": "{n} min",
    "{n} 小时": "{n} h",
    "{n} 天": "{n} d",
    "是": "Yes",
    "否": "No",
    "无": "nobody",
    "位置": "Breadcrumbs",
    "分页": "Pagination",
    "上一页": "Previous",
    "下一页": "Next",
    "共 {n} 条": "{n} in total",
    "第 {p}/{pages} 页": "page {p} of {pages}",
    "暂无数据": "No data yet",
    "全部": "All",
    "筛选": "Filter",
    "清除": "Clear",
    "流程": "Process",
    "泳道": "Lane",
    "步骤": "Step",
    "状态": "Status",
    "处理人": "Assignee",
    "客户 / 团号": "Customer / tour",
    "截止时间": "Due",
    "实例数据": "Instance data",
    "流程图": "Diagram",
    "错误": "Error",
    "警告": "Warning",
    "请选择": "Please choose",
    # statuses, due states
    "进行中": "Running",
    "重试中": "Retrying",
    "出错": "Failed",
    "已完成": "Completed",
    "已取消": "Cancelled",
    "待办": "Open",
    "未到期": "On time",
    "即将到期": "Due soon",
    "已超期": "Overdue",
    "无期限": "No due date",
    # inbox
    "审计视图：所有泳道的待办任务（只读）": "Auditor view: open tasks of every lane (read-only)",
    "我所在泳道的待办任务": "Open tasks of my lanes",
    "统计": "Counts",
    "全部待办": "All open",
    "我认领的": "Claimed by me",
    "未认领": "Unclaimed",
    "按泳道": "By lane",
    "服务台": "Desk",
    "认领": "Claim",
    "排序": "Sort",
    "按截止时间": "Sort by due date",
    "按等待时间": "Sort by age",
    "只看已超期": "Overdue only",
    "等待": "Age",
    "期限": "Due",
    "没有符合条件的待办任务": "No open tasks match",
    # task page
    "创建于": "Created",
    "只读视图：审计人员可以查看，但不能办理任务。": "Read-only: auditors can look but not act on tasks.",
    "操作说明": "Instructions (SOP)",
    "此步骤没有操作说明。": "This step has no instructions.",
    "表单": "Form",
    "已由 {who} 于 {at} 完成。": "Completed by {who} at {at}.",
    "此步骤无需填写数据，确认后即可完成。": "This step needs no data; submit to complete it.",
    "提交并完成": "Submit and complete",
    "带 * 的为必填项": "Fields marked * are required",
    "请修正下面标出的 {n} 处问题": "Please fix the {n} marked fields below",
    "必填": "required",
    "现在": "Now",
    "办理": "Work on it",
    "释放": "Release",
    "转派给同事": "Reassign to a colleague",
    "接收人": "Assign to",
    "转派原因": "Reason",
    "转派": "Reassign",
    "此任务属于「{lane}」泳道，您的角色无权办理": "This task belongs to the lane \u201c{lane}\u201d, which your roles do not hold",
    "此任务已由 {who} 于 {at} 完成，您的提交没有保存。": "{who} already completed this task at {at}; your submission was not saved.",
    "此任务已被 {who} 认领；请联系认领人或主管转派。": "{who} has claimed this task; ask them or a supervisor to reassign it.",
    "此任务已不可办理（{state}）。": "This task can no longer be worked on ({state}).",
    "流程实例刚被他人修改，请刷新后重试。": "Someone else changed this instance just now; reload and try again.",
    "已完成「{name}」。下一步「{next}」也由您办理。": "Completed \u201c{name}\u201d. The next step, \u201c{next}\u201d, is yours too.",
    "已完成「{name}」。": "Completed \u201c{name}\u201d.",
    "已认领「{name}」。": "Claimed \u201c{name}\u201d.",
    "已释放「{name}」，其他同事可以认领。": "Released \u201c{name}\u201d; colleagues can claim it now.",
    "请选择接收人": "Choose who gets the task",
    "{user} 不在「{lane}」泳道": "{user} is not in the lane \u201c{lane}\u201d",
    "请填写转派原因": "Give a reason for the reassignment",
    "已将「{name}」转派给 {user}。": "Reassigned \u201c{name}\u201d to {user}.",
    # form validation
    "此项必填": "Required",
    "此项不能为空": "Must not be empty",
    "至少 {n} 个字符": "At least {n} characters",
    "最多 {n} 个字符": "At most {n} characters",
    "格式不正确": "Wrong format",
    "请从列表中选择": "Choose a value from the list",
    "请输入有效的日期时间": "Enter a valid date and time",
    "请输入有效的日期": "Enter a valid date",
    "不能小于 {n}": "Must not be less than {n}",
    "不能大于 {n}": "Must not be more than {n}",
    "类型不正确": "Wrong type",
    "表单中有未定义的字段：{name}": "The form has a field it does not define: {name}",
    "请输入数字": "Enter a number",
    "请输入整数": "Enter a whole number",
    "请选择“是”或“否”": "Choose yes or no",
    "请输入有效的 JSON": "Enter valid JSON",
    # start
    "您的角色可以发起的流程（最新版本）": "Processes your roles may start (newest version)",
    "发起泳道": "Start lane",
    "发起": "Start",
    "您的角色没有可以发起的流程。": "Your roles may not start any process.",
    "已发起「{name}」（实例 #{id}）。": "Started \u201c{name}\u201d (instance #{id}).",
    # instances
    "您无权查看此流程实例": "You may not view this process instance",
    "所有流程实例（只读）": "All process instances (read-only)",
    "我发起的，以及在我泳道中有任务的流程实例": "Instances I started or with tasks in my lanes",
    "没有符合条件的流程实例": "No instances match",
    "发起人": "Started by",
    "发起时间": "Started at",
    "结束时间": "Ended at",
    "业务键": "Business key",
    "任务": "Tasks",
    "创建时间": "Created at",
    "完成时间": "Completed at",
    "暂无任务": "No tasks",
    "事件记录": "Event log",
    "提交的数据与变更": "Submitted data and changes",
    "字段": "Field",
    "原值": "Old",
    "新值": "New",
    "流程发起": "Instance started",
    "任务就绪": "Task ready",
    "认领任务": "Task claimed",
    "释放任务": "Task released",
    "转派任务": "Task reassigned",
    "完成任务": "Task completed",
    "任务取消": "Task cancelled",
    "调用服务": "Handler called",
    "安排重试": "Retry scheduled",
    "定时器触发": "Timer fired",
    "收到消息": "Message received",
    "超出时限": "SLA breached",
    "流程结束": "Instance completed",
    "流程取消": "Instance cancelled",
    "发生故障": "Incident raised",
    "故障解除": "Incident resolved",
    "{name}，认领人 {who}": "{name}, claimed by {who}",
    "{name}，原认领人 {who}": "{name}, was claimed by {who}",
    "{name}：{old} → {new}；原因：{reason}": "{name}: {old} \u2192 {new}; reason: {reason}",
    "原因：{reason}": "Reason: {reason}",
    "失败：{error}": "failed: {error}",
    # processes
    "已部署的流程及其版本；每个版本的规范检查结果": "Deployed processes and their versions, with the lint findings of each version",
    "当前版本": "Current",
    "部署于 {at}，部署人 {who}": "deployed {at} by {who}",
    "{n} 个实例": "{n} instances",
    "查看流程图": "View diagram",
    "还没有部署任何流程。": "No process is deployed yet.",
    "规范检查": "Lint findings",
    "级别": "Severity",
    "规则": "Rule",
    "行": "Line",
    "说明": "Message",
    "检查通过，没有发现问题": "No findings",
}


def get_locale() -> str:
    lang = session.get("lang") or request.cookies.get("lang")
    return lang if lang in LANGUAGES else DEFAULT


def _(text: str, **params: object) -> str:
    """Translate a Chinese UI string into the user's language; `{name}` placeholders are filled."""
    out = EN.get(text, text) if get_locale() == "en" else text
    return out.format(**params) if params else out


@bp.route("/lang/<code>")
def set_language(code: str):
    if code in LANGUAGES:
        session["lang"] = code
    target = request.referrer or url_for("inbox.index")
    return redirect(target if target.startswith(request.host_url) or target.startswith("/") else "/")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals.update(_=_, get_locale=get_locale)
