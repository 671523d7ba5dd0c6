"""Process owners deploy from the browser or the API; a bad file is refused with file:line:col."""

from __future__ import annotations

import io

import pytest

from engine.config import DEFAULT_PROCESSES_DIR
from tests.support.api import Api

BPMN = DEFAULT_PROCESSES_DIR / "complaint_handling.bpmn"
FORMS = DEFAULT_PROCESSES_DIR / "forms" / "complaint_handling"


def _upload(*files: tuple[str, bytes]) -> dict:
    return {"files": [(io.BytesIO(data), name) for name, data in files]}


def _changed_bpmn() -> bytes:
    return BPMN.read_text(encoding="utf-8").replace("督办结束", "督办完毕").encode()


@pytest.fixture
def api(app, runtime):
    return Api(app, runtime, language="en")  # these tests read the English messages (Accept-Language: en)


def test_owner_deploys_a_changed_diagram_and_keeps_the_forms(client_for, runtime):
    owner = client_for("owner1")
    response = owner.post("/processes/deploy", data=_upload(("complaint_handling.bpmn", _changed_bpmn())),
                          content_type="multipart/form-data")
    assert response.status_code == 302
    page = owner.get("/processes").get_data(as_text=True)
    assert "已部署 complaint_handling 版本 2" in page
    instance = runtime.start("complaint_handling", actor="agent1")
    [task] = runtime.tasks(instance_id=instance)
    assert runtime.task(task["id"])["form"]["properties"]["customer_name"]["title"] == "游客姓名"


def test_same_content_is_not_a_new_version(client_for):
    owner = client_for("owner1")
    response = owner.post("/processes/deploy", data=_upload(("complaint_handling.bpmn", BPMN.read_bytes())),
                          content_type="multipart/form-data", follow_redirects=True)
    assert "仍为版本 1" in response.get_data(as_text=True)


def test_bad_file_is_refused_with_where_and_why(client_for, runtime):
    owner = client_for("owner1")
    timer = '<bpmn:timeDate xsi:type="bpmn:tFormalExpression">add_working_hours(get("complaint_at") or now_iso(), 1)'
    broken = BPMN.read_bytes().replace(timer.encode(), b'<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT1X')
    broken = broken.replace(b"PT1X</bpmn:timeDate>", b"PT1X</bpmn:timeDuration>")
    assert b">PT1X</bpmn:timeDuration>" in broken, "the 1-hour timer, its duration no ISO 8601 duration"
    response = owner.post("/processes/deploy", data=_upload(("complaint_handling.bpmn", broken)),
                          content_type="multipart/form-data")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "timer-invalid" in page and "complaint_handling.bpmn" in page
    assert [d["version"] for d in _versions(runtime)] == [1], "nothing written"


def test_upload_must_be_bpmn_forms_or_a_zip(client_for):
    owner = client_for("owner1")
    response = owner.post("/processes/deploy", data=_upload(("notes.txt", b"hi")),
                          content_type="multipart/form-data")
    assert response.status_code == 422
    assert "只能部署 .bpmn 和 .schema.json 文件（或一个 .zip），不能部署：notes.txt" in response.get_data(as_text=True)
    owner.get("/lang/en")
    response = owner.post("/processes/deploy", data=_upload(("notes.txt", b"hi")), content_type="multipart/form-data")
    assert "only .bpmn and .schema.json files (or one .zip) can be deployed, not notes.txt" in response.get_data(
        as_text=True)


@pytest.mark.parametrize("user", ["agent1", "auditor1"])
def test_only_owners_deploy(client_for, user):
    response = client_for(user).post("/processes/deploy", data=_upload(("x.bpmn", BPMN.read_bytes())),
                                     content_type="multipart/form-data")
    assert response.status_code == 403


def test_deploy_needs_csrf(client_for):
    response = client_for("owner1").post("/processes/deploy", data=_upload(("x.bpmn", BPMN.read_bytes())),
                                         content_type="multipart/form-data", csrf=False)
    assert response.status_code == 400


def test_api_deploy_with_a_new_form(api, runtime):
    form = (FORMS / "qc_follow_up.schema.json").read_text(encoding="utf-8").replace("跟进情况", "跟进记录")
    owner = api.bearer(api.token_for("owner1"))
    response = owner.call("POST", "/api/v1/deployments", content_type="multipart/form-data", data=_upload(
        ("complaint_handling.bpmn", BPMN.read_bytes()), ("qc_follow_up.schema.json", form.encode())))
    assert response.status_code == 201
    assert response.get_json()["version"] == 2
    again = owner.call("POST", "/api/v1/deployments", content_type="multipart/form-data", data=_upload(
        ("complaint_handling.bpmn", BPMN.read_bytes()), ("qc_follow_up.schema.json", form.encode())))
    assert (again.status_code, again.get_json()["created"]) == (200, False)


def test_api_deploy_refusal_lists_findings(api, runtime):
    owner = api.bearer(api.token_for("owner1"))
    text = BPMN.read_text(encoding="utf-8")
    response = owner.call("POST", "/api/v1/deployments", content_type="multipart/form-data",
                          data=_upload(("complaint_handling.bpmn", text[: len(text) // 2].encode())))
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "deployment_invalid"
    assert body["findings"][0]["rule"] == "xml"
    assert body["findings"][0]["text"].startswith("complaint_handling.bpmn:")
    assert [d["version"] for d in _versions(runtime)] == [1]


@pytest.mark.parametrize("user, status", [("agent1", 403), ("auditor1", 403)])
def test_api_deploy_wrong_role(api, user, status):
    response = api.bearer(api.token_for(user)).call(
        "POST", "/api/v1/deployments", content_type="multipart/form-data",
        data=_upload(("complaint_handling.bpmn", BPMN.read_bytes())))
    assert response.status_code == status


def _versions(runtime):
    from engine.run import queries

    with runtime.db.read() as session:
        return queries.deployments(session)
