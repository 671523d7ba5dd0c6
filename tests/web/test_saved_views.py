"""Saved inbox views (engine/run/saved_views.py, webapp/saved_views.py): a user names the current
filters, they show as tabs above the inbox, can be deleted; names unique per user, a limit per
user, only one's own; CSRF on every change."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from engine.run import saved_views
from engine.store.models import SavedView
from tests.support.web import page_text

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def views(runtime, username: str) -> list[tuple[str, str]]:
    with runtime.reading() as session:
        return [(v["name"], v["query"]) for v in saved_views.views_of(session, username)]


def test_save_a_view_and_see_it_as_a_tab(runtime, client_for):
    client = client_for("guide1")
    answer = client.post("/inbox/views", {"name": " 我的  导游任务 ", "query": "lane=guide&phone=4567&page=3"})
    assert answer.status_code == 302 and answer.headers["Location"] == "/?lane=guide&phone=4567"
    assert views(runtime, "guide1") == [("我的 导游任务", "lane=guide&phone=4567")], "paging is not kept"
    page = page_text(client.get("/?phone=4567&lane=guide"))
    assert '<a href="/?lane=guide&phone=4567" aria-current="page">我的 导游任务</a>' in page
    assert "已保存视图「我的 导游任务」。" not in page_text(client.get("/")), "the notice shows once"
    assert 'aria-current="page"' not in page_text(client.get("/")), "another filter: the tab is not active"


def test_names_are_unique_per_user_with_a_clear_error(runtime, client_for):
    client_for("agent1").post("/inbox/views", {"name": "超期", "query": "due=overdue"})
    guide = client_for("guide1")
    assert guide.post("/inbox/views", {"name": "超期", "query": "due=overdue"}).status_code == 302, "another user's name"
    again = guide.post("/inbox/views", {"name": "超期", "query": "due=today"})
    assert again.status_code == 422
    page = page_text(again)
    assert "您已有名为「超期」的视图，请换一个名称" in page and 'value="超期"' in page
    assert '<option value="today" selected>' in page, "the filters being saved stay on screen"
    assert views(runtime, "guide1") == [("超期", "due=overdue")]


@pytest.mark.parametrize(("name", "message"), [("", "请填写视图名称"), ("长" * 41, "视图名称最多 40 个字符")])
def test_a_bad_name_is_a_form_error(runtime, client_for, name, message):
    answer = client_for("guide1").post("/inbox/views", {"name": name, "query": "lane=guide"})
    assert answer.status_code == 422 and message in page_text(answer)
    assert views(runtime, "guide1") == []


def test_at_most_twenty_views_a_user(runtime, client_for):
    with runtime.transaction() as tx:
        for n in range(saved_views.VIEWS_MAX):
            saved_views.save_view(tx.session, "guide1", f"视图{n}", f"page=1&q={n}", NOW)
    answer = client_for("guide1").post("/inbox/views", {"name": "再来一个", "query": ""})
    assert answer.status_code == 422 and "最多保存 20 个视图，请先删除一个" in page_text(answer)
    assert client_for("agent1").post("/inbox/views", {"name": "再来一个", "query": ""}).status_code == 302


def test_delete_only_ones_own_view(runtime, client_for):
    with runtime.transaction() as tx:
        mine = saved_views.save_view(tx.session, "guide1", "导游", "lane=guide", NOW)["id"]
    assert client_for("agent1").post(f"/inbox/views/{mine}/delete").status_code == 404
    assert views(runtime, "guide1") == [("导游", "lane=guide")]
    guide = client_for("guide1")
    answer = guide.post(f"/inbox/views/{mine}/delete")
    assert answer.status_code == 302 and views(runtime, "guide1") == []
    assert guide.post(f"/inbox/views/{mine}/delete").status_code == 404


def test_changes_need_the_csrf_token_and_auditors_keep_none(runtime, client_for):
    assert client_for("guide1").post("/inbox/views", {"name": "x", "query": ""}, csrf=False).status_code == 400
    auditor = client_for("auditor1")
    assert auditor.post("/inbox/views", {"name": "x", "query": ""}).status_code == 403
    assert "保存视图" not in page_text(auditor.get("/")), "no save form for read-only users"
    with runtime.reading() as session:
        assert session.execute(select(SavedView)).first() is None
