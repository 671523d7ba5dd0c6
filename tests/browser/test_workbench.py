"""The process owner's workbench end to end (issue 15's scenario), in a real browser:

the owner opens complaint_handling in the modeler, makes room on the QC lane with the space tool,
drops a task from the palette onto a flow, makes it a user task in the properties panel, gives it
an id, a name and an SOP, sees the lint marker until its form is complete, builds the form in the
form editor (with its live preview), saves a draft, previews and deploys it, compares it with the
version before, migrates a complaint waiting in the QC lane from the page (dry run first), the QC
clerk completes the migrated complaint through the new task, and the owner rolls back: a new
complaint starts on the old version again."""

from __future__ import annotations

import json
import re

import pytest
from lxml import etree
from playwright.sync_api import expect

from tests.support.browser import SUBMIT, login, logout, set_field, shot
from tests.support.complaint import COMPLAINT

pytestmark = pytest.mark.browser

TASK = "review_investigation"
TASK_NAME = "复核调查结果"
FORM = f"{TASK}.schema.json"
VIEW = {"x": 1000, "y": 380}  # the diagram point at the canvas's top left, at zoom 1


def _open_task(server, instance_id: int, task: str) -> int:
    found = [t for t in server.cli_json("tasks", "--instance", str(instance_id)) if t["task"] == task]
    assert found, f"{task} is not open in instance {instance_id}"
    return found[0]["id"]


def _complaint_at_investigation(server) -> int:
    """A complaint before the tour: the QC lane investigates it (waiting at investigate_facts)."""
    instance_id = int(server.cli("start", "complaint_handling", "--as", "agent1").strip())
    data = {**COMPLAINT, "time_class": "旅游前", "involves_multiple_departments": False,
            "escalated_to_authority": False}
    server.cli("complete", str(_open_task(server, instance_id, "receive_complaint")), "--as", "agent1",
               "--data", json.dumps(data, ensure_ascii=False))
    _open_task(server, instance_id, "investigate_facts")
    return instance_id


def _open_modeler(pages):
    """The owner's modeler on complaint_handling at desktop size, drawn and linted once."""
    page = pages.new()
    page.set_viewport_size({"width": 1440, "height": 900})
    login(page, "owner1")
    page.goto("/processes/complaint_handling/edit")
    expect(page.locator("#modeler[data-state=ready]")).to_have_count(1, timeout=20_000)
    expect(page.locator("#lint-list[data-lint-round]")).to_have_count(1, timeout=20_000)
    return page


def _lint_round(page) -> int:
    return int(page.locator("#lint-list").get_attribute("data-lint-round") or 0)


def _after_lint(page, before: int) -> None:
    expect(page.locator("#lint-list")).not_to_have_attribute("data-lint-round", str(before), timeout=20_000)


def _screen(page, x: float, y: float) -> tuple[float, float]:
    """Where the diagram point (x, y) is on the screen (the canvas shows VIEW at zoom 1)."""
    box = page.locator("#modeler-canvas").bounding_box()
    return box["x"] + x - VIEW["x"], box["y"] + y - VIEW["y"]


