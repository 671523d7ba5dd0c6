"""SpiffArena's UI schema (`<name>-uischema.json`, react-jsonschema-form's uiSchema) on a task's form
fields: what it says about order, widget, help, placeholder, title and read-only fields is honoured;
anything else is ignored (docs/bpmn-conventions.md, "Files from SpiffArena")."""

from __future__ import annotations

from typing import Any

from webapp.form_fields import FormField

TEXT_WIDGETS = frozenset({"text", "textarea"})
TYPED_INPUTS = frozenset({"text", "textarea", "number", "integer", "date", "datetime"})
CHOICE_WIDGETS = frozenset({"select", "bool"})


def ordered(fields: list[FormField], order: Any) -> list[FormField]:
    """`ui:order`: the names listed first, in that order; `*` stands for every other field (at the
    end when there is no `*`)."""
    if not isinstance(order, list):
        return fields
    by_name = {f.name: f for f in fields}
    named = [n for n in order if isinstance(n, str) and n in by_name]
    rest = [f for f in fields if f.name not in named]
    head, tail = (order[:order.index("*")], order[order.index("*") + 1:]) if "*" in order else (order, [])
    first = [by_name[n] for n in head if n in by_name]
    last = [by_name[n] for n in tail if n in by_name]
    return first + rest + last


def _widget(field: FormField, wanted: Any) -> str:
    if wanted == "textarea" and field.widget == "text":
        return "textarea"
    if wanted == "hidden":
        return "hidden"
    if wanted == "radio" and field.widget == "select":
        return "radio"
    return field.widget  # updown is our number input already, checkboxes our list of choices


def apply_ui_schema(fields: list[FormField], ui: dict[str, Any] | None) -> list[FormField]:
    """The fields as the UI schema draws them (no UI schema: unchanged)."""
    if not isinstance(ui, dict):
        return fields
    for field in fields:
        options = ui.get(field.name)
        if not isinstance(options, dict):
            continue
        field.widget = _widget(field, options.get("ui:widget"))
        if isinstance(options.get("ui:title"), str):
            field.label = options["ui:title"]
        if isinstance(options.get("ui:help"), str):
            field.help = options["ui:help"]
        if isinstance(options.get("ui:placeholder"), str) and field.widget in TEXT_WIDGETS | {"number", "integer"}:
            field.attrs["placeholder"] = options["ui:placeholder"]
        if options.get("ui:readonly") is True or options.get("ui:disabled") is True:
            _read_only(field)
    return ordered(fields, ui.get("ui:order"))


def _read_only(field: FormField) -> None:
    """Shown, posted back unchanged, not editable: a choice becomes a read-only text of its value."""
    if field.widget in CHOICE_WIDGETS | {"radio"}:
        field.widget, field.options = "text", []
    if field.widget in TYPED_INPUTS:
        field.attrs["readonly"] = "readonly"


__all__ = ["apply_ui_schema", "ordered"]
