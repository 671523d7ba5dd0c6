"""The quick proof of a form's validity (engine/bpmn/form_proof.py) never says valid where jsonschema finds an
error: every form of the processes and the bench, against values made to pass and to fail each keyword."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.bench.core import BENCH_DIR
from engine.bpmn import forms
from engine.bpmn.form_patterns import FORMAT_CHECKER, FormValidator
from engine.bpmn.form_proof import proof_of
from engine.errors import FormInvalid

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = sorted([*(ROOT / "processes" / "forms").rglob("*.json"), *(BENCH_DIR / "forms").rglob("*.json")])
ODD_VALUES: list[Any] = [None, True, False, 0, 1, -1, 2.0, 2.5, float("nan"), "", "x", "2026-12-01", "a@b.cn",
                         "13800138000", "x" * 3000, [], ["x"], {}, {"x": 1}]


def _samples(schema: Any) -> list[Any]:
    """Values meant to pass the schema's keywords, and values at and past each of their edges."""
    if not isinstance(schema, dict):
        return list(ODD_VALUES)
    values: list[Any] = list(ODD_VALUES)
    for key in ("enum", "examples"):
        values += list(schema.get(key, []))
    for key in ("const", "default"):
        if key in schema:
            values.append(schema[key])
    for key in ("minLength", "maxLength"):
        if isinstance(schema.get(key), int):
            values += ["字" * max(0, schema[key] + step) for step in (-1, 0, 1)]
    for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        if isinstance(schema.get(key), int | float):
            values += [schema[key] + step for step in (-1, -0.5, 0, 0.5, 1)] + [float(schema[key])]
    if "properties" in schema:
        values += _objects(schema)
    return values


def _objects(schema: dict) -> list[dict]:
    properties = schema.get("properties", {})
    base = {}
    for name, sub in properties.items():
        candidates = [v for v in _samples(sub) if not isinstance(v, dict | list)] or [None]
        valid = [v for v in candidates if isinstance(sub, dict) and not list(
            FormValidator(sub, format_checker=FORMAT_CHECKER).iter_errors(v))]
        base[name] = (valid or candidates)[0]
    objects = [base, {}, {**base, "unexpected": "x"}]
    for name, sub in properties.items():
        objects.append({k: v for k, v in base.items() if k != name})
        objects += [{**base, name: value} for value in _samples(sub)]
    return objects


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_the_proof_says_valid_only_where_jsonschema_finds_no_error(path):
    schema = json.loads(path.read_text(encoding="utf-8"))
    validator = FormValidator(schema, format_checker=FORMAT_CHECKER)
    proves_valid = proof_of(schema, validator)
    if proves_valid is None:
        pytest.skip("no proof for this form: jsonschema answers every submission")
    for value in _samples(schema):
        errors = list(validator.iter_errors(value))
        if proves_valid(value):
            assert not errors, (value, [e.message for e in errors])
        elif not errors:
            pytest.fail(f"valid data {value!r} was not proved valid (the proof knows every keyword of this form)")


def _proof(path: Path):
    schema = json.loads(path.read_text(encoding="utf-8"))
    return schema, proof_of(schema, FormValidator(schema, format_checker=FORMAT_CHECKER))


def test_most_forms_and_the_benchs_have_a_proof():
    proofs = {path: _proof(path) for path in SCHEMAS}
    proved = [path for path, (_schema, proves_valid) in proofs.items() if proves_valid is not None]
    assert len(proved) >= len(SCHEMAS) * 2 // 3
    exercised = [path for path in proved if any(proofs[path][1](value) for value in _samples(proofs[path][0]))]
    assert len(exercised) >= len(proved) * 3 // 4  # the differential test above proves valid data for most
    assert BENCH_DIR / "forms" / "bench_user_task" / "bench_review.schema.json" in exercised


@pytest.mark.parametrize("schema", [
    {"type": "object", "properties": {"a": {"$ref": "#/$defs/a"}}, "$defs": {"a": {"type": "string"}}},
    {"type": "object", "properties": {"a": {"type": "array", "items": {"type": "string"}}}},
    {"type": "object", "if": {"required": ["a"]}, "then": {"required": ["b"]}},
    {"type": "object", "additionalProperties": {"type": "string"}},
    {"type": "object", "properties": {"a": True}},
    {"type": "object", "properties": {"a": {"$schema": "http://json-schema.org/draft-04/schema#", "type": "string"}}},
])
def test_a_schema_with_keywords_it_cannot_prove_has_no_proof(schema):
    assert proof_of(schema, FormValidator(schema, format_checker=FORMAT_CHECKER)) is None


def test_validate_answers_alike_with_and_without_the_proof():
    schema = json.loads((BENCH_DIR / "forms" / "bench_user_task" / "bench_review.schema.json").read_text("utf-8"))
    without = {**schema, "properties": {**schema["properties"], "tags": {"type": "array", "items": {}}}}
    for given in (schema, without):
        assert forms.validate(given, {"approved": True, "note": "ok"}) == {"approved": True, "note": "ok"}
        for bad in ({"note": "ok"}, {"approved": 1}, {"approved": True, "note": "x" * 201}):
            with pytest.raises(FormInvalid) as refused:
                forms.validate(given, bad)
            assert refused.value.field in {"approved", "note"}
