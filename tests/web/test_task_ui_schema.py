"""Issue 16: a SpiffArena task's UI schema (`<name>-uischema.json`) shapes its page: ui:order,
ui:widget (textarea, hidden, radio, updown), ui:help, ui:placeholder, ui:title, ui:readonly; the API
shows it as `ui_schema`."""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path

import pytest

from tests.support.api import Api
from tests.support.world import deploy
from webapp.form_fields import FormField
from webapp.ui_schema import apply_ui_schema, ordered

SPIFF = Path(__file__).parents[1] / "fixtures" / "bpmn" / "thirdparty" / "spiffarena"
FILES = ("travel_request.bpmn", "travel-request-schema.json", "travel-request-uischema.json")
PROCESS = "travel_request_7kq2x1p"


def open_task(runtime, ui: dict | None, tmp_path: Path) -> dict:
    """The travel request's task, deployed with the corpus UI schema or with `ui` instead."""
    for name in FILES:
        shutil.copy(SPIFF / name, tmp_path / name)
    if ui is not None:
        (tmp_path / FILES[2]).write_text(json.dumps(ui), encoding="utf-8")
    deploy(runtime, tmp_path / FILES[0])
    instance = runtime.start(PROCESS, actor="agent1")
    [task] = runtime.tasks(instance_id=instance)
    return task


def page_of(client_for, task: dict) -> str:
    response = client_for("agent1").get(f"/tasks/{task['id']}")
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True))


def names_in_order(page: str) -> list[str]:
    wanted = ("destination", "days", "travel_class", "notes")
    return sorted(wanted, key=lambda name: page.index(f'name="{name}"'))


def test_the_corpus_ui_schema_orders_and_draws_the_fields(app, client_for, runtime, tmp_path):
    page = page_of(client_for, open_task(runtime, None, tmp_path))
    assert names_in_order(page) == ["destination", "days", "travel_class", "notes"]
    assert page.count('type="radio" name="travel_class"') == 3, "ui:widget radio over the enum"
    assert '<textarea id="f-notes" name="notes"' in page and 'placeholder="e.g. vegetarian meals"' in page
    assert "Anything the operator should know" in page
    assert 'type="number"' in page[page.index('name="days"') - 200:page.index('name="days"')], "updown: a number"


def test_order_wildcard_hidden_title_and_read_only(app, client_for, runtime, tmp_path):
    ui = {"ui:order": ["notes", "*", "destination"], "days": {"ui:widget": "hidden"},
          "travel_class": {"ui:readonly": True, "ui:title": "Class of travel"},
          "destination": {"ui:disabled": True}, "notes": {"ui:widget": "password", "ui:emptyValue": ""}}
    page = page_of(client_for, open_task(runtime, ui, tmp_path))
    assert names_in_order(page) == ["notes", "days", "travel_class", "destination"]
    assert '<input type="hidden" id="f-days" name="days"' in page and 'for="f-days"' not in page
    assert "Class of travel" in page and 'name="travel_class"' in page and 'type="radio" name="travel_class"' not in page
    for name in ("travel_class", "destination"):
        block = page[page.index(f'name="{name}"'):]
        assert 'readonly="readonly"' in block[:block.index(">")]
    assert '<input type="text" id="f-notes"' not in page, "unknown widgets and options are ignored"


def test_the_page_completes_with_the_ui_schema(app, client_for, runtime, tmp_path):
    task = open_task(runtime, None, tmp_path)
    response = client_for("agent1").post(f"/tasks/{task['id']}", {
        "destination": "桂林", "days": "4", "travel_class": "comfort", "notes": ""})
    assert response.status_code == 302, response.get_data(as_text=True)
    data = runtime.show(task["instance_id"])["data"]
    assert (data["destination"], data["days"], data["travel_class"]) == ("桂林", 4, "comfort")


def test_a_bad_value_is_refused_on_the_redrawn_page(app, client_for, runtime, tmp_path):
    task = open_task(runtime, None, tmp_path)
    response = client_for("agent1").post(f"/tasks/{task['id']}", {"destination": "桂林", "days": "99"})
    assert response.status_code == 422
    assert names_in_order(html.unescape(response.get_data(as_text=True)))[0] == "destination"
    assert runtime.task(task["id"])["state"] == "ready"


@pytest.mark.parametrize(("user", "status"), [("agent1", 200), ("qc1", 403)])
def test_the_api_shows_the_ui_schema_to_who_may_read_the_task(app, runtime, tmp_path, user, status):
    task = open_task(runtime, None, tmp_path)
    response = Api(app, runtime).as_(user).get(f"/api/v1/tasks/{task['id']}")
    assert response.status_code == status
    if status == 200:
        assert response.get_json()["ui_schema"]["travel_class"] == {"ui:widget": "radio"}


def test_without_a_ui_schema_nothing_changes():
    fields = [FormField("a", "A", "text"), FormField("b", "B", "select", options=[("x", "x")])]
    assert apply_ui_schema(fields, None) == fields
    assert [f.name for f in ordered(fields, ["b"])] == ["b", "a"]
    assert [f.name for f in ordered(fields, ["*", "a"])] == ["b", "a"]
    assert [f.name for f in ordered(fields, "b")] == ["a", "b"]
