"""Lint findings reach people in their language: Chinese by default, English after /lang/en
(POST /api/v1/lint, refused deploys, the draft preview page); ids and file names stay verbatim."""

from __future__ import annotations

import io

import pytest

from engine.config import DEFAULT_PROCESSES_DIR
from tests.support.api import Api
from tests.support.versions import FIXTURE, deploy_minimal

LINT = "/api/v1/lint"
XML = (DEFAULT_PROCESSES_DIR / "complaint_handling.bpmn").read_text(encoding="utf-8")
FORM = 'value="investigate_facts.schema.json"'
NO_FORM = XML.replace(FORM, 'value="nope.schema.json"')
ZH = "用户任务 'investigate_facts'"
EN = "userTask 'investigate_facts'"


@pytest.fixture
def api(app, runtime):
    deploy_minimal(runtime)
    return Api(app, runtime)


def form_finding(body: dict) -> dict:
    [finding] = [f for f in body["findings"] if "nope.schema.json" in f["message"]]
    return finding


def test_lint_answers_in_chinese_by_default_and_in_english_after_choosing_it(api):
    assert FORM in XML, "the fixture names this form"
    owner = api.as_("owner1")
    chinese = form_finding(owner.post(LINT, {"bpmn_xml": NO_FORM, "process_id": "complaint_handling"}).get_json())
    assert chinese["message"] == chinese["message_zh"]
    assert ZH in chinese["message"] and "forms/complaint_handling/nope.schema.json：文件不存在" in chinese["message"]
    assert EN in chinese["message_en"] and chinese["message_en"].endswith(": file not found")
    assert owner.http.get("/lang/en").status_code == 302
    english = form_finding(owner.post(LINT, {"bpmn_xml": NO_FORM, "process_id": "complaint_handling"}).get_json())
    assert english == {**chinese, "message": chinese["message_en"]}


def test_a_token_caller_without_a_session_gets_chinese(api):
    body = api.bearer("auditor1").post(LINT, {"bpmn_xml": NO_FORM, "process_id": "complaint_handling"}).get_json()
    assert ZH in form_finding(body)["message"]


def test_a_refused_deploy_lists_its_findings_in_the_users_language(api):
    owner = api.as_("owner1")

    def refuse() -> dict:
        response = owner.call("POST", "/api/v1/deployments", content_type="multipart/form-data",
                              data={"files": [(io.BytesIO(NO_FORM.encode()), "complaint_handling.bpmn")]})
        assert response.status_code == 422
        return form_finding(response.get_json())

    chinese = refuse()
    assert ZH in chinese["message"] and chinese["text"].endswith(chinese["message_zh"])
    assert chinese["text"].startswith("complaint_handling.bpmn:") and " error form-invalid: " in chinese["text"]
    owner.http.get("/lang/en")
    english = refuse()
    assert english["message"] == english["message_en"] == chinese["message_en"]
    assert english["text"].endswith(": file not found")


def test_the_draft_page_and_the_deploy_page_show_findings_in_the_users_language(api, client_for):
    owner = client_for("owner1")
    broken = FIXTURE.read_bytes().replace(b'value="escalate.schema.json"', b'value="missing.schema.json"')

    def upload(preview: bool):
        data = {"files": [(io.BytesIO(broken), FIXTURE.name)], **({"preview": "1"} if preview else {})}
        return owner.post("/processes/deploy", data=data, content_type="multipart/form-data")

    draft_url = upload(preview=True).headers["Location"]
    page = owner.get(draft_url).get_data(as_text=True)
    assert "用户任务 &#39;escalate&#39;（主管跟进）的表单 forms/minimal_ok/missing.schema.json：文件不存在" in page
    assert "file not found" not in page
    refused = upload(preview=False)
    assert refused.status_code == 422 and "的表单 forms/minimal_ok/missing.schema.json：文件不存在" in refused.get_data(
        as_text=True)
    owner.get("/lang/en")
    page = owner.get(draft_url).get_data(as_text=True)
    assert "form forms/minimal_ok/missing.schema.json of userTask &#39;escalate&#39; (主管跟进): file not found" in page
    assert "文件不存在" not in page
    assert ": file not found" in upload(preview=False).get_data(as_text=True)
