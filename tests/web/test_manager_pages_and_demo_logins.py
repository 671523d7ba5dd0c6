"""Pages people could not find: managers reach the process definitions and, from 运营指标, the
heatmaps; the login page of a demo lists every demo user, grouped by role."""

from __future__ import annotations

import re

import pytest

from engine.access.roles import ROLE_NAMES
from engine.clock import utcnow
from engine.store import audit
from webapp.demo_users import DEMO_ROLES, EXTRA_USERS

HEATMAP = "/processes/complaint_handling/1/heatmap"


def heatmap_links(html: str) -> list[str]:
    nav = re.search(r'<nav class="card heatmap-links".*?</nav>', html, re.S)
    return re.findall(r'href="([^"]+)"', nav.group(0)) if nav else []


def test_a_manager_opens_the_process_definitions_and_the_heatmap(app, client_for):
    manager = client_for("manager1")
    page = manager.get("/processes")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert HEATMAP in html, "each version links its heatmap"
    assert 'action="/processes/deploy"' not in html, "reading is not deploying"
    assert manager.get(HEATMAP).status_code == 200
    assert 'href="/processes"' in manager.get("/").get_data(as_text=True), "流程定义 is in the menu"


@pytest.mark.parametrize("user", ["manager1", "supervisor1", "owner1", "auditor1"])
def test_the_kpi_page_links_the_current_versions_heatmaps_for_heatmap_readers(app, client_for, user):
    reader = client_for(user)
    links = heatmap_links(reader.get("/reports").get_data(as_text=True))
    assert links == [HEATMAP]
    assert reader.get(links[0]).status_code == 200


def test_the_kpi_page_of_a_qc_reader_has_no_heatmap_links_and_a_refused_range_keeps_them(app, client_for):
    assert heatmap_links(client_for("qc1").get("/reports").get_data(as_text=True)) == []
    refused = client_for("manager1").get("/reports?from=2026-13-01")
    assert refused.status_code == 422 and heatmap_links(refused.get_data(as_text=True)) == [HEATMAP]


@pytest.mark.parametrize("user", ["agent1", "guide1", "qc1", "supervisor1"])
def test_other_roles_still_may_not_read_the_definitions(app, client_for, user):
    assert client_for(user).get("/processes").status_code == 403


def demo_mode(runtime) -> None:
    with runtime.db.write() as session, session.begin():
        audit.append(session, kind="demo_loaded", actor="system", at=utcnow(), payload={})


def test_the_demo_login_page_lists_every_demo_user_under_their_roles_chinese_name(app, runtime, client_for):
    demo_mode(runtime)
    html = client_for(None).get("/login").get_data(as_text=True)
    found = re.findall(r'<div class="demo-role" data-role="(\w+)"><dt>([^<]+)</dt>\s*<dd>(.*?)</dd>', html)
    groups = {role: re.findall(r"<code>(\w+)</code>", names) for role, _title, names in found}
    assert list(groups) == [str(role) for role in DEMO_ROLES]
    assert {role: title for role, title, _names in found} == {str(role): ROLE_NAMES[role] for role in DEMO_ROLES}
    assert {name for names in groups.values() for name in names} == {f"{role}1" for role in DEMO_ROLES} | set(EXTRA_USERS)
    assert groups["agent"] == ["agent1", "agent2", "agent3"] and groups["sales"] == ["sales1", "sales2", "sales3", "sales4"]
    assert groups["manager"] == ["manager1"]


def test_the_login_page_lists_no_users_outside_demo_mode(app, client_for):
    html = client_for(None).get("/login").get_data(as_text=True)
    assert "demo-role" not in html and "agent2" not in html
