"""Regular expressions of form schemas, matched by RE2 instead of Python's `re`.

A schema's `pattern` is written by a process owner and matched against whatever any user
types. Python's backtracking `re` takes exponential time on patterns such as `^(a+)+$`;
RE2 matches in time linear in the input and never backtracks, at the price of
backreferences and lookaround, which `problems` reports so lint refuses them at deploy.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import re2
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from jsonschema.validators import extend

MAX_PATTERN_LENGTH = 1000
# A schema's words for its `pattern`, shown with a refused value and as the field's help.
PATTERN_HINT = "x-pattern-hint"  # the rule in Chinese, the users' language
PATTERN_HINT_EN = "x-pattern-hint-en"  # the same rule in English

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print every refused pattern on stderr

# Keywords whose values are data, not schemas, and keywords mapping names to schemas.
_DATA_KEYWORDS = frozenset({"const", "enum", "default", "examples"})
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})


class PatternError(ValueError):
    """A pattern RE2 cannot compile, or one too long to accept."""


@functools.lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> Any:  # an re2 pattern object (its type is not public)
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise PatternError(f"the pattern is {len(pattern)} characters long; at most {MAX_PATTERN_LENGTH} are allowed")
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise PatternError(f"RE2 cannot compile the pattern ({reason}); backreferences, lookahead and lookbehind "
                           "are not supported") from None
    except UnicodeEncodeError:
        raise PatternError("the pattern is not valid Unicode text") from None


def problems(schema: Any) -> Iterator[tuple[str, str]]:
    """(JSON pointer, why) of every pattern in a schema that forms cannot use."""
    mixed = mixes_unevaluated_and_pattern_properties(schema)
    for node, pointer in _schemas(schema, ""):
        pattern = node.get("pattern")
        if isinstance(pattern, str):
            yield from _problem_of(pattern, f"{pointer}/pattern")
        pattern_properties = node.get("patternProperties")
        if isinstance(pattern_properties, dict):
            for key in pattern_properties:
                yield from _problem_of(key, f"{pointer}/patternProperties/{_escape(key)}")
        if mixed and "unevaluatedProperties" in node:
            yield f"{pointer}/unevaluatedProperties", UNEVALUATED_WITH_PATTERNS


def _problem_of(pattern: str, pointer: str) -> Iterator[tuple[str, str]]:
    try:
        compile_pattern(pattern)
    except PatternError as exc:
        yield pointer, str(exc)


def _schemas(node: Any, pointer: str) -> Iterator[tuple[dict[str, Any], str]]:
    """Every object in the schema that may act as a schema, with its JSON pointer."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from _schemas(item, f"{pointer}/{i}")
        return
    if not isinstance(node, dict):
        return
    yield node, pointer
    for key, value in node.items():
        if key in _DATA_KEYWORDS:
            continue
        here = f"{pointer}/{_escape(key)}"
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            for name, sub in value.items():
                yield from _schemas(sub, f"{here}/{_escape(name)}")
        else:
            yield from _schemas(value, here)


def _escape(key: str) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


UNEVALUATED_WITH_PATTERNS = "a form cannot combine unevaluatedProperties with patternProperties"


def mixes_unevaluated_and_pattern_properties(schema: Any) -> bool:
    """jsonschema matches patternProperties with Python's `re` while it works out which keys
    unevaluatedProperties sees, which no keyword of ours can replace: forms refuse the mix."""
    nodes = [node for node, _ in _schemas(schema, "")]
    return (any("unevaluatedProperties" in node for node in nodes)
            and any(isinstance(node.get("patternProperties"), dict) for node in nodes))


# -- the validator ---------------------------------------------------------------------------

def _search(pattern: str, text: str) -> bool:
    """Does RE2 find `pattern` in `text`? Raises PatternError for a pattern it cannot use."""
    compiled = compile_pattern(pattern)
    try:
        return compiled.search(text) is not None
    except UnicodeEncodeError:  # a lone surrogate: no pattern matches text that is not Unicode
        return False


def pattern_hint(schema: Any, lang: str = "zh") -> str | None:
    """The rule a (sub)schema's pattern stands for, in words ("zh": x-pattern-hint, "en":
    x-pattern-hint-en), if the schema gives it."""
    hint = schema.get(PATTERN_HINT_EN if lang == "en" else PATTERN_HINT) if isinstance(schema, dict) else None
    return hint.strip() if isinstance(hint, str) and hint.strip() else None


def _unusable(pattern: str, exc: PatternError) -> ValidationError:
    return ValidationError(f"the form's pattern {pattern!r} cannot be checked: {exc}; "
                           "ask the process owner to correct the form")


def _pattern(validator, pattern, instance, schema):
    if not validator.is_type(instance, "string"):
        return
    try:
        found = _search(pattern, instance)
    except PatternError as exc:
        yield _unusable(pattern, exc)
        return
    if not found:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator, pattern_properties, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in pattern_properties.items():
        for key, value in instance.items():
            try:
                found = _search(pattern, key)
            except PatternError as exc:
                yield _unusable(pattern, exc)
                break
            if found:
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(validator, additional, instance, schema):
    """jsonschema's additionalProperties, with patternProperties' keys matched by RE2."""
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extras = []
    for key in instance:
        if key in properties:
            continue
        try:
            if any(_search(pattern, key) for pattern in patterns):
                continue
        except PatternError:
            continue  # patternProperties reports the pattern itself
        extras.append(key)
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        if patterns:
            verb = "does" if len(extras) == 1 else "do"
            joined = ", ".join(repr(each) for each in sorted(extras))
            listed = ", ".join(repr(each) for each in sorted(patterns))
            yield ValidationError(f"{joined} {verb} not match any of the regexes: {listed}")
        else:
            shown = ", ".join(repr(each) for each in sorted(extras, key=str))
            verb = "was" if len(extras) == 1 else "were"
            yield ValidationError(f"Additional properties are not allowed ({shown} {verb} unexpected)")


FORMAT_CHECKER = FormatChecker()
# Checking a schema against the meta-schema: `pattern`s are left to `problems`, which says where and why.
SCHEMA_FORMAT_CHECKER = FormatChecker(f for f in Draft202012Validator.FORMAT_CHECKER.checkers if f != "regex")


@FORMAT_CHECKER.checks("regex", raises=PatternError)
def _is_regex(instance: object) -> bool:
    """A field with `format: regex` holds a pattern the forms could use themselves."""
    if isinstance(instance, str):
        compile_pattern(instance)
    return True


FormValidator = extend(
    Draft202012Validator,
    {"pattern": _pattern, "patternProperties": _pattern_properties,
     "additionalProperties": _additional_properties},
    format_checker=FORMAT_CHECKER,
)
