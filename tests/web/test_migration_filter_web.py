"""Owners move only some running instances — those waiting at chosen nodes, started in a time
window, or named by id — from the API, the page and the command line."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.access.policy import Role
from engine.access.users import create_user
from engine.clock import frozen_at
from tests.support.api import Api
from tests.support.migration import LATE_START, start_early_and_late

MIGRATIONS = "/api/v1/processes/minimal_ok/migrations"
PAGE = "/processes/minimal_ok/migrate"
NOT_OWNERS = ("agent1", "receptionist1", "sales1", "operator1", "guide1", "qc1", "supervisor1", "manager1",
              "auditor1")


@pytest.fixture
def api(app, runtime):
    return Api(app, runtime, language="en")  # these tests read the English messages (Accept-Language: en)


@pytest.fixture
def early_and_late(runtime):
    return start_early_and_late(runtime)


def _ids(report: dict) -> list[int]:
    return [r["instance_id"] for r in report["instances"]]


def test_the_api_migrates_only_what_the_filter_picks(api, runtime, early_and_late):
    early, late = early_and_late
    owner = api.as_("owner1")
    body = {"from": 1, "to": 2, "reason": "只迁移已升级主管的"}
    dry = owner.post(MIGRATIONS, {**body, "waiting_at": ["escalate"], "dry_run": True})
    assert dry.status_code == 200
    assert (_ids(dry.get_json()), dry.get_json()["filter"]["waiting_at"]) == ([early], ["escalate"])
    window = {"started_after": "2026-11-23T03:00:00Z", "started_before": "2026-11-23T13:00:00+08:00"}
    assert _ids(owner.post(MIGRATIONS, {**body, **window, "dry_run": True}).get_json()) == [late]
    both = owner.post(MIGRATIONS, {**body, "instances": [early, late], "waiting_at": ["fill_request"],
                                   "started_before": "2026-11-23T02:00:00Z", "dry_run": True}).get_json()
    assert _ids(both) == [early]
    with frozen_at(LATE_START + timedelta(minutes=5)):
        done = owner.post(MIGRATIONS, {**body, "waiting_at": ["fill_request_sla"]}).get_json()
    assert done["filter"] == {"waiting_at": ["fill_request_sla"], "started_before": None, "started_after": None,
                              "instances": None}
    assert _ids(done) == [late] and done["migrated"] == 1
    assert (runtime.show(early)["version"], runtime.show(late)["version"]) == (1, 2)
    events = api.as_("auditor1").get(f"/api/v1/instances/{late}/events").get_json()["items"]
    migrated = [e["payload"] for e in events if e["kind"] == "instance_migrated"]
    assert [(p["from_version"], p["to_version"], p["reason"]) for p in migrated] == [(1, 2, "只迁移已升级主管的")]


def test_the_api_lists_where_a_versions_instances_wait(api, early_and_late):
    url = "/api/v1/processes/minimal_ok/versions/1/waiting"
    body = api.as_("owner1").get(url).get_json()
    assert body["items"] == [{"node": "escalate", "name": body["items"][0]["name"], "waiting": 1},
                             {"node": "fill_request", "name": body["items"][1]["name"], "waiting": 2},
                             {"node": "fill_request_sla", "name": body["items"][2]["name"], "waiting": 1}]
    assert api.as_("auditor1").get(url).status_code == 200
    assert api.as_("agent1").get(url).status_code == 403
    assert api.as_("owner1").get("/api/v1/processes/minimal_ok/versions/9/waiting").status_code == 404
    assert api.as_("owner1").get("/api/v1/processes/minimal_ok/versions/2/waiting").get_json()["items"] == []


@pytest.mark.parametrize(("extra", "field", "message"), [
    ({"waiting_at": "escalate"}, "waiting_at", "must be a list of node ids"),
    ({"waiting_at": ["nope"]}, "waiting_at", "version 1 has no node 'nope'"),
    ({"started_before": "tomorrow"}, "started_before", "must be an ISO 8601 date-time"),
    ({"started_after": "2026-11-31T00:00:00Z"}, "started_after", "must be an ISO 8601 date-time"),
    ({"started_after": "2026-11-24T00:00:00Z", "started_before": "2026-11-23T00:00:00Z"}, "started_after",
     "must be earlier than started_before"),
    ({"instances": [0]}, "instances", "must be a list of instance ids"),
])
def test_bad_filters_are_refused_naming_the_field(api, runtime, early_and_late, extra, field, message):
    answer = api.as_("owner1").post(MIGRATIONS, {"from": 1, "to": 2, "reason": "x", **extra})
    assert (answer.status_code, answer.get_json()["errors"][0]["field"]) == (422, field)
    assert answer.get_json()["errors"][0]["message"].startswith(message)
    assert {runtime.show(i)["version"] for i in early_and_late} == {1}


def test_only_owners_migrate_by_filter(api, runtime, early_and_late):
    body = {"from": 1, "to": 2, "reason": "x", "waiting_at": ["escalate"], "dry_run": True}
    for user in NOT_OWNERS:
        assert api.as_(user).post(MIGRATIONS, body).status_code == 403, user
    with runtime.db.write() as session, session.begin():
        create_user(session, "integration1", "integration1", [Role.INTEGRATION])
    assert api.bearer(api.token_for("integration1")).post(MIGRATIONS, body).status_code == 403
    assert api.anonymous().post(MIGRATIONS, body).status_code == 401
    assert api.as_("owner1").post(MIGRATIONS, body).status_code == 200


def test_the_page_lists_waiting_nodes_and_previews_only_the_filtered(runtime, client_for, early_and_late):
    early, late = early_and_late
    owner = client_for("owner1")
    page = owner.get(f"{PAGE}?from=1&to=2").get_data(as_text=True)
    assert 'name="waiting_at" value="escalate"' in page and "主管跟进" in page
    assert "1 个实例在此等待" in page and "2 个实例在此等待" in page
    assert "实例编号（逗号分隔，可留空=全部）" in page
    form = {"from": "1", "to": "2", "reason": "只迁移已升级的", "waiting_at": ["escalate"], "dry_run": "1"}
    preview = owner.post(PAGE, data=form).get_data(as_text=True)
    assert "预演结果：1 个实例可以迁移" in preview
    assert f"/instances/{early}\"" in preview and f"/instances/{late}\"" not in preview
    assert "等待在 <code>escalate</code>" in preview
    window = {**form, "waiting_at": [], "started_after": "2026-11-23T10:00", "instances": f"{early}，{late}"}
    later = owner.post(PAGE, data=window).get_data(as_text=True)
    assert "预演结果：1 个实例可以迁移" in later and f"/instances/{late}\"" in later
    assert "开始于 2026-11-23 10:00 或之后" in later
    bad = owner.post(PAGE, data={**form, "instances": "3, x"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "实例编号应是用逗号分隔的数字" in text
    assert 'value="3, x"' in text and 'value="escalate" checked' in text, "the form is kept"
    bad_time = owner.post(PAGE, data={**form, "started_before": "2026-13-01T00:00"})
    assert bad_time.status_code == 422 and "开始时间（止）不是有效的日期时间" in bad_time.get_data(as_text=True)
    unknown = owner.post(PAGE, data={**form, "waiting_at": ["nope"]})
    assert unknown.status_code == 422 and "字段 waiting_at：版本 1 中没有节点 nope" in unknown.get_data(as_text=True)
    done = owner.post(PAGE, data={**form, "dry_run": "0"}).get_data(as_text=True)
    assert "已迁移 1 个实例" in done
    assert (runtime.show(early)["version"], runtime.show(late)["version"]) == (2, 1)
    for user in NOT_OWNERS:
        assert client_for(user).post(PAGE, data=form).status_code == 403, user
    assert "/login" in client_for(None).get(PAGE).headers["Location"]


def test_cli_migrate_by_filter(runtime, cli, early_and_late):
    early, late = early_and_late
    dry = cli.run("migrate", "minimal_ok", "--from", "1", "--to", "2", "--waiting-at", "escalate",
                  "--waiting-at", "fill_request", "--started-before",
                  "2026-11-23T02:00:00Z", "--reason", "筛选", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        "filter: waiting at escalate or fill_request; started before 2026-11-23T02:00:00Z",
        f"instance {early}: would move", "minimal_ok: 1 of 1 instance(s) would move from version 1 to 2"]
    bad = cli.run("migrate", "minimal_ok", "--from", "1", "--to", "2", "--started-after", "soon", "--reason", "x")
    assert bad.returncode == 2 and "started_after" in bad.stderr
    done = cli.json("migrate", "minimal_ok", "--from", "1", "--to", "2", "--instance", str(early), "--instance",
                    str(late), "--waiting-at", "escalate", "--reason", "筛选", "--as", "owner1")
    assert _ids(done) == [early] and done["filter"]["instances"] == [early, late]
    assert (runtime.show(early)["version"], runtime.show(late)["version"]) == (2, 1)
