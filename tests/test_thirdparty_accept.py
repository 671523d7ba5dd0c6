"""Issue 16, accept what can run: a bpmn.io file (no lanes, no pool, no forms, generated ids, English
names) lints with warnings only, deploys, starts and lands its user task in the default lane; a lane
named after a role maps to it; `tourflow lint --strict` refuses the same file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.bpmn.lanes import lane_role
from engine.bpmn.lint import has_errors, lint_bytes, lint_file
from engine.clock import frozen_at
from engine.config import DEFAULT_PROCESSES_DIR
from engine.errors import NotAllowed
from tests.support.world import deploy
from webapp.cli.definitions import lint as lint_command

THIRDPARTY = Path(__file__).parent / "fixtures" / "bpmn" / "thirdparty"
PLAIN = THIRDPARTY / "bpmnio_plain.bpmn"  # process Process_0h7f4k2
BY_NAME = THIRDPARTY / "bpmnio_lanes_by_name.bpmn"  # process Process_1p2o3i4
PROCESS = "<bpmn:process id=\"Process_0h7f4k2\" isExecutable=\"true\">"

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def with_default_lane(value: str) -> bytes:
    """The plain file with a `defaultLane` property on its process (SpiffArena's property element)."""
    text = PLAIN.read_text(encoding="utf-8")
    assert PROCESS in text
    prop = ('<bpmn:extensionElements><spiffworkflow:properties '
            'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core">'
            f'<spiffworkflow:property name="defaultLane" value="{value}" />'
            '</spiffworkflow:properties></bpmn:extensionElements>')
    return text.replace(PROCESS, PROCESS + prop).encode("utf-8")


def rules(findings) -> dict[str, str]:
    return {f.rule: f.severity for f in findings}


# ---- lint ----------------------------------------------------------------------------------

def test_a_bpmn_io_file_has_only_warnings():
    findings = lint_file(PLAIN)
    assert not has_errors(findings), "\n".join(map(str, findings))
    assert rules(findings) == {"lane-missing": "warning", "no-pool": "warning", "process-id-mismatch": "warning",
                               "missing-form": "warning", "missing-documentation": "warning"}
    [lanes] = [f for f in findings if f.rule == "lane-missing"]
    assert "default lane 'staff'" in lanes.message and "默认泳道 'staff'" in lanes.message_zh


def test_strict_makes_every_warning_an_error():
    findings = lint_file(PLAIN)
    assert has_errors(findings, strict=True) and not has_errors(findings)


def test_tourflow_lint_strict_exits_1_on_warnings_and_0_without(tmp_path):
    runner = CliRunner()
    relaxed = runner.invoke(lint_command, [str(PLAIN), "--lang", "en"])
    strict = runner.invoke(lint_command, ["--strict", str(PLAIN), "--lang", "en"])
    assert relaxed.exit_code == 0 and "warning missing-form" in relaxed.output
    assert strict.exit_code == 1 and "warning missing-form" in strict.output


def test_the_processes_folder_is_clean_under_strict():
    runner = CliRunner()
    result = runner.invoke(lint_command, ["--strict", str(DEFAULT_PROCESSES_DIR)])
    assert result.exit_code == 0, result.output


def test_lanes_map_to_roles_by_id_else_by_name():
    assert lane_role("qc", "anything") == "qc"
    assert lane_role("Lane_0abc", "qc") == "qc"
    assert lane_role("Lane_0abc", " Staff ") == "staff"
    assert lane_role("Lane_0abc", "质检培训部") == "qc"
    assert lane_role("Lane_0abc", "Quality") is None
    assert lane_role("Lane_0abc", "审计") is None, "auditors work no lane"


def test_a_lane_named_after_a_role_lints_clean_of_lane_findings():
    findings = lint_file(BY_NAME)
    assert not has_errors(findings), "\n".join(map(str, findings))
    assert not {"unknown-lane", "lane-missing"} & set(rules(findings))


def test_a_lane_whose_id_and_name_are_no_role_is_an_error():
    text = BY_NAME.read_bytes().replace("质检培训部".encode(), b"Quality team")
    [finding] = [f for f in lint_bytes(text, "x.bpmn", None) if f.rule == "unknown-lane"]
    assert finding.severity == "error" and "Lane_1jkl2mn" in finding.message and "Quality team" in finding.message


def test_a_default_lane_that_is_no_role_is_an_error_and_system_refuses_user_tasks():
    [unknown] = [f for f in lint_bytes(with_default_lane("nobody"), "x.bpmn", None) if f.rule == "unknown-lane"]
    assert unknown.severity == "error" and "defaultLane 'nobody'" in unknown.message
    system = rules(lint_bytes(with_default_lane("system"), "x.bpmn", None))
    assert system["user-task-in-system-lane"] == "error"


def test_a_user_task_outside_the_lanes_of_a_laned_process_is_a_warning_naming_the_default():
    text = BY_NAME.read_bytes().replace(b"<bpmn:flowNodeRef>Activity_0z9x8c7</bpmn:flowNodeRef>", b"")
    [finding] = [f for f in lint_bytes(text, "x.bpmn", None) if f.rule == "lane-missing"]
    assert finding.severity == "warning" and "Activity_0z9x8c7" in finding.message and "'staff'" in finding.message


# ---- the engine ----------------------------------------------------------------------------

def test_the_plain_file_deploys_starts_and_its_task_lands_in_staff(runtime):
    deploy(runtime, PLAIN)
    instance = runtime.start("Process_0h7f4k2", actor="agent1")
    [task] = runtime.tasks(instance_id=instance)
    assert (task["task"], task["lane"], task["form"]) == ("Activity_0x1y2z3", "staff", None)
    assert runtime.task(task["id"])["documentation"] == "Check the request and confirm it."
    runtime.complete(task["id"], "agent1", {})
    shown = runtime.show(instance)
    assert shown["status"] == "completed" and shown["data"]["reviewed"] is True


def test_who_may_start_a_process_without_lanes_is_its_default_lane(runtime, tmp_path):
    deploy(runtime, PLAIN)
    with pytest.raises(NotAllowed, match="does not hold lane 'staff'"):
        runtime.start("Process_0h7f4k2", actor="qc1")
    sales = tmp_path / "sales_default.bpmn"
    sales.write_bytes(with_default_lane("销售人员"))
    deploy(runtime, sales)
    instance = runtime.start("Process_0h7f4k2", actor="sales1")
    assert [t["lane"] for t in runtime.tasks(instance_id=instance)] == ["sales"]


def test_a_task_in_a_lane_named_after_a_role_lands_in_that_role(runtime):
    deploy(runtime, BY_NAME)
    instance = runtime.start("Process_1p2o3i4", actor="agent1")
    [task] = runtime.tasks(instance_id=instance)
    assert task["lane"] == "qc"
    runtime.complete(task["id"], "qc1", {})
    assert runtime.show(instance)["status"] == "completed"


def test_a_bare_iso_timer_as_bpmn_io_writes_it_runs_as_that_literal(runtime):
    timer_file = PLAIN.parent / "bpmnio" / "timer_wait.bpmn"
    assert "PT1H</bpmn:timeDuration>" in timer_file.read_text(encoding="utf-8"), "written bare"
    [warning] = [f for f in lint_file(timer_file) if f.rule == "timer-unquoted"]
    assert warning.severity == "warning" and 'runs as the literal "PT1H"' in warning.message
    with frozen_at(T0):
        deploy(runtime, timer_file)
        instance = runtime.start("Process_1", actor="agent1")
    assert runtime.tasks(instance_id=instance) == []
    assert runtime.tick(T0 + timedelta(minutes=59)) == []
    [fired] = runtime.tick(T0 + timedelta(hours=1))
    assert fired["instance_id"] == instance
    assert [t["task"] for t in runtime.tasks(instance_id=instance)] == ["Activity_0p7c6yd"]


def test_without_a_default_lane_a_task_outside_the_lanes_goes_to_the_starters_role(runtime, tmp_path):
    text = BY_NAME.read_text(encoding="utf-8")
    text = text.replace("<bpmn:flowNodeRef>StartEvent_1</bpmn:flowNodeRef>", "")
    text = text.replace("<bpmn:flowNodeRef>Activity_0z9x8c7</bpmn:flowNodeRef>",
                        "<bpmn:flowNodeRef>StartEvent_1</bpmn:flowNodeRef>")
    [finding] = [f for f in lint_bytes(text.encode(), "x.bpmn", None) if f.rule == "lane-missing"]
    assert "Activity_0z9x8c7" in finding.message and "'qc'" in finding.message
    moved = tmp_path / "started_by_qc.bpmn"
    moved.write_text(text, encoding="utf-8")
    deploy(runtime, moved)
    instance = runtime.start("Process_1p2o3i4", actor="qc1")
    assert [t["lane"] for t in runtime.tasks(instance_id=instance)] == ["qc"]
