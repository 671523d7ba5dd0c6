"""Drafts: an upload kept for a preview (lint, diff, instances waiting on what changes), then deployed
or discarded, from the processes page and the API."""

from __future__ import annotations

import io

import pytest

from engine.clock import frozen_at
from engine.run import queries
from tests.support.api import Api
from tests.support.versions import FIXTURE, LONGER_SLA, T0, deploy_minimal, variant

DRAFTS = "/api/v1/drafts"


def _files(data: bytes, *extra: tuple[str, bytes]) -> dict:
    return {"files": [(io.BytesIO(data), FIXTURE.name), *((io.BytesIO(d), n) for n, d in extra)]}


@pytest.fixture
def api(app, runtime):
    deploy_minimal(runtime)
    return Api(app, runtime)


def _versions(runtime) -> list[int]:
    with runtime.reading() as session:
        return [d["version"] for d in queries.deployments(session) if d["process_id"] == "minimal_ok"]


def test_a_draft_previews_lint_diff_and_waiting_instances_then_deploys(api, runtime):
    with frozen_at(T0):
        runtime.start("minimal_ok", version=1)
        runtime.start("minimal_ok", version=1)
    owner = api.as_("owner1")
    saved = owner.call("POST", DRAFTS, data=_files(variant(LONGER_SLA)), content_type="multipart/form-data")
    assert saved.status_code == 201
    preview = saved.get_json()
    assert (preview["process_id"], preview["current_version"], preview["deployable"]) == ("minimal_ok", 1, True)
    assert [c["id"] for c in preview["diff"]["changed"]] == ["fill_request_sla"]
    assert preview["waiting"] == {"fill_request_sla": 2}, "two instances wait on the changed timer"
    assert [d["id"] for d in owner.get(DRAFTS).get_json()["items"]] == [preview["id"]]
    assert owner.get(f"{DRAFTS}/{preview['id']}").get_json() == preview
    assert _versions(runtime) == [1], "a draft does not deploy"
    deployed = owner.post(f"{DRAFTS}/{preview['id']}/deploy")
    assert (deployed.status_code, deployed.get_json()["version"]) == (201, 2)
    assert owner.get(f"{DRAFTS}/{preview['id']}").status_code == 404, "the draft is gone once deployed"
    assert owner.get(DRAFTS).get_json()["items"] == []


def test_a_draft_with_errors_is_kept_but_not_deployed(api, runtime):
    owner = api.as_("owner1")
    broken = FIXTURE.read_bytes().replace(b'value="escalate.schema.json"', b'value="missing.schema.json"')
    preview = owner.call("POST", DRAFTS, data=_files(broken), content_type="multipart/form-data").get_json()
    assert preview["deployable"] is False and any(f["severity"] == "error" for f in preview["findings"])
    refused = owner.post(f"{DRAFTS}/{preview['id']}/deploy")
    assert refused.status_code == 422 and refused.get_json()["error"] == "deployment_invalid"
    assert _versions(runtime) == [1]
    assert owner.post(f"{DRAFTS}/{preview['id']}/discard").get_json() == {"discarded": preview["id"]}
    assert owner.post(f"{DRAFTS}/{preview['id']}/discard").status_code == 404
    bad = owner.call("POST", DRAFTS, data=_files(FIXTURE.read_bytes(), ("notes.txt", b"x")),
                     content_type="multipart/form-data")
    assert bad.status_code == 422 and "notes.txt" in bad.get_json()["message"]


@pytest.mark.parametrize("user", ["agent1", "supervisor1", "auditor1", "manager1"])
def test_only_owners_keep_and_deploy_drafts(api, user):
    caller = api.as_(user)
    answer = caller.call("POST", DRAFTS, data=_files(variant(LONGER_SLA)), content_type="multipart/form-data")
    assert answer.status_code == 403
    assert caller.get(DRAFTS).status_code == 403


def test_the_processes_page_previews_before_deploying(api, runtime, client_for):
    with frozen_at(T0):
        runtime.start("minimal_ok", version=1)
    owner = client_for("owner1")
    answer = owner.post("/processes/deploy", data={**_files(variant(LONGER_SLA)), "preview": "1"},
                        content_type="multipart/form-data")
    assert answer.status_code == 303
    page = owner.get(answer.headers["Location"]).get_data(as_text=True)
    assert "草稿预览" in page and "与当前版本 v1 比较" in page and "1 个实例在此等待" in page
    assert "PT2H" in page and "部署为新版本" in page
    assert "/processes/drafts/" in owner.get("/processes").get_data(as_text=True)
    draft_url = answer.headers["Location"]
    done = owner.post(draft_url + "/deploy", follow_redirects=True).get_data(as_text=True)
    assert "已部署 minimal_ok 版本 2" in done
    assert owner.get(draft_url).status_code == 404
    assert client_for("agent1").get(draft_url).status_code == 403
