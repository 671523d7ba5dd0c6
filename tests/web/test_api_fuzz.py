"""Property-based fuzzing of the whole /api/v1 from its OpenAPI document (schemathesis).

Every operation of /api/v1/openapi.json gets generated requests, valid and invalid ones, sent
in-process (WSGI) with a bearer token, on a fresh database holding the demo data, on SQLite and
on PostgreSQL (which is stricter: NUL characters, 32-bit ids). No answer may
be a 5xx, and every answer must match the document: a documented status, the documented body
schema, JSON. The run is derandomized (a fixed seed, no example database) and bounded (examples
per operation, no deadline), so CI gets the same requests on every run, in well under 2 minutes.
"""

from __future__ import annotations

import re

import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from engine.access.users import create_token, create_user
from engine.config import DEFAULT_PROCESSES_DIR
from engine.store.models import Deployment, HumanTask, ProcessInstance
from webapp import create_app
from webapp.demo import load_demo

STAFF_ROLES = ["agent", "receptionist", "sales", "qc", "supervisor", "operator", "guide", "manager", "owner",
               "integration", "staff"]
pytestmark = pytest.mark.both_databases

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
CONFIG = schemathesis.Config.from_dict({"seed": 20261203, "generation": {"database": "none"}})
EXAMPLES = 10  # per operation and mode (valid, invalid): about 620 requests, 180 more as the auditor
SETTINGS = hypothesis.settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                               suppress_health_check=list(hypothesis.HealthCheck), print_blob=False,
                               phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate])


@pytest.fixture
def fuzz_app(runtime, db_url):
    load_demo(runtime, echo=lambda _line: None)
    with runtime.db.write() as session, session.begin():
        create_user(session, "fuzzer", "fuzzer", STAFF_ROLES, "Fuzz (every role but auditor)")
        tokens = {"fuzzer": create_token(session, "fuzzer", "fuzz"),
                  "auditor1": create_token(session, "auditor1", "fuzz")}
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret", "DATABASE_URL": db_url})
    app.extensions["tourflow"].use_runtime(runtime)
    app.extensions["fuzz_tokens"] = tokens
    app.extensions["fuzz_known"] = known_path_parameters(runtime)
    return app


def known_path_parameters(runtime) -> dict[frozenset[str], list[dict]]:
    """Path parameters that name real things of the demo, by the set of a path's parameter names:
    random ids alone would nearly always be 404s and never reach the code behind them."""
    with runtime.db.read() as session:
        tasks = session.execute(select(HumanTask.id).order_by(HumanTask.state != "ready", HumanTask.id.desc())
                                .limit(8)).scalars().all()
        instances = session.execute(select(ProcessInstance.id).order_by(ProcessInstance.status != "running",
                                                                        ProcessInstance.id.desc()).limit(8)).scalars().all()
        versions = session.execute(select(Deployment.process_id, Deployment.version)).all()
    return {
        frozenset({"task_id"}): [{"task_id": t} for t in tasks],
        frozenset({"instance_id"}): [{"instance_id": i} for i in instances],
        frozenset({"process_id"}): [{"process_id": p} for p, _ in versions],
        frozenset({"process_id", "version"}): [{"process_id": p, "version": v} for p, v in versions],
    }


def cases(operation, mode: GenerationMode, known: dict[frozenset[str], list[dict]]):
    """Generated requests, half of them (when the path names things) on things that exist."""
    generated = operation.as_strategy(generation_mode=mode)
    real = known.get(frozenset(re.findall(r"{(\w+)}", operation.path)))
    if not real:
        return generated
    return st.one_of(generated, st.sampled_from(real).flatmap(
        lambda params: operation.as_strategy(generation_mode=mode, path_parameters=params)))


def fuzz(app, token: str, methods: set[str], examples: int = EXAMPLES) -> list[str]:
    """Run every operation of the document (of these methods), valid and invalid requests; the failures."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=CONFIG)
    headers = {"Authorization": f"Bearer {token}"}
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.method.upper() not in methods:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @hypothesis.given(case=cases(operation, mode, app.extensions["fuzz_known"]))
            @hypothesis.settings(SETTINGS, max_examples=examples)
            def run(case):
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                run()
            except Exception as exc:  # noqa: BLE001 - every operation's failure is reported together
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    return failures


@pytest.mark.no_replay_check  # fuzzed instances are many and odd; replays are tested elsewhere
def test_no_operation_answers_5xx_or_off_the_document(fuzz_app):
    failures = fuzz(fuzz_app, fuzz_app.extensions["fuzz_tokens"]["fuzzer"], {"GET", "POST"})
    assert not failures, "\n\n".join(failures)


@pytest.mark.no_replay_check
def test_the_auditor_reads_without_5xx(fuzz_app):
    failures = fuzz(fuzz_app, fuzz_app.extensions["fuzz_tokens"]["auditor1"], {"GET"}, examples=4)
    assert not failures, "\n\n".join(failures)


def test_the_fuzzer_sees_the_demo(fuzz_app):
    """The fuzzing runs on data: processes, instances and tasks for its ids to hit."""
    client = fuzz_app.test_client()
    headers = {"Authorization": f"Bearer {fuzz_app.extensions['fuzz_tokens']['fuzzer']}"}
    assert client.get("/api/v1/tasks", headers=headers).get_json()["total"] > 0
    assert client.get("/api/v1/instances", headers=headers).get_json()["total"] > 0
    assert DEFAULT_PROCESSES_DIR.is_dir()


_ = negative_data_rejection  # not used: unknown query parameters are ignored, as in most APIs
