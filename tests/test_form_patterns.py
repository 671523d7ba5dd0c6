"""Form schemas cannot hang the server: patterns run on RE2 (linear time), lint refuses the
patterns RE2 cannot run, texts are capped, and the form is checked before the write lock.

The catastrophic pattern `^(a+)+$` on 40 a's and a "!" needs about 2^40 steps of Python's
backtracking `re`: these tests would hang on an engine that used it.
"""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.bpmn.forms import MAX_TEXT_LENGTH, validate
from engine.bpmn.lint import lint_bytes
from engine.errors import DeploymentError, FormInvalid
from engine.run.deployments import deploy_file
from engine.store.db import Database
from engine.store.models import HumanTask, ProcessInstance
from tests.support.form_patterns import CATASTROPHIC, EVIL, REQUEST, deploy_with_code_field

pytestmark = pytest.mark.both_databases

FIXTURES = Path(__file__).parent / "fixtures" / "bpmn"


def with_code(pattern: str = CATASTROPHIC, **field) -> dict:
    return {"type": "object", "properties": {"code": {"type": "string", "pattern": pattern, **field}}}


def refused(schema: dict, data: dict) -> FormInvalid:
    with pytest.raises(FormInvalid) as info:
        validate(schema, data)
    return info.value


# ---- matching ------------------------------------------------------------------------------

def test_a_catastrophic_pattern_answers_at_once_naming_the_field():
    error = refused(with_code(), {"code": EVIL})
    assert error.field == "code"
    assert "does not match" in error.message
    assert validate(with_code(), {"code": "a" * 40}) == {"code": "a" * 40}


def test_pattern_properties_keys_are_matched_by_re2_too():
    schema = {"type": "object", "patternProperties": {"^x_(a+)+$": {"type": "integer"}},
              "additionalProperties": False}
    assert validate(schema, {"x_aaa": 1}) == {"x_aaa": 1}
    assert refused(schema, {"x_aaa": "one"}).field == "x_aaa"
    error = refused(schema, {"x_" + EVIL: 1})
    assert error.field == "x_" + EVIL
    assert "does not match any of the regexes" in error.message


def test_patterns_use_re2_syntax_and_anchors():
    han = with_code(r"^\p{Han}{2,4}$")  # Python's re does not know \p{...}
    assert validate(han, {"code": "张建国"}) == {"code": "张建国"}
    assert refused(han, {"code": "zhang"}).field == "code"
    # `$` is the end of the text, as in JSON Schema's ECMA-262 (Python's re also lets "\n" end it)
    assert refused(with_code("^IT-[0-9]+$"), {"code": "IT-12\n"}).field == "code"


def test_a_format_regex_value_must_be_a_pattern_re2_runs():
    schema = {"type": "object", "properties": {"rule": {"type": "string", "format": "regex"}}}
    assert validate(schema, {"rule": r"^\p{Han}+$"}) == {"rule": r"^\p{Han}+$"}
    assert refused(schema, {"rule": r"(a)\1"}).field == "rule"


def test_a_pattern_re2_cannot_run_in_a_deployed_form_is_refused_not_guessed():
    # Deployed before lint refused such patterns: nobody can satisfy it, and the message says why.
    error = refused(with_code(r"^(a)\1$"), {"code": "aa"})
    assert error.field == "code"
    assert "cannot be checked" in error.message and "process owner" in error.message


def test_unevaluated_properties_with_pattern_properties_is_refused():
    schema = {"type": "object", "patternProperties": {"^x_": {"type": "integer"}}, "unevaluatedProperties": False}
    assert "unevaluatedProperties" in refused(schema, {"x_1": 1}).message


# ---- the size of texts ------------------------------------------------------------------

def test_an_overlong_text_is_refused_naming_the_field():
    error = refused(with_code(), {"code": "a" * (MAX_TEXT_LENGTH + 1)})
    assert error.field == "code"
    assert f"at most {MAX_TEXT_LENGTH}" in error.message
    listed = {"type": "object", "properties": {"notes": {"type": "array", "items": {"type": "string"}}}}
    error = refused(listed, {"notes": ["ok", "b" * (MAX_TEXT_LENGTH + 1)]})
    assert (error.field, error.errors[0]["item"]) == ("notes", 1)
    # a field with its own maxLength gets that instead
    schema = with_code("^a+$", maxLength=MAX_TEXT_LENGTH * 2)
    long = "a" * (MAX_TEXT_LENGTH + 5)
    assert validate(schema, {"code": long}) == {"code": long}
    assert "is too long" in refused(schema, {"code": long * 2}).message


# ---- lint and deploy ------------------------------------------------------------------------

@pytest.fixture
def forms(tmp_path) -> Path:
    target = tmp_path / "forms" / "minimal_ok"
    shutil.copytree(FIXTURES / "forms" / "minimal_ok", target)
    return target


def bpmn_text() -> str:
    return (FIXTURES / "minimal_ok.bpmn").read_text(encoding="utf-8")


def property_line(filename: str) -> int:
    text = bpmn_text()
    return text[: text.index(f'value="{filename}"')].count("\n") + 1


def set_pattern(forms: Path, form: str, field: str, pattern: str) -> None:
    path = forms / form
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["properties"][field]["pattern"] = pattern
    path.write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")


