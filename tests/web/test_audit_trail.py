"""The audit trail of one instance (/instances/<id>/audit and GET /api/v1/instances/<id>/audit) and
its step-through replay (GET /api/v1/instances/<id>/replay): every event in order with actor,
China time (UTC in the tooltip), kind in words, data, diff and reason, and each event's chain verdict."""

from __future__ import annotations

import html
import json
import re

import pytest

from engine.access.privacy import Masker
from engine.history.replay import replay
from tests.support.api import Api
from tests.support.complaint import COMPLAINT


@pytest.fixture
def api(app, runtime):
    return Api(app, runtime)


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def walked(rt) -> int:
    """A complaint taken in by agent1, reassigned once and cancelled by a supervisor."""
    iid = rt.start("complaint_handling", actor="agent1")
    [task] = rt.tasks(instance_id=iid)
    rt.complete(task["id"], "agent1", COMPLAINT)
    [guide_task] = rt.tasks(instance_id=iid)
    rt.reassign(guide_task["id"], "guide1", "guide1", "导游本人接手")
    rt.cancel(iid, "supervisor1", "客人撤回投诉")
    return iid


def rows(page: str) -> list[str]:
    """Each event's row of the trail table (rows hold tables of their own: split, not matched)."""
    body = page[page.index('<table class="grid audit-table">'):page.rindex("</tbody>")]
    return ['<tr id="event-' + part for part in body.split('<tr id="event-')[1:]]


def test_the_trail_page_shows_every_event_with_who_when_what_and_why(runtime, client_for):
    iid = walked(runtime)
    events = runtime.events(iid)
    response = client_for("auditor1").get(f"/instances/{iid}/audit")
    assert response.status_code == 200
    page = text(response)
    assert "哈希链完整" in page and f"共 {len(events)} 条事件" in page
    found = rows(page)
    assert [int(re.search(r'data-seq="(\d+)"', r).group(1)) for r in found] == [e["seq"] for e in events]
    assert all('data-chain="ok"' in r and "校验通过" in r for r in found)

    completed = next(r for r in found if 'data-kind="task_completed"' in r)
    assert "完成任务" in completed and "agent1" in completed and "受理投诉并上报质检培训部" in completed
    assert re.search(r"<dt>投诉类别</dt><dd>住宿餐饮</dd>", completed), "the submitted data, labelled"
    assert re.search(r'<td>游客姓名</td><td class="old">—</td><td class="new">张\*\*</td>', completed), \
        "the diff, the name masked for an auditor (docs/privacy.md)"

    reassigned = next(r for r in found if 'data-kind="task_reassigned"' in r)
    assert "在当地解决：无 → guide1" in reassigned
    assert re.search(r'<span class="reason-label">原因</span>导游本人接手', reassigned)
    cancelled = next(r for r in found if 'data-kind="instance_cancelled"' in r)
    assert "流程取消" in cancelled and "supervisor1" in cancelled
    assert re.search(r'<span class="reason-label">原因</span>客人撤回投诉', cancelled)

    first = events[0]
    # China time shown, UTC in the tooltip: the same moment 8 hours apart.
    shown = re.search(r'<time datetime="([^"]+)" title="([^"]+) UTC">([^<]+)</time>', found[0])
    assert shown.group(1) == first["at"]
    utc_hour, local_hour = int(shown.group(2)[11:13]), int(shown.group(3)[11:13])
    assert (utc_hour + 8) % 24 == local_hour
    assert events[0]["hash"] in found[0], "the raw record with its hashes"


def test_the_instance_page_links_to_the_trail(runtime, client_for):
    iid = walked(runtime)
    page = client_for("agent1").get(f"/instances/{iid}").get_data(as_text=True)
    assert f'href="/instances/{iid}/audit"' in page


def test_trail_access_404_and_login(runtime, client_for):
    iid = walked(runtime)
    assert client_for("agent1").get(f"/instances/{iid}/audit").status_code == 200, "its starter"
    assert client_for("guide1").get(f"/instances/{iid}/audit").status_code == 200, "a task in their lane"
    refused = client_for("qc1").get(f"/instances/{iid}/audit")
    assert refused.status_code == 403 and "张建国" not in refused.get_data(as_text=True)
    assert client_for("auditor1").get("/instances/99999/audit").status_code == 404
    response = client_for(None).get(f"/instances/{iid}/audit")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_trail_page_in_english(runtime, client_for):
    iid = walked(runtime)
    auditor = client_for("auditor1")
    auditor.get("/lang/en")
    page = text(auditor.get(f"/instances/{iid}/audit"))
    assert "The hash chain is intact" in page and "Step-through replay" in page and "Reason" in page
    assert "哈希链完整" not in page


