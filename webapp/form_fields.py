"""A task's JSON Schema as HTML form fields, and the posted strings back as typed values.

`build_fields` describes one field per top-level property (the template draws them);
`coerce` turns the posted strings into the schema's types (the engine then validates with
jsonschema); `field_errors` puts the engine's FormInvalid errors, in the user's language,
next to the fields they belong to.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from werkzeug.datastructures import MultiDict

from engine.bpmn.form_patterns import pattern_hint
from engine.clock import parse_iso_china
from webapp.display import LOCAL_TZ, parse_time
from webapp.i18n import get_locale
from webapp.i18n import gettext as _

GENERAL = "__all__"  # errors that belong to no field
_LONG_TEXT = re.compile(r"(description|note|comment|remark|reason|detail|feedback|plan|facts)", re.I)
RESERVED = {"csrf_token"}
_REQUIRED = re.compile(r"^'([^']+)' is a required property$")


@dataclass
class FormField:
    name: str
    label: str
    widget: str  # text | textarea | select | bool | date | datetime | number | integer | checkboxes | lines | json
    required: bool = False
    help: str | None = None
    value: Any = ""  # a string; a list of strings for checkboxes
    options: list[tuple[str, str]] = field(default_factory=list)  # (value, label)
    attrs: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    # required only when another field has one of some values: [{"field": ..., "in": [...]}]
    required_when: list[dict[str, Any]] = field(default_factory=list)
    hint: str | None = None  # the pattern's rule in words (x-pattern-hint), in the user's language

    @property
    def id(self) -> str:
        return f"f-{self.name}"


def _type(prop: dict[str, Any]) -> str:
    kind = prop.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    return kind


def _properties(schema: dict[str, Any] | None) -> list[tuple[str, dict[str, Any]]]:
    props = (schema or {}).get("properties") or {}
    return [(name, prop) for name, prop in props.items() if isinstance(prop, dict) and name not in RESERVED]


def widget_of(name: str, prop: dict[str, Any]) -> str:
    kind = _type(prop)
    if "enum" in prop:
        return "select"
    if kind == "boolean":
        return "bool"
    if kind in ("number", "integer"):
        return kind
    if kind == "array":
        items = prop.get("items") if isinstance(prop.get("items"), dict) else {}
        if "enum" in items:
            return "checkboxes"
        # plain strings (no format): one per line, as staff type a list
        return "lines" if _type(items) == "string" and "format" not in items else "json"
    if kind == "object":
        return "json"
    fmt = prop.get("format")
    if fmt == "date":
        return "date"
    if fmt == "date-time":
        return "datetime"
    if (prop.get("maxLength") or 0) > 200 or _LONG_TEXT.search(name):
        return "textarea"
    return "text"


def _show_number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def to_input(widget: str, value: Any) -> Any:
    """A typed value (instance data, default) as the input's string value."""
    if value is None:
        return [] if widget == "checkboxes" else ""
    if widget == "bool":
        return "true" if value is True else "false" if value is False else ""
    if widget == "datetime":
        moment = parse_time(value) if isinstance(value, str) else None
        return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M") if moment else str(value)
    if widget in ("number", "integer"):
        return _show_number(value)
    if widget == "checkboxes":
        return [str(v) for v in value] if isinstance(value, list) else []
    if widget == "lines":
        return "\n".join(str(v) for v in value) if isinstance(value, list) else str(value)
    if widget == "json":
        return json.dumps(value, ensure_ascii=False, indent=2)
    return str(value)


def _as_inputs(prop: dict[str, Any]) -> list[str] | None:
    """The values of an `if` property test (const or enum), as the inputs post them."""
    values = [prop["const"]] if "const" in prop else prop.get("enum")
    if not isinstance(values, list):
        return None
    return ["true" if v is True else "false" if v is False else str(v) for v in values]


def required_when(schema: dict[str, Any] | None) -> dict[str, list[dict[str, Any]]]:
    """field -> when it becomes required, read from the schema's if/then/else on one field's value
    (`then.required`, or a `minLength` it adds). The server enforces every rule anyway; this only
    lets the form mark such a field while the user fills it in."""
    schema = schema or {}
    rules: dict[str, list[dict[str, Any]]] = {}
    for cond in [schema, *(schema.get("allOf") or [])]:
        tested = (cond.get("if") or {}).get("properties") if isinstance(cond, dict) else None
        if not isinstance(tested, dict) or len(tested) != 1:
            continue
        [(name, test)] = tested.items()
        values = _as_inputs(test) if isinstance(test, dict) else None
        if values is None:
            continue
        for branch, negate in (("then", False), ("else", True)):
            part = cond.get(branch) or {}
            needed = set(part.get("required") or [])
            needed |= {k for k, p in (part.get("properties") or {}).items()
                       if isinstance(p, dict) and (p.get("minLength") or 0) >= 1}
            for target in sorted(needed):
                rules.setdefault(target, []).append({"field": name, "in": values, "not": negate})
    return rules