def pattern_findings(forms: Path) -> list:
    findings = lint_bytes(bpmn_text().encode("utf-8"), "minimal_ok.bpmn", forms)
    return [f for f in findings if f.rule == "form-pattern"]


def test_lint_refuses_a_backreference_with_its_location(forms):
    set_pattern(forms, "escalate.schema.json", "escalation_note", r"^(\w+) \1$")
    [finding] = pattern_findings(forms)
    assert (finding.file, finding.line, finding.severity) == (
        "minimal_ok.bpmn", property_line("escalate.schema.json"), "error")
    assert "forms/minimal_ok/escalate.schema.json" in finding.message
    assert "at /properties/escalation_note/pattern:" in finding.message
    assert "RE2 cannot compile the pattern (invalid escape sequence: \\1)" in finding.message


def test_lint_refuses_lookaround_and_overlong_patterns_each_at_its_pointer(forms):
    path = forms / "fill_request.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["properties"]["customer_name"]["pattern"] = "^(?!test).+$"
    schema["properties"]["trip_kind"]["pattern"] = "a" * 1001
    schema["patternProperties"] = {"^note/(?<=e)": {"type": "string"}}
    path.write_text(json.dumps(schema), encoding="utf-8")
    found = {f.message.split(", at ")[1].split(":")[0]: f.message for f in pattern_findings(forms)}
    assert sorted(found) == ["/patternProperties/^note~1(?<=e)", "/properties/customer_name/pattern",
                             "/properties/trip_kind/pattern"]
    assert "invalid perl operator: (?!" in found["/properties/customer_name/pattern"]
    assert "1001 characters long; at most 1000" in found["/properties/trip_kind/pattern"]


def test_lint_accepts_re2_syntax_python_lacks(forms):
    set_pattern(forms, "escalate.schema.json", "escalation_note", r"^[\p{Han}，。]+$")
    assert lint_bytes(bpmn_text().encode("utf-8"), "minimal_ok.bpmn", forms) == []


def test_deploy_refuses_a_form_with_a_backreference(runtime, tmp_path, forms):
    set_pattern(forms, "escalate.schema.json", "escalation_note", r"(a)\1")
    shutil.copy(FIXTURES / "minimal_ok.bpmn", tmp_path / "minimal_ok.bpmn")
    with runtime.db.write() as session, session.begin(), pytest.raises(DeploymentError) as info:
        deploy_file(session, tmp_path / "minimal_ok.bpmn", "owner1")
    assert [f.rule for f in info.value.findings] == ["form-pattern"]


# ---- the engine -----------------------------------------------------------------------------


def test_complete_with_a_catastrophic_pattern_is_a_form_error(runtime, tmp_path):
    task_id = deploy_with_code_field(runtime, tmp_path)
    with pytest.raises(FormInvalid) as info:
        runtime.complete(task_id, "agent1", REQUEST | {"code": EVIL})
    assert info.value.field == "code"
    assert runtime.task(task_id)["state"] == "ready"
    runtime.complete(task_id, "agent1", REQUEST | {"code": "aaaa"})
    assert runtime.task(task_id)["state"] == "completed"


def test_the_form_is_checked_under_the_write_lock_and_a_refusal_writes_nothing(runtime, db_url, tmp_path):
    """The completion is one write transaction: another writer holds the write lock (on SQLite the
    database's, on PostgreSQL the instance and task rows'), so the completion waits for it, checks the
    form then (a catastrophic pattern stays linear: re2), refuses the invalid data and writes nothing."""
    task_id = deploy_with_code_field(runtime, tmp_path)
    instance_id = runtime.task(task_id)["instance_id"]
    events_before = len(runtime.events(instance_id))
    other = Database(db_url)
    holder = other.write()
    outcome: list[BaseException | str] = []

    def complete_in_a_thread():
        try:
            runtime.complete(task_id, "agent1", REQUEST | {"code": EVIL})
            outcome.append("completed")
        except BaseException as exc:  # whatever it is, the assertion below shows it
            outcome.append(exc)

    try:
        holder.begin()  # BEGIN IMMEDIATE on SQLite: the write lock
        holder.execute(select(ProcessInstance).where(ProcessInstance.id == instance_id).with_for_update())
        holder.execute(select(HumanTask).where(HumanTask.id == task_id).with_for_update())
        thread = threading.Thread(target=complete_in_a_thread, daemon=True)
        thread.start()
        thread.join(0.5)
        assert outcome == [], "the completion answered while another writer held the lock"
        holder.rollback()
        thread.join(60)  # a guard only: the answer comes once the lock is free
        assert thread.is_alive() is False, "the completion still waits after the lock was let go"
        [result] = outcome
        assert isinstance(result, FormInvalid) and result.field == "code", repr(result)
    finally:
        holder.rollback()
        holder.close()
        other.dispose()
    assert len(runtime.events(instance_id)) == events_before
    assert runtime.task(task_id)["state"] == "ready"
    runtime.complete(task_id, "agent1", REQUEST | {"code": "aa"})
    assert runtime.task(task_id)["state"] == "completed"


def test_a_form_mixing_unevaluated_and_pattern_properties_is_refused_every_time():
    schema = {"type": "object", "patternProperties": {"^x_": {"type": "integer"}}, "unevaluatedProperties": False}
    for _ in range(3):  # the refusal is remembered with the schema's validator, not forgotten after the first
        assert "unevaluatedProperties" in refused(schema, {"x_1": 1}).message
