"""One language at a time: every server message on a page or in an API answer is in the user's
language. Walks the error paths (unknown task and instance, wrong role, a finished task, bad form
data, a bad deploy file, lint findings) in Chinese and in English: no Chinese character in an
English message, no untranslated English message on a Chinese page."""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path

import pytest

from engine.errors import FormInvalid, NotFound, Refusal, TaskConflict, refused
from tests.support.api import Api
from tests.support.complaint import COMPLAINT
from tests.support.web import page_text
from webapp.error_messages import CJK, GENERIC, ZH, render
from webapp.form_fields import error_text, shown_hint

ROOT = Path(__file__).resolve().parents[2]
FORM = {**COMPLAINT, "complaint_at": "2026-11-20T09:30", "involves_multiple_departments": "false",
        "escalated_to_authority": "false"}
BROKEN_BPMN = (b'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions xmlns:bpmn='
               b'"http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">\n'
               b'  <bpmn:process id="broken" isExecutable="true"><bpmn:startEvent id="s"/></bpmn:process>\n'
               b'</bpmn:definitions>\n')
# The server's messages on a page: error cards, alerts, flashes, field errors, deploy refusals.
MESSAGE = re.compile(r'<(p|div|li|td)[^>]*class="[^"]*(error-message|flash)[^"]*"[^>]*>(.*?)</\1>'
                     r'|<ul[^>]*role="alert"[^>]*>(.*?)</ul>|<table class="grid findings">(.*?)</table>', re.S)
TAG = re.compile(r"<[^>]+>")
ENGLISH_WORDS = re.compile(r"\b(does not|not allowed|is required|refused|nothing deployed|error\(s\)|"
                           r"malformed|does not match|no longer|already)\b", re.I)


def server_messages(response) -> list[str]:
    page = page_text(response)
    found = []
    for match in MESSAGE.finditer(page):
        inner = next(g for g in (match.group(3), match.group(4), match.group(5)) if g is not None)
        found += [t.strip() for t in TAG.sub("\n", inner).split("\n") if t.strip()]
    return found


def assert_in_language(messages: list[str], lang: str, where: str) -> None:
    assert messages, f"{where}: no server message found"
    for text in messages:
        if lang == "en":
            assert not CJK.search(text), f"{where}: Chinese in an English message: {text!r}"
        elif re.search("[A-Za-z]{3}", text) and not re.fullmatch(r"[\w.\-/:' ]*\d[\w.\-/:' ]*|[a-z-]+", text):
            # ids, codes and rule ids may be Latin; a sentence must be Chinese
            assert CJK.search(text) and not ENGLISH_WORDS.search(text), f"{where}: English on a Chinese page: {text!r}"


def client_in(client_for, user: str, lang: str):
    client = client_for(user)
    assert client.get(f"/lang/{lang}").status_code == 302
    return client


