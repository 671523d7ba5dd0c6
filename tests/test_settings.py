"""The agency's settings (handlers/settings.py): defaults are the documents' behaviour, a change is
type-checked and audited, and the processes read the new value."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from engine.clock import utcnow
from engine.errors import FormInvalid
from engine.store.models import AuditEvent
from handlers import settings
from handlers.booking_desk import settings as desk_settings


def test_defaults_and_a_change_that_the_handlers_read(runtime):
    with runtime.db.read() as session:
        values = settings.current(session)
    assert values["booking_desk"]["cancel_notice_hours"] is None, "the documents set no cancellation notice"
    assert values["outbound_call"]["redial_after_minutes"] == 0
    assert values["escalated_complaint"]["reply_warning_percent"] is None
    with runtime.db.write() as session, session.begin():
        changed = settings.change(session, "booking_desk", "cancel_notice_hours", 24, utcnow())
    assert changed == {"key": "booking_desk", "name": "cancel_notice_hours", "old": None, "new": 24}
    with runtime.db.read() as session:
        assert desk_settings(session)["cancel_notice_hours"] == 24
        assert desk_settings(session)["change_notice_hours"] == 48, "the other names keep their values"


@pytest.mark.parametrize(("key", "name", "value", "message"), [
    ("nope", "x", 1, "unknown setting 'nope'"),
    ("booking_desk", "colour", 1, "booking_desk has no setting 'colour'"),
    ("booking_desk", "change_notice_hours", "48", "must be a number of at least 0"),
    ("booking_desk", "change_notice_hours", -1, "must be a number of at least 0"),
    ("booking_desk", "change_notice_hours", None, "must be a number of at least 0"),
    ("escalated_complaint", "reply_warning_percent", 120, "at most 100"),
    ("booking_desk", "refund_rules", [{"hours_before": 24}], "refund_rules must be a list"),
])
def test_a_bad_value_is_refused_and_nothing_changes(runtime, key, name, value, message):
    with runtime.db.read() as session:
        before = settings.current(session)
    with runtime.db.write() as session, session.begin(), pytest.raises(FormInvalid, match=message):
        settings.change(session, key, name, value, utcnow())
    with runtime.db.read() as session:
        assert settings.current(session) == before


def test_cli_lists_and_sets(cli, runtime):
    listed = cli.run("setting", "list")
    assert "booking_desk.cancel_notice_hours = null" in listed.stdout.splitlines()
    done = cli.run("setting", "set", "escalated_complaint.reply_warning_percent", "75", "--as", "owner1")
    assert (done.returncode, done.stdout.strip()) == (0, "escalated_complaint.reply_warning_percent: null → 75")
    with runtime.db.read() as session:
        [event] = session.execute(select(AuditEvent).where(AuditEvent.kind == "setting_changed")).scalars()
    assert (event.actor, json.loads(event.payload)) == ("owner1", {
        "key": "escalated_complaint", "name": "reply_warning_percent", "old": None, "new": 75})
    refused = cli.run("setting", "set", "escalated_complaint.reply_warning_percent", "75", "--as", "agent1")
    assert refused.returncode == 4
    not_json = cli.run("setting", "set", "outbound_call.redial_after_minutes", "soon")
    assert not_json.returncode == 1 and "not valid JSON" in not_json.stderr
    wrong_type = cli.run("setting", "set", "outbound_call.redial_after_minutes", '"soon"')
    assert wrong_type.returncode == 2 and "must be a number" in wrong_type.stderr
    assert json.loads(cli.run("setting", "list", "--json").stdout)["escalated_complaint"] == {
        "reply_warning_percent": 75}
