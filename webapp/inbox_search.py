"""The search fields of the inbox (page and GET /api/v1/tasks): read from the query string into an
engine/run/task_search.py TaskSearch; what is wrong with one, in English for the API and in the
page's language for the form."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from engine.errors import FormInvalid
from engine.run.task_search import DUE_CHOICES, MESSAGES, TEXT_MAX, TaskSearch, problems
from webapp.api_args import invalid

__all__ = ["FIELDS", "PAGE_MESSAGES", "TEXT_MAX", "api_problem", "due_choices", "page_problems", "search_of"]
from webapp.i18n import gettext as _

FIELDS = ("q", "customer", "phone", "code", "due")
PAGE_MESSAGES = {
    "long": "内容过长（最多 {n} 个字符）",
    "phone": "请填写电话号码的后 4 位或更多数字（可含空格、- 和 +）",
    "due": "请选择有效的期限",
}
DUE_LABELS = {"overdue": "已超期", "today": "今天到期", "week": "本周到期", "none": "无期限"}


def search_of(args: MultiDict) -> TaskSearch:
    return TaskSearch(**{name: (args.get(name) or "").strip() or None for name in FIELDS})


def api_problem(search: TaskSearch) -> FormInvalid | None:
    """The API's 422 for the first bad field (English here, Chinese by its key in webapp/error_messages.py)."""
    for name, code in problems(search).items():
        if code == "long":
            return invalid(name, MESSAGES[code], "search.long", n=TEXT_MAX)
        if code == "phone":
            return invalid(name, MESSAGES[code], "search.phone")
        return invalid(name, MESSAGES[code], "search.due")
    return None


def page_problems(search: TaskSearch) -> dict[str, str]:
    """field -> message in the page's language, for the form."""
    return {name: _(PAGE_MESSAGES[code], n=TEXT_MAX) for name, code in problems(search).items()}


def due_choices() -> list[tuple[str, str]]:
    return [(choice, _(DUE_LABELS[choice])) for choice in DUE_CHOICES]
