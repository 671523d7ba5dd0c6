"""The OpenAPI note of /api/v1/inbox/stamp (webapp/api_inbox.py) and its schema."""

from __future__ import annotations

from typing import Any

from engine.run.inbox_stamp import STAMP_PATTERN
from webapp.openapi_spec import Op, nullable, query, ref

STAMP = {"type": "string", "pattern": STAMP_PATTERN.pattern.join("^$")}

INBOX_SCHEMAS: dict[str, dict[str, Any]] = {
    "InboxStamp": {
        "type": "object", "required": ["stamp", "open", "newest_task_id"],
        "properties": {
            "stamp": {**STAMP, "description": "Changes whenever the open tasks of my inbox change (added, "
                                              "completed, claimed, released, reassigned, due, overdue)."},
            "open": {"type": "integer", "minimum": 0, "description": "My open tasks (the inbox's 全部待办)."},
            "newest_task_id": nullable("integer"),
        },
    },
}

INBOX_OPERATIONS: dict[str, Op] = {
    "api.inbox_stamp": Op(
        "GET", "Has my inbox changed? Its stamp, or 304 when it is still `since`", "tasks", ref("InboxStamp"),
        description="What an open inbox polls: 304 Not Modified (no body) while my open tasks are those of the "
                    "stamp in `since` (or `If-None-Match`), with the stamp to send next time as ETag; else the new "
                    "stamp (also the ETag) and the open-task count. While nothing at all was written, a poll costs "
                    "one primary-key lookup; poll every few seconds, slower when nobody looks.",
        parameters=[query("since", STAMP, "The stamp the caller holds (from the last answer).")],
        also_ok=(304,), errors=(422,),
        headers={"ETag": {"description": "The stamp, quoted.", "schema": {"type": "string"}}}),
}