def start(runtime) -> dict:
    iid = runtime.start("complaint_handling", actor="agent1")
    return next(t for t in runtime.tasks(instance_id=iid) if t["task"] == "receive_complaint")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_unknown_task_and_instance_pages_speak_the_users_language(client_for, lang):
    agent = client_in(client_for, "agent1", lang)
    task, instance = agent.get("/tasks/999999"), agent.get("/instances/999999")
    assert task.status_code == instance.status_code == 404
    assert_in_language(server_messages(task), lang, "unknown task")
    assert_in_language(server_messages(instance), lang, "unknown instance")
    expected = {"zh": ("任务 999999 不存在", "流程实例 999999 不存在"),
                "en": ("task 999999 does not exist", "instance 999999 does not exist")}[lang]
    assert expected[0] in server_messages(task) and expected[1] in server_messages(instance)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_wrong_role_finished_task_and_bad_form_data_speak_the_users_language(runtime, client_for, lang):
    task = start(runtime)
    qc = client_in(client_for, "qc1", lang)
    wrong_role = qc.get(f"/tasks/{task['id']}")
    assert wrong_role.status_code == 403
    assert_in_language(server_messages(wrong_role), lang, "wrong role")
    assert ("任务" in server_messages(wrong_role)[0]) == (lang == "zh")

    agent = client_in(client_for, "agent1", lang)
    bad = agent.post(f"/tasks/{task['id']}", data={**FORM, "contact_phone": "call me"})
    assert bad.status_code == 422
    assert_in_language(server_messages(bad), lang, "bad form data")
    rule = {"zh": "7–20 位数字，可含 + - 空格", "en": "7–20 digits; + - and spaces allowed"}[lang]
    assert any(rule in m for m in server_messages(bad)), "the error says the rule"

    runtime.complete(task["id"], "agent1", COMPLAINT)
    finished = agent.post(f"/tasks/{task['id']}", data=FORM)
    assert finished.status_code == 409
    assert_in_language(server_messages(finished), lang, "finished task")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_bad_deploy_file_and_its_lint_findings_speak_the_users_language(client_for, lang):
    owner = client_in(client_for, "owner1", lang)
    for name, data in (("garbage.bpmn", b"<not really"), ("broken.bpmn", BROKEN_BPMN), ("notes.txt", b"x")):
        response = owner.post("/processes/deploy", data={"files": (io.BytesIO(data), name)},
                              content_type="multipart/form-data")
        assert response.status_code == 422, name
        assert_in_language(server_messages(response), lang, f"deploy of {name}")
    findings = server_messages(response := owner.post(
        "/processes/deploy", data={"files": (io.BytesIO(BROKEN_BPMN), "broken.bpmn")}, content_type="multipart/form-data"))
    assert len(findings) > 2, "the refusal lists its lint findings"
    assert ("没有结束事件" in page_text(response)) == (lang == "zh")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_api_errors_answer_in_the_accept_language_with_the_same_code(runtime, app, lang):
    api = Api(app, runtime, language=lang)
    task = start(runtime)
    answers = {
        "not_found": api.as_("agent1").get("/api/v1/tasks/999999"),
        "forbidden": api.as_("qc1").post(f"/api/v1/tasks/{task['id']}/claim"),
        "validation_error": api.as_("agent1").post(f"/api/v1/tasks/{task['id']}/complete",
                                                   {"data": {**COMPLAINT, "contact_phone": "call me"}}),
        "deployment_invalid": api.as_("owner1").call("POST", "/api/v1/deployments", content_type="multipart/form-data",
                                                     data={"files": [(io.BytesIO(BROKEN_BPMN), "broken.bpmn")]}),
    }
    runtime.complete(task["id"], "agent1", COMPLAINT)
    answers["conflict"] = api.as_("agent1").post(f"/api/v1/tasks/{task['id']}/complete", {"data": COMPLAINT})
    for code, response in answers.items():
        body = response.get_json()
        assert body["error"] == code, body
        texts = [body["message"], *(e["message"] for e in body.get("errors", [])),
                 *(e["hint"] for e in body.get("errors", []) if "hint" in e),
                 *(f["message"] for f in body.get("findings", []))]
        assert_in_language(texts, lang, f"API {code}")
    assert answers["not_found"].get_json()["message"] == {"zh": "任务 999999 不存在",
                                                          "en": "task 999999 does not exist"}[lang]


