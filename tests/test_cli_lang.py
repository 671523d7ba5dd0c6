"""`tourflow lint` and `tourflow deploy` print findings in English, or in Chinese with --lang zh
or TOURFLOW_LANG=zh; ids and file names stay as written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.config import DEFAULT_PROCESSES_DIR

FORM = 'value="investigate_facts.schema.json"'
ZH = "用户任务 'investigate_facts'（调查事实经过）的表单 forms/complaint_handling/nope.schema.json：文件不存在"
EN = "form forms/complaint_handling/nope.schema.json of userTask 'investigate_facts' (调查事实经过): file not found"


@pytest.fixture
def broken(tmp_path) -> Path:
    """complaint_handling.bpmn with its forms, naming a form that does not exist."""
    folder = tmp_path / "procs"
    shutil.copytree(DEFAULT_PROCESSES_DIR, folder)
    bpmn = folder / "complaint_handling.bpmn"
    text = bpmn.read_text(encoding="utf-8")
    assert FORM in text and 'name="调查事实经过"' in text, "the fixture names this form and task"
    bpmn.write_text(text.replace(FORM, 'value="nope.schema.json"'), encoding="utf-8")
    return bpmn


def finding_line(output: str) -> str:
    [line] = [line for line in output.splitlines() if "nope.schema.json" in line]
    return line


def test_lint_prints_english_by_default_and_chinese_with_lang_zh(cli, broken):
    english = cli.run("lint", str(broken))
    assert english.returncode == 1
    assert finding_line(english.stdout).endswith(f" error form-invalid: {EN}")
    chinese = cli.run("lint", "--lang", "zh", str(broken))
    assert chinese.returncode == 1
    assert finding_line(chinese.stdout) == finding_line(english.stdout).replace(EN, ZH)
    assert cli.run("lint", "--lang", "fr", str(broken)).returncode == 2, "only zh and en"


def test_tourflow_lang_sets_the_default_and_lang_overrides_it(cli, broken):
    cli.env["TOURFLOW_LANG"] = "zh"
    assert finding_line(cli.run("lint", str(broken)).stdout).endswith(ZH)
    assert finding_line(cli.run("lint", "--lang", "en", str(broken)).stdout).endswith(EN)
    cli.env["TOURFLOW_LANG"] = "klingon"  # not a language we speak: English
    assert finding_line(cli.run("lint", str(broken)).stdout).endswith(EN)


def test_a_refused_deploy_prints_its_findings_in_the_chosen_language(cli, broken):
    chinese = cli.run("deploy", "--lang", "zh", str(broken))
    assert chinese.returncode == 1 and "Traceback" not in chinese.stderr
    assert finding_line(chinese.stderr).endswith(f" error form-invalid: {ZH}")
    english = cli.run("deploy", str(broken))
    assert finding_line(english.stderr).endswith(f" error form-invalid: {EN}")


def test_an_error_line_is_in_the_chosen_language_and_keeps_its_exit_code(cli):
    english = cli.run("claim", "999999", "--as", "agent1")
    assert english.returncode == 1 and english.stderr.strip() == "error: task 999999 does not exist"
    cli.env["TOURFLOW_LANG"] = "zh"
    chinese = cli.run("claim", "999999", "--as", "agent1")
    assert chinese.returncode == 1 and chinese.stderr.strip() == "错误：任务 999999 不存在"
