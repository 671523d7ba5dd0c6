"""The world the tests run in: the repository, the demo's users and agency data, deploying a
process file, and the real `tourflow` command on a test database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from engine.access.users import FRONT_LINE, create_user
from engine.clock import utcnow
from engine.run.deployments import deploy_file
from engine.run.runtime import Runtime
from handlers.domain.models import Setting
from handlers.domain.seed import seed_agency

REPO = Path(__file__).resolve().parents[2]
ROLES = ["agent", "receptionist", "sales", "qc", "supervisor", "operator", "guide", "manager", "auditor", "owner"]


AGENT_DESKS = {"agent1": "邮轮", "agent2": "旅游", "agent3": "自由行"}
BRANCHES = {"sales1": "SH01", "receptionist1": "SH01", "sales2": "SH02", "sales3": "HZ01"}
TEST_USERS = [(f"{role}1", role) for role in ROLES] + [("agent2", "agent"), ("agent3", "agent"),
                                                      ("sales2", "sales"), ("sales3", "sales")]
USERS = len(TEST_USERS)  # the users make_users creates, one user_created event each


def make_users(runtime: Runtime) -> None:
    """The demo's users (one per role, three agents on the three desks) and sample agency data."""
    with runtime.db.write() as session, session.begin():
        for username, role in TEST_USERS:
            desk, branch = AGENT_DESKS.get(username), BRANCHES.get(username)
            attributes = {**({"desk": desk} if desk else {}), **({"branch": branch} if branch else {})}
            create_user(session, username, username, [role, "staff"] if role in FRONT_LINE else [role],
                        attributes=attributes)
        seed_agency(session)


def add_qc_user(rt: Runtime, name: str) -> None:
    """One more QC user (password = name)."""
    with rt.db.write() as session, session.begin():
        create_user(session, name, name, ["qc"])


def deploy(runtime: Runtime, path: Path) -> None:
    with runtime.db.write() as session, session.begin():
        deploy_file(session, path, "owner1")


def set_setting(runtime: Runtime, key: str, values: dict, replace: bool = False) -> None:
    """One agency setting (the `setting` table's `key` row) for a test: `values` merged into it, or
    replacing it (`{}` with replace: the defaults again)."""
    with runtime.db.write() as session, session.begin():
        row = session.get(Setting, key)
        if row is None:
            session.add(Setting(key=key, value=dict(values), updated_at=utcnow()))
        else:
            row.value = dict(values) if replace else {**row.value, **values}


class Cli:
    """Runs the real `tourflow` console command against one database."""

    def __init__(self, url: str, home: Path):
        self.env = {**os.environ, "TOURFLOW_DATABASE_URL": url, "TOURFLOW_HOME": str(home)}
        self.env.pop("FLASK_DEBUG", None)
        self.env.pop("TOURFLOW_LANG", None)  # the CLI's messages are English unless a test asks

    def run(self, *args: str, check: bool = False) -> subprocess.CompletedProcess:
        exe = Path(sys.executable).with_name("tourflow")
        proc = subprocess.run([str(exe), *args], env=self.env, capture_output=True, text=True, timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError(f"tourflow {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def json(self, *args: str):
        return json.loads(self.run(*args, "--json", check=True).stdout)


TIMER_EFFECT = REPO / "tests" / "fixtures" / "runtime" / "timer_effect.bpmn"
