"""Owners move running instances between versions from the API, the page and the command line."""

from __future__ import annotations

import pytest

from engine.clock import frozen_at
from tests.support.api import Api
from tests.support.versions import (
    INTO_SUPERVISOR_LANE,
    RENAMED_TASK,
    T0,
    TO_SUPERVISOR,
    deploy_minimal,
    variant,
)

MIGRATIONS = "/api/v1/processes/minimal_ok/migrations"
RENAMED = (*RENAMED_TASK, TO_SUPERVISOR, INTO_SUPERVISOR_LANE)


@pytest.fixture
def api(app, runtime):
    deploy_minimal(runtime, variant(*RENAMED))
    return Api(app, runtime, language="en")  # these tests read the English messages (Accept-Language: en)


def _start(runtime) -> int:
    with frozen_at(T0):
        return runtime.start("minimal_ok", version=1)


def test_owner_dry_runs_then_migrates_by_api(api, runtime):
    instance = _start(runtime)
    owner = api.as_("owner1")
    body = {"from": 1, "to": 2, "reason": "节点改名", "mapping": {"fill_request": "fill_request_v2"}}
    dry = owner.post(MIGRATIONS, {**body, "dry_run": True})
    assert dry.status_code == 200
    assert (dry.get_json()["dry_run"], dry.get_json()["migrated"]) == (True, 1)
    assert runtime.show(instance)["version"] == 1
    refused = owner.post(MIGRATIONS, {"from": 1, "to": 2, "reason": "没有映射"}).get_json()
    assert refused["migrated"] == 0 and "fill_request" in refused["instances"][0]["reason"]
    done = owner.post(MIGRATIONS, body).get_json()
    assert done["instances"][0]["moved"][0] == {"from": "fill_request", "to": "fill_request_v2", "name": "填写需求",
                                                "state": "waiting"}
    assert runtime.show(instance)["version"] == 2
    events = api.as_("auditor1").get(f"/api/v1/instances/{instance}/events").get_json()["items"]
    assert [e["payload"]["reason"] for e in events if e["kind"] == "instance_migrated"] == ["节点改名"]


def test_migration_requests_are_checked(api, runtime):
    instance = _start(runtime)
    owner = api.as_("owner1")
    for body, field in (({"from": 1, "to": 2}, "reason"), ({"from": "1", "to": 2, "reason": "x"}, "from"),
                        ({"from": 1, "to": 2, "reason": "x", "force": 1}, "force"),
                        ({"from": 1, "to": 2, "reason": "x", "mapping": ["a"]}, "mapping"),
                        ({"from": 1, "to": 2, "reason": "x", "instances": "all"}, "instances"),
                        ({"from": 1, "to": 2, "reason": "x", "dry_run": "yes"}, "dry_run")):
        answer = owner.post(MIGRATIONS, body)
        assert (answer.status_code, answer.get_json()["errors"][0]["field"]) == (422, field), body
    same = owner.post(MIGRATIONS, {"from": 2, "to": 2, "reason": "x"})
    assert same.status_code == 409
    unknown_node = owner.post(MIGRATIONS, {"from": 1, "to": 2, "reason": "x", "mapping": {"nope": "escalate"}})
    assert unknown_node.status_code == 409 and "'nope'" in unknown_node.get_json()["message"]
    assert owner.post(MIGRATIONS, {"from": 1, "to": 9, "reason": "x"}).status_code == 404
    for user in ("agent1", "supervisor1", "auditor1"):
        assert api.as_(user).post(MIGRATIONS, {"from": 1, "to": 2, "reason": "x"}).status_code == 403
    assert runtime.show(instance)["version"] == 1


def test_the_page_previews_then_migrates(api, runtime, client_for):
    instance = _start(runtime)
    owner = client_for("owner1")
    index = owner.get("/processes").get_data(as_text=True)
    assert "/processes/minimal_ok/migrate?from=1" in index
    page = owner.get("/processes/minimal_ok/migrate?from=1").get_data(as_text=True)
    assert "1 个运行中" in page
    form = {"from": "1", "to": "2", "mapping": "fill_request=fill_request_v2\n", "reason": "节点改名"}
    preview = owner.post("/processes/minimal_ok/migrate", data={**form, "dry_run": "1"}).get_data(as_text=True)
    assert "预演结果：1 个实例可以迁移" in preview and "fill_request_v2" in preview
    assert runtime.show(instance)["version"] == 1
    bad = owner.post("/processes/minimal_ok/migrate", data={**form, "mapping": "fill_request"})
    assert bad.status_code == 422 and "映射第 1 行应写成 旧节点=新节点" in bad.get_data(as_text=True)
    done = owner.post("/processes/minimal_ok/migrate", data={**form, "dry_run": "0"}).get_data(as_text=True)
    assert "已迁移 1 个实例" in done and "已释放认领" not in done
    assert runtime.show(instance)["version"] == 2
    assert client_for("agent1").get("/processes/minimal_ok/migrate").status_code == 403


def test_cli_migrate(api, runtime, cli):
    instance = _start(runtime)
    dry = cli.run("migrate", "minimal_ok", "--from", "1", "--to", "2", "--map", "fill_request=fill_request_v2",
                  "--reason", "改名", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [f"instance {instance}: would move (fill_request → fill_request_v2)",
                                       "minimal_ok: 1 of 1 instance(s) would move from version 1 to 2"]
    refused = cli.run("migrate", "minimal_ok", "--from", "1", "--to", "2", "--reason", "改名")
    assert refused.returncode == 3 and "refused: it waits at 填写需求 (fill_request)" in refused.stdout
    assert cli.run("migrate", "minimal_ok", "--from", "1", "--to", "2", "--map", "oops", "--reason", "x").returncode == 2
    done = cli.run("migrate", "minimal_ok", "--from", "1", "--to", "2", "--map", "fill_request=fill_request_v2",
                   "--reason", "改名", "--as", "owner1")
    assert done.returncode == 0 and runtime.show(instance)["version"] == 2
