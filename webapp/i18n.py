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
