"""Process definitions: `tourflow deploy`, `activate`, `diff`, `migrate` and `lint`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from engine.access import policy
from engine.errors import BpmnReadError, DeploymentError
from webapp import error_messages
from webapp.app_state import tourflow
from webapp.cli.base import emit, lang_option


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--as", "actor", default="system", help="Who deploys (recorded in the audit log).")
@click.option("--preview", is_flag=True, help="Deploy nothing: print the lint findings, the changes against the "
                                              "current version and the instances waiting on what changes.")
@click.option("--json", "as_json", is_flag=True)
@lang_option
@with_appcontext
def deploy(paths: tuple[Path, ...], actor: str, preview: bool, as_json: bool, lang: str) -> None:
    """Deploy BPMN files, folders or a .zip, together: call activities resolve among them, and one
    error refuses them all. Prints process id and version per process."""
    from engine.run.deploy_set import deploy_together
    from engine.run.deployments import bpmn_files
    from engine.run.zip_bundle import is_zip_name, path_files

    runtime = tourflow().runtime
    if preview:
        _preview(runtime, bpmn_files(list(paths)), actor, as_json, lang)
        return
    if actor != "system":  # the local operator deploys as `system`; a named user must be a deployer
        with runtime.reading() as session:
            viewer = policy.viewer_named(session, actor)
        policy.require(viewer is not None, f"unknown or inactive user {actor!r}")
        policy.require_capability(viewer, policy.Capability.DEPLOY)
    results, failed = [], False
    try:
        files = path_files(list(paths))
        with runtime.transaction() as tx:  # the files deployed together: one error refuses them all
            results = deploy_together(tx.session, files, actor, inherit_forms=False, max_files=None,
                                      forms_beside=not any(is_zip_name(p.name) for p in paths))
    except DeploymentError as exc:
        failed = True
        errors = [f for f in exc.findings if f.severity == "error"]
        for finding in errors:
            click.echo(finding.line_in(lang), err=True)
        if not errors:
            click.echo(str(exc) if lang == "en" else error_messages.render(exc, "zh"), err=True)
    except BpmnReadError as exc:
        failed = True
        click.echo(str(exc) if lang == "en" else error_messages.render(exc, "zh"), err=True)
    if as_json:
        emit([{**r.__dict__, "warnings": [f.line_in(lang) for f in r.warnings]} for r in results])
    else:
        for r in results:
            note = "deployed" if r.created else "unchanged"
            if not r.current:
                note += (f"; not the current version: `tourflow activate {r.process_id} {r.version} "
                         f"--reason ...` starts new instances on it")
            click.echo(f"{r.file}: {r.process_id} version {r.version} ({note})")
    for r in results:  # after the result lines: deployed, but worth a look
        for finding in r.warnings:
            click.echo(finding.line_in(lang), err=True)
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
@click.argument("process_id")
@click.option("--from", "from_version", type=click.IntRange(min=1), required=True, help="The version they run on.")
@click.option("--to", "to_version", type=click.IntRange(min=1), required=True, help="The version to move them to.")
@click.option("--map", "mappings", multiple=True, metavar="OLD=NEW",
              help="A waiting node the new version renamed or removed, and the node that replaces it.")
@click.option("--instance", "instances", type=click.IntRange(min=1), multiple=True,
              help="Only this instance (repeat it); default: every running instance of --from.")
@click.option("--waiting-at", "waiting_at", multiple=True, metavar="NODE",
              help="Only instances with an open task or a pending timer on this node (repeat it: any of them).")
@click.option("--started-before", metavar="ISO", help="Only instances started before this moment (no offset: UTC).")
@click.option("--started-after", metavar="ISO", help="Only instances started at or after this moment (no offset: UTC).")
@click.option("--reason", required=True, help="Why (recorded in each instance's audit log).")
@click.option("--dry-run", is_flag=True, help="Report what would move; change nothing.")
@click.option("--as", "actor", default="system", help="Who migrates (a user who may deploy).")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def migrate(process_id: str, from_version: int, to_version: int, mappings: tuple[str, ...],
            instances: tuple[int, ...], waiting_at: tuple[str, ...], started_before: str | None,
            started_after: str | None, reason: str, dry_run: bool, actor: str, as_json: bool) -> None:
    """Move running instances of PROCESS_ID from one version to another (all, or those the filter
    options pick: they combine with AND); exit 3 if any was refused."""
    mapping = {}
    for item in mappings:
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise click.BadParameter(f"{item!r} is not OLD=NEW", param_hint="--map")
        mapping[old.strip()] = new.strip()
    report = tourflow().runtime.migrate_instances(process_id, from_version, to_version, actor, reason, mapping,
                                                  list(instances) or None, dry_run, waiting_at=list(waiting_at),
                                                  started_before=started_before, started_after=started_after)
    if as_json:
        emit(report)
    else:
        verb = "would move" if dry_run else "moved"
        if filter_text(report["filter"]):
            click.echo(f"filter: {filter_text(report['filter'])}")
        for r in report["instances"]:
            if r["ok"]:
                moves = ", ".join(f"{m['from']} → {m['to']}" for m in r["moved"])
                click.echo(f"instance {r['instance_id']}: {verb}" + (f" ({moves})" if moves else ""))
            else:
                click.echo(f"instance {r['instance_id']}: refused: {r['reason']}")
        click.echo(f"{process_id}: {report['migrated']} of {len(report['instances'])} instance(s) {verb} "
                   f"from version {from_version} to {to_version}")
    if any(not r["ok"] for r in report["instances"]):
        sys.exit(3)


def filter_text(used: dict) -> str:
    """A migration report's filter in words ('' when it picked every running instance)."""
    parts = []
    if used["instances"] is not None:
        parts.append("instances " + ", ".join(str(i) for i in used["instances"]))
    if used["waiting_at"]:
        parts.append("waiting at " + " or ".join(used["waiting_at"]))
    if used["started_before"]:
        parts.append(f"started before {used['started_before']}")
    if used["started_after"]:
        parts.append(f"started at or after {used['started_after']}")
    return "; ".join(parts)


