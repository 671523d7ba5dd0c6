"""GET /api/v1/tasks walked by its keyset cursor (`after` / `next`, engine/run/inbox_page.py), and the
inbox's cached counts following every claim and completion (engine/run/inbox_counts.py)."""

from __future__ import annotations

import pytest

from tests.support.api import Api


@pytest.fixture
def api(app, runtime):
    return Api(app, runtime, language="en")


def walk(caller, query: str) -> list[int]:
    ids: list[int] = []
    answer = caller.get(f"/api/v1/tasks?{query}").get_json()
    while True:
        ids += [row["id"] for row in answer["items"]]
        if answer["next"] is None:
            return ids
        answer = caller.get(f"/api/v1/tasks?{query}&after={answer['next']}").get_json()


@pytest.mark.parametrize("sort", ["due", "age"])
def test_next_walks_the_whole_inbox_once_in_page_order(api, sort):
    for _ in range(5):
        api.start()
    auditor = api.bearer("auditor1")
    whole = [row["id"] for row in auditor.get(f"/api/v1/tasks?per_page=200&sort={sort}").get_json()["items"]]
    assert len(whole) == 5
    assert walk(auditor, f"per_page=2&sort={sort}") == whole
    last = auditor.get(f"/api/v1/tasks?per_page=5&sort={sort}").get_json()
    assert last["next"] is None, "nothing after the last page"


def test_a_cursor_not_ours_or_of_another_order_is_a_422_naming_after(api):
    for _ in range(3):
        api.start()
    agent = api.as_("agent1")
    cursor = agent.get("/api/v1/tasks?per_page=1").get_json()["next"]
    for query in (f"after={cursor}&sort=age", "after=bm90LWEtY3Vyc29y", "after=WyJkdWUiLCJ4IiwxXQ"):
        answer = agent.get(f"/api/v1/tasks?{query}")
        assert answer.status_code == 422 and answer.get_json()["field"] == "after", query


def test_counts_follow_claims_and_completions(api):
    instances = [api.start()["id"] for _ in range(3)]
    agent = api.as_("agent1")
    before = agent.get("/api/v1/tasks").get_json()
    assert (before["counts"]["mine"], before["counts"]["by_lane"], before["total"]) == (0, {"staff": 3}, 3)
    task = api.open_task(instances[0], "receive_complaint")
    assert agent.post(f"/api/v1/tasks/{task['id']}/claim").status_code == 200
    claimed = agent.get("/api/v1/tasks").get_json()
    assert (claimed["counts"]["mine"], claimed["total"]) == (1, 3)
    other = api.as_("agent2").get("/api/v1/tasks").get_json()
    assert (other["total"], other["counts"]["mine"], other["counts"]["all"]) == (2, 0, 3), "not theirs to claim now"
    assert agent.get("/api/v1/tasks?unclaimed=1").get_json()["total"] == 2
    assert agent.post(f"/api/v1/tasks/{task['id']}/unclaim").status_code == 200
    released = agent.get("/api/v1/tasks").get_json()
    assert (released["counts"]["mine"], released["total"]) == (0, 3)