def test_api_trail_has_chain_ok_per_event(runtime, api):
    iid = walked(runtime)
    body = api.as_("auditor1").get(f"/api/v1/instances/{iid}/audit").get_json()
    events = runtime.events(iid)
    assert (body["instance_id"], body["stream"], body["ok"], body["broken"]) == (iid, f"instance:{iid}", True, None)
    assert body["head_seq"] == len(events)
    assert [e["seq"] for e in body["events"]] == [e["seq"] for e in events]
    assert all(e["chain_ok"] and e["chain"] == "ok" and e["computed_hash"] == e["hash"] for e in body["events"])
    completed = next(e for e in body["events"] if e["kind"] == "task_completed")
    assert completed["payload"]["diff"]["customer_name"] == [None, "张**"], "masked for an auditor"
    assert api.bearer("guide1").get(f"/api/v1/instances/{iid}/audit").status_code == 200


def test_api_trail_403_404_401(runtime, api):
    iid = walked(runtime)
    refused = api.as_("qc1").get(f"/api/v1/instances/{iid}/audit")
    assert (refused.status_code, refused.get_json()["error"]) == (403, "forbidden")
    assert api.as_("auditor1").get("/api/v1/instances/99999/audit").status_code == 404
    assert api.anonymous().get(f"/api/v1/instances/{iid}/audit").status_code == 401


def test_api_replay_answers_a_snapshot_per_event(runtime, api):
    iid = runtime.start("complaint_handling", actor="agent1")
    [task] = runtime.tasks(instance_id=iid)
    runtime.complete(task["id"], "agent1", COMPLAINT)
    body = api.as_("auditor1").get(f"/api/v1/instances/{iid}/replay").get_json()
    assert (body["instance_id"], body["identical"], body["difference"]) == (iid, True, None)
    assert [s["seq"] for s in body["snapshots"]] == [e["seq"] for e in runtime.events(iid)]
    after = next(s for s in body["snapshots"] if s["kind"] == "task_completed")
    assert "receive_complaint" in after["completed"] and after["data"]["customer_name"] == "张**"
    assert body["snapshots"][-1]["active"] == ["resolve_locally"]
    assert body == {**body, "snapshots": Masker(runtime.instance_forms(iid))(replay(runtime, iid).snapshots)}, \
        "the engine's replay, as it is, personal data masked for an auditor"


def test_api_replay_403_404(runtime, api):
    iid = runtime.start("complaint_handling", actor="agent1")
    assert api.as_("qc1").get(f"/api/v1/instances/{iid}/replay").status_code == 403
    assert api.as_("auditor1").get("/api/v1/instances/99999/replay").status_code == 404


def test_the_page_carries_what_the_replay_script_needs(runtime, client_for):
    iid = walked(runtime)
    page = client_for("auditor1").get(f"/instances/{iid}/audit").get_data(as_text=True)
    assert f'data-replay-url="/api/v1/instances/{iid}/replay"' in page
    assert 'data-diagram-url="/api/v1/processes/complaint_handling/versions/1/diagram"' in page
    assert '<script src="/static/js/replay.js"></script>' in page
    config = json.loads(re.search(r'<script type="application/json" id="replay-config">(.*?)</script>',
                                  page, re.S).group(1))
    assert ["customer_name", "游客姓名"] in config["labels"]
    assert config["events"]["1"]["label"] == "流程发起"
    assert config["text"]["position"] == "第 {n}/{total} 步"


def test_the_audit_pages_tables_have_english():
    from webapp.audit import CHAIN_LABELS, PROBLEM_TEXT
    from webapp.i18n import EN
    from webapp.search import PROBLEMS

    texts = [*PROBLEM_TEXT.values(), *CHAIN_LABELS.values(), *(zh for _, zh in PROBLEMS.values())]
    missing = [t for t in texts if t not in EN]
    assert not missing, f"no English for: {missing}"
    for zh in PROBLEM_TEXT.values():
        assert set(re.findall(r"{(\w+)}", zh)) == set(re.findall(r"{(\w+)}", EN[zh])) <= {"seq", "found", "head"}


def test_chains_and_search_pages_in_english(runtime, client_for):
    walked(runtime)
    auditor = client_for("auditor1")
    auditor.get("/lang/en")
    chains = text(auditor.get("/audit"))
    assert "Tamper check" in chains and "Every hash chain is intact" in chains and "Intact" in chains
    search = text(auditor.get("/search?customer=张建国"))
    assert "Search" in search and "Started from" in search and "Actor" in search
    bad = auditor.get("/search?started_from=2026-01-05&started_to=2026-01-01")
    assert bad.status_code == 422 and "The end date cannot be before the start date" in text(bad)
