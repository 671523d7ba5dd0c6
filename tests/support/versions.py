"""Versions of tests/fixtures/bpmn/minimal_ok.bpmn for the version and migration tests: each edit
is an (old, new) text replacement."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from engine.run.deployments import deploy_bytes

FIXTURE = Path(__file__).parents[1] / "fixtures" / "bpmn" / "minimal_ok.bpmn"
FORMS = FIXTURE.parent / "forms" / "minimal_ok"
T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
REQUEST = {"customer_name": "王芳", "travel_date": "2026-12-20", "budget": 3000}


def edited(*edits: tuple[str, str]) -> str:
    """minimal_ok's text with each (old, new) replacement made; fails if the fixture lacks `old`."""
    text = FIXTURE.read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text, f"fixture changed: {old!r} not found"
        text = text.replace(old, new)
    return text


def variant(*edits: tuple[str, str]) -> bytes:
    return edited(*edits).encode()


RENAMED_END = ('name="需求已登记"', 'name="需求登记完毕"')
LONGER_SLA = ('"PT1H"', '"PT2H"')
# fill_request becomes fill_request_v2, in the supervisor lane.
RENAMED_TASK = (('"fill_request"', '"fill_request_v2"'), ('>fill_request<', '>fill_request_v2<'))
TO_SUPERVISOR = ('<bpmn:flowNodeRef>fill_request_v2</bpmn:flowNodeRef>\n', '')
INTO_SUPERVISOR_LANE = ('<bpmn:flowNodeRef>escalate</bpmn:flowNodeRef>',
                        '<bpmn:flowNodeRef>escalate</bpmn:flowNodeRef><bpmn:flowNodeRef>fill_request_v2</bpmn:flowNodeRef>')


def deploy_minimal(runtime, *variants: bytes) -> None:
    """minimal_ok as version 1, then each variant as the next version."""
    with runtime.db.write() as session, session.begin():
        for data in (FIXTURE.read_bytes(), *variants):
            deploy_bytes(session, data, FIXTURE.name, FORMS, "owner1")


# The start event becomes `start`, followed by a new script task before fill_request.
NEW_START = (
    ('"start_event"', '"start"'), ('>start_event<', '>start<'),
    ('targetRef="fill_request" />', 'targetRef="greet" />'),
    ('<bpmn:flowNodeRef>end_done</bpmn:flowNodeRef>',
     '<bpmn:flowNodeRef>end_done</bpmn:flowNodeRef><bpmn:flowNodeRef>greet</bpmn:flowNodeRef>'),
    ('<bpmn:endEvent id="end_done"',
     '<bpmn:scriptTask id="greet" name="登记来源"><bpmn:incoming>flow_start</bpmn:incoming>'
     '<bpmn:outgoing>flow_greet</bpmn:outgoing><bpmn:script>source = "电话"</bpmn:script></bpmn:scriptTask>'
     '<bpmn:sequenceFlow id="flow_greet" sourceRef="greet" targetRef="fill_request" />'
     '<bpmn:endEvent id="end_done"'),
    ('<bpmndi:BPMNEdge id="flow_start_di" bpmnElement="flow_start">',
     '<bpmndi:BPMNShape id="greet_di" bpmnElement="greet"><dc:Bounds x="230" y="440" width="80" height="50" />'
     '</bpmndi:BPMNShape><bpmndi:BPMNEdge id="flow_greet_di" bpmnElement="flow_greet">'
     '<di:waypoint x="270" y="440" /><di:waypoint x="270" y="165" /></bpmndi:BPMNEdge>'
     '<bpmndi:BPMNEdge id="flow_start_di" bpmnElement="flow_start">'),
)




def write_beside_forms(folder: Path, source: Path, text: str) -> Path:
    """`text` as `source`'s file name in a new `folder`, its forms/<process>/ linked beside it as in
    processes/ (the process id is the file's stem)."""
    folder.mkdir()
    (folder / "forms").mkdir()
    (folder / "forms" / source.stem).symlink_to(source.parent / "forms" / source.stem)
    target = folder / source.name
    target.write_text(text, encoding="utf-8")
    return target
