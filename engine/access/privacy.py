"""Personal data: which data keys hold it, and masking it for viewers who do not need it.

A form field is personal when its JSON Schema says so: `"x-personal": "phone"` (a kind of
`KINDS`). Data that handlers and messages write without a form is declared in `KNOWN_KEYS`.
`Masker` masks values recursively in instance data, diffs, event payloads, replay snapshots
and search rows; the stored data and events are never changed (the hash chain needs the
originals). Who sees what unmasked is decided by `policy.may_see_personal_data`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

FLAG = "x-personal"
KINDS = ("phone", "name", "id_number", "email", "contact", "handle", "address", "text")

# Data keys written by handlers, messages and scripts (not only by forms): key -> kind.
KNOWN_KEYS: dict[str, str] = {
    "phone": "phone", "caller_number": "phone", "contact_phone": "phone", "customer_phone": "phone",
    "complainant_phone": "phone", "problem_contact_phone": "phone", "mobile": "phone",
    "customer_name": "name", "complainant_name": "name", "problem_customer_name": "name",
    "id_number": "id_number", "id_card": "id_number", "passport_no": "id_number",
    "email": "email", "contact": "contact", "sent_to": "contact", "customer_handle": "handle",
    "address": "address",
}
# A dict under one of these keys describes a person: its `name` is theirs (the lookups' "customer").
PERSON_KEYS = frozenset({"customer", "target", "followup_customer"})
PERSON_FIELDS = {"name": "name"}

# Phones and ID numbers typed into free text ("客户电话 13812345678"): Chinese mobiles, 18-digit IDs.
_FREE_TEXT = re.compile(r"(?<![0-9A-Za-z])(1[3-9]\d{9}|\d{17}[\dXx])(?![0-9A-Za-z])")
# What a field name or title looks like when it holds personal data (lint: flag it).
PERSONAL_NAME = re.compile(r"phone|mobile|(^|_)tel(_|$)|id_number|id_card|idcard|passport|e_?mail|"
                           r"身份证|电话|手机", re.IGNORECASE)
CONDITION_KEYWORDS = frozenset({"if", "then", "else", "allOf", "anyOf", "oneOf", "not", "dependentSchemas"})
PERSONAL_TITLE = re.compile(r"身份证|证件号|护照|电话|手机|姓名|邮箱|住址|联系方式")


def mask_phone(text: str) -> str:
    """138****4567: enough to recognise a caller, not enough to copy the number."""
    if len(text) <= 4:
        return "*" * len(text)
    if len(text) < 8:
        return "*" * (len(text) - 4) + text[-4:]
    return text[:3] + "****" + text[-4:]


def mask_name(text: str) -> str:
    """张** : the family name only."""
    return text[:1] + "*" * max(len(text) - 1, 1)


def mask_id_number(text: str) -> str:
    """110***********123X: region prefix and check digits, never the birth date."""
    if len(text) <= 7:
        return "*" * len(text)
    return text[:3] + "*" * (len(text) - 7) + text[-4:]


def mask_email(text: str) -> str:
    user, at, domain = text.partition("@")
    return user[:1] + "***@" + domain if at else mask_text(text)


def mask_text(text: str) -> str:
    return text[:1] + "***" if text else text


MASKS = {
    "phone": mask_phone, "name": mask_name, "id_number": mask_id_number, "email": mask_email,
    "contact": lambda t: mask_email(t) if "@" in t else mask_phone(t),
    "handle": lambda t: t[:2] + "***" if len(t) > 2 else "***", "address": lambda t: t[:6] + "***",
    "text": mask_text,
}


def mask_value(value: Any, kind: str) -> Any:
    """One personal value masked by its kind; lists item by item, dicts every leaf (None stays None)."""
    if value is None or isinstance(value, bool) or value == "":
        return value
    if isinstance(value, list):
        return [mask_value(v, kind) for v in value]
    if isinstance(value, dict):
        return {k: mask_value(v, kind) for k, v in value.items()}
    return MASKS.get(kind, mask_text)(str(value).strip())


def scrub_text(text: str) -> str:
    """Phones and ID numbers inside free text, masked."""
    return _FREE_TEXT.sub(lambda m: (mask_phone if len(m.group(1)) == 11 else mask_id_number)(m.group(1)), text)


def form_personal_keys(forms: Mapping[str, Any] | None) -> dict[str, str]:
    """key -> kind for every field flagged `x-personal` in a version's forms (nested objects too)."""
    found: dict[str, str] = {}

    def walk(schema: Any) -> None:
        if isinstance(schema, dict):
            for name, prop in (schema.get("properties") or {}).items():
                if isinstance(prop, dict) and isinstance(prop.get(FLAG), str):
                    found.setdefault(name, prop[FLAG])
            for value in schema.values():
                if isinstance(value, dict | list):
                    walk(value)
        elif isinstance(schema, list):
            for value in schema:
                walk(value)

    for schema in (forms or {}).values():
        walk(schema)
    return found


