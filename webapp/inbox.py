"""The inbox: the open tasks of my lanes, filtered, counted and paged by indexed SQL only."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from engine.access.roles import NOT_LANES
from engine.access.users import ROLES
from engine.run import queries, saved_views
from engine.run.inbox_stamp import inbox_stamp
from engine.run.queries import InboxFilter
from webapp import display, inbox_search, privacy
from webapp.app_state import runtime
from webapp.page_args import flag_arg, int_arg

bp = Blueprint("inbox", __name__)

WHO = ("", "mine", "unclaimed")
SORTS = ("due", "age")


@bp.record_once
def _setup(state) -> None:
    display.init_app(state.app)


def inbox_filter(args: MultiDict | None = None) -> InboxFilter:
    args = request.args if args is None else args
    who = args.get("who", "")
    sort = args.get("sort", "due")
    return InboxFilter(
        lane=args.get("lane") or None,
        process=args.get("process") or None,
        routing={"desk": args["desk"]} if args.get("desk") else {},
        overdue=flag_arg("overdue", args),
        mine=who == "mine",
        unclaimed=who == "unclaimed",
        page=int_arg("page", 1, args=args),
        per_page=int_arg("per_page", current_app.config.get("PER_PAGE", 25), 1, queries.PER_PAGE_MAX, args=args),
        sort=sort if sort in SORTS else "due",
        search=inbox_search.search_of(args),
    )


def lane_choices(viewer: queries.Viewer, by_lane: dict[str, int]) -> list[str]:
    lanes = set(by_lane) | (set(ROLES) if viewer.reads_all else set(viewer.roles))
    return sorted(lanes - NOT_LANES, key=lambda lane: (lane not in by_lane, lane))


@bp.route("/")
def index():
    return render_inbox(request.args)


def render_inbox(args: MultiDict, status: int = 200, view_form: dict[str, Any] | None = None):
    """The inbox for these filters; a bad search field is a form error (422), as is a view that
    could not be saved (`view_form`: the name typed and its error, webapp/saved_views.py)."""
    viewer = current_user.viewer
    flt = inbox_filter(args)
    errors = inbox_search.page_problems(flt.search)
    with runtime().reading() as session:
        # first: a change after it shows as a new stamp (webapp/static/js/inbox-live.js polls from here)
        stamp = inbox_stamp(session, viewer)
        result = queries.inbox(session, viewer, flt)
        names = queries.process_names(session)
        desks = queries.routing_values(session, "desk")
        views = saved_views.views_of(session, current_user.username)
        result["items"] = privacy.rows(result["items"], "instance_id", session, task_rows=True)
    query = saved_views.clean_query(urlencode(list(args.items(multi=True))))
    return render_template(
        "inbox/index.html", result=result, flt=flt, who=args.get("who", ""),
        lanes=lane_choices(viewer, result["counts"]["by_lane"]), processes=names, desks=desks, stamp=stamp,
        filtered=any(args.get(k) for k in ("lane", "process", "desk", "overdue", "who", *inbox_search.FIELDS)),
        search=flt.search, search_errors=errors, due_choices=inbox_search.due_choices(),
        views=views, current_query=query, view_form=view_form or {},
    ), 422 if errors else status
