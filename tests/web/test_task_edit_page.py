"""The task page wires who-is-editing and autosaved drafts (webapp/static/js/task-edit.js): for whom,
with which API URLs and texts; never for auditors, never autosaving where the form cannot be sent."""

from __future__ import annotations

import pytest

from tests.support.web import page_text as text


@pytest.fixture
def task(runtime) -> dict:
    iid = runtime.start("complaint_handling", actor="agent1")
    [row] = [t for t in runtime.tasks(instance_id=iid) if t["task"] == "receive_complaint"]
    return row


def box(page: str) -> str:  # page_text: already unescaped
    start = page.index('<div id="task-edit"')
    return page[start:page.index("</div>", page.index("task-edit-saved", start))]


def test_a_worker_gets_presence_and_autosave_with_the_api_urls(client_for, task):
    page = text(client_for("agent1").get(f"/tasks/{task['id']}"))
    wired = box(page)
    for part in (f'data-task="{task["id"]}"', 'data-user="agent1"', 'data-autosave="yes"', 'data-restore="yes"',
                 f'data-presence-url="/api/v1/tasks/{task["id"]}/presence"',
                 f'data-draft-url="/api/v1/tasks/{task["id"]}/draft"',
                 f'data-discard-url="/api/v1/tasks/{task["id"]}/draft/discard"',
                 'data-t-editing="{name} 正在编辑此任务（{ago}）"', "放弃草稿"):
        assert part in wired, part
    assert 'src="/static/js/task-edit.js"' in page


def test_a_supervisor_shows_presence_but_does_not_autosave_a_form_they_cannot_send(client_for, task):
    wired = box(text(client_for("supervisor1").get(f"/tasks/{task['id']}")))
    assert 'data-autosave="no"' in wired


def test_auditors_get_neither(client_for, task):
    assert 'id="task-edit"' not in text(client_for("auditor1").get(f"/tasks/{task['id']}"))


def test_a_page_answering_a_submit_does_not_restore_over_what_was_sent(client_for, task):
    response = client_for("agent1").post(f"/tasks/{task['id']}", data={"customer_name": "张"})
    assert response.status_code == 422
    assert 'data-restore="no"' in box(text(response))


def test_english_texts(client_for, task):
    client = client_for("agent1")
    client.get("/lang/en")
    wired = box(text(client.get(f"/tasks/{task['id']}")))
    assert 'data-t-editing="{name} is editing this task ({ago})"' in wired and "Discard draft" in wired
