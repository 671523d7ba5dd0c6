"""Message templates for supervisors and process owners: every kind with its files' problems, and a
preview rendered with the customer's data masked (the kind's sample data, or the data given)."""

from __future__ import annotations

import sys
from typing import Any

from engine.access.privacy import KNOWN_KEYS, Masker
from engine.errors import FormInvalid, NotFound, TourflowError
from engine.outbox import staff_alerts  # noqa: F401 - importing it registers the kind staff.alert
from engine.outbox.channels import customer_channels
from engine.outbox.templates import CHANNEL_FILES, TemplateProblem, check_or_exit, kinds, templates
from engine.plugins.handlers import load_plugins

PREVIEW_CHANNELS = (*CHANNEL_FILES, "log")


def load_kinds() -> None:
    """Every message kind registered: the plug-ins' (the agency's customer messages) and staff.alert."""
    load_plugins()


def check_at_startup(where: str) -> None:
    """`tourflow serve` and `tourflow worker` refuse to start on a missing or broken template, or on
    TOURFLOW_CUSTOMER_CHANNELS naming a channel that does not exist (else every booking would fail)."""
    try:
        customer_channels()
    except TourflowError as exc:
        print(f"{where}: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    load_kinds()
    check_or_exit(where)


def kinds_with_problems() -> list[dict[str, Any]]:
    """Every message kind the code sends: its title, files and the problems `check` finds in them."""
    load_kinds()
    store = templates()
    out = []
    for kind, info in sorted(kinds().items()):
        problems = [str(p) for p in store.check([kind])]
        out.append({"kind": kind, "title": info.title, "files": [store.file_for(kind, c) for c in CHANNEL_FILES],
                    "problems": problems})
    return out


def preview(kind: str, channel: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """`kind` rendered for `channel` with `data` (else its sample), personal values masked first."""
    load_kinds()
    info = kinds().get(kind)
    if info is None:
        raise NotFound(f"there is no message kind {kind!r}", key="template.kind", params={"kind": kind})
    if channel not in PREVIEW_CHANNELS:
        message = f"channel must be one of {', '.join(PREVIEW_CHANNELS)}"
        raise FormInvalid(message, field="channel", errors=[{"field": "channel", "message": message}],
                          key="template.channel")
    own = {key: {"x-personal": "text"} for key in info.personal if key not in KNOWN_KEYS}
    masked = Masker({"kind": {"properties": own}})({**(data if data is not None else info.sample)})
    try:
        rendered = templates().render(kind, channel, masked)
    except TemplateProblem as problem:
        return {"kind": kind, "title": info.title, "channel": channel, "subject": None, "body": None,
                "template": templates().file_for(kind, channel), "problem": str(problem), "data": masked}
    return {"kind": kind, "title": info.title, "channel": channel, "subject": rendered.subject, "body": rendered.body,
            "template": rendered.template, "problem": None, "data": masked}
