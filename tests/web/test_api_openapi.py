"""The OpenAPI document of /api/v1: valid OpenAPI 3.1, and the same routes and methods as app.url_map."""

from __future__ import annotations

import pytest
from flask import Flask
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from tests.support.api import Api
from webapp.openapi import MUTATING, OPERATIONS, api_rules, document, openapi_path, rule_methods


@pytest.fixture
def api(app, runtime):
    return Api(app, runtime)


@pytest.fixture
def doc(app):
    return document(app)


def test_served_without_login_and_valid_openapi_3_1(app, api, doc):
    response = api.anonymous().get("/api/v1/openapi.json")
    assert response.status_code == 200
    served = response.get_json()
    assert served == doc
    assert served["openapi"].startswith("3.1")
    validate(served, cls=OpenAPIV31SpecValidator)
    for schema in served["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_every_api_rule_is_documented_with_its_methods(app, doc):
    rules = api_rules(app)
    assert len(rules) >= 17
    methods_by_path: dict[str, set[str]] = {}
    for rule in rules:
        methods_by_path.setdefault(openapi_path(rule)[0], set()).update(rule_methods(rule))
    for rule in rules:
        path, parameters = openapi_path(rule)
        assert path in doc["paths"], f"{rule.rule} is missing from the document"
        documented = {m.upper() for m in doc["paths"][path]}
        assert documented == methods_by_path[path], f"{rule.rule}: {documented} != {methods_by_path[path]}"
        for operation in doc["paths"][path].values():
            in_path = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert in_path == set(rule.arguments), rule.rule


def test_every_documented_operation_exists_in_url_map(app, doc):
    adapter = app.url_map.bind("localhost")
    routes: dict[tuple[str, str], str] = {}
    for rule in api_rules(app):
        for method in rule_methods(rule):
            routes[(openapi_path(rule)[0], method)] = rule.endpoint
    for path, operations in doc["paths"].items():
        sample = path.replace("{task_id}", "1").replace("{instance_id}", "1").replace("{version}", "1") \
            .replace("{process_id}", "p").replace("{draft_id}", "1").replace("{message_id}", "1")
        for method in operations:
            assert (path, method.upper()) in routes, f"{method} {path} is documented but not routed"
            endpoint, _ = adapter.match(sample, method=method.upper())
            assert endpoint == routes[(path, method.upper())]


def test_the_api_keeps_the_endpoint_names_the_pages_use(app):
    with app.test_request_context():
        from flask import url_for

        assert url_for("api.instance_diagram", instance_id=3) == "/api/v1/instances/3/diagram"
        assert url_for("api.process_diagram", process_id="p", version=2) == "/api/v1/processes/p/versions/2/diagram"


def test_operations_carry_errors_security_and_metadata(doc):
    ids = []
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            ids.append(op["operationId"])
            assert op["summary"] and op["tags"] and op["x-roles"], (method, path)
            statuses = set(op["responses"])
            public = op.get("security") == []
            assert public or "401" in statuses, (method, path)
            if "{" in path:
                assert "404" in statuses, (method, path)
            if method.upper() in MUTATING:
                assert {"400", "403"} <= statuses, (method, path)
                assert {"cookieAuth": [], "csrfHeader": []} in op["security"]
                assert {"bearerAuth": []} in op["security"]
            for status, answer in op["responses"].items():
                if status.startswith(("4", "5")):
                    assert answer == {"$ref": f"#/components/responses/E{status}"}
    assert len(ids) == len(set(ids))
    assert public_paths(doc) == ["/api/v1/openapi.json"]
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert (schemes["cookieAuth"]["in"], schemes["cookieAuth"]["name"]) == ("cookie", "session")
    assert doc["paths"]["/api/v1/tasks/{task_id}/complete"]["post"]["responses"].keys() >= {"409", "422", "403"}
    error = doc["components"]["schemas"]["Error"]
    assert error["required"] == ["error", "message", "field"]


def public_paths(doc) -> list[str]:
    return sorted(path for path, ops in doc["paths"].items() for op in ops.values() if op.get("security") == [])


def _bare_app() -> Flask:
    app = Flask("bare")
    from webapp.api import bp

    app.register_blueprint(bp)
    return app


def test_an_undocumented_route_or_method_breaks_the_document():
    app = _bare_app()
    document(app)  # complete as it stands
    app.add_url_rule("/api/v1/extra", endpoint="api.extra", view_func=lambda: {})
    with pytest.raises(LookupError, match="api.extra"):
        document(app)
    app = _bare_app()
    app.add_url_rule("/api/v1/me/again", endpoint="api.me", view_func=app.view_functions["api.me"],
                     methods=["POST"])
    with pytest.raises(LookupError, match="api.me"):
        document(app)


def test_a_documented_endpoint_without_a_route_breaks_the_document():
    app = Flask("bare")
    app.add_url_rule("/api/v1/me", endpoint="api.me", view_func=lambda: {})
    with pytest.raises(LookupError, match="no route"):
        document(app)
    assert "api.me" in OPERATIONS
