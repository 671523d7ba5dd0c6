"""The JSON API under /api/v1: everything the pages do, for scripts and other tools.

Who is asking: `Authorization: Bearer <token>` (see `tourflow token create`), else the session
cookie of a logged-in browser. With the cookie, every POST needs the `X-CSRFToken` header (the
token of the page's `<meta name="csrf-token">`); a bearer token needs none, since a browser never
sends one on its own. Not logged in: 401. Auditors read everything and change nothing (every
POST: 403). Everyone else acts only in the lanes their roles hold (the engine checks: 403).

Every error is a JSON body `{"error": code, "message": ..., "field": ...}` (webapp/errors.py and
`ApiError` in webapp/api_args.py); `validation_error` (422) adds `errors`, one per bad field.

This module holds the blueprint, who may ask, and the meta routes; each area's views are in their
own module (api_tasks, api_inbox, api_instances, api_processes, api_drafts, api_audit, api_reports) and are added here.
The OpenAPI document (`GET /api/v1/openapi.json`) is built from this blueprint's url rules and
the operation notes of webapp/openapi.py, so a route cannot exist undocumented.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify
from flask.globals import request_ctx
from flask_login import current_user

from engine.access.viewer import set_acting_viewer
from engine.errors import NotAllowed
from webapp import (
    api_alerts,
    api_audit,
    api_drafts,
    api_due,
    api_inbox,
    api_instances,
    api_lint,
    api_outbox,
    api_processes,
    api_reports,
    api_task_edits,
    api_tasks,
)
from webapp.api_args import ApiError, invalid
from webapp.auth import act_as, csrf, load_user_from_token
from webapp.errors import error_body
from webapp.openapi import document
from webapp.security_headers import add_unless_present

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # checked in `authenticate` below: for cookie sessions only, never for bearer tokens

PUBLIC_ENDPOINTS = frozenset({"api.openapi"})
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
AREAS = (api_tasks.routes, api_task_edits.routes, api_due.routes, api_outbox.routes, api_instances.routes,
         api_processes.routes, api_drafts.routes, api_audit.routes, api_reports.routes, api_lint.routes,
         api_inbox.routes, api_alerts.routes)
# POSTs that only read (a body too large for a query string): auditors may send them.
READING_POSTS = frozenset({"api.lint", "api.preview_form"})
__all__ = ["ApiError", "bp", "invalid"]

for area in AREAS:
    for rule, method, view in area.rules:
        bp.add_url_rule(rule, view_func=view, methods=[method])


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    response = jsonify(error_body(exc.code, exc.message, exc.field))
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="tourflow"'
    return response, exc.status


@bp.before_request
def authenticate():
    """401 unless a valid bearer token or session; CSRF for sessions; auditors change nothing."""
    req = request_ctx.request  # one context lookup, not one per attribute read (every API request)
    if req.endpoint in PUBLIC_ENDPOINTS:
        return None
    header = req.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        # A presented token decides alone, even beside a session cookie: a bad token is a 401.
        user = load_user_from_token(req)  # sets g.token_auth when the token is good
        if user is None:
            raise ApiError(401, "unauthorized", "the bearer token is unknown or revoked")
        act_as(user)
        token = True
    elif header:
        raise ApiError(401, "unauthorized", "only 'Authorization: Bearer <token>' is understood")
    else:
        user, token = current_user, False
        if not user.is_authenticated:
            raise ApiError(401, "unauthorized", "log in or send 'Authorization: Bearer <token>'")
    mutating = req.method in MUTATING
    if mutating and not token and current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()  # raises CSRFError -> 400 {"error": "csrf_failed"} (webapp/errors.py)
    if mutating and user.read_only and req.endpoint not in READING_POSTS:
        raise NotAllowed("auditors read everything and change nothing", key="access.auditor")
    set_acting_viewer(user.viewer)  # the engine's lane checks reuse it (cleared at teardown)
    return None


@bp.after_request
def _no_store(response):
    """Answers carry customers' data: no shared or browser caches keep them."""
    add_unless_present(response, "Cache-Control", "no-store")
    return response


# ---- who am I ----------------------------------------------------------------------------
@bp.get("/me")
def me():
    return {"username": current_user.username, "display_name": current_user.display_name,
            "roles": sorted(current_user.roles), "read_only": current_user.read_only,
            "auth": "token" if g.get("token_auth") else "session"}


@bp.get("/openapi.json")
def openapi():
    cached = current_app.extensions.get("tourflow_openapi")
    if cached is None:
        cached = current_app.extensions["tourflow_openapi"] = document(current_app)
    return jsonify(cached)
