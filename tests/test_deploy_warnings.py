"""`tourflow deploy` prints lint warnings too (on stderr, after the result lines), and a message a
file throws counts as caught when a deployed process, or a file deployed with it, catches it."""

from __future__ import annotations

from engine.config import DEFAULT_PROCESSES_DIR

INBOUND = DEFAULT_PROCESSES_DIR / "inbound_call.bpmn"


def test_a_file_deployed_alone_gets_its_uncaught_messages_as_warnings(cli):
    proc = cli.run("deploy", str(INBOUND))
    assert proc.returncode == 0, proc.stderr
    assert "inbound_call version 1 (deployed)" in proc.stdout
    warnings = proc.stderr.splitlines()
    assert warnings and all(f"{INBOUND}:" in line and ": warning message-uncaught: " in line for line in warnings)
    assert any("'complaint_received'" in line for line in warnings)
    assert any("'follow_up_requested'" in line for line in warnings)
    chinese = cli.run("deploy", "--lang", "zh", str(INBOUND))
    assert "没有任何已部署或本次检查的流程接收它" in chinese.stderr


def test_deployed_catchers_and_files_deployed_together_count(cli):
    cli.run("deploy", str(DEFAULT_PROCESSES_DIR / "complaint_handling.bpmn"),
            str(DEFAULT_PROCESSES_DIR / "outbound_call.bpmn"), check=True)
    proc = cli.run("deploy", str(INBOUND), check=True)
    assert proc.stderr == ""
    [result] = cli.json("deploy", str(INBOUND))
    assert result["warnings"] == []


def test_the_shipped_processes_deploy_without_warnings(cli):
    proc = cli.run("deploy", str(DEFAULT_PROCESSES_DIR), check=True)
    assert proc.stderr == ""


def test_the_preview_checks_messages_against_the_deployed_catches(cli):
    alone = cli.run("deploy", "--preview", str(INBOUND)).stdout
    assert "warning message-uncaught" in alone and "'complaint_received'" in alone
    cli.run("deploy", str(DEFAULT_PROCESSES_DIR / "complaint_handling.bpmn"),
            str(DEFAULT_PROCESSES_DIR / "outbound_call.bpmn"), check=True)
    assert "message-uncaught" not in cli.run("deploy", "--preview", str(INBOUND), check=True).stdout
