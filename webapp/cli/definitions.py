"""Process definitions: `tourflow deploy`, `tourflow activate` and `tourflow lint`."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from engine.access import policy
from engine.errors import BpmnReadError, DeploymentError
from webapp.app_state import tourflow
from webapp.cli.base import emit


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--as", "actor", default="system", help="Who deploys (recorded in the audit log).")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def deploy(paths: tuple[Path, ...], actor: str, as_json: bool) -> None:
    """Deploy BPMN files or folders; prints process id and version per file."""
    from engine.run.deployments import bpmn_files, deploy_file

    runtime = tourflow().runtime
    if actor != "system":  # the local operator deploys as `system`; a named user must be a deployer
        with runtime.reading() as session:
            viewer = policy.viewer_named(session, actor)
        policy.require(viewer is not None, f"unknown or inactive user {actor!r}")
        policy.require_capability(viewer, policy.Capability.DEPLOY)
    results, failed = [], False
    for path in bpmn_files(list(paths)):
        try:
            with runtime.transaction() as tx:
                results.append(deploy_file(tx.session, path, actor))
        except DeploymentError as exc:
            failed = True
            for finding in exc.findings:
                if finding.severity == "error":
                    click.echo(str(finding), err=True)
        except BpmnReadError as exc:
            failed = True
            click.echo(str(exc), err=True)
    if as_json:
        emit([r.__dict__ for r in results])
    else:
        for r in results:
            note = "deployed" if r.created else "unchanged"
            if not r.current:
                note += (f"; not the current version: `tourflow activate {r.process_id} {r.version} "
                         f"--reason ...` starts new instances on it")
            click.echo(f"{r.file}: {r.process_id} version {r.version} ({note})")
    if failed:
        sys.exit(1)


@click.command()
@click.argument("process_id")
@click.argument("version", type=click.IntRange(min=1))
@click.option("--reason", required=True, help="Why (recorded in the audit log).")
@click.option("--as", "actor", default="system", help="Who activates (a user who may deploy).")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def activate(process_id: str, version: int, reason: str, actor: str, as_json: bool) -> None:
    """Start new instances of PROCESS_ID on VERSION (roll back, or forward again); running instances stay."""
    result = tourflow().runtime.activate_version(process_id, version, actor, reason)
    if as_json:
        emit(result)
    else:
        before = result["previous_version"]
        click.echo(f"{process_id}: version {version} is now current" + (f" (was {before})" if before else ""))


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def lint(paths: tuple[Path, ...]) -> None:
    """Check BPMN files against the conventions; exit 1 on errors."""
    from engine.bpmn.lint import has_errors, lint_paths

    findings = lint_paths(list(paths))
    for finding in findings:
        click.echo(str(finding))
    if has_errors(findings):
        sys.exit(1)
