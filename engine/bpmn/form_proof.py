"""A quick proof that form data is valid, for the schemas most forms are: jsonschema still gives every refusal.

jsonschema validates a schema's properties by descending into each: a new validator object per property
(`evolve`), its keywords looked up again, each error's bookkeeping. For a form whose keywords only test the
value in front of them (type, required, lengths, enum, const, bounds, pattern, format, ...) and whose only
descent is `properties` (with `additionalProperties` true or false), `proof_of(schema, validator)` gives a
function that calls the same keyword functions the validator would (its own VALIDATORS, so the forms' RE2
patterns and format checker too) on the same values, and answers True only when none of them finds an error.
Anything else answers False (a keyword found an error, or raised), and the caller asks jsonschema, whose
answer (errors, order, messages) is then exactly what it was. A schema with any other keyword of the
validator (a `$ref`, `items`, `if`, `allOf`, a schema as `additionalProperties`, ...), a subschema that is
not an object, or a `$schema` below the root (jsonschema would switch to that draft there) has no proof.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Keywords that test only the instance in front of them, never descending into a subschema.
LEAF_KEYWORDS = frozenset({
    "type", "enum", "const", "maxLength", "minLength", "pattern", "format", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "required", "minItems", "maxItems", "uniqueItems",
    "minProperties", "maxProperties", "dependentRequired",
})
PROOF_DEPTH = 16  # deeper schemas have no proof (forms are a few levels deep)


class _NoProof(Exception):
    pass


class _Node:
    """One (sub)schema: its leaf keywords' calls, and its properties' nodes."""

    __slots__ = ("leaves", "properties")

    def __init__(self, leaves: list[tuple[Callable[..., Any], Any, dict]], properties: dict[str, _Node]):
        self.leaves = leaves
        self.properties = properties


def _node(schema: Any, keywords: dict[str, Callable[..., Any]], depth: int, root: bool) -> _Node:
    if type(schema) is not dict or depth > PROOF_DEPTH or (not root and "$schema" in schema):
        raise _NoProof
    leaves, properties = [], {}
    for key, value in schema.items():
        function = keywords.get(key)
        if function is None:
            continue  # not a keyword of the validator: jsonschema ignores it too (titles, x-..., $schema at the root)
        if key in LEAF_KEYWORDS or (key == "additionalProperties" and type(value) is bool):
            leaves.append((function, value, schema))
        elif key == "properties" and type(value) is dict:
            properties = {name: _node(sub, keywords, depth + 1, False) for name, sub in value.items()}
        else:
            raise _NoProof
    return _Node(leaves, properties)


def _valid(node: _Node, validator: Any, instance: Any) -> bool:
    for function, value, schema in node.leaves:
        for _error in function(validator, value, instance, schema) or ():
            return False
    if node.properties and validator.is_type(instance, "object"):
        for name, sub in node.properties.items():
            if name in instance and not _valid(sub, validator, instance[name]):
                return False
    return True


def proof_of(schema: dict[str, Any], validator: Any) -> Callable[[Any], bool] | None:
    """A function answering True only for data `validator` (built on `schema`) finds no error in; None when
    the schema has keywords it does not know how to prove (jsonschema answers every submission then)."""
    try:
        root = _node(schema, validator.VALIDATORS, 0, True)
    except _NoProof:
        return None

    def proves_valid(instance: Any) -> bool:
        try:
            return _valid(root, validator, instance)
        except Exception:  # noqa: BLE001 - a keyword that raises (an unknown type): jsonschema says what
            return False

    return proves_valid


__all__ = ["LEAF_KEYWORDS", "proof_of"]
