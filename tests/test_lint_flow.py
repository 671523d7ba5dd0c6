"""What would leave an instance stuck is found by lint, located and naming the element:
dead ends, boundary events going nowhere, gateways whose conditions may all be false, invalid
timers written bare, messages nobody catches or throws."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.bpmn.lint import Finding, lint_bytes, lint_paths
from engine.bpmn.lint_flow import condition_cover
from tests.support.versions import edited

FIXTURES = Path(__file__).parent / "fixtures" / "bpmn"
FORMS = FIXTURES / "forms" / "minimal_ok"

REVIEW_TASK = """<bpmn:scriptTask id="record_review" name="标记复核">
      <bpmn:incoming>flow_big</bpmn:incoming>
      <bpmn:outgoing>flow_review_done</bpmn:outgoing>
      <bpmn:script>needs_review = True</bpmn:script>
    </bpmn:scriptTask>"""
DEFAULT_FLOW = '<bpmn:sequenceFlow id="flow_default" name="否" sourceRef="route_gateway" targetRef="end_done" />'
BIG_CONDITION = "budget &gt; 1000"


def lint_text(text: str, forms_dir: Path | None = FORMS, **kwargs) -> list[Finding]:
    return lint_bytes(text.encode("utf-8"), "minimal_ok.bpmn", forms_dir, **kwargs)


def line_of(text: str, marker: str) -> int:
    return text[: text.index(marker)].count("\n") + 1


def of_rule(findings: list[Finding], rule: str) -> list[Finding]:
    return [f for f in findings if f.rule == rule]


# -- dead ends and boundary events -----------------------------------------------------------

def test_a_task_without_outgoing_flow_is_a_dead_end_error_on_the_task():
    text = edited(('<bpmn:sequenceFlow id="flow_review_done" sourceRef="record_review" targetRef="end_done" />', ""))
    [finding] = of_rule(lint_text(text), "dead-end")
    assert (finding.severity, finding.element) == ("error", "record_review")
    assert finding.line == line_of(text, '<bpmn:scriptTask id="record_review"')
    assert "never moves on" in finding.message and "没有出口顺序流" in finding.message_zh


def test_a_gateway_without_outgoing_flow_is_a_dead_end():
    text = edited(('sourceRef="route_gateway" targetRef="record_review"', 'sourceRef="fill_request" targetRef="record_review"'),
                  ('sourceRef="route_gateway" targetRef="end_done"', 'sourceRef="fill_request" targetRef="end_done"'),
                  ('default="flow_default"', ""))
    assert [f.element for f in of_rule(lint_text(text), "dead-end")] == ["route_gateway"]


def test_a_compensation_throw_event_still_needs_an_outgoing_flow():
    text = edited((REVIEW_TASK, '<bpmn:intermediateThrowEvent id="record_review" name="补偿">'
                                "<bpmn:incoming>flow_big</bpmn:incoming><bpmn:compensateEventDefinition />"
                                "</bpmn:intermediateThrowEvent>"),
                  ('<bpmn:sequenceFlow id="flow_review_done" sourceRef="record_review" targetRef="end_done" />', ""))
    assert [f.element for f in of_rule(lint_text(text), "dead-end")] == ["record_review"]


def test_compensation_handlers_and_end_events_need_no_outgoing_flow():
    handler = ('<bpmn:task id="undo_review" name="撤销复核" isForCompensation="true" />'
               '<bpmn:endEvent id="end_extra" name="另一结束" />')
    findings = lint_text(edited(("</bpmn:process>", handler + "</bpmn:process>")))
    assert of_rule(findings, "dead-end") == []


def test_a_boundary_event_without_outgoing_flow_is_an_error():
    text = edited(('<bpmn:sequenceFlow id="flow_sla" sourceRef="fill_request_sla" targetRef="escalate" />', ""))
    findings = lint_text(text)
    [finding] = of_rule(findings, "boundary-no-flow")
    assert (finding.severity, finding.element) == ("error", "fill_request_sla")
    assert finding.line == line_of(text, '<bpmn:boundaryEvent id="fill_request_sla"')
    assert of_rule(findings, "dead-end") == []


# -- exclusive gateways whose conditions can all be false ------------------------------------

def all_conditional(big: str, other: str) -> str:
    conditioned = DEFAULT_FLOW.replace(
        " />", f'><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{other}</bpmn:conditionExpression>'
               "</bpmn:sequenceFlow>")
    return edited(('default="flow_default"', ""), (DEFAULT_FLOW, conditioned), (BIG_CONDITION, big))


def test_conditions_that_miss_enum_values_without_default_are_an_error_naming_them():
    text = all_conditional("trip_kind == &quot;跟团游&quot;", "trip_kind in (&quot;自由行&quot;,)")
    [finding] = of_rule(lint_text(text), "gateway-no-default")
    assert (finding.severity, finding.element) == ("error", "route_gateway")
    assert "'trip_kind' is \"邮轮\"" in finding.message
    assert finding.line == line_of(text, '<bpmn:exclusiveGateway id="route_gateway"')


def test_conditions_covering_every_enum_value_need_no_default():
    text = all_conditional("trip_kind == &quot;跟团游&quot; or trip_kind == &quot;邮轮&quot;",
                           "&quot;自由行&quot; == trip_kind")
    assert of_rule(lint_text(text), "gateway-no-default") == []


@pytest.mark.parametrize(("big", "other"), [
    (BIG_CONDITION, "budget &lt;= 1000"),
    ("trip_kind", "not trip_kind"),  # an enum of text: truthiness is not a value
    ("trip_kind == &quot;跟团游&quot;", "budget &lt;= 1000"),
])
def test_conditions_lint_cannot_prove_complete_are_a_warning(big, other):
    findings = lint_text(all_conditional(big, other))
    [finding] = of_rule(findings, "gateway-no-default")
    assert (finding.severity, finding.element) == ("warning", "route_gateway")


def test_boolean_form_fields_are_covered_by_key_and_not_key(tmp_path):
    forms = tmp_path / "forms"
    shutil.copytree(FORMS, forms)
    schema = json.loads((forms / "fill_request.schema.json").read_text(encoding="utf-8"))
    schema["properties"]["vip"] = {"type": "boolean", "title": "贵宾"}
    (forms / "fill_request.schema.json").write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")
    assert of_rule(lint_text(all_conditional("vip", "not vip"), forms), "gateway-no-default") == []
    [finding] = of_rule(lint_text(all_conditional("vip == True", "vip == True"), forms), "gateway-no-default")
    assert finding.severity == "error" and "is false" in finding.message


@pytest.mark.parametrize(("source", "key", "values"), [
    ("kind == 'a'", "kind", {"a"}),
    ("'a' == kind or kind in ('b', 'c')", "kind", {"a", "b", "c"}),
    ("not ok", "ok", {False}),
])
def test_condition_cover_reads_plain_comparisons(source, key, values):
    cover = condition_cover(source, booleans=True)
    assert (cover.key, cover.values) == (key, values)


@pytest.mark.parametrize("source", ["a == 'x' or b == 'y'", "a != 'x'", "a > 1", "f(a)", "a == b", "(("])
def test_condition_cover_gives_up_on_anything_else(source):
    assert condition_cover(source, booleans=True) is None


# -- timers --------------------------------------------------------------------------------

@pytest.mark.parametrize("bare", ["PT1X", "R3/PTX", "P1X"])
def test_a_bare_timer_that_is_not_iso_8601_is_invalid(bare):
    text = edited(('"PT1H"</bpmn:timeDuration>', f"{bare}</bpmn:timeDuration>"))
    findings = lint_text(text)
    [finding] = of_rule(findings, "timer-invalid")
    assert (finding.severity, finding.element) == ("error", "fill_request_sla"), "the event, not its definition"
    assert finding.line == line_of(text, "<bpmn:timeDuration")
    assert bare in finding.message and of_rule(findings, "timer-unquoted") == []


def test_a_timer_read_from_a_data_key_is_not_judged():
    findings = lint_text(edited(('"PT1H"</bpmn:timeDuration>', "sla_duration</bpmn:timeDuration>")))
    assert [f for f in findings if f.rule.startswith("timer")] == []


# -- messages -------------------------------------------------------------------------------

def with_message(event: str, name: str, external: bool = False) -> str:
    """minimal_ok with its script task turned into a message `event` for message `name`."""
    marker = ('<bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="external" '
              'value="true" /></spiffworkflow:properties></bpmn:extensionElements>') if external else ""
    node = (f'<bpmn:{event} id="record_review" name="标记复核"><bpmn:incoming>flow_big</bpmn:incoming>'
            '<bpmn:outgoing>flow_review_done</bpmn:outgoing>'
            f'<bpmn:messageEventDefinition id="record_review_message" messageRef="msg_{name}" /></bpmn:{event}>')
    return edited((REVIEW_TASK, node),
                  ("<bpmn:collaboration", f'<bpmn:message id="msg_{name}" name="{name}">{marker}</bpmn:message>'
                                          "<bpmn:collaboration"))


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = text.replace('"minimal_ok"', f'"{name}"')
    (folder / f"{name}.bpmn").write_text(text, encoding="utf-8")
    shutil.copytree(FORMS, folder / "forms" / name)
    return folder / f"{name}.bpmn"


def test_a_folder_reports_throws_nobody_catches_and_catches_nobody_throws(tmp_path):
    write(tmp_path, "sender", with_message("intermediateThrowEvent", "ping"))
    write(tmp_path, "waiter", with_message("intermediateCatchEvent", "pong"))
    findings = lint_paths([tmp_path])
    assert sorted((Path(f.file).stem, f.severity, f.rule, f.element) for f in findings) == [
        ("sender", "warning", "message-uncaught", "record_review"),
        ("waiter", "warning", "message-never-thrown", "record_review")]
    assert "'ping'" in findings[0].message or "'ping'" in findings[1].message


def test_a_throw_caught_in_the_same_folder_and_an_external_catch_are_fine(tmp_path):
    write(tmp_path, "sender", with_message("intermediateThrowEvent", "ping"))
    write(tmp_path, "waiter", with_message("intermediateCatchEvent", "ping"))
    write(tmp_path, "payments", with_message("intermediateCatchEvent", "paid", external=True))
    assert lint_paths([tmp_path]) == []


def test_files_linted_one_by_one_never_report_catches(tmp_path):
    waiter = write(tmp_path, "waiter", with_message("intermediateCatchEvent", "pong"))
    assert lint_paths([waiter]) == []


def test_lint_bytes_checks_throws_against_the_deployed_catches_it_is_given():
    text = with_message("intermediateThrowEvent", "ping")
    assert lint_text(text) == []  # one file, nothing to compare with
    assert lint_text(text, known_messages={"ping"}) == []
    [finding] = lint_text(text, known_messages={"pong"})
    assert (finding.rule, finding.severity, finding.element) == ("message-uncaught", "warning", "record_review")
    assert "'ping'" in finding.message and "'ping'" in finding.message_zh
