"""Which version starts: the newest deployed until an owner activates another (a rollback),
audited; `start --version` runs a given one; redeploying old content changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.clock import frozen_at
from engine.config import DEFAULT_PROCESSES_DIR
from engine.errors import FormInvalid, NotAllowed, NotFound, TaskConflict
from engine.run.deployments import deploy_file
from engine.store.models import AuditEvent, Job
from tests.support.versions import write_beside_forms
from tests.support.world import deploy

pytestmark = pytest.mark.both_databases

P6 = DEFAULT_PROCESSES_DIR / "complaint_handling.bpmn"
MONTH_REPORT = Path(__file__).parent / "fixtures" / "runtime" / "month_report.bpmn"
NOV_23 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def _copy_changed(tmp_path: Path, source: Path, old: str, new: str) -> Path:
    """`source` with one label changed, beside a copy of its forms (a new version's file)."""
    target = tmp_path / source.name
    text = source.read_text(encoding="utf-8")
    assert old in text
    target.write_text(text.replace(old, new, 1), encoding="utf-8")
    forms = source.parent / "forms" / source.stem
    if forms.is_dir():
        (tmp_path / "forms").mkdir(exist_ok=True)
        (tmp_path / "forms" / source.stem).symlink_to(forms)
    return target


def _deploy(runtime, path: Path):
    with runtime.db.write() as session, session.begin():
        return deploy_file(session, path, "owner1")


def _version_of(runtime, instance_id: int) -> int:
    return runtime.show(instance_id)["version"]


@pytest.fixture
def two_versions(runtime, tmp_path):
    deploy(runtime, P6)
    second = _deploy(runtime, _copy_changed(tmp_path, P6, "督办结束", "督办完毕"))
    assert (second.version, second.created, second.current) == (2, True, True)
    return runtime


def test_a_new_version_becomes_current_and_rolling_back_is_one_audited_action(two_versions):
    rt = two_versions
    assert _version_of(rt, rt.start("complaint_handling", actor="agent1")) == 2
    result = rt.activate_version("complaint_handling", 1, "owner1", "v2 的结束节点名称有误")
    assert result == {"process_id": "complaint_handling", "version": 1, "deployment_id": result["deployment_id"],
                      "previous_version": 2}
    assert _version_of(rt, rt.start("complaint_handling", actor="agent1")) == 1
    assert [p["version"] for p in rt.startable("agent1") if p["process_id"] == "complaint_handling"] == [1]
    with rt.db.read() as session:
        [event] = session.execute(select(AuditEvent).where(AuditEvent.kind == "process_activated")).scalars()
    assert (event.actor, json.loads(event.payload)) == ("owner1", {
        "process": "complaint_handling", "version": 1, "deployment_id": result["deployment_id"],
        "previous_version": 2, "reason": "v2 的结束节点名称有误"})


def test_running_instances_stay_on_their_version(two_versions):
    rt = two_versions
    on_two = rt.start("complaint_handling", actor="agent1")
    rt.activate_version("complaint_handling", 1, "owner1", "回滚")
    assert _version_of(rt, on_two) == 2
    [task] = rt.tasks(instance_id=on_two)
    assert rt.task(task["id"])["task"] == task["task"]


def test_start_version_runs_a_given_version_and_an_unknown_one_is_named(two_versions):
    rt = two_versions
    assert _version_of(rt, rt.start("complaint_handling", actor="agent1", version=1)) == 1
    with pytest.raises(NotFound, match=r"has no version 7"):
        rt.start("complaint_handling", actor="agent1", version=7)


def test_activation_is_refused_clearly(two_versions):
    rt = two_versions
    with pytest.raises(TaskConflict, match="already the current version"):
        rt.activate_version("complaint_handling", 2, "owner1", "再来一次")
    with pytest.raises(NotFound, match=r"has no version 9 \(deployed: 1, 2\)"):
        rt.activate_version("complaint_handling", 9, "owner1", "不存在")
    with pytest.raises(NotFound, match="not deployed"):
        rt.activate_version("no_such_process", 1, "owner1", "不存在")
    with pytest.raises(NotAllowed, match="deploy"):
        rt.activate_version("complaint_handling", 1, "agent1", "坐席不能回滚")
    with pytest.raises(FormInvalid, match="reason"):
        rt.activate_version("complaint_handling", 1, "owner1", "  ")
    assert _version_of(rt, rt.start("complaint_handling", actor="agent1")) == 2, "nothing changed"


def test_redeploying_old_content_makes_no_version_and_keeps_the_owners_choice(two_versions):
    rt = two_versions
    again = _deploy(rt, P6)
    assert (again.version, again.created, again.current) == (1, False, False)
    assert _version_of(rt, rt.start("complaint_handling", actor="agent1")) == 2
    rt.activate_version("complaint_handling", 1, "owner1", "回滚")
    assert _deploy(rt, P6).current is True


def _pending_start_timers(rt) -> list[int]:
    with rt.db.read() as session:
        return [j.deployment_id for j in session.execute(
            select(Job).where(Job.kind == "start_timer", Job.state == "pending")).scalars()]


def test_the_start_timer_follows_the_current_version(runtime, tmp_path):
    with frozen_at(NOV_23):
        first = _deploy(runtime, MONTH_REPORT)
        second = _deploy(runtime, _copy_changed(tmp_path, MONTH_REPORT, 'name="', 'name="v2 '))
        assert _pending_start_timers(runtime) == [second.deployment_id]
        runtime.activate_version(first.process_id, 1, "system", "v2 报表有误")
        assert _pending_start_timers(runtime) == [first.deployment_id]


def test_cli_activate_and_start_version(cli, two_versions):
    done = cli.run("activate", "complaint_handling", "1", "--reason", "回滚到 v1", "--as", "owner1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "complaint_handling: version 1 is now current (was 2)"
    started = cli.run("start", "complaint_handling", "--as", "agent1", "--version", "2", "--json")
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout)["version"] == 2
    refused = cli.run("activate", "complaint_handling", "1", "--reason", "again")
    assert (refused.returncode, refused.stderr.strip()) == (
        3, "error: version 1 of 'complaint_handling' is already the current version")
    unchanged = cli.run("deploy", str(P6.parent / "complaint_handling.bpmn"))
    assert "(unchanged)" in unchanged.stdout and "not the current" not in unchanged.stdout
    shown = cli.run("diff", "complaint_handling", "1", "2")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == ["complaint_handling: version 1 → 2",
                                         "  ~ endEvent escalation_closed “督办完毕”: name: '督办结束' → '督办完毕'"]
    same = cli.run("diff", "complaint_handling", "2", "2", "--json")
    assert json.loads(same.stdout)["changed"] == []
    assert cli.run("diff", "complaint_handling", "1", "5").returncode == 1


def test_a_modelers_reformatting_is_not_a_new_version_but_a_moved_shape_is(runtime, tmp_path):
    deploy(runtime, P6)
    text = P6.read_text(encoding="utf-8")
    reformatted = text.replace("bpmn:", "bpmn2:").replace("xmlns:bpmn=", "xmlns:bpmn2=").replace("\n    <", "\n\t<")
    assert reformatted.count("bpmn2:") > 100
    result = _deploy(runtime, write_beside_forms(tmp_path / "round_trip", P6, reformatted))
    assert (result.version, result.created, result.current) == (1, False, True)
    shape = reformatted.index('bpmnElement="escalate_late_report"')
    bounds = reformatted.index('x="', shape)
    moved = reformatted[:bounds] + 'x="9' + reformatted[bounds + 3:]
    result = _deploy(runtime, write_beside_forms(tmp_path / "moved", P6, moved))
    assert (result.version, result.created) == (2, True)


