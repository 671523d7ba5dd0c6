"""Timer values written bare, as bpmn.io, Camunda Modeler and the BPMN standard write them
(`PT1H`, `2026-12-24T10:00:00Z`, `R3/PT10M`), are read as those literals.

SpiffWorkflow evaluates a timer value as a Python expression, so bare `PT1H` would be the data key
`PT1H`. Before SpiffWorkflow parses a file, a bare value that SpiffWorkflow's own parser for its kind
accepts is quoted in memory; the stored XML stays the file's own bytes. Anything else (an
expression, a quoted literal, a data key) is left to the sandbox. Lint says so as a warning
(`timer-unquoted`); a bare value that looks like ISO 8601 but does not parse is `timer-invalid`.
"""

from __future__ import annotations

import re

from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine.clock import install_timer_patch

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
TIMER_PARSERS = {
    "timeDuration": TimerEventDefinition.parse_iso_duration,
    "timeDate": TimerEventDefinition.parse_time_or_duration,
    "timeCycle": TimerEventDefinition.parse_iso_recurring_interval,
}
# What an ISO 8601 duration, date/time or repeating interval looks like when written bare.
ISO_LIKE = re.compile(
    r"^(R\d*/\S+|P(?=[\d.T])(\d+(\.\d+)?[YMWD])*(T(\d+(\.\d+)?[HMS])+)?|\d{4}-?\d{2}-?\d{2}(T\S*)?|\d{4}-?W\d{2}\S*)$",
    re.IGNORECASE,
)


def parses(kind: str, literal: str) -> bool:
    """Whether SpiffWorkflow's own parser for this timer kind accepts the literal."""
    install_timer_patch()
    try:
        TIMER_PARSERS[kind](literal)
    except Exception:  # SpiffWorkflow raises bare Exceptions and ValueErrors here
        return False
    return True


def bare_literal(kind: str, text: str | None) -> str | None:
    """The ISO 8601 literal a timer value of this kind is, when written bare; else None."""
    source = (text or "").strip()
    return source if source and ISO_LIKE.match(source) and parses(kind, source) else None


def quote_bare_timers(tree: etree._ElementTree) -> None:
    """Quote, in memory, every bare timer literal of the file (see the module's docstring)."""
    for el in tree.getroot().iter(*(f"{{{BPMN}}}{kind}" for kind in TIMER_PARSERS)):
        literal = bare_literal(etree.QName(el).localname, el.text)
        if literal is not None:
            el.text = repr(literal)
