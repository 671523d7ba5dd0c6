"""The heatmap page and its API: who may see it, what it shows."""

from __future__ import annotations

import pytest

from tests.support.api import Api
from tests.support.complaint import COMPLAINT, Walk

URL = "/processes/complaint_handling/1/heatmap"
API = "/api/v1/processes/complaint_handling/versions/1/heatmap"


@pytest.fixture
def walked(app, runtime):
    walk = Walk(runtime)
    walk.do("receive_complaint", "agent1", **{**COMPLAINT, "time_class": "旅游后"})
    return walk


def test_owner_sees_the_heatmap_page_with_a_row_per_node(walked, client_for):
    page = client_for("owner1").get(URL)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-heatmap' in html and 'js/heatmap.js' in html
    assert 'data-node="receive_complaint"' in html and 'data-node="investigate_facts"' in html
    assert "热力图" in html


@pytest.mark.parametrize("user", ["agent1", "qc1", "guide1"])
def test_other_roles_may_not_see_it(walked, client_for, user):
    assert client_for(user).get(URL).status_code == 403


def test_unknown_version_is_404(walked, client_for):
    assert client_for("auditor1").get("/processes/complaint_handling/7/heatmap").status_code == 404


def test_the_api_answers_the_figures_per_node(walked, app, runtime):
    api = Api(app, runtime)
    body = api.as_("manager1").get(API).get_json()
    assert body["heat"]["receive_complaint"]["instances"] == 1
    assert body["heat"]["investigate_facts"]["instances"] == 1
    assert api.as_("agent1").get(API).status_code == 403
    assert api.as_("supervisor1").get("/api/v1/processes/complaint_handling/versions/7/heatmap").status_code == 404
