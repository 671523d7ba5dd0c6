"""Web fixtures: an app on the test database with P6 deployed, and logged-in clients per user."""

from __future__ import annotations

import pytest

from engine.config import DEFAULT_PROCESSES_DIR
from tests.support.web import Client
from tests.support.world import deploy
from webapp import create_app


@pytest.fixture
def app(runtime, db_url, tmp_path):
    deploy(runtime, DEFAULT_PROCESSES_DIR / "complaint_handling.bpmn")
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret", "DATABASE_URL": db_url})
    app.extensions["tourflow"].use_runtime(runtime)  # share the test's engine (same database)
    return app


@pytest.fixture
def client_for(app):
    """client_for("agent1") -> a Client logged in as agent1; client_for(None) -> anonymous."""
    return lambda username: Client(app, username)