def build_fields(schema: dict[str, Any] | None, values: dict[str, Any] | None = None,
                 posted: MultiDict | None = None, errors: dict[str, list[str]] | None = None) -> list[FormField]:
    """One FormField per property. `posted` (what the user sent) wins over `values` (typed data)."""
    required = set((schema or {}).get("required") or [])
    conditional = required_when(schema)
    values = values or {}
    errors = errors or {}
    fields = []
    for name, prop in _properties(schema):
        widget = widget_of(name, prop)
        if posted is not None:
            value = posted.getlist(name) if widget == "checkboxes" else posted.get(name, "")
        elif name in values:
            value = to_input(widget, values[name])
        else:
            value = to_input(widget, prop.get("default"))
        options: list[tuple[str, str]] = []
        if widget == "select":
            options = [(str(v), str(v)) for v in prop["enum"]]
        elif widget == "checkboxes":
            options = [(str(v), str(v)) for v in prop["items"]["enum"]]
        elif widget == "bool":
            options = [("true", _("是")), ("false", _("否"))]
        attrs: dict[str, Any] = {}
        if widget in ("number", "integer"):
            if "minimum" in prop:
                attrs["min"] = _show_number(prop["minimum"])
            elif "exclusiveMinimum" in prop:
                attrs["min"] = _show_number(prop["exclusiveMinimum"])
            if "maximum" in prop:
                attrs["max"] = _show_number(prop["maximum"])
            elif "exclusiveMaximum" in prop:
                attrs["max"] = _show_number(prop["exclusiveMaximum"])
            attrs["step"] = "1" if widget == "integer" else "any"
        if widget in ("text", "textarea"):
            if prop.get("maxLength"):
                attrs["maxlength"] = prop["maxLength"]
            if prop.get("minLength"):
                attrs["minlength"] = prop["minLength"]
            if prop.get("pattern") and widget == "text":
                attrs["pattern"] = prop["pattern"]
        hint = shown_hint(prop) or shown_hint(prop.get("items"))
        if hint and "pattern" in attrs:
            attrs["title"] = hint  # the browser's own message for a refused pattern shows it
        fields.append(FormField(
            name=name, label=prop.get("title") or name, widget=widget, required=name in required,
            help=prop.get("description"), value=value, options=options, attrs=attrs,
            errors=list(errors.get(name, [])), required_when=[] if name in required else conditional.get(name, []),
            hint=hint,
        ))
    return fields


def _to_datetime(text: str) -> str:
    """'2026-11-20T09:30' (datetime-local, Shanghai time) -> '2026-11-20T09:30:00+08:00'."""
    return parse_iso_china(text).isoformat(timespec="seconds")


def _to_number(text: str, integer: bool) -> int | float:
    number = float(text)
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(text)
    if integer:
        if not number.is_integer():
            raise ValueError(text)
        return int(number)
    return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number


def _enum_value(text: str, prop: dict[str, Any]) -> Any:
    """The enum member whose string form was posted (so 1 stays an integer); else the string."""
    return next((v for v in prop.get("enum", []) if str(v) == text), text)


COERCE_MESSAGES = {
    "number": "请输入数字",
    "integer": "请输入整数",
    "datetime": "请输入有效的日期时间",
    "date": "请输入有效的日期",
    "bool": "请选择“是”或“否”",
    "json": "请输入有效的 JSON",
}


