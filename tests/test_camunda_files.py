"""Issue 16, files from Camunda Modeler 5 (engine/bpmn/camunda.py): candidateGroups, assignee,
generated forms, external tasks and JUEL conditions run as tourflow's own conventions; every
other camunda:* construct is a located `camunda-unsupported` error, and the deploy refuses it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.bpmn.camunda import normalize
from engine.bpmn.juel import to_python
from engine.bpmn.lint import lint_bytes, lint_file
from engine.bpmn.xmlsafe import parse_bpmn_xml
from engine.errors import DeploymentError, FormInvalid, NotAllowed
from engine.run.deployments import deploy_bytes, deploy_upload
from engine.store.models import Deployment
from tests.support.world import deploy

CJK = re.compile(r"[\u4e00-\u9fff]")
CAMUNDA = Path(__file__).parent / "fixtures" / "bpmn" / "thirdparty" / "camunda"


def errors(path: Path) -> list:
    return [f for f in lint_file(path) if f.severity == "error"]


def refusal(path: Path):
    [finding] = [f for f in errors(path) if f.rule == "camunda-unsupported"][:1]
    return finding


def only_task(runtime, instance: int) -> dict:
    [task] = runtime.tasks(instance_id=instance)
    return task


# ---- what maps: the engine ----------------------------------------------------------------

def test_candidate_groups_give_the_role_and_form_data_a_form_that_validates(runtime):
    deploy(runtime, CAMUNDA / "generated_form.bpmn")
    instance = runtime.start("Process_0gq7r1x", actor="agent1")
    task = only_task(runtime, instance)
    assert (task["task"], task["lane"]) == ("Activity_0r1v2w3", "qc")
    form = runtime.task(task["id"])["form"]
    assert form["required"] == ["customer", "trip_kind"]
    assert form["properties"]["nights"] == {"type": "integer", "title": "Nights", "minimum": 1, "maximum": 30,
                                            "default": 3}
    assert form["properties"]["trip_kind"]["enum"] == ["group", "free"]
    assert form["properties"]["travel_date"]["format"] == "date"
    assert form["properties"]["customer"]["maxLength"] == 50
    with pytest.raises(FormInvalid, match="customer"):
        runtime.complete(task["id"], "qc1", {"trip_kind": "group"})
    with pytest.raises(FormInvalid, match="nights"):
        runtime.complete(task["id"], "qc1", {"customer": "Li", "trip_kind": "free", "nights": 31})
    runtime.complete(task["id"], "qc1", {"customer": "Li", "trip_kind": "free", "travel_date": "2026-12-24"})
    shown = runtime.show(instance)
    assert shown["status"] == "completed"
    assert (shown["data"]["nights"], shown["data"]["urgent"]) == (3, False)


def test_an_uploaded_camunda_file_gets_its_generated_form(runtime):
    path = CAMUNDA / "juel_gateway.bpmn"
    with runtime.db.write() as session, session.begin():
        deploy_upload(session, [(path.name, path.read_bytes())], "owner1")
    task = only_task(runtime, runtime.start("Process_0d3f4g5", actor="sales1"))
    assert runtime.task(task["id"])["form"]["properties"]["amount"]["type"] == "integer"


@pytest.mark.parametrize(("constraint", "config"), [("min", "nan"), ("max", "1e999"), ("minlength", "-1"),
                                                    ("maxlength", "ten"), ("pattern", "[a-z]+")])
def test_a_constraint_that_does_not_map_is_refused_at_its_line(constraint, config):
    text = (CAMUNDA / "generated_form.bpmn").read_text(encoding="utf-8").replace(
        '<camunda:constraint name="maxlength" config="50" />',
        f'<camunda:constraint name="{constraint}" config="{config}" />')
    [finding] = [f for f in lint_bytes(text.encode(), "generated_form.bpmn", None) if f.severity == "error"]
    assert (finding.rule, finding.line, finding.element) == ("camunda-unsupported", 13, "Activity_0r1v2w3")
    assert "camunda:formField 'customer' constraint" in finding.message


def test_a_literal_assignee_pre_claims_the_task_for_that_user(runtime):
    deploy(runtime, CAMUNDA / "assignee_literal.bpmn")
    task = only_task(runtime, runtime.start("Process_0v4c5x6", actor="agent1"))
    assert (task["lane"], task["assignee"]) == ("sales", "sales1")


def test_a_variable_assignee_and_a_chinese_group_name(runtime):
    deploy(runtime, CAMUNDA / "assignee_variable.bpmn")
    task = only_task(runtime, runtime.start("Process_1k9j8h7", actor="agent1"))
    assert (task["lane"], task["assignee"]) == ("qc", "qc1")


def test_a_lane_wins_over_candidate_groups(runtime):
    deploy(runtime, CAMUNDA / "lanes_and_groups.bpmn")
    task = only_task(runtime, runtime.start("Process_1w2e3r4", actor="agent1"))
    assert task["lane"] == "agent"


def test_an_external_task_runs_the_handler_its_topic_names(runtime):
    deploy(runtime, CAMUNDA / "external_task.bpmn")
    instance = runtime.start("Process_1e2r3t4", actor="agent1")
    assert only_task(runtime, instance)["lane"] == "agent"
    result = runtime.show(instance)["data"]["contact_end_result"]
    assert result["channel"] == "inbound_call" and result["ended_at"]


def test_the_handler_catalogue_lists_a_process_calling_it_by_topic(runtime):
    deploy(runtime, CAMUNDA / "external_task.bpmn")
    assert runtime.process_vocabulary()["handlers"]["contact_end"] == ["Process_1e2r3t4"]


@pytest.mark.parametrize(("amount", "vip", "routed"), [(5000, False, "Activity_0j8k9l0"), (5000, True, None),
                                                         (200, False, None)])
def test_a_juel_condition_routes(runtime, amount, vip, routed):
    deploy(runtime, CAMUNDA / "juel_gateway.bpmn")
    instance = runtime.start("Process_0d3f4g5", actor="sales1")
    runtime.complete(only_task(runtime, instance)["id"], "sales1", {"amount": amount, "vip": vip})
    waiting = [t["task"] for t in runtime.tasks(instance_id=instance)]
    assert waiting == ([routed] if routed else [])
    assert runtime.show(instance)["status"] == ("running" if routed else "completed")


def test_the_stored_xml_is_the_files_own_bytes(runtime):
    path = CAMUNDA / "juel_gateway.bpmn"
    deploy(runtime, path)
    with runtime.db.read() as session:
        row = session.query(Deployment).filter_by(process_id="Process_0d3f4g5").one()
        assert row.bpmn_xml == path.read_text(encoding="utf-8")
        assert set(row.forms) == {"camunda-Activity_1a2s3d4.schema.json"}


PROCESS = '<bpmn:process id="Process_1e2r3t4" isExecutable="true" camunda:historyTimeToLive="180">'


def with_properties(*props: tuple[str, str]) -> bytes:
    """external_task.bpmn with camunda:properties on its process (the modeler's properties panel)."""
    text = (CAMUNDA / "external_task.bpmn").read_text(encoding="utf-8")
    written = "".join(f'<camunda:property name="{name}" value="{value}" />' for name, value in props)
    assert PROCESS in text
    return text.replace(PROCESS, f"{PROCESS}\n<bpmn:extensionElements><camunda:properties>{written}"
                                 "</camunda:properties></bpmn:extensionElements>").encode("utf-8")


def test_a_camunda_property_naming_a_tourflow_property_is_that_property(runtime, tmp_path):
    path = tmp_path / "external_task.bpmn"
    path.write_bytes(with_properties(("defaultLane", "销售人员")))
    deploy(runtime, path)
    runtime.start("Process_1e2r3t4", actor="sales1")
    with pytest.raises(NotAllowed, match="does not hold lane 'sales'"):
        runtime.start("Process_1e2r3t4", actor="agent1")


def test_any_other_camunda_property_is_refused_at_its_line():
    findings = lint_bytes(with_properties(("defaultLane", "sales"), ("color", "red")), "external_task.bpmn", None)
    [finding] = [f for f in findings if f.severity == "error"]
    assert (finding.rule, finding.line) == ("camunda-unsupported", 4)
    assert 'camunda:property name="color"' in finding.message


def test_multi_instance_juel_becomes_python():
    text = (CAMUNDA / "juel_gateway.bpmn").read_bytes().replace(
        b'<bpmn:userTask id="Activity_0j8k9l0" name="Approve refund" camunda:candidateGroups="supervisor">',
        b'<bpmn:userTask id="Activity_0j8k9l0" name="Approve refund" camunda:candidateGroups="supervisor">'
        b"<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>${approvers}</bpmn:loopCardinality>"
        b"<bpmn:completionCondition>${nrOfCompletedInstances ge 1}</bpmn:completionCondition>"
        b"</bpmn:multiInstanceLoopCharacteristics>")
    tree = parse_bpmn_xml(text, "juel_gateway.bpmn")
    assert not normalize(tree).unsupported
    loop = tree.getroot().find(".//{*}multiInstanceLoopCharacteristics")
    assert [el.text for el in loop] == ["approvers", "nrOfCompletedInstances >= 1"]


# ---- JUEL ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("juel", "python"), [
    ("${amount > 1000 && !vip}", "amount > 1000 and not vip"),
    ("#{kind eq 'cruise' || kind == \"group\"}", "kind == 'cruise' or kind == \"group\""),
    ("${not (nights ge 3) and empty note}", "not ( nights >= 3 ) and (note in (None, '', [], {}))"),
    ("${approved == true && reason != null}", "approved == True and reason != None"),
])
def test_simple_juel_becomes_python(juel, python):
    assert to_python(juel) == python


