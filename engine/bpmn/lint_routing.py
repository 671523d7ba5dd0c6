"""Routing questions: form fields whose answer a gateway condition reads.

Such a field decides the instance's path, so the form must not answer it for the user: it has
no `default` and is required (the task page then draws it unanswered). `check_forms` of
`lint_content` reports a field that breaks this as `routing-field-default` (a warning).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any

from engine.bpmn.lint_model import NS, BpmnDocument, bpmn_tag

GATEWAY_TAGS = frozenset({"exclusiveGateway", "inclusiveGateway", "complexGateway"})
DATA_GETTERS = frozenset({"get"})  # the script engine's get("key", fallback)


def names_read(source: str) -> set[str]:
    """Data keys an expression reads: bare names and `get("key", ...)` literals."""
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()  # check_expressions reports it
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            found.add(node.id)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in DATA_GETTERS
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.add(node.args[0].value)
    return found


def gateway_keys(doc: BpmnDocument) -> set[str]:
    """Every data key read by a condition on a flow leaving a gateway of the process."""
    keys: set[str] = set()
    for flow in doc.sequence_flows:
        source = doc.elements_by_id.get(flow.get("sourceRef", ""))
        condition = flow.find("bpmn:conditionExpression", NS)
        if source is None or bpmn_tag(source) not in GATEWAY_TAGS or condition is None:
            continue
        keys |= names_read(condition.text or "")
    return keys


def _conditionally_required(schema: dict[str, Any]) -> set[str]:
    """Fields an if/then/else of the form makes required (they are asked only in some cases)."""
    names: set[str] = set()
    for cond in [schema, *(schema.get("allOf") or [])]:
        if not isinstance(cond, dict) or "if" not in cond:
            continue
        for branch in ("then", "else"):
            part = cond.get(branch)
            if isinstance(part, dict):
                names |= {n for n in part.get("required") or [] if isinstance(n, str)}
    return names


def is_choice(prop: dict[str, Any]) -> bool:
    """A boolean or a closed choice (`enum`): the questions a form could pre-answer."""
    kind = prop.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    return "boolean" in kinds or isinstance(prop.get("enum"), list)


def routing_field_problems(schema: Any, keys: set[str]) -> Iterator[tuple[str, str]]:
    """(field, "default" | "optional") for each top-level boolean or choice in `keys` the form
    pre-answers or lets the user leave out."""
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        return
    required = set(schema.get("required") or []) | _conditionally_required(schema)
    for name, prop in schema["properties"].items():
        if name not in keys or not isinstance(prop, dict) or prop.get("readOnly") or not is_choice(prop):
            continue
        if "default" in prop:
            yield name, "default"
        elif name not in required:
            yield name, "optional"
