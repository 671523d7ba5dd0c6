"""Moving running instances from one version of a process to another (engine/run/migration.py).

Each instance moves in its own transaction, as one step: its workflow re-read on the target
version, its open task rows re-pointed, an `instance_migrated` event, then the engine runs on. A dry
run does all of it and rolls it back, so it reports exactly what a real run would do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from engine.access import policy
from engine.clock import utcnow
from engine.errors import FormInvalid
from engine.limits import KEY_MAX, check_reason
from engine.run import versions
from engine.run.core import EngineCore
from engine.run.migration import MigrationRefused, check_mapping, migrate, node_ids
from engine.run.migration_filter import instance_filter
from engine.run.row_writes import write_tasks
from engine.run.rows import viewer_named
from engine.run.search_terms import drop_terms, write_terms
from engine.run.step import Step
from engine.run.task_edit_cleanup import forget_instance
from engine.run.task_search import search_text
from engine.run.unit import Tx
from engine.run.waiting import running_of, waiting_on
from engine.sandbox.outcomes import lets_go_of_the_lock
from engine.store.audit import SYSTEM_ACTOR
from engine.store.models import ProcessInstance
from engine.store.states import FINISHED

MAX_MAPPING = 200


class _DryRun(Exception):
    def __init__(self, report: dict[str, Any]):
        super().__init__("dry run")
        self.report = report


def _check_mapping_shape(mapping: Any) -> dict[str, str]:
    if mapping is None:
        return {}
    if not isinstance(mapping, dict) or len(mapping) > MAX_MAPPING or not all(
            isinstance(k, str) and isinstance(v, str) and 0 < len(k) <= KEY_MAX and 0 < len(v) <= KEY_MAX
            for k, v in mapping.items()):
        message = f"must map old node ids to new node ids (strings), at most {MAX_MAPPING} of them"
        raise FormInvalid(f"field 'mapping': {message}", field="mapping",
                          errors=[{"field": "mapping", "message": message}], key="migration.mapping",
                          params={"limit": MAX_MAPPING})
    return dict(mapping)


class MigrationCommands(EngineCore):
    @lets_go_of_the_lock
    def migrate_instances(self, process_id: str, from_version: int, to_version: int, actor: str, reason: str,
                          mapping: dict[str, str] | None = None, instance_ids: list[int] | None = None,
                          dry_run: bool = False, *, waiting_at: list[str] | None = None,
                          started_before: datetime | str | None = None,
                          started_after: datetime | str | None = None) -> dict[str, Any]:
        """Move the running instances of `from_version` to `to_version`: all, or those the filter
        picks (`instance_ids`, `waiting_at` nodes, `started_before`/`started_after`; combined with
        AND). Returns the filter and per instance whether it moved (or would, in a dry run), which
        waiting nodes moved, and the reason when it cannot."""
        mapping = _check_mapping_shape(mapping)
        reason = check_reason(reason)
        picked = instance_filter(waiting_at, started_before, started_after, instance_ids)
        with self.reading() as session:
            if actor != SYSTEM_ACTOR:
                policy.require_capability(viewer_named(session, actor), policy.Capability.DEPLOY)
            source = versions.version_row(session, process_id, from_version)
            target = versions.version_row(session, process_id, to_version)
            if source.id == target.id:
                raise MigrationRefused(f"the instances are on version {from_version} already",
                                       key="migration.same_version", params={"version": from_version})
            source_model = self.deployed(session, source.id).model
            check_mapping(source_model, self.deployed(session, target.id).model, mapping)
            picked.check_nodes(node_ids(source_model), from_version)
            missing: list[int] = []
            if picked.instances is None:
                query = running_of(source.id)
            else:
                query = select(ProcessInstance.id).where(ProcessInstance.id.in_(picked.instances))
                missing = sorted(set(picked.instances) - set(session.execute(query).scalars()))
            candidates = list(session.execute(query.where(*picked.conditions()).order_by(ProcessInstance.id)).scalars())
        results = [{"instance_id": i, "ok": False, "moved": [], "tasks": [], "reason": "no such instance"}
                   for i in missing]
        for instance_id in candidates:
            results.append(self._migrate_one(instance_id, source.id, target.id, mapping, actor, reason, dry_run))
        results.sort(key=lambda r: r["instance_id"])
        return {"process_id": process_id, "from": from_version, "to": to_version, "dry_run": dry_run,
                "mapping": mapping, "filter": picked.as_dict(), "migrated": sum(1 for r in results if r["ok"]), "instances": results}

    def waiting_nodes(self, process_id: str, version: int) -> list[dict[str, Any]]:
        """Where the running instances of a version wait (open tasks, pending timers): per node its
        name and how many instances wait there, the choices of a migration's `waiting_at`."""
        with self.reading() as session:
            deployment = versions.version_row(session, process_id, version)
            model = self.deployed(session, deployment.id).model
            counts = waiting_on(session, deployment.id, None)
        return [{"node": node, "name": model.node_names.get(node) or node, "waiting": n} for node, n in counts.items()]

    def _migrate_one(self, instance_id: int, source_id: int, target_id: int, mapping: dict[str, str], actor: str,
                     reason: str, dry_run: bool) -> dict[str, Any]:
        try:
            with self.transaction() as tx:
                instance = tx.lock_instance(instance_id)
                if instance.deployment_id != source_id:
                    version = tx.deployed(instance.deployment_id).version
                    raise MigrationRefused(f"instance {instance_id} is on version {version}", key="migration.other_version",
                                           params={"id": instance_id, "version": version})
                if instance.status in FINISHED:
                    raise MigrationRefused(f"instance {instance_id} is {instance.status}", key="migration.not_running",
                                           params={"id": instance_id, "status": instance.status})
                report = _move(tx, instance, target_id, mapping, actor, reason)
                if dry_run:
                    raise _DryRun(report)
                return report
        except _DryRun as done:
            return done.report
        except MigrationRefused as refused:
            return {"instance_id": instance_id, "ok": False, "moved": [], "tasks": [], "reason": refused.message}


