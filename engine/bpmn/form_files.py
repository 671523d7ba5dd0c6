"""Which uploaded file names are forms: one rule for deploys, drafts and the lint API."""

from __future__ import annotations

import re

FORM_SUFFIX = ".schema.json"
FORM_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}" + re.escape(FORM_SUFFIX))
FORM_NAME_HINT = f"letters, digits, _ or -, then {FORM_SUFFIX}"


def is_form_name(name: str) -> bool:
    """A form file's name (path parts ignored)."""
    return FORM_NAME.fullmatch(name.rsplit("/", 1)[-1]) is not None
