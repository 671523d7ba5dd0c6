"""`tourflow deploy --preview`: what deploying a file would do, printed; nothing stored."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from engine.config import DEFAULT_PROCESSES_DIR
from engine.store.models import AuditEvent, Deployment, ProcessDraft
from tests.support.versions import write_beside_forms
from tests.support.world import deploy

P6 = DEFAULT_PROCESSES_DIR / "complaint_handling.bpmn"


def _counts(runtime) -> list[int]:
    with runtime.db.read() as session:
        return [session.execute(select(func.count()).select_from(m)).scalar_one()
                for m in (Deployment, ProcessDraft, AuditEvent)]


def test_a_preview_prints_findings_changes_and_waiting_instances_and_stores_nothing(runtime, cli, tmp_path):
    deploy(runtime, P6)
    instance = runtime.start("complaint_handling", actor="agent1")
    assert [t["task"] for t in runtime.tasks(instance_id=instance)] == ["receive_complaint"]
    text = P6.read_text(encoding="utf-8").replace('name="受理投诉并上报质检培训部"', 'name="受理投诉并立即上报质检培训部"', 1)
    assert text != P6.read_text(encoding="utf-8"), "the fixture's task name changed"
    path = write_beside_forms(tmp_path / "v2", P6, text)
    before = _counts(runtime)
    shown = cli.run("deploy", "--preview", str(path))
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == f"{path}: complaint_handling (against version 1): can be deployed"
    assert any(line.startswith("  ~ userTask receive_complaint “受理投诉并立即上报质检培训部”: name:") for line in lines), lines
    assert "  1 running instance(s) of version 1 wait at receive_complaint" in lines
    assert _counts(runtime) == before, "a preview deploys, drafts and records nothing"
    as_json = json.loads(cli.run("deploy", "--preview", "--json", str(path)).stdout)
    assert as_json[0]["waiting"] == {"receive_complaint": 1} and as_json[0]["deployable"] is True


def test_a_preview_of_a_broken_file_says_why_and_exits_1(runtime, cli, tmp_path):
    deploy(runtime, P6)
    broken = P6.read_text(encoding="utf-8").replace('sourceRef="report_overdue"', 'sourceRef="nowhere"', 1)
    path = write_beside_forms(tmp_path / "broken", P6, broken)
    shown = cli.run("deploy", "--preview", "--lang", "zh", str(path))
    assert shown.returncode == 1
    assert "would be refused" in shown.stdout and "error dangling-flow" in shown.stdout
    assert "nowhere" in shown.stdout
