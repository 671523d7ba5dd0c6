"""What a modeler's round trip may change without making a new version (engine/bpmn/canonical.py)."""

from __future__ import annotations

import re

from engine.bpmn.canonical import canonical_digest
from engine.config import DEFAULT_PROCESSES_DIR

P6 = (DEFAULT_PROCESSES_DIR / "complaint_handling.bpmn").read_text(encoding="utf-8")
P9 = (DEFAULT_PROCESSES_DIR / "itinerary_management.bpmn").read_text(encoding="utf-8")


def _digest(text: str) -> str:
    return canonical_digest(text.encode("utf-8"))


def test_the_order_of_shapes_and_edges_is_not_content():
    shapes = re.findall(r"      <bpmndi:BPMNShape .*?</bpmndi:BPMNShape>\n", P6, re.S)
    assert len(shapes) > 20
    reordered = P6.replace(shapes[0], "").replace(shapes[-1], shapes[-1] + shapes[0])
    assert reordered != P6 and _digest(reordered) == _digest(P6)


def test_an_attribute_at_its_bpmn_default_is_not_content_but_another_value_is():
    assert 'cancelActivity="true"' in P9
    assert _digest(P9.replace(' cancelActivity="true"', "")) == _digest(P9)
    assert _digest(P9.replace('cancelActivity="true"', 'cancelActivity="false"')) != _digest(P9)
