"""The `tourflow` command line. Other tools rely on these names, options and exit codes.

Exit codes: 0 done; 1 error (not found, invalid file, ...); 2 validation error;
3 conflict (completed already, not ready, lost race); 4 not allowed (role/lane).
Errors are one line on stderr; `tourflow --debug ...` also shows the traceback.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from flask.cli import FlaskGroup, with_appcontext

from engine.access import policy
from engine.clock import parse_iso
from engine.errors import BpmnReadError, DeploymentError, FormInvalid, NotAllowed, TaskConflict, TourflowError
from engine.limits import ID_MAX, BadJson, parse_json
from engine.store.states import InstanceStatus
from webapp import create_app, tourflow

EXIT_CODES = {FormInvalid: 2, TaskConflict: 3, NotAllowed: 4}
ID = click.IntRange(0, ID_MAX)  # ids of tasks, instances, tokens: what the id columns hold


class TourflowGroup(FlaskGroup):
    """Turns engine errors into one clear stderr line and the contract's exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except DeploymentError as exc:
            for finding in exc.findings:
                if finding.severity == "error":
                    click.echo(str(finding), err=True)
            click.echo(f"error: {exc.message}", err=True)
            sys.exit(1)
        except TourflowError as exc:
            if os.environ.get("FLASK_DEBUG") == "1":
                traceback.print_exc()
            click.echo(f"error: {exc}", err=True)
            sys.exit(next((code for kind, code in EXIT_CODES.items() if isinstance(exc, kind)), 1))
        except Exception as exc:  # noqa: BLE001 - a user never sees a traceback unless asked
            if os.environ.get("FLASK_DEBUG") == "1":
                traceback.print_exc()
            click.echo(f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)", err=True)
            sys.exit(1)


def _json_arg(value: str | None, what: str) -> Any:
    if value is None:
        return None
    try:
        return parse_json(value)
    except BadJson as exc:
        raise TourflowError(f"{what} is {exc.message}") from None


