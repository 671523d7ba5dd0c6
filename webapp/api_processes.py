"""/api/v1 process definitions (diagrams, heatmaps, deployments) and messages."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask_login import current_user

from engine.access import policy
from engine.access.policy import Capability
from engine.errors import FormInvalid, NotAllowed, NotFound, TaskConflict, TourflowError
from engine.history.heatmap import heatmap
from engine.limits import ID_MAX, KEY_MAX, MESSAGE_NAME_MAX
from engine.run import queries
from engine.run.deploy_set import deploy_together
from engine.store.states import MessageState
from webapp.api_args import Routes, actor, int_arg, invalid, json_body, text_arg
from webapp.app_state import runtime
from webapp.auth import capability_required

routes = Routes()


@routes.get("/processes/<process_id>/versions/<int:version>/diagram")
@capability_required(Capability.READ_DEFINITIONS)
def process_diagram(process_id: str, version: int):
    """One deployed version's BPMN XML; `nodes` is empty (no instance), or with `against=N` marks
    what differs from version N."""
    xml = runtime().deployment_xml(process_id, version)
    nodes: dict[str, list[str]] = {"completed": [], "active": [], "failed": []}
    against = int_arg("against", 0, 1, ID_MAX)
    if against:
        nodes.update(diff_marks(runtime().version_diff(process_id, against, version), newer=version > against))
    return {"process": process_id, "version": version, "bpmn_xml": xml, "nodes": nodes}


def diff_marks(diff: dict[str, Any], newer: bool) -> dict[str, list[str]]:
    """The elements of a diff's `to` version to mark: those only in it, and those changed."""
    only_here = [e["id"] for e in diff["added"]]
    return {"added" if newer else "removed": only_here, "changed": [c["id"] for c in diff["changed"]]}


@routes.get("/processes/<process_id>/versions/<int:version>/heatmap")
@capability_required(Capability.READ_HEATMAP)
def process_heatmap(process_id: str, version: int):
    """Per node of one version: instances that passed it, median and p90 seconds spent there."""
    return heatmap(runtime(), process_id, version)


@routes.get("/processes/<process_id>/versions/<int:version>/waiting")
@capability_required(Capability.READ_DEFINITIONS)
def waiting_nodes(process_id: str, version: int):
    """Where the running instances of one version wait: per node, how many (a migration's `waiting_at`)."""
    return {"process_id": process_id, "version": version, "items": runtime().waiting_nodes(process_id, version)}


@routes.get("/processes/<process_id>/diff")
@capability_required(Capability.READ_DEFINITIONS)
def process_diff(process_id: str):
    """What changed between two versions (`from`, `to`): nodes, flows, forms, moved shapes."""
    versions = {}
    for name in ("from", "to"):
        versions[name] = int_arg(name, 0, 1, ID_MAX)
        if not versions[name]:
            raise invalid(name, "is required: a deployed version number")
    return runtime().version_diff(process_id, versions["from"], versions["to"])


@routes.get("/handlers")
@capability_required(Capability.READ_DEFINITIONS)
def list_handlers():
    """The registered service-task handlers: what each does, its parameters, whether it writes."""
    return {"items": runtime().handlers()}


@routes.get("/deployments")
@capability_required(Capability.READ_DEFINITIONS)
def list_deployments():
    with runtime().reading() as session:
        return {"items": queries.deployments(session)}


@routes.post("/deployments")
@capability_required(Capability.DEPLOY)
def deploy():
    """Deploy uploaded .bpmn files or one .zip (multipart field `files`, with any *.schema.json forms),
    together: every executable process of every file, or nothing."""
    files = [(f.filename or "", f.read()) for f in request.files.getlist("files")]
    if not files:
        raise invalid("files", "upload .bpmn files or a .zip (multipart field 'files')")
    with runtime().transaction() as tx:
        results = deploy_together(tx.session, files, actor())
    each = [{"process_id": r.process_id, "version": r.version, "deployment_id": r.deployment_id,
             "created": r.created, "current": r.current} for r in results]
    return {**each[0], "deployments": each}, 201 if any(r.created for r in results) else 200


