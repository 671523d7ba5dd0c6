"""`tourflow outbox`: the messages for customers and staff (docs/outbox.md): list, show, retry, give up, send."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from engine.store.audit import SYSTEM_ACTOR
from engine.store.states import OutboxStatus
from webapp.app_state import tourflow
from webapp.cli.base import ID, emit, parse_at

STATUSES = [str(s) for s in OutboxStatus]


@click.group()
def outbox() -> None:
    """Messages for customers and staff: mail, webhook, log."""


@outbox.command("list")
@click.option("--status", type=click.Choice(STATUSES), default=None)
@click.option("--kind", default=None, help="Only this kind, e.g. booking.confirmation.")
@click.option("--limit", type=click.IntRange(1, 10000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def outbox_list(status: str | None, kind: str | None, limit: int, as_json: bool) -> None:
    """Messages, newest first; recipients masked (138****5678)."""
    rows = tourflow().runtime.outbox_list(status=status, kind=kind, limit=limit)
    if as_json:
        emit(rows)
        return
    for row in rows:
        error = f" last error: {row['last_error']}" if row["last_error"] else ""
        click.echo(f"#{row['id']:<6} {row['status']:<9} {row['channel']:<7} {row['kind']:<26} {row['recipient']:<24} "
                   f"attempts {row['attempts']} next {row['next_attempt_at'] or '-'}{error}")


@outbox.command("show")
@click.argument("message_id", type=ID)
@click.option("--unmasked", is_flag=True, help="Show the recipient whole.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def outbox_show(message_id: int, unmasked: bool, as_json: bool) -> None:
    """One message: its fields, its body and what happened to it."""
    found = tourflow().runtime.outbox_show(message_id, masked=not unmasked)
    if as_json:
        emit(found)
        return
    click.echo(f"#{found['id']} {found['kind']} via {found['channel']} to {found['recipient']}: {found['status']} "
               f"after {found['attempts']} attempt(s)")
    click.echo(f"subject: {found['subject']}")
    click.echo(found["body"])
    for event in found["events"]:
        detail = event.get("error") or event.get("reason") or event.get("provider_ref") or ""
        click.echo(f"  {event['at']} {event['kind']:<17} {event['actor']} {detail}")


@outbox.command("retry")
@click.argument("message_id", type=ID, required=False)
@click.option("--failed", "all_failed", is_flag=True, help="Every failed message.")
@click.option("--reason", required=True)
@click.option("--as", "actor", default=SYSTEM_ACTOR, show_default=True, help="Who retries it, for the record.")
@with_appcontext
def outbox_retry(message_id: int | None, all_failed: bool, reason: str, actor: str) -> None:
    """Queue a failed (or given up) message again, now, its attempts counted afresh."""
    if (message_id is None) == (not all_failed):
        raise click.UsageError("give a MESSAGE_ID or --failed")
    runtime = tourflow().runtime
    if all_failed:
        ids = runtime.retry_failed_messages(actor, reason)
        click.echo(f"{len(ids)} message(s) queued again" + (f": {', '.join(map(str, ids))}" if ids else ""))
        return
    row = runtime.resolve_delivery(message_id, actor, "retry", reason, trusted=True)
    click.echo(f"message {row['id']} is {row['status']}")


@outbox.command("give-up")
@click.argument("message_id", type=ID)
@click.option("--reason", required=True)
@click.option("--as", "actor", default=SYSTEM_ACTOR, show_default=True, help="Who gives it up, for the record.")
@with_appcontext
def outbox_give_up(message_id: int, reason: str, actor: str) -> None:
    """Give up a failed or queued message: it will not be sent."""
    row = tourflow().runtime.resolve_delivery(message_id, actor, "give_up", reason, trusted=True)
    click.echo(f"message {row['id']} is {row['status']}")


@outbox.command("send-due")
@click.option("--at", "at", default=None, help="Send what is due by this moment (ISO 8601) [default: now].")
@click.option("--limit", type=click.IntRange(1, 100000), default=None, help="At most this many messages.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def send_due(at: str | None, limit: int | None, as_json: bool) -> None:
    """One delivery pass: every due message once (what the worker does each poll)."""
    results = tourflow().runtime.send_due_messages(parse_at(at), limit=limit)
    if as_json:
        emit(results)
        return
    for result in results:
        error = f": {result['error']}" if result.get("error") else ""
        click.echo(f"#{result['id']:<6} attempt {result['attempt']} -> {result['status']}{error}")
    click.echo(f"{len(results)} message(s) handled")
