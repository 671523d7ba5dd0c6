"""Server-side validation of form data against a task's JSON Schema."""

from __future__ import annotations

import re
from typing import Any

from jsonschema.exceptions import best_match

from engine.bpmn.form_patterns import FORMAT_CHECKER, UNEVALUATED_WITH_PATTERNS, FormValidator, pattern_hint
from engine.bpmn.form_patterns import mixes_unevaluated_and_pattern_properties as _mixes
from engine.errors import FormInvalid
from engine.limits import TEXT_MAX as MAX_TEXT_LENGTH  # refused unless the field declares its own maxLength
from engine.limits import BoundedCache
from engine.sandbox.plain import deep_copy

_REQUIRED = re.compile(r"^'(.+)' is a required property$")
FORM_VALIDATORS_MAX = 1024  # schemas whose validator is kept (a deployment's forms are a few each)
# A schema's validator (None: the schema mixes unevaluatedProperties and patternProperties), made once per
# schema object: a deployment's forms never change, and a validator keeps no state between validations.
# Keyed by id(); the entry holds the schema itself, so its id is not reused while it is cached.
_VALIDATORS: BoundedCache[int, tuple[dict[str, Any], Any]] = BoundedCache(FORM_VALIDATORS_MAX)


def _validator_of(schema: dict[str, Any]) -> Any:
    entry = _VALIDATORS.get(id(schema))
    if entry is None or entry[0] is not schema:
        entry = (schema, None if _mixes(schema) else FormValidator(schema, format_checker=FORMAT_CHECKER))
        _VALIDATORS.put(id(schema), entry)
    return entry[1]


def with_defaults(schema: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Fill top-level properties the user left out with the schema's defaults."""
    filled = deep_copy(data)
    for name, prop in (schema.get("properties") or {}).items():
        if name not in filled and isinstance(prop, dict) and "default" in prop:
            filled[name] = deep_copy(prop["default"])
    return filled


def _field_of(error) -> str | None:
    if error.validator == "required":
        # jsonschema raises one error per missing property; its message names it.
        found = _REQUIRED.match(error.message)
        return found.group(1) if found else None
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return extra[0] if extra else None
    return str(error.absolute_path[0]) if error.absolute_path else None


def _item_of(error) -> dict[str, int]:
    """An error inside a list field names the item's position: {"item": 0-based index}."""
    path = list(error.absolute_path)
    return {"item": path[1]} if len(path) > 1 and isinstance(path[1], int) else {}


def _hint_of(error) -> dict[str, str]:
    """A refused pattern whose schema says its rule in words: {"hint": the Chinese words, "hint_en":
    the English ones (when the form gives them)}."""
    if error.validator != "pattern":
        return {}
    hints = {"hint": pattern_hint(error.schema), "hint_en": pattern_hint(error.schema, "en")}
    return {name: hint for name, hint in hints.items() if hint}


def _message_of(error) -> str:
    """jsonschema's English message, with the pattern's rule in English: never a Chinese hint."""
    hint = pattern_hint(error.schema, "en") if error.validator == "pattern" else None
    return f"{error.message} (the rule: {hint})" if hint else error.message


def validate(schema: dict[str, Any] | None, data: Any) -> dict[str, Any]:
    """Return the data with defaults applied, or raise FormInvalid naming the first bad field."""
    if not isinstance(data, dict):
        raise FormInvalid("form data must be a JSON object", key="data.not_object")
    _refuse_long_texts(schema or {}, data)
    if not schema:
        return deep_copy(data)
    validator = _validator_of(schema)
    if validator is None:
        raise FormInvalid(f"{UNEVALUATED_WITH_PATTERNS}; ask the process owner to correct the form", key="form.broken")
    filled = with_defaults(schema, data)
    errors = sorted(validator.iter_errors(filled), key=lambda e: list(e.absolute_path))
    if not errors:
        return filled
    first = best_match(errors)
    field = _field_of(first)
    details = [{"field": _field_of(e), "message": _message_of(e), **_item_of(e), **_hint_of(e)} for e in errors]
    prefix = f"field '{field}': " if field else ""
    raise FormInvalid(f"{prefix}{_message_of(first)}", field=field, errors=details, key="form.invalid",
                      params={"field": field})


def _refuse_long_texts(schema: dict[str, Any], data: dict[str, Any]) -> None:
    """Refuse overlong texts before any keyword (a pattern above all) reads them."""
    details = []
    stack: list[tuple[Any, Any, tuple]] = [(schema, data, ())]
    while stack:  # a loop, not recursion: the data may be nested as deep as the client likes
        node, value, path = stack.pop()
        node = node if isinstance(node, dict) else {}
        if isinstance(value, str):
            if "maxLength" not in node and len(value) > MAX_TEXT_LENGTH:
                item = {"item": path[1]} if len(path) > 1 and isinstance(path[1], int) else {}
                details.append({"field": str(path[0]) if path else None, "max_length": MAX_TEXT_LENGTH,
                                "message": f"the text is {len(value)} characters long; at most "
                                           f"{MAX_TEXT_LENGTH} are accepted", **item})
        elif isinstance(value, dict):
            properties = node.get("properties") if isinstance(node.get("properties"), dict) else {}
            stack.extend((properties.get(key), sub, (*path, key)) for key, sub in value.items())
        elif isinstance(value, list):
            stack.extend((node.get("items"), sub, (*path, i)) for i, sub in enumerate(value))
    if details:
        details.sort(key=lambda d: (str(d["field"]), d.get("item", -1)))
        first = details[0]
        raise FormInvalid(f"field '{first['field']}': {first['message']}", field=first["field"], errors=details,
                          key="form.invalid", params={"field": first["field"]})