def test_without_accept_language_the_api_follows_the_session_then_chinese(runtime, app, client_for):
    assert Api(app, runtime).as_("agent1").get("/api/v1/tasks/999999").get_json()["message"] == "任务 999999 不存在"
    english = client_in(client_for, "agent1", "en")
    assert english.get("/api/v1/tasks/999999").get_json()["message"] == "task 999999 does not exist"
    asked = english.get("/api/v1/tasks/999999", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert asked.get_json() == {"error": "not_found", "message": "任务 999999 不存在", "field": None}
    assert asked.headers["Content-Language"] == "zh-CN"
    assert english.get("/tasks/999999").headers["Content-Language"] == "en"


# ---- the catalogue -------------------------------------------------------------------------
KEYED_HELPERS = {"invalid", "field_invalid"}  # engine helpers whose third argument is the key


def raised_keys() -> dict[str, str]:
    """Every catalogue key the code raises: key="..." of an error, a Refusal's, limits.invalid's."""
    keys: dict[str, str] = {}
    for path in [*ROOT.joinpath("engine").rglob("*.py"), *ROOT.joinpath("webapp").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            given = [k.value for k in node.keywords if k.arg == "key"]
            if name == "Refusal" or (name in KEYED_HELPERS and len(node.args) == 3):
                given.append(node.args[1 if name == "Refusal" else 2])
            for value in given:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    keys[value.value] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return keys


def test_every_key_the_code_raises_has_chinese_and_every_template_is_used():
    keys = raised_keys()
    assert len(keys) > 60, "the scan finds the keys"
    missing = {k: where for k, where in keys.items() if k not in ZH}
    assert not missing, f"keys without a Chinese template in webapp/error_messages.py: {missing}"
    assert not set(ZH) - set(keys), f"templates nobody raises: {sorted(set(ZH) - set(keys))}"
    assert all(CJK.search(text) for text in ZH.values())
    assert all(CJK.search(zh) and not CJK.search(en) for zh, en in GENERIC.values())


ERROR_CLASSES = {"NotFound", "TaskConflict", "NotAllowed", "FormInvalid", "DeploymentError", "BpmnReadError",
                 "ScriptError", "TourflowError", "MigrationRefused"}


def test_every_engine_error_a_user_can_meet_carries_a_key():
    unkeyed = []
    for path in ROOT.joinpath("engine").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                name = getattr(node.exc.func, "id", "")
                keyed = any(k.arg == "key" for k in node.exc.keywords)
                if name in KEYED_HELPERS:
                    keyed = len(node.exc.args) >= 3
                if (name in ERROR_CLASSES or name in KEYED_HELPERS) and not keyed:
                    unkeyed.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not unkeyed, f"engine errors without a catalogue key (they show only generic words in Chinese): {unkeyed}"


def test_render_fills_the_parameters_and_never_mixes_languages():
    missing = NotFound("task 7 does not exist", key="task.missing", params={"id": 7})
    assert render(missing, "zh") == "任务 7 不存在" and render(missing, "en") == "task 7 does not exist"
    ended = TaskConflict("instance 3 is already completed", key="instance.already_ended",
                         params={"id": 3, "status": "completed"})
    assert render(ended, "zh") == "流程实例 3 已结束（已完成）"
    too_long = FormInvalid("field 'reason': must be at most 5 characters (got 9)", field="reason",
                           key="limit.too_long", params={"field": "reason", "limit": 5, "got": 9})
    assert render(too_long, "zh") == "字段 reason：最多 5 个字符（现有 9 个）"
    lane = refused(Refusal("user 'qc1' (roles: qc) does not hold lane 'staff'", "access.lane",
                           user="qc1", roles="qc", lane="staff"))
    assert render(lane, "zh") == "用户 qc1（角色：qc）不在泳道 staff 中"
    unkeyed = TaskConflict("something new went wrong")
    assert render(unkeyed, "zh") == GENERIC["conflict"][0] and render(unkeyed, "en") == "something new went wrong"
    chinese_only = FormInvalid("请选择文件")
    assert render(chinese_only, "zh") == "请选择文件" and not CJK.search(render(chinese_only, "en"))


def test_a_forms_own_english_rule_shows_on_english_pages(app):
    prop = {"type": "string", "pattern": "^x$", "x-pattern-hint": "只能是 x", "x-pattern-hint-en": "only x"}
    refused = {"field": "a", "message": "'y' does not match '^x$' (the rule: only x)", "hint": "只能是 x",
               "hint_en": "only x"}
    with app.test_request_context("/", headers={"Cookie": "lang=en"}):
        assert shown_hint(prop) == "only x" and error_text(refused) == "Wrong format: only x"
    with app.test_request_context("/"):
        assert shown_hint(prop) == "只能是 x" and error_text(refused) == "格式不正确：只能是 x"
