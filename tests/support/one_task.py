"""A process of one user task, its start event and its task in the lanes a test chooses (the start's answer)."""

from __future__ import annotations

from pathlib import Path

from tests.support.world import deploy

LANES = """
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="{start}" name="发起"><bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>done</bpmn:flowNodeRef></bpmn:lane>
      <bpmn:lane id="{task}" name="办理"><bpmn:flowNodeRef>work</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>"""
ONE_LANE = """
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="{lane}" name="发起与办理"><bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>work</bpmn:flowNodeRef><bpmn:flowNodeRef>done</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>"""
BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs_{pid}"
                  targetNamespace="http://tourflow.example/bpmn">
  <bpmn:process id="{pid}" name="发起即办 {pid}" isExecutable="true">{lanes}
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="work" name="办理"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="done"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="done" />
  </bpmn:process>
</bpmn:definitions>
"""


def deploy_one_task(runtime, folder: Path, pid: str, lanes: str = "") -> None:
    """Deploy process `pid` (start -> user task `work` -> end) with `lanes` (LANES or ONE_LANE, formatted)."""
    path = folder / f"{pid}.bpmn"
    path.write_text(BPMN.format(pid=pid, lanes=lanes), encoding="utf-8")
    deploy(runtime, path)
