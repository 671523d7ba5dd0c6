"""The instance page's data: form fields under their form titles; the keys no form describes
(routing, handler results, `_` keys) under a collapsed 技术数据."""

from __future__ import annotations

import re

from tests.support.complaint import COMPLAINT, Walk

INTERNAL = {"branch": "HZ01", "archive_result": "ok-123", "_trace": "t-9"}


def panel(html: str) -> tuple[str, str]:
    """(the data list before 技术数据, the collapsed part) of the side panel."""
    side = html.split('<aside class="side-col">', 1)[1]
    side = side.split(">实例数据</h2>", 1)[1] if ">实例数据</h2>" in side else side  # the task page's aside holds more
    fields, _sep, technical = side.partition('<details class="technical-data"')
    return fields, technical


def titles(part: str) -> dict[str, str]:
    return dict(re.findall(r'<dt title="([^"]+)">([^<]*)</dt>', part))


def test_form_fields_show_their_titles_and_internal_keys_sit_in_collapsed_technical_data(app, runtime, client_for):
    walk = Walk(runtime, data=INTERNAL)
    walk.do("receive_complaint", "agent1", **COMPLAINT)
    html = client_for("supervisor1").get(f"/instances/{walk.id}").get_data(as_text=True)
    fields, technical = panel(html)
    shown = titles(fields)
    assert shown["customer_name"] == "游客姓名" and shown["tour_id"] != "tour_id", shown
    assert not set(INTERNAL) & set(shown), "internal keys are not among the form fields"
    assert technical.startswith(' id="technical-data">'), "collapsed: a <details> without `open`"
    assert "技术数据" in technical and set(INTERNAL) <= set(titles(technical))
    assert "ok-123" in technical and "ok-123" not in fields


def test_a_handler_result_is_technical_data_and_english_says_technical_data(app, runtime, client_for):
    walk = Walk(runtime)
    walk.do("receive_complaint", "agent1", **COMPLAINT)  # 旅游过程中: find_tour_guide stores `tour_guide`
    supervisor = client_for("supervisor1")
    fields, technical = panel(supervisor.get(f"/instances/{walk.id}").get_data(as_text=True))
    data = set(runtime.show(walk.id)["data"])
    assert set(titles(fields)) == data - {"tour_guide"} and set(titles(technical)) == {"tour_guide"}
    supervisor.get("/lang/en")
    internal_only = Walk(runtime, data=INTERNAL)
    fields, technical = panel(supervisor.get(f"/instances/{internal_only.id}").get_data(as_text=True))
    assert "Technical data" in technical and "技术数据" not in technical
    assert "No data" not in fields and not titles(fields), "only technical data: no empty field list above it"


def test_an_instance_without_data_has_no_technical_section(app, runtime, client_for):
    html = client_for("supervisor1").get(f"/instances/{Walk(runtime).id}").get_data(as_text=True)
    fields, technical = panel(html)
    assert "暂无数据" in fields and technical == ""


def test_the_task_page_shows_the_instance_data_the_same_way(app, runtime, client_for):
    walk = Walk(runtime, data={**INTERNAL, "customer_name": "张建国"})
    task = walk.open_tasks()["receive_complaint"]
    fields, technical = panel(client_for("agent1").get(f"/tasks/{task['id']}").get_data(as_text=True))
    assert titles(fields) == {"customer_name": "游客姓名"}
    assert set(titles(technical)) == set(INTERNAL) and technical.startswith(' id="technical-data">')
