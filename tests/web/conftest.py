"""Web fixtures: an app on the test database with P6 deployed, and logged-in clients per user."""

from __future__ import annotations

import re

import pytest

from engine.config import DEFAULT_PROCESSES_DIR
from tests.conftest import deploy
from webapp import create_app

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


@pytest.fixture
def app(runtime, db_url, tmp_path):
    deploy(runtime, DEFAULT_PROCESSES_DIR / "complaint_handling.bpmn")
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret", "DATABASE_URL": db_url})
    app.extensions["tourflow"]._runtime = runtime  # share the test's engine (same database)
    return app


class Client:
    """A logged-in browser-like client: keeps the cookie and the CSRF token of its session."""

    def __init__(self, app, username: str | None):
        self.http = app.test_client()
        self.username = username
        self.csrf = None
        if username:
            self.login(username, username)

    def token(self) -> str:
        if self.csrf is None:
            page = self.http.get("/login" if self.username is None else "/")
            self.csrf = CSRF_META.search(page.get_data(as_text=True)).group(1)
        return self.csrf

    def login(self, username: str, password: str):
        page = self.http.get("/login").get_data(as_text=True)
        token = CSRF_META.search(page).group(1)
        response = self.http.post("/login", data={"username": username, "password": password,
                                                  "csrf_token": token})
        assert response.status_code == 302, f"login of {username} failed: {response.status_code}"
        self.csrf = None
        return response

    def get(self, url, **kw):
        return self.http.get(url, **kw)

    def post(self, url, data=None, csrf=True, **kw):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.token())
        return self.http.post(url, data=data, **kw)

    def api(self, method: str, url: str, json=None, csrf=True):
        headers = {"X-CSRFToken": self.token()} if csrf and method != "GET" else {}
        return self.http.open(url, method=method, json=json, headers=headers)


@pytest.fixture
def client_for(app):
    """client_for("agent1") -> a Client logged in as agent1; client_for(None) -> anonymous."""
    return lambda username: Client(app, username)
