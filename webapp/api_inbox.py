"""/api/v1/inbox/stamp: has my inbox changed? What an open inbox page polls (webapp/static/js/inbox-live.js).

Unchanged (`since`, or the `If-None-Match` header, holds a stamp of the same open tasks): 304 with no
body and the stamp to send next time as ETag; while nothing at all was written that costs one
primary-key lookup (engine/run/inbox_stamp.py; docs/inbox.md has the figures). Changed: 200 with the
new stamp (also the ETag) and the open-task count.
"""

from __future__ import annotations

from flask import jsonify, make_response, request
from flask_login import current_user

from engine.run import inbox_stamp as stamps
from webapp.api_args import Routes, invalid
from webapp.app_state import runtime

routes = Routes()


def since_arg() -> str | None:
    """The stamp the caller holds: `since`, else the `If-None-Match` header (ignored when not a stamp)."""
    value = request.args.get("since")
    if value:
        if not stamps.is_stamp(value):
            raise invalid("since", "must be a stamp as this route answered it (e.g. 42.1764800000.0.0123456789abcdef)")
        return value
    held = [tag for tag in request.if_none_match if stamps.is_stamp(tag)]
    return held[0] if held else None


@routes.get("/inbox/stamp")
def inbox_stamp():
    with runtime().reading() as session:
        changed, found = stamps.current_stamp(session, current_user.viewer, since_arg())
    if changed:
        response = jsonify({"stamp": found.stamp, "open": found.open, "newest_task_id": found.newest_task_id})
    else:
        response = make_response("", 304)
    response.set_etag(found.stamp)
    response.headers["Cache-Control"] = "no-store"
    return response
