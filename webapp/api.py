"""The JSON API under /api/v1: everything the pages do, for scripts and other tools.

Who is asking: `Authorization: Bearer <token>` (see `tourflow token create`), else the session
cookie of a logged-in browser. With the cookie, every POST needs the `X-CSRFToken` header (the
token of the page's `<meta name="csrf-token">`); a bearer token needs none, since a browser never
sends one on its own. Not logged in: 401. Auditors read everything and change nothing (every
POST: 403). Everyone else acts only in the lanes their roles hold (the engine checks: 403).

Every error is a JSON body `{"error": code, "message": ..., "field": ...}` (webapp/errors.py and
`ApiError` below); `validation_error` (422) adds `errors`, one per bad field.

The OpenAPI document (`GET /api/v1/openapi.json`) is built from this blueprint's url rules and
the operation notes in webapp/openapi.py, so a route cannot exist undocumented.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify, request, url_for
from flask_login import current_user

from engine.access import policy
from engine.access.policy import Capability
from engine.errors import FormInvalid, NotAllowed, NotFound, TaskConflict, TourflowError
from engine.limits import (
    KEY_MAX,
    MESSAGE_NAME_MAX,
    NAME_MAX,
    PAGE_MAX,
    BadJson,
    check_data,
    check_reason,
    check_text,
    parse_json,
)
from engine.run import incidents, queries
from engine.store.states import MessageState
from webapp import privacy, runtime
from webapp.audit import check_viewable
from webapp.auth import capability_required, csrf, load_user_from_token
from webapp.errors import error_body

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # checked in `authenticate` below: for cookie sessions only, never for bearer tokens

PUBLIC_ENDPOINTS = frozenset({"api.openapi"})
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off", ""})
SORTS = ("due", "age")
BUSINESS_KEY_MAX = KEY_MAX


class ApiError(Exception):
    """An API answer other than the engine's errors: 401, bad JSON."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    response = jsonify(error_body(exc.code, exc.message, exc.field))
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="tourflow"'
    return response, exc.status


def invalid(field: str, message: str) -> FormInvalid:
    """A 422 naming one field, shaped like the form validation errors."""
    return FormInvalid(f"field '{field}': {message}", field=field, errors=[{"field": field, "message": message}])


@bp.before_request
def authenticate():
    """401 unless a valid bearer token or session; CSRF for sessions; auditors change nothing."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        # A presented token decides alone, even beside a session cookie: a bad token is a 401.
        user = load_user_from_token(request)  # sets g.token_auth when the token is good
        if user is None:
            raise ApiError(401, "unauthorized", "the bearer token is unknown or revoked")
        g._login_user = user  # what flask_login.current_user answers for this request
    elif header:
        raise ApiError(401, "unauthorized", "only 'Authorization: Bearer <token>' is understood")
    elif not current_user.is_authenticated:
        raise ApiError(401, "unauthorized", "log in or send 'Authorization: Bearer <token>'")
    mutating = request.method in MUTATING
    if mutating and not g.get("token_auth") and current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()  # raises CSRFError -> 400 {"error": "csrf_failed"} (webapp/errors.py)
    if mutating and current_user.read_only:
        raise NotAllowed("auditors read everything and change nothing")
    return None


@bp.after_request
def _no_store(response):
    """Answers carry customers' data: no shared or browser caches keep them."""
    response.headers.setdefault("Cache-Control", "no-store")
    return response


# ---- helpers ---------------------------------------------------------------------------
def _db():
    return runtime().db


def _me() -> str:
    return current_user.username


def _body() -> dict[str, Any]:
    """The request body as a JSON object; an empty body is {}. Anything else is a 400, and a value
    the store cannot keep (engine/limits.py: surrogates, 64-bit integers, depth) a 422."""
    if request.mimetype in FORM_TYPES:
        raise ApiError(400, "invalid_json", "send the body as JSON (Content-Type: application/json)")
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        value = parse_json(raw)
    except BadJson as exc:
        raise ApiError(400, "invalid_json", f"the request body is {exc.message}") from None
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_json", "the request body must be a JSON object")
    check_data(value, text_max=None)  # each field's length: its own check, or the engine's for data
    return value


