"""Shared fixtures: a fresh database per test, demo users, the real processes deployed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.agency_seed import seed_agency
from engine.config import DEFAULT_PROCESSES_DIR
from engine.db import Database
from engine.deployments import deploy_file
from engine.runtime import Runtime
from engine.users import FRONT_LINE, create_user

REPO = Path(__file__).resolve().parent.parent
ROLES = ["agent", "receptionist", "sales", "qc", "supervisor", "operator", "guide", "manager", "auditor", "owner"]


AGENT_DESKS = {"agent1": "邮轮", "agent2": "旅游", "agent3": "自由行"}
BRANCHES = {"sales1": "SH01", "receptionist1": "SH01"}


def make_users(runtime: Runtime) -> None:
    """The demo's users (one per role, three agents on the three desks) and sample agency data."""
    with runtime.db.write() as session, session.begin():
        users = [(f"{role}1", role) for role in ROLES] + [("agent2", "agent"), ("agent3", "agent")]
        for username, role in users:
            user = create_user(session, username, username, [role, "staff"] if role in FRONT_LINE else [role])
            user.desk = AGENT_DESKS.get(username)
            user.branch_code = BRANCHES.get(username)
        seed_agency(session)


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


@pytest.fixture
def db_url(tmp_path: Path, template_db: Path) -> str:
    target = tmp_path / "tourflow.db"
    shutil.copyfile(template_db, target)
    return f"sqlite:///{target}"


@pytest.fixture
def runtime(db_url: str) -> Runtime:
    db = Database(db_url)
    db.upgrade()
    rt = Runtime(db)
    yield rt
    db.dispose()


def deploy(runtime: Runtime, path: Path) -> None:
    with runtime.db.write() as session, session.begin():
        deploy_file(session, path, "owner1")


@pytest.fixture
def complaint_runtime(runtime: Runtime) -> Runtime:
    deploy(runtime, DEFAULT_PROCESSES_DIR / "complaint_handling.bpmn")
    return runtime


class Cli:
    """Runs the real `tourflow` console command against one database."""

    def __init__(self, url: str, home: Path):
        self.env = {**os.environ, "TOURFLOW_DATABASE_URL": url, "TOURFLOW_HOME": str(home)}
        self.env.pop("FLASK_DEBUG", None)

    def run(self, *args: str, check: bool = False) -> subprocess.CompletedProcess:
        exe = Path(sys.executable).with_name("tourflow")
        proc = subprocess.run([str(exe), *args], env=self.env, capture_output=True, text=True, timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError(f"tourflow {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def json(self, *args: str):
        return json.loads(self.run(*args, "--json", check=True).stdout)


@pytest.fixture
def cli(db_url: str, tmp_path: Path, runtime: Runtime) -> Cli:
    return Cli(db_url, tmp_path)