@pytest.mark.parametrize("juel", ["${order.paid}", "${isPaid(order)}", "${a + 1 > 2}", "total ${a}", "${class}",
                                  "${a > }", "${}"])
def test_other_juel_has_no_python(juel):
    assert to_python(juel) is None


# ---- what does not map: located errors, nothing deployed ----------------------------------

@pytest.mark.parametrize(("name", "line", "element", "says"), [
    ("java_delegate.bpmn", 7, "Activity_1s2d3f4", "camunda:class cannot run in tourflow: Java code"),
    ("embedded_form_key.bpmn", 7, "Activity_0r2t3y4", "use generated fields (camunda:formData) or a JSON Schema"),
    ("groovy_script.bpmn", 7, "Activity_1c3v4b5", 'scriptFormat="groovy"'),
    ("execution_listener.bpmn", 9, "Activity_0f4g5h6", "camunda:executionListener"),
    ("candidate_groups_unknown.bpmn", 7, "Activity_1y4u5i6", "'accounting' names no role; roles: agent"),
    ("candidate_groups_several.bpmn", 7, "Activity_0b5n6m7", "names several roles (qc, sales)"),
    ("juel_method_call.bpmn", 25, "Flow_0i6o7p8", "${order.isPaid()} cannot run"),
    ("camunda8_zeebe.bpmn", 9, "Activity_0z7x8c9", "zeebe:taskDefinition"),
    ("onboarding_engine_features.bpmn", 4, "StartEvent_1", "camunda:initiator"),
])
def test_what_does_not_map_is_a_located_error(name, line, element, says):
    finding = refusal(CAMUNDA / name)
    assert (finding.line, finding.element) == (line, element)
    assert says in finding.message
    assert CJK.search(finding.message_zh) and finding.message_zh != finding.message


