"""Hostile BPMN files: each is one clear error finding with file:line:col, never a traceback or a leak."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from engine.bpmn.lint import Finding, lint_bytes, lint_file
from engine.bpmn.xmlsafe import MAX_BPMN_BYTES, parse_bpmn_xml
from engine.errors import BpmnReadError

FIXTURES = Path(__file__).parent / "fixtures" / "bpmn"
HOSTILE = FIXTURES / "hostile"
MINIMAL = FIXTURES / "minimal_ok.bpmn"
FORMS = FIXTURES / "forms" / "minimal_ok"
PASSWD_CONTENT = ("root:x:", "root:*:", "/bin/bash", "/usr/sbin/nologin", "daemon:")
CONDITION = "budget &gt; 1000</bpmn:conditionExpression>"
SCRIPT = "<bpmn:script>needs_review = True</bpmn:script>"


def minimal_bytes() -> bytes:
    return MINIMAL.read_bytes()


def with_edit(old: str, new: str) -> str:
    text = MINIMAL.read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new)


def line_of(text: str, marker: str) -> int:
    return text[: text.index(marker)].count("\n") + 1


def assert_no_leak(findings: list[Finding]) -> None:
    printed = "\n".join(map(str, findings))
    for fragment in PASSWD_CONTENT:
        assert fragment not in printed


def errors_of(findings: list[Finding], rule: str) -> list[Finding]:
    """The findings of `rule`, at least one; each is an error and prints as file:line:col."""
    assert_no_leak(findings)
    matches = [f for f in findings if f.rule == rule]
    assert matches, "\n".join(map(str, findings))
    for finding in matches:
        assert finding.severity == "error"
        assert str(finding).startswith(f"{finding.file}:{finding.line}:{finding.col}: error {rule}: ")
        assert finding.line >= 1 and finding.col >= 1
    return matches


def the_error(findings: list[Finding], rule: str) -> Finding:
    [finding] = errors_of(findings, rule)
    return finding


# -- XML level: the reader refuses them, lint turns that into one `xml` finding ---------------------

XML_CASES = {
    "xxe": (HOSTILE / "xxe.bpmn", "DOCTYPE/ENTITY declarations are not allowed", 2),
    "billion-laughs": (HOSTILE / "billion_laughs.bpmn", "DOCTYPE/ENTITY declarations are not allowed", 2),
    "svg": (HOSTILE / "not_bpmn.svg", "not a BPMN 2.0 file: root element is <{http://www.w3.org/2000/svg}svg>", 2),
    "maven-project": (HOSTILE / "pom.xml", "not a BPMN 2.0 file: root element is <{http://maven.apache.org/POM/4.0.0}project>", 2),
}


@pytest.mark.parametrize("case", XML_CASES, ids=list(XML_CASES))
def test_hostile_fixture_files_are_one_xml_error(case):
    path, message, line = XML_CASES[case]

    [finding] = lint_file(path)

    assert the_error([finding], "xml") == finding
    assert (finding.file, finding.line) == (str(path), line)
    assert message in finding.message
    with pytest.raises(BpmnReadError, match="not allowed|not a BPMN 2.0 file"):
        parse_bpmn_xml(path.read_bytes(), str(path))


def truncated() -> bytes:
    data = minimal_bytes()
    return data[: len(data) // 2]


GENERATED_CASES = {
    "truncated": (truncated, "malformed XML"),
    "empty": (lambda: b"", "file is empty"),
    "blank": (lambda: b" \n\t\n", "file is empty"),
    "binary-garbage": (lambda: random.Random(7).randbytes(4096), "malformed XML"),
    "nul-bytes": (lambda: b"\x00\x01\x02\xff\xfe" * 100, "malformed XML"),
    "deep-nesting": (lambda: (b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">'
                              + b"<a>" * 1000 + b"</a>" * 1000 + b"</bpmn:definitions>"), "Excessive depth"),
    "plain-text": (lambda: "客户投诉处理流程\n第一步……".encode(), "malformed XML"),
}


@pytest.mark.parametrize("case", GENERATED_CASES, ids=list(GENERATED_CASES))
def test_broken_bytes_are_one_xml_error(case, tmp_path):
    make, message = GENERATED_CASES[case]
    path = tmp_path / f"{case}.bpmn"
    path.write_bytes(make())

    [finding] = lint_file(path)

    the_error([finding], "xml")
    assert message in finding.message
    assert lint_bytes(path.read_bytes(), str(path), None) == [finding]
    with pytest.raises(BpmnReadError, match=message):
        parse_bpmn_xml(path.read_bytes(), str(path))


def test_truncated_file_points_at_where_it_stops():
    data = truncated()
    [finding] = lint_bytes(data, "half.bpmn", None)
    assert finding.line == data.count(b"\n") + 1


def test_file_over_ten_megabytes_is_refused_quickly(tmp_path):
    padding = "很长的说明" * (MAX_BPMN_BYTES // 10)  # 15 bytes of UTF-8 per repeat: > 10 MB in all
    text = with_edit("(1) 核对客户姓名与联系电话。", f"(1) {padding}")
    path = tmp_path / "minimal_ok.bpmn"
    path.write_text(text, encoding="utf-8")
    assert path.stat().st_size > MAX_BPMN_BYTES

    started = time.perf_counter()
    [from_file] = lint_file(path)
    [from_bytes] = lint_bytes(path.read_bytes(), str(path), None)
    elapsed = time.perf_counter() - started

    for finding in (from_file, from_bytes):
        the_error([finding], "xml")
        assert f"the limit is {MAX_BPMN_BYTES} bytes" in finding.message
        assert (finding.line, finding.col) == (1, 1)
    assert elapsed < 2
    with pytest.raises(BpmnReadError, match="the limit is"):
        parse_bpmn_xml(path.read_bytes(), str(path))


# -- DOCTYPEs that slip past a look at the first bytes ----------------------------------------------

XXE_BODY = """<!DOCTYPE bpmn:definitions [<!ENTITY passwd SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">
  <bpmn:process id="xxe" isExecutable="true"><bpmn:documentation>&passwd;</bpmn:documentation></bpmn:process>
</bpmn:definitions>
"""
SNEAKY_DOCTYPES = {
    "utf-16": ('<?xml version="1.0" encoding="UTF-16"?>\n' + XXE_BODY).encode("utf-16"),
    "utf-32": ('<?xml version="1.0" encoding="UTF-32"?>\n' + XXE_BODY).encode("utf-32"),
    "after-long-comment": ("<!--" + "x" * 5000 + "-->\n"
                           + '<!DOCTYPE bpmn:definitions SYSTEM "file:///etc/passwd">\n'
                           + XXE_BODY.split("\n", 1)[1].replace("&passwd;", "")).encode(),
}


@pytest.mark.parametrize("case", SNEAKY_DOCTYPES, ids=list(SNEAKY_DOCTYPES))
def test_doctype_in_other_encodings_or_late_is_refused_by_lint(case):
    [finding] = lint_bytes(SNEAKY_DOCTYPES[case], "sneaky.bpmn", None)
    the_error([finding], "xml")
    assert "DOCTYPE/ENTITY declarations are not allowed" in finding.message


@pytest.mark.parametrize("case", SNEAKY_DOCTYPES, ids=list(SNEAKY_DOCTYPES))
def test_doctype_in_other_encodings_or_late_is_refused_by_the_reader(case):
    with pytest.raises(BpmnReadError):
        parse_bpmn_xml(SNEAKY_DOCTYPES[case], "sneaky.bpmn")


def test_xinclude_is_not_expanded():
    text = with_edit("(1) 核对客户姓名",
                     '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd" '
                     'parse="text"/>(1) 核对客户姓名')
    findings = lint_bytes(text.encode(), "minimal_ok.bpmn", FORMS)
    assert_no_leak(findings)
    assert {f.rule for f in findings} == {"missing-documentation"}  # .text stops at the element


# -- hostile Python in conditions, scripts, timers and parameters -----------------------------------

def test_condition_importing_os_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {marker}')"
    text = with_edit(CONDITION, f"{payload}</bpmn:conditionExpression>")

    findings = errors_of(lint_bytes(text.encode(), "minimal_ok.bpmn", FORMS), "unsafe-script")
    [finding] = [f for f in findings if "name '__import__' is not allowed" in f.message]
    assert any("attribute 'system' is not allowed" in f.message for f in findings)
    assert "condition of sequenceFlow 'flow_big'" in finding.message
    assert finding.line == line_of(text, payload)
    assert not marker.exists()


def test_condition_reading_etc_passwd_is_refused():
    payload = "open('/etc/passwd').read()"
    text = with_edit(CONDITION, f"{payload}</bpmn:conditionExpression>")

    findings = errors_of(lint_bytes(text.encode(), "minimal_ok.bpmn", FORMS), "unsafe-script")
    [finding] = [f for f in findings if "name 'open' is not allowed" in f.message]
    assert finding.line == line_of(text, payload)


@pytest.mark.parametrize(
    ("old", "payload", "message"),
    [
        (SCRIPT, "<bpmn:script>x = open('/etc/passwd').read()</bpmn:script>", "name 'open' is not allowed"),
        (SCRIPT, "<bpmn:script>x = ().__class__.__base__.__subclasses__()</bpmn:script>",
         "attribute '__class__' is not allowed"),
        (SCRIPT, "<bpmn:script>while True:\n    pass</bpmn:script>", "while loops are not allowed"),
        (SCRIPT, "<bpmn:script>x = '{0.__globals__}'.format(budget)</bpmn:script>",
         "attribute 'format' is not allowed"),
        ('"PT1H"</bpmn:timeDuration>', "__import__('os').getenv('HOME')</bpmn:timeDuration>",
         "name '__import__' is not allowed"),
    ],
    ids=["script-open", "script-subclasses", "script-while", "script-format", "timer-import"],
)
def test_hostile_scripts_and_timers_are_refused(old, payload, message):
    text = with_edit(old, payload)
    findings = errors_of(lint_bytes(text.encode(), "minimal_ok.bpmn", FORMS), "unsafe-script")
    assert any(message in f.message for f in findings), findings
    assert {f.line for f in findings} == {line_of(text, payload)}


@pytest.mark.parametrize("payload", ["-" * 19_999 + "1", "a" + ".b" * 9_000, "1+" * 9_000 + "1"],
                         ids=["unary-chain", "attribute-chain", "sum-chain"])
def test_absurdly_nested_condition_is_a_syntax_error_not_a_crash(payload):
    text = with_edit(CONDITION, f"{payload}</bpmn:conditionExpression>")
    finding = the_error(lint_bytes(text.encode(), "minimal_ok.bpmn", FORMS), "script-syntax")
    assert "nested too deeply" in finding.message


def test_a_folder_named_like_a_bpmn_file_is_an_error_not_a_crash(tmp_path):
    (tmp_path / "folder.bpmn").mkdir()
    finding = the_error(lint_file(tmp_path / "folder.bpmn"), "xml")
    assert "cannot read file" in finding.message


def test_form_file_name_cannot_reach_outside_the_forms_folder():
    text = with_edit('value="escalate.schema.json"', 'value="../../../../../../etc/passwd"')
    finding = the_error(lint_bytes(text.encode(), "minimal_ok.bpmn", FORMS), "form-invalid")
    assert "must be a plain *.json file name" in finding.message


def test_process_too_long_for_spiffworkflow_is_a_finding_not_a_traceback():
    n = 600  # SpiffWorkflow's parser recurses once per node: ~490 in a row exhaust the stack
    nodes = "".join(f'<bpmn:task id="t{i}" />' for i in range(n))
    targets = [f"t{i}" for i in range(n)] + ["end_event"]
    flows = "".join(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{src}" targetRef="{dst}" />'
                    for i, (src, dst) in enumerate(zip(["start_event", *targets], targets, strict=False)))
    data = ('<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">'
            '<bpmn:process id="chain" isExecutable="true"><bpmn:startEvent id="start_event" />'
            f'{nodes}<bpmn:endEvent id="end_event" />{flows}</bpmn:process></bpmn:definitions>').encode()

    finding = the_error(lint_bytes(data, "chain.bpmn", None), "spiff-parse")

    assert "RecursionError" in finding.message


def test_file_with_too_many_elements_is_refused_quickly():
    from engine.bpmn.xmlsafe import MAX_ELEMENTS

    filler = '<x:n xmlns:x="urn:filler"/>' * (MAX_ELEMENTS + 1)
    data = ('<?xml version="1.0"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">'
            f'<bpmn:extensionElements>{filler}</bpmn:extensionElements></bpmn:definitions>').encode()
    with pytest.raises(BpmnReadError, match=f"the limit is {MAX_ELEMENTS}"):
        parse_bpmn_xml(data, "many.bpmn")
