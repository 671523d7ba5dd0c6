"""The Flask application factory: the task inbox, the JSON API and the `tourflow` CLI."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from engine.access.logins import Limits
from engine.config import database_url, instance_dir
from webapp.app_state import EXTENSION, Tourflow, runtime, tourflow
from webapp.flask_app import TourflowFlask

__all__ = ["create_app", "runtime", "tourflow"]


def shared_secret_key(folder: Path) -> str:
    """TOURFLOW_SECRET_KEY, else a random key kept in the instance folder (created 0600).

    Processes starting together (serve, its worker, CLI commands) may all find no key: each
    writes a complete candidate to its own file and hard-links it into place, so exactly one
    wins and nobody ever reads a half-written key."""
    key = os.environ.get("TOURFLOW_SECRET_KEY")
    if key:
        return key
    path = folder / "secret_key"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        candidate = folder / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
            with contextlib.suppress(FileExistsError):  # another process won: use its key
                os.link(candidate, path)
        finally:
            candidate.unlink(missing_ok=True)
    return path.read_text().strip()


def _env_number(name: str, default: float, minimum: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise SystemExit(f"{name} must be a number of at least {minimum:g}, not {raw!r}")
    return value


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    folder = instance_dir()
    app = TourflowFlask(__name__, instance_path=str(folder))
    secure = os.environ.get("TOURFLOW_SECURE_COOKIES", "").strip().lower() in {"1", "true", "yes", "on"}
    app.config.from_mapping(
        DATABASE_URL=database_url(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,  # the CSRF token lives in the session cookie too
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure,
        LOGIN_LIMITS=Limits(),
        SESSION_LIFETIME_HOURS=_env_number("TOURFLOW_SESSION_HOURS", 12, 0.01),
        WTF_CSRF_TIME_LIMIT=None,
        PER_PAGE=25,
        MAX_CONTENT_LENGTH=11 * 1024 * 1024,
    )
    if test_config:
        app.config.update(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = shared_secret_key(folder)
    app.extensions[EXTENSION] = Tourflow(app.config["DATABASE_URL"])
    hops = int(_env_number("TOURFLOW_PROXY_HOPS", 0, 0))
    if hops:  # behind that many reverse proxies: the client address (throttling) and scheme are theirs to say
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    register(app)
    return app


def register(app: Flask) -> None:
    """Extensions, request hooks and every blueprint, in the order they must run."""
    from webapp import (
        alerts_pages,
        api,
        audit,
        auth,
        drafts,
        due,
        errors,
        i18n,
        inbox,
        incidents,
        instances,
        modeler,
        outbox_pages,
        processes,
        reports,
        request_limits,
        saved_views,
        search,
        security_headers,
        tasks,
    )

    auth.init_app(app)
    i18n.init_app(app)
    errors.init_app(app)
    request_limits.init_app(app)  # ids in URLs, URI and JSON body caps: before the blueprints
    for blueprint in (auth.bp, inbox.bp, tasks.bp, instances.bp, incidents.bp, processes.bp, drafts.bp, modeler.bp, audit.bp,
                      search.bp, saved_views.bp, due.bp, alerts_pages.bp, outbox_pages.bp,
                      api.bp, reports.bp):  # reports: the KPI dashboard, /reports and its CSV export
        app.register_blueprint(blueprint)
    security_headers.init_app(app)  # CSP, no framing, no-store: on every answer, errors included

