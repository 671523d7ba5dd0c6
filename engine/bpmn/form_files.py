"""Which uploaded file names are forms: one rule for deploys, drafts and the lint API."""

from __future__ import annotations

import re
from pathlib import Path

FORM_SUFFIX = ".schema.json"
# SpiffArena's names (engine/bpmn/spiffarena.py): `<name>-schema.json`, its UI schema `<name>-uischema.json`.
SPIFF_SUFFIXES = ("-schema.json", "-uischema.json")
FORM_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}(" + "|".join(map(re.escape, (FORM_SUFFIX, *SPIFF_SUFFIXES))) + ")")
FORM_NAME_HINT = f"letters, digits, _ or -, then {FORM_SUFFIX} (SpiffArena: {' or '.join(SPIFF_SUFFIXES)})"


def is_form_name(name: str) -> bool:
    """A form file's name (path parts ignored)."""
    return FORM_NAME.fullmatch(name.rsplit("/", 1)[-1]) is not None


def forms_folder(bpmn_folder: Path, process_id: str) -> Path:
    """Where the form files of a .bpmn on disk are: `forms/<process id>/` in its folder when that
    exists (tourflow's layout), else the .bpmn's own folder (SpiffArena keeps them beside it)."""
    tourflow = bpmn_folder / "forms" / process_id
    return tourflow if tourflow.is_dir() else bpmn_folder


def shown_form_path(process_id: str, name: str) -> str:
    """How a finding names a form file: `forms/<process id>/<name>`, or the bare name for
    SpiffArena's names (SpiffArena keeps them beside the .bpmn)."""
    return name if name.endswith(SPIFF_SUFFIXES) else f"forms/{process_id}/{name}"
