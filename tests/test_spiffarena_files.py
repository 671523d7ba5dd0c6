"""Issue 16, SpiffArena exports: form files named `<name>-schema.json` / `<name>-uischema.json` beside
the .bpmn, the UI schema stored with the forms and linted like a form, what tourflow cannot run
refused as `spiff-unsupported` where it is written, and timer findings placed on the expression and
naming the event."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.bpmn.form_files import is_form_name
from engine.bpmn.lint import has_errors, lint_bytes, lint_file
from engine.errors import DeploymentError
from engine.run.deployments import deploy_upload
from tests.support.versions import FORMS, edited
from tests.support.world import deploy

SPIFF = Path(__file__).parent / "fixtures" / "bpmn" / "thirdparty" / "spiffarena"
TRAVEL = SPIFF / "travel_request.bpmn"  # process travel_request_7kq2x1p, user task Activity_0fk4p2n
SCHEMA, UI = "travel-request-schema.json", "travel-request-uischema.json"
TASK = "Activity_0fk4p2n"


def line_of(text: str, needle: str) -> int:
    return text[:text.index(needle)].count("\n") + 1


def copied(tmp_path: Path, *names: str) -> Path:
    for name in (TRAVEL.name, *names):
        shutil.copy(SPIFF / name, tmp_path / name)
    return tmp_path / TRAVEL.name


def of_rule(findings, rule: str) -> list:
    return [f for f in findings if f.rule == rule]


# -- form file names and where they are --------------------------------------------------------

@pytest.mark.parametrize(("name", "ok"), [
    ("request.schema.json", True), ("travel-request-schema.json", True), ("travel-request-uischema.json", True),
    ("dir/travel-request-schema.json", True), ("request.json", False), ("request-ui.json", False),
    ("-schema.json", False), ("a b-schema.json", False),
])
def test_form_file_names_include_spiffarenas(name, ok):
    assert is_form_name(name) is ok


def test_forms_beside_the_file_are_found_when_there_is_no_forms_folder():
    findings = lint_file(TRAVEL)
    assert not has_errors(findings), "\n".join(map(str, findings))


def test_the_forms_folder_wins_when_it_exists(tmp_path):
    path = copied(tmp_path, SCHEMA, UI)
    folder = tmp_path / "forms" / "travel_request_7kq2x1p"
    folder.mkdir(parents=True)
    (folder / UI).write_text("{}", encoding="utf-8")
    [finding] = of_rule(lint_file(path), "form-invalid")
    assert SCHEMA in finding.message and "file not found" in finding.message


def test_a_missing_ui_schema_is_an_error_on_its_property(tmp_path):
    path = copied(tmp_path, SCHEMA)
    [finding] = of_rule(lint_file(path), "form-invalid")
    assert finding.severity == "error" and finding.element == TASK
    assert finding.line == line_of(path.read_text(encoding="utf-8"), 'name="formUiSchemaFilename"')
    assert f"form {UI} of userTask" in finding.message and f"{UI}：文件不存在" in finding.message_zh


@pytest.mark.parametrize(("content", "at"), [
    ('{\n  "ui:order": ["destination",\n}\n', "3:1"),
    ('\n  ["ui:order"]\n', "2:3"),
])
def test_a_ui_schema_that_is_no_json_object_is_pointed_at_inside_it(tmp_path, content, at):
    path = copied(tmp_path, SCHEMA)
    (tmp_path / UI).write_text(content, encoding="utf-8")
    [finding] = of_rule(lint_file(path), "form-invalid")
    assert f"{UI}:{at} " in finding.message and finding.element == TASK


def test_a_deploy_from_disk_stores_the_ui_schema_with_the_forms(runtime):
    deploy(runtime, TRAVEL)
    instance = runtime.start("travel_request_7kq2x1p", actor="agent1")
    [task] = runtime.tasks(instance_id=instance)
    shown = runtime.task(task["id"])
    assert shown["form"]["title"] == "Travel request"
    assert shown["ui_schema"]["ui:order"] == ["destination", "days", "travel_class", "notes"]
    assert shown["documentation"].startswith("(1) Ask the customer")


def test_tourflow_deploy_of_a_spiffarena_folder_takes_the_forms_beside_the_files(cli, tmp_path):
    copied(tmp_path, SCHEMA, UI)
    out = cli.run("deploy", str(tmp_path), check=True).stdout
    assert "travel_request_7kq2x1p version 1 (deployed)" in out
    instance = cli.json("start", "travel_request_7kq2x1p", "--as", "agent1")["id"]
    [task] = cli.json("tasks", "--instance", str(instance))
    assert task["form"] == SCHEMA


def test_an_upload_takes_spiffarena_names_and_no_other_json(runtime):
    files = [(name, (SPIFF / name).read_bytes()) for name in (TRAVEL.name, SCHEMA, UI)]
    with runtime.db.write() as session, session.begin():
        assert deploy_upload(session, files, "owner1").created
    with pytest.raises(DeploymentError, match="notes.json"), runtime.db.write() as session, session.begin():
        deploy_upload(session, [*files, ("notes.json", b"{}")], "owner1")


# -- what tourflow cannot run ------------------------------------------------------------------

INSTRUCTIONS = "<spiffworkflow:instructionsForEndUser>"


@pytest.mark.parametrize(("extension", "english", "chinese"), [
    ("<spiffworkflow:signalButtonLabel>Cancel trip</spiffworkflow:signalButtonLabel>", "signal button", "信号按钮"),
    ("<spiffworkflow:allowGuest>true</spiffworkflow:allowGuest>", "guest access (spiffworkflow:allowGuest)", "访客"),
    ("<spiffworkflow:guestConfirmation>Thanks!</spiffworkflow:guestConfirmation>",
     "guest access (spiffworkflow:guestConfirmation)", "访客"),
])
def test_spiffarena_extensions_tourflow_cannot_run_are_errors_where_written(tmp_path, extension, english, chinese):
    text = TRAVEL.read_text(encoding="utf-8").replace(INSTRUCTIONS, f"{extension}\n        {INSTRUCTIONS}")
    path = copied(tmp_path, SCHEMA, UI)
    path.write_text(text, encoding="utf-8")
    [finding] = of_rule(lint_file(path), "spiff-unsupported")
    assert (finding.severity, finding.element, finding.line) == ("error", TASK, line_of(text, extension))
    assert english in finding.message and chinese in finding.message_zh


def test_dmn_and_data_stores_are_errors_where_written():
    [dmn] = of_rule(lint_file(SPIFF / "price_rules_dmn.bpmn"), "spiff-unsupported")
    assert (dmn.element, dmn.line) == ("Activity_1d9f3gh", 9) and "DMN decision 'price_band'" in dmn.message
    stores = of_rule(lint_file(SPIFF / "countries_data_store.bpmn"), "spiff-unsupported")
    assert [(f.element, f.line) for f in stores] == [("countries", 3), ("DataStoreReference_0y8u6t4", 23)]
    assert all("数据存储" in f.message_zh for f in stores)


def test_script_unit_tests_are_harmless():
    text = (SPIFF / "quote_with_scripts.bpmn").read_text(encoding="utf-8")
    assert "<spiffworkflow:unitTests>" in text
    assert not has_errors(lint_file(SPIFF / "quote_with_scripts.bpmn"))


# -- timers ----------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["PT1X", '"PT1X"', "'P1Y2X'"])
def test_an_invalid_timer_is_found_on_its_expression_and_names_its_event(value):
    text = edited(('"PT1H"</bpmn:timeDuration>', f"{value}</bpmn:timeDuration>"))
    [finding] = of_rule(lint_bytes(text.encode(), "minimal_ok.bpmn", FORMS), "timer-invalid")
    assert finding.line == line_of(text, "<bpmn:timeDuration") != line_of(text, "<bpmn:timerEventDefinition")
    assert finding.element == "fill_request_sla"
    assert "boundaryEvent 'fill_request_sla'" in finding.message
