"""/api/v1 processes to start, instances (start, list, show, events, tasks, diagram) and incidents."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, url_for
from flask_login import current_user

from engine.errors import NotAllowed, NotFound, TaskConflict
from engine.limits import ID_MAX, KEY_MAX, PAGE_MAX, check_reason
from engine.run import incidents, queries
from engine.run.delivery_incidents import delivery_incidents
from webapp import privacy
from webapp.api_args import Routes, actor, int_arg, invalid, json_body, text_arg
from webapp.app_state import runtime
from webapp.audit import check_viewable

BUSINESS_KEY_MAX = KEY_MAX
routes = Routes()


# ---- processes and instances -----------------------------------------------------------
@routes.get("/processes")
def list_startable():
    return {"items": runtime().startable(actor())}


@routes.post("/processes/<process_id>/instances")
def start_instance(process_id: str):
    body = json_body()
    unknown = sorted(set(body) - {"data", "business_key", "version"})
    if unknown:
        raise invalid(unknown[0], "unknown field (expected: data, business_key, version)")
    data = body.get("data")
    if data is not None and not isinstance(data, dict):
        raise invalid("data", "must be a JSON object")
    key = body.get("business_key")
    if key is not None and (not isinstance(key, str) or not key.strip() or len(key) > BUSINESS_KEY_MAX):
        raise invalid("business_key", f"must be a non-empty string of at most {BUSINESS_KEY_MAX} characters")
    version = body.get("version")
    if version is not None and (type(version) is not int or not 0 < version <= ID_MAX):
        raise invalid("version", "must be a positive integer (a deployed version; omit it for the current one)")
    answer = runtime().start_answered(process_id, data or {}, actor=actor(), business_key=key, version=version)
    instance_id = answer["instance"]["id"]
    # the instance as GET /instances/<id> shows it, and the starter's first tasks: no read after the start
    instance, open_tasks = privacy.step_answer(answer)
    response = jsonify({**instance, "open_tasks": open_tasks})
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_instance", instance_id=instance_id)
    return response


@routes.get("/instances")
def list_instances():
    """The instances I may see (as on the instances page), newest first."""
    status = text_arg("status")
    if status is not None and status not in queries.INSTANCE_STATUSES:
        raise invalid("status", f"must be one of {', '.join(queries.INSTANCE_STATUSES)}")
    page = int_arg("page", 1, 1, PAGE_MAX)
    per_page = int_arg("per_page", current_app.config.get("PER_PAGE", 25), 1, queries.PER_PAGE_MAX)
    with runtime().reading() as session:
        result = queries.instances(session, current_user.viewer, process=text_arg("process"), status=status,
                                   page=page, per_page=per_page)
    return {**result, "items": privacy.rows(result["items"])}


@routes.get("/instances/<int:instance_id>")
def get_instance(instance_id: int):
    instance = runtime().show(instance_id, current_user.viewer)
    return privacy.masker(instance_id)(instance)


@routes.get("/instances/<int:instance_id>/events")
def instance_events(instance_id: int):
    events = runtime().events(instance_id, current_user.viewer)
    return {"items": privacy.events(events, privacy.masker(instance_id))}


@routes.get("/instances/<int:instance_id>/tasks")
def instance_tasks(instance_id: int):
    check_viewable(instance_id)
    with runtime().reading() as session:
        items = queries.instance_tasks(session, instance_id)
    mask = privacy.masker(instance_id)
    return {"items": [privacy.task(t, mask) for t in items]}


@routes.get("/instances/<int:instance_id>/diagram")
def instance_diagram(instance_id: int):
    """The BPMN XML of the instance's version and its completed/active/failed nodes (for bpmn-js)."""
    return runtime().node_states(instance_id, current_user.viewer)


# ---- incidents -----------------------------------------------------------------------------
@routes.get("/incidents")
def list_incidents():
    """Open incidents I may see (my lanes; supervisors, owners and auditors: all), newest first."""
    with runtime().reading() as session:
        process = text_arg("process")
        items = incidents.open_incidents(session, current_user.viewer, process=process)
        deliveries = [d for d in delivery_incidents(session, current_user.viewer) if process in (None, d["process"])]
    return {"items": privacy.rows(items, "instance_id"), "total": len(items), "deliveries": deliveries}


def _incident(instance_id: int) -> dict[str, Any]:
    """The open incident of an instance as I see it: 404 unknown instance, 403 not mine to see."""
    check_viewable(instance_id)
    with runtime().reading() as session:
        return incidents.incident_of(session, instance_id, current_user.viewer)


@routes.get("/instances/<int:instance_id>/incident")
def get_incident(instance_id: int):
    incident = _incident(instance_id)
    if incident is None:
        raise NotFound(f"instance {instance_id} has no open incident", key="instance.no_incident",
                       params={"id": instance_id, "status": ""})
    return privacy.masker(instance_id)(incident)


@routes.post("/instances/<int:instance_id>/incident/resolve")
def resolve_incident(instance_id: int):
    """Run the failed step again, with `data` written into it first when given."""
    body = json_body()
    incident = _incident(instance_id)
    if incident is not None and not incident["can_resolve"]:  # 403 before the body is judged
        raise NotAllowed(f"the incident of instance {instance_id} is for lane {incident['lane']!r}; "
                         f"your roles ({', '.join(sorted(current_user.roles)) or 'none'}) may not resolve it",
                         key="access.incident_lane", params={"user": current_user.username, "lane": incident["lane"]})
    unknown = sorted(set(body) - {"reason", "data"})
    if unknown:
        raise invalid(unknown[0], "unknown field (expected: reason, data)")
    reason, data = body.get("reason"), body.get("data")
    if not isinstance(reason, str) or not reason.strip():
        raise invalid("reason", "a reason is required to resolve an incident")
    check_reason(reason)
    if data is not None and not isinstance(data, dict):
        raise invalid("data", "must be a JSON object or null")
    if incident is None:
        status = runtime().show(instance_id)["status"]
        raise TaskConflict(f"instance {instance_id} has no open incident (status {status})", key="instance.no_incident",
                           params={"id": instance_id, "status": status})
    return runtime().resolve_incident(instance_id, actor(), reason, data)


