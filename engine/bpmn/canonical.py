"""A BPMN file's content without its formatting: what a modeler's round trip must not change.

Two files have the same canonical digest when they differ only in indentation, attribute order,
namespace prefixes (`bpmn:` or `bpmn2:`, also inside `xsi:type` values), comments, CDATA against
escaped text, the order of the diagram's shapes and edges (bpmn-js writes lanes' shapes in its
own order), or an attribute written out with the value BPMN gives it by default (bpmn-js leaves
`cancelActivity="true"` out). Anything else, the diagram's coordinates included, is content.
"""

from __future__ import annotations

import hashlib
import json

from lxml import etree

from engine.bpmn.xmlsafe import parse_bpmn_xml

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
# Attributes of the BPMN 2.0 schema with a default value: writing the default means nothing.
DEFAULTS = frozenset({("cancelActivity", "true"), ("isInterrupting", "true"), ("parallelMultiple", "false"),
                      ("isForCompensation", "false"), ("startQuantity", "1"), ("completionQuantity", "1"),
                      ("isSequential", "false"), ("instantiate", "false"), ("isClosed", "false"),
                      ("gatewayDirection", "Unspecified")})
UNORDERED = frozenset({"{http://www.omg.org/spec/BPMN/20100524/DI}BPMNPlane"})  # children drawn in any order


def _qualified(el: etree._Element, value: str) -> str:
    """An `xsi:type` value such as `bpmn:tFormalExpression` by its namespace, not its prefix."""
    prefix, _, local = value.rpartition(":")
    namespace = el.nsmap.get(prefix or None)
    return f"{{{namespace}}}{local}" if namespace else value


def _tree(el: etree._Element) -> list:
    attrs = sorted((name, _qualified(el, value) if name == XSI_TYPE else value) for name, value in el.attrib.items()
                   if (name, value) not in DEFAULTS)
    children = [_tree(child) for child in el if isinstance(child.tag, str)]
    if el.tag in UNORDERED:
        children.sort(key=lambda child: json.dumps(child, ensure_ascii=False))
    text = (el.text or "").strip()
    tails = [(child.tail or "").strip() for child in el if (child.tail or "").strip()]
    return [el.tag, attrs, text, tails, children]


def canonical_digest(data: bytes, filename: str = "process.bpmn") -> str:
    """sha256 of the file's elements, attributes and texts, independent of formatting."""
    root = parse_bpmn_xml(data, filename).getroot()
    return hashlib.sha256(json.dumps(_tree(root), ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


__all__ = ["canonical_digest"]
