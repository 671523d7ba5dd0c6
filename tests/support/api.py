"""Helpers of the API tests: callers by session cookie or bearer token, and a check of EVERY
answer against the OpenAPI document (the status must be documented for that route and method,
and the body must match the documented schema), so the document cannot drift from the code."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from werkzeug.exceptions import HTTPException

from engine.access.users import create_token
from tests.support.web import CSRF_META, Client
from webapp.openapi import document, openapi_path

DOC_URI = "urn:tourflow:openapi"
COMPLAINT_PROCESS = "complaint_handling"


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


class DocChecker:
    def __init__(self, app):
        self.app = app
        self.doc = document(app)
        self.registry = Registry().with_resource(DOC_URI, Resource(contents=self.doc, specification=DRAFT202012))

    def validate(self, body: Any, pointer: str) -> None:
        validator = Draft202012Validator({"$ref": f"{DOC_URI}#/{pointer}"}, registry=self.registry)
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        assert not errors, f"body does not match #{pointer}: {errors[0].message} at {list(errors[0].absolute_path)}"

    def check(self, method: str, url: str, response) -> None:
        assert response.mimetype == "application/json", (
            f"{method} {url} answered {response.status_code} {response.mimetype}: {response.get_data(as_text=True)[:300]}")
        body = response.get_json()
        assert "Traceback" not in response.get_data(as_text=True)
        adapter = self.app.url_map.bind("localhost")
        try:
            rule, _ = adapter.match(urlsplit(url).path, method=method, return_rule=True)
        except HTTPException:  # no such route or method: an error body all the same
            assert response.status_code in (404, 405)
            self.validate(body, "components/schemas/Error")
            return
        path, _ = openapi_path(rule)
        operation = self.doc["paths"][path][method.lower()]
        status = str(response.status_code)
        assert status in operation["responses"], (
            f"{method} {path} answered {status}, which its OpenAPI operation does not document: {body}")
        answer = operation["responses"][status]
        if "$ref" in answer:
            self.validate(body, answer["$ref"].removeprefix("#/") + "/content/application~1json/schema")
        else:
            self.validate(body, _pointer("paths", path, method.lower(), "responses", status, "content",
                                         "application/json", "schema"))


class Caller:
    """Calls the API as one user (session or token) or anonymously; checks each answer."""

    def __init__(self, checker: DocChecker, http, csrf: str | None = None, token: str | None = None,
                 language: str | None = None):
        self.checker = checker
        self.http = http
        self.csrf = csrf
        self.token = token
        self.language = language  # sent as Accept-Language: the API answers in it

    def call(self, method: str, url: str, json: Any = None, *, data: Any = None, csrf: bool = True,
             headers: dict[str, str] | None = None, content_type: str | None = None):
        sent = dict(headers or {})
        if self.token is not None:
            sent.setdefault("Authorization", f"Bearer {self.token}")
        if self.language is not None:
            sent.setdefault("Accept-Language", self.language)
        if csrf and self.csrf is not None and method != "GET":
            sent.setdefault("X-CSRFToken", self.csrf)
        kwargs: dict[str, Any] = {"method": method, "headers": sent}
        if data is not None:
            kwargs["data"] = data
            kwargs["content_type"] = content_type or "application/json"
        elif json is not None:
            kwargs["json"] = json
        response = self.http.open(url, **kwargs)
        self.checker.check(method, url, response)
        return response

    def get(self, url: str, **kw):
        return self.call("GET", url, **kw)

    def post(self, url: str, json: Any = None, **kw):
        return self.call("POST", url, json, **kw)


class Api:
    """api.as_("agent1").get(...), api.bearer(token).post(...), api.anonymous().get(...).
    `language` ("en", "zh"): every call asks for it (Accept-Language); None sends none (Chinese)."""

    def __init__(self, app, runtime, language: str | None = None):
        self.app = app
        self.runtime = runtime
        self.language = language
        self.checker = DocChecker(app)
        self._sessions: dict[str, Caller] = {}

    def as_(self, username: str) -> Caller:
        """A logged-in browser session; keeps the CSRF token of the login page (valid for the session)."""
        if username not in self._sessions:
            client = Client(self.app, None)
            page = client.http.get("/login").get_data(as_text=True)
            csrf = CSRF_META.search(page).group(1)
            response = client.http.post("/login", data={"username": username, "password": username,
                                                        "csrf_token": csrf})
            assert response.status_code == 302, f"login of {username} failed"
            self._sessions[username] = Caller(self.checker, client.http, csrf=csrf, language=self.language)
        return self._sessions[username]

    def anonymous(self) -> Caller:
        return Caller(self.checker, self.app.test_client(), language=self.language)

    def token_for(self, username: str, label: str = "test") -> str:
        with self.runtime.db.write() as session, session.begin():
            return create_token(session, username, label)

    def bearer(self, token_or_user: str) -> Caller:
        token = token_or_user if token_or_user.startswith("tf_") else self.token_for(token_or_user)
        return Caller(self.checker, self.app.test_client(), token=token, language=self.language)

    # ---- shortcuts used by several test modules -------------------------------------------
    def start(self, username: str = "agent1", **body) -> dict:
        response = self.as_(username).post(f"/api/v1/processes/{COMPLAINT_PROCESS}/instances", body or None)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def open_task(self, instance_id: int, task: str) -> dict:
        items = self.as_("auditor1").get(f"/api/v1/instances/{instance_id}/tasks").get_json()["items"]
        found = [t for t in items if t["task"] == task and t["state"] == "ready"]
        assert found, f"{task} is not open; tasks: {[(t['task'], t['state']) for t in items]}"
        return found[0]
