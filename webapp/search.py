"""Search: instances by process, customer, tour, status, start date and actor (handlers/domain/search.py).

Auditors find every instance; everyone else only those they may see. The same filters are read
here for the page and for `GET /api/v1/search` (webapp/api_audit.py): a bad one is a 422.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from engine.access.users import usernames
from engine.limits import PAGE_MAX
from engine.run import queries
from handlers.domain.search import TEXT_MAX, SearchFilter, search
from webapp import privacy
from webapp.app_state import runtime
from webapp.i18n import gettext as _

bp = Blueprint("search", __name__)

TEXT_FIELDS = ("process", "customer", "tour", "actor")
FIELDS = (*TEXT_FIELDS, "status", "started_from", "started_to", "page", "per_page")
# What is wrong with a filter, in English for the API and in the page's language.
PROBLEMS = {
    "date": ("must be a date YYYY-MM-DD", "请填写日期，格式为 YYYY-MM-DD"),
    "range": ("must not be before started_from", "结束日期不能早于开始日期"),
    "status": (f"must be one of {', '.join(queries.INSTANCE_STATUSES)}", "请选择有效的状态"),
    "int": ("must be a whole number in range", "请填写有效的整数"),
    "long": (f"must be at most {TEXT_MAX} characters", "内容过长"),
}


@dataclass
class ParsedSearch:
    flt: SearchFilter
    errors: dict[str, str] = field(default_factory=dict)  # field -> problem code (PROBLEMS)

    @property
    def filtered(self) -> bool:
        f = self.flt
        return any((f.process, f.customer, f.tour, f.status, f.started_from, f.started_to, f.actor))


def _date(args: MultiDict, name: str, errors: dict[str, str]) -> date | None:
    value = (args.get(name) or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[name] = "date"
        return None


def _int(args: MultiDict, name: str, default: int, high: int, errors: dict[str, str]) -> int:
    value = (args.get(name) or "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= high:
        errors[name] = "int"
        return default
    return number


def parse(args: MultiDict) -> ParsedSearch:
    """The filters of a query string; `errors` names each bad one."""
    errors: dict[str, str] = {}
    texts: dict[str, str | None] = {}
    for name in TEXT_FIELDS:
        value = (args.get(name) or "").strip()
        if len(value) > TEXT_MAX:
            errors[name] = "long"
        texts[name] = value or None
    status = (args.get("status") or "").strip() or None
    if status is not None and status not in queries.INSTANCE_STATUSES:
        errors["status"] = "status"
    started_from, started_to = _date(args, "started_from", errors), _date(args, "started_to", errors)
    if started_from and started_to and started_to < started_from:
        errors["started_to"] = "range"
    per_page_default = current_app.config.get("PER_PAGE", 25)
    flt = SearchFilter(
        status=status, started_from=started_from, started_to=started_to,
        page=_int(args, "page", 1, PAGE_MAX, errors),
        per_page=_int(args, "per_page", per_page_default, queries.PER_PAGE_MAX, errors),
        **texts,
    )
    return ParsedSearch(flt, errors)


def run(flt: SearchFilter) -> dict[str, Any]:
    """One page of results, each row's customer masked unless the user may see it (webapp/privacy.py)."""
    with runtime().reading() as session:
        result = search(session, current_user.viewer, flt)
    return {**result, "items": privacy.rows(result["items"])}


@bp.route("/search")
def index():
    parsed = parse(request.args)
    result = run(parsed.flt) if not parsed.errors else None
    with runtime().reading() as session:
        names = queries.process_names(session)
        users = usernames(session)
    errors = {name: _(PROBLEMS[code][1]) for name, code in parsed.errors.items()}
    return render_template("search/index.html", parsed=parsed, flt=parsed.flt, result=result, errors=errors,
                           processes=names, statuses=queries.INSTANCE_STATUSES, users=users,
                           args=request.args), 422 if errors else 200
