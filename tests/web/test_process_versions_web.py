"""Owners choose the version new instances start on, from the processes page and the API."""

from __future__ import annotations

import pytest

from engine.config import DEFAULT_PROCESSES_DIR
from engine.run.deployments import deploy_bytes
from tests.support.api import Api

BPMN = DEFAULT_PROCESSES_DIR / "complaint_handling.bpmn"
FORMS = DEFAULT_PROCESSES_DIR / "forms" / "complaint_handling"
ACTIVATE = "/api/v1/processes/complaint_handling/versions/{}/activate"


@pytest.fixture
def api(app, runtime):
    changed = BPMN.read_text(encoding="utf-8").replace("督办结束", "督办完毕").encode()
    with runtime.db.write() as session, session.begin():
        assert deploy_bytes(session, changed, BPMN.name, FORMS, "owner1").version == 2
    return Api(app, runtime, language="en")  # these tests read the English messages (Accept-Language: en)


def _current(api: Api) -> list[int]:
    items = api.as_("owner1").get("/api/v1/deployments").get_json()["items"]
    return [d["version"] for d in items if d["process_id"] == "complaint_handling" and d["current"]]


def test_owner_rolls_back_by_api_and_new_starts_use_that_version(api):
    assert _current(api) == [2]
    done = api.as_("owner1").post(ACTIVATE.format(1), {"reason": "v2 有误，回滚"})
    assert done.status_code == 200
    assert (done.get_json()["version"], done.get_json()["previous_version"]) == (1, 2)
    assert _current(api) == [1]
    assert api.start("agent1")["version"] == 1
    assert api.start("agent1", version=2)["version"] == 2


@pytest.mark.parametrize("user", ["agent1", "qc1", "supervisor1", "auditor1", "integration1"])
def test_only_owners_activate(api, user):
    from engine.access.users import create_user

    if user == "integration1":
        with api.runtime.db.write() as session, session.begin():
            create_user(session, user, user, ["integration"], display_name="集成")
        caller = api.bearer(user)
    else:
        caller = api.as_(user)
    assert caller.post(ACTIVATE.format(1), {"reason": "试试"}).status_code == 403
    assert _current(api) == [2]


def test_activation_answers_say_what_is_wrong(api):
    owner = api.as_("owner1")
    missing = owner.post(ACTIVATE.format(1), {})
    assert (missing.status_code, missing.get_json()["errors"][0]["field"]) == (422, "reason")
    extra = owner.post(ACTIVATE.format(1), {"reason": "x", "force": True})
    assert (extra.status_code, extra.get_json()["errors"][0]["field"]) == (422, "force")
    already = owner.post(ACTIVATE.format(2), {"reason": "x"})
    assert already.status_code == 409 and "already the current version" in already.get_json()["message"]
    unknown = owner.post(ACTIVATE.format(5), {"reason": "x"})
    assert unknown.status_code == 404 and "has no version 5 (deployed: 1, 2)" in unknown.get_json()["message"]
    assert owner.post("/api/v1/processes/nope/versions/1/activate", {"reason": "x"}).status_code == 404
    bad_start = api.as_("agent1").post("/api/v1/processes/complaint_handling/instances", {"version": "2"})
    assert (bad_start.status_code, bad_start.get_json()["errors"][0]["field"]) == (422, "version")
    assert _current(api) == [2]


def test_the_processes_page_marks_the_current_version_and_offers_the_others(api, client_for):
    owner = client_for("owner1")
    page = owner.get("/processes").get_data(as_text=True)
    assert page.count("设为当前版本</button>") == 1, "only version 1, which is not current"
    assert "/processes/complaint_handling/1/activate" in page
    refused = owner.post("/processes/complaint_handling/1/activate", data={"reason": ""}, follow_redirects=True)
    assert "请填写设为当前版本的原因" in refused.get_data(as_text=True)
    assert _current(api) == [2]
    done = owner.post("/processes/complaint_handling/1/activate", data={"reason": "回滚"}, follow_redirects=True)
    assert "的新实例将从版本 1 发起" in done.get_data(as_text=True)
    assert _current(api) == [1]
    assert client_for("agent1").post("/processes/complaint_handling/2/activate",
                                     data={"reason": "x"}).status_code == 403
    assert _current(api) == [1]


DIFF = "/api/v1/processes/complaint_handling/diff"


def test_the_diff_api_names_what_changed_for_owners_and_auditors(api):
    for user in ("owner1", "auditor1"):
        body = api.as_(user).get(DIFF + "?from=1&to=2").get_json()
        assert (body["from"], body["to"], body["added"], body["removed"], body["forms"]) == (1, 2, [], [], [])
        assert body["changed"] == [{"id": "escalation_closed", "kind": "endEvent", "name": "督办完毕", "fields": [
            {"field": "name", "label": "name", "old": "督办结束", "new": "督办完毕"}]}]
    assert api.as_("agent1").get(DIFF + "?from=1&to=2").status_code == 403
    missing = api.as_("owner1").get(DIFF + "?from=1")
    assert (missing.status_code, missing.get_json()["errors"][0]["field"]) == (422, "to")
    assert api.as_("owner1").get(DIFF + "?from=1&to=abc").status_code == 422
    unknown = api.as_("owner1").get(DIFF + "?from=1&to=3")
    assert unknown.status_code == 404 and "has no version 3" in unknown.get_json()["message"]


def test_a_version_diagram_against_another_marks_the_changes(api):
    owner = api.as_("owner1")
    newer = owner.get("/api/v1/processes/complaint_handling/versions/2/diagram?against=1").get_json()["nodes"]
    older = owner.get("/api/v1/processes/complaint_handling/versions/1/diagram?against=2").get_json()["nodes"]
    assert (newer["added"], newer["changed"]) == ([], ["escalation_closed"])
    assert (older["removed"], older["changed"]) == ([], ["escalation_closed"])
    plain = owner.get("/api/v1/processes/complaint_handling/versions/2/diagram").get_json()["nodes"]
    assert plain == {"completed": [], "active": [], "failed": []}


def test_the_diff_page_shows_both_diagrams_and_the_changes(api, client_for):
    owner = client_for("owner1")
    index = owner.get("/processes").get_data(as_text=True)
    assert "/processes/complaint_handling/diff?to=2" in index
    page = owner.get("/processes/complaint_handling/diff?to=2")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "v1 → v2" in html and "督办结束" in html and "督办完毕" in html
    assert "versions/1/diagram?against=2" in html and "versions/2/diagram?against=1" in html
    same = owner.get("/processes/complaint_handling/diff?from=2&to=2").get_data(as_text=True)
    assert "请选择两个不同的版本" in same
    assert owner.get("/processes/complaint_handling/diff?from=7").status_code == 404
    assert owner.get("/processes/nope/diff").status_code == 404
    assert client_for("agent1").get("/processes/complaint_handling/diff").status_code == 403