def _bool_arg(name: str) -> bool:
    value = request.args.get(name)
    if value is None:
        return False
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    raise invalid(name, "must be true or false")


def _int_arg(name: str, default: int, low: int, high: int | None = None) -> int:
    value = request.args.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise invalid(name, "must be an integer") from None
    if number < low or (high is not None and number > high):
        raise invalid(name, f"must be between {low} and {high}" if high is not None else f"must be at least {low}")
    return number


def _text_arg(name: str) -> str | None:
    return request.args.get(name) or None


def _inbox_filter() -> queries.InboxFilter:
    sort = request.args.get("sort") or "due"
    if sort not in SORTS:
        raise invalid("sort", f"must be one of {', '.join(SORTS)}")
    return queries.InboxFilter(
        lane=_text_arg("lane"), process=_text_arg("process"), desk=_text_arg("desk"),
        overdue=_bool_arg("overdue"), mine=_bool_arg("mine"), unclaimed=_bool_arg("unclaimed"),
        page=_int_arg("page", 1, 1, PAGE_MAX),
        per_page=_int_arg("per_page", current_app.config.get("PER_PAGE", 25), 1, queries.PER_PAGE_MAX),
        sort=sort,
    )


def _open_tasks(instance_id: int) -> list[dict[str, Any]]:
    with _db().read() as session:
        return [t for t in queries.instance_tasks(session, instance_id) if t["state"] == "ready"]


# ---- who am I ----------------------------------------------------------------------------
@bp.get("/me")
def me():
    return {"username": current_user.username, "display_name": current_user.display_name,
            "roles": sorted(current_user.roles), "read_only": current_user.read_only,
            "auth": "token" if g.get("token_auth") else "session"}


# ---- tasks -------------------------------------------------------------------------------
@bp.get("/tasks")
def list_tasks():
    flt = _inbox_filter()
    with _db().read() as session:
        result = queries.inbox(session, current_user.viewer, flt)
    return jsonify({**result, "items": privacy.rows(result["items"], "instance_id")})


@bp.get("/tasks/<int:task_id>")
def get_task(task_id: int):
    task = runtime().task(task_id, current_user.viewer)
    return privacy.task(task, privacy.masker(task["instance_id"]))


@bp.post("/tasks/<int:task_id>/claim")
def claim_task(task_id: int):
    _body()
    runtime().claim(task_id, _me())
    return runtime().task(task_id)


@bp.post("/tasks/<int:task_id>/unclaim")
def unclaim_task(task_id: int):
    _body()
    runtime().unclaim(task_id, _me())
    return runtime().task(task_id)


@bp.post("/tasks/<int:task_id>/reassign")
def reassign_task(task_id: int):
    body = _body()
    unknown = sorted(set(body) - {"to", "reason"})
    if unknown:
        raise invalid(unknown[0], "unknown field (expected: to, reason)")
    to_user, reason = body.get("to"), body.get("reason")
    if not isinstance(to_user, str) or not to_user.strip():
        raise invalid("to", "the user name to hand the task to is required")
    if not isinstance(reason, str) or not reason.strip():
        raise invalid("reason", "a reason is required to reassign a task")
    check_text("to", to_user, NAME_MAX)
    check_reason(reason)
    task = policy.TaskFacts.of(runtime().task(task_id))
    policy.refuse_if(policy.assignment_refusal(current_user.viewer, task, "reassign"))  # 403 before the target
    with _db().read() as session:
        target = policy.viewer_named(session, to_user.strip())
    if target is None:
        raise invalid("to", f"unknown or inactive user {to_user.strip()!r}")
    refusal = policy.reassign_target_refusal(target, task)
    if refusal:
        raise invalid("to", refusal)
    runtime().reassign(task_id, _me(), to_user.strip(), reason)
    return runtime().task(task_id)


