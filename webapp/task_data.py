"""The key/value editor of a task without a form: a few optional rows `data_key` / `data_value`.

A value is read as JSON when it is JSON (`12`, `true`, `"12"`, `["a"]`), else kept as the text typed;
a key must be a Python identifier (conditions and scripts read it by name), not private (`_x`) and
not the reserved `typename`. Rows with neither key nor value are ignored.
"""

from __future__ import annotations

import json
from typing import Any

from werkzeug.datastructures import MultiDict

from engine.bpmn.lint_content import RESERVED_KEY
from webapp.i18n import gettext as _

ROWS = 3  # empty rows offered on the page


def pair_rows(posted: MultiDict | None) -> list[tuple[str, str]]:
    """The rows to show: what was posted (after a refusal), padded with empty rows."""
    rows = list(zip(posted.getlist("data_key"), posted.getlist("data_value"), strict=False)) if posted else []
    rows = [(k, v) for k, v in rows if k.strip() or v.strip()]
    return rows + [("", "")] * max(ROWS - len(rows), 1)


def parse_pairs(posted: MultiDict) -> tuple[dict[str, Any], list[str]]:
    """(data, errors) of the posted rows."""
    data: dict[str, Any] = {}
    errors: list[str] = []
    for key, raw in zip(posted.getlist("data_key"), posted.getlist("data_value"), strict=False):
        key, raw = key.strip(), raw.strip()
        if not key and not raw:
            continue
        if not key.isidentifier() or key.startswith("_") or key == RESERVED_KEY:
            errors.append(_("数据名 “{key}” 无效：须为英文字母、数字和下划线组成的名称，且不以下划线开头。", key=key))
        elif key in data:
            errors.append(_("数据名 “{key}” 重复。", key=key))
        else:
            data[key] = _value(raw)
    return data, errors


def _value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw
