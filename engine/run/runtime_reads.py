"""The Runtime's reads: tasks, one task, an instance, its diagram states, forms and events."""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Select, bindparam, select

from engine.access import policy
from engine.access.logins import Limits
from engine.access.policy import Viewer, lane_access
from engine.access.users import token_holder_unless_blocked
from engine.bpmn.vocabulary import vocabulary
from engine.errors import NotFound
from engine.limits import BoundedCache
from engine.plugins.catalogue import handler_catalogue
from engine.run import versions
from engine.run.core import EngineCore
from engine.run.instance_access import require_viewable
from engine.run.prune import pruned_done
from engine.run.rows import instance_dict, instance_row, task_dict, task_row, viewer_named
from engine.store import audit
from engine.store.models import CurrentVersion, Deployment, HumanTask, ProcessInstance
from engine.store.states import HumanTaskState

# `tasks` statements by shape (filters used; the viewer's lanes and attributes, which lane_access writes
# into the statement), built once: building one costs more than running it.
_TASK_QUERIES: BoundedCache[tuple, Select] = BoundedCache(256)


def _task_query(lane: bool, instance: bool, viewer: Viewer | None) -> Select:
    # The table's columns, not the entity: rows for task_dict, run on the connection (no ORM objects made).
    query = select(*HumanTask.__table__.columns).where(HumanTask.state == bindparam("state"))
    if lane:
        query = query.where(HumanTask.lane == bindparam("lane"))
    if instance:
        query = query.where(HumanTask.instance_id == bindparam("instance_id"))
    if viewer is not None:
        query = query.where(lane_access(viewer))
        query = query.where((HumanTask.assignee.is_(None)) | (HumanTask.assignee == bindparam("user")))
    return query.order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id)


class RuntimeReads(EngineCore):
    def tasks(self, lane: str | None = None, user: str | None = None, instance_id: int | None = None,
              state: str = HumanTaskState.READY) -> list[dict[str, Any]]:
        with self.reading() as session:
            viewer = viewer_named(session, user) if user else None
            params: dict[str, Any] = {"state": state}
            if lane:
                params["lane"] = lane
            if instance_id is not None:
                params["instance_id"] = instance_id
            if viewer is not None:
                params["user"] = user
            shape = (bool(lane), instance_id is not None, viewer and (viewer.roles, tuple(sorted(viewer.attributes.items()))))
            query = _TASK_QUERIES.get(shape)
            if query is None:
                query = _task_query(bool(lane), instance_id is not None, viewer)
                _TASK_QUERIES.put(shape, query)
            return [task_dict(row) for row in session.connection().execute(query, params)]

    def task(self, task_id: int, viewer: Viewer | None = None) -> dict[str, Any]:
        """One task with its documentation and form; given a viewer, NotAllowed unless they may read it."""
        with self.reading() as session:
            row = task_row(session, task_id)
            if viewer is not None:
                policy.refuse_if(policy.read_task_refusal(viewer, row))
            result = task_dict(row)
            deployment = self.deployed(session, session.get(ProcessInstance, row.instance_id).deployment_id)
            info = deployment.model.user_tasks.get(row.task)
            result["documentation"] = info.documentation if info else ""
            result["form"] = deployment.forms.get(row.form_ref) if row.form_ref else None
            # SpiffArena's UI schema (ui:order, ui:widget, ...): how the task page draws the form
            result["ui_schema"] = deployment.forms.get(info.ui_ref) if info and info.ui_ref else None
            return result

    # The reads of one instance take the acting user (`viewer`), refused unless the policy lets them
    # see it (engine/run/instance_access.py); None is a trusted caller (the CLI, the engine).
    def show(self, instance_id: int, viewer: Viewer | None = None) -> dict[str, Any]:
        with self.reading() as session:
            require_viewable(session, viewer, instance_id)
            instance = instance_row(session, instance_id)
            return instance_dict(instance, self.deployed(session, instance.deployment_id).version)

    def instance_forms(self, instance_id: int, viewer: Viewer | None = None) -> dict[str, Any]:
        """The form schemas of an instance's process version (form ref -> JSON Schema), e.g. for labels."""
        with self.reading() as session:
            require_viewable(session, viewer, instance_id)
            return self.deployed(session, instance_row(session, instance_id).deployment_id).forms

    def node_states(self, instance_id: int, viewer: Viewer | None = None) -> dict[str, Any]:
        """The instance's diagram: its BPMN XML and which nodes are completed, active or failed."""
        with self.reading() as session:
            require_viewable(session, viewer, instance_id)
            instance = instance_row(session, instance_id)
            deployment = self.deployed(session, instance.deployment_id)
            workflow = self.codec.loads(instance.serialized, deployment.model)
            xml = session.get(Deployment, deployment.id).bpmn_xml
        groups = {"completed": TaskState.COMPLETED, "active": TaskState.READY | TaskState.WAITING | TaskState.STARTED,
                  "failed": TaskState.ERROR}
        nodes = {}
        for name, mask in groups.items():
            ids = {t.task_spec.bpmn_id for t in workflow.get_tasks(state=mask) if t.task_spec.bpmn_id}
            nodes[name] = sorted(ids & set(deployment.model.node_names))
        done = (set(nodes["completed"]) | pruned_done(workflow)) & set(deployment.model.node_names)
        nodes["completed"] = sorted(done - set(nodes["active"]) - set(nodes["failed"]))
        return {"process": deployment.process_id, "version": deployment.version, "bpmn_xml": xml, "nodes": nodes}

    def deployment_xml(self, process_id: str, version: int) -> str:
        with self.reading() as session:
            xml = session.execute(select(Deployment.bpmn_xml).where(
                Deployment.process_id == process_id, Deployment.version == version)).scalar_one_or_none()
        if xml is None:
            raise NotFound(f"process {process_id!r} has no version {version}", key="process.no_version",
                           params={"process": process_id, "version": version})
        return xml

    def version_diff(self, process_id: str, old: int, new: int) -> dict[str, Any]:
        """Nodes, flows, forms and shapes that changed from version `old` to `new`."""
        with self.reading() as session:
            return versions.diff(session, process_id, old, new)

    def startable(self, username: str) -> list[dict[str, Any]]:
        """The current version of each process whose start lane the user holds."""
        with self.reading() as session:
            viewer = viewer_named(session, username)
            result = []
            for deployment in self.catalog.current_of_each(session):
                lane = deployment.model.start_lane
                if lane and policy.start_refusal(viewer, lane) is None:
                    result.append({"process_id": deployment.process_id, "name": deployment.model.name,
                                   "version": deployment.version, "lane": lane})
            return sorted(result, key=lambda p: p["process_id"])

    def process_vocabulary(self) -> dict[str, dict[str, list[str]]]:
        """The message names and handlers of every process's current version, each with the
        processes that declare (call) it."""
        found: dict[str, dict[str, set[str]]] = {"messages": {}, "handlers": {}}
        with self.reading() as session:
            rows = session.execute(select(Deployment.process_id, Deployment.filename, Deployment.bpmn_xml)
                                   .join(CurrentVersion, CurrentVersion.deployment_id == Deployment.id)).all()
        for process_id, filename, xml in rows:
            words = vocabulary(xml.encode("utf-8"), filename)
            for kind, names in (("messages", words.messages), ("handlers", words.handlers)):
                for name in names:
                    found[kind].setdefault(name, set()).add(process_id)
        return {kind: {name: sorted(ids) for name, ids in sorted(names.items())} for kind, names in found.items()}

    def handlers(self) -> list[dict[str, Any]]:
        """The handler catalogue, each handler with the processes whose current version calls it."""
        used = self.process_vocabulary()["handlers"]
        return [{**h, "used_by": used.get(h["name"], [])} for h in handler_catalogue()]

    def events(self, instance_id: int, viewer: Viewer | None = None) -> list[dict[str, Any]]:
        with self.reading() as session:
            require_viewable(session, viewer, instance_id)
            return [audit.event_dict(e) for e in audit.events_of(session, instance_id)]

    def bearer_token_holder(self, digest: str, address: str, limits: Limits
                            ) -> tuple[tuple[Viewer, str] | None, int | None]:
        """`token_holder_unless_blocked` for the API's bearer token, which every API request checks: its
        Core statements on a plain connection, without an ORM session around them (about a third of the
        check's cost). Ended by COMMIT on PostgreSQL, as `reading` ends a read (its prepared statements stay)."""
        with self.db.engine.connect() as connection:
            answer = token_holder_unless_blocked(connection, digest, address, limits)  # type: ignore[arg-type]
            if not self.db.is_sqlite:
                connection.commit()
            return answer


__all__ = ["RuntimeReads"]
