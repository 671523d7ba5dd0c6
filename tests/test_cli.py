"""The `tourflow` CLI contract, run as the real console command against a real database."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from engine.config import DEFAULT_PROCESSES_DIR
from tests.support.complaint import COMPLAINT

EVENT_KEYS = {"seq", "at", "actor", "kind", "payload", "hash"}
TASK_KEYS = {"id", "instance_id", "task", "name", "lane", "state", "assignee", "due_at"}


@pytest.fixture
def deployed(cli):
    out = cli.run("deploy", str(DEFAULT_PROCESSES_DIR), check=True).stdout
    assert "complaint_handling version 1 (deployed)" in out
    return cli


def _first_task(cli, instance_id: int) -> dict:
    [task] = cli.json("tasks", "--instance", str(instance_id))
    return task


def test_deploy_is_versioned_by_content(deployed, tmp_path):
    again = deployed.run("deploy", str(DEFAULT_PROCESSES_DIR), check=True).stdout
    assert "complaint_handling version 1 (unchanged)" in again
    copy = tmp_path / "procs"
    shutil.copytree(DEFAULT_PROCESSES_DIR, copy)
    bpmn = copy / "complaint_handling.bpmn"
    bpmn.write_text(bpmn.read_text(encoding="utf-8").replace("督办结束", "督办完成"), encoding="utf-8")
    [result] = deployed.json("deploy", str(bpmn))
    assert (result["process_id"], result["version"], result["created"]) == ("complaint_handling", 2, True)
    form = copy / "forms" / "complaint_handling" / "qc_follow_up.schema.json"
    form.write_text(form.read_text(encoding="utf-8").replace("跟进情况", "跟进记录"), encoding="utf-8")
    [result] = deployed.json("deploy", str(bpmn))
    assert result["version"] == 3, "a changed form is a new version too"


def test_running_instances_keep_their_version(deployed, tmp_path):
    old = int(deployed.run("start", "complaint_handling", "--as", "agent1", check=True).stdout)
    copy = tmp_path / "procs"
    shutil.copytree(DEFAULT_PROCESSES_DIR, copy)
    bpmn = copy / "complaint_handling.bpmn"
    bpmn.write_text(bpmn.read_text(encoding="utf-8").replace("受理投诉并上报质检培训部", "受理投诉（新版）"),
                    encoding="utf-8")
    deployed.run("deploy", str(bpmn), check=True)
    new = deployed.json("start", "complaint_handling", "--as", "agent1")
    assert new["version"] == 2
    assert deployed.json("show", str(old))["version"] == 1
    assert _first_task(deployed, old)["name"] == "受理投诉并上报质检培训部"
    assert _first_task(deployed, new["id"])["name"] == "受理投诉（新版）"


def test_bad_file_is_refused_with_file_line_col(deployed, tmp_path):
    bad = tmp_path / "broken.bpmn"
    text = (DEFAULT_PROCESSES_DIR / "complaint_handling.bpmn").read_text(encoding="utf-8")
    bad.write_text(text[: len(text) // 2], encoding="utf-8")
    proc = deployed.run("deploy", str(bad))
    assert proc.returncode == 1
    first = proc.stderr.splitlines()[0]
    assert first.startswith(f"{bad}:") and ": error xml: malformed XML" in first
    assert "Traceback" not in proc.stderr
    lint = deployed.run("lint", str(bad))
    assert lint.returncode == 1 and lint.stdout.startswith(f"{bad}:")


def test_lint_of_the_shipped_processes_is_clean(cli):
    proc = cli.run("lint", str(DEFAULT_PROCESSES_DIR))
    assert (proc.returncode, proc.stdout) == (0, "")


def test_start_tasks_complete_show_events(deployed):
    instance = deployed.json("start", "complaint_handling", "--as", "agent1", "--data", '{"source": "电话"}')
    assert {"id", "process", "version", "status", "data"} <= set(instance)
    assert (instance["process"], instance["status"], instance["data"]["source"]) == (
        "complaint_handling", "running", "电话")
    task = _first_task(deployed, instance["id"])
    assert set(task) >= TASK_KEYS
    assert (task["task"], task["lane"], task["state"], task["assignee"]) == (
        "receive_complaint", "staff", "ready", None)
    assert task["due_at"].endswith("Z")
    mine = deployed.json("tasks", "--user", "agent1")
    assert [t["id"] for t in mine] == [task["id"]]
    assert deployed.json("tasks", "--user", "qc1") == []
    assert deployed.json("tasks", "--lane", "staff")[0]["id"] == task["id"]
    done = deployed.run("complete", str(task["id"]), "--as", "agent1", "--data", json.dumps(COMPLAINT))
    assert done.returncode == 0, done.stderr
    shown = deployed.json("show", str(instance["id"]))
    assert shown["data"]["customer_name"] == "张建国"
    events = deployed.json("events", str(instance["id"]))
    assert all(set(e) >= EVENT_KEYS for e in events)
    assert [e["kind"] for e in events] == [
        "instance_started", "message_received", "task_ready", "state_written",
        "task_completed", "handler_called", "task_ready", "state_written"], \
        "each write ends with the hash of the state it left (a complaint during the tour: its guide is looked up)"
    assert events[1]["payload"]["name"] == "complaint_received", "started by hand = its start message"
    assert [e["seq"] for e in events] == [1, 2, 3, 4, 5, 6, 7, 8]


@pytest.mark.parametrize("user, data, code, words", [
    ("agent1", {**COMPLAINT, "time_class": "去年"}, 2, "time_class"),
    ("agent1", {k: v for k, v in COMPLAINT.items() if k != "customer_name"}, 2, "customer_name"),
    ("qc1", COMPLAINT, 4, "does not hold lane 'staff'"),
    ("nobody", COMPLAINT, 4, "unknown or inactive user"),
])
def test_complete_exit_codes(deployed, user, data, code, words):
    instance_id = int(deployed.run("start", "complaint_handling", check=True).stdout)
    task = _first_task(deployed, instance_id)
    proc = deployed.run("complete", str(task["id"]), "--as", user, "--data", json.dumps(data))
    assert proc.returncode == code
    assert words in proc.stderr and proc.stderr.count("\n") == 1


def test_completing_twice_is_a_conflict(deployed):
    instance_id = int(deployed.run("start", "complaint_handling", check=True).stdout)
    task = _first_task(deployed, instance_id)
    args = ("complete", str(task["id"]), "--as", "agent1", "--data", json.dumps(COMPLAINT))
    assert deployed.run(*args).returncode == 0
    again = deployed.run(*args)
    assert again.returncode == 3 and "already completed by agent1" in again.stderr


@pytest.mark.parametrize("args, words", [
    (("complete", "999", "--as", "agent1"), "task 999 does not exist"),
    (("show", "999", "--json"), "instance 999 does not exist"),
    (("start", "no_such_process"), "process 'no_such_process' is not deployed"),
    (("start", "complaint_handling", "--data", "{not json"), "--data is not valid JSON"),
    (("tick", "--at", "tomorrow"), "not an ISO 8601 date-time"),
    (("message", "nobody_listens"), "no instance waits for message 'nobody_listens'"),
    (("message", "paid", "--key", "k1", "--ttl", "-5"), "ttl_seconds must be a positive number"),
])
def test_errors_are_one_clear_line(deployed, args, words):
    proc = deployed.run(*args)
    assert proc.returncode == 1
    assert words in proc.stderr and "Traceback" not in proc.stderr


def test_tick_fires_the_one_hour_timer(deployed):
    instance_id = int(deployed.run("start", "complaint_handling", check=True).stdout)
    due = _first_task(deployed, instance_id)["due_at"]
    assert deployed.json("tick", "--at", "2000-01-01T00:00:00Z") == []
    fired = deployed.json("tick", "--at", due.replace("Z", "") + "+00:01")  # one minute before UTC due
    assert fired == []
    later = deployed.json("tick", "--at", "2100-01-01T00:00:00Z")
    # (the month-end report's own start timer fires too: processes/ has one)
    assert [(f["instance_id"], f["timer"]) for f in later if f["kind"] == "timer"] == [(instance_id, "report_overdue")]
    lanes = sorted(t["lane"] for t in deployed.json("tasks", "--instance", str(instance_id)))
    assert lanes == ["staff", "supervisor"]


def test_audit_verify_detects_an_edited_event(deployed, db_url):
    instance_id = int(deployed.run("start", "complaint_handling", "--as", "agent1", check=True).stdout)
    ok = deployed.run("audit", "verify")
    assert ok.returncode == 0 and "intact" in ok.stdout
    path = Path(db_url.removeprefix("sqlite:///"))
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER audit_event_no_update")
        conn.execute("UPDATE audit_event SET actor='mallory' WHERE stream=? AND seq=2", (f"instance:{instance_id}",))
    broken = deployed.run("audit", "verify", str(instance_id))
    assert broken.returncode == 1
    assert f"instance {instance_id} at seq 2" in broken.stderr
    assert deployed.run("audit", "verify").returncode == 1


def test_info_names_the_database(cli, db_url):
    assert db_url in cli.run("info", check=True).stdout
