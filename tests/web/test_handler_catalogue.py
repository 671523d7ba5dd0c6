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
    # result keys are read from the source: a literal, a variable filled key by key, a helper's return
    assert catalogue["complaint_tour_guide"]["results"] == ["guide_user", "found_in"]
    assert assign["results"][:2] == ["assigned_agent", "desk"]
    known = [h for h in catalogue.values() if h["results"] is not None]
    assert len(known) >= 0.8 * len(catalogue), [n for n, h in catalogue.items() if h["results"] is None]


def test_result_keys_are_unknown_when_a_return_is_not_a_dict():
    from engine.plugins.catalogue import result_keys

    def opaque(ctx, flag: bool):
        if flag:
            return {"a": 1}
        return compute(ctx)  # noqa: F821 - never called

    def built(ctx):
        out = {"a": 1}
        out["b"] = 2

        def inner():
            return {"not": "mine"}
        return out

    assert result_keys(opaque) is None
    assert result_keys(built) == ["a", "b"]


def test_the_api_and_the_cli_list_them(app, runtime, cli):
    api = Api(app, runtime)
    items = api.as_("owner1").get("/api/v1/handlers").get_json()["items"]
    assert [h["name"] for h in items] == sorted(handler_names())
    by_name = {h["name"]: h for h in items}
    assert by_name["complaint_tour_guide"]["used_by"] == ["complaint_handling"]
    assert by_name["assign_agent"]["used_by"] == []  # only complaint_handling is deployed here
    assert api.as_("auditor1").get("/api/v1/handlers").status_code == 200
    assert api.as_("agent1").get("/api/v1/handlers").status_code == 403
    lines = cli.run("handlers").stdout.splitlines()
    assert any(line.startswith('assign_agent(desk=null, channel="chat") -> {assigned_agent, desk,') for line in lines)
    guide = next(line for line in lines if line.startswith("complaint_tour_guide("))
    assert guide.endswith("[used by: complaint_handling]") and "-> {guide_user, found_in} [reads only]" in guide
    assert _agency(json.loads(cli.run("handlers", "--json").stdout)) == _agency(items)


def test_the_catalogue_page_lists_what_each_handler_takes_and_returns_and_who_calls_it(client_for):
    owner = client_for("owner1")
    page = owner.get("/processes/handlers").get_data(as_text=True)
    row = page[page.index('data-handler="complaint_tour_guide"'):]
    row = row[:row.index("</tr>")]
    assert "<code>guide_user</code>, <code>found_in</code>" in row and ">complaint_handling</a>" in row
    assert "只读" in row
    assert 'href="/processes/handlers"' in owner.get("/processes").get_data(as_text=True)
    assert client_for("auditor1").get("/processes/handlers").status_code == 200
    assert client_for("agent1").get("/processes/handlers").status_code == 403