@bp.post("/tasks/<int:task_id>/complete")
def complete_task(task_id: int):
    data = _body()
    instance = runtime().complete(task_id, _me(), data)
    mask = privacy.masker(instance["id"])
    return {"instance": mask(instance), "open_tasks": [privacy.task(t, mask) for t in _open_tasks(instance["id"])]}


# ---- processes and instances -----------------------------------------------------------
@bp.get("/processes")
def list_startable():
    return {"items": runtime().startable(_me())}


@bp.post("/processes/<process_id>/instances")
def start_instance(process_id: str):
    body = _body()
    unknown = sorted(set(body) - {"data", "business_key"})
    if unknown:
        raise invalid(unknown[0], "unknown field (expected: data, business_key)")
    data = body.get("data")
    if data is not None and not isinstance(data, dict):
        raise invalid("data", "must be a JSON object")
    key = body.get("business_key")
    if key is not None and (not isinstance(key, str) or not key.strip() or len(key) > BUSINESS_KEY_MAX):
        raise invalid("business_key", f"must be a non-empty string of at most {BUSINESS_KEY_MAX} characters")
    instance_id = runtime().start(process_id, data or {}, actor=_me(), business_key=key)
    response = jsonify(runtime().show(instance_id))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_instance", instance_id=instance_id)
    return response


@bp.get("/instances")
def list_instances():
    """The instances I may see (as on the instances page), newest first."""
    status = _text_arg("status")
    if status is not None and status not in queries.INSTANCE_STATUSES:
        raise invalid("status", f"must be one of {', '.join(queries.INSTANCE_STATUSES)}")
    page = _int_arg("page", 1, 1, PAGE_MAX)
    per_page = _int_arg("per_page", current_app.config.get("PER_PAGE", 25), 1, queries.PER_PAGE_MAX)
    with _db().read() as session:
        result = queries.instances(session, current_user.viewer, process=_text_arg("process"), status=status,
                                   page=page, per_page=per_page)
    return {**result, "items": privacy.rows(result["items"])}


@bp.get("/instances/<int:instance_id>")
def get_instance(instance_id: int):
    check_viewable(instance_id)
    return privacy.masker(instance_id)(runtime().show(instance_id))


@bp.get("/instances/<int:instance_id>/events")
def instance_events(instance_id: int):
    check_viewable(instance_id)
    return {"items": privacy.events(runtime().events(instance_id), privacy.masker(instance_id))}


@bp.get("/instances/<int:instance_id>/tasks")
def instance_tasks(instance_id: int):
    check_viewable(instance_id)
    with _db().read() as session:
        items = queries.instance_tasks(session, instance_id)
    mask = privacy.masker(instance_id)
    return {"items": [privacy.task(t, mask) for t in items]}


@bp.get("/instances/<int:instance_id>/diagram")
def instance_diagram(instance_id: int):
    """The BPMN XML of the instance's version and its completed/active/failed nodes (for bpmn-js)."""
    check_viewable(instance_id)
    return runtime().node_states(instance_id)


# ---- incidents -----------------------------------------------------------------------------
@bp.get("/incidents")
def list_incidents():
    """Open incidents I may see (my lanes; supervisors, owners and auditors: all), newest first."""
    with _db().read() as session:
        items = incidents.open_incidents(session, current_user.viewer, process=_text_arg("process"))
    return {"items": privacy.rows(items, "instance_id"), "total": len(items)}


def _incident(instance_id: int) -> dict[str, Any]:
    """The open incident of an instance as I see it: 404 unknown instance, 403 not mine to see."""
    check_viewable(instance_id)
    with _db().read() as session:
        return incidents.incident_of(session, instance_id, current_user.viewer)


@bp.get("/instances/<int:instance_id>/incident")
def get_incident(instance_id: int):
    incident = _incident(instance_id)
    if incident is None:
        raise NotFound(f"instance {instance_id} has no open incident")
    return privacy.masker(instance_id)(incident)


