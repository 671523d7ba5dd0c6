"""What happened and what waits: replay, jobs, messages, incidents and the audit log."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from webapp.app_state import tourflow
from webapp.cli.base import ID, emit, json_arg


@click.command()
@click.argument("instance_id", type=ID)
@click.option("--json", "as_json", is_flag=True, help="The result with a snapshot per event.")
@with_appcontext
def replay(instance_id: int, as_json: bool) -> None:
    """Re-run an instance from its audit record and compare with its stored state (exit 1 if they differ)."""
    from engine.history.replay import replay as replay_instance

    result = replay_instance(tourflow().runtime, instance_id)
    if as_json:
        emit(result.as_dict())
    elif result.identical:
        click.echo(f"instance {instance_id} ({result.process} v{result.version}): identical "
                   f"after replaying {result.events} events")
    else:
        click.echo(f"instance {instance_id} ({result.process} v{result.version}): differs: {result.difference}",
                   err=True)
    sys.exit(0 if result.identical else 1)


@click.command()
@click.option("--state", type=click.Choice(["pending", "done", "cancelled", "failed", "all"]), default="pending",
              show_default=True)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def jobs(state: str, as_json: bool) -> None:
    """List timer, retry and timer-start jobs by due time, with leases and errors."""
    rows = tourflow().runtime.jobs(state=None if state == "all" else state)
    if as_json:
        emit(rows)
        return
    for row in rows:
        lease = f" leased to {row['locked_by']} until {row['lease_until']}" if row["locked_by"] else ""
        error = f" last error: {row['last_error']}" if row["last_error"] else ""
        click.echo(f"#{row['id']:<6} {row['kind']:<11} {row['state']:<9} due {row['due_at']} "
                   f"instance {row['instance_id']} {row['task']}{lease}{error}")


@click.command()
@click.option("--state", type=click.Choice(["buffered", "delivered", "expired"]), default=None)
@click.option("--name", default=None)
@click.option("--key", default=None)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def messages(state: str | None, name: str | None, key: str | None, as_json: bool) -> None:
    """List routed messages, newest first (--state buffered: those still waiting)."""
    rows = tourflow().runtime.messages(state=state, name=name, key=key)
    if as_json:
        emit(rows)
        return
    for row in rows:
        target = f"-> instance {row['delivered_to']}" if row["delivered_to"] else f"until {row['expires_at']}"
        click.echo(f"#{row['message_id']:<6} {row['state']:<9} {row['name']:<24} key={row['key']} {target}")


@click.group()
def incident() -> None:
    """Instances stopped by a failed step."""


@incident.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def incident_list(as_json: bool) -> None:
    """Instances in error, with the failed step's error."""
    from engine.run.reads import failed_instances

    with tourflow().runtime.reading() as session:
        rows = failed_instances(session)
    if as_json:
        emit(rows)
        return
    for row in rows:
        click.echo(f"#{row['instance_id']:<6} {row['process']:<24} {row['error']}")


@incident.command("retry")
@click.argument("instance_id", type=ID)
@click.option("--as", "actor", required=True)
@click.option("--reason", required=True)
@click.option("--data", default=None, help="Corrected data for the failed step, as a JSON object.")
@with_appcontext
def incident_retry(instance_id: int, actor: str, reason: str, data: str | None) -> None:
    """Retry an instance's failed step (optionally with corrected data)."""
    result = tourflow().runtime.resolve_incident(instance_id, actor, reason, json_arg(data, "--data"))
    click.echo(f"instance {instance_id} is {result['status']}")


@click.group()
def audit() -> None:
    """The audit log."""


@audit.command("verify")
@click.argument("instance_id", type=ID, required=False)
@with_appcontext
def audit_verify(instance_id: int | None) -> None:
    """Check the hash chains, and each instance's live state against the state it last recorded;
    exit 1 naming the first broken link of each chain, or the instance whose state differs."""
    from engine.store import audit as audit_log
    from engine.store import state_hash

    runtime = tourflow().runtime
    with runtime.reading() as session:
        streams = [audit_log.instance_stream(instance_id)] if instance_id is not None else None
        if instance_id is not None:
            runtime.show(instance_id)
        result = state_hash.verify(session, streams)
    for brk in result.breaks:
        where = brk.stream.replace("instance:", "instance ")
        click.echo(f"BROKEN: {where} at seq {brk.seq}: {brk.reason}", err=True)
    for check in result.unrecorded:
        click.echo(f"note: instance {check.instance_id}: {check.message}")
    if result.breaks:
        sys.exit(1)
    click.echo(f"ok: {result.streams} chain(s) intact, {result.matching} live state(s) as recorded")