def _drag(page, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move((start[0] + end[0]) / 2, (start[1] + end[1]) / 2, steps=5)
    page.mouse.move(*end, steps=5)
    page.mouse.up()


def _add_user_task(page) -> None:
    """Space tool, then a task from the palette dropped on investigate_facts -> determine_responsibility."""
    page.evaluate("""view => {
      const canvas = window.tourflowModeler.get("canvas");
      const box = document.getElementById("modeler-canvas").getBoundingClientRect();
      canvas.viewbox({x: view.x, y: view.y, width: box.width, height: box.height});
    }""", VIEW)
    page.locator('.djs-palette [data-action="space-tool"]').click()
    _drag(page, _screen(page, 1290, 520), _screen(page, 1430, 520))
    determine = page.evaluate("window.tourflowModeler.get('elementRegistry').get('determine_responsibility').x")
    assert determine == 1460, "the space tool moved the rest of the lane right"

    page.locator('.djs-palette [data-action="create.task"]').click()
    target = _screen(page, 1360, 610)
    page.mouse.move(target[0] - 40, target[1], steps=3)
    page.mouse.move(*target, steps=5)
    page.mouse.click(*target)
    page.keyboard.press("Escape")  # leave the label editor bpmn-js opens on a new task
    panel = page.locator("#props-panel")
    expect(panel).to_have_attribute("data-type", "bpmn:Task")
    panel.locator("[data-prop=task-type] select").select_option("bpmn:UserTask")
    expect(panel).to_have_attribute("data-type", "bpmn:UserTask")
    panel.locator("[data-prop=id] input").fill(TASK)
    panel.locator("[data-prop=id] input").press("Tab")
    expect(panel).to_have_attribute("data-element", TASK)
    panel.locator("[data-prop=name] input").fill(TASK_NAME)
    panel.locator("[data-prop=name] input").press("Tab")
    sop = panel.locator("[data-prop=documentation] textarea")
    sop.fill("核对调查记录与证据是否完整\n不完整的退回补充")
    panel.locator("[data-prop=documentation]").get_by_role("button", name="自动编号").click()
    expect(sop).to_have_value("（1）核对调查记录与证据是否完整\n（2）不完整的退回补充")
    flows = page.evaluate(f"""() => {{
      const bo = window.tourflowModeler.get("elementRegistry").get("{TASK}").businessObject;
      return {{in: bo.incoming.map(f => f.sourceRef.id), out: bo.outgoing.map(f => f.targetRef.id),
               lane: bo.lanes ? bo.lanes.map(l => l.id) : null}};
    }}""")
    assert flows["in"] == ["investigate_facts"] and flows["out"] == ["determine_responsibility"], flows


def _make_form(page, screenshots) -> None:
    """Until its form is complete the task is marked; the form editor builds it with a live preview."""
    task = page.locator(f'.djs-element[data-element-id="{TASK}"]')
    expect(task).to_have_class(re.compile(r"\blint-warning\b"), timeout=20_000)  # a form is optional
    finding = page.locator(f'#lint-list li.lint-warning[data-element="{TASK}"]')
    expect(finding).to_contain_text("missing-form")
    expect(finding.locator(".lint-message")).to_contain_text("用户任务")  # the user's language first
    expect(finding.locator(".lint-message-other")).to_contain_text("has no form")

    panel = page.locator("#props-panel")
    panel.locator("[data-prop=form] select").select_option("__new__")
    editor = page.locator("#form-editor")
    expect(editor).to_be_visible()
    expect(editor.locator("#form-file")).to_have_value(FORM)
    expect(editor.locator("#form-title")).to_have_value(TASK_NAME)
    preview = editor.locator("#form-preview")
    expect(preview).to_contain_text("这个表单还没有字段", timeout=10_000)
    editor.get_by_role("button", name="添加字段").click()
    row = editor.locator(".form-field-row").last
    row.locator("[data-part=key]").fill("review_note")
    row.locator("[data-part=title]").fill("复核意见")
    row.locator("[data-part=kind]").select_option("long")
    expect(preview.locator("textarea[name=review_note]")).to_be_visible(timeout=10_000)
    expect(preview).to_contain_text("复核意见")
    editor.get_by_role("button", name="添加字段").click()
    row = editor.locator(".form-field-row").last
    row.locator("[data-part=key]").fill("complete")
    row.locator("[data-part=title]").fill("调查材料是否完整")
    row.locator("[data-part=kind]").select_option("bool")
    expect(preview.locator("input[type=radio][name=complete]")).to_have_count(2, timeout=10_000)
    schema = json.loads(editor.locator("#form-json").input_value())
    assert schema["required"] == ["review_note", "complete"]
    assert schema["properties"]["review_note"] == {"type": "string", "title": "复核意见", "maxLength": 2000,
                                                   "minLength": 1}
    page.screenshot(path=str(screenshots / "61-form-editor.png"))
    before = _lint_round(page)
    editor.get_by_role("button", name="保存表单").click()
    expect(editor).to_be_hidden()
    _after_lint(page, before)
    expect(task).not_to_have_class(re.compile(r"\blint-(error|warning)\b"))
    expect(page.locator("#lint-list")).to_have_attribute("data-errors", "0")
    expect(panel.locator("[data-prop=form] select")).to_have_value(FORM)


def test_owner_builds_deploys_migrates_and_rolls_back(pages, live_server, screenshots):
    waiting = _complaint_at_investigation(live_server)
    old = live_server.cli_json("show", str(waiting))["version"]

    page = _open_modeler(pages)
    _add_user_task(page)
    shot(page, screenshots, "60-workbench-new-task")
    _make_form(page, screenshots)
    shot(page, screenshots, "62-workbench-form-done")

    page.get_by_role("button", name="保存草稿").click()
    expect(page).to_have_url(re.compile(r"/processes/drafts/\d+$"))
    expect(page.locator(".diff-table")).to_contain_text(TASK_NAME)
    expect(page.locator(".diff-forms")).to_contain_text(FORM)
    page.get_by_role("button", name="部署为新版本").click()
    deployed = page.locator(".flash-success")
    expect(deployed).to_contain_text("已部署 complaint_handling 版本")
    new = int(re.search(r"版本 (\d+)", deployed.inner_text()).group(1))
    assert new > old

    page.goto(f"/processes/complaint_handling/diff?from={old}&to={new}")
    expect(page.locator(".diagram[data-state=ready]")).to_have_count(2, timeout=20_000)
    expect(page.locator(f'#diagram-new .djs-element.tf-added[data-element-id="{TASK}"]')).to_have_count(1)
    shot(page, screenshots, "63-workbench-diff")

    page.goto("/processes/complaint_handling/migrate")
    form = page.locator("form.migrate-form")
    form.locator("select[name=from]").select_option(str(old))
    form.locator("select[name=to]").select_option(str(new))
    form.locator("input[name=reason]").fill("质检复核步骤上线，正在调查的投诉一并迁移")
    form.get_by_role("button", name="预演（不改变任何数据）").click()
    report = page.locator(".migrate-report")
    expect(report).to_have_attribute("data-dry-run", "true")
    expect(report.locator("tr.ok", has=page.locator(f'a:text-is("#{waiting}")'))).to_have_count(1)
    assert live_server.cli_json("show", str(waiting))["version"] == old, "a dry run moves nothing"
    form = page.locator("form.migrate-form")
    form.locator("select[name=from]").select_option(str(old))
    form.locator("select[name=to]").select_option(str(new))
    form.locator("input[name=reason]").fill("质检复核步骤上线，正在调查的投诉一并迁移")
    form.get_by_role("button", name="迁移", exact=True).click()
    expect(page.locator(".migrate-report")).to_have_attribute("data-dry-run", "false")
    shot(page, screenshots, "64-workbench-migrated")
    assert live_server.cli_json("show", str(waiting))["version"] == new
    logout(page)

    live_server.cli("complete", str(_open_task(live_server, waiting, "investigate_facts")), "--as", "qc1",
                    "--data", json.dumps({"facts": "酒店确认空调损坏"}, ensure_ascii=False))
    login(page, "qc1")
    page.goto(f"/tasks/{_open_task(live_server, waiting, TASK)}")
    expect(page.locator("h1")).to_contain_text(TASK_NAME)
    expect(page.locator(".sop")).to_contain_text("核对调查记录与证据是否完整")
    claim = page.get_by_role("button", name="认领")
    if claim.count():
        claim.first.click()
    set_field(page, "review_note", "材料齐全，可以认定责任")
    set_field(page, "complete", True)
    page.get_by_role("button", name=SUBMIT).click()
    expect(page.locator(".flash-success")).to_be_visible()
    _open_task(live_server, waiting, "determine_responsibility")
    events = live_server.cli_json("events", str(waiting))
    assert [e["kind"] for e in events].count("instance_migrated") == 1
    logout(page)

    login(page, "owner1")
    page.goto("/processes")
    card = page.locator(".process-card", has=page.locator("code", has_text="complaint_handling"))
    version = card.locator(".version", has=page.locator(".version-name", has_text=f"v{old}"))
    version.get_by_label("设为当前版本的原因").fill("复核步骤先撤回，下周再上线")
    version.get_by_role("button", name="设为当前版本").click()
    expect(page.locator(".flash-success")).to_contain_text(f"将从版本 {old} 发起")
    again = int(live_server.cli("start", "complaint_handling", "--as", "agent1").strip())
    assert live_server.cli_json("show", str(again))["version"] == old
    assert pages.problems == []


def test_every_process_round_trips_through_the_modeler_unchanged(pages, live_server):
    """Opened and saved in bpmn-js with the panel's extensions untouched, each of the agency's files
    means what it meant: a save without an edit never makes a new version."""
    from engine.bpmn.canonical import canonical_digest
    from engine.config import DEFAULT_PROCESSES_DIR

    page = pages.new()
    login(page, "owner1")
    page.goto("/processes/complaint_handling/edit")
    expect(page.locator("#modeler[data-state=ready]")).to_have_count(1, timeout=20_000)
    files = sorted(DEFAULT_PROCESSES_DIR.glob("*.bpmn"))
    assert len(files) >= 11
    for path in files:
        original = path.read_bytes()
        saved = page.evaluate("""async xml => {
          const modeler = window.tourflowModeler;
          await window.tourflowModelerPage.load(xml);  // as the page opens a diagram
          for (const element of modeler.get("elementRegistry").getAll()) {  // the panel reads every element
            modeler.get("selection").select(element);
          }
          return (await modeler.saveXML({format: true})).xml;
        }""", original.decode("utf-8"))
        assert canonical_digest(saved.encode("utf-8"), path.name) == canonical_digest(original, path.name), path.name
    assert pages.problems == []


def test_the_panel_shows_and_edits_timers_handlers_flows_lanes_and_messages(pages, live_server):
    page = _open_modeler(pages)
    panel = page.locator("#props-panel")

    def select(element_id: str) -> None:
        page.evaluate("""id => { const m = window.tourflowModeler;
                                 m.get("selection").select(m.get("elementRegistry").get(id)); }""", element_id)
        expect(panel).to_have_attribute("data-element", element_id)

    def saved() -> str:
        return page.evaluate("async () => (await window.tourflowModeler.saveXML({format: true})).xml")

    select("qc")
    expect(panel.locator("[data-prop=role] select")).to_have_value("qc")
    expect(panel.locator("[data-prop=role] option[value=staff]")).to_be_disabled()  # another lane's role

    select("find_tour_guide")
    expect(panel.locator("[data-prop=handler] select")).to_have_value("complaint_tour_guide")
    expect(panel.locator(".handler-about")).to_contain_text("guide_user, found_in")
    expect(panel.locator(".handler-about")).to_contain_text("complaint_handling")

    select("route_to_qc")
    expect(panel.locator("[data-prop=default-flow] input")).to_be_checked()
    select("route_to_local")
    expect(panel.locator("[data-prop=condition] textarea")).to_have_value(re.compile(r'^time_class == "旅游过程中"'))

    select("complaint_received")
    expect(panel.locator("[data-prop=message] input")).to_have_value("complaint_received")

    select("report_overdue")
    expect(panel.locator("[data-prop=timer-kind] select")).to_have_value("timeDate")
    panel.locator("[data-prop=timer-kind] select").select_option("timeDuration")
    expression = panel.locator("[data-prop=timer-expression] textarea")
    expression.fill("PT2H")
    expression.press("Tab")
    expect(expression).to_have_value('"PT2H"')
    expect(panel.locator(".prop-quoted")).to_be_visible()
    timer = etree.fromstring(saved().encode()).find(".//{*}boundaryEvent[@id='report_overdue']//{*}timeDuration")
    assert timer.text == '"PT2H"'

    # the panel's edits are bpmn-js commands: two undos take the expression and the kind back
    page.evaluate("() => { const stack = window.tourflowModeler.get('commandStack'); stack.undo(); stack.undo(); }")
    expect(panel.locator("[data-prop=timer-kind] select")).to_have_value("timeDate")
    timer = etree.fromstring(saved().encode()).find(".//{*}boundaryEvent[@id='report_overdue']//{*}timeDate")
    assert timer.text == 'add_working_hours(get("complaint_at") or now_iso(), 1)'
    assert pages.problems == []
