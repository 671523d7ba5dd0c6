"""Form schema patterns that backtrack catastrophically in Python's `re`, and a deployed process
whose form has one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from engine.run.deployments import deploy_file
from engine.run.runtime import Runtime
from tests.support.world import REPO

FIXTURES = REPO / "tests" / "fixtures" / "bpmn"


CATASTROPHIC = "^(a+)+$"
EVIL = "a" * 40 + "!"
REQUEST = {"customer_name": "张三", "travel_date": "2026-12-01", "budget": 5000}


def deploy_with_code_field(runtime: Runtime, folder: Path) -> int:
    """minimal_ok with a `code` field of pattern ^(a+)+$ on fill_request; returns that task's id."""
    shutil.copy(FIXTURES / "minimal_ok.bpmn", folder / "minimal_ok.bpmn")
    forms = folder / "forms" / "minimal_ok"
    shutil.copytree(FIXTURES / "forms" / "minimal_ok", forms)
    path = forms / "fill_request.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["properties"]["code"] = {"type": "string", "title": "编号", "pattern": CATASTROPHIC}
    path.write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")
    with runtime.db.write() as session, session.begin():
        deploy_file(session, folder / "minimal_ok.bpmn", "owner1")
    instance_id = runtime.start("minimal_ok")
    [task] = [t for t in runtime.tasks(instance_id=instance_id) if t["task"] == "fill_request"]
    return task["id"]
