"""The owner's modeler page (/processes/<id>/edit) and the live lint it calls (POST /api/v1/lint)."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from engine.bpmn.xmlsafe import MAX_BPMN_BYTES
from engine.config import DEFAULT_PROCESSES_DIR
from engine.store import models
from tests.support.api import Api
from tests.support.web import Client

LINT = "/api/v1/lint"
BPMN = DEFAULT_PROCESSES_DIR / "complaint_handling.bpmn"
XML = BPMN.read_text(encoding="utf-8")


@pytest.fixture
def api(app, runtime):
    return Api(app, runtime)


def test_a_clean_diagram_lints_clean(api):
    body = api.as_("owner1").post(LINT, {"bpmn_xml": XML, "process_id": "complaint_handling"}).get_json()
    assert body == {"process_id": "complaint_handling", "findings": [], "errors": 0, "warnings": 0}


def test_findings_name_the_element_they_are_about(api):
    broken = XML.replace('sourceRef="report_overdue"', 'sourceRef="nowhere"', 1)
    assert broken != XML
    body = api.as_("owner1").post(LINT, {"bpmn_xml": broken}).get_json()
    assert body["process_id"] == "complaint_handling", "taken from the diagram when not given"
    dangling = [f for f in body["findings"] if f["rule"] == "dangling-flow"]
    assert dangling and dangling[0]["severity"] == "error" and dangling[0]["element"]
    assert f'id="{dangling[0]["element"]}"' in broken and body["errors"] >= 1


def test_an_unknown_form_is_found_against_the_current_versions_forms(api):
    form = 'value="investigate_facts.schema.json"'
    assert form in XML, "the fixture names this form"
    body = api.as_("owner1").post(LINT, {"bpmn_xml": XML.replace(form, 'value="nope.schema.json"'),
                                         "process_id": "complaint_handling"}).get_json()
    [finding] = [f for f in body["findings"] if "nope.schema.json" in f["message"]]
    assert (finding["severity"], finding["element"]) == ("error", "investigate_facts")


def test_an_auditors_lint_stores_nothing(api, runtime):
    def rows():
        with runtime.db.read() as session:
            return [session.execute(select(func.count()).select_from(m)).scalar_one()
                    for m in (models.AuditEvent, models.ProcessDraft, models.Deployment)]

    before = rows()
    assert api.as_("auditor1").post(LINT, {"bpmn_xml": XML}).status_code == 200
    assert api.bearer("auditor1").post(LINT, {"bpmn_xml": XML}).status_code == 200
    assert rows()[1:] == before[1:] and rows()[0] == before[0] + 1, "only the token's creation is recorded"


def test_an_unreadable_diagram_is_one_finding_of_the_whole_file(api):
    body = api.as_("auditor1").post(LINT, {"bpmn_xml": "<definitions"}).get_json()
    assert [(f["rule"], f["element"]) for f in body["findings"]] == [("xml", None)]


@pytest.mark.parametrize("body", [{}, {"bpmn_xml": ""}, {"bpmn_xml": 3}, {"bpmn_xml": XML, "process_id": 7},
                                  {"bpmn_xml": XML, "process_id": "x" * 201}])
def test_a_bad_body_is_422(api, body):
    response = api.as_("owner1").post(LINT, body)
    assert response.status_code == 422, response.get_json()


def test_a_diagram_larger_than_an_upload_may_be_is_413(api):
    huge = XML.replace("</bpmn:definitions>", "<!--" + "x" * MAX_BPMN_BYTES + "--></bpmn:definitions>")
    response = api.as_("owner1").post(LINT, {"bpmn_xml": huge})
    assert response.status_code == 413 and response.get_json()["error"] == "too_large"


def test_a_diagram_above_the_json_cap_but_within_the_upload_cap_is_linted(api):
    big = XML.replace("</bpmn:definitions>", "<!--" + "x" * (2 * 1024 * 1024) + "--></bpmn:definitions>")
    response = api.as_("owner1").post(LINT, {"bpmn_xml": big})
    assert response.status_code == 200 and response.get_json()["errors"] == 0


@pytest.mark.parametrize(("user", "status"), [("owner1", 200), ("auditor1", 200), ("agent1", 403),
                                              ("supervisor1", 403), ("qc1", 403)])
def test_owners_and_auditors_lint(api, user, status):
    assert api.as_(user).post(LINT, {"bpmn_xml": XML}).status_code == status


def test_the_owner_opens_the_current_version_in_the_modeler(app):
    page = Client(app, "owner1").get("/processes/complaint_handling/edit")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "bpmn-modeler.production.min.js" in text and "js/modeler.js" in text
    assert 'data-lint-url="/api/v1/lint"' in text and "receive_complaint" in text, "the XML is in data-xml"
    assert "<script>" not in text, "no inline script (CSP)"


@pytest.mark.parametrize("user", ["auditor1", "agent1", "supervisor1"])
def test_only_owners_open_the_modeler(app, user):
    assert Client(app, user).get("/processes/complaint_handling/edit").status_code == 403


@pytest.mark.parametrize("url", ["/processes/nope/edit", "/processes/complaint_handling/edit?version=9",
                                 "/processes/complaint_handling/edit?draft=999999",
                                 "/processes/complaint_handling/edit?draft=x"])
def test_unknown_processes_versions_and_drafts_are_404(app, url):
    assert Client(app, "owner1").get(url).status_code == 404


def test_a_draft_continues_in_the_modeler_and_the_pages_link_to_it(app, api):
    changed = XML.replace("督办结束", "督办完毕").encode()
    saved = api.as_("owner1").call("POST", "/api/v1/drafts", data={"files": [(io.BytesIO(changed), BPMN.name)]},
                                   content_type="multipart/form-data").get_json()
    owner = Client(app, "owner1")
    preview = owner.get(f"/processes/drafts/{saved['id']}").get_data(as_text=True)
    assert f"/processes/complaint_handling/edit?draft={saved['id']}" in preview
    page = owner.get(f"/processes/complaint_handling/edit?draft={saved['id']}").get_data(as_text=True)
    assert "督办完毕" in page
    assert "/processes/complaint_handling/edit" in owner.get("/processes").get_data(as_text=True)
    assert "/edit" not in Client(app, "auditor1").get("/processes").get_data(as_text=True)
