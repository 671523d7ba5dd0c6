"""Files from other modelers in tourflow's own modeler, in a real browser: a SpiffArena export's
forms (its UI schema is no form to pick) and a Camunda Modeler file whose extensions survive a
save (the modeler keeps what it does not show)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support.browser import login

pytestmark = pytest.mark.browser

THIRDPARTY = Path(__file__).resolve().parents[1] / "fixtures" / "bpmn" / "thirdparty"


def _modeler(pages, process_id: str):
    page = pages.new()
    page.set_viewport_size({"width": 1440, "height": 900})
    login(page, "owner1")
    page.goto(f"/processes/{process_id}/edit")
    expect(page.locator("#modeler[data-state=ready]")).to_have_count(1, timeout=20_000)
    return page


def _select(page, element_id: str) -> None:
    page.evaluate("""id => { const m = window.tourflowModeler;
                             m.get("selection").select(m.get("elementRegistry").get(id)); }""", element_id)
    expect(page.locator("#props-panel")).to_have_attribute("data-element", element_id)


def test_a_spiffarena_task_offers_its_forms_but_not_its_ui_schema(pages, live_server, tmp_path):
    for name in ("travel_request.bpmn", "travel-request-schema.json", "travel-request-uischema.json"):
        shutil.copy(THIRDPARTY / "spiffarena" / name, tmp_path / name)
    live_server.cli("deploy", str(tmp_path))
    page = _modeler(pages, "travel_request_7kq2x1p")
    _select(page, "Activity_0fk4p2n")
    picker = page.locator("#props-panel [data-prop=form] select")
    expect(picker).to_have_value("travel-request-schema.json")
    options = picker.locator("option").evaluate_all("els => els.map(e => e.value)")
    assert "travel-request-uischema.json" not in options and "travel-request-schema.json" in options


def test_a_camunda_file_keeps_its_extensions_through_the_modeler(pages, live_server):
    live_server.cli("deploy", str(THIRDPARTY / "camunda" / "generated_form.bpmn"))
    page = _modeler(pages, "Process_0gq7r1x")
    _select(page, "Activity_0r1v2w3")
    saved = page.evaluate("async () => (await window.tourflowModeler.saveXML({format: true})).xml")
    assert "camunda:candidateGroups=" in saved and "<camunda:formField" in saved
    assert 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"' in saved
