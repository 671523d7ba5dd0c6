"""The building blocks of the OpenAPI document (webapp/openapi.py): schema helpers, the `Op` note
of one endpoint, and the error answers every endpoint shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.limits import JSON_BODY_MAX, JSON_DEPTH_MAX, NAME_MAX, TEXT_MAX, URI_MAX

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **extra}


def items_of(name: str) -> dict[str, Any]:
    return {"type": "object", "required": ["items"],
            "properties": {"items": {"type": "array", "items": ref(name)}}}


DATE_TIME = {"type": "string", "format": "date-time"}
NULL_DATE_TIME = nullable("string", format="date-time")
OBJECT = {"type": "object"}
ROUTING: dict[str, Any] = {
    "type": "object", "additionalProperties": {"type": "string"}, "examples": [{"desk": "旅游", "branch": "HZ01"}],
    "description": "The process's routing keys with their values in the task's data: a user with attribute "
                   "desk (branch) works only the tasks of that desk (branch) or of none.",
}

ERRORS: dict[int, str] = {
    400: "Bad request: CSRF token missing or wrong with cookie auth (`csrf_failed`), or a body that is "
         "not a JSON object (`invalid_json`: not JSON, NaN or Infinity, a number over 4,300 digits, "
         "nesting that exhausts the parser).",
    401: "Not logged in, or the bearer token is unknown or revoked (`unauthorized`).",
    403: "Not allowed (`forbidden`): auditors change nothing; one acts only in the lanes one's roles hold.",
    404: "No such thing (`not_found`).",
    409: "Conflict (`conflict`): completed already, claimed by someone else, no open incident (any more), "
         "or a lost race; reload and retry.",
    413: f"The body is too large (`too_large`): JSON bodies at most {JSON_BODY_MAX} bytes, uploads the "
         "server's MAX_CONTENT_LENGTH.",
    414: f"The URL is too long (`uri_too_long`): path and query string at most {URI_MAX} characters.",
    422: "Invalid input (`validation_error`): `field` names the first bad field, `errors` lists all. "
         f"Besides each field's own rules, no string in a body may hold a lone UTF-16 surrogate or exceed "
         f"{TEXT_MAX} characters, no key {NAME_MAX}, no integer exceed 64 bits, no number be infinite, "
         f"no nesting exceed {JSON_DEPTH_MAX} levels.",
}


def query(name: str, schema: dict[str, Any], description: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


BOOL = {"type": "boolean"}


@dataclass(frozen=True)
class Op:
    """What the url rule cannot tell about one endpoint."""

    method: str
    summary: str
    tag: str
    ok: dict[str, Any] | None  # the success body's schema
    ok_status: int = 200
    description: str = ""
    roles: str = "any logged-in user"
    parameters: list[dict[str, Any]] = field(default_factory=list)
    body: str | None = None  # a component schema name
    body_required: bool = False
    errors: tuple[int, ...] = ()  # beyond those every rule of its kind gets
    public: bool = False
    headers: dict[str, Any] = field(default_factory=dict)
    body_type: str = "application/json"
    also_ok: tuple[int, ...] = ()  # further success statuses with the same body

