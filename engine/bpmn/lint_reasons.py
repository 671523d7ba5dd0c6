"""Chinese for the reasons lint quotes from elsewhere: why the XML reader, the script sandbox or
RE2 refuses something.

The reader (xmlsafe), the sandbox (engine/sandbox) and the form patterns write their reasons in
English because the runtime and deploys use them too; lint matches each reason against `REASONS` and shows the catalogue entry
it names (lint_messages.py, keys `reason.*`), so a finding about a script reads in Chinese.
A reason no pattern matches is quoted as it is.
"""

from __future__ import annotations

import re

from engine.bpmn.lint_messages import Text, msg

# (the reason in English, its catalogue key); the named groups are the message's parameters.
# The first that matches the whole reason wins, so the specific patterns come first.
REASONS: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(pattern), key) for pattern, key in (
    (r"syntax error: nested too deeply or not text", "reason.too-deep-or-not-text"),
    (r"syntax error: (?P<detail>.+)", "reason.syntax"),
    (r"script is longer than (?P<limit>\d+) characters", "reason.too-long"),
    (r"refused by the restricted compiler: (?P<error>.+)", "reason.restricted"),
    (r"name '(?P<name>[^']*)' is not allowed \(names may not start with '_'\)", "reason.underscore-name"),
    (r"name '(?P<name>[^']*)' is not allowed", "reason.name"),
    (r"'(?P<name>[^']*)' is a function scripts use; pick another name", "reason.builtin-name"),
    (r"setting an attribute \('\.(?P<attr>.+) = \.\.\.'\) is not allowed", "reason.set-attribute"),
    (r"attribute '(?P<attr>[^']*)' is not allowed \(only methods of text, numbers, lists and dicts such as "
     r"\.get, \.upper, \.append\)", "reason.attribute"),
    (r"import is not allowed", "reason.import"),
    (r"while loops are not allowed \(use for over a list or range\)", "reason.while"),
    (r"global is not allowed", "reason.global"),
    (r"nonlocal is not allowed", "reason.nonlocal"),
    (r"class definitions are not allowed", "reason.class"),
    (r"function definitions are not allowed", "reason.function"),
    (r"async code is not allowed", "reason.async"),
    (r"lambda is not allowed", "reason.lambda"),
    (r"generators are not allowed", "reason.generator"),
    (r"try/except is not allowed", "reason.try"),
    (r"with is not allowed", "reason.with"),
    (r"raise is not allowed", "reason.raise"),
    (r"assert is not allowed", "reason.assert"),
    (r"':=' is not allowed", "reason.walrus"),
    (r"match is not allowed", "reason.match"),
    (r"(?P<node>\w+) is not allowed", "reason.node"),
    (r"the pattern is (?P<length>\d+) characters long; at most (?P<limit>\d+) are allowed", "reason.pattern-too-long"),
    (r"RE2 cannot compile the pattern \((?P<reason>.*)\); backreferences, lookahead and lookbehind are not supported",
     "reason.pattern-re2"),
    (r"the pattern is not valid Unicode text", "reason.pattern-not-unicode"),
    (r"a form cannot combine unevaluatedProperties with patternProperties", "reason.unevaluated-with-patterns"),
    (r"cannot read file: (?P<reason>.+)", "xml.unreadable-file"),
    (r"file is (?P<size>\d+) bytes; the limit is (?P<limit>\d+) bytes", "reason.file-too-large"),
    (r"file is empty", "reason.file-empty"),
    (r"DOCTYPE/ENTITY declarations are not allowed in BPMN files", "reason.doctype"),
    (r"malformed XML: (?P<detail>.+)", "reason.malformed-xml"),
    (r"file has (?P<count>\d+) XML elements; the limit is (?P<limit>\d+)", "reason.too-many-elements"),
    (r"not a BPMN 2.0 file: root element is <(?P<tag>.+)>, expected bpmn:definitions", "reason.not-bpmn"),
))


def reason_text(reason: str | Text) -> str | Text:
    """`reason` as a catalogue message when a pattern knows it (its English unchanged), else as it is."""
    if isinstance(reason, Text):
        return reason
    for pattern, key in REASONS:
        found = pattern.fullmatch(reason)
        if found:
            text = msg(key, **found.groupdict())
            return text if text.render("en") == reason else reason
    return reason