@click.command()
@click.argument("process_id")
@click.argument("old", type=click.IntRange(min=1))
@click.argument("new", type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def diff(process_id: str, old: int, new: int, as_json: bool) -> None:
    """What changed from version OLD to NEW: nodes and flows (+ added, - removed, ~ changed), forms, layout."""
    result = tourflow().runtime.version_diff(process_id, old, new)
    if as_json:
        emit(result)
        return
    click.echo(f"{process_id}: version {old} → {new}")
    _echo_changes(result)


def _echo_changes(result: dict) -> None:
    for mark, key in (("+", "added"), ("-", "removed")):
        for e in result[key]:
            lane = f" (lane {e['lane']})" if e["lane"] else ""
            click.echo(f"  {mark} {e['kind']} {e['id']}" + (f" “{e['name']}”" if e["name"] else "") + lane)
    for c in result["changed"]:
        parts = "; ".join(f"{f['label']}: {_short(f['old'])} → {_short(f['new'])}" for f in c["fields"])
        click.echo(f"  ~ {c['kind']} {c['id']}" + (f" “{c['name']}”" if c["name"] else "") + f": {parts}")
    for form in result["forms"]:
        fields = [*(f"+{n}" for n in form.get("fields_added", [])), *(f"-{n}" for n in form.get("fields_removed", [])),
                  *(f"~{n}" for n in form.get("fields_changed", []))]
        click.echo(f"  {form['change']} form {form['form']}" + (f": {', '.join(fields)}" if fields else ""))
    if result["moved"]:
        click.echo(f"  moved on the diagram: {', '.join(result['moved'])}")
    if not any(result[k] for k in ("added", "removed", "changed", "forms", "moved")):
        click.echo("  no changes")


def _preview(runtime, files: list[Path], actor: str, as_json: bool, lang: str) -> None:
    """`deploy --preview`: what deploying each file would do; exit 1 if one would be refused."""
    from engine.clock import utcnow
    from engine.run.drafts import preview_file

    previews = []
    for path in files:
        with runtime.reading() as session:
            previews.append(preview_file(session, path, actor, utcnow()))
    for path, shown in zip(files, previews, strict=True):
        if as_json:
            continue
        current = shown["current_version"]
        verdict = "can be deployed" if shown["deployable"] else "would be refused"
        against = f"against version {current}" if current else "a new process"
        click.echo(f"{path}: {shown['process_id'] or '?'} ({against}): {verdict}")
        for f in shown["findings"]:
            message = f["message_zh"] if lang == "zh" else f["message_en"]
            click.echo(f"  {f['line']}:{f['col']}: {f['severity']} {f['rule']}: {message}")
        if shown["diff"] is not None:
            _echo_changes(shown["diff"])
        for node, count in shown["waiting"].items():
            click.echo(f"  {count} running instance(s) of version {current} wait at {node}")
    if as_json:
        emit(previews)
    if not all(p["deployable"] for p in previews):
        sys.exit(1)


def _short(value: str | None, limit: int = 60) -> str:
    if value is None:
        return "(none)"
    flat = " ".join(value.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")


@click.command()
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def handlers(as_json: bool) -> None:
    """The service-task handlers a process may call: parameters, result keys, the processes using them."""
    catalogue = tourflow().runtime.handlers()
    if as_json:
        emit(catalogue)
        return
    for h in catalogue:
        params = ", ".join(p["name"] + ("" if p["required"] else f"={json.dumps(p['default'], ensure_ascii=False)}")
                           for p in h["parameters"])
        results = "?" if h["results"] is None else ", ".join(h["results"])
        used = ", ".join(h["used_by"]) or "no process"
        click.echo(f"{h['name']}({params}) -> {{{results}}}{'' if h['writes'] else ' [reads only]'}: {h['summary']}"
                   f" [used by: {used}]")


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True,
              help="Warnings (house conventions: lanes, forms, SOP text, diagram) count as errors too.")
@lang_option
def lint(paths: tuple[Path, ...], lang: str, strict: bool) -> None:
    """Check BPMN files against the conventions; exit 1 on errors (with --strict, on warnings too)."""
    from engine.bpmn.lint import has_errors, lint_paths
    from engine.outbox.templates import templates
    from webapp.message_preview import load_kinds

    findings = lint_paths(list(paths))
    for finding in findings:
        click.echo(finding.line_in(lang))
    load_kinds()
    problems = templates().check()  # the messages the processes send: a broken one stops CI, not a worker
    for problem in problems:
        click.echo(f"{problem.where}: error: [message-template] {problem.problem}")
    if has_errors(findings, strict=strict) or problems:
        sys.exit(1)