@routes.post("/processes/<process_id>/versions/<int:version>/activate")
@capability_required(Capability.DEPLOY)
def activate_version(process_id: str, version: int):
    """Start new instances on this version (a rollback, or forward again); body `{"reason": "..."}`."""
    body = json_body()
    unknown = sorted(set(body) - {"reason"})
    if unknown:
        raise invalid(unknown[0], "unknown field (expected: reason)")
    return runtime().activate_version(process_id, version, actor(), body.get("reason"))


MIGRATION_FIELDS = ("from", "to", "mapping", "instances", "waiting_at", "started_before", "started_after", "reason",
                    "dry_run")


@routes.post("/processes/<process_id>/migrations")
@capability_required(Capability.DEPLOY)
def migrate_instances(process_id: str):
    """Move running instances between versions (or, with `dry_run`, say what would move): all of
    them, or those the filter picks (`instances`, `waiting_at`, `started_before`, `started_after`)."""
    body = json_body()
    unknown = sorted(set(body) - set(MIGRATION_FIELDS))
    if unknown:
        raise invalid(unknown[0], f"unknown field (expected: {', '.join(MIGRATION_FIELDS)})")
    for name in ("from", "to"):
        if type(body.get(name)) is not int or not 0 < body[name] <= ID_MAX:
            raise invalid(name, "must be a deployed version number")
    if not isinstance(body.get("dry_run", False), bool):
        raise invalid("dry_run", "must be true or false")
    return runtime().migrate_instances(process_id, body["from"], body["to"], actor(), body.get("reason"),
                                       body.get("mapping"), body.get("instances"), body.get("dry_run", False),
                                       waiting_at=body.get("waiting_at"), started_before=body.get("started_before"),
                                       started_after=body.get("started_after"))


# ---- messages --------------------------------------------------------------------------
MESSAGE_FIELDS = ("name", "correlation_key", "data", "message_ref", "ttl_seconds")
MESSAGE_STATES = tuple(MessageState)


@routes.post("/messages")
def send_message():
    """Correlate a message: to the instance waiting under its key, a process it starts, or the buffer."""
    policy.require_capability(current_user.viewer, Capability.SEND_MESSAGES)
    body = json_body()
    unknown = sorted(set(body) - set(MESSAGE_FIELDS))
    if unknown:
        raise invalid(unknown[0], f"unknown field (expected: {', '.join(MESSAGE_FIELDS)})")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MESSAGE_NAME_MAX:
        raise invalid("name", f"must be a message name of 1 to {MESSAGE_NAME_MAX} characters")
    for field in ("correlation_key", "message_ref"):
        value = body.get(field)
        if value is not None and (not isinstance(value, str) or not value.strip() or len(value) > KEY_MAX):
            raise invalid(field, f"must be a non-empty string of at most {KEY_MAX} characters")
    data = body.get("data")
    if data is not None and not isinstance(data, dict):
        raise invalid("data", "must be a JSON object")
    ttl = body.get("ttl_seconds")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl <= 0):
        raise invalid("ttl_seconds", "must be a positive number of seconds")
    try:
        result = runtime().message(name, body.get("correlation_key"), data or {}, actor=actor(),
                                   message_ref=body.get("message_ref"), ttl_seconds=ttl)
    except TourflowError as exc:
        if isinstance(exc, NotFound | TaskConflict | NotAllowed | FormInvalid):
            raise
        raise invalid("ttl_seconds" if "ttl" in str(exc) else "data", str(exc)) from None
    response = jsonify(result)
    response.status_code = 202 if result["state"] == "buffered" else 200
    return response


@routes.get("/messages")
def list_messages():
    """Routed messages, newest first; `state=buffered` shows those still waiting for an instance."""
    policy.require_capability(current_user.viewer, Capability.READ_MESSAGES)
    state = text_arg("state")
    if state is not None and state not in MESSAGE_STATES:
        raise invalid("state", f"must be one of {', '.join(MESSAGE_STATES)}")
    limit = int_arg("limit", 200, 1, 1000)
    return {"items": runtime().messages(state=state, name=text_arg("name"), key=text_arg("key"), limit=limit)}


