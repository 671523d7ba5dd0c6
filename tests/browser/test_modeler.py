"""The owner edits complaint_handling in the bpmn-js Modeler: live lint markers while editing, then
a draft, its preview, and version 2 deployed from it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.browser import login, shot

pytestmark = pytest.mark.browser

NEW_NAME = "调查事实经过并取证"
TASK = "investigate_facts"
FORM = "investigate_facts.schema.json"

# Sets the form file name of a user task (its spiffworkflow:property, kept by bpmn-js as a generic
# element) and records a command, so the modeler sees a change as when edited by hand.
SET_FORM = """([id, form]) => {
  const modeler = window.tourflowModeler;
  const element = modeler.get("elementRegistry").get(id);
  const props = element.businessObject.extensionElements.values.find(v => v.$type === "spiffworkflow:properties");
  const prop = props.$children.find(p => p.name === "formJsonSchemaFilename");
  prop.value = form;
  modeler.get("modeling").updateProperties(element, {name: element.businessObject.name});
}"""


def _lint_round(page) -> int:
    return int(page.locator("#lint-list").get_attribute("data-lint-round") or 0)


def _wait_next_lint(page, after: int) -> None:
    """The lint list shows a newer answer (rounds only grow; the page's CSP forbids eval, so no
    wait_for_function)."""
    expect(page.locator("#lint-list")).not_to_have_attribute("data-lint-round", str(after), timeout=20_000)


def test_owner_edits_lints_saves_a_draft_and_deploys_it(pages, live_server, screenshots):
    page = pages.new()
    page.set_viewport_size({"width": 1440, "height": 900})
    login(page, "owner1")
    page.goto("/processes")
    card = page.locator(".process-card", has=page.locator("code", has_text="complaint_handling"))
    card.get_by_role("link", name="编辑").click()
    expect(page).to_have_url(re.compile(r"/processes/complaint_handling/edit$"))
    expect(page.locator("#modeler[data-state=ready]")).to_have_count(1, timeout=20_000)
    expect(page.locator(".bjs-powered-by")).to_be_visible()  # the bpmn.io licence's watermark
    expect(page.locator("#lint-list[data-lint-round]")).to_have_count(1, timeout=20_000)
    expect(page.locator("#lint-summary")).to_have_text("检查通过，没有发现问题")

    before = _lint_round(page)
    page.evaluate("""([id, name]) => {
      const modeler = window.tourflowModeler;
      modeler.get("modeling").updateLabel(modeler.get("elementRegistry").get(id), name);
    }""", [TASK, NEW_NAME])
    _wait_next_lint(page, before)
    expect(page.locator(f'.djs-element[data-element-id="{TASK}"]')).to_contain_text(NEW_NAME)

    before = _lint_round(page)
    page.evaluate(SET_FORM, [TASK, "no_such_form.schema.json"])
    _wait_next_lint(page, before)
    marked = page.locator(f'.djs-element.lint-error[data-element-id="{TASK}"]')
    expect(marked).to_have_count(1)
    expect(page.locator(".lint-badge.lint-badge-error")).to_contain_text("no_such_form.schema.json")
    item = page.locator(f'#lint-list li.lint-error[data-element="{TASK}"]')
    expect(item).to_contain_text("no_such_form.schema.json")
    stroke = marked.locator(".djs-visual > :first-child").evaluate("e => getComputedStyle(e).stroke")
    assert stroke == "rgb(217, 45, 32)", stroke
    item.first.click()
    selected = page.evaluate("window.tourflowModeler.get('selection').get().map(e => e.id)")
    assert selected == [TASK]
    shot(page, screenshots, "50-modeler-lint-error")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, screenshots, "51-modeler-lint-error-phone")
    page.set_viewport_size({"width": 1440, "height": 900})

    before = _lint_round(page)
    page.evaluate(SET_FORM, [TASK, FORM])
    _wait_next_lint(page, before)
    expect(page.locator(".djs-element.lint-error")).to_have_count(0)
    expect(page.locator("#lint-list")).to_have_attribute("data-errors", "0")

    page.get_by_role("button", name="保存草稿").click()
    expect(page).to_have_url(re.compile(r"/processes/drafts/\d+$"))
    expect(page.locator("h1")).to_contain_text("草稿预览")
    expect(page.locator(".diff-table")).to_contain_text(NEW_NAME)
    expect(page.get_by_role("link", name="继续编辑")).to_have_attribute(
        "href", re.compile(r"/processes/complaint_handling/edit\?draft=\d+$"))
    shot(page, screenshots, "52-modeler-draft-preview")
    page.get_by_role("button", name="部署为新版本").click()
    expect(page.locator(".flash-success")).to_contain_text(re.compile(r"已部署 complaint_handling 版本 \d+"))
    shot(page, screenshots, "53-modeler-deployed")
    assert pages.problems == []
    # later browser tests start complaints on version 1, as the demo has it
    live_server.cli("activate", "complaint_handling", "1", "--reason", "modeler test done", "--as", "owner1")