class Masker:
    """Masks the personal values of one process version's data (or lets everything through)."""

    def __init__(self, forms: Mapping[str, Any] | None = None, masked: bool = True):
        self.masked = masked
        self.keys = {**KNOWN_KEYS, **form_personal_keys(forms)}

    def __call__(self, value: Any) -> Any:
        return self._walk(value, self.keys) if self.masked else value

    def _walk(self, value: Any, keys: Mapping[str, str]) -> Any:
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if key in keys:
                    out[key] = mask_value(item, keys[key])
                elif key in PERSON_KEYS and isinstance(item, dict):
                    out[key] = self._walk(item, {**keys, **PERSON_FIELDS})
                elif key in PERSON_KEYS and isinstance(item, str):
                    out[key] = mask_value(item, "name")
                else:
                    out[key] = self._walk(item, keys)
            return out
        if isinstance(value, list):
            return [self._walk(v, keys) for v in value]
        if isinstance(value, str):
            return scrub_text(value)
        return value

    def drop(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The data without its personal keys (a form prefilled for someone who may not see them)."""
        if not self.masked:
            return dict(data)
        return {k: v for k, v in data.items() if k not in self.keys and k not in PERSON_KEYS}


def unflagged_fields(schema: Any, path: str = "$") -> list[tuple[str, str]]:
    """(path, field) of every form field whose name or title looks personal but has no `x-personal`."""
    found: list[tuple[str, str]] = []
    if isinstance(schema, dict):
        for name, prop in (schema.get("properties") or {}).items() if isinstance(schema.get("properties"), dict) else ():
            if not isinstance(prop, dict) or FLAG in prop:
                continue
            title = prop.get("title") if isinstance(prop.get("title"), str) else ""
            if PERSONAL_NAME.search(str(name)) or PERSONAL_TITLE.search(title):
                found.append((f"{path}.properties.{name}", str(name)))
        for key, value in schema.items():
            # conditions restate fields to constrain them: the field's own definition carries the flag
            if isinstance(value, dict | list) and key not in CONDITION_KEYWORDS:
                found.extend(unflagged_fields(value, f"{path}.{key}"))
    elif isinstance(schema, list):
        for i, value in enumerate(schema):
            found.extend(unflagged_fields(value, f"{path}[{i}]"))
    return found


def bad_kinds(schema: Any, path: str = "$") -> list[tuple[str, Any]]:
    """(path, value) of every `x-personal` that is not one of KINDS."""
    found: list[tuple[str, Any]] = []
    if isinstance(schema, dict):
        if FLAG in schema and schema[FLAG] not in KINDS:
            found.append((path, schema[FLAG]))
        for key, value in schema.items():
            if isinstance(value, dict | list):
                found.extend(bad_kinds(value, f"{path}.{key}"))
    elif isinstance(schema, list):
        for i, value in enumerate(schema):
            found.extend(bad_kinds(value, f"{path}[{i}]"))
    return found
