"""Shared fixtures: a fresh database per test, demo users, the real processes deployed."""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from engine.config import DEFAULT_PROCESSES_DIR
from engine.run.runtime import Runtime
from engine.store.db import Database
from tests.support import pg
from tests.support.world import TIMER_EFFECT, Cli, deploy, make_users


@pytest.fixture(scope="session")
def template_db(tmp_path_factory) -> Path:
    """A migrated database with the demo users, built once and copied for each test."""
    path = tmp_path_factory.mktemp("template") / "tourflow.db"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    make_users(Runtime(db))
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


BACKENDS = ("sqlite", "postgres")


def pytest_generate_tests(metafunc):
    """Modules marked `both_databases` run each database test twice: test_x[sqlite], test_x[postgres]."""
    if "db_backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_databases"):
        metafunc.parametrize("db_backend", BACKENDS, indirect=True)


@pytest.fixture
def db_backend(request) -> str:
    """"sqlite" or "postgres": the backend of this test's `db_url` (SQLite unless parametrized)."""
    return getattr(request, "param", "sqlite")


def _unavailable(reason: str):
    """Skip on a workstation; in CI a missing PostgreSQL is a failure, not a silent skip."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL cluster for the session (tests/support/pg.py), or TOURFLOW_TEST_POSTGRES_URL's."""
    try:
        server = pg.start_server()
    except pg.PostgresUnavailable as exc:
        _unavailable(f"PostgreSQL unavailable: {exc}")
    try:
        yield server
    finally:
        server.stop()


class PostgresDatabases:
    """Creates and drops databases on the test server through an AUTOCOMMIT maintenance connection."""

    def __init__(self, server: pg.PostgresServer):
        self.server = server
        self.engine = create_engine(server.url, isolation_level="AUTOCOMMIT", pool_size=1)
        self.prefix = f"tourflow_{secrets.token_hex(4)}"  # apart from other sessions on a shared server
        self.template = f"{self.prefix}_template"
        self.counter = itertools.count(1)

    def create(self, name: str, template: str | None = None) -> str:
        with self.engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.server.url_for(name)

    def drop(self, name: str) -> None:
        """Drop `name`, first ending any connection a test left open (pooled engines, threads)."""
        for attempt in range(5):
            with self.engine.connect() as conn:
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
                try:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
                    return
                except DBAPIError:  # a backend still exiting: "being accessed by other users"
                    if attempt == 4:
                        raise
            time.sleep(0.2)

    def close(self) -> None:
        self.engine.dispose()


@pytest.fixture(scope="session")
def postgres_databases(postgres_server):
    """The session's template database on PostgreSQL, built exactly as `template_db` builds SQLite's."""
    databases = PostgresDatabases(postgres_server)
    url = databases.create(databases.template)
    db = Database(url)
    db.upgrade()
    make_users(Runtime(db))
    db.dispose()
    try:
        yield databases
    finally:
        databases.drop(databases.template)
        databases.close()


@pytest.fixture
def db_url(request, tmp_path: Path, db_backend: str) -> str:
    """A fresh database holding the template's schema and users: a copied SQLite file, or a
    PostgreSQL database created from the session's template (dropped after the test)."""
    if db_backend == "sqlite":
        target = tmp_path / "tourflow.db"
        shutil.copyfile(request.getfixturevalue("template_db"), target)
        yield f"sqlite:///{target}"
        return
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    name = f"{databases.prefix}_t{next(databases.counter)}"
    url = databases.create(name, template=databases.template)
    try:
        yield url
    finally:
        databases.drop(name)


@pytest.fixture
def empty_db_url(request, tmp_path: Path, db_backend: str) -> str:
    """A database with nothing in it (no schema, no users) on this test's backend."""
    if db_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    name = f"{databases.prefix}_e{next(databases.counter)}"
    url = databases.create(name)
    try:
        yield url
    finally:
        databases.drop(name)


@pytest.fixture
def runtime(db_url: str, request) -> Runtime:
    """The engine on the test's database. After the test every instance it left behind is replayed
    from its audit record and must come out identical (engine/history/replay.py), and its live state must
    be the one its record last hashed (engine/store/state_hash.py): each path a process test walks is a
    replay and state-hash test too. Tests that damage the store on purpose opt out with
    `@pytest.mark.no_replay_check`."""
    db = Database(db_url)
    db.upgrade()
    rt = Runtime(db)
    yield rt
    try:
        if request.node.get_closest_marker("no_replay_check") is None and not _failed(request):
            _assert_every_instance_replays(rt)
    finally:
        db.dispose()


def _failed(request) -> bool:
    report = getattr(request.node, "rep_call", None)
    return report is not None and report.failed


def _assert_every_instance_replays(rt: Runtime) -> None:
    from sqlalchemy import select

    from engine.history.replay import replay
    from engine.store import state_hash
    from engine.store.models import ProcessInstance

    with rt.db.read() as session:
        ids = session.execute(select(ProcessInstance.id).order_by(ProcessInstance.id)).scalars().all()
        # ... and the live state of each is the one its last state_written event recorded
        states = state_hash.check_states(session, list(ids)) if ids else {}
    wrong = [check.message for check in states.values() if check.verdict != "ok"]
    assert not wrong, "live state differs from the recorded one:\n" + "\n".join(wrong)
    differences = []
    for instance_id in ids:
        result = replay(rt, instance_id)
        if not result.identical:
            differences.append(f"instance {instance_id} ({result.process}): {result.difference}")
    assert not differences, "replay differs from the stored state:\n" + "\n".join(differences)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call = report


@pytest.fixture
def complaint_runtime(runtime: Runtime) -> Runtime:
    deploy(runtime, DEFAULT_PROCESSES_DIR / "complaint_handling.bpmn")
    return runtime


@pytest.fixture
def cli(db_url: str, tmp_path: Path, runtime: Runtime) -> Cli:
    return Cli(db_url, tmp_path)


@pytest.fixture
def timer_runtime(runtime: Runtime) -> Runtime:
    """timer_effect deployed: a timer, then a handler that counts its committed runs in test_effect."""
    from sqlalchemy import text

    from tests.fixtures.worker_handlers import EFFECT_TABLE, SWITCH_TABLE

    deploy(runtime, TIMER_EFFECT)
    with runtime.db.write() as session, session.begin():
        session.execute(text(EFFECT_TABLE))
        session.execute(text(SWITCH_TABLE))
    return runtime
