"""One language at a time in a real browser: after the switch to English, the server's errors
(an unknown task, bad form data, a bad deploy file) show no Chinese; back in Chinese, no English
sentence. Screenshots: test-artifacts/screenshots/i17-lang-*.png (desktop 1440x900)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.browser import login, set_field, shot

pytestmark = pytest.mark.browser

CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
MESSAGES = ".error-message, .field-errors li, .form-errors li, .flash, .findings td:last-child"
DESKTOP = {"width": 1440, "height": 900}
GARBAGE = b"<not really bpmn"
FORM = {"customer_name": "Lang Test", "contact_phone": "call me", "complaint_at": "2026-11-23T10:30",
        "time_class": "旅游前", "kind": "服务质量", "description": "itinerary late", "customer_request": "send it",
        "involves_multiple_departments": False, "escalated_to_authority": False}


def server_messages(page) -> list[str]:
    texts = [t.strip() for t in page.locator(MESSAGES).all_inner_texts() if t.strip()]
    assert texts, f"no server message on {page.url}"
    return texts


def assert_language(page, lang: str) -> list[str]:
    texts = server_messages(page)
    for text in texts:
        if lang == "en":
            assert not CJK.search(text), f"Chinese in an English server message on {page.url}: {text!r}"
        else:
            assert CJK.search(text), f"an English server message on a Chinese page {page.url}: {text!r}"
    return texts


def switch(page, lang: str) -> None:
    page.goto(f"/lang/{lang}")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN" if lang == "zh" else "en")


def unknown_task(page, lang: str, screenshots) -> None:
    page.goto("/tasks/999999")
    texts = assert_language(page, lang)
    assert texts[0] == {"zh": "任务 999999 不存在", "en": "task 999999 does not exist"}[lang]
    shot(page, screenshots, f"i17-lang-unknown-task-{lang}")


def bad_form(page, lang: str, screenshots) -> None:
    page.goto("/start")
    page.locator("form[action='/start/complaint_handling'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/tasks/\d+$"))
    for name, value in FORM.items():
        set_field(page, name, value)
    form = page.locator("form").filter(has=page.locator('[name="contact_phone"]'))
    form.evaluate("f => { f.noValidate = true; }")  # let the server refuse it, not the browser
    with page.expect_navigation():
        form.locator("button[type=submit]").last.click()
    texts = assert_language(page, lang)
    rule = {"zh": "7–20 位数字，可含 + - 空格", "en": "7–20 digits; + - and spaces allowed"}[lang]
    assert any(rule in t for t in texts), texts
    shot(page, screenshots, f"i17-lang-bad-form-{lang}")


def bad_deploy(page, lang: str, screenshots) -> None:
    page.goto("/processes")
    form = page.locator("form.deploy-form")
    form.locator("input[type=file]").set_input_files(
        files=[{"name": "garbage.bpmn", "mimeType": "application/octet-stream", "buffer": GARBAGE}])
    with page.expect_navigation():
        form.locator("button.primary").click()
    texts = assert_language(page, lang)
    assert any("garbage.bpmn" in t for t in texts)
    shot(page, screenshots, f"i17-lang-bad-deploy-{lang}")


def test_english_shows_no_chinese_server_message_and_chinese_no_english(pages, screenshots):
    agent = pages.new()
    agent.set_viewport_size(DESKTOP)
    login(agent, "agent1")
    owner = pages.new()
    owner.set_viewport_size(DESKTOP)
    login(owner, "owner1")
    for lang in ("en", "zh"):
        switch(agent, lang)
        unknown_task(agent, lang, screenshots)
        bad_form(agent, lang, screenshots)
        switch(owner, lang)
        bad_deploy(owner, lang, screenshots)