def _move(tx: Tx, instance: ProcessInstance, target_id: int, mapping: dict[str, str], actor: str,
          reason: str) -> dict[str, Any]:
    step = tx.open_step(instance, actor, utcnow())
    step.keep_live = False  # its workflow's spec is rewritten in place: the next step loads the text
    source, target = tx.deployed(instance.deployment_id), tx.deployed(target_id)
    result = migrate(step.workflow, source.model, target.model, mapping, tx.codec.serializer.registry)
    instance.deployment_id = target.id
    step.model = target.model
    tasks = retarget_rows(step)
    forget_instance(step.session, instance.id)  # drafts of the old forms
    step.event("instance_migrated", {
        "from_version": source.version, "to_version": target.version, "from_deployment_id": source.id,
        "to_deployment_id": target.id, "mapping": mapping, "moved": result.moved, "tasks": tasks,
        "reason": reason})
    step.advance()
    return {"instance_id": instance.id, "ok": True, "moved": result.moved, "tasks": tasks, "reason": None}


def retarget_rows(step: Step) -> list[dict[str, Any]]:
    """Point the open task rows at the new version's nodes: name, lane, form and due date; a row
    whose lane changed loses its assignee. Returns what changed, per row."""
    rows = step.open_task_rows()  # the step's records: it writes them, and closes some of them later
    due = step.due_dates()
    changes = []
    for row in rows:
        task = step.spiff_task(row.spiff_task_id)
        bpmn_id = task.task_spec.bpmn_id
        info = step.model.user_tasks.get(bpmn_id)
        lane = (info.lane if info else None) or step.model.node_lanes.get(bpmn_id) or row.lane
        new = {"task": bpmn_id, "name": info.name if info else row.name, "lane": lane,
               "form": info.form_ref if info else row.form_ref,
               "assignee": row.assignee if lane == row.lane else None}
        old = {"task": row.task, "name": row.name, "lane": row.lane, "form": row.form_ref, "assignee": row.assignee}
        row.task, row.name, row.lane, row.form_ref, row.assignee = (new["task"], new["name"], new["lane"],
                                                                    new["form"], new["assignee"])
        row.due_at = due.get(bpmn_id)
        text = search_text(task.data, step.model.summary_keys)
        if text != row.search_text:
            row.search_text = text
            drop_terms(step.session, [row.id])
            write_terms(step.session, [(row.id, text)])
        if new != old:
            changes.append({"task_id": row.id, **new, "was": {k: v for k, v in old.items() if new[k] != v}})
    write_tasks(step.session, rows)  # what changed in each
    return changes


__all__ = ["MigrationCommands", "retarget_rows"]
