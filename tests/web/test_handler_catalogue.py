"""The handlers a process owner may pick for a service task: name, what it does, parameters."""

from __future__ import annotations

import json

from engine.plugins.catalogue import handler_catalogue
from engine.plugins.handlers import handler_names
from tests.support.api import Api


def _agency(items: list[dict]) -> list[dict]:
    """The agency's own handlers (other tests register fixtures of their own in this process)."""
    return [h for h in items if h["module"].startswith("handlers.")]


def test_every_registered_handler_is_described_with_its_parameters():
    everything = handler_catalogue()
    assert {h["name"] for h in everything} == handler_names()
    catalogue = {h["name"]: h for h in _agency(everything)}
    assert len(catalogue) > 40
    assign = catalogue["assign_agent"]
    assert assign["parameters"] == [{"name": "desk", "required": False, "default": None, "type": "str | None"},
                                    {"name": "channel", "required": False, "default": "chat", "type": "str"}]
    assert assign["writes"] is False and assign["module"] == "handlers.contact_center"
    assert assign["summary"].startswith("平台分配空闲坐席")
    assert [name for name, h in catalogue.items() if not h["summary"]] == [], "every handler says what it does"


def test_the_api_and_the_cli_list_them(app, runtime, cli):
    api = Api(app, runtime)
    items = api.as_("owner1").get("/api/v1/handlers").get_json()["items"]
    assert [h["name"] for h in items] == sorted(handler_names())
    assert api.as_("auditor1").get("/api/v1/handlers").status_code == 200
    assert api.as_("agent1").get("/api/v1/handlers").status_code == 403
    lines = cli.run("handlers").stdout.splitlines()
    assert any(line.startswith('assign_agent(desk=null, channel="chat") [reads only]: 平台分配空闲坐席') for line in lines)
    assert _agency(json.loads(cli.run("handlers", "--json").stdout)) == _agency(items)
