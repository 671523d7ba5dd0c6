"""What the modeler's properties panel and form editor ask of the server: the page's vocabulary
(roles, handlers, messages, forms), lint with the forms being edited, and the form preview."""

from __future__ import annotations

import html
import io
import json
import re

import pytest

from engine.config import DEFAULT_PROCESSES_DIR
from tests.support.api import Api
from tests.support.web import Client

LINT = "/api/v1/lint"
PREVIEW = "/api/v1/forms/preview"
XML = (DEFAULT_PROCESSES_DIR / "complaint_handling.bpmn").read_text(encoding="utf-8")
OLD_FORM = 'value="investigate_facts.schema.json"'
NEW_FORM = "review.schema.json"
REVIEW = {"title": "复核", "type": "object", "required": ["review_note"], "additionalProperties": False,
          "properties": {"review_note": {"type": "string", "title": "复核意见", "minLength": 1, "maxLength": 2000},
                         "complete": {"type": "boolean", "title": "材料是否完整"}}}


@pytest.fixture
def api(app, runtime):
    return Api(app, runtime)


def _context(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="modeler-context">(.*?)</script>', page, re.S)
    return json.loads(html.unescape(found.group(1)))


def test_the_page_offers_roles_handlers_messages_and_the_versions_forms(app):
    page = Client(app, "owner1").get("/processes/complaint_handling/edit").get_data(as_text=True)
    context = _context(page)
    roles = {r["id"]: r["name"] for r in context["roles"]}
    assert roles["qc"] == "质检培训部" and "system" in roles and "auditor" not in roles, "lanes only"
    handlers = {h["name"]: h for h in context["handlers"]}
    assert handlers["complaint_tour_guide"]["used_by"] == ["complaint_handling"]
    assert handlers["complaint_tour_guide"]["results"] == ["guide_user", "found_in"]
    assert {m["name"] for m in context["messages"]} >= {"complaint_received", "authority_complaint"}
    assert context["forms"]["investigate_facts.schema.json"]["title"] == "调查事实经过"
    texts = re.search(r'<script type="application/json" id="modeler-texts">(.*?)</script>', page, re.S)
    assert json.loads(html.unescape(texts.group(1)))["newForm"] == "新建表单…"


def test_a_draft_opens_with_its_own_forms(app, api):
    xml = XML.replace(OLD_FORM, f'value="{NEW_FORM}"').encode()
    files = [(io.BytesIO(xml), "complaint_handling.bpmn"),
             (io.BytesIO(json.dumps(REVIEW, ensure_ascii=False).encode()), NEW_FORM)]
    saved = api.as_("owner1").call("POST", "/api/v1/drafts", data={"files": files},
                                   content_type="multipart/form-data").get_json()
    assert saved["deployable"], saved["findings"]
    page = Client(app, "owner1").get(f"/processes/complaint_handling/edit?draft={saved['id']}").get_data(as_text=True)
    assert _context(page)["forms"][NEW_FORM] == REVIEW


def test_lint_checks_the_forms_being_edited(api):
    xml = XML.replace(OLD_FORM, f'value="{NEW_FORM}"')
    owner = api.as_("owner1")
    without = owner.post(LINT, {"bpmn_xml": xml, "process_id": "complaint_handling"}).get_json()
    assert [(f["rule"], f["element"]) for f in without["findings"]] == [("form-invalid", "investigate_facts")]
    edited = owner.post(LINT, {"bpmn_xml": xml, "process_id": "complaint_handling", "forms": {NEW_FORM: REVIEW}})
    assert edited.get_json()["findings"] == []
    broken = {**REVIEW, "properties": {"x": {"type": "string", "pattern": "(a)\\1"}}}
    found = owner.post(LINT, {"bpmn_xml": xml, "forms": {NEW_FORM: broken}}).get_json()["findings"]
    assert [(f["rule"], f["element"]) for f in found] == [("form-pattern", "investigate_facts")]


@pytest.mark.parametrize("forms", [[], "x", {"../evil.schema.json": {}}, {"a.json": {}}, {NEW_FORM: []},
                                   {f"f{i}.schema.json": {} for i in range(51)}])
def test_lint_refuses_forms_of_the_wrong_shape(api, forms):
    response = api.as_("owner1").post(LINT, {"bpmn_xml": XML, "forms": forms})
    assert response.status_code == 422 and response.get_json()["field"] == "forms"


def test_the_preview_draws_the_form_as_the_task_page_does(api):
    sent = json.dumps({"schema": REVIEW}, ensure_ascii=False)  # in the editor's field order, as a browser sends it
    body = api.as_("owner1").call("POST", PREVIEW, data=sent, content_type="application/json").get_json()
    assert body["valid"] is True and body["problems"] == []
    assert [(f["name"], f["widget"], f["required"]) for f in body["fields"]] == [
        ("review_note", "textarea", True), ("complete", "bool", False)]
    assert 'name="review_note"' in body["html"] and body["html"].count('type="radio"') == 2
    assert "复核意见" in body["html"] and "<script" not in body["html"]


def test_the_preview_escapes_what_the_schema_says(api):
    hostile = {"type": "object", "title": "<img src=x onerror=alert(1)>",
               "properties": {"a": {"type": "string", "title": "<script>alert(1)</script>"}}}
    body = api.as_("auditor1").post(PREVIEW, {"schema": hostile}).get_json()
    assert "<script>" not in body["html"] and "<img" not in body["html"] and "&lt;script&gt;" in body["html"]


@pytest.mark.parametrize(("schema", "problem"), [
    ({"type": "string"}, "必须是 type: object"),
    ({"type": "object", "properties": {"a": {"type": "nope"}}}, "不是有效的 JSON Schema"),
    ({"type": "object", "properties": {"a": {"type": "string", "pattern": "(a)\\1"}}}, "/properties/a/pattern 处"),
])
def test_the_preview_says_why_a_schema_cannot_be_a_form(api, schema, problem):
    body = api.as_("owner1").post(PREVIEW, {"schema": schema}).get_json()
    assert body["valid"] is False and body["fields"] == []
    assert any(problem in p for p in body["problems"]), body["problems"]


def test_the_previews_reasons_follow_the_users_language(app):
    owner = Client(app, "owner1")
    owner.get("/lang/en")
    body = owner.api("POST", PREVIEW, {"schema": {"type": "string"}}).get_json()
    assert body["problems"] == ["the schema must have type: object"]


@pytest.mark.parametrize("body", [{}, {"schema": "x"}, {"schema": []}])
def test_a_preview_without_a_schema_object_is_422(api, body):
    response = api.as_("owner1").post(PREVIEW, body)
    assert response.status_code == 422 and response.get_json()["field"] == "schema"


@pytest.mark.parametrize(("user", "status"), [("owner1", 200), ("auditor1", 200), ("agent1", 403), ("qc1", 403)])
def test_owners_and_auditors_preview_forms(api, user, status):
    assert api.as_(user).post(PREVIEW, {"schema": REVIEW}).status_code == status