def test_each_unsupported_construct_of_a_file_is_named():
    found = {(f.line, f.message.split(": ", 1)[1].split(" cannot")[0])
             for f in errors(CAMUNDA / "onboarding_engine_features.bpmn") if f.rule == "camunda-unsupported"}
    assert found == {(4, "camunda:initiator"), (6, "camunda:formData"),
                     (12, "camunda:assignee '${employee.manager}' is neither a user name nor ${variable}"),
                     (12, "camunda:dueDate"), (17, "camunda:formField 'laptop' constraint \"validator\""),
                     (21, "camunda:inputOutput"), (28, 'camunda:type="external" camunda:topic=""')}


def test_a_camunda_8_extension_is_one_error_however_many_parts_it_has():
    text = (CAMUNDA / "camunda8_zeebe.bpmn").read_bytes().replace(
        b'<zeebe:taskDefinition type="send-voucher" retries="3" />',
        b'<zeebe:taskDefinition type="send-voucher" retries="3" />\n<zeebe:ioMapping>'
        b'<zeebe:input source="=voucher" target="code" /><zeebe:output source="=sent" target="sent" /></zeebe:ioMapping>')
    found = [(f.line, f.message.split(": ")[1].split(" ")[0]) for f in lint_bytes(text, "camunda8_zeebe.bpmn", None)
             if f.rule == "camunda-unsupported"]
    assert found == [(9, "zeebe:taskDefinition"), (10, "zeebe:ioMapping")]


def test_an_error_the_camunda_rule_explains_is_not_repeated_by_other_rules():
    assert {f.rule for f in errors(CAMUNDA / "java_delegate.bpmn")} == {"camunda-unsupported"}
    assert {f.rule for f in errors(CAMUNDA / "juel_method_call.bpmn")} == {"camunda-unsupported"}


def test_an_external_topic_that_is_no_handler_is_the_usual_located_error():
    text = (CAMUNDA / "external_task.bpmn").read_bytes().replace(b'topic="contact_end"', b'topic="reserve-seats"')
    [finding] = [f for f in lint_bytes(text, "external_task.bpmn", None) if f.severity == "error"]
    assert (finding.rule, finding.line, finding.element) == ("unknown-handler", 7, "Activity_0s1d2f3")
    assert "'reserve-seats'" in finding.message


def test_a_lane_overriding_candidate_groups_is_a_warning():
    [finding] = [f for f in lint_file(CAMUNDA / "lanes_and_groups.bpmn") if f.rule == "camunda-ignored"]
    assert (finding.severity, finding.element) == ("warning", "Activity_0n1m2b3")
    assert "'agent'" in finding.message and "'qc'" in finding.message


def test_a_refused_file_deploys_nothing(runtime):
    path = CAMUNDA / "java_delegate.bpmn"
    with runtime.db.write() as session, session.begin(), pytest.raises(DeploymentError) as refused:
        deploy_bytes(session, path.read_bytes(), path.name, None, "owner1")
    assert any(f.rule == "camunda-unsupported" and f.line == 7 for f in refused.value.findings)
    with runtime.db.read() as session:
        assert session.query(Deployment).count() == 0
