"""Working instances and tasks from the shell: start, tasks, complete, claim, unclaim, reassign, show,
events, tick, message, cancel."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from webapp.app_state import tourflow
from webapp.cli.base import ID, emit, json_arg, parse_at


@click.command()
@click.argument("process_id")
@click.option("--data", default=None, help="Start data as a JSON object.")
@click.option("--as", "actor", default="system")
@click.option("--key", "business_key", default=None, help="Business key for message correlation.")
@click.option("--version", type=click.IntRange(min=1), default=None,
              help="Start this deployed version instead of the current one.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def start(process_id: str, data: str | None, actor: str, business_key: str | None, version: int | None,
          as_json: bool) -> None:
    """Start the current version of a process (see `tourflow activate`); prints the instance id."""
    runtime = tourflow().runtime
    instance_id = runtime.start(process_id, json_arg(data, "--data"), actor=actor, business_key=business_key,
                                version=version)
    if as_json:
        emit(runtime.show(instance_id))
    else:
        click.echo(instance_id)


@click.command()
@click.option("--lane", default=None)
@click.option("--user", default=None, help="Only tasks this user may work on (their lanes, unclaimed or theirs).")
@click.option("--instance", "instance_id", type=ID, default=None)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def tasks(lane: str | None, user: str | None, instance_id: int | None, as_json: bool) -> None:
    """List open human tasks, earliest due first."""
    rows = tourflow().runtime.tasks(lane=lane, user=user, instance_id=instance_id)
    if as_json:
        emit(rows)
        return
    for row in rows:
        due = row["due_at"] or "-"
        click.echo(f"{row['id']:>6}  #{row['instance_id']:<5} {row['lane']:<12} {row['name']}  due {due}"
                   f"  {row['assignee'] or ''}")


@click.command()
@click.argument("task_id", type=ID)
@click.option("--as", "actor", required=True)
@click.option("--data", default=None, help="Form data as a JSON object.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def complete(task_id: int, actor: str, data: str | None, as_json: bool) -> None:
    """Complete a task (exit 2 invalid data, 3 conflict, 4 not allowed)."""
    result = tourflow().runtime.complete(task_id, actor, json_arg(data, "--data") or {})
    if as_json:
        emit(result)
    else:
        click.echo(f"task {task_id} completed; instance {result['id']} is {result['status']}")


@click.command()
@click.argument("task_id", type=ID)
@click.option("--as", "actor", required=True)
@with_appcontext
def claim(task_id: int, actor: str) -> None:
    """Claim a task for yourself."""
    tourflow().runtime.claim(task_id, actor)
    click.echo(f"task {task_id} claimed by {actor}")


@click.command()
@click.argument("task_id", type=ID)
@click.option("--as", "actor", required=True)
@with_appcontext
def unclaim(task_id: int, actor: str) -> None:
    """Release a claimed task back to its lane."""
    tourflow().runtime.unclaim(task_id, actor)
    click.echo(f"task {task_id} released")


@click.command()
@click.argument("task_id", type=ID)
@click.option("--as", "actor", required=True)
@click.option("--to", "to_user", required=True)
@click.option("--reason", required=True)
@with_appcontext
def reassign(task_id: int, actor: str, to_user: str, reason: str) -> None:
    """Hand a task to another user of its lane, with a reason."""
    tourflow().runtime.reassign(task_id, actor, to_user, reason)
    click.echo(f"task {task_id} reassigned to {to_user}")


@click.command()
@click.argument("instance_id", type=ID)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def show(instance_id: int, as_json: bool) -> None:
    """Show an instance: process, version, status, data."""
    result = tourflow().runtime.show(instance_id)
    if as_json:
        emit(result)
        return
    click.echo(f"instance {result['id']}: {result['process']} v{result['version']} {result['status']}")
    if result["error"]:
        click.echo(f"error: {result['error']}")
    click.echo(json.dumps(result["data"], ensure_ascii=False, indent=2, default=str))


@click.command()
@click.argument("instance_id", type=ID)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def events(instance_id: int, as_json: bool) -> None:
    """The audit events of an instance, in order."""
    rows = tourflow().runtime.events(instance_id)
    if as_json:
        emit(rows)
        return
    for e in rows:
        click.echo(f"{e['seq']:>4} {e['at']} {e['actor']:<12} {e['kind']:<18} "
                   f"{json.dumps(e['payload'], ensure_ascii=False)[:120]}")


@click.command()
@click.option("--at", "at", default=None, help="Pretend it is this moment (ISO 8601); default now.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def tick(at: str | None, as_json: bool) -> None:
    """Fire every timer and retry due up to a moment."""
    fired = tourflow().runtime.tick(parse_at(at))
    if as_json:
        emit(fired)
    else:
        click.echo(f"{len(fired)} job(s) fired")


@click.command()
@click.argument("name")
@click.option("--key", default=None, help="Correlation key (the waiting instance's business key).")
@click.option("--data", default=None, help="Message payload as a JSON object.")
@click.option("--ref", "message_ref", default=None,
              help="Your id for this message: sending the same id again delivers nothing twice.")
@click.option("--ttl", "ttl_seconds", type=float, default=None,
              help="Seconds the message may wait in the buffer for an instance (default one day).")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def message(name: str, key: str | None, data: str | None, message_ref: str | None, ttl_seconds: float | None,
            as_json: bool) -> None:
    """Deliver a message to a waiting instance, start a process that catches it, or buffer it."""
    result = tourflow().runtime.message(name, key, json_arg(data, "--data"), message_ref=message_ref,
                                        ttl_seconds=ttl_seconds)
    if as_json:
        emit(result)
        return
    again = " (already sent earlier: nothing delivered again)" if result["duplicate"] else ""
    if result["state"] == "buffered":
        click.echo(f"message {name} buffered as #{result['message_id']} until {result['expires_at']}: "
                   f"no instance with key {key} waits for it yet{again}")
    elif result["state"] == "expired":
        click.echo(f"message {name} #{result['message_id']} expired unread{again}")
    else:
        verb = "started" if result["started"] else "delivered to"
        click.echo(f"message {name} {verb} instance {result['delivered_to']}{again}")


@click.command()
@click.argument("instance_id", type=ID)
@click.option("--as", "actor", required=True)
@click.option("--reason", required=True)
@with_appcontext
def cancel(instance_id: int, actor: str, reason: str) -> None:
    """Cancel a running instance, with a reason."""
    tourflow().runtime.cancel(instance_id, actor, reason)
    click.echo(f"instance {instance_id} cancelled")
