"""Camunda's generated task forms (`camunda:formData/camunda:formField`) as a JSON Schema form.

Types string, long, boolean, date and enum (its `camunda:value`s); `defaultValue`; the
constraints required, minlength, maxlength, min, max and readonly. Whatever else a field says
is refused, field by field (engine/bpmn/camunda.py reports it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from lxml import etree

CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
SCHEMA_DRAFT = "https://json-schema.org/draft/2020-12/schema"
TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "long": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "enum": {"type": "string"},
}
# constraint name -> (JSON Schema keyword, how its config is read; None: takes no config)
def _length(text: str | None) -> int:
    value = int(text or "")
    if value < 0:
        raise ValueError(text)
    return value


def _number(text: str | None) -> float:
    value = float(text or "")
    if not math.isfinite(value):
        raise ValueError(text)
    return value


CONSTRAINTS: dict[str, tuple[str, Any]] = {
    "minlength": ("minLength", _length), "maxlength": ("maxLength", _length),
    "min": ("minimum", _number), "max": ("maximum", _number), "readonly": ("readOnly", None),
}
FIELD_ATTRIBUTES = frozenset({"id", "label", "type", "defaultValue"})


@dataclass
class FormBuild:
    schema: dict[str, Any]
    refused: list[tuple[etree._Element, str]] = field(default_factory=list)  # (where, what is written)


def form_schema(task: etree._Element, form_data: etree._Element) -> FormBuild:
    """The JSON Schema of a user task's generated form, and every part of it that does not map."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    build = FormBuild({"$schema": SCHEMA_DRAFT, "title": task.get("name") or task.get("id"), "type": "object",
                       "properties": properties})
    for name in form_data.attrib:
        build.refused.append((form_data, f"camunda:formData {etree.QName(name).localname}"))
    for child in form_data.iterchildren(etree.Element):
        if etree.QName(child).localname != "formField" or etree.QName(child).namespace != CAMUNDA:
            build.refused.append((child, etree.QName(child).localname))
            continue
        name, prop, is_required = _field(child, build)
        if name is not None:
            properties[name] = prop
            if is_required:
                required.append(name)
    if required:
        build.schema["required"] = required
    return build


def _field(el: etree._Element, build: FormBuild) -> tuple[str | None, dict[str, Any], bool]:
    name, kind = (el.get("id") or "").strip(), el.get("type") or "string"
    shown = f"camunda:formField '{name}'"
    if not name.isidentifier() or name.startswith("_"):
        build.refused.append((el, f"{shown} id"))
        return None, {}, False
    for attribute in el.attrib:
        if etree.QName(attribute).localname not in FIELD_ATTRIBUTES:
            build.refused.append((el, f"{shown} {etree.QName(attribute).localname}"))
    if kind not in TYPES:
        build.refused.append((el, f"{shown} type=\"{kind}\""))
        return None, {}, False
    prop: dict[str, Any] = {**TYPES[kind], "title": el.get("label") or name}
    required = False
    for child in el.iterchildren(etree.Element):
        local = etree.QName(child).localname
        if local == "value" and kind == "enum" and child.get("id"):
            prop.setdefault("enum", []).append(child.get("id"))
        elif local == "validation":
            required = _constraints(child, prop, shown, build) or required
        else:
            build.refused.append((child, f"{shown} camunda:{local}"))
    if kind == "enum" and not prop.get("enum"):
        build.refused.append((el, f"{shown} type=\"enum\" without camunda:value"))
    default = el.get("defaultValue")
    if default is not None:
        try:
            prop["default"] = _typed(kind, default)
        except ValueError:
            build.refused.append((el, f"{shown} defaultValue=\"{default}\""))
    return name, prop, required


def _constraints(validation: etree._Element, prop: dict[str, Any], shown: str, build: FormBuild) -> bool:
    required = False
    for constraint in validation.iterchildren(etree.Element):
        name, config = constraint.get("name") or "", constraint.get("config")
        if name == "required":
            required = True
        elif name in CONSTRAINTS:
            keyword, read = CONSTRAINTS[name]
            try:
                value = True if read is None else read(config)
            except (TypeError, ValueError):
                build.refused.append((constraint, f"{shown} constraint {name} config=\"{config}\""))
                continue
            prop[keyword] = int(value) if isinstance(value, float) and value.is_integer() else value
        else:
            build.refused.append((constraint, f"{shown} constraint \"{name}\""))
    return required


def _typed(kind: str, text: str) -> Any:
    if kind == "long":
        return int(text)
    if kind == "boolean":
        if text.strip().lower() not in ("true", "false"):
            raise ValueError(text)
        return text.strip().lower() == "true"
    if kind == "date":
        return date.fromisoformat(text.strip()).isoformat()
    return text