def coerce(schema: dict[str, Any] | None, posted: MultiDict) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Posted strings -> the schema's types. Empty inputs are left out (so `required` and defaults apply).

    Returns (data, errors): a value that cannot be read as its type is left out of the data and
    reported in errors under its field name.
    """
    data: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, prop in _properties(schema):
        widget = widget_of(name, prop)
        if widget == "checkboxes":
            if name in posted or f"{name}__present" in posted:
                data[name] = [_enum_value(v, prop["items"]) for v in posted.getlist(name)]
            continue
        raw = posted.get(name)
        if raw is None:
            continue
        text = raw.strip() if widget not in ("textarea", "json", "lines") else raw
        if text.strip() == "":
            continue
        try:
            if widget == "select":
                data[name] = _enum_value(text, prop)
            elif widget == "bool":
                if text.lower() not in ("true", "false", "on", "1", "0", "yes", "no"):
                    raise ValueError(text)
                data[name] = text.lower() in ("true", "on", "1", "yes")
            elif widget in ("number", "integer"):
                data[name] = _to_number(text, widget == "integer")
            elif widget == "datetime":
                data[name] = _to_datetime(text)
            elif widget == "date":
                data[name] = date.fromisoformat(text).isoformat()
            elif widget == "lines":
                data[name] = [line.strip() for line in text.splitlines() if line.strip()]
            elif widget == "json":
                data[name] = json.loads(text)
            else:
                data[name] = text
        except (ValueError, TypeError):
            errors.setdefault(name, []).append(_(COERCE_MESSAGES[widget]))
    return data, errors


def _message(error: dict[str, Any], prop: dict[str, Any] | None) -> str:
    """jsonschema's English message -> a short message in the user's language."""
    text = str(error.get("message", ""))
    prop = prop or {}
    if text.endswith("is a required property"):
        return _("此项必填")
    if "should be non-empty" in text or (text.endswith("is too short") and prop.get("minLength", 0) <= 1):
        return _("此项不能为空")
    if text.endswith("is too short"):
        return _("至少 {n} 个字符", n=prop.get("minLength", ""))
    if "characters long; at most" in text:  # engine.bpmn.forms' cap on texts whose field sets no maxLength
        return _("最多 {n} 个字符", n=error.get("max_length", ""))
    if text.endswith("is too long") or "is expected to be empty" in text:
        return _("最多 {n} 个字符", n=prop.get("maxLength", ""))
    if " does not match " in text:
        hint = error.get("hint_en") if get_locale() == "en" and error.get("hint_en") else error.get("hint")
        return _("格式不正确：{hint}", hint=_(hint)) if isinstance(hint, str) and hint else _("格式不正确")
    if " is not one of " in text:
        return _("请从列表中选择")
    if " is not a 'date-time'" in text:
        return _("请输入有效的日期时间")
    if " is not a 'date'" in text:
        return _("请输入有效的日期")
    if "less than the minimum" in text or "less than or equal to the minimum" in text:
        return _("不能小于 {n}", n=_show_number(prop.get("minimum", prop.get("exclusiveMinimum", ""))))
    if "greater than the maximum" in text or "greater than or equal to the maximum" in text:
        return _("不能大于 {n}", n=_show_number(prop.get("maximum", prop.get("exclusiveMaximum", ""))))
    if " is not of type " in text:
        return _("类型不正确")
    if "Additional properties are not allowed" in text:
        return _("表单中有未定义的字段：{name}", name=error.get("field") or "")
    return text if get_locale() == "en" else _("内容不符合表单要求")


def shown_hint(schema: Any) -> str | None:
    """A pattern's rule in the user's language: x-pattern-hint, or in English x-pattern-hint-en
    (else the English of en.json: forms written before x-pattern-hint-en)."""
    hint = pattern_hint(schema)
    if hint and get_locale() == "en":
        return pattern_hint(schema, "en") or _(hint)
    return hint


def error_text(error: dict[str, Any], prop: dict[str, Any] | None = None) -> str:
    """One FormInvalid error (its English `message`) as a short message in the user's language."""
    return _message(error, prop)


def field_errors(schema: dict[str, Any] | None, errors: list[dict[str, Any]],
                 fallback: str | None = None) -> dict[str, list[str]]:
    """FormInvalid.errors -> {field: [messages]}; errors of unknown fields go under GENERAL."""
    props = dict(_properties(schema))
    out: dict[str, list[str]] = {}
    for error in errors:
        name = error.get("field")
        # jsonschema reports each missing property on its own; the message names the right one
        missing = _REQUIRED.match(str(error.get("message", "")))
        if missing:
            name = missing.group(1)
        key = name if name in props else GENERAL
        message = _message(error, props.get(name))
        if isinstance(error.get("item"), int) and key != GENERAL:
            message = _("第 {n} 行：{message}", n=error["item"] + 1, message=message)
        if message not in out.get(key, []):
            out.setdefault(key, []).append(message)
    if not out and fallback:
        out[GENERAL] = [fallback]
    return out
