"""/api/v1/inbox/stamp: has my inbox changed? What an open inbox page polls (webapp/static/js/inbox-live.js).

Unchanged (the `since` argument or the `If-None-Match` header holds the current stamp): 304 with
no body, after one SQL statement for the stamp (engine/run/inbox_stamp.py; docs/inbox.md has the
figures). Changed: 200 with the new stamp and the open-task count, and the stamp as the ETag.
"""

from __future__ import annotations

from flask import jsonify, make_response, request
from flask_login import current_user

from engine.run import inbox_stamp as stamps
from webapp.api_args import Routes, invalid
from webapp.app_state import runtime

routes = Routes()


def since_arg() -> str | None:
    value = request.args.get("since")
    if value is None or value == "":
        return None
    if not stamps.is_stamp(value):
        raise invalid("since", f"must be a stamp of {stamps.STAMP_LENGTH} hex digits, as this route answered")
    return value


@routes.get("/inbox/stamp")
def inbox_stamp():
    since = since_arg()
    with runtime().reading() as session:
        found = stamps.inbox_stamp(session, current_user.viewer)
    if since == found.stamp or request.if_none_match.contains(found.stamp):
        response = make_response("", 304)
    else:
        response = jsonify({"stamp": found.stamp, "open": found.open, "newest_task_id": found.newest_task_id})
    response.set_etag(found.stamp)
    response.headers["Cache-Control"] = "no-store"
    return response