@bp.post("/instances/<int:instance_id>/incident/resolve")
def resolve_incident(instance_id: int):
    """Run the failed step again, with `data` written into it first when given."""
    body = _body()
    incident = _incident(instance_id)
    if incident is not None and not incident["can_resolve"]:  # 403 before the body is judged
        raise NotAllowed(f"the incident of instance {instance_id} is for lane {incident['lane']!r}; "
                         f"your roles ({', '.join(sorted(current_user.roles)) or 'none'}) may not resolve it")
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
        raise TaskConflict(f"instance {instance_id} has no open incident (status {status})")
    return runtime().resolve_incident(instance_id, _me(), reason, data)


@bp.get("/processes/<process_id>/versions/<int:version>/diagram")
@capability_required(Capability.READ_DEFINITIONS)
def process_diagram(process_id: str, version: int):
    """One deployed version's BPMN XML; `nodes` is empty (no instance)."""
    xml = runtime().deployment_xml(process_id, version)
    return {"process": process_id, "version": version, "bpmn_xml": xml,
            "nodes": {"completed": [], "active": [], "failed": []}}


@bp.get("/processes/<process_id>/versions/<int:version>/heatmap")
@capability_required(Capability.READ_HEATMAP)
def process_heatmap(process_id: str, version: int):
    """Per node of one version: instances that passed it, median and p90 seconds spent there."""
    from engine.history.heatmap import heatmap

    return heatmap(runtime(), process_id, version)


@bp.get("/deployments")
@capability_required(Capability.READ_DEFINITIONS)
def list_deployments():
    with _db().read() as session:
        return {"items": queries.deployments(session)}


@bp.post("/deployments")
@capability_required(Capability.DEPLOY)
def deploy():
    """Deploy an uploaded .bpmn (multipart field `files`, with any *.schema.json forms)."""
    from engine.run.deployments import deploy_upload

    files = [(f.filename or "", f.read()) for f in request.files.getlist("files")]
    if not files:
        raise invalid("files", "upload a .bpmn file (multipart field 'files')")
    with _db().write() as session, session.begin():
        result = deploy_upload(session, files, _me())
    body = {"process_id": result.process_id, "version": result.version,
            "deployment_id": result.deployment_id, "created": result.created}
    return body, 201 if result.created else 200


# ---- the description of all of the above ------------------------------------------------
MESSAGE_FIELDS = ("name", "correlation_key", "data", "message_ref", "ttl_seconds")
MESSAGE_STATES = tuple(MessageState)


@bp.post("/messages")
def send_message():
    """Correlate a message: to the instance waiting under its key, a process it starts, or the buffer."""
    policy.require_capability(current_user.viewer, Capability.SEND_MESSAGES)
    body = _body()
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
        result = runtime().message(name, body.get("correlation_key"), data or {}, actor=_me(),
                                   message_ref=body.get("message_ref"), ttl_seconds=ttl)
    except TourflowError as exc:
        if isinstance(exc, NotFound | TaskConflict | NotAllowed | FormInvalid):
            raise
        raise invalid("ttl_seconds" if "ttl" in str(exc) else "data", str(exc)) from None
    response = jsonify(result)
    response.status_code = 202 if result["state"] == "buffered" else 200
    return response


@bp.get("/messages")
def list_messages():
    """Routed messages, newest first; `state=buffered` shows those still waiting for an instance."""
    policy.require_capability(current_user.viewer, Capability.READ_MESSAGES)
    state = _text_arg("state")
    if state is not None and state not in MESSAGE_STATES:
        raise invalid("state", f"must be one of {', '.join(MESSAGE_STATES)}")
    limit = _int_arg("limit", 200, 1, 1000)
    return {"items": runtime().messages(state=state, name=_text_arg("name"), key=_text_arg("key"), limit=limit)}


@bp.get("/openapi.json")
def openapi():
    from webapp.openapi import document

    cached = current_app.extensions.get("tourflow_openapi")
    if cached is None:
        cached = current_app.extensions["tourflow_openapi"] = document(current_app)
    return jsonify(cached)


# The auditor's endpoints (trail, replay, chains, search) live beside this module, on this blueprint;
# so does the KPI report of the /reports page (api_reports).
from webapp import api_audit, api_reports  # noqa: E402,F401
