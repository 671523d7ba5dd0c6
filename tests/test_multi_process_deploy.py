"""Issue 16: several processes per file (each its own versioned deployment), call activities across
files (resolved among the files deployed together, else to the deployed process, and pinned in
deployment.called_files), sets of files and zips deployed in one transaction."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.bpmn.specs import load_model
from engine.clock import utcnow
from engine.errors import BpmnReadError, DeploymentError
from engine.run import zip_bundle
from engine.run.deploy_set import deploy_together
from engine.run.drafts import deploy_draft, preview, save_draft
from engine.store.models import Deployment, ProcessInstance

MULTI = Path(__file__).parent / "fixtures" / "bpmn" / "thirdparty" / "multi"
TWO = MULTI / "two_processes.bpmn"
TOUR, PAYMENT = MULTI / "tour_booking.bpmn", MULTI / "payment.bpmn"
FORM = b'{"type": "object", "properties": {"amount": {"type": "number", "title": "Amount"}}}'


def files(*paths: Path) -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in paths]


def deploy(runtime, items: list[tuple[str, bytes]]):
    with runtime.db.write() as session, session.begin():
        return deploy_together(session, items, "owner1")


def rows(runtime) -> list[Deployment]:
    with runtime.reading() as session:
        found = session.execute(select(Deployment).order_by(Deployment.id)).scalars().all()
        session.expunge_all()
        return found


def zipped(entries: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return out.getvalue()


# ---- several processes per file -----------------------------------------------------------

def test_each_executable_process_of_a_file_is_its_own_versioned_deployment(runtime):
    results = deploy(runtime, files(TWO))
    assert [(r.process_id, r.version, r.created) for r in results] == [
        ("Process_0sales1", 1, True), ("Process_1ops22", 1, True)]
    changed = TWO.read_text(encoding="utf-8").replace('name="Book supplier"', 'name="Book the supplier"')
    again = deploy(runtime, [(TWO.name, changed.encode())])
    assert [(r.process_id, r.version) for r in again] == [("Process_0sales1", 2), ("Process_1ops22", 2)]
    for process_id, task in (("Process_0sales1", "Activity_0q7w3e1"), ("Process_1ops22", None)):
        instance = runtime.start(process_id, actor="agent1")
        assert [t["task"] for t in runtime.tasks(instance_id=instance)] == ([task] if task else [])


def test_a_model_is_one_process_of_its_file():
    data = TWO.read_bytes()
    assert load_model(data, TWO.name, "Process_1ops22").process_id == "Process_1ops22"
    assert set(load_model(data, TWO.name, "Process_0sales1").user_tasks) == {"Activity_0q7w3e1"}
    with pytest.raises(BpmnReadError, match="found 2"):
        load_model(data, TWO.name)
    with pytest.raises(BpmnReadError, match="no executable bpmn:process 'Process_1cust99'"):
        load_model((MULTI / "partner_pool.bpmn").read_bytes(), "partner_pool.bpmn", "Process_1cust99")


def test_a_partner_pool_that_is_not_executable_is_skipped(runtime):
    assert [r.process_id for r in deploy(runtime, files(MULTI / "partner_pool.bpmn"))] == ["Process_0agency"]


# ---- call activities ----------------------------------------------------------------------

def with_form(text: str) -> bytes:
    """payment.bpmn with a form on its user task (SpiffArena's property)."""
    prop = ('<bpmn:extensionElements><spiffworkflow:properties '
            'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core">'
            '<spiffworkflow:property name="formJsonSchemaFilename" value="payment.schema.json" />'
            '</spiffworkflow:properties></bpmn:extensionElements>')
    marker = '<bpmn:userTask id="Activity_1d7f8g9" name="Record payment">'
    assert marker in text
    return text.replace(marker, marker + prop).encode()


def test_an_instance_runs_through_a_call_activity_across_files_to_the_end(runtime):
    payment = with_form(PAYMENT.read_text(encoding="utf-8"))
    deploy(runtime, [*files(TOUR), ("payment.bpmn", payment), ("payment.schema.json", FORM)])
    [tour] = [r for r in rows(runtime) if r.process_id == "Process_0tour01"]
    assert tour.called_files == {"payment.bpmn": payment.decode()}
    assert "payment.schema.json" in tour.forms, "the called process's form is the caller's version's"
    instance = runtime.start("Process_0tour01", actor="agent1")
    [task] = runtime.tasks(user="agent1")
    assert (task["task"], task["lane"], task["instance_id"]) == ("Activity_1d7f8g9", "staff", instance)
    assert runtime.task(task["id"])["form"]["properties"]["amount"]["title"] == "Amount"
    runtime.complete(task["id"], "agent1", {"amount": 120})
    [task] = runtime.tasks(instance_id=instance)
    assert task["task"] == "Activity_1u1i2o3"
    runtime.complete(task["id"], "agent1", {})
    assert runtime.show(instance)["status"] == "completed"


def test_a_call_resolves_to_the_deployed_process_and_is_pinned(runtime):
    deploy(runtime, files(PAYMENT))
    deploy(runtime, files(TOUR))
    changed = PAYMENT.read_text(encoding="utf-8").replace('name="Record payment"', 'name="Book payment"')
    deploy(runtime, [("payment.bpmn", changed.encode())])
    [tour] = [r for r in rows(runtime) if r.process_id == "Process_0tour01"]
    assert tour.called_files == {"payment.bpmn": PAYMENT.read_text(encoding="utf-8")}, "the version deployed then"
    instance = runtime.start("Process_0tour01", actor="agent1")
    [task] = runtime.tasks(instance_id=instance)
    assert task["name"] == "Record payment"


def test_a_model_with_called_files_is_cached_by_all_of_them():
    first = PAYMENT.read_text(encoding="utf-8")
    second = first.replace('name="Record payment"', 'name="Book payment"')
    models = [load_model(TOUR.read_bytes(), TOUR.name, "Process_0tour01", {"payment.bpmn": text})
              for text in (first, second)]
    assert [m.user_tasks["Activity_1d7f8g9"].name for m in models] == ["Record payment", "Book payment"]
    assert models[0].node_lanes["Activity_1d7f8g9"] == "staff"
    with pytest.raises(BpmnReadError, match="invalid process"):
        load_model(TOUR.read_bytes(), TOUR.name, "Process_0tour01")  # its call target nowhere


def test_a_missing_call_target_refuses_at_the_call_activity(runtime):
    with pytest.raises(DeploymentError) as refused:
        deploy(runtime, files(TOUR))
    [finding] = [f for f in refused.value.findings if f.severity == "error"]
    assert (finding.rule, finding.line, finding.element) == ("call-target-missing", 10, "Activity_0r8t9y0")
    assert "Process_1pay000" in finding.message and "Process_1pay000" in finding.message_zh
    assert rows(runtime) == []


# ---- sets and zips ------------------------------------------------------------------------

def test_one_bad_file_refuses_the_whole_set(runtime):
    with pytest.raises(DeploymentError) as refused:
        deploy(runtime, files(PAYMENT, MULTI / "not_executable.bpmn"))
    assert refused.value.message.startswith("not_executable.bpmn: 1 error(s)")
    assert rows(runtime) == []


def test_a_zip_deploys_its_files_together(runtime):
    archive = zipped([("flows/tour_booking.bpmn", TOUR.read_bytes()), ("flows/payment.bpmn", PAYMENT.read_bytes()),
                      ("__MACOSX/flows/._payment.bpmn", b"\0\1junk")])
    results = deploy(runtime, [("flows.zip", archive)])
    assert sorted(r.process_id for r in results) == ["Process_0tour01", "Process_1pay000"]


@pytest.mark.parametrize(("entries", "reason"), [
    ([(f"f{i}.bpmn", b"x") for i in range(201)], "the zip has 201 entries; at most 200"),
    ([("../payment.bpmn", b"x")], "points outside the zip"),
    ([("/etc/payment.bpmn", b"x")], "points outside the zip"),
    ([("C:/payment.bpmn", b"x")], "points outside the zip"),
])
def test_a_zip_is_refused_with_the_reason(runtime, entries, reason):
    with pytest.raises(DeploymentError, match=reason):
        deploy(runtime, [("x.zip", zipped(entries))])
    assert rows(runtime) == []


def test_a_zip_is_read_with_a_limit_whatever_its_headers_say(runtime, monkeypatch):
    monkeypatch.setattr(zip_bundle, "ZIP_TOTAL_MAX", 1000)
    archive = bytearray(zipped([("payment.bpmn", PAYMENT.read_bytes())]))
    size = len(PAYMENT.read_bytes()).to_bytes(4, "little")
    archive = bytes(archive).replace(size, (10).to_bytes(4, "little"))  # headers claim 10 bytes unpacked
    with pytest.raises(DeploymentError, match="more than 1000 bytes|cannot be read"):
        zip_bundle.read_zip(archive)
    with pytest.raises(DeploymentError, match="unpacks to more than 1000 bytes"):
        deploy(runtime, [("big.zip", zipped([("payment.bpmn", PAYMENT.read_bytes())]))])


def test_an_encrypted_zip_entry_is_refused(runtime):
    archive = bytearray(zipped([("payment.bpmn", PAYMENT.read_bytes())]))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # local and central headers' flags
        at = archive.index(signature) + offset
        archive[at] |= 0x1  # bit 0: encrypted (zipfile writes no encryption, so set the bit as others do)
    with pytest.raises(DeploymentError, match="encrypted"):
        deploy(runtime, [("secret.zip", bytes(archive))])


def test_not_a_zip_is_refused(runtime):
    with pytest.raises(DeploymentError, match="not a readable zip file"):
        deploy(runtime, [("x.zip", b"PK nothing")])


# ---- tourflow deploy ----------------------------------------------------------------------

def test_tourflow_deploy_a_folder_and_a_zip(cli, tmp_path):
    folder = tmp_path / "set"
    folder.mkdir()
    for path in (TOUR, PAYMENT):
        (folder / path.name).write_bytes(path.read_bytes())
    out = cli.run("deploy", str(folder), check=True).stdout
    assert "Process_0tour01 version 1 (deployed)" in out and "Process_1pay000 version 1 (deployed)" in out
    archive = tmp_path / "two.zip"
    archive.write_bytes(zipped(files(TWO)))
    out = cli.run("deploy", str(archive), check=True).stdout
    assert "Process_0sales1 version 1" in out and "Process_1ops22 version 1" in out
    alone = cli.run("deploy", str(TOUR), check=True).stdout  # its call resolves to the deployed payment
    assert "Process_0tour01 version 1 (unchanged)" in alone
    refused = cli.run("deploy", str(MULTI / "call_missing.bpmn"))
    assert refused.returncode == 1 and "call_missing.bpmn:10:1: error call-target-missing" in refused.stderr


def test_nothing_is_stored_by_a_refused_set(runtime):
    with pytest.raises(DeploymentError):
        deploy(runtime, files(MULTI / "collaboration_only.bpmn"))
    with runtime.reading() as session:
        assert session.execute(select(func.count()).select_from(ProcessInstance)).scalar() == 0
    assert rows(runtime) == []


def test_the_single_file_deploy_says_why_a_file_needs_the_set(runtime):
    from engine.run.deployments import deploy_bytes

    with pytest.raises(DeploymentError, match="found 2; deploy it with the files it needs"), \
            runtime.db.write() as session, session.begin():
        deploy_bytes(session, TWO.read_bytes(), TWO.name, None, "owner1")


# ---- drafts (the modeler's save and deploy) -------------------------------------------------

def test_a_draft_with_a_call_to_a_deployed_process_previews_and_deploys_pinned(runtime):
    deploy(runtime, files(PAYMENT))
    with runtime.db.write() as session, session.begin():
        draft = save_draft(session, files(TOUR), "owner1", utcnow())
        shown = preview(session, draft)
        assert (shown["process_id"], shown["deployable"]) == ("Process_0tour01", True)
        assert not [f for f in shown["findings"] if f["severity"] == "error"]
        result = deploy_draft(session, draft.id, "owner1")
    assert (result.process_id, result.version) == ("Process_0tour01", 1)
    [tour] = [r for r in rows(runtime) if r.process_id == "Process_0tour01"]
    assert tour.called_files == {"payment.bpmn": PAYMENT.read_text(encoding="utf-8")}
    instance = runtime.start("Process_0tour01", actor="agent1")
    assert [t["task"] for t in runtime.tasks(instance_id=instance)] == ["Activity_1d7f8g9"]


def test_a_draft_of_a_file_with_two_processes_deploys_both(runtime):
    with runtime.db.write() as session, session.begin():
        draft = save_draft(session, files(TWO), "owner1", utcnow())
        assert preview(session, draft)["deployable"] is True
        deploy_draft(session, draft.id, "owner1")
    assert len({r.process_id for r in rows(runtime)}) == 2


def test_a_draft_calling_a_process_that_is_nowhere_is_not_deployable(runtime):
    with runtime.db.write() as session, session.begin():
        draft = save_draft(session, files(TOUR), "owner1", utcnow())
        shown = preview(session, draft)
        assert shown["deployable"] is False
        assert [f["rule"] for f in shown["findings"] if f["severity"] == "error"] == ["call-target-missing"]
        with pytest.raises(DeploymentError):
            deploy_draft(session, draft.id, "owner1")