def _emit(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def _parse_at(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_iso(value)  # no offset: UTC
    except ValueError:
        raise TourflowError(f"--at {value!r} is not an ISO 8601 date-time") from None


@click.group(cls=TourflowGroup, create_app=create_app, add_version_option=False)
def main() -> None:
    """tourflow: the agency's BPMN process runner."""


@main.command()
@with_appcontext
def info() -> None:
    """Show where tourflow keeps its data."""
    app_state = tourflow()
    click.echo(f"database: {app_state.url}")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--as", "actor", default="system", help="Who deploys (recorded in the audit log).")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def deploy(paths: tuple[Path, ...], actor: str, as_json: bool) -> None:
    """Deploy BPMN files or folders; prints process id and version per file."""
    from engine.run.deployments import bpmn_files, deploy_file

    runtime = tourflow().runtime
    if actor != "system":  # the local operator deploys as `system`; a named user must be a deployer
        with runtime.db.read() as session:
            viewer = policy.viewer_named(session, actor)
        policy.require(viewer is not None, f"unknown or inactive user {actor!r}")
        policy.require_capability(viewer, policy.Capability.DEPLOY)
    results, failed = [], False
    for path in bpmn_files(list(paths)):
        session = runtime.db.write()
        try:
            with session.begin():
                results.append(deploy_file(session, path, actor))
        except DeploymentError as exc:
            failed = True
            for finding in exc.findings:
                if finding.severity == "error":
                    click.echo(str(finding), err=True)
        except BpmnReadError as exc:
            failed = True
            click.echo(str(exc), err=True)
        finally:
            session.close()
    if as_json:
        _emit([r.__dict__ for r in results])
    else:
        for r in results:
            note = "deployed" if r.created else "unchanged"
            click.echo(f"{r.file}: {r.process_id} version {r.version} ({note})")
    if failed:
        sys.exit(1)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def lint(paths: tuple[Path, ...]) -> None:
    """Check BPMN files against the conventions; exit 1 on errors."""
    from engine.bpmn.lint import has_errors, lint_paths

    findings = lint_paths(list(paths))
    for finding in findings:
        click.echo(str(finding))
    if has_errors(findings):
        sys.exit(1)


@main.command()
@click.argument("process_id")
@click.option("--data", default=None, help="Start data as a JSON object.")
@click.option("--as", "actor", default="system")
@click.option("--key", "business_key", default=None, help="Business key for message correlation.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def start(process_id: str, data: str | None, actor: str, business_key: str | None, as_json: bool) -> None:
    """Start the newest version of a process; prints the instance id."""
    runtime = tourflow().runtime
    instance_id = runtime.start(process_id, _json_arg(data, "--data"), actor=actor, business_key=business_key)
    if as_json:
        _emit(runtime.show(instance_id))
    else:
        click.echo(instance_id)


@main.command()
@click.option("--lane", default=None)
@click.option("--user", default=None, help="Only tasks this user may work on (their lanes, unclaimed or theirs).")
@click.option("--instance", "instance_id", type=ID, default=None)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def tasks(lane: str | None, user: str | None, instance_id: int | None, as_json: bool) -> None:
    """List open human tasks, earliest due first."""
    rows = tourflow().runtime.tasks(lane=lane, user=user, instance_id=instance_id)
    if as_json:
        _emit(rows)
        return
    for row in rows:
        due = row["due_at"] or "-"
        click.echo(f"{row['id']:>6}  #{row['instance_id']:<5} {row['lane']:<12} {row['name']}  due {due}"
                   f"  {row['assignee'] or ''}")


@main.command()
@click.argument("task_id", type=ID)
@click.option("--as", "actor", required=True)
@click.option("--data", default=None, help="Form data as a JSON object.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def complete(task_id: int, actor: str, data: str | None, as_json: bool) -> None:
    """Complete a task (exit 2 invalid data, 3 conflict, 4 not allowed)."""
    result = tourflow().runtime.complete(task_id, actor, _json_arg(data, "--data") or {})
    if as_json:
        _emit(result)
    else:
        click.echo(f"task {task_id} completed; instance {result['id']} is {result['status']}")


@main.command()
@click.argument("task_id", type=ID)
@click.option("--as", "actor", required=True)
@with_appcontext
def claim(task_id: int, actor: str) -> None:
    """Claim a task for yourself."""
    tourflow().runtime.claim(task_id, actor)
    click.echo(f"task {task_id} claimed by {actor}")


@main.command()
@click.argument("task_id", type=ID)
@click.option("--as", "actor", required=True)
@with_appcontext
def unclaim(task_id: int, actor: str) -> None:
    """Release a claimed task back to its lane."""
    tourflow().runtime.unclaim(task_id, actor)
    click.echo(f"task {task_id} released")


@main.command()
@click.argument("task_id", type=ID)
@click.option("--as", "actor", required=True)
@click.option("--to", "to_user", required=True)
@click.option("--reason", required=True)
@with_appcontext
def reassign(task_id: int, actor: str, to_user: str, reason: str) -> None:
    """Hand a task to another user of its lane, with a reason."""
    tourflow().runtime.reassign(task_id, actor, to_user, reason)
    click.echo(f"task {task_id} reassigned to {to_user}")


@main.command()
@click.argument("instance_id", type=ID)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def show(instance_id: int, as_json: bool) -> None:
    """Show an instance: process, version, status, data."""
    result = tourflow().runtime.show(instance_id)
    if as_json:
        _emit(result)
        return
    click.echo(f"instance {result['id']}: {result['process']} v{result['version']} {result['status']}")
    if result["error"]:
        click.echo(f"error: {result['error']}")
    click.echo(json.dumps(result["data"], ensure_ascii=False, indent=2, default=str))


@main.command()
@click.argument("instance_id", type=ID)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def events(instance_id: int, as_json: bool) -> None:
    """The audit events of an instance, in order."""
    rows = tourflow().runtime.events(instance_id)
    if as_json:
        _emit(rows)
        return
    for e in rows:
        click.echo(f"{e['seq']:>4} {e['at']} {e['actor']:<12} {e['kind']:<18} "
                   f"{json.dumps(e['payload'], ensure_ascii=False)[:120]}")


@main.command()
@click.option("--at", "at", default=None, help="Pretend it is this moment (ISO 8601); default now.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def tick(at: str | None, as_json: bool) -> None:
    """Fire every timer and retry due up to a moment."""
    fired = tourflow().runtime.tick(_parse_at(at))
    if as_json:
        _emit(fired)
    else:
        click.echo(f"{len(fired)} job(s) fired")


@main.command()
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
    result = tourflow().runtime.message(name, key, _json_arg(data, "--data"), message_ref=message_ref,
                                        ttl_seconds=ttl_seconds)
    if as_json:
        _emit(result)
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


@main.command()
@click.argument("instance_id", type=ID)
@click.option("--json", "as_json", is_flag=True, help="The result with a snapshot per event.")
@with_appcontext
def replay(instance_id: int, as_json: bool) -> None:
    """Re-run an instance from its audit record and compare with its stored state (exit 1 if they differ)."""
    from engine.history.replay import replay as replay_instance

    result = replay_instance(tourflow().runtime, instance_id)
    if as_json:
        _emit(result.as_dict())
    elif result.identical:
        click.echo(f"instance {instance_id} ({result.process} v{result.version}): identical "
                   f"after replaying {result.events} events")
    else:
        click.echo(f"instance {instance_id} ({result.process} v{result.version}): differs: {result.difference}",
                   err=True)
    sys.exit(0 if result.identical else 1)


@main.command()
@click.option("--state", type=click.Choice(["pending", "done", "cancelled", "failed", "all"]), default="pending",
              show_default=True)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def jobs(state: str, as_json: bool) -> None:
    """List timer, retry and timer-start jobs by due time, with leases and errors."""
    rows = tourflow().runtime.jobs(state=None if state == "all" else state)
    if as_json:
        _emit(rows)
        return
    for row in rows:
        lease = f" leased to {row['locked_by']} until {row['lease_until']}" if row["locked_by"] else ""
        error = f" last error: {row['last_error']}" if row["last_error"] else ""
        click.echo(f"#{row['id']:<6} {row['kind']:<11} {row['state']:<9} due {row['due_at']} "
                   f"instance {row['instance_id']} {row['task']}{lease}{error}")


@main.command()
@click.option("--state", type=click.Choice(["buffered", "delivered", "expired"]), default=None)
@click.option("--name", default=None)
@click.option("--key", default=None)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def messages(state: str | None, name: str | None, key: str | None, as_json: bool) -> None:
    """List routed messages, newest first (--state buffered: those still waiting)."""
    rows = tourflow().runtime.messages(state=state, name=name, key=key)
    if as_json:
        _emit(rows)
        return
    for row in rows:
        target = f"-> instance {row['delivered_to']}" if row["delivered_to"] else f"until {row['expires_at']}"
        click.echo(f"#{row['message_id']:<6} {row['state']:<9} {row['name']:<24} key={row['key']} {target}")


@main.command()
@click.argument("instance_id", type=ID)
@click.option("--as", "actor", required=True)
@click.option("--reason", required=True)
@with_appcontext
def cancel(instance_id: int, actor: str, reason: str) -> None:
    """Cancel a running instance, with a reason."""
    tourflow().runtime.cancel(instance_id, actor, reason)
    click.echo(f"instance {instance_id} cancelled")


@main.group()
def incident() -> None:
    """Instances stopped by a failed step."""


@incident.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def incident_list(as_json: bool) -> None:
    """Instances in error, with the failed step's error."""
    from sqlalchemy import select

    from engine.store.models import ProcessInstance

    with tourflow().runtime.db.read() as session:
        rows = [{"instance_id": i.id, "process": i.process_id, "error": i.error} for i in session.execute(
            select(ProcessInstance).where(ProcessInstance.status == InstanceStatus.ERROR).order_by(ProcessInstance.id)).scalars()]
    if as_json:
        _emit(rows)
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
    result = tourflow().runtime.resolve_incident(instance_id, actor, reason, _json_arg(data, "--data"))
    click.echo(f"instance {instance_id} is {result['status']}")


@main.group()
def audit() -> None:
    """The audit log."""


@audit.command("verify")
@click.argument("instance_id", type=ID, required=False)
@with_appcontext
def audit_verify(instance_id: int | None) -> None:
    """Check the hash chains, and each instance's live state against the state it last recorded;
    exit 1 naming the first broken link of each chain, or the instance whose state differs."""
    from engine.history import audit as audit_log
    from engine.history import state_hash

    runtime = tourflow().runtime
    with runtime.db.read() as session:
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


@main.group()
def token() -> None:
    """Bearer tokens for the JSON API (/api/v1)."""


@token.command("create")
@click.option("--user", "username", required=True, help="The user the token acts as.")
@click.option("--label", default="", help="What the token is for (at most 80 characters).")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def token_create(username: str, label: str, as_json: bool) -> None:
    """Create a token; it is printed this once only (the database keeps its sha256)."""
    from engine.access.users import create_token, find_token_id

    runtime = tourflow().runtime
    with runtime.db.write() as session, session.begin():
        plaintext = create_token(session, username, label)
        token_id = find_token_id(session, plaintext)
    if as_json:
        _emit({"id": token_id, "user": username, "label": label, "token": plaintext})
        return
    click.echo(f"token {token_id} for {username}{f' ({label})' if label else ''}; "
               "store it now, it is not shown again:")
    click.echo(plaintext)


@token.command("revoke")
@click.argument("token_id", type=ID)
@with_appcontext
def token_revoke(token_id: int) -> None:
    """Revoke a token by id; it stops working at once."""
    from engine.access.users import revoke_token

    runtime = tourflow().runtime
    with runtime.db.write() as session, session.begin():
        changed = revoke_token(session, token_id)
    click.echo(f"token {token_id} revoked" if changed else f"token {token_id} was already revoked")


@main.group()
def user() -> None:
    """User accounts: password, deactivate, activate. Each of these logs the user out everywhere."""


@user.command("password")
@click.argument("username")
@click.password_option(help="The new password (asked twice, hidden, when not given).")
@with_appcontext
def user_password(username: str, password: str) -> None:
    """Set a user's password; every browser session of the user ends."""
    from engine.access.users import set_password

    with tourflow().runtime.db.write() as session, session.begin():
        set_password(session, username, password)
    click.echo(f"password of {username} changed; their sessions have ended")


@user.command("deactivate")
@click.argument("username")
@with_appcontext
def user_deactivate(username: str) -> None:
    """The user can no longer log in; their sessions end and their API tokens stop working."""
    _set_active(username, False, f"{username} deactivated; their sessions have ended")


@user.command("activate")
@click.argument("username")
@with_appcontext
def user_activate(username: str) -> None:
    """Let a deactivated user log in again (old sessions stay ended)."""
    _set_active(username, True, f"{username} activated")


def _set_active(username: str, active: bool, done: str) -> None:
    from engine.access.users import set_active

    with tourflow().runtime.db.write() as session, session.begin():
        set_active(session, username, active)
    click.echo(done)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=ID)
@click.option("--workers", default=2, show_default=True, type=ID)
@click.option("--no-job-worker", "no_job_worker", is_flag=True,
              help="Do not start a job worker beside the server (when `tourflow worker` runs elsewhere).")
def serve(host: str, port: int, workers: int, no_job_worker: bool) -> None:
    """Serve the inbox with gunicorn, plus a job worker for timers and retries."""
    from webapp.serve import serve_app

    serve_app(host, port, workers, echo=click.echo, job_worker=not no_job_worker)


@main.command()
@click.option("--poll", "poll_seconds", type=float, default=1.0, show_default=True,
              help="Seconds between two looks at the job table (a job due sooner wakes the worker itself).")
@click.option("--lease", "lease_seconds", type=float, default=None,
              help="Seconds a taken job stays this worker's before others may take it "
                   "[default: TOURFLOW_JOB_LEASE_SECONDS or 60].")
@click.option("--housekeeping", "housekeeping_seconds", type=float, default=30.0, show_default=True,
              help="Seconds between two message housekeeping runs (expiry, buffered deliveries).")
@click.option("--name", default=None, help="This worker's name in job leases [default: worker:HOST:PID].")
@with_appcontext
def worker(poll_seconds: float, lease_seconds: float | None, housekeeping_seconds: float, name: str | None) -> None:
    """Fire timers, retries and timer starts as they fall due, until SIGTERM (any number may run)."""
    import logging

    from engine.run.worker import Worker

    if poll_seconds <= 0 or housekeeping_seconds <= 0 or (lease_seconds is not None and lease_seconds <= 0):
        raise click.BadParameter("--poll, --lease and --housekeeping must be positive")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per poll otherwise
    runner = Worker(tourflow().runtime, name=name, poll_seconds=poll_seconds, lease_seconds=lease_seconds,
                    housekeeping_seconds=housekeeping_seconds)
    click.echo(f"tourflow worker {runner.name}: polling every {poll_seconds}s; SIGTERM stops it after the current step")
    runner.run_forever()


@main.command()
@with_appcontext
def demo() -> None:
    """Create demo users and data, deploy processes/, start a few instances."""
    from webapp.demo import load_demo

    load_demo(tourflow().runtime, echo=click.echo)


@main.command()
@click.option("--instances", default=200, show_default=True, help="Instances per measurement.")
@click.option("--inbox-tasks", default=100_000, show_default=True,
              help="Open tasks seeded for the inbox latency measurement (0 skips it).")
@click.option("--timers", default=300, show_default=True,
              help="Timers for the timer accuracy measurement, fired by real worker processes (0 skips it).")
@click.option("--timer-window", default=20.0, show_default=True, help="Seconds the timers' due times spread over.")
@click.option("--timer-workers", default=2, show_default=True, help="Worker processes firing them.")
@click.option("--replay-events", default=1000, show_default=True,
              help="Recorded events to replay for the replay speed measurement (0 skips it).")
@click.option("--json", "as_json", is_flag=True)
def bench(instances: int, inbox_tasks: int, timers: int, timer_window: float, timer_workers: int,
          replay_events: int, as_json: bool) -> None:
    """Raw SpiffWorkflow vs tourflow with persistence; inbox latency; timer accuracy; replay speed."""
    from engine.bench.core import run_bench
    from engine.bench.inbox import run_inbox_bench
    from engine.bench.timers import run_timer_bench

    echo = None if as_json else click.echo
    report = run_bench(instances=instances, echo=echo)
    if inbox_tasks > 0:
        if echo:
            echo("")
        report["inbox"] = run_inbox_bench(tasks=inbox_tasks, echo=echo)
    if timers > 0:
        if echo:
            echo("")
        report["timers"] = run_timer_bench(timers=timers, window=timer_window, workers=timer_workers, echo=echo)
    if replay_events > 0:
        from engine.bench.replay import run_replay_bench

        if echo:
            echo("")
        report["replay"] = run_replay_bench(events=replay_events, echo=echo)
    if as_json:
        _emit(report)
